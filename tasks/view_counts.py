"""Adds the public pages' view counts to the database in batches.

Reacts to no event: beat runs it every ``settings.view_flush_seconds``. It has work only
when the broker is Redis, where every web process counts views; in the embedded mode
the single web process counts in its memory and flushes itself (see
``workflow.services.view_counts``). Two of these at once add each batch once.
"""

from __future__ import annotations

from functools import lru_cache

from celery import shared_task
from sqlalchemy.exc import OperationalError

from config.settings import get_settings
from tasks.runtime import context
from workflow.services import view_counts


@lru_cache(maxsize=1)
def _counter() -> view_counts.ViewCounter:
    return view_counts.counter_for(get_settings())


@shared_task(
    name="newsroom.flush_view_counts",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def flush_view_counts() -> int:
    if not view_counts.uses_redis(get_settings()):
        return 0
    return view_counts.flush(context(), _counter())
