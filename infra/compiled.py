"""Build the import core's hot modules as C extensions with mypyc, in place (``make`` runs this).

``python -m infra.compiled`` compiles ``shared.compiled.CORE_MODULES`` into extension modules beside their sources
and writes the manifest that lets ``shared.compiled`` use them (only while the sources are unchanged). Where it
cannot build (no C compiler, no Python headers, mypyc missing) it says so and leaves the pure-Python modules in use:
the build never fails the install. ``--clean`` removes what it built.

Lambda code folders (``finview template``) carry the sources only, so a deployed function runs the pure core unless
its build compiles it for Lambda's platform (``sam build --use-container`` running this same command).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

from shared import compiled

ROOT = compiled.ROOT
GROUP = "shared._core"  # the modules' shared library lands in the package: shared/_core__mypyc*.so
_EARLIER = Path("services", "imports", "_core")  # where earlier builds put it, and their manifest (_core.json)


def built_files(root: Path = ROOT) -> list[Path]:
    """The extension files of the core's modules and of the group's shared library, built for any interpreter."""
    stems = [compiled.source(name, root).with_suffix("") for name in compiled.CORE_MODULES]
    stems += [root / "shared" / "_core__mypyc", root / f"{_EARLIER}__mypyc"]
    return [p for stem in stems for p in stem.parent.glob(f"{stem.name}.*") if p.suffix in (".so", ".pyd")]


def clean(root: Path = ROOT) -> None:
    for path in [*built_files(root), root / compiled.MANIFEST, root / f"{_EARLIER}.json"]:
        path.unlink(missing_ok=True)


def build() -> bool:
    clean()
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as exc:
        print(f"compiled core not built ({exc}); the pure-Python modules are used", file=sys.stderr)
        return False
    sources = [str(compiled.source(name, ROOT).relative_to(ROOT)) for name in compiled.CORE_MODULES]
    digest = compiled.sources_digest()
    cwd = Path.cwd()
    os.chdir(ROOT)  # mypyc reads the mypy configuration of pyproject.toml and names modules from here
    try:
        with tempfile.TemporaryDirectory(prefix="finview-mypyc-") as tmp:
            extensions = mypycify(sources, opt_level="3", group_name=GROUP, target_dir=str(Path(tmp, "c")))
            with warnings.catch_warnings():  # setuptools' notes on pyproject.toml, which this build does not use
                warnings.simplefilter("ignore")
                setup(
                    name="finview-core",
                    ext_modules=extensions,
                    script_args=["--quiet", "build_ext", "--inplace", "--build-temp", str(Path(tmp, "o")),
                                 "--build-lib", str(Path(tmp, "lib"))],
                )
    except (Exception, SystemExit) as exc:  # a compiler missing or failing: setuptools raises SystemExit
        clean()
        print(f"compiled core not built ({type(exc).__name__}: {exc}); the pure-Python modules are used",
              file=sys.stderr)  # fmt: skip
        return False
    finally:
        os.chdir(cwd)
    if compiled.sources_digest() != digest:  # edited while it compiled: the extensions may hold either version
        clean()
        print("the sources changed while compiling; the pure-Python modules are used", file=sys.stderr)
        return False
    manifest = {
        "modules": list(compiled.CORE_MODULES),
        "sources_sha256": digest,
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
    }
    (ROOT / compiled.MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"compiled core built: {', '.join(name.rpartition('.')[2] for name in compiled.CORE_MODULES)}")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules and the manifest")
    args = parser.parse_args()
    if args.clean:
        clean()
    else:
        build()


if __name__ == "__main__":
    main()
