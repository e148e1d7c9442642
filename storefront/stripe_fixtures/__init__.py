"""Stripe API object fixtures (copied from Stripe's published OpenAPI fixtures, see PROVENANCE.txt)."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["load_fixture"]


@cache
def _read(name: str) -> dict[str, Any]:
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def load_fixture(name: str) -> dict[str, Any]:
    """A fresh deep copy of the fixture `name` (for example "subscription" or "checkout.session")."""
    return copy.deepcopy(_read(name))
