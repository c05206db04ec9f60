"""The machine-translation provider's work.

Reacts to ``TranslationRequested`` (through ``tasks.events``) when
``NEWSROOM_TRANSLATION_PROVIDER=machine``. A provider error stays visible on the request
and is retried with backoff; beat also retries open requests every minute.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy import select

from tasks.runtime import context, hint
from workflow.db.tables import TranslationRequestRow
from workflow.services.machine_translation import ProviderError, draft_translation

MAX_PROVIDER_ATTEMPTS = 10


@shared_task(
    name="newsroom.machine_translate",
    autoretry_for=(ProviderError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=MAX_PROVIDER_ATTEMPTS,
)
def machine_translate(request_id: int) -> bool:
    return draft_translation(context(), request_id) is not None


@shared_task(name="newsroom.retry_machine_translations")
def retry_machine_translations() -> int:
    """Requests whose provider call failed and gave up, retried at a slow pace."""
    ctx = context()
    if ctx.settings.translation_provider != "machine":
        return 0
    with ctx.uow() as uow:
        ids = list(
            uow.session.scalars(
                select(TranslationRequestRow.id).where(
                    TranslationRequestRow.state == "open",
                    TranslationRequestRow.machine_body.is_(None),
                )
            )
        )
    for request_id in ids:
        hint("newsroom.machine_translate", args=[request_id])
    return len(ids)
