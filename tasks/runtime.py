"""What a process of the service holds for its tasks: the Celery app it sends through,
and a worker's service context and mail sender, each built on first use (the context
and the sender rebuilt in each forked child: a database connection must not cross a
fork); and the hints that ask for a task to run soon."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import after_setup_logger, worker_init, worker_process_init

from config.settings import get_settings
from tasks.configuration import create_app
from tasks.worker_log import demote_routine_records
from workflow.heap import freeze_what_startup_made
from workflow.mail.senders import MailSender, build_sender
from workflow.services.context import ServiceContext

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

# How long a hint waits for its run before a new one may be sent anyway (a run held up
# behind a backlog that long is asked for again: a run more, never one less).
WAITING_MS = 10_000


@lru_cache(maxsize=1)
def celery_app() -> Celery:
    """This process's Celery app, from the settings: in the worker and beat the app they
    run (their entry point, ``tasks.app``, takes it from here), elsewhere the one hints
    are sent through. Kept across a fork, as the worker's own app is."""
    return create_app()


@lru_cache(maxsize=1)
def context() -> ServiceContext:
    return connect_outbox_hint(ServiceContext.from_settings(get_settings()))


@lru_cache(maxsize=1)
def sender() -> MailSender:
    return build_sender(get_settings())


@lru_cache(maxsize=1)
def hints() -> Hints:
    return Hints(celery_app())


@after_setup_logger.connect
def _routine_at_debug(**_: Any) -> None:
    """Celery's line for every task received, run and sent is DEBUG, so that INFO tells
    what happened (``tasks.worker_log``)."""
    demote_routine_records()


@worker_init.connect
def _freeze_before_the_pool_forks(**_: Any) -> None:
    """What the worker imported is exempt from full collections, in its pool children
    too, which share it instead of copying it (``workflow.heap``)."""
    freeze_what_startup_made()


@worker_process_init.connect
def _fresh_after_fork(**_: Any) -> None:
    context.cache_clear()
    sender.cache_clear()
    hints.cache_clear()


class Hints:
    """Requests, through ``app``'s broker, for a task to run soon.

    A hint is only that: if the broker is unreachable the periodic sweep does the same
    work a little later, so a failure is only logged. ``once`` sends none while an
    earlier request for the same task is still waiting to run, because that run will
    see everything committed before the hint: the task calls ``running`` when it starts,
    before it reads the database, which clears the waiting flag (a key in the broker's
    Redis, set only when no request was waiting). So a burst of commits costs one run,
    not one each. With the embedded broker there is no Redis: every hint is sent.
    """

    def __init__(self, app: Celery) -> None:
        self.app = app
        url = str(app.conf.broker_url or "")
        self._flags: redis.Redis | None = None
        if url.startswith(("redis://", "rediss://")):
            import redis

            # Short timeouts: the web's hint runs in the request (as the broker's does).
            self._flags = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=0.5)

    def send(self, task_name: str, **options: Any) -> bool:
        """Ask for ``task_name`` to run soon; whether the broker took the request."""
        try:
            self.app.send_task(task_name, retry=False, **options)
        except Exception as error:  # any broker failure: the sweep covers it
            log.warning("hint %s not sent (%s); the sweep will do it", task_name, error)
            return False
        return True

    def once(self, task_name: str, **options: Any) -> None:
        """Ask for ``task_name`` to run soon (with ``options``, as ``send``), unless a
        request for it is waiting."""
        flagged = False
        if self._flags is not None:
            try:
                flagged = bool(self._flags.set(_waiting(task_name), 1, nx=True, px=WAITING_MS))
            except Exception as error:  # Redis down: send, and let send report it
                log.warning("hint %s: waiting flag not read (%s)", task_name, error)
            else:
                if not flagged:
                    return  # the waiting run will see what was committed before now
        if not self.send(task_name, **options) and flagged:
            self.running(task_name)  # nothing is waiting after all

    def running(self, task_name: str) -> None:
        """A run of ``task_name`` starts: a commit from now on needs a new request."""
        if self._flags is None:
            return
        try:
            self._flags.delete(_waiting(task_name))
        except Exception as error:  # the flag expires by itself
            log.warning("hint %s: waiting flag not cleared (%s)", task_name, error)


def _waiting(task_name: str) -> str:
    return f"newsroom:hint-waiting:{task_name}"


def hint(task_name: str, **options: Any) -> None:
    """Ask for ``task_name`` to run soon (see ``Hints``)."""
    hints().send(task_name, **options)


def wake_relay() -> None:
    """Ask for a relay run after ``relay_gather_seconds``: every commit meanwhile finds
    that request waiting and sends none, so that under load the relay runs a few times a
    second, each run relaying several commits' events in one message, rather than once
    a commit. A Celery task, even one with nothing to do, costs the worker more CPU than
    handling a workflow event."""
    gather = get_settings().relay_gather_seconds
    hints().once("newsroom.relay_outbox", **({"countdown": gather} if gather > 0 else {}))


def connect_outbox_hint(ctx: ServiceContext, *, in_background: bool = False) -> ServiceContext:
    """Make commits through ``ctx`` wake the relay (web, worker and CLI processes);
    ``in_background``: from a thread of its own (see ``HintsInBackground``)."""
    ctx.outbox_hint = HintsInBackground(wake_relay) if in_background else wake_relay
    return ctx


class HintsInBackground:
    """Sends a hint from a thread of its own, so that the request whose commit asked for
    it does not wait for the broker: a round trip to Redis at least, a few when the hint
    is sent, each one more wait for the thread under load. Asks that come while a hint
    is being sent make one more, sent after them: every commit is followed by a hint
    sent after it, as the relay needs (``Hints``). A hint lost with the process is one
    more the sweep covers."""

    def __init__(self, hint: Callable[[], None]) -> None:
        self._hint = hint
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        self._wanted.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="newsroom-hints", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()  # before sending: a commit from now on asks again
            try:
                self._hint()
            except Exception:  # a hint is worth less than the thread that sends them
                log.exception("hint not sent; the sweep will do its work")
