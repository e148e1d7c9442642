"""Amounts in a currency's minor units, as Stripe keeps them, shown with that currency's own decimals."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["currency_exponent", "format_amount", "format_money"]

# Stripe's zero-decimal and three-decimal currencies: 1500 JPY is ¥1,500, 1500 KWD is 1.500 KWD.
_ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
_THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def currency_exponent(currency: str) -> int:
    """How many minor-unit digits the currency has (2 for usd, 0 for jpy, 3 for kwd)."""
    currency = currency.lower()
    if currency in _ZERO_DECIMAL:
        return 0
    return 3 if currency in _THREE_DECIMAL else 2


def format_amount(minor: int, currency: str) -> str:
    """`123450, "usd"` -> `1,234.50`; `1500, "jpy"` -> `1,500`."""
    exponent = currency_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):,.{exponent}f}"


def format_money(minor: int, currency: str) -> str:
    """`1250, "usd"` -> `12.50 USD`."""
    return f"{format_amount(minor, currency)} {currency.upper()}"
