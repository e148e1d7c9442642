"""The catalog file and the command line: clear one-line errors, nothing changed on bad input."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from storefront.catalog import load_catalog, parse_catalog
from storefront.errors import CatalogError
from storefront.standins.stripe_api import StripeStandIn
from tests.conftest import TEST_CATALOG
from tests.helpers import WEBHOOK_SECRET

GOOD_TIER = '[tiers.fan]\nname = "Fan"\nmonthly_price = 500\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tiers.fan]\nname = "Fan"\nmonthly_price = 4.99\n', "tiers.fan.monthly_price: must be a whole number"),
        (GOOD_TIER + "colour = 1\n", "tiers.fan.colour: unknown key"),
        ("[tiers.fan]\nmonthly_price = 500\n", "tiers.fan.name: is required"),
        ('[tiers.Fan]\nname = "F"\nmonthly_price = 1\n', "tier key 'Fan' must be lowercase"),
        ("tiers = [", "is not valid TOML"),
        (GOOD_TIER + "[tiers.fan.grants]\nmonthly_downloads = -1\n", "tiers.fan.grants.monthly_downloads"),
        (
            GOOD_TIER + 'stripe_monthly_price_id = "p1"\n[tiers.pro]\nname = "Pro"\nmonthly_price = 900\n'
            'stripe_monthly_price_id = "p1"\n',
            "Stripe price p1 is used by both fan and pro",
        ),
        ("", "declare at least one tier"),
    ],
)
def test_bad_catalog_is_named_in_one_line(text: str, message: str):
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, "catalog.toml")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("catalog.toml")


def test_the_shipped_catalogs_are_valid():
    assert list(load_catalog(Path("catalog.toml")).tiers) == ["fan", "creator", "brand"]
    assert load_catalog(TEST_CATALOG).tier("brand").grants.custom_requests_per_month == 2


async def storefront(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "storefront",
        *args,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["member", "show", "bogus"], "error: 'bogus' is not an identity"),
        (["member", "show", "telegram:404"], "error: no member 'telegram:404'"),
        (["webhooks", "list", "--limit", "0"], "error: Invalid value for '--limit'"),
        (["webhooks", "replay", "evt_nope"], "error: no webhook event 'evt_nope'"),
        (["catalog", "check", "missing.toml"], "error: missing.toml: file not found"),
        (["reconcile"], "error: STRIPE_API_KEY is not set"),
        (["frobnicate"], "error: No such command 'frobnicate'"),
    ],
)
async def test_bad_cli_input_gets_one_line_and_exit_2(tmp_path: Path, db_url: str, args: list[str], message: str):
    env = {"DATABASE_URL": db_url, "CATALOG_PATH": str(TEST_CATALOG)}
    code, _, err = await storefront(*args, env=env, cwd=tmp_path)
    assert code == 2
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1, err


async def test_catalog_sync_creates_missing_prices_once_and_writes_them_back(tmp_path: Path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '# my tiers\n[tiers.fan]\nname = "Fan"\nmonthly_price = 500\nannual_price = 5000\n\n'
        '[tiers.vip]\nname = "VIP"\nmonthly_price = 9900\n',
        encoding="utf-8",
    )
    async with StripeStandIn(rate_limit=None) as stripe_api:
        env = {"STRIPE_API_KEY": "sk_test_sync", "STRIPE_API_BASE": stripe_api.base_url}
        code, out, err = await storefront("catalog", "sync", str(catalog), env=env, cwd=tmp_path)
        assert code == 0, err
        synced = load_catalog(catalog)
        assert synced.tiers["fan"].stripe_annual_price_id and synced.tiers["vip"].stripe_monthly_price_id
        assert "# my tiers" in catalog.read_text(), "comments survive the write-back"
        assert "catalog synced: 5 Stripe objects created" in out

        code, out, _ = await storefront("catalog", "sync", str(catalog), env=env, cwd=tmp_path)
        assert (code, "catalog synced: 0 Stripe objects created" in out) == (0, True)
    assert "sk_test_sync" not in out + err


async def test_member_show_json_and_webhooks_list(tmp_path: Path, db_url: str, events):
    from storefront.app import App
    from storefront.config import Settings
    from tests.lifecycle import full_lifecycle

    settings = Settings(
        _env_file=None, database_url=db_url, catalog_path=TEST_CATALOG, stripe_webhook_secret=WEBHOOK_SECRET
    )
    app = App(settings)
    await app.migrate()
    from webhooks.stripe_payloads import StripeEvent

    for step in full_lifecycle(events)[:4]:
        await app.inbox.store(StripeEvent.model_validate(step.event), json.dumps(step.event))
    await app.worker.drain()
    await app.close()

    env = {"DATABASE_URL": db_url, "CATALOG_PATH": str(TEST_CATALOG)}
    code, out, err = await storefront("member", "show", "telegram:1001", "--json", env=env, cwd=tmp_path)
    assert code == 0, err
    report = json.loads(out)
    assert report["granted_tier"] == "fan"
    assert report["identities"] == ["stripe:cus_fan1", "telegram:1001"]
    assert report["subscriptions"][0]["status"] == "active"
    code, out, _ = await storefront("webhooks", "list", "--json", env=env, cwd=tmp_path)
    assert sorted(e["status"] for e in json.loads(out)) == ["processed"] * 4


async def test_run_without_any_account_plays_the_demo(tmp_path: Path):
    env = {k: "" for k in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN")}
    code, out, err = await storefront("run", env={**env, "CATALOG_PATH": str(TEST_CATALOG)}, cwd=tmp_path)
    assert code == 0, err
    assert "running the offline demo" in out
    assert "Demo finished" in out


async def test_run_with_accounts_but_no_webhook_secret_refuses_to_start(tmp_path: Path):
    env = {"STRIPE_API_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "", "CATALOG_PATH": str(TEST_CATALOG)}
    code, _, err = await storefront("run", env=env, cwd=tmp_path)
    assert code == 2
    assert err.startswith("error: STRIPE_WEBHOOK_SECRET is not set")


async def test_split_roles_on_sqlite_are_warned_about_at_start(db_url: str, tmp_path: Path):
    env = {"DATABASE_URL": db_url, "CATALOG_PATH": str(TEST_CATALOG), "STRIPE_WEBHOOK_SECRET": "whsec_test"}
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "storefront", "run", "--role", "worker"],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    said: list[str] = []
    try:
        while not said or " running" not in said[-1]:
            line = await asyncio.wait_for(process.stderr.readline(), 60)
            assert line, "".join(said)
            said.append(line.decode())
    finally:
        process.terminate()
        await process.wait()
    warned = any(line.startswith("warning: on SQLite the processes of split roles") for line in said)
    assert warned == db_url.startswith("sqlite")
