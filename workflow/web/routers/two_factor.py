"""Two-factor sign-in from the account page: set it up (a QR code, then a code to
confirm), new recovery codes, turn it off. Setting up needs the password and each other
change a code from the app (counted by the lockout), so that a session left open on a
desk can neither put another phone on the account nor take the second factor away."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow.api.auth import client_address
from workflow.domain.errors import DomainError
from workflow.services import accounts, two_factor
from workflow.web.pages import StaffViewer, redirect, render
from workflow.web.routers.account import account_page, enrol_page, secret_page
from workflow.web.routers.office import refusal

router = APIRouter(prefix="/account/two-factor", include_in_schema=False)

CsrfToken = Annotated[str, Form(max_length=200)]
Code = Annotated[str, Form(max_length=40)]


@router.post("/start", response_model=None)
def start(
    who: StaffViewer,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    assert who.user is not None
    try:
        accounts.start_two_factor(who.ctx, who.user, current_password)
    except DomainError as error:
        status, message = refusal(who, error)
        return account_page(who, status=status, error=message)
    return redirect(who, "/account/two-factor")


@router.get("", response_class=HTMLResponse, response_model=None)
def set_up(who: StaffViewer) -> HTMLResponse | RedirectResponse:
    """The QR code of the set-up started, until it is confirmed."""
    assert who.user is not None
    enrolment = two_factor.pending_enrolment(who.ctx, who.user)
    if enrolment is None:
        return redirect(who, "/account#two-factor")
    return enrol_page(who, enrolment)


@router.post("/confirm", response_model=None)
def confirm(
    who: StaffViewer, code: Code, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    assert who.user is not None
    try:
        codes = two_factor.confirm_enrolment(who.ctx, who.user, code)
    except DomainError as error:
        status, message = refusal(who, error)
        enrolment = two_factor.pending_enrolment(who.ctx, who.user)
        if enrolment is None:
            return account_page(who, status=status, error=message)
        return enrol_page(who, enrolment, status=status, error=message)
    return secret_page(render(who, "recovery_codes.html", codes=codes, next="/account"))


@router.post("/recovery-codes", response_class=HTMLResponse)
def renew_recovery_codes(who: StaffViewer, code: Code, csrf_token: CsrfToken = "") -> HTMLResponse:
    who.check_form(csrf_token)
    assert who.user is not None
    try:
        codes = accounts.renew_recovery_codes(who.ctx, who.user, code, client_address(who.request))
    except DomainError as error:
        status, message = refusal(who, error)
        return account_page(who, status=status, error=message)
    return secret_page(render(who, "recovery_codes.html", codes=codes, next="/account"))


@router.post("/off", response_model=None)
def turn_off(
    who: StaffViewer, code: Code, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    assert who.user is not None
    try:
        accounts.turn_off_two_factor(who.ctx, who.user, code, client_address(who.request))
    except DomainError as error:
        status, message = refusal(who, error)
        return account_page(who, status=status, error=message)
    return redirect(who, "/account", who._("Two-factor sign-in is off."))
