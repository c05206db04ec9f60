"""What the office sees of a release's deliveries: counts by state, failures, progress
and a timeline of when they settled."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from workflow.db.tables import DeliveryRow, SubscriberRow
from workflow.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    counts: dict[str, int]
    failures: list[tuple[str, str, str]]  # address, kind, SMTP reply
    possible_duplicates: int


def delivery_report(ctx: ServiceContext, release_id: int) -> DeliveryReport:
    with ctx.uow() as uow:
        counts = dict(
            uow.session.execute(
                select(DeliveryRow.state, func.count())
                .where(DeliveryRow.release_id == release_id)
                .group_by(DeliveryRow.state)
            ).all()
        )
        failures = [
            tuple(r)
            for r in uow.session.execute(
                select(SubscriberRow.email, DeliveryRow.kind, DeliveryRow.smtp_reply)
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .where(
                    DeliveryRow.release_id == release_id,
                    DeliveryRow.state.in_(("failed", "bounced")),
                )
                .order_by(DeliveryRow.id)
            )
        ]
        duplicates = uow.session.scalar(
            select(func.count())
            .select_from(DeliveryRow)
            .where(DeliveryRow.release_id == release_id, DeliveryRow.possible_duplicate.is_(True))
        )
    return DeliveryReport(counts, failures, int(duplicates or 0))  # type: ignore[arg-type]


SETTLED = ("sent", "failed", "bounced")
MAX_TIMELINE_BUCKETS = 500


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a release's emails have got: ``settled`` of ``total`` have their final
    answer (sent, failed or bounced)."""

    settled: int
    total: int

    @property
    def percent(self) -> int:
        return 100 * self.settled // self.total if self.total else 100


def delivery_progress(ctx: ServiceContext, release_ids: list[int]) -> dict[int, Progress]:
    """The progress of each release's deliveries, in one query; releases with no
    delivery planned are left out."""
    if not release_ids:
        return {}
    settled = func.sum(case((DeliveryRow.state.in_(SETTLED), 1), else_=0))
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(DeliveryRow.release_id, settled, func.count())
            .where(DeliveryRow.release_id.in_(release_ids))
            .group_by(DeliveryRow.release_id)
        ).all()
    return {release_id: Progress(int(done), int(total)) for release_id, done, total in rows}


@dataclass(frozen=True, slots=True)
class TimelineBucket:
    """Deliveries that settled in ``[start, end)``, by how they ended."""

    start: datetime
    end: datetime
    sent: int = 0
    failed: int = 0
    bounced: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.bounced


def delivery_timeline(ctx: ServiceContext, release_id: int, buckets: int) -> list[TimelineBucket]:
    """A release's deliveries over time: ``buckets`` equal intervals (whole seconds) from
    the first delivery planned to the last one settled, each with the deliveries that
    were sent, failed or bounced in it. Empty while none has settled.

    A delivery settles when its final SMTP reply is recorded: ``sent_at`` for a sent one
    (and for a bounced one, whose bounce report came later), the failure's time for a
    failed one (``next_attempt_at``, which recording a failure sets to that moment). The
    counting is one ``GROUP BY`` over a ``CASE`` of the interval boundaries, which reads
    the same on SQLite and PostgreSQL."""
    if not 1 <= buckets <= MAX_TIMELINE_BUCKETS:
        raise ValueError(f"buckets must be between 1 and {MAX_TIMELINE_BUCKETS}")
    settled_at = func.coalesce(DeliveryRow.sent_at, DeliveryRow.next_attempt_at)
    of_release = DeliveryRow.release_id == release_id
    with ctx.uow() as uow:
        session = uow.session
        start = session.scalar(select(func.min(DeliveryRow.created_at)).where(of_release))
        end = session.scalar(
            select(func.max(settled_at)).where(of_release, DeliveryRow.state.in_(SETTLED))
        )
        if start is None or end is None:
            return []
        start = min(start, end)
        width = timedelta(seconds=max(1, math.ceil((end - start).total_seconds() / buckets)))
        bounds = [start + width * (i + 1) for i in range(buckets)]
        index = case(
            *((settled_at < bound, i) for i, bound in enumerate(bounds[:-1])),
            else_=buckets - 1,
        )
        # Grouped in an outer query: PostgreSQL does not match a GROUP BY expression
        # whose parameters are bound again to the same expression in the SELECT list.
        settled = (
            select(index.label("bucket"), DeliveryRow.state.label("state"))
            .where(of_release, DeliveryRow.state.in_(SETTLED))
            .subquery()
        )
        counts: dict[int, Counter[str]] = {}
        for bucket, state, count in session.execute(
            select(settled.c.bucket, settled.c.state, func.count()).group_by(
                settled.c.bucket, settled.c.state
            )
        ):
            counts.setdefault(int(bucket), Counter())[state] = int(count)
    return [
        TimelineBucket(
            start=start + width * i,
            end=bounds[i],
            sent=counts.get(i, Counter())["sent"],
            failed=counts.get(i, Counter())["failed"],
            bounced=counts.get(i, Counter())["bounced"],
        )
        for i in range(buckets)
    ]
