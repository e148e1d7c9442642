"""License kinds come from the catalog; a terms document's SHA-256 is its version."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from entitlements.licenses import DEFAULT_LICENSES, load_license_catalog
from storefront.catalog import load_catalog
from storefront.demo.world import DEMO_CATALOG
from storefront.errors import CatalogError
from tests.packs.conftest import PACKS_CATALOG, tiers_of

TERMS = Path(DEFAULT_LICENSES).parent


def test_catalog_licenses_carry_their_terms_version():
    licenses = load_license_catalog(PACKS_CATALOG)
    assert list(licenses.licenses) == ["personal", "commercial", "exclusive"]
    commercial = licenses.license("commercial")
    assert commercial.terms_sha256 == hashlib.sha256((TERMS / "commercial.md").read_bytes()).hexdigest()
    assert (commercial.price, commercial.currency, commercial.for_sale) == (4900, "usd", True)
    assert licenses.license("exclusive").exclusive_days == 365
    assert not licenses.license("personal").for_sale
    assert (licenses.packs.delivery_day, licenses.packs.back_packs_per_paid_month) == (1, 1)


def test_changing_the_terms_makes_a_new_version(tmp_path: Path):
    (tmp_path / "personal.md").write_text("Personal use only.\n")
    (tmp_path / "catalog.toml").write_text('[licenses.personal]\nname = "Personal"\nterms = "personal.md"\n')
    before = load_license_catalog(tmp_path / "catalog.toml").license("personal").terms_sha256
    (tmp_path / "personal.md").write_text("Personal use only. No prints for sale.\n")
    assert load_license_catalog(tmp_path / "catalog.toml").license("personal").terms_sha256 != before


def test_catalog_without_licenses_uses_the_embedded_terms():
    licenses = load_license_catalog(DEMO_CATALOG)
    assert set(licenses.licenses) == {"personal", "commercial", "ai_training", "exclusive"}
    licenses.check_tiers(load_catalog(DEMO_CATALOG))  # the demo tiers grant only kinds it has


def test_tiers_downloads_carry_their_strongest_license():
    licenses = load_license_catalog(PACKS_CATALOG)
    tiers = tiers_of(PACKS_CATALOG)
    assert licenses.primary_kind(tiers.tier("fan")) == "personal"
    assert licenses.primary_kind(tiers.tier("creator")) == "commercial"
    assert licenses.primary_kind(tiers.tier("chat")) == "personal"  # but Chat has no downloads: no packs


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('[licenses.personal]\nname = "P"\nterms = "missing.md"\n', "cannot read"),
        ('[licenses.exclusive]\nname = "E"\nterms = "t.md"\n', "exclusive_days"),
        ('[licenses.forever]\nname = "F"\nterms = "t.md"\n', "licenses.forever.kind"),
        ('[licenses.personal]\nname = "P"\n', "needs terms"),
        ('[licenses.personal]\nname = "P"\nterms = "t.md"\nprice = 9.99\n', "licenses.personal.price"),
    ],
)
def test_bad_license_tables_are_named_in_one_line(tmp_path: Path, table: str, problem: str):
    (tmp_path / "t.md").write_text("terms")
    (tmp_path / "catalog.toml").write_text(table)
    with pytest.raises(CatalogError, match=problem):
        load_license_catalog(tmp_path / "catalog.toml")


def test_a_tier_granting_a_license_without_terms_is_refused(tmp_path: Path):
    (tmp_path / "t.md").write_text("terms")
    (tmp_path / "catalog.toml").write_text('[licenses.personal]\nname = "P"\nterms = "t.md"\n')
    licenses = load_license_catalog(tmp_path / "catalog.toml")
    with pytest.raises(CatalogError, match="commercial"):
        licenses.check_tiers(tiers_of(PACKS_CATALOG))
