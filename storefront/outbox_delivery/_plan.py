"""Planning: outbox rows into steps per target (once per row), and the steps that can run now."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.clock import Clock
from storefront.db import Database
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import identities, outbox
from storefront.outbox import OutboxKind, OutboxStatus
from storefront.outbox_delivery._contract import Deliverer, DeliveryStatus

__all__ = ["Batch", "DueRow", "Job", "StepPlanner", "StepRecord"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueRow:
    id: int
    member_id: int | None
    kind: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass
class StepRecord:
    id: int
    outbox_id: int
    target: str
    step: str
    attempts: int
    next_attempt_at: datetime


@dataclass
class Job:
    """The steps of one row for one target, run in order."""

    row: DueRow
    target: str
    platform: str
    user_id: int
    records: list[StepRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    rows: list[DueRow]
    closed: int  # rows closed outright by planning
    jobs: list[Job]
    idle: list[int]  # rows with nothing runnable now


def _platform_of(identity: str) -> tuple[str, int] | None:
    platform, _, user = identity.partition(":")
    try:
        return platform, int(user)
    except ValueError:
        return None


class StepPlanner:
    """Expands due rows into steps, each (target, step) once, and groups the pending steps into jobs."""

    def __init__(self, db: Database, clock: Clock, deliverers: Mapping[str, Deliverer]) -> None:
        self._db = db
        self._clock = clock
        self._deliverers = dict(deliverers)

    async def prepare(self, rows: list[DueRow]) -> Batch:
        """Plan the rows' steps and find what can run now."""
        if not rows:
            return Batch([], 0, [], [])
        closed = await self._plan(rows)
        jobs, idle = await self._jobs(rows)
        return Batch(rows, closed, jobs, idle)

    async def _plan(self, rows: list[DueRow]) -> int:
        """Expand rows that have no steps yet, all in one transaction; how many rows it closed outright."""
        d = outbox_deliveries
        async with self._db.write() as conn:
            planned = set(
                await conn.scalars(sa.select(d.c.outbox_id).where(d.c.outbox_id.in_([row.id for row in rows])))
            )
            fresh = [row for row in rows if row.id not in planned]
            if not fresh:
                return 0
            member_ids = {row.member_id for row in fresh if row.member_id is not None}
            known: dict[int, list[str]] = {}
            for identity, member_id in await conn.execute(
                sa.select(identities.c.identity, identities.c.member_id)
                .where(identities.c.member_id.in_(member_ids))
                .order_by(identities.c.identity)
            ):
                known.setdefault(member_id, []).append(identity)
            welcomed = await self._welcome_companions(conn, [row for row in fresh if row.kind == OutboxKind.ACCESS])
            now = self._clock.now()
            records: list[dict[str, Any]] = []
            closed = 0
            for row in fresh:
                steps = self._steps(row, known.get(row.member_id or 0, []), row.id in welcomed)
                if steps is None:
                    closed += await self._close(conn, row, OutboxStatus.FAILED, self._no_target_reason(row, known))
                elif not steps:
                    closed += await self._close(conn, row, OutboxStatus.DELIVERED, None)
                for position, (target, step) in enumerate(steps or []):
                    records.append(
                        {
                            "outbox_id": row.id,
                            "target": target,
                            "step": step,
                            "position": position,
                            "status": DeliveryStatus.PENDING.value,
                            "attempts": 0,
                            "next_attempt_at": now,
                        }
                    )
            if records:
                await conn.execute(sa.insert(d), records)
            return closed

    def _steps(self, row: DueRow, member_identities: list[str], welcomed: bool) -> list[tuple[str, str]] | None:
        """(target, step) pairs for a row; None when nobody can receive it."""
        payload = row.payload or {}
        explicit = payload.get("to") if row.kind == OutboxKind.NOTIFY else None
        candidates = list(explicit) if explicit is not None else member_identities
        targets = [
            identity
            for identity in candidates
            if (parsed := _platform_of(identity)) is not None and parsed[0] in self._deliverers
        ]
        if not targets:
            return None
        steps: list[tuple[str, str]] = []
        for target in targets:
            if row.kind == OutboxKind.NOTIFY:
                steps.append((target, "message"))
                continue
            deliverer = self._deliverers[target.partition(":")[0]]
            granted = [int(i) for i in (payload.get("grant") or {}).get(deliverer.resource_key, [])]
            revoked = [int(i) for i in (payload.get("revoke") or {}).get(deliverer.resource_key, [])]
            steps += [(target, f"grant:{resource}") for resource in granted]
            steps += [(target, f"revoke:{resource}") for resource in revoked]
            # Invite links ride in the welcome message when there is one; otherwise they get a message of their own.
            if deliverer.grant_yields_link and granted and not welcomed:
                steps.append((target, "message"))
        return steps

    def _no_target_reason(self, row: DueRow, known: dict[int, list[str]]) -> str:
        have = ", ".join(known.get(row.member_id or 0, [])) or "none"
        if row.kind == OutboxKind.NOTIFY and (row.payload or {}).get("to") is not None:
            have = ", ".join(row.payload["to"]) or "no admin identities configured"
        return f"no_target: nobody to deliver to on {', '.join(sorted(self._deliverers)) or 'no platform'} ({have})"

    async def _close(self, conn: AsyncConnection, row: DueRow, status: OutboxStatus, error: str | None) -> int:
        values: dict[str, Any] = {"status": status.value, "last_error": error}
        if status is OutboxStatus.DELIVERED:
            values["delivered_at"] = self._clock.now()
        else:
            log.info("outbox row %d not delivered: %s", row.id, error)
        result = await conn.execute(
            sa.update(outbox).where(outbox.c.id == row.id, outbox.c.status == OutboxStatus.PENDING.value).values(values)
        )
        return result.rowcount

    @staticmethod
    async def _welcome_companions(conn: AsyncConnection, access_rows: list[DueRow]) -> set[int]:
        """ACCESS rows written together with a welcome message (same member, same transaction, just after)."""
        if not access_rows:
            return set()
        members = {row.member_id for row in access_rows}
        notes = await conn.execute(
            sa.select(outbox.c.id, outbox.c.member_id, outbox.c.created_at, outbox.c.payload).where(
                outbox.c.kind == OutboxKind.NOTIFY.value,
                outbox.c.member_id.in_(members),
                outbox.c.id > min(row.id for row in access_rows),
            )
        )
        welcomes = [note for note in notes if (note.payload or {}).get("template") == "welcome"]
        return {
            row.id
            for row in access_rows
            if any(
                note.member_id == row.member_id and note.created_at == row.created_at and note.id > row.id
                for note in welcomes
            )
        }

    async def _jobs(self, rows: list[DueRow]) -> tuple[list[Job], list[int]]:
        """Runnable jobs (row, target) of the rows, and the rows with nothing runnable now (to settle)."""
        d = outbox_deliveries
        now = self._clock.now()
        async with self._db.read() as conn:
            records = await conn.execute(
                sa.select(d.c.id, d.c.outbox_id, d.c.target, d.c.step, d.c.attempts, d.c.next_attempt_at)
                .where(d.c.outbox_id.in_([row.id for row in rows]), d.c.status == DeliveryStatus.PENDING.value)
                .order_by(d.c.outbox_id, d.c.target, d.c.position)
            )
            by_id = {row.id: row for row in rows}
            jobs: dict[tuple[int, str], Job] = {}
            for record in records:
                key = (record.outbox_id, record.target)
                if key not in jobs:
                    platform, user_id = _platform_of(record.target) or ("", 0)
                    jobs[key] = Job(by_id[record.outbox_id], record.target, platform, user_id)
                jobs[key].records.append(
                    StepRecord(
                        record.id,
                        record.outbox_id,
                        record.target,
                        record.step,
                        record.attempts,
                        record.next_attempt_at,
                    )
                )
        runnable = [job for job in jobs.values() if job.records[0].next_attempt_at <= now]
        busy = {job.row.id for job in runnable}
        return runnable, [row.id for row in rows if row.id not in busy]
