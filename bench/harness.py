"""A small benchmark harness: each measurement is reported with a baseline measured in the same run.

A bench module ``bench/bench_<name>.py`` defines ``run(report: Report, quick: bool) -> None``.
``python -m bench [names…] [--quick]`` runs them and prints one markdown table per module; paste it into
bench/RESULTS.md with the date.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value  # type: ignore[operator]


@dataclass
class Report:
    title: str
    rows: list[Measurement] = field(default_factory=list)

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        baseline: str | None = None,
        baseline_value: float | None = None,
        note: str = "",
    ) -> Measurement:
        m = Measurement(name, value, unit, baseline, baseline_value, note)
        self.rows.append(m)
        print(f"  {name}: {value:,.3f} {unit}" + (f"  (x{m.ratio:.2f} vs {baseline})" if m.ratio else ""), flush=True)
        return m

    def markdown(self) -> str:
        lines = [
            f"### {self.title}",
            "",
            "| measurement | value | unit | baseline | ratio | note |",
            "|---|---:|---|---|---:|---|",
        ]
        for m in self.rows:
            ratio = f"{m.ratio:.2f}" if m.ratio is not None else ""
            lines.append(f"| {m.name} | {m.value:,.3f} | {m.unit} | {m.baseline or ''} | {ratio} | {m.note} |")
        return "\n".join(lines)


def timings(fn: Callable[[], object], n: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of ``n`` calls after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)
