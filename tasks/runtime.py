"""What a worker process holds: its service context and mail sender, built on first use
and rebuilt in each forked child (a database connection must not cross a fork)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from celery.signals import worker_process_init

from config.settings import get_settings
from workflow.mail.senders import MailSender, build_sender
from workflow.services.context import ServiceContext

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def context() -> ServiceContext:
    return connect_outbox_hint(ServiceContext.from_settings(get_settings()))


@lru_cache(maxsize=1)
def sender() -> MailSender:
    return build_sender(get_settings())


@worker_process_init.connect
def _fresh_after_fork(**_: Any) -> None:
    context.cache_clear()
    sender.cache_clear()


def hint(task_name: str, **options: Any) -> None:
    """Ask for ``task_name`` to run soon. Only a hint: if the broker is unreachable the
    periodic sweep does the same work a little later, so the failure is only logged."""
    from tasks.app import app

    try:
        app.send_task(task_name, retry=False, **options)
    except Exception as error:  # any broker failure: the sweep covers it
        log.warning("hint %s not sent (%s); the sweep will do it", task_name, error)


def wake_relay() -> None:
    hint("newsroom.relay_outbox")


def connect_outbox_hint(ctx: ServiceContext) -> ServiceContext:
    """Make commits through ``ctx`` wake the relay (web and CLI processes)."""
    ctx.outbox_hint = wake_relay
    return ctx
