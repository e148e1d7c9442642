"""The catalog's request fields: a turnaround per tier and the price of one extra request, checked in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from storefront.catalog import load_catalog, parse_catalog
from storefront.cli import main
from storefront.errors import CatalogError
from tests.conftest import TEST_CATALOG

BRAND = '[tiers.brand]\nname = "Brand"\nmonthly_price = 25000\n[tiers.brand.grants]\ncustom_requests_per_month = 2\n'


def test_a_tier_without_the_fields_has_a_week_and_sells_no_extra_requests():
    grants = parse_catalog(BRAND).tier("brand").grants
    assert (grants.request_turnaround_days, grants.extra_request_price) == (7, None)


def test_the_shipped_catalogs_give_brand_five_days_and_extra_requests_at_75():
    for path in (Path("catalog.toml"), TEST_CATALOG):
        grants = load_catalog(path).tier("brand").grants
        assert (grants.request_turnaround_days, grants.extra_request_price) == (5, 7500)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("request_turnaround_days = 0", "tiers.brand.grants.request_turnaround_days: Input should be greater than or"),
        ("request_turnaround_days = 400", "tiers.brand.grants.request_turnaround_days: Input should be less than or"),
        ("extra_request_price = 0", "tiers.brand.grants.extra_request_price: Input should be greater than 0"),
        ("extra_request_price = 75.0", "tiers.brand.grants.extra_request_price: must be a whole number of minor"),
        ('extra_request_price = "75"', "tiers.brand.grants.extra_request_price: must be a whole number of minor"),
    ],
)
def test_bad_request_fields_are_named_in_one_line(line: str, message: str):
    with pytest.raises(CatalogError) as raised:
        parse_catalog(BRAND + line + "\n", "catalog.toml")
    assert str(raised.value).startswith("catalog.toml: " + message.split(": ", 1)[0])
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_catalog_check_prints_the_problem_in_one_line_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture):
    bad = tmp_path / "catalog.toml"
    bad.write_text(BRAND + "extra_request_price = -5\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["catalog", "check", str(bad)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {bad}: tiers.brand.grants.extra_request_price: Input should be greater than 0 (got -5)"
