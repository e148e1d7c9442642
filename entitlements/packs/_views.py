"""What pack operations hand back: summaries for creators, links for members, fan-out progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class AssetInfo:
    id: int
    filename: str
    title: str
    sha256: str
    size: int
    content_type: str
    tags: tuple[str, ...]
    notes: str


@dataclass(frozen=True)
class PackSummary:
    id: int
    month: str
    title: str
    deliver_at: datetime
    assets: list[AssetInfo]
    delivered_to: int
    fanout_started_at: datetime | None
    fanout_completed_at: datetime | None


@dataclass(frozen=True)
class AssetLink:
    asset_id: int
    title: str
    filename: str
    size: int
    license_kind: str
    license_name: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class MemberPack:
    month: str
    title: str
    unlocked_by: str  # current | delivered | tenure
    links: list[AssetLink]


@dataclass(frozen=True)
class MemberPacks:
    """What `/packs` shows a member: their packs with fresh links, and licenses they bought."""

    tier_name: str | None
    license_name: str | None
    packs: list[MemberPack]
    licensed: list[AssetLink]
    locked_back_packs: int
    downloads_left: int | None


@dataclass(frozen=True)
class FanoutProgress:
    month: str
    handled: int
    total: int
    queued: int


@dataclass
class FanoutReport:
    month: str
    queued: int = 0  # messages queued by this run
    handled: int = 0  # members passed, in this and earlier runs
    total: int = 0
    completed: bool = False
    batches: int = field(default=0, repr=False)
