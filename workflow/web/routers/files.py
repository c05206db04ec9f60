"""Published photos and documents, for anyone: the visibility rule is
``workflow.services.queries.attachments.public_file``; everything else is HTTP.

A file that is not (or no longer) public answers 404, the same as one that never
existed, so that a guessed address tells nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from workflow.api.auth import Context
from workflow.domain.errors import NotFound
from workflow.services.queries import attachments as files
from workflow.web.file_responses import FILE_CONTENT, file_answers, file_response

router = APIRouter(tags=["public"])

AttachmentId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
# Public for long, but checked again now and then: a withdrawal or a correction that
# removes a file takes effect within this.
CACHE_CONTROL = "public, max-age=300"


def _answer(request: Request, ctx: Context, attachment_id: str, rendition: str) -> Response:
    found = files.public_file(ctx, attachment_id, rendition)
    if found is None:
        raise NotFound("file", attachment_id)
    return file_response(
        request,
        ctx.media,
        sha256=found.sha256,
        size=found.size,
        content_type=found.content_type,
        filename=found.filename,
        disposition=found.disposition,
        cache_control=CACHE_CONTROL,
        accel_redirect=ctx.settings.media_accel_redirect,
    )


# HEAD answers as GET does, without the body; the schema lists GET only.
@router.head("/files/{attachment_id}/r/{rendition}", include_in_schema=False)
@router.get(
    "/files/{attachment_id}/r/{rendition}",
    response_class=Response,
    summary="A published photo's rendition",
    # JPEG, or PNG for a photo with transparency (workflow/media/images.py).
    responses={
        **file_answers({"image/jpeg": {}, "image/png": {}}),
        404: {"description": "Not public"},
    },
)
def rendition(
    attachment_id: AttachmentId,
    rendition: Annotated[str, Path(pattern=r"^(thumb|page|email|preview)$")],
    request: Request,
    ctx: Context,
) -> Response:
    return _answer(request, ctx, attachment_id, rendition)


@router.head("/files/{attachment_id}/{filename}", include_in_schema=False)
@router.get(
    "/files/{attachment_id}/{filename}",
    response_class=Response,
    summary="A published attachment",
    responses={
        **file_answers(FILE_CONTENT),
        404: {"description": "Not public"},
    },
)
def original(
    attachment_id: AttachmentId,
    filename: Annotated[str, Path(max_length=1_000)],
    request: Request,
    ctx: Context,
) -> Response:
    """The file under any name (the name in the address is for people and their
    downloads); a photo's re-encoded original."""
    return _answer(request, ctx, attachment_id, files.ORIGINAL)
