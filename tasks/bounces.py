"""Reads the bounce mailbox: beat runs it every ``bounce_sweep_seconds`` when
``NEWSROOM_BOUNCE_MAILDIR`` is set. Reacts to no event. Idempotent: a message leaves the
mailbox only after its bounces are committed, and a bounce already recorded counts once.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from tasks.runtime import context
from workflow.services import bounces


@shared_task(name="newsroom.read_bounces", autoretry_for=(OperationalError,), max_retries=3)
def read_bounces() -> dict[str, int]:
    ctx = context()
    if ctx.settings.bounce_maildir is None:
        return {}
    return dict(bounces.read_maildir(ctx, ctx.settings.bounce_maildir).counts)
