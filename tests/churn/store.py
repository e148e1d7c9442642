"""Putting a generated history into the store: in bulk as the webhook handlers record it, or over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp
import sqlalchemy as sa

from entitlements import MembershipStatus, ObservationKind
from storefront.clock import utc_from_timestamp
from storefront.db import Database
from storefront.db.tables import billing_events, identities, members, subscriptions
from storefront.demo.stripe_events import StripeEvents, sign_payload
from tests.churn.generated import HISTORY_START, History
from webhooks.stripe_payloads import InvoicePayload, SubscriptionPayload


def _customer(member: int) -> str:
    return f"cus_gen_{member}"


def _identity(member: int) -> str:
    return f"telegram:{700000 + member}"


def subscription_object(sub_id: str, member: int, fields: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Stripe subscription object that the handlers read."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": _customer(member),
        "status": fields["status"],
        "metadata": {"member": _identity(member)},
        "items": {
            "data": [
                {
                    "price": {
                        "id": fields["price_id"],
                        "unit_amount": fields["unit_amount"],
                        "currency": fields["currency"],
                        "recurring": {"interval": fields["interval"]},
                    },
                    "current_period_end": fields["current_period_end"],
                }
            ]
        },
        "cancel_at_period_end": fields["cancel_at_period_end"],
        "cancel_at": fields["cancel_at"],
        "ended_at": fields["ended_at"],
        "start_date": fields["start_date"],
        "trial_end": fields["trial_end"],
        "pause_collection": None,
        "cancellation_details": fields["cancellation"],
    }


def invoice_object(event_id: str, sub_id: str, member: int, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"in_{event_id}",
        "customer": _customer(member),
        "billing_reason": fields["billing_reason"],
        "amount_paid": fields["amount"] if fields["paid"] else 0,
        "amount_due": fields["amount"],
        "parent": {"subscription_details": {"subscription": sub_id, "metadata": {"member": _identity(member)}}},
    }


async def store_in_bulk(db: Database, history: History) -> None:
    """Record every observation as `MembershipService.record` does, from the same payload parsing."""
    rows: list[dict[str, Any]] = []
    subs_of: dict[int, list[str]] = {}
    first_seen: dict[str, datetime] = {}
    for event in sorted(history.events, key=lambda e: (e.created, e.id)):
        created = utc_from_timestamp(event.created)
        base = {"member_id": event.member, "created": created}
        if event.type.startswith("revoke:"):
            reason = event.obj["reason"]
            for sub_id in subs_of.get(event.member, []):  # every subscription of the customer, as a refund does
                rows.append(
                    {
                        **base,
                        "event_id": f"{event.id}:{sub_id}",
                        "subscription_id": sub_id,
                        "type": reason,
                        "kind": ObservationKind.REVOKED.value,
                        "data": {"reason": reason},
                    }
                )
            continue
        if event.sub_id not in first_seen:
            first_seen[event.sub_id] = created
            subs_of.setdefault(event.member, []).append(event.sub_id)
        if event.type.startswith("customer.subscription."):
            payload = SubscriptionPayload.model_validate(subscription_object(event.sub_id, event.member, event.obj))
            kind = ObservationKind.DELETED if event.type.endswith(".deleted") else ObservationKind.SNAPSHOT
            data = payload.snapshot()
        else:
            invoice = InvoicePayload.model_validate(invoice_object(event.id, event.sub_id, event.member, event.obj))
            kind = ObservationKind.PAYMENT_SUCCEEDED if event.type == "invoice.paid" else ObservationKind.PAYMENT_FAILED
            data = {"invoice": invoice.id, "amount": invoice.amount_paid, "billing_reason": invoice.billing_reason}
        rows.append(
            {
                **base,
                "event_id": event.id,
                "subscription_id": event.sub_id,
                "type": event.type,
                "kind": kind.value,
                "data": data,
            }
        )
    async with db.write() as conn:
        await conn.execute(
            sa.insert(members),
            [{"id": m, "created_at": HISTORY_START, "granted_tier": None} for m in range(1, history.members + 1)],
        )
        await conn.execute(
            sa.insert(identities),
            [
                {"identity": identity, "member_id": m, "created_at": HISTORY_START}
                for m in range(1, history.members + 1)
                for identity in (_identity(m), f"stripe:{_customer(m)}")
            ],
        )
        await conn.execute(
            sa.insert(subscriptions),
            [
                {
                    "id": sub.sub_id,
                    "member_id": sub.member,
                    "customer_id": _customer(sub.member),
                    "status": MembershipStatus.INCOMPLETE.value,
                    "updated_at": first_seen[sub.sub_id],
                }
                for sub in history.subs
                if sub.sub_id in first_seen
            ],
        )
        for first in range(0, len(rows), 5000):
            await conn.execute(sa.insert(billing_events), rows[first : first + 5000])
    history.member_ids = {m: m for m in range(1, history.members + 1)}


def stripe_events(history: History) -> list[dict[str, Any]]:
    """The history as full Stripe events built from Stripe's fixtures (refunds as charge.refunded)."""
    factory = StripeEvents()
    out = []
    for event in sorted(history.events, key=lambda e: (e.created, e.id)):
        if event.type.startswith("revoke:"):
            amount = 500
            obj = factory.charge(customer=_customer(event.member), amount=amount, refunded_amount=amount)
            envelope = factory.event("charge.refunded", obj, created=event.created)
        elif event.type.startswith("customer.subscription."):
            fields = event.obj
            obj = factory.subscription(
                sub_id=event.sub_id,
                customer=_customer(event.member),
                member=_identity(event.member),
                price_id=fields["price_id"],
                unit_amount=fields["unit_amount"],
                status=fields["status"],
                interval=fields["interval"],
                current_period_end=fields["current_period_end"],
                cancel_at_period_end=fields["cancel_at_period_end"],
                cancel_at=fields["cancel_at"],
                ended_at=fields["ended_at"],
                trial_end=fields["trial_end"],
                cancellation=fields["cancellation"],
            )
            obj["items"]["data"][0]["price"]["currency"] = fields["currency"]
            obj["start_date"] = fields["start_date"]
            envelope = factory.event(event.type, obj, created=event.created)
        else:
            fields = event.obj
            obj = factory.invoice(
                sub_id=event.sub_id,
                customer=_customer(event.member),
                member=_identity(event.member),
                amount=fields["amount"],
                paid=fields["paid"],
                billing_reason=fields["billing_reason"],
            )
            envelope = factory.event(event.type, obj, created=event.created)
        envelope["id"] = event.id
        out.append(envelope)
    return out


async def send_over_http(url: str, secret: str, events: list[dict[str, Any]]) -> None:
    """POST each event to the real webhook endpoint, signed as Stripe signs."""
    async with aiohttp.ClientSession() as session:
        for event in events:
            body = json.dumps(event)
            headers = {"Stripe-Signature": sign_payload(body, secret), "Content-Type": "application/json"}
            async with session.post(f"{url}/stripe/webhook", data=body, headers=headers) as response:
                assert response.status == 200, await response.text()
