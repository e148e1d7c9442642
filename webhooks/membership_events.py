"""Handlers that turn Stripe's subscription, invoice, checkout and charge events into membership facts."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements import MembershipService, MembershipStatus, Observation, ObservationKind
from entitlements.messages import member_message
from storefront.clock import utc_from_timestamp
from storefront.members import InvalidIdentity, attach_identity, ensure_member, parse_identity, stripe_customer_identity
from storefront.outbox import OutboxKind, enqueue
from storefront.stripe_gateway import StripeGateway
from webhooks.dispatch import Dispatcher, Outcome
from webhooks.purchases import PurchaseRegistry
from webhooks.stripe_payloads import (
    ChargePayload,
    CheckoutSessionPayload,
    DisputePayload,
    InvoicePayload,
    StripeEvent,
    SubscriptionPayload,
)

__all__ = ["MembershipEventHandlers"]

log = logging.getLogger(__name__)

_SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
)


class MembershipEventHandlers:
    def __init__(
        self, memberships: MembershipService, purchases: PurchaseRegistry, stripe: StripeGateway | None
    ) -> None:
        self.memberships = memberships
        self.purchases = purchases
        self.stripe = stripe

    def _tier_name(self, price_id: str | None) -> str:
        tier = self.memberships.catalog.tier_for_price(price_id)
        return tier.name if tier else "membership"

    def register(self, dispatcher: Dispatcher) -> None:
        for event_type in _SUBSCRIPTION_EVENTS:
            dispatcher.register(event_type, self.subscription_changed)
        dispatcher.register("invoice.paid", self.invoice_paid)
        dispatcher.register("invoice.payment_failed", self.invoice_payment_failed)
        dispatcher.register("checkout.session.completed", self.checkout_completed)
        dispatcher.register("checkout.session.expired", self.checkout_expired)
        # Delayed payment methods report "unpaid" at completion and settle with one of these later.
        dispatcher.register("checkout.session.async_payment_succeeded", self.checkout_completed)
        dispatcher.register("checkout.session.async_payment_failed", self.checkout_expired)
        dispatcher.register("charge.refunded", self.charge_refunded)
        dispatcher.register("charge.dispute.created", self.dispute_created)

    async def subscription_changed(self, conn: AsyncConnection, event: StripeEvent, now: datetime) -> Outcome:
        sub = SubscriptionPayload.model_validate(event.object)
        kind = ObservationKind.DELETED if event.type.endswith(".deleted") else ObservationKind.SNAPSHOT
        observed = await self.memberships.observe(
            conn,
            subscription_id=sub.id,
            identity=sub.metadata.get("member"),
            customer_id=sub.customer,
            observation=Observation(event.id, kind, utc_from_timestamp(event.created), sub.snapshot()),
            event_type=event.type,
            now=now,
        )
        if event.type == "customer.subscription.trial_will_end" and sub.trial_end:
            await enqueue(
                conn,
                key=f"notify:trial_ending:{sub.id}:{sub.trial_end}",
                kind=OutboxKind.NOTIFY,
                payload=member_message(
                    "trial_ending",
                    tier_name=self._tier_name(sub.snapshot()["price_id"]),
                    trial_end=utc_from_timestamp(sub.trial_end),
                ),
                now=now,
                member_id=observed.member_id,
            )
        return Outcome.PROCESSED

    async def invoice_paid(self, conn: AsyncConnection, event: StripeEvent, now: datetime) -> Outcome:
        return await self._invoice(conn, event, now, ObservationKind.PAYMENT_SUCCEEDED)

    async def invoice_payment_failed(self, conn: AsyncConnection, event: StripeEvent, now: datetime) -> Outcome:
        return await self._invoice(conn, event, now, ObservationKind.PAYMENT_FAILED)

    async def _invoice(
        self, conn: AsyncConnection, event: StripeEvent, now: datetime, kind: ObservationKind
    ) -> Outcome:
        invoice = InvoicePayload.model_validate(event.object)
        if invoice.subscription_id is None:
            return Outcome.IGNORED
        data = {"invoice": invoice.id, "amount": invoice.amount_paid, "billing_reason": invoice.billing_reason}
        observed = await self.memberships.observe(
            conn,
            subscription_id=invoice.subscription_id,
            identity=invoice.member_identity,
            customer_id=invoice.customer,
            observation=Observation(event.id, kind, utc_from_timestamp(event.created), data),
            event_type=event.type,
            now=now,
        )
        if kind is ObservationKind.PAYMENT_FAILED:
            membership = await self.memberships.derive(conn, invoice.subscription_id, now)
            if membership.status is MembershipStatus.PAST_DUE:
                await enqueue(
                    conn,
                    key=f"notify:payment_failed:{invoice.id}",
                    kind=OutboxKind.NOTIFY,
                    payload=member_message(
                        "payment_failed",
                        tier_name=self._tier_name(membership.price_id),
                        grace_until=membership.grace_until,
                    ),
                    now=now,
                    member_id=observed.member_id,
                )
        return Outcome.PROCESSED

    async def checkout_completed(self, conn: AsyncConnection, event: StripeEvent, now: datetime) -> Outcome:
        session = CheckoutSessionPayload.model_validate(event.object)
        if session.mode == "payment":
            purchase = self.purchases.for_session(session)
            if purchase is None:
                log.warning("checkout %s: no handler for purchase kind %r", session.id, session.metadata.get("kind"))
                return Outcome.IGNORED
            await purchase.completed(conn, session, now)
            return Outcome.PROCESSED
        if session.mode != "subscription" or session.subscription is None:
            return Outcome.IGNORED
        member_id = await self._member_from_checkout(conn, session, now)
        if member_id is None:
            return Outcome.IGNORED
        await self.memberships.link_subscription(
            conn, member_id=member_id, subscription_id=session.subscription, customer_id=session.customer, now=now
        )
        await self.memberships.refresh_member(conn, member_id, now)
        return Outcome.PROCESSED

    async def _member_from_checkout(
        self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime
    ) -> int | None:
        member_id = None
        if session.client_reference_id:
            try:
                member_id = await ensure_member(conn, parse_identity(session.client_reference_id), now)
            except InvalidIdentity:
                log.warning("checkout %s: client_reference_id is not an identity", session.id)
        if session.customer:
            customer = stripe_customer_identity(session.customer)
            if member_id is None:
                member_id = await ensure_member(conn, customer, now)
            else:
                await attach_identity(conn, member_id, customer, now)
        return member_id

    async def checkout_expired(self, conn: AsyncConnection, event: StripeEvent, now: datetime) -> Outcome:
        session = CheckoutSessionPayload.model_validate(event.object)
        purchase = self.purchases.for_session(session) if session.mode == "payment" else None
        if purchase is None:
            return Outcome.IGNORED
        await purchase.expired(conn, session, now)
        return Outcome.PROCESSED

    async def charge_refunded(self, conn: AsyncConnection, event: StripeEvent, now: datetime) -> Outcome:
        charge = ChargePayload.model_validate(event.object)
        if await self.purchases.refunded(conn, charge, now):
            return Outcome.PROCESSED
        if not charge.refunded or charge.customer is None:
            return Outcome.IGNORED  # a partial refund keeps the membership
        member_id = await self.memberships.revoke_customer_memberships(
            conn,
            customer_id=charge.customer,
            reason="refunded",
            event_id=event.id,
            created=utc_from_timestamp(event.created),
            now=now,
        )
        return Outcome.PROCESSED if member_id is not None else Outcome.IGNORED

    async def dispute_created(self, conn: AsyncConnection, event: StripeEvent, now: datetime) -> Outcome:
        dispute = DisputePayload.model_validate(event.object)
        charge: ChargePayload | None = None
        if dispute.payment_intent is None and self.stripe is not None:
            # Some disputes name only the charge: ask Stripe once, so each kind of purchase can match the intent.
            charge = ChargePayload.model_validate(await self.stripe.retrieve_charge(dispute.charge))
            dispute = dispute.model_copy(update={"payment_intent": charge.payment_intent})
        if await self.purchases.disputed(conn, dispute, now):
            return Outcome.PROCESSED
        if self.stripe is None:
            raise RuntimeError("a dispute needs the Stripe API to find the disputed charge's customer")
        charge = charge or ChargePayload.model_validate(await self.stripe.retrieve_charge(dispute.charge))
        if charge.customer is None:
            return Outcome.IGNORED
        member_id = await self.memberships.revoke_customer_memberships(
            conn,
            customer_id=charge.customer,
            reason="disputed",
            event_id=event.id,
            created=utc_from_timestamp(event.created),
            now=now,
        )
        return Outcome.PROCESSED if member_id is not None else Outcome.IGNORED
