"""Reading and marking the transactional outbox.

Rows are written by the repositories in the same transaction as the change that caused
them; a relay (the Celery backbone) reads the unrelayed ones in order, hands each to the
broker, and marks it relayed. Marking is idempotent, and consumers ignore an event id
they have seen, so a row relayed twice after a crash does no harm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflow.db.tables import OutboxRow
from workflow.domain.events import Event


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    event: Event
    created_at: datetime
    attempts: int


def pending(
    session: Session, *, limit: int = 100, older_than: datetime | None = None, lock: bool = False
) -> list[OutboxEntry]:
    """Unrelayed events, oldest first. With ``lock`` (PostgreSQL) rows another relay is
    working on are skipped rather than waited for."""
    query = select(OutboxRow).where(OutboxRow.relayed_at.is_(None)).order_by(OutboxRow.id)
    if older_than is not None:
        query = query.where(OutboxRow.created_at <= older_than)
    if lock:
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query.limit(limit))
    return [OutboxEntry(r.id, Event.from_json(r.payload), r.created_at, r.attempts) for r in rows]


def mark_relayed(session: Session, ids: Iterable[int], now: datetime) -> int:
    """Record that these rows reached the broker; returns how many were still pending."""
    id_list = list(ids)
    if not id_list:
        return 0
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(id_list), OutboxRow.relayed_at.is_(None))
        .values(relayed_at=now, attempts=OutboxRow.attempts + 1)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
