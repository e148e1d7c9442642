"""Access questions asked by the chat platforms: who may join a channel, what a returning member gets back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.catalog import Catalog, Tier
from storefront.db.tables import members
from storefront.members import find_member, parse_identity
from storefront.outbox import OutboxKind, enqueue

__all__ = [
    "decide_join_request",
    "grant_to_identities",
    "managed_telegram_chats",
    "platform_of",
    "reapply_access",
]

# Which grant each chat platform carries out; other identities (stripe:) hold no chat access.
_GRANT_KEY = {"discord": "discord_role_ids", "telegram": "telegram_chat_ids"}


def platform_of(identity: str) -> str:
    return identity.partition(":")[0]


def _grants(tier: Tier | None) -> dict[str, list[int]]:
    grants = tier.grants if tier else None
    return {
        "discord_role_ids": [grants.discord_role_id] if grants and grants.discord_role_id else [],
        "telegram_chat_ids": [grants.telegram_chat_id] if grants and grants.telegram_chat_id else [],
    }


def managed_telegram_chats(catalog: Catalog) -> frozenset[int]:
    """The Telegram chats whose membership follows payment (any tier grants them)."""
    return frozenset(t.grants.telegram_chat_id for t in catalog.tiers.values() if t.grants.telegram_chat_id)


async def _granted_tier(conn: AsyncConnection, identity: str, catalog: Catalog) -> tuple[int | None, Tier | None]:
    member_id = await find_member(conn, identity)
    if member_id is None:
        return None, None
    key = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
    return member_id, catalog.tiers.get(key) if key else None


async def decide_join_request(conn: AsyncConnection, identity: str, chat_id: int, catalog: Catalog) -> bool:
    """True when the person behind `identity` currently holds a tier that grants this Telegram chat."""
    _, tier = await _granted_tier(conn, parse_identity(identity), catalog)
    return tier is not None and tier.grants.telegram_chat_id == chat_id


async def grant_to_identities(
    conn: AsyncConnection,
    *,
    member_id: int,
    identities: Iterable[str],
    held: Tier | None,
    target: Tier | None,
    key: str,
    reason: str,
    now: datetime,
) -> bool:
    """Queue an ACCESS row bringing these identities from what `held` gave them to what `target` grants.

    Only the grants of the identities' own platforms are included, so no other account of the member is touched;
    the row names the identities (`identities`) for deliverers that can target them. False if nothing to do.
    """
    identities = sorted(set(identities))
    keys = {_GRANT_KEY[p] for p in map(platform_of, identities) if p in _GRANT_KEY}
    before, after = _grants(held), _grants(target)
    grant = {k: sorted(set(after[k]) - set(before[k])) if k in keys else [] for k in after}
    revoke = {k: sorted(set(before[k]) - set(after[k])) if k in keys else [] for k in before}
    if not any(grant.values()) and not any(revoke.values()):
        return False
    payload: dict[str, Any] = {
        "from_tier": held.key if held else None,
        "to_tier": target.key if target else None,
        "grant": grant,
        "revoke": revoke,
        "identities": identities,
        "reason": reason,
    }
    return await enqueue(conn, key=key, kind=OutboxKind.ACCESS, payload=payload, now=now, member_id=member_id)


async def reapply_access(
    conn: AsyncConnection, identity: str, now: datetime, catalog: Catalog, *, joined_at: datetime | None = None
) -> bool:
    """Someone (re)joined the Discord server or a chat: queue a re-grant of their tier's access on that platform.

    Idempotent per join: the key carries the join time. False when they hold nothing to give back.
    """
    identity = parse_identity(identity)
    member_id, tier = await _granted_tier(conn, identity, catalog)
    if member_id is None or tier is None:
        return False
    joined = (joined_at or now).isoformat()
    return await grant_to_identities(
        conn,
        member_id=member_id,
        identities=[identity],
        held=None,
        target=tier,
        key=f"access:{member_id}:rejoin:{identity}:{joined}",
        reason="rejoined",
        now=now,
    )
