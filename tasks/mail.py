"""Sends workflow notifications and watches translation deadlines.

``send_notifications`` runs when an event stored notifications (a hint) and every few
seconds from beat (retries, leases of killed workers); ``translation_deadlines`` every
minute, for reminders before a translation is due and the escalation after.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from tasks.runtime import context, hints, sender
from workflow.services.notifications import queue_deadline_notices, send_due_notifications


@shared_task(
    name="newsroom.send_notifications",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def send_notifications() -> int:
    hints().running("newsroom.send_notifications")
    report = send_due_notifications(context(), sender())
    return report.sent


@shared_task(
    name="newsroom.translation_deadlines",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def translation_deadlines() -> int:
    added = queue_deadline_notices(context())
    if added:
        hints().once("newsroom.send_notifications")
    return added
