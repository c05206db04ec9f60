"""The consumer of domain events relayed from the outbox.

Reacts to every event as ``workflow.handlers.REGISTRY`` says: the workflow notifications
it calls for (sent by ``tasks.mail``), the journalists' deliveries (sent by
``tasks.distribution``), and its follow-ups (a timed publication, a machine draft).

Idempotent by event id: notifications and deliveries are keyed by it (or by what they
are for), and the outbox row is marked handled in the same transaction as the work.

Each event is handled with the request id it was written under current (the relay sends
them in the message's headers), so that its lines and the tasks it asks for carry it;
its relay lag, commit to handling, goes to ``newsroom_outbox_relay_lag_seconds``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.exc import OperationalError

from config.settings import Settings
from tasks.relay import REQUEST_IDS_HEADER
from tasks.runtime import context, hint, hints
from workflow import handlers, metrics
from workflow.domain import events as ev
from workflow.domain.errors import ConcurrentUpdate
from workflow.logs import request_context

log = logging.getLogger(__name__)


# Worth waiting for (the database coming back, a concurrent update retried): the event
# is handled again later. The sweep would also relay it again, after REDELIVER_AFTER.
RETRYABLE = (OperationalError, ConcurrentUpdate)
BACKOFF_MAX_SECONDS = 30


@shared_task(name="newsroom.handle_events", bind=True, max_retries=None)
def handle_events(self: Task, payloads: list[dict[str, Any]]) -> None:
    """Several events, in the order given, each in transactions of its own (the relay
    sends them so: one message for a few events instead of one each, see
    ``tasks.relay``). A retryable failure sends what is left back, with backoff; any
    other failure is logged and the next event handled, as a failed ``handle_event``
    would be: the outbox sweep relays that one again."""
    request_ids = _request_ids(self.request)
    for done, payload in enumerate(payloads):
        with request_context(request_ids.get(str(payload.get("event_id")))):
            try:
                handle(payload)
            except RETRYABLE as error:
                countdown = get_exponential_backoff_interval(
                    factor=1,
                    retries=self.request.retries,
                    maximum=BACKOFF_MAX_SECONDS,
                    full_jitter=True,
                )
                raise self.retry(
                    args=[payloads[done:]],
                    exc=error,
                    countdown=countdown,
                    headers={REQUEST_IDS_HEADER: request_ids},
                ) from error
            except Exception:
                log.exception(
                    "event %s not handled; the sweep relays it again", payload.get("event_id")
                )


def _request_ids(request: Any) -> dict[str, str]:
    """The request ids of a message's events, by event id (see ``tasks.relay``)."""
    found = getattr(request, REQUEST_IDS_HEADER, None)
    return found if isinstance(found, dict) else {}


@shared_task(
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
    """Handle one relayed event (``workflow.handlers.handle``)."""
    ctx = context()
    event = ev.Event.from_json(payload)
    lag = (ctx.clock.now() - datetime.fromisoformat(event.occurred_at)).total_seconds()
    log.debug("handling %s %s relay_lag_ms=%d", event.type_name, event.event_id, lag * 1000)
    metrics.relay_lag(lag)
    handlers.handle(ctx, event, _CeleryDispatch(ctx.settings))


class _CeleryDispatch:
    """What an event's handling leaves behind, asked of the workers as hints."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def notices_stored(self) -> None:
        hints().once("newsroom.send_notifications")

    def deliveries_planned(self, count: int) -> None:
        """Enough sending tasks for every worker to take part; full batches ask for more."""
        batches = -(-count // self.settings.delivery_batch_size)
        for _ in range(min(batches, self.settings.delivery_parallel_batches)):
            hint("newsroom.send_deliveries")

    def follow_up(self, task: handlers.FollowUp) -> None:
        options: dict[str, Any] = {}
        if task.args:
            options["args"] = list(task.args)
        if task.eta is not None:
            options["eta"] = task.eta
        hint(task.task, **options)
