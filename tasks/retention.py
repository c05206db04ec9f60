"""Deletes personal data past its retention (``workflow.services.retention``): beat runs
it every ``retention_sweep_seconds``. Reacts to no event. Idempotent: each batch claims
its rows and commits on its own, so a run cut short, a second run, or two at once delete
each row once and leave nothing half done.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from tasks.runtime import context
from workflow.services import retention


@shared_task(name="newsroom.retention", autoretry_for=(OperationalError,), max_retries=3)
def run_retention() -> dict[str, int]:
    return retention.run_retention(context()).as_dict()
