"""The claim path, built for the burst: one writer task decides every queued claim in ONE write transaction.

A click puts `(drop, identity)` on an in-memory queue and awaits a future. The writer takes everything queued,
opens one write transaction, locks each drop row (`FOR UPDATE` on PostgreSQL), counts sales and live holds
once, decides the claims in arrival order, inserts the holds in one statement, commits, then resolves the
futures. Clicks on a drop known to be sold out are answered from a short-lived hint without any write; the
database stays the truth (the hint lasts at most `sold_out_hint_seconds` and never past the next hold expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.errors import (
    DropCancelled,
    DropClosed,
    DropError,
    DropNotFound,
    DropNotOpen,
    EarlyAccessOnly,
    LimitReached,
    SoldOut,
)
from drops.holds import NewHold, expire_due_holds, insert_holds, new_hold_id
from drops.models import DropOptions, DropPhase, HoldStatus, HoldView, Money
from drops.supply import derive_phase, lock_drop, may_claim_early, member_usage, unit_counts
from drops.waitlist import offer_free_units
from storefront.clock import Clock
from storefront.db import Database, in_chunks, insert_ignoring_conflicts
from storefront.db.tables import identities, members
from storefront.members import parse_identity

__all__ = ["ClaimDesk", "ClaimsUnavailable", "resolve_members"]

log = logging.getLogger(__name__)


class ClaimsUnavailable(DropError):
    def __init__(self) -> None:
        super().__init__("Claims are busy right now; please try again in a moment.")


@dataclass(frozen=True)
class _Claim:
    drop_id: int
    identity: str


@dataclass(frozen=True)
class _Member:
    id: int
    granted_tier: str | None
    created_now: bool = False  # created by this transaction: no holds or sales to count yet


async def resolve_members(conn: AsyncConnection, wanted: list[str], now: datetime) -> dict[str, _Member]:
    """The member (and current granted tier) behind each identity, creating members for new identities in bulk."""
    found: dict[str, _Member] = {}
    unique = list(dict.fromkeys(wanted))

    async def look_up(names: list[str]) -> None:
        for chunk in in_chunks(names):
            rows = await conn.execute(
                sa.select(identities.c.identity, members.c.id, members.c.granted_tier)
                .join(members, members.c.id == identities.c.member_id)
                .where(identities.c.identity.in_(chunk))
            )
            for identity, member_id, tier in rows:
                found[identity] = _Member(member_id, tier)

    await look_up(unique)
    missing = [identity for identity in unique if identity not in found]
    if not missing:
        return found
    # New members are blank rows, so which new id goes with which identity does not matter: the ids come back
    # in any order and one multi-row INSERT serves the whole batch.
    created = list(
        (
            await conn.execute(sa.insert(members).returning(members.c.id), [{"created_at": now} for _ in missing])
        ).scalars()
    )
    linked = await conn.execute(
        insert_ignoring_conflicts(conn, identities, ["identity"]).returning(
            identities.c.identity, identities.c.member_id
        ),
        [
            {"identity": identity, "member_id": member_id, "created_at": now}
            for identity, member_id in zip(missing, created, strict=True)
        ],
    )
    for identity, member_id in linked:
        found[identity] = _Member(member_id, None, created_now=True)
    raced = [identity for identity in missing if identity not in found]
    if raced:
        # Another process linked these identities between our read and insert: use its members, drop ours.
        await look_up(raced)
        orphans = set(created) - {member.id for member in found.values()}
        await conn.execute(sa.delete(members).where(members.c.id.in_(orphans)))
    return found


@dataclass(frozen=True)
class _SoldOutHint:
    title: str
    until: datetime
    next_release_at: datetime | None


class ClaimDesk:
    """Decides claims; `start()` runs the single writer task, without it each claim is decided on its own."""

    def __init__(self, db: Database, clock: Clock, options: DropOptions, tier_names: Mapping[str, str]) -> None:
        self._db = db
        self._clock = clock
        self._options = options
        self._tier_names = dict(tier_names)
        self._queue: asyncio.Queue[tuple[_Claim, asyncio.Future[HoldView]]] = asyncio.Queue()
        self._hints: dict[int, _SoldOutHint] = {}
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # how many write transactions decided claims (for tests and benchmarks)

    # Lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="drop-claim-writer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            _claim, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(ClaimsUnavailable())

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # The claim ------------------------------------------------------------------------------------------

    async def claim(self, drop_id: int, identity: str) -> HoldView:
        """A hold on one unit for `identity`, or a DropError saying why not."""
        claim = _Claim(drop_id, parse_identity(identity))
        refusal = self._sold_out_hint(drop_id, self._clock.now())
        if refusal is not None:
            raise refusal
        if not self.running:
            outcome = (await self._decide_batch([claim]))[0]
        else:
            future: asyncio.Future[HoldView] = asyncio.get_running_loop().create_future()
            self._queue.put_nowait((claim, future))
            return await future
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def forget_sold_out(self, drop_id: int) -> None:
        """A unit may have come back (released hold, restock): the next click asks the database."""
        self._hints.pop(drop_id, None)

    async def _run(self) -> None:
        batch: list[tuple[_Claim, asyncio.Future[HoldView]]] = []
        try:
            while True:
                batch = []
                queued = [await self._queue.get()]
                now = self._clock.now()  # once per pass: the pass takes milliseconds, a hint lasts seconds
                while len(batch) < self._options.max_claims_per_batch and (queued or not self._queue.empty()):
                    claim, future = queued.pop() if queued else self._queue.get_nowait()
                    # Clicks queued behind a batch that sold the drop out are answered without a transaction.
                    refusal = self._sold_out_hint(claim.drop_id, now)
                    if refusal is not None:
                        self._resolve(future, refusal)
                    else:
                        batch.append((claim, future))
                if not batch:
                    continue
                outcomes = await self._decide_batch([claim for claim, _future in batch])
                for (_claim, future), outcome in zip(batch, outcomes, strict=True):
                    self._resolve(future, outcome)
                batch = []
        except asyncio.CancelledError:
            # Stopped mid-batch: answer rather than leave callers hanging (a second click shows any hold made).
            for _claim, future in batch:
                self._resolve(future, ClaimsUnavailable())
            raise

    @staticmethod
    def _resolve(future: asyncio.Future[HoldView], outcome: HoldView | Exception) -> None:
        if future.done():
            return
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def _sold_out_hint(self, drop_id: int, now: datetime) -> SoldOut | None:
        hint = self._hints.get(drop_id)
        if hint is None:
            return None
        if now < hint.until:
            return SoldOut(hint.title, hint.next_release_at)
        self._hints.pop(drop_id, None)
        return None

    async def _decide_batch(self, claims: list[_Claim]) -> list[HoldView | Exception]:
        now = self._clock.now()
        try:
            async with self._db.write() as conn:
                outcomes = await self._decide(conn, claims, now)
        except Exception:
            log.exception("deciding %d claims failed", len(claims))
            return [ClaimsUnavailable() for _ in claims]
        self.batches += 1
        return outcomes

    async def _decide(self, conn: AsyncConnection, claims: list[_Claim], now: datetime) -> list[HoldView | Exception]:
        outcomes: list[HoldView | Exception] = [ClaimsUnavailable()] * len(claims)
        by_drop: dict[int, list[int]] = {}
        for index, claim in enumerate(claims):
            by_drop.setdefault(claim.drop_id, []).append(index)
        for drop_id, indexes in by_drop.items():
            try:
                decided = await self._decide_drop(conn, drop_id, [claims[i] for i in indexes], now)
            except DropNotFound:
                decided = [DropNotFound(drop_id) for _ in indexes]
            for index, outcome in zip(indexes, decided, strict=True):
                outcomes[index] = outcome
        return outcomes

    async def _decide_drop(
        self, conn: AsyncConnection, drop_id: int, claims: list[_Claim], now: datetime
    ) -> list[HoldView | Exception]:
        drop = await lock_drop(conn, drop_id)
        gate = derive_phase(drop, None, now)
        if self._gate_refusal(drop, gate) is not None:
            # One exception object per caller: each is raised in its own task.
            return [self._gate_refusal(drop, gate) or ClaimsUnavailable() for _ in claims]
        # Bookkeeping first, and people already in line get freed units before new clicks do.
        await expire_due_holds(conn, now, drop.id)
        counts = await unit_counts(conn, drop, now)
        offered = await offer_free_units(conn, drop, counts, now, self._options.waitlist_hold)
        free = counts.available - len(offered)
        price = Money(amount_minor=drop.price_minor, currency=drop.currency)
        expires_at = now + self._options.hold
        people: dict[str, _Member] = {}
        usage: dict[int, list[str]] = {}
        holds: list[NewHold] = []
        outcomes: list[HoldView | Exception] = []
        for claim in claims:
            if free <= 0:
                # Past the supply nobody else can win: no member lookups, no writes for the rest of the burst.
                break
            if claim.identity not in people:
                # Look people up about as many as units remain, in arrival order: the rest may never need it.
                ahead = claims[len(outcomes) : len(outcomes) + free + free // 4 + 16]
                found = await resolve_members(conn, [c.identity for c in ahead if c.identity not in people], now)
                people.update(found)
                fresh = [member for member in found.values() if member.id not in usage]
                for member in fresh:
                    usage[member.id] = []
                known = [member.id for member in fresh if not member.created_now]
                for member_id, used in (await member_usage(conn, drop.id, known, now)).items():
                    usage[member_id] = used
            member = people[claim.identity]
            used = usage[member.id]
            if gate is DropPhase.EARLY_ACCESS and not may_claim_early(drop, member.granted_tier, now):
                outcomes.append(self._early_access_only(drop))
            elif len(used) >= drop.per_person_limit:
                outcomes.append(LimitReached(drop.title, drop.per_person_limit, list(used)))
            else:
                hold = NewHold(new_hold_id(), drop.id, member.id, claim.identity, "claim", now, expires_at)
                holds.append(hold)
                used.append(hold.id)
                free -= 1
                outcomes.append(
                    HoldView(
                        id=hold.id,
                        drop_id=drop.id,
                        drop_title=drop.title,
                        member_id=member.id,
                        identity=claim.identity,
                        source="claim",
                        status=HoldStatus.HELD,
                        created_at=now,
                        expires_at=expires_at,
                        price=price,
                    )
                )
        await insert_holds(conn, holds)
        if free <= 0:
            next_release = self._next_release(counts.next_release_at, offered, holds)
            outcomes.extend(SoldOut(drop.title, next_release) for _ in range(len(claims) - len(outcomes)))
            self._remember_sold_out(drop.id, drop.title, next_release, now)
        return outcomes

    def _gate_refusal(self, drop: Any, gate: DropPhase) -> DropError | None:
        if gate is DropPhase.CANCELLED:
            return DropCancelled(drop.title)
        if gate is DropPhase.CLOSED:
            return DropClosed(drop.title)
        if gate in (DropPhase.DRAFT, DropPhase.SCHEDULED):
            return DropNotOpen(drop.title, drop.opens_at)
        return None

    def _early_access_only(self, drop: Any) -> EarlyAccessOnly:
        longest_first = sorted(drop.early_access.items(), key=lambda item: -item[1])
        names = [self._tier_names.get(tier, tier) for tier, _minutes in longest_first]
        return EarlyAccessOnly(drop.title, names, drop.opens_at)

    @staticmethod
    def _next_release(known: datetime | None, *more: list[NewHold]) -> datetime | None:
        times = [hold.expires_at for group in more for hold in group]
        if known is not None:
            times.append(known)
        return min(times, default=None)

    def _remember_sold_out(self, drop_id: int, title: str, next_release_at: datetime | None, now: datetime) -> None:
        until = now + timedelta(seconds=self._options.sold_out_hint_seconds)
        if next_release_at is not None:
            until = min(until, next_release_at)
        if until > now:
            self._hints[drop_id] = _SoldOutHint(title, until, next_release_at)
