"""Writing, reading and marking the transactional outbox.

Rows are written (``add_to_outbox``) in the same transaction as the change that caused
them. The relay reads the rows not yet handled, hands each to the broker and notes when;
the consumer marks a row handled once it has done its work. A row handed over but not
handled within ``redeliver_after`` (a lost message, a killed worker, a broker restarted
without its data) is handed over again, so delivery is at least once from commit to
consumer, and consumers ignore what they have already done (by event id).

A row keeps the request id current when it was written (``workflow.logs``), which the
relay hands on with the event. Once the transaction that wrote rows commits, their events
are counted (``workflow.metrics.events_committed``): only what was committed counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session

from workflow import metrics
from workflow.db.appended import append
from workflow.db.tables import OutboxRow
from workflow.domain.events import Event, ReleaseEvent
from workflow.logs import current_request_id

REDELIVER_AFTER = timedelta(seconds=30)
# The session's events written this transaction, counted when it commits.
_WRITTEN = "outbox_events"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    event: Event
    created_at: datetime
    attempts: int
    request_id: str | None = None


def add_to_outbox(session: Session, events: Sequence[Event]) -> None:
    """Write ``events`` to the outbox in ``session``'s transaction (with its COMMIT:
    ``workflow.db.appended``)."""
    if events:
        session.info["outbox_written"] = True
        session.info.setdefault(_WRITTEN, []).extend(events)
    request_id = current_request_id()
    append(
        session,
        OutboxRow,
        (
            {
                "event_id": e.event_id,
                "event_type": e.type_name,
                "release_id": e.release_id if isinstance(e, ReleaseEvent) else None,
                "payload": e.to_json(),
                "created_at": datetime.fromisoformat(e.occurred_at),
                "request_id": request_id,
            }
            for e in events
        ),
    )


def pending(
    session: Session,
    now: datetime,
    *,
    limit: int = 100,
    redeliver_after: timedelta = REDELIVER_AFTER,
    lock: bool = False,
) -> list[OutboxEntry]:
    """Events to hand to the broker, oldest first: never relayed, or relayed so long ago
    without being handled that the message must be lost. With ``lock`` (PostgreSQL), rows
    another relay is working on are skipped rather than waited for."""
    query = (
        select(OutboxRow)
        .where(
            OutboxRow.handled_at.is_(None),
            or_(OutboxRow.relayed_at.is_(None), OutboxRow.relayed_at <= now - redeliver_after),
        )
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query)
    return [
        OutboxEntry(r.id, Event.from_json(r.payload), r.created_at, r.attempts, r.request_id)
        for r in rows
    ]


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    written = session.info.pop(_WRITTEN, None)
    if written:
        metrics.events_committed(written)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def mark_relayed(session: Session, ids: Iterable[int], now: datetime) -> int:
    """Note that these rows were handed to the broker now; returns how many."""
    id_list = list(ids)
    if not id_list:
        return 0
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(id_list), OutboxRow.handled_at.is_(None))
        .values(relayed_at=now, attempts=OutboxRow.attempts + 1)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def mark_handled(session: Session, event_id: str, now: datetime) -> bool:
    """The consumer is done with this event; False if it already was."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.event_id == event_id, OutboxRow.handled_at.is_(None))
        .values(handled_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    unhandled: int
    oldest_unhandled_s: float | None
    handled_recently: int
    p50_lag_s: float | None
    p95_lag_s: float | None
    max_lag_s: float | None


def status(session: Session, now: datetime, *, sample: int = 1000) -> OutboxStatus:
    """How far behind the relay is: unhandled rows, and commit-to-handled lag of the
    last ``sample`` handled events."""
    unhandled = (
        session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.handled_at.is_(None))
        )
        or 0
    )
    oldest = session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.handled_at.is_(None))
    )
    rows = session.execute(
        select(OutboxRow.created_at, OutboxRow.handled_at)
        .where(OutboxRow.handled_at.is_not(None))
        .order_by(OutboxRow.id.desc())
        .limit(sample)
    ).all()
    lags = sorted(
        (handled - created).total_seconds() for created, handled in rows if handled is not None
    )

    def pick(q: float) -> float | None:
        return lags[min(len(lags) - 1, int(q * len(lags)))] if lags else None

    return OutboxStatus(
        unhandled=unhandled,
        oldest_unhandled_s=None if oldest is None else (now - oldest).total_seconds(),
        handled_recently=len(lags),
        p50_lag_s=pick(0.5),
        p95_lag_s=pick(0.95),
        max_lag_s=lags[-1] if lags else None,
    )
