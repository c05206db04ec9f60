"""Logging in and out in the browser, with the same lockout and session as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow.api.auth import SESSION_COOKIE, client_address
from workflow.domain.errors import DomainError
from workflow.services import accounts
from workflow.services.accounts import TooManyAttempts
from workflow.web.pages import AnyViewer, redirect, render, safe_next

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
