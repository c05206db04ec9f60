"""The machine-translation provider: a LibreTranslate- or DeepL-compatible HTTP API.

Its output is stored on the translation request as a draft for the assigned translator,
who reviews and submits it like any translation; nothing a machine wrote goes to review
or to the public on its own. An error leaves the request open with the error visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import select

from workflow.db.tables import ReleaseRow, RevisionRow, TranslationRequestRow
from workflow.domain.errors import NotFound
from workflow.services.context import ServiceContext


class ProviderError(Exception):
    """The provider did not answer usefully; the request stays open and is retried."""


@dataclass(frozen=True, slots=True)
class MachineDraft:
    title: str
    body: str


def translate_text(ctx: ServiceContext, text: str, source: str, target: str) -> str:
    settings = ctx.settings
    if not settings.machine_translation_url:
        raise ProviderError("NEWSROOM_MACHINE_TRANSLATION_URL is not set")
    payload = {"q": text, "source": source, "target": target, "format": "text"}
    if settings.machine_translation_key:
        payload["api_key"] = settings.machine_translation_key
    try:
        response = httpx.post(
            settings.machine_translation_url,
            json=payload,
            timeout=settings.machine_translation_timeout,
        )
    except httpx.HTTPError as error:
        raise ProviderError(f"{type(error).__name__}: {error}") from None
    if response.status_code != 200:
        raise ProviderError(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        translated = response.json()["translatedText"]
    except (ValueError, KeyError, TypeError):
        raise ProviderError(f"unexpected answer: {response.text[:200]}") from None
    if not isinstance(translated, str):
        raise ProviderError("unexpected answer: translatedText is not text")
    return translated


def draft_translation(ctx: ServiceContext, request_id: int) -> MachineDraft | None:
    """Ask the provider for a draft of an open request; None if there is nothing to do
    (submitted or cancelled meanwhile, or already drafted). Raises ``ProviderError`` after
    recording it on the request."""
    with ctx.uow() as uow:
        request = uow.session.get(TranslationRequestRow, request_id)
        if request is None:
            raise NotFound("translation request", request_id)
        if request.state != "open" or request.machine_body is not None:
            return None
        release = uow.session.get(ReleaseRow, request.release_id)
        assert release is not None
        source = uow.session.scalar(
            select(RevisionRow)
            .where(
                RevisionRow.release_id == release.id,
                RevisionRow.language == request.source_language,
            )
            .order_by(RevisionRow.number.desc())
            .limit(1)
        )
        assert source is not None  # a request is made from an existing original
        title, body = source.title, source.body
        languages = request.source_language, request.target_language
    try:
        draft = MachineDraft(
            translate_text(ctx, title, *languages)[:300],
            translate_text(ctx, body, *languages),
        )
    except ProviderError as error:
        _record(ctx, request_id, error=str(error))
        raise
    _record(ctx, request_id, draft=draft)
    return draft


def _record(
    ctx: ServiceContext, request_id: int, *, draft: MachineDraft | None = None, error: str = ""
) -> None:
    with ctx.uow() as uow:
        request = uow.session.get(TranslationRequestRow, request_id)
        assert request is not None
        request.provider = "machine"
        request.provider_attempts += 1
        request.provider_error = error
        if draft is not None and request.machine_body is None:
            request.machine_title, request.machine_body = draft.title, draft.body
        uow.commit()
