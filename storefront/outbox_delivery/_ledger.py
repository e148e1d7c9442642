"""The ledger: claims, completions and row settlements of delivery steps, group-committed in one trip each."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from storefront.db import BatchWriter, Database, Outcome, UTCDateTime, in_list
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import outbox
from storefront.outbox import OutboxKind, OutboxStatus, enqueue_in_one_trip
from storefront.outbox_delivery._contract import (
    ADMIN_ALERT_TEMPLATE,
    NOTE_STATUSES,
    OPEN_STATUSES,
    PROBLEM_STATUSES,
    DeliveryStatus,
    NeedsAdmin,
)

log = logging.getLogger(__name__)

_RETRY_HINT = "Deliveries waiting on this are held, not retried; once it is fixed, run `storefront outbox retry`."


@dataclass(frozen=True)
class Claim:
    record_id: int
    now: datetime


@dataclass(frozen=True)
class Completion:
    record_id: int
    outbox_id: int
    status: DeliveryStatus
    now: datetime
    next_attempt_at: datetime
    detail: str | None = None
    error: str | None = None
    alert: NeedsAdmin | None = None


@dataclass(frozen=True)
class Settle:
    outbox_id: int
    now: datetime


LedgerOp = Claim | Completion | Settle


# --- the ledger: claims and completions, group-committed (storefront.db.BatchWriter) ------------------------


class Ledger(BatchWriter[LedgerOp]):
    """Writes claims, completions and row settlements; ops queued while one commit runs share the next."""

    def __init__(self, db: Database, admin_identities: Sequence[str]) -> None:
        super().__init__(db, max_batch=10_000)
        self._admins = list(admin_identities)
        self.settled = 0

    async def _write(self, ops: list[LedgerOp]) -> list[Outcome]:
        # One trip: the group's statements run off the event loop, which is busy with the platforms' requests.
        self.settled += await self._db.write_in_one_trip(lambda conn: self._apply(conn, ops))
        return [(None, None)] * len(ops)

    def _apply(self, conn: sa.Connection, ops: list[LedgerOp]) -> int:
        claims = [op for op in ops if isinstance(op, Claim)]
        if claims:
            conn.execute(_CLAIM, {"claimed": [claim.record_id for claim in claims], "claimed_at": claims[-1].now})
        completions = [op for op in ops if isinstance(op, Completion)]
        if completions:
            conn.execute(
                _COMPLETE,
                [
                    {
                        "record_id": op.record_id,
                        "new_status": op.status.value,
                        "next_at": op.next_attempt_at,
                        "done_at": None if op.status is DeliveryStatus.PENDING else op.now,
                        "new_detail": op.detail,
                        "error": op.error,
                    }
                    for op in completions
                ],
            )
        for op in completions:
            if op.alert is not None:
                self._alert(conn, op.alert, op.now)
        touched = {op.outbox_id: op.now for op in ops if isinstance(op, Completion | Settle)}
        if not touched:
            return 0
        return settle_rows(conn, touched.keys(), max(touched.values()))

    def _alert(self, conn: sa.Connection, alert: NeedsAdmin, now: datetime) -> None:
        text = f"{alert.message}\n{_RETRY_HINT}"
        inserted = enqueue_in_one_trip(
            conn,
            key=f"admin-alert:{alert.problem}"[:255],
            kind=OutboxKind.NOTIFY,
            payload={"template": ADMIN_ALERT_TEMPLATE, "text": text, "buttons": [], "to": self._admins},
            now=now,
        )
        if inserted:
            log.error("admin action needed (%s): %s", alert.problem, alert.message)


# The ledger's statements, built once: it runs them several times a second during a fan-out.
_d = outbox_deliveries
_CLAIM = (
    sa.update(_d)
    .where(_d.c.id.in_(in_list("claimed")))
    .values(
        status=DeliveryStatus.SENDING.value,
        attempts=_d.c.attempts + 1,
        claimed_at=sa.bindparam("claimed_at", type_=UTCDateTime),
    )
)
_COMPLETE = (
    sa.update(_d)
    .where(_d.c.id == sa.bindparam("record_id"))
    .values(
        status=sa.bindparam("new_status"),
        next_attempt_at=sa.bindparam("next_at", type_=UTCDateTime),
        completed_at=sa.bindparam("done_at", type_=UTCDateTime),
        detail=sa.bindparam("new_detail"),
        last_error=sa.bindparam("error"),
    )
)
_STEPS_OF_OPEN_ROWS = (
    sa.select(
        _d.c.outbox_id,
        sa.func.sum(sa.case((_d.c.status.in_(OPEN_STATUSES), 1), else_=0)).label("open"),
        sa.func.sum(sa.case((_d.c.status.in_(PROBLEM_STATUSES), 1), else_=0)).label("problems"),
        sa.func.sum(sa.case((_d.c.status.in_(NOTE_STATUSES), 1), else_=0)).label("notes"),
        sa.func.min(sa.case((_d.c.status == DeliveryStatus.PENDING.value, _d.c.next_attempt_at))).label("next_due"),
        sa.func.max(_d.c.attempts).label("attempts"),
    )
    .select_from(_d.join(outbox, outbox.c.id == _d.c.outbox_id))
    .where(_d.c.outbox_id.in_(in_list("rows")), outbox.c.status == OutboxStatus.PENDING.value)
    .group_by(_d.c.outbox_id)
)
_RESCHEDULE_ROW = (
    sa.update(outbox)
    .where(outbox.c.id == sa.bindparam("row_id"))
    .values(next_attempt_at=sa.bindparam("next_due", type_=UTCDateTime), attempts=sa.bindparam("tries"))
)
_WHY_ROWS_ENDED = (
    sa.select(_d.c.outbox_id, _d.c.target, _d.c.step, _d.c.status, _d.c.last_error)
    .where(_d.c.outbox_id.in_(in_list("rows")), _d.c.status.in_(PROBLEM_STATUSES + NOTE_STATUSES))
    .order_by(_d.c.status.in_(PROBLEM_STATUSES).desc(), _d.c.id)
)
_CLOSE_ROW = (
    sa.update(outbox)
    .where(outbox.c.id == sa.bindparam("row_id"))
    .values(
        status=sa.bindparam("new_status"),
        attempts=sa.bindparam("tries"),
        delivered_at=sa.bindparam("delivered", type_=UTCDateTime),
        last_error=sa.bindparam("why"),
    )
)


def settle_rows(conn: sa.Connection, outbox_ids: Iterable[int], now: datetime) -> int:
    """Close the open outbox rows whose steps have all ended; reschedule the others. How many rows were closed.

    A row is `delivered` when no step needs an admin or failed (people who blocked the bot count as delivered,
    with a note in `last_error`), else `failed` with the first problem in `last_error`.
    """
    summary = conn.execute(_STEPS_OF_OPEN_ROWS, {"rows": sorted(set(outbox_ids))}).all()
    waiting = [row for row in summary if row.open and row.next_due is not None]
    if waiting:
        conn.execute(
            _RESCHEDULE_ROW,
            [{"row_id": row.outbox_id, "next_due": row.next_due, "tries": row.attempts} for row in waiting],
        )
    ended = [row for row in summary if not row.open]
    explained = [row.outbox_id for row in ended if row.problems or row.notes]
    why: dict[int, str] = {}
    if explained:
        for record in conn.execute(_WHY_ROWS_ENDED, {"rows": explained}):
            why.setdefault(
                record.outbox_id, f"{record.status} {record.step} for {record.target}: {record.last_error}"[:1000]
            )
    if ended:
        conn.execute(
            _CLOSE_ROW,
            [
                {
                    "row_id": row.outbox_id,
                    "new_status": (OutboxStatus.FAILED if row.problems else OutboxStatus.DELIVERED).value,
                    "tries": row.attempts,
                    "delivered": None if row.problems else now,
                    "why": why.get(row.outbox_id),
                }
                for row in ended
            ],
        )
    return len(ended)
