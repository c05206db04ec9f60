"""A preview link as someone outside the office opens it: ``/preview/<token>`` shows the
release's current text read-only, and ``/preview/<token>/files/<id>`` its photos and
documents, each checked as the page is (``workflow.services.preview_links``).

A forged or unknown address answers 404 and an ended link 410, each with a short page in
the visitor's language. No answer is kept or indexed by anyone, and none names this
address to another site: every answer, the refusals too, says ``noindex``, ``no-store``
and ``no-referrer`` (the address is all it takes to read the draft, and a link in its
text would otherwise send it on as the referrer).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from workflow.api.auth import client_address
from workflow.dates import date_time_zone
from workflow.domain.errors import NotFound
from workflow.services import preview_links as previews
from workflow.web.file_responses import file_response
from workflow.web.pages import AnyViewer, Viewer, render

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(min_length=1, max_length=200)]
AttachmentId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Rendition = Annotated[str, Query(pattern=r"^(original|thumb|page|email|preview)$")]

PRIVATE: Final = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def _not_shown(who: Viewer, error: Exception) -> Response:
    """The short page for a preview address that shows nothing: 410 for a link that has
    ended, 404 for anything else."""
    ended = isinstance(error, previews.PreviewEnded)
    return render(who, "preview_ended.html", status=410 if ended else 404, found=ended)


@router.get("/preview/{token}", response_model=None)
def preview_page(who: AnyViewer, token: Token) -> Response:
    try:
        preview = previews.open_preview(who.ctx, token, client_address=client_address(who.request))
    except (previews.PreviewUnavailable, previews.PreviewEnded) as error:
        response = _not_shown(who, error)
    else:
        response = render(
            who,
            "preview.html",
            preview=preview,
            files_base=f"/preview/{token}/files",
            until=date_time_zone(preview.expires_at, who.language, who.ctx.settings.office_zone),
        )
    response.headers.update(PRIVATE)
    return response


@router.head("/preview/{token}/files/{attachment_id}", response_model=None)
@router.get("/preview/{token}/files/{attachment_id}", response_model=None)
def preview_file(
    who: AnyViewer,
    token: Token,
    attachment_id: AttachmentId,
    request: Request,
    rendition: Rendition = "original",
) -> Response:
    """A file the preview shows; fetching one is not an opening of the preview."""
    try:
        found = previews.preview_file(who.ctx, token, attachment_id, rendition)
    except (previews.PreviewUnavailable, previews.PreviewEnded, NotFound) as error:
        response = _not_shown(who, error)
    else:
        response = file_response(
            request,
            who.ctx.media,
            sha256=found.sha256,
            size=found.size,
            content_type=found.content_type,
            filename=found.filename,
            disposition=found.disposition,
            cache_control="no-store",
            accel_redirect=who.ctx.settings.media_accel_redirect,
        )
    response.headers.update(PRIVATE)
    return response
