"""Who is calling: a personal access token (``Authorization: Bearer``) or the browser
session cookie. The actor of every command is this user, never an id from the request.

A request signed in by cookie that changes something must also carry the session's CSRF
token in ``X-CSRF-Token``: a cross-site form can make the browser send the cookie, but
cannot read the token. Bearer requests need no CSRF token, since no browser attaches
them on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from workflow.api.errors import Unauthenticated
from workflow.api.threads import run_now
from workflow.auth import csrf_matches
from workflow.domain.errors import PermissionDenied
from workflow.domain.users import User
from workflow.services import accounts
from workflow.services.context import ServiceContext

SESSION_COOKIE: Final = "newsroom_session"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")

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


class Credentials:
    """What a request signed in with: a bearer token or a session cookie, not yet
    looked up. ``user()`` reads whose they are from the database (so only from a
    thread, never on the event loop)."""

    __slots__ = ("_bearer", "_ctx", "session_token")

    def __init__(
        self, ctx: ServiceContext, *, bearer: str | None = None, session_token: str | None = None
    ) -> None:
        self._ctx = ctx
        self._bearer = bearer
        self.session_token = session_token

    def user(self) -> User:
        """The signed-in user, or 401."""
        if self._bearer is not None:
            user = accounts.token_user(self._ctx, self._bearer)
            if user is None:
                raise Unauthenticated("the token is unknown, expired or revoked")
            return user
        assert self.session_token is not None
        user = accounts.session_user(self._ctx, self.session_token)
        if user is None:
            raise Unauthenticated("the session has ended; log in again")
        return user

    async def act(self, command: Callable[[User], T]) -> T:
        """``command(user)``, the user looked up first, in one trip to a thread, started
        at once (``run_now``).

        This is how the commands run (``Acting``). A plain ``def`` handler with
        ``CurrentCaller`` makes three trips: for the caller, for itself, and for
        FastAPI's check of its answer against the response model. Under load each trip
        back waits tens of milliseconds behind the event loop's other work. The command
        gets the user as read with their credential, not their id to read again (see
        ``workflow.services.context.Actor``)."""
        return await run_now(lambda: command(self.user()))


async def credentials(
    request: Request,
    ctx: Context,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    session_token: Annotated[str | None, Security(session_scheme)],
) -> Credentials:
    """What the request signed in with: 401 if nothing, 403 for a change by cookie
    without the session's CSRF token. Checks nothing in the database."""
    if bearer is not None:
        return Credentials(ctx, bearer=bearer.credentials)
    if session_token:
        check_csrf(request, ctx, session_token)
        return Credentials(ctx, session_token=session_token)
    raise Unauthenticated("sign in: send a bearer token or the session cookie")


def check_csrf(request: Request, ctx: ServiceContext, session_token: str) -> None:
    """403 unless a request that changes something carries the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    presented = request.headers.get(CSRF_HEADER, "")
    if not presented or not csrf_matches(ctx.settings.secret_key, session_token, presented):
        raise PermissionDenied(
            "a change made with a session cookie must carry the session's CSRF token in the "
            "%(header)s header",
            code="csrf_token_missing",
            header=CSRF_HEADER,
        )


# For the commands: the handler calls ``act``, which looks the user up.
Acting = Annotated[Credentials, Depends(credentials)]


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    # Set when signed in by cookie: the session token, for logout and the CSRF token.
    session_token: str | None = None


def caller(signed_in: Acting) -> Caller:
    """The signed-in caller, or 401. Plain ``def``: it reads the database, so FastAPI
    runs it in the thread pool, off the event loop."""
    return Caller(signed_in.user(), signed_in.session_token)


CurrentCaller = Annotated[Caller, Depends(caller)]


def client_address(request: Request) -> str:
    """The address the login lockout counts by: the connection's, or the client that a
    proxy of ``NEWSROOM_TRUSTED_PROXIES`` names (``workflow.web.server``)."""
    return request.client.host if request.client else "unknown"
