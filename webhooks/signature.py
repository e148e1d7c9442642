"""Stripe webhook signature verification, done by stripe-python (constant-time, 300 s tolerance)."""

from __future__ import annotations

import stripe

from storefront.errors import StorefrontError
from webhooks.stripe_payloads import StripeEventHeader, parse_event_header

__all__ = ["BadWebhook", "WebhookVerifier"]


class BadWebhook(StorefrontError):
    """A request to the webhook endpoint that is not a correctly signed Stripe event."""


class WebhookVerifier:
    def __init__(self, secret: str, tolerance_seconds: int = stripe.Webhook.DEFAULT_TOLERANCE) -> None:
        if not secret:
            raise ValueError("a webhook secret is required")
        self._secret = secret
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:
        return "WebhookVerifier(secret=***)"

    def verify(self, body: bytes, signature_header: str | None) -> StripeEventHeader:
        """The event in `body` if the header signs it with our secret within the tolerance; else BadWebhook."""
        if not signature_header:
            raise BadWebhook("missing Stripe-Signature header")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadWebhook("body is not UTF-8") from None
        try:
            stripe.WebhookSignature.verify_header(text, signature_header, self._secret, self._tolerance)
        except stripe.SignatureVerificationError as error:
            raise BadWebhook(f"signature rejected: {error.user_message or error}") from None
        try:
            return parse_event_header(text)
        except ValueError as error:
            raise BadWebhook(f"body is not a Stripe event: {str(error).splitlines()[0]}") from None
