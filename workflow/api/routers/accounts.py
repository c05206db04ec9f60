"""Signing in and out, and personal access tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, Security, status

from workflow.api.auth import (
    SESSION_COOKIE,
    Context,
    CurrentCaller,
    check_csrf,
    client_address,
    session_scheme,
)
from workflow.api.errors import responses
from workflow.api.schemas import (
    MAX_ID,
    BrowserSessionOut,
    IssuedTokenOut,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    SessionOut,
    TokenIn,
    TokenLoginIn,
    TokenOut,
)
from workflow.auth import csrf_token
from workflow.domain.users import User
from workflow.services import accounts

router = APIRouter(prefix="/api/v1", tags=["accounts"])

LOGIN_ERRORS = responses(400, 401, 403, 413, 422, 429)


def _me(user: User, csrf: str | None = None) -> MeOut:
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        roles=sorted(r.value for r in user.roles),
        language=user.language,
        csrf_token=csrf,
    )


@router.post("/auth/login", response_model=SessionOut, responses=LOGIN_ERRORS, summary="Log in")
def log_in(data: LoginIn, request: Request, response: Response, ctx: Context) -> SessionOut:
    """Opens a browser session: sets the HttpOnly session cookie and answers with the
    CSRF token that changes made with the cookie must carry. A wrong password and an
    unknown email get the same 401; repeated failures lock the email and the address
    out for a while (429 with Retry-After). With two-factor sign-in on, `code` is needed
    too (401 `second_factor_required` without it; a wrong code counts as a failure);
    someone the office requires it of who has not set it up gets 403 until they do, in
    the browser."""
    signed_in = accounts.log_in(
        ctx, data.email, data.password, client_address(request), code=data.code
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.session_token,
        max_age=int(ctx.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=ctx.settings.session_cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return SessionOut(
        user=_me(signed_in.user, signed_in.csrf_token),
        csrf_token=signed_in.csrf_token,
        expires_at=signed_in.expires_at,
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(401, 403),
    summary="Log out",
    # Without a session the answer is the same 204: the cookie is optional.
    openapi_extra={"security": [{}, {"session": []}]},
)
def log_out(
    request: Request,
    ctx: Context,
    session_token: Annotated[str | None, Security(session_scheme)],
) -> Response:
    """Ends the cookie's session (which needs its CSRF token) and clears the cookie.
    Without a session there is nothing to end, and the answer is the same."""
    if session_token and accounts.session_user(ctx, session_token) is not None:
        check_csrf(request, ctx, session_token)
        accounts.log_out(ctx, session_token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/auth/me", response_model=MeOut, responses=responses(401), summary="Who am I")
def me(ctx: Context, who: CurrentCaller) -> MeOut:
    csrf = csrf_token(ctx.settings.secret_key, who.session_token) if who.session_token else None
    return _me(who.user, csrf)


@router.post(
    "/auth/token",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedTokenOut,
    responses=LOGIN_ERRORS,
    summary="Get a personal access token with email and password",
)
def token_for_password(data: TokenLoginIn, request: Request, ctx: Context) -> IssuedTokenOut:
    """For API clients: the token is shown this once; send it as ``Authorization:
    Bearer <token>``. Same lockout and second factor as logging in."""
    issued = accounts.create_token_with_password(
        ctx,
        data.email,
        data.password,
        client_address(request),
        name=data.name,
        expires_in_days=data.expires_in_days,
        code=data.code,
    )
    return IssuedTokenOut.of(issued)


@router.get("/tokens", response_model=list[TokenOut], responses=responses(401), summary="My tokens")
def list_tokens(ctx: Context, who: CurrentCaller) -> list[TokenOut]:
    return [TokenOut.of(t) for t in accounts.list_tokens(ctx, who.user.id)]


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedTokenOut,
    responses=responses(400, 401, 403, 413, 422, 429),
    summary="Create a personal access token",
)
def create_token(
    data: TokenIn, request: Request, ctx: Context, who: CurrentCaller
) -> IssuedTokenOut:
    """With two-factor sign-in on, `code` is needed (401 `second_factor_required`
    without it; a wrong code counts toward the login lockout)."""
    return IssuedTokenOut.of(
        accounts.create_token(
            ctx,
            who.user.id,
            data.name,
            data.expires_in_days,
            code=data.code,
            address=client_address(request),
        )
    )


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(401, 403, 404, 422),
    summary="Revoke a token",
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)], ctx: Context, who: CurrentCaller
) -> Response:
    accounts.revoke_token(ctx, who.user.id, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(400, 401, 403, 413, 422),
    summary="Change my password",
)
def change_password(data: PasswordChangeIn, ctx: Context, who: CurrentCaller) -> Response:
    """Every other session and every token ends at once; the browser asking (by cookie)
    stays signed in, a token used for this request does not."""
    accounts.change_own_password(
        ctx,
        who.user.id,
        data.current_password,
        data.new_password,
        keep_session=who.session_token,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/sessions",
    response_model=list[BrowserSessionOut],
    responses=responses(401),
    summary="My browser sessions",
)
def list_sessions(ctx: Context, who: CurrentCaller) -> list[BrowserSessionOut]:
    return [
        BrowserSessionOut(
            id=s.id, created_at=s.created_at, expires_at=s.expires_at, current=s.current
        )
        for s in accounts.list_sessions(ctx, who.user.id, current_token=who.session_token)
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(401, 403, 404, 422),
    summary="End a browser session",
)
def end_session(
    session_id: Annotated[int, Path(ge=1, le=MAX_ID)], ctx: Context, who: CurrentCaller
) -> Response:
    accounts.end_session(ctx, who.user.id, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
