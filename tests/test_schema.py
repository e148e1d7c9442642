"""Migrations are the schema's history: applying them yields exactly the tables the code declares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storefront.app import App
from storefront.db.migrate import HEAD, all_metadata, current_revision, head_revision
from storefront.stripe_fixtures import load_fixture
from tests.databases import ON_POSTGRES

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "stripe-fixtures"


async def test_migrations_produce_the_declared_schema(app: App):
    async with app.db.read() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), all_metadata())
        )
    assert differences == []


async def test_migrate_twice_is_harmless_and_reaches_head(app: App):
    await app.migrate()
    assert await current_revision(app.db) == head_revision()


def test_the_head_start_up_checks_for_is_alembics_head():
    assert head_revision() == HEAD, "a new migration: set storefront.db.migrate.HEAD to its revision"


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite settings")
async def test_sqlite_is_in_wal_mode_with_foreign_keys(app: App):
    async with app.db.read() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.skipif(not SHARED_FIXTURES.is_dir(), reason="../shared/stripe-fixtures is not beside this checkout")
@pytest.mark.parametrize("name", ["subscription", "invoice", "checkout.session", "charge", "dispute", "event"])
def test_packaged_fixtures_are_stripes_published_ones(name: str):
    shared = json.loads((SHARED_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert load_fixture(name) == shared
