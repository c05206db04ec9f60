"""The public release pages' view counts in the web process: the app's counter, one view
per visitor and window, and in the embedded mode the flush to the database. Used by the
release page's handler and by the public page cache's replays of it, which count their
own reader with the same counter."""

from __future__ import annotations

import logging
import threading

from starlette.background import BackgroundTask
from starlette.requests import Request

from workflow.api.auth import client_address
from workflow.services import view_counts
from workflow.services.context import ServiceContext

log = logging.getLogger(__name__)

_counter_lock = threading.Lock()


def view_counter(request: Request) -> view_counts.ViewCounter:
    """This app's counter, made on first use (one per app, shared by its threads)."""
    state = request.app.state
    counter: view_counts.ViewCounter | None = getattr(state, "view_counter", None)
    if counter is None:
        with _counter_lock:
            counter = getattr(state, "view_counter", None)
            if counter is None:
                ctx: ServiceContext = state.ctx
                counter = state.view_counter = view_counts.counter_for(ctx.settings)
    return counter


def flush_if_due(ctx: ServiceContext, counter: view_counts.ViewCounter) -> BackgroundTask | None:
    """In the embedded mode the web process adds its own counts to the database, after
    the response has gone, once every ``view_flush_seconds``."""
    if not isinstance(counter, view_counts.MemoryViewCounter):
        return None  # Redis: beat flushes (tasks/view_counts.py)
    if not counter.claim_flush(ctx.settings.view_flush_seconds):
        return None
    return BackgroundTask(_flush_quietly, ctx, counter)


def visitor_of(request: Request, ctx: ServiceContext) -> str | None:
    """Who sent ``request``, as the view counter tells visitors apart; None for a robot
    that says so (it is not a reader)."""
    agent = request.headers.get("user-agent", "")
    if view_counts.is_robot(agent):
        return None
    return view_counts.visitor_key(ctx.settings.secret_key, client_address(request), agent)


def count_view(
    request: Request, ctx: ServiceContext, counter: view_counts.ViewCounter, release_id: int
) -> None:
    """One view of ``release_id`` by whoever sent ``request``; the counter keeps it to
    one per visitor and window."""
    visitor = visitor_of(request, ctx)
    if visitor is not None:
        counter.record(release_id, visitor)


def _flush_quietly(ctx: ServiceContext, counter: view_counts.ViewCounter) -> None:
    try:
        view_counts.flush(ctx, counter)
    except Exception:  # the counts stay in memory for the next flush
        log.exception("could not add page views to the database; will try again")
