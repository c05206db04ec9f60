"""Logging in and out in the browser, with the same lockout and session as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow.api.auth import SESSION_COOKIE, client_address
from workflow.domain.errors import DomainError
from workflow.services import accounts
from workflow.services.accounts import TooManyAttempts
from workflow.web.office_times import local_time
from workflow.web.pages import AnyViewer, StaffViewer, Viewer, redirect, render, safe_next
from workflow.web.routers.office import refusal

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(who: AnyViewer, next: str = "/office") -> HTMLResponse:
    return render(who, "login.html", next=safe_next(next), email="", error=None)


@router.post("/login", response_model=None)
def log_in(
    who: AnyViewer,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/office",
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        signed_in = accounts.log_in(who.ctx, email, password, client_address(who.request))
    except TooManyAttempts as error:
        response = render(
            who, "login.html", status=429, next=safe_next(next), email=email, error=error.message
        )
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except DomainError as error:
        return render(
            who, "login.html", status=401, next=safe_next(next), email=email, error=error.message
        )
    signed_in_redirect = redirect(who, safe_next(next))
    signed_in_redirect.set_cookie(
        SESSION_COOKIE,
        signed_in.session_token,
        max_age=int(who.ctx.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=who.ctx.settings.session_cookie_secure or who.request.url.scheme == "https",
        path="/",
    )
    return signed_in_redirect


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
        tokens=[t for t in accounts.list_tokens(who.ctx, user.id) if t.revoked_at is None],
        when=lambda moment: local_time(moment, zone),
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
