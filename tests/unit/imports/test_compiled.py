"""The compiled import core is used only while it was built from the sources beside it; else the Python modules."""

from __future__ import annotations

import importlib
import json
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
