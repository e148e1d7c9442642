"""Typed errors. Each carries data and a message a person can read; adapters show the message as it is."""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConfigError",
    "NotFound",
    "StorefrontError",
    "StripeUnavailable",
    "UnknownTier",
]


class StorefrontError(Exception):
    """Base of every error the storefront raises on purpose."""


class ConfigError(StorefrontError):
    pass


class CatalogError(StorefrontError):
    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class UnknownTier(StorefrontError):
    def __init__(self, tier: str, known: list[str]) -> None:
        self.tier = tier
        self.known = known
        super().__init__(f"unknown tier {tier!r}; choose one of: {', '.join(known)}")


class NotFound(StorefrontError):
    def __init__(self, what: str, key: str) -> None:
        self.what = what
        self.key = key
        super().__init__(f"no {what} {key!r}")


class StripeUnavailable(StorefrontError):
    """A Stripe API call failed or was rate-limited after retries; nothing was concluded from it."""

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"Stripe call {operation} failed: {reason}")
