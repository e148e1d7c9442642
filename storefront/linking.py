"""`/link`: a one-time code issued on one chat platform and redeemed on the other joins two identities.

Redeeming merges the two members into the older one (identities, subscriptions, billing events and every other
row that points at a member), so one membership serves both accounts; access is then re-derived.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.access import grant_to_identities, platform_of
from storefront.catalog import Tier
from storefront.db.chat_tables import link_codes, member_merges
from storefront.db.migrate import all_metadata
from storefront.db.tables import identities, members
from storefront.errors import StorefrontError
from storefront.members import attach_identity, ensure_member, find_member, identities_of, parse_identity

if TYPE_CHECKING:
    from entitlements.memberships import MembershipService

__all__ = [
    "CODE_LIFETIME",
    "AlreadyLinked",
    "InvalidLinkCode",
    "IssuedCode",
    "LinkConflict",
    "LinkResult",
    "LinkedOnSamePlatform",
    "issue_link_code",
    "normalise_code",
    "redeem_link_code",
]

log = logging.getLogger(__name__)

CODE_LIFETIME = timedelta(minutes=10)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
_CODE_LENGTH = 6
_CODE_SHAPE = re.compile(rf"^[{_ALPHABET}]{{{_CODE_LENGTH}}}$")
_CHAT_PLATFORMS = {"telegram": "Telegram", "discord": "Discord"}


class InvalidLinkCode(StorefrontError):
    def __init__(self) -> None:
        super().__init__("That link code is unknown, used or expired; run /link on your other account for a new one.")


class LinkedOnSamePlatform(StorefrontError):
    def __init__(self, platform: str) -> None:
        self.platform = platform
        name = _CHAT_PLATFORMS.get(platform, platform)
        super().__init__(f"That code was made on {name}; enter it on your other platform, not on {name}.")


class AlreadyLinked(StorefrontError):
    def __init__(self) -> None:
        super().__init__("These two accounts are already linked: one membership serves both.")


class LinkConflict(StorefrontError):
    def __init__(self, platform: str) -> None:
        self.platform = platform
        name = _CHAT_PLATFORMS.get(platform, platform)
        super().__init__(f"One of these accounts is already linked to another {name} account; nothing was changed.")


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkResult:
    member_id: int
    identities: list[str]
    merged_member_id: int | None
    access_tier: str | None


def normalise_code(text: str) -> str:
    """What a person typed (any case, spaces or dashes) as a stored code; raises InvalidLinkCode if malformed."""
    code = re.sub(r"[\s-]", "", text).upper()
    if not _CODE_SHAPE.match(code):
        raise InvalidLinkCode()
    return code


def _chat_platform(identity: str) -> str:
    platform = platform_of(identity)
    if platform not in _CHAT_PLATFORMS:
        raise StorefrontError("only Telegram and Discord accounts can be linked")
    return platform


async def issue_link_code(conn: AsyncConnection, identity: str, now: datetime) -> IssuedCode:
    """A fresh single-use code for `identity`, valid for ten minutes; earlier unused codes stop working."""
    identity = parse_identity(identity)
    _chat_platform(identity)
    member_id = await ensure_member(conn, identity, now)
    await conn.execute(
        sa.update(link_codes)
        .where(link_codes.c.issued_to == identity, link_codes.c.redeemed_at.is_(None), link_codes.c.expires_at > now)
        .values(expires_at=now)
    )
    while True:
        code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
        if await conn.scalar(sa.select(link_codes.c.code).where(link_codes.c.code == code)) is None:
            break
    expires_at = now + CODE_LIFETIME
    await conn.execute(
        sa.insert(link_codes).values(
            code=code, member_id=member_id, issued_to=identity, created_at=now, expires_at=expires_at
        )
    )
    return IssuedCode(code, expires_at)


async def _chat_platforms_of(conn: AsyncConnection, member_id: int) -> set[str]:
    return {platform_of(i) for i in await identities_of(conn, member_id) if platform_of(i) in _CHAT_PLATFORMS}


async def redeem_link_code(
    conn: AsyncConnection, memberships: MembershipService, *, code: str, identity: str, now: datetime
) -> LinkResult:
    """Join `identity` to the member who was issued `code`. Refusals change nothing."""
    code = normalise_code(code)
    identity = parse_identity(identity)
    platform = _chat_platform(identity)
    row = (
        await conn.execute(
            sa.select(link_codes).where(
                link_codes.c.code == code, link_codes.c.redeemed_at.is_(None), link_codes.c.expires_at > now
            )
        )
    ).first()
    if row is None:
        raise InvalidLinkCode()
    if platform_of(row.issued_to) == platform:
        raise LinkedOnSamePlatform(platform)
    issuer = await find_member(conn, row.issued_to)
    assert issuer is not None, "a link code's identity always has a member"
    redeemer = await find_member(conn, identity)
    if redeemer == issuer:
        raise AlreadyLinked()
    issuer_platforms = await _chat_platforms_of(conn, issuer)
    if platform in issuer_platforms:
        raise LinkConflict(platform)
    if redeemer is not None and (clash := issuer_platforms & await _chat_platforms_of(conn, redeemer)):
        raise LinkConflict(sorted(clash)[0])
    claimed = await conn.execute(
        sa.update(link_codes)
        .where(link_codes.c.code == code, link_codes.c.redeemed_at.is_(None))
        .values(redeemed_at=now, redeemed_by=identity)
    )
    if claimed.rowcount != 1:
        raise InvalidLinkCode()

    if redeemer is None:
        await attach_identity(conn, issuer, identity, now)
        tier = await _granted(conn, memberships, issuer)
        await grant_to_identities(
            conn,
            member_id=issuer,
            identities=[identity],
            held=None,
            target=tier,
            key=f"access:{issuer}:linked:{identity}:{code}",
            reason="linked",
            now=now,
        )
        return LinkResult(issuer, await identities_of(conn, issuer), None, tier.key if tier else None)

    older, newer = sorted((issuer, redeemer))
    await _merge(conn, memberships, into=older, source=newer, code=code, now=now)
    tier = await _granted(conn, memberships, older)
    return LinkResult(older, await identities_of(conn, older), newer, tier.key if tier else None)


async def _granted(conn: AsyncConnection, memberships: MembershipService, member_id: int) -> Tier | None:
    key = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
    return memberships.catalog.tiers.get(key) if key else None


async def _move_rows(conn: AsyncConnection, table: sa.Table, column: sa.Column, source: int, into: int) -> None:
    """Re-point the rows; rows that would clash with the older member's (one per member and month, say) stay."""
    try:
        async with conn.begin_nested():
            await conn.execute(sa.update(table).where(column == source).values({column.name: into}))
    except IntegrityError:
        log.warning("merging member %d into %d: %s rows clash and stay with %d", source, into, table.name, source)


async def _merge(
    conn: AsyncConnection, memberships: MembershipService, *, into: int, source: int, code: str, now: datetime
) -> None:
    """Move everything of member `source` to member `into`, then bring access in line for both sets of accounts."""
    moved = await identities_of(conn, source)
    held_by_moved = await _granted(conn, memberships, source)
    source_trial = await conn.scalar(sa.select(members.c.trial_used_at).where(members.c.id == source))

    # Every table pointing at members follows, including those of later features.
    for table in all_metadata().sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == members.name and fk.column.name == "id" and table is not members:
                await _move_rows(conn, table, fk.parent, source, into)
    if source_trial is not None:
        await conn.execute(
            sa.update(members)
            .where(
                members.c.id == into, sa.or_(members.c.trial_used_at.is_(None), members.c.trial_used_at > source_trial)
            )
            .values(trial_used_at=source_trial)
        )
    await conn.execute(sa.update(members).where(members.c.id == source).values(granted_tier=None))
    await conn.execute(
        sa.insert(member_merges).values(from_member_id=source, into_member_id=into, merged_at=now, link_code=code)
    )
    assert not await conn.scalar(
        sa.select(sa.func.count()).select_from(identities).where(identities.c.member_id == source)
    )

    await memberships.refresh_member(conn, into, now)
    await grant_to_identities(
        conn,
        member_id=into,
        identities=moved,
        held=held_by_moved,
        target=await _granted(conn, memberships, into),
        key=f"access:{into}:merged:{source}",
        reason="linked",
        now=now,
    )
