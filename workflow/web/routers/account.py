"""Logging in and out in the browser, with the same lockout and session as the API.

With a second factor on, a right password leads to a page that asks for its code; for
someone the office's policy covers who has none, to a page that sets one up. Between the
two steps the browser holds only a signed state of a few minutes (in the form), never a
session; a wrong code counts toward the lockout like a wrong password.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.api.auth import SESSION_COOKIE, client_address
from workflow.dates import date_and_time
from workflow.domain.errors import DomainError
from workflow.one_time_codes import display_secret
from workflow.services import accounts, two_factor
from workflow.services.accounts import (
    AuthenticationFailed,
    CodeNeeded,
    SignedIn,
    TooManyAttempts,
    WrongSecondFactor,
)
from workflow.web.pages import AnyViewer, StaffViewer, Viewer, redirect, render, safe_next
from workflow.web.qr_codes import qr_svg
from workflow.web.routers.office import refusal

router = APIRouter(include_in_schema=False)

AnyResponse = TypeVar("AnyResponse", bound=Response)


@router.get("/login", response_class=HTMLResponse)
def login_page(who: AnyViewer, next: str = "/office") -> HTMLResponse:
    return render(who, "login.html", next=safe_next(next), email="", error=None, **ways(who))


def ways(who: Viewer) -> dict[str, Any]:
    """How the login page offers to sign in: a password form, a single sign-on button."""
    settings = who.ctx.settings
    return {
        "password_sign_in": settings.password_sign_in,
        "sso_name": settings.oidc_provider_name if settings.single_sign_on else "",
    }


@router.post("/login", response_model=None)
def log_in(
    who: AnyViewer,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/office",
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    next = safe_next(next)
    try:
        outcome = accounts.sign_in(who.ctx, email, password, client_address(who.request))
    except DomainError as error:
        return login_refused(who, "login.html", error, next=next, email=email)
    if isinstance(outcome, CodeNeeded):
        return second_step(who, outcome, next)
    return signed_in_response(who, outcome, redirect(who, next))


def second_step(who: Viewer, needed: CodeNeeded, next: str) -> HTMLResponse:
    if not needed.enrol:
        return render(who, "login_code.html", state=needed.state, next=next, error=None)
    enrolment = two_factor.pending_enrolment(who.ctx, needed.user) or two_factor.start_enrolment(
        who.ctx, needed.user
    )
    return enrol_page(who, enrolment, state=needed.state, next=next)


def enrol_page(
    who: Viewer,
    enrolment: two_factor.Enrolment,
    *,
    state: str = "",
    next: str = "",
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    """The set-up page: at sign-in (with the state) or from the account page."""
    return secret_page(
        render(
            who,
            "two_factor_setup.html",
            status=status,
            qr=qr_svg(enrolment.uri, who._("QR code for your authenticator app")),
            secret=display_secret(enrolment.secret),
            state=state,
            next=next,
            at_sign_in=bool(state),
            error=error,
        )
    )


def secret_page(response: HTMLResponse) -> HTMLResponse:
    """A page that shows a secret or recovery codes: kept by no cache, browser's included."""
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/login/code", response_model=None)
def log_in_with_code(
    who: AnyViewer,
    state: Annotated[str, Form(max_length=1000)],
    code: Annotated[str, Form(max_length=40)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/office",
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    next = safe_next(next)
    try:
        signed_in = accounts.finish_sign_in(who.ctx, state, code, client_address(who.request))
    except (AuthenticationFailed, TooManyAttempts) as error:
        return login_refused(who, "login_code.html", error, next=next, state=state)
    except DomainError as error:  # the state: forged or too old
        return login_refused(who, "login.html", error, next=next, email="")
    return signed_in_response(who, signed_in, redirect(who, next))


@router.post("/login/enrol", response_model=None)
def log_in_by_enrolling(
    who: AnyViewer,
    state: Annotated[str, Form(max_length=1000)],
    code: Annotated[str, Form(max_length=40)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/office",
) -> HTMLResponse:
    who.check_form(csrf_token)
    next = safe_next(next)
    address = client_address(who.request)
    try:
        signed_in, codes = accounts.finish_sign_in_by_enrolling(who.ctx, state, code, address)
    except (AuthenticationFailed, TooManyAttempts) as error:
        user = accounts.state_user(who.ctx, state)
        enrolment = two_factor.pending_enrolment(who.ctx, user)
        if enrolment is None:
            return login_refused(who, "login.html", error, next=next, email=user.email)
        status, message = _refusal(who, error)
        page = enrol_page(who, enrolment, state=state, next=next, status=status, error=message)
        return _with_retry_after(page, error)
    except DomainError as error:
        return login_refused(who, "login.html", error, next=next, email="")
    signed_in_who = Viewer(
        who.request, who.ctx, signed_in.user, signed_in.session_token, who.language
    )
    page = secret_page(render(signed_in_who, "recovery_codes.html", codes=codes, next=next))
    return signed_in_response(who, signed_in, page)


def _refusal(who: Viewer, error: DomainError) -> tuple[int, str]:
    if isinstance(error, TooManyAttempts):
        message = who._(
            "Too many failed sign-ins; try again in %(seconds)s seconds.",
            seconds=error.retry_after,
        )
        return 429, message
    if isinstance(error, WrongSecondFactor):
        return 401, who.refusal(error)
    if isinstance(error, AuthenticationFailed):
        return 401, who.refusal(error)
    return refusal(who, error)


def _with_retry_after(response: HTMLResponse, error: DomainError) -> HTMLResponse:
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def login_refused(who: Viewer, template: str, error: DomainError, **values: str) -> HTMLResponse:
    """A sign-in page again, with why, at the status the API would answer."""
    status, message = _refusal(who, error)
    shown: dict[str, Any] = {**values, **(ways(who) if template == "login.html" else {})}
    page = render(who, template, status=status, error=message, **shown)
    return _with_retry_after(page, error)


def signed_in_response(who: Viewer, signed_in: SignedIn, response: AnyResponse) -> AnyResponse:
    """``response``, with the new session's cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.session_token,
        max_age=int(who.ctx.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=who.ctx.settings.session_cookie_secure or who.request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def log_out(
    who: AnyViewer, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    if who.session_token is not None:
        who.check_form(csrf_token)
        accounts.log_out(who.ctx, who.session_token)
    response = redirect(who, "/")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def account_page(who: Viewer, *, status: int = 200, error: str = "") -> HTMLResponse:
    """The signed-in person's password, browser sessions and tokens."""
    user = who.user
    assert user is not None  # StaffViewer sends anyone else to the login page
    zone = who.ctx.settings.office_zone
    return render(
        who,
        "account.html",
        status=status,
        error=error,
        sessions=accounts.list_sessions(who.ctx, user.id, current_token=who.session_token),
        two_factor=two_factor.status(who.ctx, user),
        has_password=accounts.has_password(who.ctx, user.id),
        tokens=[t for t in accounts.list_tokens(who.ctx, user.id) if t.revoked_at is None],
        when=lambda moment: date_and_time(moment, who.language, zone),
    )


@router.get("/account", response_class=HTMLResponse)
def show_account(who: StaffViewer) -> HTMLResponse:
    return account_page(who)


@router.post("/account/password", response_model=None)
def change_password(
    who: StaffViewer,
    current_password: Annotated[str, Form(max_length=1024)],
    new_password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    assert who.user is not None
    try:
        accounts.change_own_password(
            who.ctx,
            who.user.id,
            current_password,
            new_password,
            keep_session=who.session_token,
        )
    except DomainError as error:
        status, message = refusal(who, error)
        return account_page(who, status=status, error=message)
    return redirect(
        who, "/account", who._("Your password is changed; every other session and token ended.")
    )


@router.post("/account/sessions/{session_id}/end", response_model=None)
def end_session(
    who: StaffViewer,
    session_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    who.check_form(csrf_token)
    assert who.user is not None
    accounts.end_session(who.ctx, who.user.id, session_id)
    return redirect(who, "/account", who._("The session is ended."))


@router.post("/account/tokens/{token_id}/revoke", response_model=None)
def revoke_token(
    who: StaffViewer,
    token_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    who.check_form(csrf_token)
    assert who.user is not None
    accounts.revoke_token(who.ctx, who.user.id, token_id)
    return redirect(who, "/account", who._("The token is revoked."))
