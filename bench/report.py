"""Figures and how they are printed: value, unit, the baseline of the same run, the ratio, the target."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

__all__ = ["Figure", "percentile", "print_case"]


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    return (
        statistics.quantiles(samples, n=1000, method="inclusive")[int(q * 10) - 1] if len(samples) > 1 else samples[0]
    )


def print_case(title: str, figures: list[Figure], notes: list[str] | None = None) -> None:
    print(f"\n## {title}")
    print(f"{'figure':<34} {'value':>12} {'unit':<10} {'baseline':>12} {'ratio':>7}  target")
    for f in figures:
        base = f"{f.baseline:,.1f}" if f.baseline is not None else "-"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        verdict = "" if f.met is None else (" MET" if f.met else " NOT MET")
        value = f"{f.value:,.2f}" if f.unit == "s" else f"{f.value:,.1f}"  # start-up targets are tenths of seconds
        print(f"{f.name:<34} {value:>12} {f.unit:<10} {base:>12} {ratio:>7}  {f.target}{verdict}")
    for note in notes or []:
        print(f"  - {note}")
