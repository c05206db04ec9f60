"""Relays outbox rows to the ``newsroom.handle_event`` consumer.

Runs when a commit wrote events (the after-commit hint) and every few seconds from beat
(whatever a crash between commit and hint, or a lost message, left behind).
"""

from __future__ import annotations

import logging

from tasks.app import app
from tasks.runtime import context, hints
from workflow import outbox

log = logging.getLogger(__name__)


@app.task(name="newsroom.relay_outbox")
def relay_outbox(limit: int = 500) -> int:
    """Hand unhandled events to the broker in commit order; returns how many."""
    hints().running("newsroom.relay_outbox")
    ctx = context()
    with ctx.uow() as uow:
        now = ctx.clock.now()
        lock = uow.session.get_bind().dialect.name == "postgresql"
        entries = outbox.pending(uow.session, now, limit=limit, lock=lock)
        for entry in entries:
            app.send_task("newsroom.handle_event", args=[entry.event.to_json()])
        outbox.mark_relayed(uow.session, [e.id for e in entries], now)
        uow.commit()
    if len(entries) == limit:
        hints().once("newsroom.relay_outbox")  # there may be more
    if entries:
        oldest = (now - entries[0].created_at).total_seconds()
        log.info("relayed %d events, oldest waited %.3fs", len(entries), oldest)
    return len(entries)
