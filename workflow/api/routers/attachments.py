"""A release's photos and documents, for staff: upload, list, re-word, arrange, remove,
and fetch any of them before they are public.

An upload is ``multipart/form-data``: the ``file``, and for each language version its
words as form fields: ``title``, ``alt``, ``caption`` and ``credit`` speak for the
release's original language, ``title_en``, ``alt_ko`` and the like for a named one. On a
published release a change is a correction: ``note`` (or ``note_ko``, ``note_en``) is
each live version's public note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from workflow import links
from workflow.api.auth import Acting, Context, CurrentCaller
from workflow.api.errors import responses
from workflow.api.schemas import (
    MAX_ID,
    AttachmentOrderIn,
    AttachmentOut,
    AttachmentWordsIn,
    OutcomeOut,
    WordsIO,
)
from workflow.domain.errors import NotFound, ValidationFailed
from workflow.domain.values import Language
from workflow.services import attachments as svc
from workflow.services.context import ServiceContext
from workflow.services.queries import attachments as files
from workflow.web.file_responses import FILE_CONTENT, file_answers, file_response
from workflow.web.uploads import WORD_FIELDS, form_notes, form_words, spooled_upload

router = APIRouter(prefix="/api/v1/releases", tags=["attachments"])

ReleaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
AttachmentId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
CHANGE = responses(401, 403, 404, 409, 422)


def _field_rules(model: type[BaseModel], name: str) -> dict[str, Any]:
    """A JSON field's rules, for the same words sent as a form field."""
    rules = dict(model.model_json_schema()["properties"][name])
    if "additionalProperties" in rules:  # a map by language: the rules of each value
        rules = dict(rules["additionalProperties"])
    return {key: rules[key] for key in ("type", "maxLength", "pattern") if key in rules}


# The upload form, described for /openapi.json: FastAPI cannot infer it from a handler
# that streams the form itself. Its words keep the rules of the JSON that changes them.
_FORM_FIELD_RULES = {
    **{name: _field_rules(WordsIO, name) for name in WORD_FIELDS},
    "note": _field_rules(AttachmentWordsIn, "notes"),
}
_UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **{
                            f"{name}{suffix}": rules
                            for name, rules in _FORM_FIELD_RULES.items()
                            for suffix in ("", "_ko", "_en")
                        },
                    },
                }
            }
        },
    }
}


def attachment_out(
    ctx: ServiceContext, release_id: int, shown: Mapping[Language, files.Shown]
) -> AttachmentOut:
    first = next(iter(shown.values()))
    file = first.file
    base = ctx.settings.public_base_url
    return AttachmentOut(
        id=file.id,
        kind="image" if file.is_image else "document",
        content_type=file.content_type,
        label=file.label,
        filename=file.filename,
        size=file.size,
        width=file.width,
        height=file.height,
        status=file.status,
        lead=first.lead,
        words={
            language: WordsIO(
                title=s.words.title, alt=s.words.alt, caption=s.words.caption, credit=s.words.credit
            )
            for language, s in shown.items()
        },
        public_url=links.file_url(base, file.id, files.served_name(file)),
        staff_url=f"/api/v1/releases/{release_id}/attachments/{file.id}/file",
    )


def _listed(ctx: ServiceContext, release_id: int) -> list[AttachmentOut]:
    return [attachment_out(ctx, release_id, s) for s in files.staff_attachments(ctx, release_id)]


@router.post(
    "/{release_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentOut,
    responses=responses(400, 401, 403, 404, 409, 413, 415, 422),
    summary="Attach a photo or document",
    openapi_extra=_UPLOAD_FORM,
)
async def upload(
    release_id: ReleaseId, request: Request, ctx: Context, who: Acting
) -> AttachmentOut:
    """Attach a file, last in the release's order. A photo needs alt text in the
    original's language; its renditions are made just after (``status`` says when)."""
    async with request.form(max_files=1, max_fields=40) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed("file", "send the file as the form field 'file'")
        primary = await run_in_threadpool(files.primary_language, ctx, release_id)
        if primary is None:
            raise NotFound("release", release_id)
        path = await spooled_upload(upload)
        try:
            attachment_id, _ = await who.act(
                lambda actor: svc.upload_attachment(
                    ctx,
                    actor,
                    release_id,
                    path=path,
                    filename=upload.filename or "",
                    words=form_words(form, primary),
                    notes=form_notes(form, primary),
                )
            )
        finally:
            path.unlink(missing_ok=True)
    return await run_in_threadpool(_one, ctx, release_id, attachment_id)


def _one(ctx: ServiceContext, release_id: int, attachment_id: str) -> AttachmentOut:
    for item in _listed(ctx, release_id):
        if item.id == attachment_id:
            return item
    raise NotFound("attachment", attachment_id)


@router.get(
    "/{release_id}/attachments",
    response_model=list[AttachmentOut],
    responses=responses(401, 404, 422),
    summary="List attachments",
)
def list_attachments(
    release_id: ReleaseId, ctx: Context, who: CurrentCaller
) -> list[AttachmentOut]:
    """The release's current attachments in the order its page shows them."""
    return _listed(ctx, release_id)


@router.patch(
    "/{release_id}/attachments/{attachment_id}",
    response_model=AttachmentOut,
    responses=CHANGE,
    summary="Change an attachment's words",
)
async def update_words(
    release_id: ReleaseId,
    attachment_id: AttachmentId,
    data: AttachmentWordsIn,
    ctx: Context,
    who: Acting,
) -> AttachmentOut:
    """Only the fields given change, in the versions named."""
    words = {language: w.model_dump(exclude_unset=True) for language, w in data.words.items()}
    await who.act(
        lambda actor: svc.update_attachment(
            ctx, actor, release_id, attachment_id, words=words, notes=data.notes
        )
    )
    return await run_in_threadpool(_one, ctx, release_id, attachment_id)


@router.put(
    "/{release_id}/attachments",
    response_model=list[AttachmentOut],
    responses=CHANGE,
    summary="Reorder attachments, choose the lead photo",
)
async def arrange(
    release_id: ReleaseId, data: AttachmentOrderIn, ctx: Context, who: Acting
) -> list[AttachmentOut]:
    """``order`` lists every attachment id once; ``lead`` names the photo to lead with."""
    if data.order is None and data.lead is None:
        raise ValidationFailed("order", "give an order, a lead photo, or both")
    await who.act(
        lambda actor: svc.arrange_attachments(
            ctx, actor, release_id, order=data.order, lead=data.lead, notes=data.notes
        )
    )
    return await run_in_threadpool(_listed, ctx, release_id)


@router.delete(
    "/{release_id}/attachments/{attachment_id}",
    response_model=OutcomeOut,
    responses=CHANGE,
    summary="Remove an attachment",
)
async def remove(
    release_id: ReleaseId,
    attachment_id: AttachmentId,
    ctx: Context,
    who: Acting,
    note_ko: Annotated[str, Query(max_length=1_000)] = "",
    note_en: Annotated[str, Query(max_length=1_000)] = "",
) -> OutcomeOut:
    """The earlier revisions that showed it keep it; on a published release the public
    stops seeing it once the correction is approved (``note_ko``/``note_en``: its notes)."""
    notes = {Language.KO: note_ko, Language.EN: note_en}
    outcome = await who.act(
        lambda actor: svc.remove_attachment(
            ctx,
            actor,
            release_id,
            attachment_id,
            notes={k: v for k, v in notes.items() if v.strip()},
        )
    )
    return OutcomeOut.of(outcome)


@router.head("/{release_id}/attachments/{attachment_id}/file", include_in_schema=False)
@router.get(
    "/{release_id}/attachments/{attachment_id}/file",
    responses={
        **file_answers(FILE_CONTENT),
        **responses(401, 404, 422),
    },
    response_class=Response,
    summary="Fetch an attachment (staff)",
)
def staff_file(
    release_id: ReleaseId,
    attachment_id: AttachmentId,
    request: Request,
    ctx: Context,
    who: CurrentCaller,
    rendition: Annotated[str, Query(pattern=r"^(original|thumb|page|email|preview)$")] = "original",
) -> Response:
    """Any attachment of any release, for staff (a photo once its renditions exist)."""
    found = files.staff_file(ctx, release_id, attachment_id, rendition)
    if found is None:
        raise NotFound("file", f"{attachment_id} ({rendition})")
    return file_response(
        request,
        ctx.media,
        sha256=found.sha256,
        size=found.size,
        content_type=found.content_type,
        filename=found.filename,
        disposition=found.disposition,
        cache_control="private, no-cache",
        accel_redirect=ctx.settings.media_accel_redirect,
    )
