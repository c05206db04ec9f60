"""Sends planned deliveries to journalists, a batch per task; plans and sends the daily
digests.

Planned by ``tasks.events`` when a release is published, scheduled under embargo,
rescheduled, corrected or withdrawn; the consumer then asks for enough batches to cover
the plan. A batch that came back full asks for the next one; beat sweeps every few
seconds for retries that fell due and for leases that ran out.

Beat asks every ``NEWSROOM_DIGEST_SWEEP_SECONDS`` for the digests that are due
(``plan_digests``), which then asks for enough ``send_digests`` batches; those are
claimed, sent and recorded as deliveries are, and beat sweeps them the same way.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from config.settings import get_settings
from tasks.runtime import context, hint
from workflow.distribution.planning import plan_digests as plan_due_digests
from workflow.distribution.sending import DIGESTS, send_batch


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


@shared_task(
    name="newsroom.plan_digests",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=5,
)
def plan_digests() -> int:
    """The digests that are due; two runs at once (two beats) plan each one once."""
    settings = get_settings()
    planned = plan_due_digests(context())
    batches = -(-planned // settings.delivery_batch_size)
    for _ in range(min(batches, settings.delivery_parallel_batches)):
        hint("newsroom.send_digests")
    return planned


@shared_task(
    name="newsroom.send_digests",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=10,
)
def send_digests() -> int:
    settings = get_settings()
    report = send_batch(
        context(),
        limit=settings.delivery_batch_size,
        connections=settings.smtp_connections,
        mailing=DIGESTS,
    )
    if report.claimed == settings.delivery_batch_size:
        hint("newsroom.send_digests")
    return report.claimed
