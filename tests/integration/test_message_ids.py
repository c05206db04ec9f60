"""A delivery's Message-ID tells nothing and cannot be guessed, is never the same twice,
and is the one every attempt of that delivery carries."""

from __future__ import annotations

import re

from tests.conftest import Staff
from tests.integration.test_distribution import (
    deliveries,
    drain,
    handle_events,
    published_release,
    subscribe,
)
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.services.context import ServiceContext

RANDOM_ID = re.compile(r"^<[0-9a-f]{32}@[^@>]+>$")


def test_message_ids_are_random_unique_and_kept_for_the_delivery(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler
) -> None:
    for i in range(5):
        subscribe(ctx, f"r{i}@press.example", [staff.health])
    published_release(ctx, staff, english=False)
    handle_events(ctx)
    rows = deliveries(ctx)
    planned = {row.id: row.message_id for row in rows}
    assert len(planned) == 5 and len(set(planned.values())) == 5
    assert all(RANDOM_ID.match(message_id) for message_id in planned.values()), planned
    drain(ctx, clock)
    received = {m.message_id for m in faulty.received()}
    assert received == set(planned.values())
    # The rows keep the ids they were planned with: a retry sends the same one.
    assert {row.id: row.message_id for row in deliveries(ctx)} == planned
