"""Relays outbox rows to the ``newsroom.handle_events`` consumer.

Runs when a commit wrote events (the after-commit hint) and every few seconds from beat
(whatever a crash between commit and hint, or a lost message, left behind). The events
go in messages of up to ``EVENTS_A_MESSAGE``, for a message costs the worker more CPU
than handling a workflow event does (``wake_relay``); a backlog is still spread over
every worker, a message each. Each event's request id, if it has one, goes with it in
the message's headers (``REQUEST_IDS_HEADER``), where a consumer that predates them
ignores them.
"""

from __future__ import annotations

import logging

from celery import shared_task

from tasks.runtime import celery_app, context, hints
from workflow import outbox

log = logging.getLogger(__name__)

EVENTS_A_MESSAGE = 20
# The message header that maps event ids to the request ids they were written under.
REQUEST_IDS_HEADER = "newsroom_request_ids"


@shared_task(name="newsroom.relay_outbox")
def relay_outbox(limit: int = 500) -> int:
    """Hand unhandled events to the broker in commit order; returns how many."""
    hints().running("newsroom.relay_outbox")
    ctx = context()
    with ctx.uow() as uow:
        now = ctx.clock.now()
        lock = uow.session.get_bind().dialect.name == "postgresql"
        entries = outbox.pending(uow.session, now, limit=limit, lock=lock)
        for start in range(0, len(entries), EVENTS_A_MESSAGE):
            chunk = entries[start : start + EVENTS_A_MESSAGE]
            payloads = [e.event.to_json() for e in chunk]
            request_ids = {e.event.event_id: e.request_id for e in chunk if e.request_id}
            celery_app().send_task(
                "newsroom.handle_events",
                args=[payloads],
                headers={REQUEST_IDS_HEADER: request_ids} if request_ids else None,
            )
        outbox.mark_relayed(uow.session, [e.id for e in entries], now)
        uow.commit()
    if len(entries) == limit:
        hints().once("newsroom.relay_outbox")  # there may be more
    if entries:
        oldest = (now - entries[0].created_at).total_seconds()
        log.info("relayed %d events, oldest waited %.3fs", len(entries), oldest)
    return len(entries)
