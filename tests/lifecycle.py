"""One subscriber's whole life as Stripe reports it, built from Stripe's fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storefront.demo.stripe_events import StripeEvents

FAN_PRICE, CREATOR_PRICE = "price_demo_fan_month", "price_demo_creator_month"
PERIOD_END = 1_792_000_000


@dataclass
class Step:
    event: dict[str, Any]
    status: str  # the subscription's membership status after this step, in order
    granted_tier: str | None


def full_lifecycle(events: StripeEvents, *, member: str = "telegram:1001", customer: str = "cus_fan1") -> list[Step]:
    sub_id = f"sub_{customer}"

    def sub(**changes: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "sub_id": sub_id,
            "customer": customer,
            "member": member,
            "price_id": FAN_PRICE,
            "unit_amount": 500,
            "current_period_end": PERIOD_END,
        }
        fields.update(changes)
        return events.subscription(**fields)

    def invoice(paid: bool, reason: str) -> dict[str, Any]:
        return events.invoice(
            sub_id=sub_id, customer=customer, member=member, amount=500, paid=paid, billing_reason=reason
        )

    checkout = events.checkout_session(
        mode="subscription", client_reference_id=member, customer=customer, subscription=sub_id, amount_total=500
    )
    return [
        Step(events.event("checkout.session.completed", checkout), "incomplete", None),
        Step(events.event("customer.subscription.created", sub(status="incomplete")), "incomplete", None),
        Step(events.event("invoice.paid", invoice(True, "subscription_create")), "incomplete", None),
        Step(
            events.event(
                "customer.subscription.updated", sub(status="active"), previous_attributes={"status": "incomplete"}
            ),
            "active",
            "fan",
        ),
        Step(events.event("invoice.payment_failed", invoice(False, "subscription_cycle")), "past_due", "fan"),
        Step(
            events.event(
                "customer.subscription.updated", sub(status="past_due"), previous_attributes={"status": "active"}
            ),
            "past_due",
            "fan",
        ),
        Step(events.event("invoice.paid", invoice(True, "subscription_cycle")), "active", "fan"),
        Step(
            events.event(
                "customer.subscription.updated", sub(status="active"), previous_attributes={"status": "past_due"}
            ),
            "active",
            "fan",
        ),
        Step(
            events.event(
                "customer.subscription.updated",
                sub(price_id=CREATOR_PRICE, unit_amount=2500),
                previous_attributes={"items": {}},
            ),
            "active",
            "creator",
        ),
        Step(
            events.event(
                "customer.subscription.updated",
                sub(
                    price_id=CREATOR_PRICE,
                    unit_amount=2500,
                    cancel_at_period_end=True,
                    cancel_at=PERIOD_END,
                    canceled_at=1_790_000_100,
                    cancellation={"reason": "cancellation_requested", "feedback": "too_expensive", "comment": "money"},
                ),
                previous_attributes={"cancel_at_period_end": False},
            ),
            "canceling",
            "creator",
        ),
        Step(
            events.event(
                "customer.subscription.deleted",
                sub(
                    status="canceled",
                    price_id=CREATOR_PRICE,
                    unit_amount=2500,
                    cancel_at_period_end=True,
                    cancel_at=PERIOD_END,
                    canceled_at=1_790_000_100,
                    ended_at=PERIOD_END,
                    cancellation={"reason": "cancellation_requested", "feedback": "too_expensive", "comment": "money"},
                ),
            ),
            "ended",
            None,
        ),
    ]
