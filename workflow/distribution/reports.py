"""What the office sees of a release's deliveries: counts by state, per kind of message
and in all, how many journalists they reached, failures, progress and a timeline of when
they settled."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, distinct, func, select

from workflow.db.tables import DeliveryRow, SubscriberRow
from workflow.distribution.rules import base_kind
from workflow.distribution.tallies import tally_of
from workflow.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A release's emails to journalists: ``counts`` by state over every kind of message,
    ``by_kind`` the same per kind ("release", "embargo", "correction", …: a follow-up's
    kind without its event's key) in the order each kind was first planned, and how many
    journalists were planned at least one message (``subscribers``) and were sent one
    (``subscribers_reached``)."""

    counts: dict[str, int]
    failures: list[tuple[str, str, str]]  # address, kind, SMTP reply
    possible_duplicates: int
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    subscribers: int = 0
    subscribers_reached: int = 0
    # When retention last deleted some of these deliveries with their recipients, keeping
    # their counts (``tallies``): failures and the timeline no longer show those.
    folded_at: datetime | None = None


def delivery_report(ctx: ServiceContext, release_id: int) -> DeliveryReport:
    of_release = DeliveryRow.release_id == release_id
    sent_to = case((DeliveryRow.state == "sent", DeliveryRow.subscriber_id))
    with ctx.uow() as uow:
        grouped = uow.session.execute(
            select(DeliveryRow.kind, DeliveryRow.state, func.count(), func.min(DeliveryRow.id))
            .where(of_release)
            .group_by(DeliveryRow.kind, DeliveryRow.state)
        ).all()
        subscribers, reached = uow.session.execute(
            select(
                func.count(distinct(DeliveryRow.subscriber_id)), func.count(distinct(sent_to))
            ).where(of_release)
        ).one()
        failures = [
            (email, kind, reply)
            for email, kind, reply in uow.session.execute(
                select(SubscriberRow.email, DeliveryRow.kind, DeliveryRow.smtp_reply)
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .where(of_release, DeliveryRow.state.in_(("failed", "bounced")))
                .order_by(DeliveryRow.id)
            )
        ]
        duplicates = uow.session.scalar(
            select(func.count())
            .select_from(DeliveryRow)
            .where(of_release, DeliveryRow.possible_duplicate.is_(True))
        )
        folded = tally_of(uow.session, release_id)
    counts: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    # Kinds in the order first planned; those folded by retention come first.
    first_planned: dict[str, float] = {}
    if folded is not None:
        for position, (base, states) in enumerate(folded.counts.items()):
            counts.update(states)
            by_kind.setdefault(base, Counter()).update(states)
            first_planned[base] = position - len(folded.counts)
        duplicates = (duplicates or 0) + folded.possible_duplicates
        subscribers += folded.subscribers
        reached += folded.subscribers_reached
    for kind, state, count, first in grouped:
        base = base_kind(kind)
        counts[state] += count
        by_kind.setdefault(base, Counter())[state] += count
        first_planned[base] = min(first, first_planned.get(base, first))
    return DeliveryReport(
        counts=dict(counts),
        failures=failures,
        possible_duplicates=int(duplicates or 0),
        by_kind={k: dict(by_kind[k]) for k in sorted(by_kind, key=first_planned.__getitem__)},
        subscribers=int(subscribers),
        subscribers_reached=int(reached),
        folded_at=folded.folded_at if folded else None,
    )


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
