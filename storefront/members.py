"""Members and their identities (`telegram:123`, `discord:456`, `stripe:cus_...`)."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.db import insert_ignore
from storefront.db.tables import identities, members
from storefront.errors import StorefrontError

__all__ = [
    "InvalidIdentity",
    "attach_identity",
    "ensure_member",
    "find_member",
    "identities_of",
    "parse_identity",
    "stripe_customer_identity",
]

_IDENTITY = re.compile(r"^(telegram:-?\d{1,20}|discord:\d{1,20}|stripe:cus_[A-Za-z0-9_]{1,100})$")


class InvalidIdentity(StorefrontError):
    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(
            f"{text!r} is not an identity; expected telegram:<user id>, discord:<user id> or stripe:<customer id>"
        )


def parse_identity(text: str) -> str:
    """Validate an identity string and return it normalised."""
    identity = text.strip()
    if not _IDENTITY.match(identity):
        raise InvalidIdentity(text)
    return identity


def stripe_customer_identity(customer_id: str) -> str:
    return parse_identity(f"stripe:{customer_id}")


async def find_member(conn: AsyncConnection, identity: str) -> int | None:
    return await conn.scalar(sa.select(identities.c.member_id).where(identities.c.identity == identity))


async def ensure_member(conn: AsyncConnection, identity: str, now: datetime) -> int:
    """The member behind `identity`, created (with that identity) if there is none yet."""
    identity = parse_identity(identity)
    existing = await find_member(conn, identity)
    if existing is not None:
        return existing
    member_id = await conn.scalar(sa.insert(members).values(created_at=now).returning(members.c.id))
    if not await insert_ignore(
        conn, identities, {"identity": identity, "member_id": member_id, "created_at": now}, ["identity"]
    ):
        # Another process claimed the identity between our read and insert: use theirs.
        await conn.execute(sa.delete(members).where(members.c.id == member_id))
        winner = await find_member(conn, identity)
        assert winner is not None
        return winner
    return member_id


async def attach_identity(conn: AsyncConnection, member_id: int, identity: str, now: datetime) -> int:
    """Give `member_id` the identity if nobody holds it; returns the member that holds it afterwards."""
    identity = parse_identity(identity)
    await insert_ignore(
        conn, identities, {"identity": identity, "member_id": member_id, "created_at": now}, ["identity"]
    )
    holder = await find_member(conn, identity)
    assert holder is not None
    return holder


async def identities_of(conn: AsyncConnection, member_id: int) -> list[str]:
    rows = await conn.scalars(
        sa.select(identities.c.identity).where(identities.c.member_id == member_id).order_by(identities.c.identity)
    )
    return list(rows)
