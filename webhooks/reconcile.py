"""Reconcile: read every subscription from Stripe and repair what missed webhooks left wrong."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from entitlements import AccessChange, MembershipService, Observation, ObservationKind
from storefront.clock import Clock
from storefront.db import Database
from storefront.stripe_gateway import StripeGateway
from webhooks.stripe_payloads import SubscriptionPayload

__all__ = ["ReconcileReport", "reconcile"]

log = logging.getLogger(__name__)

_BATCH = 200


@dataclass
class ReconcileReport:
    subscriptions_seen: int = 0
    changes: list[AccessChange] = field(default_factory=list)


async def reconcile(
    *,
    db: Database,
    clock: Clock,
    stripe: StripeGateway,
    memberships: MembershipService,
    progress: Callable[[int, int], None] | None = None,
) -> ReconcileReport:
    """Apply Stripe's current view of every subscription. A failed fetch raises before anything changes."""
    subscriptions = [SubscriptionPayload.model_validate(sub) for sub in await stripe.list_subscriptions()]
    now = clock.now()
    stamp = int(now.timestamp())
    report = ReconcileReport(subscriptions_seen=len(subscriptions))
    for start in range(0, len(subscriptions), _BATCH):
        async with db.write() as conn:
            for sub in subscriptions[start : start + _BATCH]:
                ended = sub.status in ("canceled", "incomplete_expired")
                kind = ObservationKind.DELETED if ended else ObservationKind.SNAPSHOT
                observed = await memberships.observe(
                    conn,
                    subscription_id=sub.id,
                    identity=sub.metadata.get("member"),
                    customer_id=sub.customer,
                    observation=Observation(f"reconcile:{sub.id}:{stamp}", kind, now, sub.snapshot()),
                    event_type="reconcile",
                    now=now,
                )
                if observed.change is not None:
                    report.changes.append(observed.change)
        done = min(start + _BATCH, len(subscriptions))
        log.info("reconcile: %d/%d subscriptions applied", done, len(subscriptions))
        if progress is not None:
            progress(done, len(subscriptions))
    return report
