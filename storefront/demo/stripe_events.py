"""Build Stripe events from Stripe's own fixtures and sign them as Stripe does.

Used by the offline demo and by the tests, so both speak exactly the wire format Stripe sends.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any

from storefront.stripe_fixtures import load_fixture

__all__ = ["StripeEvents", "sign_payload"]


def sign_payload(body: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header for `body`: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class StripeEvents:
    """A factory of Stripe events whose `created` times are distinct and increasing (one second apart)."""

    def __init__(self, start: int = 1_790_000_000) -> None:
        self._ticks = itertools.count(start)

    def event(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        created: int | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        envelope = load_fixture("event")
        envelope.update(
            id=_new_id("evt"),
            type=event_type,
            created=next(self._ticks) if created is None else created,
            api_version="2026-07-29.dahlia",
            data={"object": obj},
        )
        if previous_attributes is not None:
            envelope["data"]["previous_attributes"] = previous_attributes
        return envelope

    # Objects -------------------------------------------------------------------------------------

    @staticmethod
    def subscription(
        *,
        sub_id: str,
        customer: str,
        member: str | None,
        price_id: str,
        unit_amount: int,
        status: str = "active",
        interval: str = "month",
        current_period_end: int = 1_792_000_000,
        cancel_at_period_end: bool = False,
        cancel_at: int | None = None,
        canceled_at: int | None = None,
        ended_at: int | None = None,
        trial_end: int | None = None,
        cancellation: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        sub = load_fixture("subscription")
        item = sub["items"]["data"][0]
        item["price"].update(id=price_id, unit_amount=unit_amount, unit_amount_decimal=str(unit_amount))
        item["price"]["recurring"].update(interval=interval, interval_count=1)
        item.update(
            subscription=sub_id,
            current_period_end=current_period_end,
            current_period_start=current_period_end - (31 if interval == "month" else 365) * 86400,
        )
        sub.update(
            id=sub_id,
            customer=customer,
            status=status,
            metadata={"member": member} if member else {},
            cancel_at_period_end=cancel_at_period_end,
            cancel_at=cancel_at,
            canceled_at=canceled_at,
            ended_at=ended_at,
            trial_end=trial_end,
            trial_start=None,
            pause_collection=None,
            cancellation_details={"comment": None, "feedback": None, "reason": None, **(cancellation or {})},
        )
        return sub

    @staticmethod
    def invoice(
        *, sub_id: str, customer: str, member: str | None, amount: int, paid: bool, billing_reason: str
    ) -> dict[str, Any]:
        invoice = load_fixture("invoice")
        invoice.update(
            id=_new_id("in"),
            customer=customer,
            billing_reason=billing_reason,
            amount_due=amount,
            amount_paid=amount if paid else 0,
            amount_remaining=0 if paid else amount,
            status="paid" if paid else "open",
            attempted=True,
            attempt_count=1,
            parent={
                "quote_details": None,
                "subscription_details": {"metadata": {"member": member} if member else {}, "subscription": sub_id},
                "type": "subscription_details",
            },
        )
        invoice.pop("subscription", None)  # not on the API version stripe-python 16 speaks
        return invoice

    @staticmethod
    def checkout_session(
        *,
        mode: str,
        client_reference_id: str | None,
        customer: str | None,
        subscription: str | None = None,
        payment_intent: str | None = None,
        amount_total: int | None = None,
        metadata: dict[str, str] | None = None,
        status: str = "complete",
        payment_status: str = "paid",
    ) -> dict[str, Any]:
        session = load_fixture("checkout.session")
        session.update(
            id=_new_id("cs_test"),
            mode=mode,
            client_reference_id=client_reference_id,
            customer=customer,
            subscription=subscription,
            payment_intent=payment_intent,
            amount_total=amount_total,
            amount_subtotal=amount_total,
            currency="usd",
            metadata=metadata or {},
            status=status,
            payment_status=payment_status,
            url=None,
        )
        return session

    @staticmethod
    def charge(
        *, customer: str | None, amount: int, refunded_amount: int = 0, payment_intent: str | None = None
    ) -> dict[str, Any]:
        charge = load_fixture("charge")
        charge.update(
            id=_new_id("ch"),
            customer=customer,
            amount=amount,
            amount_captured=amount,
            captured=True,
            amount_refunded=refunded_amount,
            refunded=refunded_amount >= amount,
            payment_intent=payment_intent,
            status="succeeded",
        )
        return charge

    @staticmethod
    def dispute(*, charge_id: str, amount: int, payment_intent: str | None = None) -> dict[str, Any]:
        dispute = load_fixture("dispute")
        dispute.update(id=_new_id("dp"), charge=charge_id, amount=amount, payment_intent=payment_intent)
        return dispute


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))
