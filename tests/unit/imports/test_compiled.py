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

from services.imports import compiled

SUFFIX = EXTENSION_SUFFIXES[0]


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """A package ``corepkg`` whose module ``fast`` has a source and, beside it, a file named as its extension that
    cannot load (importing it instead of the source fails the test)."""
    folder = tmp_path / "corepkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "fast.py").write_text("BUILD = 'pure'\n")
    (folder / f"fast{SUFFIX}").write_bytes(b"not an extension module")
    sys.path.insert(0, str(tmp_path))
    yield folder
    sys.path.remove(str(tmp_path))
    sys.meta_path[:] = [f for f in sys.meta_path if not (isinstance(f, compiled.PureSource) and f.package == "corepkg")]
    for name in ("corepkg", "corepkg.fast"):
        sys.modules.pop(name, None)


def _manifest(folder: Path, **overrides: object) -> None:
    manifest = {
        "modules": ["fast"],
        "sources_sha256": compiled.sources_digest(folder, ["fast"]),
        "ext_suffix": SUFFIX,
    } | overrides
    (folder / compiled.MANIFEST).write_text(json.dumps(manifest))


def test_a_manifest_of_the_current_sources_selects_the_extension(package: Path) -> None:
    _manifest(package)
    assert compiled.compiled_is_current(package, ["fast"])
    assert compiled.install("corepkg", package, ["fast"], pure=False)
    with pytest.raises(ImportError):  # the (bogus) extension is what Python now imports
        importlib.import_module("corepkg.fast")


@pytest.mark.parametrize(
    "case", ["no manifest", "source edited", "other interpreter", "extension missing", "other modules"]
)
def test_anything_but_a_current_build_imports_the_source(package: Path, case: str) -> None:
    if case != "no manifest":
        _manifest(package)
    if case == "source edited":
        (package / "fast.py").write_text("BUILD = 'pure, edited after the build'\n")
    elif case == "other interpreter":
        _manifest(package, ext_suffix=".cpython-39-x86_64-linux-gnu.so")
    elif case == "extension missing":
        (package / f"fast{SUFFIX}").unlink()
    elif case == "other modules":
        _manifest(package, modules=["fast", "slow"])
    assert not compiled.compiled_is_current(package, ["fast"])
    assert not compiled.install("corepkg", package, ["fast"], pure=False)
    assert importlib.import_module("corepkg.fast").BUILD.startswith("pure")


def test_the_developers_switch_imports_the_source_of_a_current_build(package: Path) -> None:
    _manifest(package)
    assert not compiled.install("corepkg", package, ["fast"], pure=True)
    assert importlib.import_module("corepkg.fast").BUILD == "pure"


def test_this_process_runs_the_core_its_build_says() -> None:
    """After ``make`` the core modules are the extensions (``make test`` runs this suite once so), under
    ``-X pure_core`` and without a build the sources."""
    from services.imports import matching, normalise

    expected = compiled.compiled_is_current() and "pure_core" not in sys._xoptions
    assert compiled.active() is expected
    for module in (matching, normalise):
        assert str(module.__file__).endswith(SUFFIX if expected else ".py")


# Every decision of the matcher on registry-like rows (typos, OCR errors, swapped and blank names, relatives,
# namesakes, chains of near-names, numbered names), with its score, rule, review and block keys, as one digest.
_DECISIONS = """
import hashlib, json, sys
from bench.bench_imports_quality import build
from services.imports import compiled
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
