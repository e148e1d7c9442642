"""The typed values the drops domain takes and returns; adapters render them, nothing here knows a platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drops.errors import BadDropInput
from drops.inputs import parse_moment, parse_price, parse_tier_list
from storefront.money import format_money

__all__ = [
    "Announcement",
    "CheckoutLink",
    "DropButton",
    "DropInput",
    "DropOptions",
    "DropPhase",
    "DropResult",
    "DropStatus",
    "DropView",
    "EarlyAccess",
    "EditDrop",
    "HoldStatus",
    "HoldView",
    "Money",
    "PaymentIssue",
    "SaleView",
    "WaitlistSpot",
    "WaitlistStatus",
]


class DropStatus(StrEnum):
    """What is stored; the phase a person sees is derived from it, the clock and the counts."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class DropPhase(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    EARLY_ACCESS = "early_access"
    OPEN = "open"
    SOLD_OUT = "sold_out"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class HoldStatus(StrEnum):
    HELD = "held"  # live while expires_at > now
    SOLD = "sold"
    EXPIRED = "expired"
    RELEASED = "released"  # checkout expired, drop cancelled, or given up


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOUGHT = "bought"
    LAPSED = "lapsed"  # the offered hold ran out unpaid
    CLOSED = "closed"  # the drop ended before a unit came back


@dataclass(frozen=True)
class DropOptions:
    """The drops part of the settings (see the report for the Settings keys)."""

    hold_minutes: float = 10.0
    waitlist_hold_minutes: float = 10.0
    restock_on_refund: bool = False
    reminder_lead_minutes: float = 15.0
    success_url: str = "http://127.0.0.1:8080/drops/paid"
    cancel_url: str = "http://127.0.0.1:8080/drops/cancelled"
    checkout_links_per_second: float = 15.0
    sold_out_hint_seconds: float = 2.0
    max_claims_per_batch: int = 5000

    @property
    def hold(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)

    @property
    def waitlist_hold(self) -> timedelta:
        return timedelta(minutes=self.waitlist_hold_minutes)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Money(_Frozen):
    amount_minor: int = Field(gt=0)
    currency: str = Field(pattern=r"^[a-z]{3}$")

    def __str__(self) -> str:
        return format_money(self.amount_minor, self.currency)


# Input --------------------------------------------------------------------------------------------------


def _text_or_none(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class _DropFields(BaseModel):
    """Fields a creator gives; every one accepts the typed value or the text a person types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    price: Money
    supply: int = Field(ge=1, le=1_000_000)
    opens_at: datetime
    closes_at: datetime | None = None
    early_access_tiers: tuple[str, ...] = ()
    early_access_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    per_person_limit: int = Field(1, ge=1, le=1000)
    asset: str | None = Field(None, max_length=500)

    _strip = field_validator("title", "description", "asset", mode="before")(_text_or_none)

    @field_validator("price", mode="before")
    @classmethod
    def _price_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            amount, currency = parse_price(value)
            return {"amount_minor": amount, "currency": currency}
        return value

    @field_validator("opens_at", mode="before")
    @classmethod
    def _opens_from_text(cls, value: Any) -> Any:
        return parse_moment(value, "opens_at") if isinstance(value, str) else value

    @field_validator("closes_at", mode="before")
    @classmethod
    def _closes_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return None if value.strip().lower() in ("never", "none", "-", "") else parse_moment(value, "closes_at")
        return value

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _aware(cls, value: datetime | None, info: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise BadDropInput(info.field_name, "has no time zone; give an aware datetime")
        return value

    @field_validator("early_access_tiers", mode="before")
    @classmethod
    def _tiers_from_text(cls, value: Any) -> Any:
        return parse_tier_list(value) if isinstance(value, str) else value

    @field_validator("early_access_minutes", mode="before")
    @classmethod
    def _minutes_from_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "default", "catalog"):
            return None
        return value

    @field_validator("asset", mode="after")
    @classmethod
    def _empty_asset_is_none(cls, value: str | None) -> str | None:
        return value or None

    @classmethod
    def parse(cls, **fields: Any) -> Any:
        """Build from typed values or text; the first problem is raised as one BadDropInput line."""
        try:
            return cls(**fields)
        except ValidationError as error:
            raise _first_problem(error) from None


class DropInput(_DropFields):
    """`/drop create`: everything a drop needs. Use `DropInput.parse(...)` for text from chat."""


class EditDrop(_DropFields):
    """`/drop edit`: only the fields given change (`closes_at="never"` removes the closing time)."""

    title: str | None = Field(None, min_length=1, max_length=100)  # type: ignore[assignment]
    description: str | None = Field(None, max_length=2000)  # type: ignore[assignment]
    price: Money | None = None  # type: ignore[assignment]
    supply: int | None = Field(None, ge=1, le=1_000_000)  # type: ignore[assignment]
    opens_at: datetime | None = None  # type: ignore[assignment]
    early_access_tiers: tuple[str, ...] | None = None  # type: ignore[assignment]
    per_person_limit: int | None = Field(None, ge=1, le=1000)  # type: ignore[assignment]

    def changes(self) -> dict[str, Any]:
        """The fields the creator gave, with their new values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def _first_problem(error: ValidationError) -> BadDropInput:
    problem = error.errors()[0]
    field = ".".join(str(part) for part in problem["loc"]) or "input"
    field = field.split(".")[0]
    kind = problem["type"]
    if kind == "extra_forbidden":
        return BadDropInput(field, "is not a drop field")
    if kind == "missing":
        return BadDropInput(field, "is required")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return BadDropInput(field, f"must be a whole number (got {problem.get('input')!r})")
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return BadDropInput(field, f"is not a date and time (got {problem.get('input')!r})")
    message = problem["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:] if message else "is not valid"
    return BadDropInput(field, message)


# Views --------------------------------------------------------------------------------------------------


class EarlyAccess(_Frozen):
    tier: str
    tier_name: str
    minutes: int


class DropView(_Frozen):
    """A drop with its counts as read at `as_of`; `phase` is what a person sees at that moment."""

    id: int
    title: str
    description: str
    price: Money
    supply: int
    opens_at: datetime
    early_opens_at: datetime
    closes_at: datetime | None
    early_access: tuple[EarlyAccess, ...]
    per_person_limit: int
    asset: str | None
    status: DropStatus
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    sold: int
    held: int
    waiting: int
    next_release_at: datetime | None
    as_of: datetime
    phase: DropPhase

    @property
    def available(self) -> int:
        return max(0, self.supply - self.sold - self.held)

    @property
    def early_access_tier_names(self) -> list[str]:
        return [access.tier_name for access in self.early_access]


class HoldView(_Frozen):
    """A unit reserved for one person until `expires_at`; pay through the checkout link to keep it."""

    id: str
    drop_id: int
    drop_title: str
    member_id: int
    identity: str
    source: Literal["claim", "waitlist"]
    status: HoldStatus
    created_at: datetime
    expires_at: datetime
    price: Money
    checkout_url: str | None = None


class CheckoutLink(_Frozen):
    hold_id: str
    url: str
    session_id: str
    hold_expires_at: datetime


class WaitlistSpot(_Frozen):
    drop_id: int
    identity: str
    status: WaitlistStatus
    position: int | None  # 1 = next in line; None once no longer waiting
    hold_id: str | None = None


class SaleView(_Frozen):
    id: int
    drop_id: int
    hold_id: str
    identity: str
    price: Money
    status: Literal["paid", "refunded", "disputed"]
    late: bool
    takes_unit: bool
    created_at: datetime


class PaymentIssue(_Frozen):
    """Something an admin must look at: a payment to refund by hand, or a dispute."""

    id: int
    kind: Literal["refund_needed", "dispute"]
    drop_id: int | None
    identity: str | None
    checkout_session_id: str | None
    payment_intent: str | None
    amount_minor: int | None
    currency: str | None
    reason: str
    created_at: datetime
    resolved_at: datetime | None


class DropResult(_Frozen):
    drop_id: int
    title: str
    phase: DropPhase
    supply: int
    sold: int
    revenue: Money | None
    buyers: int
    closed_at: datetime | None
    close_reason: str | None
    waitlist_unserved: int


class DropButton(_Frozen):
    label: str
    action: Literal["claim", "notify_me", "join_waitlist"]
    drop_id: int


class Announcement(_Frozen):
    """What the bots post (and keep editing) in announcement channels."""

    drop: DropView
    text: str
    buttons: tuple[DropButton, ...]
