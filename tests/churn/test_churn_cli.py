"""`storefront churn`: a summary, or the report as JSON, CSV or a PNG chart."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from storefront import churn_cli
from storefront.app import App
from storefront.churn_cli import churn
from storefront.clock import ManualClock
from storefront.db import Database
from storefront.db.migrate import upgrade
from tests.churn.conftest import CHURN_CATALOG
from tests.churn.generated import NOW, generate
from tests.churn.store import store_in_bulk

cli = typer.Typer()
cli.command("churn")(churn)


@cli.callback()
def storefront() -> None:
    """Stands in for the `storefront` group the command is mounted on."""


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('churn-cli') / 'storefront.db'}"

    async def build() -> None:
        db = Database(url)
        try:
            await upgrade(db)
            await store_in_bulk(db, generate(200, seed=5))
        finally:
            await db.dispose()

    asyncio.run(build())
    return url


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CATALOG_PATH", str(CHURN_CATALOG))
    # The generated history ends at its NOW; on the real date the report's months would run past it.
    monkeypatch.setattr(churn_cli, "App", lambda settings: App(settings, clock=ManualClock(NOW)))

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["churn", *args], catch_exceptions=False)

    return invoke


def test_churn_prints_a_short_summary(run) -> None:
    result = run("--months", "6")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("This month ") and lines[1].startswith("Last month ")
    assert any(line.startswith("MRR ") for line in lines) and lines[-1].startswith("At risk now: ")
    assert len(lines) <= 8


def test_churn_json_follows_the_documented_schema(run, tmp_path: Path) -> None:
    result = run("--months", "6", "--json", str(tmp_path / "churn.json"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "churn.json").read_text())
    assert report["schema"] == "storefront.churn/1"
    assert report["tiers"] == ["fan", "supporter", "creator", "brand"]
    assert report["currencies"] == ["eur", "usd"]
    assert len(report["months"]) == 6 and len(report["cohorts"]) == 6
    month = report["months"][-1]
    assert month["partial"] is True and set(month["tiers"]) == set(report["tiers"])
    assert set(month["overall"]) == {
        "active_start", "active_end", "trialing_end", "new", "reactivated", "churned", "churned_voluntary",
        "churned_involuntary", "moved_in", "moved_out", "churn_rate",
    }  # fmt: skip
    assert set(month["mrr_movement"]["usd"]) == {"new", "reactivation", "expansion", "contraction", "churned", "net"}
    for member in report["at_risk"]:
        assert member["status"] in ("past_due", "canceling") and member["identities"]


def test_churn_csv_has_a_row_per_month_and_tier(run) -> None:
    result = run("--months", "6", "--csv", "-")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 6 * 5
    assert [row["tier"] for row in rows[:5]] == ["all", "fan", "supporter", "creator", "brand"]
    for row in rows:
        assert int(row["active_end"]) == (
            int(row["active_start"]) + int(row["new"]) + int(row["reactivated"]) + int(row["moved_in"])
            - int(row["moved_out"]) - int(row["churned"])
        )  # fmt: skip


def test_churn_png_writes_a_chart_image(run, tmp_path: Path) -> None:
    result = run("--png", str(tmp_path / "churn.png"))
    assert result.exit_code == 0, result.output
    image = (tmp_path / "churn.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 20_000
    assert "This month" in result.output


def test_a_png_cannot_go_to_stdout(run) -> None:
    result = run("--png", "-")
    assert result.exit_code == 2
