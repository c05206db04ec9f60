"""The office's forms for seeing a release as others will: make a preview link, revoke
one, send oneself its email. Each posts to the same service function as the API
(``workflow.services.preview_links``, ``workflow.services.sample_messages``); a refusal
shows the release page again with the message in the page's language, and has changed
nothing. The list itself is part of the release page (``office.release_page``).

Included before ``office.router``, whose ``/office/releases/{id}/{action}`` would take
``preview-links`` for an action.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow.domain.errors import DomainError, ValidationFailed
from workflow.services import preview_links as previews
from workflow.services import sample_messages
from workflow.web.pages import StaffViewer, Viewer, redirect
from workflow.web.routers.office import ReleaseId, refusal, release_page, signed_in

router = APIRouter(include_in_schema=False)

CsrfToken = Annotated[str, Form(max_length=200)]
Days = Annotated[str, Form(max_length=20)]
LinkId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def _days(typed: str) -> int:
    typed = typed.strip()
    if not typed:
        return previews.DEFAULT_DAYS
    try:
        return int(typed)
    except ValueError:
        raise ValidationFailed(
            "expires_in_days", previews.DAYS_RULE, days=previews.MAX_DAYS
        ) from None


def _refused(who: Viewer, release_id: int, error: DomainError) -> HTMLResponse:
    status, message = refusal(who, error)
    return release_page(who, release_id, status=status, error=message)


@router.post("/office/releases/{release_id}/preview-links", response_model=None)
def create(
    who: StaffViewer, release_id: ReleaseId, expires_in_days: Days = "", csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        previews.create_preview_link(
            who.ctx, signed_in(who).id, release_id, expires_in_days=_days(expires_in_days)
        )
    except DomainError as error:
        return _refused(who, release_id, error)
    notice = who._("The preview link is made: copy it from the list of preview links.")
    return redirect(who, f"/office/releases/{release_id}#preview-links", notice)


@router.post("/office/releases/{release_id}/preview-links/{link_id}/revoke", response_model=None)
def revoke(
    who: StaffViewer, release_id: ReleaseId, link_id: LinkId, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        previews.revoke_preview_link(who.ctx, signed_in(who).id, link_id, release_id=release_id)
    except DomainError as error:
        return _refused(who, release_id, error)
    notice = who._("The preview link is revoked: it no longer opens.")
    return redirect(who, f"/office/releases/{release_id}#preview-links", notice)


@router.post("/office/releases/{release_id}/test-email", response_model=None)
def test_email(
    who: StaffViewer, release_id: ReleaseId, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        to = sample_messages.send_test_email(who.ctx, signed_in(who).id, release_id)
    except DomainError as error:
        return _refused(who, release_id, error)
    notice = who._("A test copy of the email is on its way to %(address)s.", address=to)
    return redirect(who, f"/office/releases/{release_id}#preview-links", notice)
