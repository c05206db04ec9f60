"""Publishes scheduled releases when they are due.

Runs every second from beat, and at the exact time for schedules due within a minute
(a timed hint sent when ``ReleaseScheduled`` is handled). Several at once, or two beats by
mistake, still publish each release once: see ``publish_due``.
"""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy.exc import OperationalError

from tasks.runtime import context
from workflow.services.releases import publish_due as publish_due_releases

log = logging.getLogger(__name__)


@shared_task(
    name="newsroom.publish_due",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=10,
    max_retries=5,
)
def publish_due() -> list[int]:
    published = publish_due_releases(context())
    if published:
        log.info("published scheduled releases %s", published)
    return published
