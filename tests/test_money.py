"""Amounts are shown with their currency's own decimals, in chat, in the churn report and in drop messages."""

from __future__ import annotations

import pytest

from bots.rendering import money
from storefront.money import format_money


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (500, "usd", "5.00 USD"),
        (123450, "eur", "1,234.50 EUR"),
        (-2500, "usd", "-25.00 USD"),
        (1500, "jpy", "1,500 JPY"),
        (1500, "KWD", "1.500 KWD"),
    ],
)
def test_an_amount_in_minor_units_is_shown_with_the_currency_decimals(minor: int, currency: str, shown: str):
    assert format_money(minor, currency) == shown


def test_chat_shows_a_known_currency_with_its_sign_and_a_yen_price_in_whole_yen():
    assert money(123450, "usd") == "$1,234.50"
    assert money(1500, "jpy") == "1,500 JPY"
