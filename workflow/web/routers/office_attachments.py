"""The office's forms for a release's photos and documents: upload one, choose the lead
photo, move one up, remove one, and see any of them before they are public.

Plain forms that work without JavaScript (``static/office-attachments.js`` only adds an
upload progress bar); each posts to the same service function as the API, and a refusal
shows the release page again with the message in the page's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from workflow.domain.errors import DomainError, NotFound, ValidationFailed
from workflow.domain.values import Language
from workflow.services import attachments as svc
from workflow.services.queries import attachments as files
from workflow.web.file_responses import file_response
from workflow.web.pages import StaffViewer, Viewer, redirect
from workflow.web.routers.office import ReleaseId, refusal, release_page, signed_in
from workflow.web.uploads import copied_upload, form_notes, form_words

router = APIRouter(include_in_schema=False)

AttachmentId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
CsrfToken = Annotated[str, Form(max_length=200)]
Note = Annotated[str, Form(max_length=1_000)]


def _back(who: Viewer, release_id: int, notice: str) -> RedirectResponse:
    return redirect(who, f"/office/releases/{release_id}#attachments", notice)


def _refused(who: Viewer, release_id: int, error: DomainError) -> HTMLResponse:
    status, message = refusal(who, error)
    return release_page(who, release_id, status=status, error=message)


@router.post("/office/releases/{release_id}/attachments", response_model=None)
async def upload(
    who: StaffViewer, release_id: ReleaseId, request: Request
) -> HTMLResponse | RedirectResponse:
    async with request.form(max_files=1, max_fields=40) as form:
        token = form.get("csrf_token")
        who.check_form(token if isinstance(token, str) else "")
        upload = form.get("file")
        values = {k: v for k, v in form.items() if isinstance(v, str)}

        def attach() -> HTMLResponse | RedirectResponse:
            if not isinstance(upload, UploadFile) or not upload.filename:
                return _refused(who, release_id, ValidationFailed("file", "choose a file"))
            primary = files.primary_language(who.ctx, release_id)
            if primary is None:
                raise NotFound("release", release_id)
            path = copied_upload(upload)
            try:
                svc.upload_attachment(
                    who.ctx,
                    signed_in(who).id,
                    release_id,
                    path=path,
                    filename=upload.filename,
                    words=form_words(values, primary),
                    notes=form_notes(values, primary),
                )
            except DomainError as error:
                return _refused(who, release_id, error)
            finally:
                path.unlink(missing_ok=True)
            return _back(who, release_id, who._("The file is attached."))

        return await run_in_threadpool(attach)


def _notes(who: Viewer, release_id: int, note: str) -> dict[Language, str]:
    """The one public note these forms carry, as the original version's."""
    return form_notes({"note": note}, files.primary_language(who.ctx, release_id))


def _command(
    who: Viewer, release_id: int, csrf_token: str, run: Callable[[int], Any], notice: str
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        run(signed_in(who).id)
    except DomainError as error:
        return _refused(who, release_id, error)
    return _back(who, release_id, notice)


@router.post(
    "/office/releases/{release_id}/attachments/{attachment_id}/remove", response_model=None
)
def remove(
    who: StaffViewer,
    release_id: ReleaseId,
    attachment_id: AttachmentId,
    csrf_token: CsrfToken = "",
    note: Note = "",
) -> HTMLResponse | RedirectResponse:
    notes = _notes(who, release_id, note)
    return _command(
        who,
        release_id,
        csrf_token,
        lambda actor: svc.remove_attachment(who.ctx, actor, release_id, attachment_id, notes=notes),
        who._("The file is removed."),
    )


@router.post("/office/releases/{release_id}/attachments/{attachment_id}/lead", response_model=None)
def lead(
    who: StaffViewer,
    release_id: ReleaseId,
    attachment_id: AttachmentId,
    csrf_token: CsrfToken = "",
    note: Note = "",
) -> HTMLResponse | RedirectResponse:
    notes = _notes(who, release_id, note)
    return _command(
        who,
        release_id,
        csrf_token,
        lambda actor: svc.arrange_attachments(
            who.ctx, actor, release_id, lead=attachment_id, notes=notes
        ),
        who._("The lead photo is chosen."),
    )


@router.post("/office/releases/{release_id}/attachments/{attachment_id}/up", response_model=None)
def move_up(
    who: StaffViewer,
    release_id: ReleaseId,
    attachment_id: AttachmentId,
    csrf_token: CsrfToken = "",
    note: Note = "",
) -> HTMLResponse | RedirectResponse:
    ids = [shown[next(iter(shown))].id for shown in files.staff_attachments(who.ctx, release_id)]
    if attachment_id not in ids:
        raise NotFound("attachment", attachment_id)
    at = ids.index(attachment_id)
    if at > 0:
        ids[at - 1], ids[at] = ids[at], ids[at - 1]
    notes = _notes(who, release_id, note)
    return _command(
        who,
        release_id,
        csrf_token,
        lambda actor: svc.arrange_attachments(who.ctx, actor, release_id, order=ids, notes=notes),
        who._("The order is changed."),
    )


@router.head("/office/releases/{release_id}/attachments/{attachment_id}")
@router.get("/office/releases/{release_id}/attachments/{attachment_id}")
def staff_file(
    who: StaffViewer,
    release_id: ReleaseId,
    attachment_id: AttachmentId,
    request: Request,
    rendition: Annotated[str, Query(pattern=r"^(original|thumb|page|email|preview)$")] = "original",
) -> Response:
    """Any file of the release for signed-in staff, before it is public."""
    found = files.staff_file(who.ctx, release_id, attachment_id, rendition)
    if found is None:
        raise NotFound("file", attachment_id)
    return file_response(
        request,
        who.ctx.media,
        sha256=found.sha256,
        size=found.size,
        content_type=found.content_type,
        filename=found.filename,
        disposition=found.disposition,
        cache_control="private, no-cache",
        accel_redirect=who.ctx.settings.media_accel_redirect,
    )
