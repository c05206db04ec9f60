"""The translator's page: the original beside the editor's fields for the language
assigned to them, handed in through ``releases.submit_translation``. Only the assigned
translator finds their request here; anyone else gets "not found"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow.domain.errors import DomainError, NotFound, StaleEdit
from workflow.services import releases as svc
from workflow.services.queries.staff_release import get_release
from workflow.services.queries.translation_requests import (
    TranslationRequestView,
    translation_requests_for,
)
from workflow.web.pages import StaffViewer, Viewer, redirect, render
from workflow.web.routers.office import CsrfToken, office_values, refusal, signed_in
from workflow.web.routers.office_editor import (
    EditorForm,
    Id,
    Posted,
    conflicts_with,
    editor_form,
    text_fields,
)

router = APIRouter(include_in_schema=False)


def _my_request(who: Viewer, request_id: int) -> TranslationRequestView:
    for request in translation_requests_for(who.ctx, signed_in(who).id):
        if request.id == request_id:
            return request
    raise NotFound("translation request", request_id)


def translation_page(
    who: Viewer,
    request_id: int,
    form: EditorForm | None = None,
    *,
    status: int = 200,
    error: str = "",
    conflicts: list[dict[str, Any]] | None = None,
) -> HTMLResponse:
    request = _my_request(who, request_id)
    release = get_release(who.ctx, request.release_id, signed_in(who).id)
    target = release.versions.get(request.target_language)
    if form is None:
        form = editor_form()
        form.texts[request.target_language].update(
            title=target.title if target else "",
            subtitle=target.subtitle if target else "",
            body=target.body if target else "",
            base=request.target_revision,
        )
    return render(
        who,
        "office/translation.html",
        status=status,
        assignment=request,
        release=release,
        source=release.versions[request.source_language],
        form=form,
        conflicts=conflicts or [],
        error=error,
        **office_values(who),
    )


@router.get("/office/translations/{request_id}", response_class=HTMLResponse)
def show_translation(who: StaffViewer, request_id: Id) -> HTMLResponse:
    return translation_page(who, request_id)


@router.post("/office/translations/{request_id}", response_model=None)
def submit_translation(
    who: StaffViewer, request_id: Id, form: Posted, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    request = _my_request(who, request_id)
    if form.preview:
        return translation_page(who, request_id, form)
    lang = request.target_language
    try:
        svc.submit_translation(
            who.ctx,
            signed_in(who).id,
            request_id,
            base_revision=form.texts[lang]["base"],
            **text_fields(form.text(lang)),
        )
    except StaleEdit:
        release = get_release(who.ctx, request.release_id, signed_in(who).id)
        conflicts = conflicts_with(who, release, form, [lang])
        return translation_page(who, request_id, form, status=409, conflicts=conflicts)
    except DomainError as error:
        status, message = refusal(who, error)
        return translation_page(who, request_id, form, status=status, error=message)
    return redirect(who, f"/office/releases/{request.release_id}", who._("Translation submitted."))
