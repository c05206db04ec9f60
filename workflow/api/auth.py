"""Who is calling: a personal access token (``Authorization: Bearer``) or the browser
session cookie. The actor of every command is this user, never an id from the request.

A request signed in by cookie that changes something must also carry the session's CSRF
token in ``X-CSRF-Token``: a cross-site form can make the browser send the cookie, but
cannot read the token. Bearer requests need no CSRF token, since no browser attaches
them on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from workflow.api.errors import Unauthenticated
from workflow.auth import csrf_matches
from workflow.domain.errors import PermissionDenied
from workflow.domain.users import User
from workflow.services import accounts
from workflow.services.context import ServiceContext

SESSION_COOKIE: Final = "newsroom_session"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A personal access token (`nrt_…`), from POST /api/v1/auth/token.",
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description=(
        "The browser session from POST /api/v1/auth/login. Requests that change "
        f"something must also send the session's CSRF token in `{CSRF_HEADER}`."
    ),
)


async def service_context(request: Request) -> ServiceContext:
    # ``async``, as every dependency that neither waits nor reads the database is here:
    # FastAPI runs a plain ``def`` dependency in the thread pool, and under load each
    # trip there and back waits behind the event loop's other work (tens of ms).
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Context = Annotated[ServiceContext, Depends(service_context)]


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    # Set when signed in by cookie: the session token, for logout and the CSRF token.
    session_token: str | None = None


def caller(
    request: Request,
    ctx: Context,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    session_token: Annotated[str | None, Security(session_scheme)],
) -> Caller:
    """The signed-in caller, or 401. Plain ``def``: it reads the database, so FastAPI
    runs it in the thread pool, off the event loop."""
    if bearer is not None:
        user = accounts.token_user(ctx, bearer.credentials)
        if user is None:
            raise Unauthenticated("the token is unknown, expired or revoked")
        return Caller(user)
    if session_token:
        user = accounts.session_user(ctx, session_token)
        if user is None:
            raise Unauthenticated("the session has ended; log in again")
        if request.method not in SAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER, "")
            if not presented or not csrf_matches(ctx.settings.secret_key, session_token, presented):
                raise PermissionDenied(
                    f"a change made with a session cookie must carry the session's CSRF "
                    f"token in the {CSRF_HEADER} header"
                )
        return Caller(user, session_token)
    raise Unauthenticated("sign in: send a bearer token or the session cookie")


CurrentCaller = Annotated[Caller, Depends(caller)]


def client_address(request: Request) -> str:
    """The address the login lockout counts by (behind a proxy, uvicorn's
    ``--proxy-headers`` puts the client's address here)."""
    return request.client.host if request.client else "unknown"
