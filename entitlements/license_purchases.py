"""`/license buy ASSET KIND`: a one-off Stripe Checkout for a license on one file, and Stripe's word on it.

The Checkout is created here; the license is granted only when `checkout.session.completed` arrives
(`metadata.kind == "license"`), and revoked on a refund or a dispute, after which every certificate issued
under it verifies as REVOKED. An exclusive license is reserved for the buyer while they pay, so a second
buyer is refused at once rather than after paying.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements import payment_reversals
from entitlements.asset_tables import assets, license_entitlements, license_purchases
from entitlements.downloads import DownloadLinks
from entitlements.licenses import ExclusiveTaken, LicenseCatalog, LicenseNotForSale, release_exclusive, take_exclusive
from entitlements.payment_reversals import ReversedOnRefundOrDispute
from storefront.clock import Clock
from storefront.db import Database
from storefront.errors import StorefrontError
from storefront.members import ensure_member, parse_identity
from storefront.one_off_checkout import checkout_lifetime, payment_checkout_params
from storefront.outbox import OutboxKind, enqueue
from storefront.stripe_gateway import StripeGateway
from webhooks.stripe_payloads import CheckoutSessionPayload

__all__ = [
    "AlreadyLicensed",
    "LicenseCheckout",
    "LicensePaymentsUnavailable",
    "LicenseSales",
    "PurchaseStatus",
    "UnknownAsset",
]

log = logging.getLogger(__name__)

_PAID = ("paid", "no_payment_required")


class PurchaseStatus:
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    FAILED = "failed"
    CONFLICT = "conflict"  # paid, but someone else held the exclusive license: needs a refund
    REFUNDED = payment_reversals.REFUNDED
    DISPUTED = payment_reversals.DISPUTED
    GRANTED = "granted"  # came with a delivered custom request: held like a paid one, nothing was paid


class UnknownAsset(StorefrontError):
    def __init__(self, asset_id: int) -> None:
        self.asset_id = asset_id
        super().__init__(f"There is no file {asset_id}; /packs shows the file numbers.")


class AlreadyLicensed(StorefrontError):
    def __init__(self, title: str, license_name: str) -> None:
        self.title = title
        self.license_name = license_name
        super().__init__(f"You already hold the {license_name} license for {title!r}; /packs has its download link.")


class LicensePaymentsUnavailable(StorefrontError):
    def __init__(self) -> None:
        super().__init__("Payments are not set up yet; please ask the team to connect Stripe.")


@dataclass(frozen=True)
class LicenseCheckout:
    purchase_id: int
    url: str
    asset_id: int
    asset_title: str
    license_kind: str
    license_name: str
    amount_minor: int | None
    currency: str
    pay_before: datetime


class LicenseSales(ReversedOnRefundOrDispute):
    """Sells licenses and is the `PurchaseKind` for them: `app.purchases.register("license", sales)`."""

    _paid_rows = license_purchases

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        stripe: StripeGateway | None,
        licenses: LicenseCatalog,
        links: DownloadLinks,
        public_base_url: str,
        checkout_minutes: int = 60,
    ) -> None:
        self._db = db
        self._clock = clock
        self._stripe = stripe
        self._licenses = licenses
        self._links = links
        self._base = public_base_url.rstrip("/")
        self._checkout_lifetime = checkout_lifetime(checkout_minutes)

    async def start_checkout(self, identity: str, asset_id: int, kind: str) -> LicenseCheckout:
        """A Checkout link for the `kind` license on file `asset_id`; nothing is granted until Stripe says paid."""
        identity = parse_identity(identity)
        terms = self._licenses.license(kind)
        if not terms.for_sale:
            raise LicenseNotForSale(terms.name)
        if self._stripe is None:
            raise LicensePaymentsUnavailable()
        now = self._clock.now()
        pay_before = now + self._checkout_lifetime
        async with self._db.write() as conn:
            member_id = await ensure_member(conn, identity, now)
            asset = (await conn.execute(sa.select(assets).where(assets.c.id == asset_id))).first()
            if asset is None:
                raise UnknownAsset(asset_id)
            earlier = (
                await conn.execute(
                    sa.select(license_purchases)
                    .where(
                        license_purchases.c.member_id == member_id,
                        license_purchases.c.asset_id == asset_id,
                        license_purchases.c.license_kind == kind,
                    )
                    .order_by(license_purchases.c.id.desc())
                )
            ).all()
            for row in earlier:
                held = row.status in (PurchaseStatus.PAID, PurchaseStatus.GRANTED)
                if held and (row.valid_until is None or row.valid_until > now):
                    raise AlreadyLicensed(asset.title, terms.name)
            for row in earlier:
                open_checkout = row.status == PurchaseStatus.PENDING and row.checkout_url and row.reserved_until
                if open_checkout and row.reserved_until > now + timedelta(minutes=5):
                    return self._checkout(row.id, row.checkout_url, asset, terms.name, kind, row.reserved_until)
            purchase_id = await conn.scalar(
                sa.insert(license_purchases)
                .values(
                    member_id=member_id,
                    asset_id=asset_id,
                    license_kind=kind,
                    status=PurchaseStatus.PENDING,
                    amount_minor=terms.price,
                    currency=terms.currency,
                    reserved_until=pay_before,
                    created_at=now,
                    updated_at=now,
                )
                .returning(license_purchases.c.id)
            )
            if kind == "exclusive":
                await take_exclusive(conn, asset_id=asset_id, purchase_id=purchase_id, until=pay_before, now=now)
        params = self._session_params(identity, purchase_id, asset, kind, pay_before)
        try:
            session = await self._stripe.create_checkout_session(params, idempotency_key=f"license:{purchase_id}")
        except StorefrontError:
            async with self._db.write() as conn:
                await self._set(conn, purchase_id, status=PurchaseStatus.FAILED, updated_at=self._clock.now())
                await release_exclusive(conn, asset_id=asset_id, purchase_id=purchase_id)
            raise
        async with self._db.write() as conn:
            await self._set(
                conn,
                purchase_id,
                checkout_session_id=session["id"],
                checkout_url=session.get("url"),
                updated_at=self._clock.now(),
            )
        return self._checkout(purchase_id, session.get("url") or "", asset, terms.name, kind, pay_before)

    def _checkout(
        self, purchase_id: int, url: str, asset: Any, license_name: str, kind: str, pay_before: datetime
    ) -> LicenseCheckout:
        terms = self._licenses.license(kind)
        return LicenseCheckout(
            purchase_id=purchase_id,
            url=url,
            asset_id=asset.id,
            asset_title=asset.title,
            license_kind=kind,
            license_name=license_name,
            amount_minor=terms.price,
            currency=terms.currency,
            pay_before=pay_before,
        )

    def _session_params(
        self, identity: str, purchase_id: int, asset: Any, kind: str, pay_before: datetime
    ) -> dict[str, Any]:
        terms = self._licenses.license(kind)
        if terms.stripe_price_id:
            line_item: dict[str, Any] = {"price": terms.stripe_price_id, "quantity": 1}
        else:
            line_item = {
                "price_data": {
                    "currency": terms.currency,
                    "unit_amount": terms.price,
                    "product_data": {"name": f"{terms.name} license: {asset.title}"[:250]},
                },
                "quantity": 1,
            }
        return payment_checkout_params(
            "license",
            {"purchase": str(purchase_id), "member": identity, "asset": str(asset.id), "license_kind": kind},
            line_item=line_item,
            identity=identity,
            expires_at=pay_before,
            public_base_url=self._base,
        )

    @staticmethod
    async def _set(conn: AsyncConnection, purchase_id: int, **values: Any) -> None:
        await conn.execute(sa.update(license_purchases).where(license_purchases.c.id == purchase_id).values(**values))

    # PurchaseKind -----------------------------------------------------------------------------------------

    async def _purchase_of_session(self, conn: AsyncConnection, session: CheckoutSessionPayload) -> Any:
        purchase_id = session.metadata.get("purchase", "")
        query = sa.select(license_purchases)
        if purchase_id.isdigit():
            query = query.where(license_purchases.c.id == int(purchase_id))
        else:
            query = query.where(license_purchases.c.checkout_session_id == session.id)
        return (await conn.execute(query)).first()

    async def completed(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None:
        purchase = await self._purchase_of_session(conn, session)
        if purchase is None:
            log.warning("license checkout %s names no known purchase", session.id)
            return
        if purchase.paid_at is not None or purchase.revoked_at is not None:
            return  # a duplicate delivery of the event
        if session.payment_status not in _PAID:
            log.info("license checkout %s completed with payment %s; waiting", session.id, session.payment_status)
            return
        terms = self._licenses.license(purchase.license_kind)
        valid_until = now + timedelta(days=terms.exclusive_days) if terms.exclusive_days else None
        paid = {
            "checkout_session_id": session.id,
            "payment_intent": session.payment_intent,
            "amount_minor": session.amount_total if session.amount_total is not None else purchase.amount_minor,
            "currency": session.currency or purchase.currency,
            "paid_at": now,
            "updated_at": now,
        }
        if valid_until is not None:
            try:
                await take_exclusive(
                    conn, asset_id=purchase.asset_id, purchase_id=purchase.id, until=valid_until, now=now
                )
            except ExclusiveTaken:
                await self._set(conn, purchase.id, status=PurchaseStatus.CONFLICT, **paid)
                await self._notify(
                    conn,
                    purchase,
                    "license_conflict",
                    "Someone else secured the exclusive license for this file before your payment arrived. "
                    "You have not been granted it, and your payment will be refunded.",
                    now,
                )
                log.warning("license purchase %s paid but exclusive is taken: refund needed", purchase.id)
                return
        await self._set(conn, purchase.id, status=PurchaseStatus.PAID, valid_until=valid_until, **paid)
        asset = (await conn.execute(sa.select(assets).where(assets.c.id == purchase.asset_id))).one()
        until = f" until {valid_until:%d %b %Y}" if valid_until else ""
        expires_at = now + timedelta(days=self._licenses.packs.link_days)
        url = self._links.url(
            member_id=purchase.member_id,
            asset_id=purchase.asset_id,
            license_kind=purchase.license_kind,
            expires_at=expires_at,
        )
        await self._notify(
            conn,
            purchase,
            "license_granted",
            f"Thank you! Your {terms.name} license for {asset.title!r} is active{until}. Download the file under "
            "it with the button; the download comes with your signed license certificate.",
            now,
            buttons=[{"label": f"Download {asset.title}"[:64], "url": url}],
        )

    async def expired(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None:
        purchase = await self._purchase_of_session(conn, session)
        if purchase is None or purchase.status != PurchaseStatus.PENDING:
            return
        await self._set(conn, purchase.id, status=PurchaseStatus.EXPIRED, updated_at=now)
        await release_exclusive(conn, asset_id=purchase.asset_id, purchase_id=purchase.id)

    async def _reverse(self, conn: AsyncConnection, purchase: Any, reason: str, now: datetime) -> None:
        """Money taken back: revoke the license and what was issued under it, free an exclusive."""
        if purchase.revoked_at is not None:
            return
        await self._set(conn, purchase.id, status=reason, revoked_at=now, revoked_reason=reason, updated_at=now)
        await conn.execute(
            sa.update(license_entitlements)
            .where(license_entitlements.c.purchase_id == purchase.id, license_entitlements.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        await release_exclusive(conn, asset_id=purchase.asset_id, purchase_id=purchase.id)
        if purchase.paid_at is not None:
            terms = self._licenses.license(purchase.license_kind)
            await self._notify(
                conn,
                purchase,
                "license_revoked",
                f"Your {terms.name} license for file {purchase.asset_id} was revoked because its payment was "
                f"{reason}. Certificates issued under it no longer verify.",
                now,
            )

    async def _notify(
        self,
        conn: AsyncConnection,
        purchase: Any,
        template: str,
        text: str,
        now: datetime,
        buttons: list[dict[str, str]] | None = None,
    ) -> None:
        await enqueue(
            conn,
            key=f"notify:{template}:{purchase.id}",
            kind=OutboxKind.NOTIFY,
            payload={"template": template, "text": text, "buttons": buttons or [], "license_purchase": purchase.id},
            now=now,
            member_id=purchase.member_id,
        )
