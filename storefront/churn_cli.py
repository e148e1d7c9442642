"""`storefront churn`: the churn report on the command line, as a summary, JSON, CSV or a PNG chart."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from storefront.app import App
from storefront.churn import MAX_MONTHS, ChurnReport, churn_report, churn_summary_text, report_csv, report_json
from storefront.config import Settings

__all__ = ["churn"]

_STDOUT = "-"


async def _report(months: int) -> ChurnReport:
    app = App(Settings())
    try:
        await app.migrate()
        return await churn_report(app, months=months)
    finally:
        await app.close()


def _write_text(path: Path, text: str) -> None:
    if str(path) == _STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {path}", err=True)


def churn(
    months: Annotated[
        int, typer.Option(min=1, max=MAX_MONTHS, help="Calendar months to cover; the last is the current one.")
    ] = 12,
    json_file: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the report as JSON ('-' for stdout).")
    ] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Write one row per month and tier as CSV ('-' for stdout)."),
    ] = None,
    png_file: Annotated[
        Path | None, typer.Option("--png", metavar="FILE", help="Write the summary chart as a PNG image.")
    ] = None,
) -> None:
    """Members, churn, MRR and cohorts per month, computed from the stored billing history."""
    if png_file is not None and str(png_file) == _STDOUT:
        raise typer.BadParameter("a PNG goes to a file, not to stdout", param_hint="--png")
    report = asyncio.run(_report(months))
    if json_file is not None:
        _write_text(json_file, json.dumps(report_json(report), indent=2, sort_keys=True) + "\n")
    if csv_file is not None:
        _write_text(csv_file, report_csv(report))
    if png_file is not None:
        from storefront.churn.charts import summary_chart  # matplotlib loads only when a chart is asked for

        png_file.write_bytes(summary_chart(report))
        typer.echo(f"wrote {png_file}", err=True)
    if _STDOUT not in (str(json_file), str(csv_file)):
        typer.echo(asyncio.run(churn_summary_text(report)))
