from __future__ import annotations

from pathlib import Path

import pytest

from storefront.clock import ManualClock
from storefront.config import Settings
from tests.churn.generated import NOW
from tests.helpers import WEBHOOK_SECRET

CHURN_CATALOG = Path(__file__).parent / "catalog.toml"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/storefront.db",
        catalog_path=CHURN_CATALOG,
        stripe_webhook_secret=WEBHOOK_SECRET,
        grace_period_days=3,
    )
