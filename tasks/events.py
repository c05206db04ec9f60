"""The consumer of domain events relayed from the outbox.

Reacts to:
- every release event: the workflow notifications it calls for (submitted → approvers;
  changes requested, approved, rejected, published → the author; translation requested →
  the translator; a corrected original → its translators);
- ``ReleaseScheduled`` due within the ETA horizon: a timed publication sweep;
- ``TranslationRequested`` with the machine provider configured: a machine draft;
- publication, an embargoed schedule, a reschedule or unschedule under embargo, a
  correction, a withdrawal: the journalists' deliveries (``tasks.distribution``).

Idempotent by event id: notifications and deliveries are keyed by it (or by what they
are for), and the outbox row is marked handled in the same transaction as the work.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.exc import OperationalError

from tasks.app import app
from tasks.runtime import context, hint, hints
from workflow import outbox
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain import events as ev
from workflow.domain.errors import ConcurrentUpdate
from workflow.services.context import ServiceContext
from workflow.services.distribution import Planned, plan_in
from workflow.services.notifications import store_for_event

log = logging.getLogger(__name__)


# Worth waiting for (the database coming back, a concurrent update retried): the event
# is handled again later. The sweep would also relay it again, after REDELIVER_AFTER.
RETRYABLE = (OperationalError, ConcurrentUpdate)
BACKOFF_MAX_SECONDS = 30


@app.task(name="newsroom.handle_events", bind=True, max_retries=None)
def handle_events(self: Task, payloads: list[dict[str, Any]]) -> None:
    """Several events, in the order given, each in transactions of its own (the relay
    sends them so: one message for a few events instead of one each, see
    ``tasks.relay``). A retryable failure sends what is left back, with backoff; any
    other failure is logged and the next event handled, as a failed ``handle_event``
    would be: the outbox sweep relays that one again."""
    for done, payload in enumerate(payloads):
        try:
            handle(payload)
        except RETRYABLE as error:
            countdown = get_exponential_backoff_interval(
                factor=1,
                retries=self.request.retries,
                maximum=BACKOFF_MAX_SECONDS,
                full_jitter=True,
            )
            raise self.retry(args=[payloads[done:]], exc=error, countdown=countdown) from error
        except Exception:
            log.exception(
                "event %s not handled; the sweep relays it again", payload.get("event_id")
            )


@app.task(
    name="newsroom.handle_event",
    autoretry_for=RETRYABLE,
    retry_backoff=True,
    retry_backoff_max=BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=None,  # the database coming back is worth waiting for; the sweep also covers it
)
def handle_event(payload: dict[str, Any]) -> None:
    """One event (``handle``): the relay sent one a message before ``handle_events``."""
    handle(payload)


def handle(payload: dict[str, Any]) -> None:
    """Handle one relayed event: its notifications, its deliveries, its follow-ups."""
    ctx = context()
    event = ev.Event.from_json(payload)
    now = ctx.clock.now()
    lag = (now - datetime.fromisoformat(event.occurred_at)).total_seconds()
    log.info("handling %s %s relay_lag_ms=%d", event.type_name, event.event_id, lag * 1000)
    # The notifications, the deliveries and the mark that the event was handled: one
    # transaction, so that the event is handled wholly or not at all (then again). But a
    # large plan is committed in growing steps, so that sending begins while the rest
    # is planned (20,000 rows take PostgreSQL about 0.4 s): the event is marked handled
    # with the last step, and handling it again plans only what is missing.
    settings = ctx.settings
    step = settings.delivery_batch_size * settings.delivery_parallel_batches
    with ctx.uow() as uow:
        notified = store_for_event(ctx, uow.session, event)
        planned = _plan_step(ctx, uow, event, after=0, limit=step)
    # What was committed is what the hints ask to be done; were they lost, the sweeps do it.
    if notified:
        hints().once("newsroom.send_notifications")
    _ask_for_batches(planned.added)
    while planned.last is not None:
        step *= 4  # each step planned while the one before is sent
        with ctx.uow() as uow:
            planned = _plan_step(ctx, uow, event, after=planned.last, limit=step)
        _ask_for_batches(planned.added)
    if isinstance(event, ev.ReleaseScheduled):
        publish_at = datetime.fromisoformat(event.publish_at)
        if (publish_at - now).total_seconds() <= ctx.settings.eta_horizon_seconds:
            # Sharpens the timing only: the sweep re-checks, and publishes once.
            hint("newsroom.publish_due", eta=publish_at)
    machine = ctx.settings.translation_provider == "machine"
    if isinstance(event, ev.TranslationRequested) and machine:
        hint("newsroom.machine_translate", args=[event.request_id])


def _plan_step(
    ctx: ServiceContext, uow: UnitOfWork, event: ev.Event, *, after: int, limit: int
) -> Planned:
    """The event's deliveries to the next ``limit`` subscribers after ``after``,
    committed; with the event marked handled if that was the last step."""
    planned = plan_in(ctx, uow.session, event, after=after, limit=limit)
    if planned.last is None:
        outbox.mark_handled(uow.session, event.event_id, ctx.clock.now())
    uow.commit()
    return planned


def _ask_for_batches(planned: int) -> None:
    """Enough sending tasks for every worker to take part; full batches ask for more."""
    settings = context().settings
    batches = -(-planned // settings.delivery_batch_size)
    for _ in range(min(batches, settings.delivery_parallel_batches)):
        hint("newsroom.send_deliveries")
