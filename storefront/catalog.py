"""The catalog file (`catalog.toml`): tiers, their prices and what each grants."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storefront.errors import CatalogError, UnknownTier

__all__ = ["Catalog", "Interval", "Tier", "TierGrants", "load_catalog"]

Interval = Literal["month", "year"]
LicenseKind = Literal["personal", "commercial", "ai_training", "exclusive"]
MinorUnits = Annotated[int, Field(strict=True, gt=0, description="price in the currency's minor units (cents)")]

_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierGrants(_Strict):
    discord_role_id: int | None = None
    telegram_chat_id: int | None = None
    monthly_downloads: int = Field(0, ge=0)
    license_kinds: tuple[LicenseKind, ...] = ("personal",)
    custom_requests_per_month: int = Field(0, ge=0)
    request_turnaround_days: int = Field(7, ge=1, le=365)  # the target time of a custom request
    extra_request_price: MinorUnits | None = None  # one paid request over the monthly quota; None = not sold
    drop_early_access_minutes: int = Field(0, ge=0)


class Tier(_Strict):
    key: str
    name: str = Field(min_length=1, max_length=80)
    monthly_price: MinorUnits
    annual_price: MinorUnits | None = None
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    trial_days: int = Field(0, ge=0, le=730)
    stripe_product_id: str | None = None
    stripe_monthly_price_id: str | None = None
    stripe_annual_price_id: str | None = None
    grants: TierGrants = TierGrants()

    def price_id(self, interval: Interval) -> str | None:
        return self.stripe_monthly_price_id if interval == "month" else self.stripe_annual_price_id

    def amount(self, interval: Interval) -> int | None:
        return self.monthly_price if interval == "month" else self.annual_price


class Catalog(_Strict):
    tiers: dict[str, Tier] = {}
    # Parsed in full by entitlements.licenses.load_license_catalog (license kinds, terms, pack rules).
    licenses: dict[str, Any] = {}
    packs: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _tier_keys_from_table_names(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("tiers"), dict):
            tiers = {}
            for key, body in data["tiers"].items():
                if not _KEY.match(key):
                    raise ValueError(f"tier key {key!r} must be lowercase letters, digits, - or _")
                tiers[key] = {"key": key, **body} if isinstance(body, dict) else body
            data = {**data, "tiers": tiers}
        return data

    @model_validator(mode="after")
    def _price_ids_are_unique(self) -> Catalog:
        seen: dict[str, str] = {}
        for tier in self.tiers.values():
            for price_id in (tier.stripe_monthly_price_id, tier.stripe_annual_price_id):
                if price_id and price_id in seen:
                    raise ValueError(f"Stripe price {price_id} is used by both {seen[price_id]} and {tier.key}")
                if price_id:
                    seen[price_id] = tier.key
        if not self.tiers:
            raise ValueError("declare at least one tier ([tiers.<key>])")
        return self

    def tier(self, key: str) -> Tier:
        try:
            return self.tiers[key]
        except KeyError:
            raise UnknownTier(key, list(self.tiers)) from None

    def tier_for_price(self, price_id: str | None) -> Tier | None:
        for tier in self.tiers.values():
            if price_id and price_id in (tier.stripe_monthly_price_id, tier.stripe_annual_price_id):
                return tier
        return None

    def rank(self, tier_key: str | None) -> int:
        """Higher is better; a member holding several tiers gets the highest-ranked one."""
        if tier_key is None or tier_key not in self.tiers:
            return -1
        return self.tiers[tier_key].monthly_price


def _first_problem(error: ValidationError, source: str) -> CatalogError:
    problem = error.errors()[0]
    location = ".".join(str(part) for part in problem["loc"])
    where = f"{source}: {location}" if location else source
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] in ("int_type", "int_from_float", "int_parsing"):
        message = f"must be a whole number of minor units, e.g. 500 for 5.00 (got {problem['input']!r})"
    elif problem["type"] == "extra_forbidden":
        message = "unknown key (check the spelling)"
    elif problem["type"] == "missing":
        message = "is required"
    elif "input" in problem and problem["type"] not in ("value_error", "assertion_error"):
        message = f"{message} (got {problem['input']!r})"
    return CatalogError(where, message)


def parse_catalog(text: str, source: str = "catalog.toml") -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(source, f"is not valid TOML: {error}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as error:
        raise _first_problem(error, source) from None


def load_catalog(path: Path) -> Catalog:
    """Read and validate the catalog; raises CatalogError with one line naming the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(str(path), "file not found (set CATALOG_PATH or create it)") from None
    return parse_catalog(text, str(path))
