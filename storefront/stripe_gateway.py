"""Calls to Stripe's API: paced under its rate limit, retried on 429 and 5xx, never read as empty on failure."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import stripe
from aiolimiter import AsyncLimiter

from storefront.errors import StripeUnavailable

__all__ = ["StripeGateway", "idempotency_key"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRYABLE = (stripe.RateLimitError, stripe.APIConnectionError)


def idempotency_key(prefix: str, params: dict[str, Any]) -> str:
    """An idempotency key that changes whenever the request does (Stripe refuses a reused key with new params)."""
    return f"{prefix}-{hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]}"


def _retryable(error: stripe.StripeError) -> bool:
    return isinstance(error, _RETRYABLE) or (error.http_status or 0) >= 500 or error.http_status == 409


class StripeGateway:
    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        requests_per_second: float = 20.0,
        max_attempts: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.HTTPXClient(),
            max_network_retries=0,
        )
        # One call per 1/rps seconds: AsyncLimiter(n, 1.0) would let a whole second's worth through at once.
        self._limiter = AsyncLimiter(1, 1.0 / max(requests_per_second, 1.0))
        self._max_attempts = max_attempts
        self._sleep = sleep

    def __repr__(self) -> str:
        return "StripeGateway(api_key=***)"

    async def _call(self, operation: str, request: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self._max_attempts + 1):
            async with self._limiter:
                try:
                    return await request()
                except stripe.StripeError as error:
                    if not _retryable(error):
                        raise StripeUnavailable(operation, error.user_message or type(error).__name__) from None
                    reason = f"{type(error).__name__} (HTTP {error.http_status})"
            if attempt < self._max_attempts:
                delay = min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
                log.info("stripe %s: %s, retry %d in %.2fs", operation, reason, attempt, delay)
                await self._sleep(delay)
        raise StripeUnavailable(operation, f"{reason} after {self._max_attempts} attempts")

    async def list_subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription in the account, all statuses; raises StripeUnavailable rather than return part."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"status": "all", "limit": 100}
        while True:
            page = await self._call(
                "list subscriptions", lambda p=dict(params): self._client.v1.subscriptions.list_async(params=p)
            )
            found.extend(sub.to_dict() for sub in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id

    async def retrieve_charge(self, charge_id: str) -> dict[str, Any]:
        charge = await self._call("retrieve charge", lambda: self._client.v1.charges.retrieve_async(charge_id))
        return charge.to_dict()

    async def create_checkout_session(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        session = await self._call(
            "create checkout session",
            lambda: self._client.v1.checkout.sessions.create_async(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return session.to_dict()

    async def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        session = await self._call(
            "expire checkout session", lambda: self._client.v1.checkout.sessions.expire_async(session_id)
        )
        return session.to_dict()

    async def create_portal_session(self, customer_id: str, return_url: str) -> str:
        session = await self._call(
            "create billing portal session",
            lambda: self._client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url}
            ),
        )
        return session.url

    async def create_product(self, params: dict[str, Any], idempotency_key: str) -> str:
        product = await self._call(
            "create product",
            lambda: self._client.v1.products.create_async(params=params, options={"idempotency_key": idempotency_key}),
        )
        return product.id

    async def create_price(self, params: dict[str, Any], idempotency_key: str) -> str:
        price = await self._call(
            "create price",
            lambda: self._client.v1.prices.create_async(params=params, options={"idempotency_key": idempotency_key}),
        )
        return price.id
