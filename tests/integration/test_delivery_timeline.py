"""A release's deliveries over time (``reports.delivery_timeline``), counted in SQL
on SQLite and PostgreSQL, after real sends to an SMTP server on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import Staff
from tests.integration.test_distribution import (
    deliveries,
    handle_events,
    published_release,
    subscribe,
)
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.distribution import reports, sending
from workflow.services import bounces
from workflow.services.context import ServiceContext


def test_deliveries_are_counted_in_the_interval_they_settled_in(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    faulty.faults.refuse = {"gone@press.example"}
    subscribe(ctx, "gone@press.example", [staff.health])
    for i in range(5):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    assert reports.delivery_timeline(ctx, release_id, 4) == [], "nothing planned yet"
    handle_events(ctx)
    planned_at = clock.now()
    assert reports.delivery_timeline(ctx, release_id, 4) == [], "nothing settled yet"

    # Two at once, ten minutes after planning (the refused one among them: ids go in
    # order), then two at 20 minutes, then the last two at 40 minutes.
    for minutes, batch in ((10, 2), (10, 2), (20, 2)):
        clock.advance(minutes=minutes)
        assert sending.send_batch(ctx, limit=batch, connections=1).claimed == batch
    timeline = reports.delivery_timeline(ctx, release_id, 4)
    assert [b.start - planned_at for b in timeline] == [
        timedelta(minutes=m) for m in (0, 10, 20, 30)
    ]
    assert [b.end - b.start for b in timeline] == [timedelta(minutes=10)] * 4
    assert [(b.sent, b.failed, b.bounced) for b in timeline] == [
        (0, 0, 0),
        (1, 1, 0),  # 10:00 is the second interval's start
        (2, 0, 0),
        (2, 0, 0),  # 40:00, the very end, belongs to the last interval
    ]
    report = reports.delivery_report(ctx, release_id)
    assert sum(b.total for b in timeline) == sum(report.counts.values()) == 6

    # A bounce reported an hour later stays where its message was sent.
    sent = next(d for d in deliveries(ctx) if d.state == "sent")
    clock.advance(hours=1)
    bounced = bounces.record(
        ctx, [bounces.Bounce("j0@press.example", True, sent.message_id, "mailbox full")]
    )
    assert bounced["bounced"] == 1
    after = reports.delivery_timeline(ctx, release_id, 4)
    assert [b.start for b in after] == [b.start for b in timeline]
    assert sum(b.bounced for b in after) == 1 and sum(b.sent for b in after) == 4
    assert sum(b.total for b in after) == 6


def test_all_at_one_instant_is_one_interval_of_a_second(
    ctx: ServiceContext, staff: Staff, faulty: FaultyHandler
) -> None:
    for i in range(3):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    sending.send_batch(ctx, limit=10, connections=2)
    timeline = reports.delivery_timeline(ctx, release_id, 3)
    assert [(b.end - b.start).total_seconds() for b in timeline] == [1.0, 1.0, 1.0]
    assert [b.sent for b in timeline] == [3, 0, 0]
    other = published_release(ctx, staff, english=False)
    assert reports.delivery_timeline(ctx, other, 3) == [], "another release's are not counted"


@pytest.mark.parametrize("buckets", [0, reports.MAX_TIMELINE_BUCKETS + 1])
def test_the_number_of_intervals_is_bounded(ctx: ServiceContext, buckets: int) -> None:
    with pytest.raises(ValueError, match="buckets"):
        reports.delivery_timeline(ctx, 1, buckets)
