"""The compiled import core is used only while it was built from the sources beside it; else the Python modules."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from shared import compiled

SUFFIX = EXTENSION_SUFFIXES[0]
FAST = ["corepkg.fast"]


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A checkout whose package ``corepkg`` has a module ``fast`` with a source and, beside it, a file named as its
    extension that cannot load (importing it instead of the source fails the test)."""
    folder = tmp_path / "corepkg"
    folder.mkdir()
    (tmp_path / "shared").mkdir()  # where the manifest goes
    (folder / "__init__.py").write_text("")
    (folder / "fast.py").write_text("BUILD = 'pure'\n")
    (folder / f"fast{SUFFIX}").write_bytes(b"not an extension module")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.meta_path[:] = [f for f in sys.meta_path if not (isinstance(f, compiled.PureSource) and f.root == tmp_path)]
    for name in ("corepkg", "corepkg.fast"):
        sys.modules.pop(name, None)


def _manifest(root: Path, **overrides: object) -> None:
    manifest = {"modules": FAST, "sources_sha256": compiled.sources_digest(root, FAST), "ext_suffix": SUFFIX}
    (root / compiled.MANIFEST).write_text(json.dumps(manifest | overrides))


def test_a_manifest_of_the_current_sources_selects_the_extension(root: Path) -> None:
    _manifest(root)
    assert compiled.compiled_is_current(root, FAST)
    assert compiled.install(root, FAST, pure=False)
    with pytest.raises(ImportError):  # the (bogus) extension is what Python now imports
        importlib.import_module("corepkg.fast")


@pytest.mark.parametrize(
    "case", ["no manifest", "source edited", "other interpreter", "extension missing", "other modules"]
)
def test_anything_but_a_current_build_imports_the_source(root: Path, case: str) -> None:
    if case != "no manifest":
        _manifest(root)
    if case == "source edited":
        (root / "corepkg" / "fast.py").write_text("BUILD = 'pure, edited after the build'\n")
    elif case == "other interpreter":
        _manifest(root, ext_suffix=".cpython-39-x86_64-linux-gnu.so")
    elif case == "extension missing":
        (root / "corepkg" / f"fast{SUFFIX}").unlink()
    elif case == "other modules":
        _manifest(root, modules=[*FAST, "corepkg.slow"])
    assert not compiled.compiled_is_current(root, FAST)
    assert not compiled.install(root, FAST, pure=False)
    assert importlib.import_module("corepkg.fast").BUILD.startswith("pure")


def test_the_developers_switch_imports_the_source_of_a_current_build(root: Path) -> None:
    _manifest(root)
    assert not compiled.install(root, FAST, pure=True)
    assert importlib.import_module("corepkg.fast").BUILD == "pure"


def test_this_process_runs_the_core_its_build_says() -> None:
    """After ``make`` the core modules are the extensions (``make test`` runs this suite once so), under
    ``-X pure_core`` and without a build the sources."""
    from services.imports import matching, normalise, rows
    from shared import phones

    expected = compiled.compiled_is_current() and "pure_core" not in sys._xoptions
    assert compiled.active() is expected
    for module in (matching, normalise, rows, phones):
        assert str(module.__file__).endswith(SUFFIX if expected else ".py")


# Every decision of the matcher on registry-like rows (typos, OCR errors, swapped and blank names, relatives,
# namesakes, chains of near-names, numbered names), with its score, rule, review and block keys, as one digest.
_DECISIONS = """
import hashlib, json, sys
from bench.bench_imports_quality import build
from shared import compiled
from services.imports.domain import ImportSettings, RowRejected, validate
from services.imports.matching import InMemoryMatchIndex, Matcher, RowFeatures
lines = []
for i, (_, _, raw) in enumerate(build(int(sys.argv[1])), start=1):
    try:
        line, warnings = validate(raw | {"invoice_number": f"I{i}", "amount": "10", "opened_on": "2026-01-01"})
    except RowRejected as exc:
        lines.append((i, None, str(exc)))
        continue
    lines.append((i, line, warnings))
matcher = Matcher(InMemoryMatchIndex(), "client", "same", ImportSettings())
out = hashlib.sha256()
valid = [(i, line) for i, line, _ in lines if line is not None]
for start in range(0, len(valid), 100):
    batch = valid[start : start + 100]
    for (i, line), d in zip(batch, matcher.match_batch(batch), strict=True):
        out.update(repr((line.model_dump_json(), RowFeatures.of(line).keys, d)).encode())
    matcher.flush()
    matcher.forget()
out.update(repr([(i, w) for i, line, w in lines]).encode())
print(json.dumps({"compiled": compiled.active(), "rows": len(lines), "digest": out.hexdigest()}))
"""


@pytest.mark.skipif(not compiled.compiled_is_current(), reason="no compiled core here (make core): nothing to compare")
@pytest.mark.skipif("pure_core" in sys._xoptions, reason="runs both cores itself; once per make test is enough")
def test_the_compiled_and_the_pure_core_take_the_same_decisions() -> None:
    root = Path(__file__).resolve().parents[3]
    runs = {}
    for flags in ([], ["-X", "pure_core"]):
        out = subprocess.run([sys.executable, *flags, "-c", _DECISIONS, "700"], cwd=root, check=True,
                             capture_output=True, text=True, timeout=120).stdout  # fmt: skip
        runs[bool(flags)] = json.loads(out.strip().splitlines()[-1])
    assert runs[False]["compiled"] and not runs[True]["compiled"]
    assert runs[False]["rows"] == runs[True]["rows"] > 1000
    assert runs[False]["digest"] == runs[True]["digest"]


# The phone reader (shared/phones.py, compiled with the core and shared with the contacts API) on every region's
# example numbers of every type, each in four spellings and with each digit of its national number replaced, and on
# each region's invalid example: the number it reads, or its refusal's code and words, as one digest.
_PHONES = """
import hashlib, json
import phonenumbers
from phonenumbers import PhoneNumberFormat as F
from shared import compiled, phones
out = hashlib.sha256()
read = 0
for region in sorted(phonenumbers.SUPPORTED_REGIONS):
    examples = (phonenumbers.example_number_for_type(region, t) for t in phonenumbers.PhoneNumberType.values())
    numbers = [n for n in examples if n is not None]
    if (bad := phonenumbers.invalid_example_number(region)) is not None:
        numbers.append(bad)
    for number in numbers:
        national = phonenumbers.format_number(number, F.NATIONAL)
        spellings = [national, phonenumbers.format_number(number, F.INTERNATIONAL),
                     phonenumbers.format_number(number, F.E164), "00" + phonenumbers.format_number(number, F.E164)[1:]]
        digits = [i for i, ch in enumerate(national) if ch.isdigit()]
        spellings += [national[:i] + str((int(national[i]) + 3) % 10) + national[i + 1:] for i in digits]
        for text in spellings:
            for country in (region, None, "DE"):
                try:
                    result = phones.normalise_phone(text, country)
                except phones.PhoneRefused as exc:
                    result = f"{exc.code}: {exc}"
                out.update(repr((text, country, result)).encode())
                read += 1
print(json.dumps({"compiled": compiled.active(), "phones": phones.__file__, "read": read, "digest": out.hexdigest()}))
"""


@pytest.mark.skipif(not compiled.compiled_is_current(), reason="no compiled core here (make core): nothing to compare")
@pytest.mark.skipif("pure_core" in sys._xoptions, reason="runs both cores itself; once per make test is enough")
def test_the_compiled_and_the_pure_phone_reader_read_alike() -> None:
    root = Path(__file__).resolve().parents[3]
    runs = {}
    for flags in ([], ["-X", "pure_core"]):
        out = subprocess.run([sys.executable, *flags, "-c", _PHONES], cwd=root, check=True, capture_output=True,
                             text=True, timeout=120).stdout  # fmt: skip
        runs[bool(flags)] = json.loads(out.strip().splitlines()[-1])
    assert runs[False]["phones"].endswith(SUFFIX) and runs[True]["phones"].endswith(".py")
    assert runs[False]["read"] == runs[True]["read"] > 20_000
    assert runs[False]["digest"] == runs[True]["digest"]
