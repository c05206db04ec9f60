"""Sends planned deliveries to journalists, a batch per task.

Planned by ``tasks.events`` when a release is published, scheduled under embargo,
rescheduled, corrected or withdrawn; the consumer then asks for enough batches to cover
the plan. A batch that came back full asks for the next one; beat sweeps every few
seconds for retries that fell due and for leases that ran out.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from config.settings import get_settings
from tasks.runtime import context, hint
from workflow.distribution.sending import send_batch


@shared_task(
    name="newsroom.send_deliveries",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=10,
)
def send_deliveries() -> int:
    settings = get_settings()
    report = send_batch(
        context(), limit=settings.delivery_batch_size, connections=settings.smtp_connections
    )
    if report.claimed == settings.delivery_batch_size:
        hint("newsroom.send_deliveries")
    return report.claimed
