"""The renditions of an uploaded photo.

Reacts to ``AttachmentUploaded`` (through ``tasks.events``): makes the photo's renditions
once. Beat's sweep asks again for photos still waiting after a minute, which a lost
message or a killed worker left behind; the work is idempotent.
"""

from __future__ import annotations

from celery import shared_task

from tasks.runtime import context, hint
from workflow.services.attachments import make_renditions, pending_renditions

STALE_SECONDS = 60.0


@shared_task(name="newsroom.make_renditions", acks_late=True)
def renditions(attachment_id: str) -> bool:
    return make_renditions(context(), attachment_id)


@shared_task(name="newsroom.sweep_renditions")
def sweep_renditions() -> int:
    waiting = pending_renditions(context(), older_than_seconds=STALE_SECONDS)
    for attachment_id in waiting:
        hint("newsroom.make_renditions", args=[attachment_id])
    return len(waiting)
