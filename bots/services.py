"""What command handlers may use, built once from the App and handed to both adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bots.permissions import Policy
from entitlements import MembershipService
from storefront.catalog import Catalog
from storefront.checkout import CheckoutService
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
        )
