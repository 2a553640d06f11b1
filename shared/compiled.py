"""The import core's hot modules as C extensions (mypyc), with their Python source as the fallback.

``make`` compiles ``CORE_MODULES`` in place with mypyc (``python -m infra.compiled``) and writes a manifest with the
SHA-256 of the sources it compiled. An extension is used only while it was built from exactly the sources beside
it. The ``.py`` files are imported as they are after an edit (a developer running pytest without ``make``), under
``python -X pure_core`` (a developer's switch, not a setting: services read no environment outside settings.py),
and where nothing was compiled (a Lambda code folder, a machine without a C compiler). Both cores take the same
decisions: the quality bench's output is byte-identical, and ``make test`` runs the imports unit tests and the
phone reader's tests on both.

The core is the import's matching, normalising and row modules and the phone reader they call, which the contacts
API shares (``shared/phones.py``). So the choice is made here, in ``shared``, installed from the package's
``__init__`` before any module of the core can be imported, whichever service imports it first.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path
from types import ModuleType

CORE_MODULES = ("services.imports.matching", "services.imports.normalise", "services.imports.rows", "shared.phones")
MANIFEST = Path("shared", "_core.json")  # from the root of the checkout
ROOT = Path(__file__).resolve().parent.parent


def source(name: str, root: Path = ROOT) -> Path:
    """The ``.py`` file of a module of the checkout at ``root``."""
    return root.joinpath(*name.split(".")).with_suffix(".py")


def extension(name: str, suffix: str, root: Path = ROOT) -> Path:
    """The extension module built for ``name`` beside its source (``suffix``: this interpreter's, e.g.
    ``.cpython-311-x86_64-linux-gnu.so``)."""
    path = source(name, root)
    return path.with_name(path.stem + suffix)


def sources_digest(root: Path = ROOT, modules: Sequence[str] = CORE_MODULES) -> str:
    """One hash over the compiled modules' sources: mypyc compiles them as one group (calls between them are
    native), so an edit to any of them makes the whole group stale."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update(name.encode() + b"\0" + source(name, root).read_bytes() + b"\0")
    return digest.hexdigest()


def compiled_is_current(root: Path = ROOT, modules: Sequence[str] = CORE_MODULES) -> bool:
    """True when the manifest says the extensions were built from the sources as they are now, for this
    interpreter."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    suffix = manifest.get("ext_suffix")
    if suffix not in EXTENSION_SUFFIXES or list(manifest.get("modules", ())) != list(modules):
        return False
    if not all(extension(name, suffix, root).exists() for name in modules):
        return False
    return bool(manifest.get("sources_sha256") == sources_digest(root, modules))


class PureSource(MetaPathFinder):
    """Imports the named modules from their ``.py`` files, ahead of any extension module beside them."""

    def __init__(self, root: Path, modules: Sequence[str]) -> None:
        self.root, self.modules = root, frozenset(modules)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.modules:
            return None
        return spec_from_file_location(fullname, source(fullname, self.root))


def install(root: Path = ROOT, modules: Sequence[str] = CORE_MODULES, pure: bool | None = None) -> bool:
    """Choose the core for this process; True when the compiled one will be imported. ``pure``: None → as the
    interpreter was started (``-X pure_core``)."""
    if pure is None:
        pure = "pure_core" in sys._xoptions
    if pure or not compiled_is_current(root, modules):
        if not any(isinstance(f, PureSource) and f.root == root for f in sys.meta_path):
            sys.meta_path.insert(0, PureSource(root, modules))
        return False
    return True


def active() -> bool:
    """Whether this process runs the compiled core (its modules came from extension files)."""
    loaded = [sys.modules.get(name) for name in CORE_MODULES]
    return all(m is not None and str(getattr(m, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES)) for m in loaded)
