"""Charts of a churn report as PNG bytes (matplotlib, rendered by Agg).

Rendering is CPU work: async callers run these functions with `asyncio.to_thread`. Each call builds its
own `Figure` without pyplot, so no GUI backend is ever chosen, nothing global changes and threads do not collide.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from storefront.churn.report import ChurnReport

__all__ = [
    "CHARTS",
    "churn_kinds_chart",
    "churn_rate_chart",
    "cohort_chart",
    "main_currency",
    "members_chart",
    "mrr_chart",
    "summary_chart",
]

_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()


def _labels(report: ChurnReport) -> list[str]:
    return [month.month + ("*" if month.partial else "") for month in report.months]


def _members(ax: Axes, report: ChurnReport) -> None:
    labels = _labels(report)
    bottom = [0] * len(labels)
    for index, tier in enumerate(report.tiers):
        values = [month.tiers[tier].active_end for month in report.months]
        ax.bar(labels, values, bottom=bottom, label=tier, color=_COLORS[index % len(_COLORS)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("Paying members at month end, by tier")
    ax.legend(loc="upper left", fontsize="small")
    ax.tick_params(axis="x", labelrotation=45, labelsize="small")


def _churn_rate(ax: Axes, report: ChurnReport) -> None:
    labels = _labels(report)
    series = [("all", [m.overall.churn_rate for m in report.months])]
    series += [(tier, [m.tiers[tier].churn_rate for m in report.months]) for tier in report.tiers]
    for index, (name, rates) in enumerate(series):
        values = [None if rate is None else rate * 100 for rate in rates]
        style = {"linewidth": 3, "color": "black"} if name == "all" else {"color": _COLORS[(index - 1) % 8]}
        ax.plot(labels, [v if v is not None else float("nan") for v in values], marker="o", label=name, **style)
    ax.set_title("Churn rate (% of paying members at month start)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")
    ax.tick_params(axis="x", labelrotation=45, labelsize="small")


def _churn_kinds(ax: Axes, report: ChurnReport) -> None:
    labels = _labels(report)
    voluntary = [m.overall.churned_voluntary for m in report.months]
    involuntary = [m.overall.churned_involuntary for m in report.months]
    new = [m.overall.new + m.overall.reactivated for m in report.months]
    ax.bar(labels, new, color=_COLORS[2], label="new + reactivated")
    ax.bar(labels, [-v for v in voluntary], color=_COLORS[1], label="voluntary churn")
    ax.bar(
        labels,
        [-v for v in involuntary],
        bottom=[-v for v in voluntary],
        color=_COLORS[3],
        label="involuntary churn",
    )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_title("Members gained and lost per month")
    ax.legend(loc="upper left", fontsize="small")
    ax.tick_params(axis="x", labelrotation=45, labelsize="small")


def main_currency(report: ChurnReport) -> str:
    """The currency with the most MRR at the end of the report (the one the MRR chart shows)."""
    latest = report.latest.mrr
    return max(report.currencies, key=lambda c: (latest.get(c, 0), c)) if report.currencies else "usd"


def _mrr(ax: Axes, report: ChurnReport) -> None:
    labels = _labels(report)
    currency = main_currency(report)
    scale = 100
    moves = [m.mrr_movement.get(currency) for m in report.months]
    parts = [
        ("new", _COLORS[2], 1),
        ("reactivation", _COLORS[4], 1),
        ("expansion", _COLORS[0], 1),
        ("contraction", _COLORS[5], -1),
        ("churned", _COLORS[3], -1),
    ]
    up = [0.0] * len(labels)
    down = [0.0] * len(labels)
    for name, color, sign in parts:
        values = [(getattr(move, name) if move else 0) / scale for move in moves]
        base = up if sign > 0 else down
        ax.bar(labels, [sign * v for v in values], bottom=base, color=color, label=name)
        for index, value in enumerate(values):
            base[index] += sign * value
    twin = ax.twinx()
    twin.plot(labels, [m.mrr.get(currency, 0) / scale for m in report.months], color="black", marker="o", label="MRR")
    twin.set_ylim(bottom=0)
    twin.set_ylabel(f"MRR ({currency.upper()})")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_title(f"MRR and its movement ({currency.upper()})")
    ax.legend(loc="upper left", fontsize="small")
    ax.tick_params(axis="x", labelrotation=45, labelsize="small")


def _cohorts(ax: Axes, report: ChurnReport) -> None:
    cohorts = [c for c in report.cohorts if c.size]
    count = len(report.months)
    grid = [[float("nan")] * count for _ in cohorts]
    for row, cohort in enumerate(cohorts):
        for offset, share in enumerate(cohort.retention):
            grid[row][offset] = share * 100
    if cohorts:
        image = ax.imshow(grid, cmap="Greens", vmin=0, vmax=100, aspect="auto")
        ax.figure.colorbar(image, ax=ax, label="% still paying")
        for row, cohort in enumerate(cohorts):
            for offset, share in enumerate(cohort.retention):
                ax.text(offset, row, f"{share * 100:.0f}", ha="center", va="center", fontsize="x-small")
        ax.set_yticks(range(len(cohorts)), [f"{c.month} ({c.size})" for c in cohorts], fontsize="small")
    else:
        ax.text(0.5, 0.5, "no new members in this window", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(range(count), [str(offset) for offset in range(count)], fontsize="small")
    ax.set_xlabel("months after the first paid month")
    ax.set_title("Cohort retention (by first paid month)")


def _single(
    draw: Callable[[Axes, ChurnReport], None], width: float = 8, height: float = 4.5
) -> Callable[[ChurnReport], bytes]:
    def render(report: ChurnReport) -> bytes:
        figure = Figure(figsize=(width, height), layout="constrained")
        draw(figure.add_subplot(), report)
        return _png(figure)

    render.__doc__ = f"PNG of {draw.__name__.strip('_').replace('_', ' ')}."
    return render


members_chart = _single(_members)
churn_rate_chart = _single(_churn_rate)
churn_kinds_chart = _single(_churn_kinds)
mrr_chart = _single(_mrr)
cohort_chart = _single(_cohorts, height=5.5)

CHARTS: dict[str, Callable[[ChurnReport], bytes]] = {
    "members": members_chart,
    "churn-rate": churn_rate_chart,
    "churn-kinds": churn_kinds_chart,
    "mrr": mrr_chart,
    "cohorts": cohort_chart,
}


def summary_chart(report: ChurnReport) -> bytes:
    """One PNG with four panels (members, churn rate, gained/lost, MRR): for `/churn` in chat and `--png`."""
    figure = Figure(figsize=(12, 8), layout="constrained")
    axes = figure.subplots(2, 2)
    _members(axes[0][0], report)
    _churn_rate(axes[0][1], report)
    _churn_kinds(axes[1][0], report)
    _mrr(axes[1][1], report)
    figure.suptitle(f"Churn report, {report.months[0].month} to {report.latest.month} (* = to date)")
    return _png(figure)
