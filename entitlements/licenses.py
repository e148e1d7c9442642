"""License kinds and their terms (from the catalog), and the one rule between buyers: exclusivity.

Each kind has a terms document; the SHA-256 of its bytes is the terms version, so a certificate names the
exact words it was granted under, and changing the words makes a new version.
"""

from __future__ import annotations

import hashlib
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.asset_tables import exclusive_locks, license_purchases
from storefront.catalog import Catalog, Tier
from storefront.db import insert_ignore
from storefront.errors import CatalogError, StorefrontError

__all__ = [
    "DEFAULT_LICENSES",
    "KIND_RANK",
    "ExclusiveTaken",
    "LicenseCatalog",
    "LicenseKind",
    "LicenseNotForSale",
    "LicenseTerms",
    "PackRules",
    "UnknownLicenseKind",
    "load_license_catalog",
    "parse_license_catalog",
    "release_exclusive",
    "take_exclusive",
]

LicenseKind = Literal["personal", "commercial", "ai_training", "exclusive"]
# A tier's downloads carry the strongest kind it grants; each kind's terms include the rights of those below.
KIND_RANK: dict[str, int] = {"personal": 0, "commercial": 1, "ai_training": 2, "exclusive": 3}

# Used when the catalog file declares no [licenses.*]: the embedded default terms.
DEFAULT_LICENSES = Path(__file__).resolve().parents[1] / "storefront" / "demo" / "terms" / "licenses.toml"


class UnknownLicenseKind(StorefrontError):
    def __init__(self, kind: str, known: list[str]) -> None:
        self.kind = kind
        self.known = known
        super().__init__(f"unknown license {kind!r}; choose one of: {', '.join(known)}")


class LicenseNotForSale(StorefrontError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"The {name} license is not sold on its own.")


class ExclusiveTaken(StorefrontError):
    def __init__(self, asset_id: int, until: datetime, *, pending: bool) -> None:
        self.asset_id = asset_id
        self.until = until
        self.pending = pending
        when = until.strftime("%d %b %Y %H:%M UTC")
        if pending:
            message = f"Someone is buying the exclusive license for file {asset_id} right now; try again after {when}."
        else:
            message = f"File {asset_id} is licensed exclusively to someone else until {when}."
        super().__init__(message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LicenseTerms(_Strict):
    kind: LicenseKind
    name: str = Field(min_length=1, max_length=80)
    summary: str = Field("", max_length=200)
    terms: Path
    terms_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    price: int | None = Field(None, strict=True, gt=0, description="one-off price in minor units")
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    stripe_price_id: str | None = None
    exclusive_days: int | None = Field(None, gt=0, le=36500)

    @model_validator(mode="after")
    def _exclusive_has_a_duration(self) -> LicenseTerms:
        if self.kind == "exclusive" and self.exclusive_days is None:
            raise ValueError("the exclusive license needs exclusive_days (how long it stays exclusive)")
        if self.kind != "exclusive" and self.exclusive_days is not None:
            raise ValueError("only the exclusive license has exclusive_days")
        return self

    @property
    def for_sale(self) -> bool:
        return self.price is not None or self.stripe_price_id is not None

    def terms_text(self) -> str:
        return self.terms.read_text(encoding="utf-8")


class PackRules(_Strict):
    """When packs go out and how much of the back catalogue paid tenure unlocks."""

    delivery_day: int = Field(1, ge=1, le=28)
    delivery_hour: int = Field(15, ge=0, le=23)
    link_days: int = Field(14, ge=1, le=90, description="how long the links in a pack message work")
    back_packs_on_join: int = Field(0, ge=0)
    back_packs_per_paid_month: int = Field(1, ge=0)


class LicenseCatalog(_Strict):
    licenses: dict[str, LicenseTerms]
    packs: PackRules = PackRules()

    @model_validator(mode="after")
    def _keys_match_kinds(self) -> LicenseCatalog:
        for key, terms in self.licenses.items():
            if key != terms.kind:
                raise ValueError(f"[licenses.{key}] must be one of: {', '.join(KIND_RANK)}")
        if not self.licenses:
            raise ValueError("declare at least one license ([licenses.personal])")
        return self

    def license(self, kind: str) -> LicenseTerms:
        try:
            return self.licenses[kind]
        except KeyError:
            raise UnknownLicenseKind(kind, list(self.licenses)) from None

    def primary_kind(self, tier: Tier) -> str | None:
        """The kind a tier's downloads carry: the strongest one it grants."""
        kinds = [kind for kind in tier.grants.license_kinds if kind in self.licenses and kind != "exclusive"]
        return max(kinds, key=KIND_RANK.__getitem__) if kinds else None

    def check_tiers(self, catalog: Catalog) -> None:
        """Every kind a tier grants must have terms; no tier may hand out exclusivity."""
        for tier in catalog.tiers.values():
            for kind in tier.grants.license_kinds:
                if kind == "exclusive":
                    raise CatalogError(f"tiers.{tier.key}.grants", "license_kinds cannot include exclusive")
                if kind not in self.licenses:
                    raise CatalogError(f"tiers.{tier.key}.grants", f"license kind {kind!r} has no [licenses.{kind}]")


def parse_license_catalog(data: dict[str, Any], base_dir: Path, source: str) -> LicenseCatalog:
    """The [licenses.*] and [packs] tables of a parsed catalog; terms paths are relative to `base_dir`."""
    licenses: dict[str, Any] = {}
    for key, body in (data.get("licenses") or {}).items():
        if not isinstance(body, dict) or "terms" not in body:
            raise CatalogError(f"{source}: licenses.{key}", 'needs terms = "<path of the terms document>"')
        terms = (base_dir / str(body["terms"])).resolve()
        try:
            digest = hashlib.sha256(terms.read_bytes()).hexdigest()
        except OSError:
            raise CatalogError(f"{source}: licenses.{key}.terms", f"cannot read {terms}") from None
        licenses[key] = {"kind": key, **body, "terms": terms, "terms_sha256": digest}
    try:
        return LicenseCatalog.model_validate({"licenses": licenses, "packs": data.get("packs") or {}})
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise CatalogError(f"{source}: {where}", problem["msg"].removeprefix("Value error, ")) from None


def load_license_catalog(path: Path) -> LicenseCatalog:
    """License kinds and pack rules from the catalog file; the embedded defaults if it declares no licenses."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(str(path), "file not found (set CATALOG_PATH or create it)") from None
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(str(path), f"is not valid TOML: {error}") from None
    if "licenses" in data:
        return parse_license_catalog(data, path.parent, str(path))
    defaults = tomllib.loads(DEFAULT_LICENSES.read_text(encoding="utf-8"))
    if "packs" in data:
        defaults["packs"] = data["packs"]
    return parse_license_catalog(defaults, DEFAULT_LICENSES.parent, str(DEFAULT_LICENSES))


# Exclusivity ------------------------------------------------------------------------------------------------


async def take_exclusive(
    conn: AsyncConnection, *, asset_id: int, purchase_id: int, until: datetime, now: datetime
) -> None:
    """Hold the asset's exclusive license for `purchase_id` until `until`, or raise ExclusiveTaken.

    A compare-and-set on one row per asset, so two buyers racing (even in two processes) cannot both win.
    """
    if await insert_ignore(
        conn, exclusive_locks, {"asset_id": asset_id, "purchase_id": purchase_id, "until": until}, ["asset_id"]
    ):
        return
    holder = (
        await conn.execute(
            sa.select(exclusive_locks.c.purchase_id, exclusive_locks.c.until).where(
                exclusive_locks.c.asset_id == asset_id
            )
        )
    ).one()
    if holder.purchase_id != purchase_id and holder.until > now:
        status = await conn.scalar(
            sa.select(license_purchases.c.status).where(license_purchases.c.id == holder.purchase_id)
        )
        raise ExclusiveTaken(asset_id, holder.until, pending=status == "pending")
    taken = await conn.execute(
        sa.update(exclusive_locks)
        .where(
            exclusive_locks.c.asset_id == asset_id,
            exclusive_locks.c.purchase_id == holder.purchase_id,
            exclusive_locks.c.until == holder.until,
        )
        .values(purchase_id=purchase_id, until=until)
    )
    if taken.rowcount != 1:
        raise ExclusiveTaken(asset_id, until, pending=True)


async def release_exclusive(conn: AsyncConnection, *, asset_id: int, purchase_id: int) -> None:
    """Give the asset back to the market if `purchase_id` holds it (a refund, a dispute, an abandoned checkout)."""
    await conn.execute(
        sa.delete(exclusive_locks).where(
            exclusive_locks.c.asset_id == asset_id, exclusive_locks.c.purchase_id == purchase_id
        )
    )
