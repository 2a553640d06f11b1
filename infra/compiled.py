"""Build the import core's hot modules as C extensions with mypyc, in place (``make`` runs this).

``python -m infra.compiled`` compiles ``services.imports.compiled.CORE_MODULES`` into extension modules beside their
sources and writes the manifest that lets ``services.imports.compiled`` use them (only while the sources are
unchanged). Where it cannot build (no C compiler, no Python headers, mypyc missing) it says so and leaves the
pure-Python modules in use: the build never fails the install. ``--clean`` removes what it built.

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

from services.imports import compiled

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "services" / "imports"
GROUP = f"{compiled.PACKAGE}._core"  # the shared library lands in the package: services/imports/_core__mypyc*.so


def built_files(folder: Path = FOLDER) -> list[Path]:
    suffixes = (".so", ".pyd")
    names = [*compiled.CORE_MODULES, "_core__mypyc"]
    return [p for p in folder.iterdir() if p.suffix in suffixes and p.name.split(".", 1)[0] in names]


def clean(folder: Path = FOLDER) -> None:
    for path in [*built_files(folder), folder / compiled.MANIFEST]:
        path.unlink(missing_ok=True)


def build() -> bool:
    clean()
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as exc:
        print(f"compiled core not built ({exc}); the pure-Python modules are used", file=sys.stderr)
        return False
    sources = [str(Path("services", "imports", f"{name}.py")) for name in compiled.CORE_MODULES]
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
    (FOLDER / compiled.MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"compiled core built: {', '.join(compiled.CORE_MODULES)}")
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
