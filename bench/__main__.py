"""``python -m bench [name …] [--quick]``: run the benchmarks under bench/ and print their tables."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="bench modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    modules = sorted(
        m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )
    selected = args.names or modules
    tables = []
    for name in selected:
        module = importlib.import_module(f"bench.bench_{name}")
        report = Report(title=f"{name} ({datetime.now(UTC):%Y-%m-%d}{', quick' if args.quick else ''})")
        print(f"== {name}", flush=True)
        module.run(report, quick=args.quick)
        tables.append(report.markdown())
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
