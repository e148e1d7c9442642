"""What command handlers may use, built once from the App and handed to both adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bots.permissions import Policy
from drops import DropService
from entitlements import MembershipService
from entitlements.license_purchases import LicenseSales
from entitlements.licenses import LicenseCatalog
from entitlements.packs import PackService
from entitlements.requests import RequestService
from storefront.catalog import Catalog
from storefront.checkout import CheckoutService
from storefront.churn import ChurnReports
from storefront.clock import Clock
from storefront.db import Database

if TYPE_CHECKING:
    from storefront.app import App

__all__ = ["BotServices"]


def _nothing() -> None:
    return None


@dataclass
class BotServices:
    db: Database
    clock: Clock
    catalog: Catalog
    memberships: MembershipService
    checkout: CheckoutService
    policy: Policy
    packs: PackService
    licenses: LicenseCatalog
    license_sales: LicenseSales
    churn_reports: ChurnReports
    drops: DropService | None = None
    requests: RequestService | None = None
    # Called after a command queued outbox rows (a comp, a link), so delivery need not wait for its next poll.
    outbox_written: Callable[[], None] = field(default=_nothing)

    @classmethod
    def from_app(cls, app: App, *, policy: Policy | None = None) -> BotServices:
        return cls(
            db=app.db,
            clock=app.clock,
            catalog=app.catalog,
            memberships=app.memberships,
            checkout=CheckoutService(app.db, app.clock, app.catalog, app.stripe, app.settings.public_base_url),
            policy=policy or Policy.from_settings(app.settings),
            packs=app.packs,
            licenses=app.licenses,
            license_sales=app.license_sales,
            churn_reports=app.churn_reports,
            drops=app.drops,
            requests=app.requests,
        )

    def choices(self, source: str) -> list[tuple[str, str]]:
        """(label, value) pairs an argument declared with `choices_from=source` offers on Discord."""
        if source == "tiers":
            return [(tier.name, tier.key) for tier in self.catalog.tiers.values()]
        if source == "licenses_for_sale":
            return [(terms.name, kind) for kind, terms in self.licenses.licenses.items() if terms.for_sale]
        raise ValueError(f"no choices named {source!r}")
