"""How refusals become HTTP answers: one table from error type to status, one body shape.

Every error the API gives, whatever its cause (a domain rule, bad input, a missing
route, an oversized body), has the same JSON body, ``ErrorBody``, and every route
declares the statuses it can answer with, so that the OpenAPI document is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from workflow.domain.errors import (
    ConcurrentUpdate,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleEdit,
    TooLarge,
    UnsupportedFile,
    ValidationFailed,
)
from workflow.domain.two_factor import EnrolmentRequired, SecondFactorRequired
from workflow.openid_connect import SignOnFailed
from workflow.services.accounts import AuthenticationFailed, TooManyAttempts
from workflow.services.queries.public import ReleaseGone


class PageErrors(Protocol):
    """How the web interface draws an error as a page (see ``workflow.web.pages``)."""

    def is_page(self, request: Request) -> bool: ...

    def error_page(
        self,
        request: Request,
        status: int,
        message: str,
        headers: dict[str, str],
        error: Exception | None = None,
    ) -> Response: ...


class Unauthenticated(Exception):
    """No valid credentials came with a request that needs them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """What every refusal looks like. ``error`` is the kind of refusal and ``code`` this
    refusal's own, both stable, for programs; ``message`` is for a person, in English
    (the web pages show it in their language). The other fields appear when they apply."""

    error: str
    message: str
    code: str | None = None
    # 403: the rule that refused.
    rule: str | None = None
    # 422: one entry per offending field.
    fields: list[FieldError] | None = None
    # 409 for an invalid transition: the release's state and what it allows.
    state: str | None = None
    allowed_actions: list[str] | None = None
    # 409 for a stale edit: the revision to start from again, and who saved it.
    current_revision: int | None = None
    edited_by: str | None = None
    # 429 and 503: seconds to wait (also in the Retry-After header).
    retry_after: int | None = None


# The one table: the most specific class in an error's MRO decides.
STATUS: Final[dict[type[Exception], tuple[int, str]]] = {
    ValidationFailed: (422, "validation_failed"),
    UnsupportedFile: (415, "unsupported_media_type"),
    TooLarge: (413, "too_large"),
    PermissionDenied: (403, "permission_denied"),
    NotFound: (404, "not_found"),
    ReleaseGone: (410, "gone"),
    InvalidTransition: (409, "invalid_transition"),
    StaleEdit: (409, "stale_edit"),
    Conflict: (409, "conflict"),
    ConcurrentUpdate: (409, "concurrent_update"),
    AuthenticationFailed: (401, "authentication_failed"),
    SecondFactorRequired: (401, "second_factor_required"),
    EnrolmentRequired: (403, "two_factor_enrolment_required"),
    SignOnFailed: (401, "sign_on_failed"),
    TooManyAttempts: (429, "too_many_attempts"),
    Unauthenticated: (401, "unauthenticated"),
    DomainError: (400, "refused"),
}

_HTTP_CODES: Final = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_failed",
    429: "too_many_requests",
}

_DESCRIPTIONS: Final = {
    400: "Malformed request (for example a body that is not UTF-8 JSON)",
    401: "Not signed in, or the credentials are wrong, expired or revoked",
    403: "Signed in, but a rule refuses it; `rule` names the rule",
    404: "No such resource (or not visible to the caller)",
    409: "Invalid transition, stale edit, conflict or concurrent update",
    410: "Gone: published in error and taken down",
    413: "Request body over the configured limit",
    415: "An uploaded file whose bytes are not of a type a release may carry",
    416: "The requested byte range is outside the file",
    422: "Invalid input; `fields` has a message per field",
    429: "Too many failed logins; see Retry-After",
    503: "The database is unreachable for the moment; see Retry-After",
}

# How long a client should wait when the database is unreachable: a restart of
# PostgreSQL takes a few seconds, and the pool replaces the closed connections on the next request.
UNAVAILABLE_RETRY_AFTER: Final = 5


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means "the database cannot be reached right now" (a
    refused or dropped connection, a server shutting down) rather than a bug: those are
    worth a retry, the rest (a constraint broken, bad SQL) are not."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error answers a route can give."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}


def json_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The same, for a route whose own answer is not JSON: its errors still are."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        s: {"description": _DESCRIPTIONS[s], "content": {"application/json": {"schema": schema}}}
        for s in statuses
    }


def error_response(
    status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _classify(error: Exception) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400, "refused"


def body_for(error: Exception) -> tuple[int, ErrorBody, dict[str, str]]:
    status, code = _classify(error)
    message = getattr(error, "message", str(error))
    body = ErrorBody(error=code, message=message, code=getattr(error, "code", code))
    headers: dict[str, str] = {}
    if isinstance(error, PermissionDenied):
        body.rule = error.rule
    elif isinstance(error, ValidationFailed):
        body.fields = [FieldError(field=error.field, message=error.reason)]
    elif isinstance(error, InvalidTransition):
        body.state = str(error.state)
        body.allowed_actions = [str(a) for a in error.allowed]
    elif isinstance(error, StaleEdit):
        body.current_revision = error.current
        body.edited_by = error.editor_name
    elif isinstance(error, TooManyAttempts):
        body.retry_after = error.retry_after
        headers["Retry-After"] = str(error.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return status, body, headers


def _field_name(location: Sequence[int | str]) -> str:
    parts = list(location)
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


# The methods a 405's Allow header may name.
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers at the request's path. Starlette's own 405 names
    those of the first route that matched the path alone, though a path is often served
    by several (``GET`` and ``POST /api/v1/releases`` are two routes)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "method": method})[0] is Match.FULL
            for route in app.router.routes
        )
    ]


def install(app: FastAPI, pages: PageErrors | None = None) -> None:
    """Register the handlers: domain and API errors, bad input, and HTTP errors.

    With ``pages``, a request for a web page (not the API) gets its error as a page:
    ``pages.is_page`` tells which, ``pages.error_page`` draws it.
    """

    def answer(
        request: Request,
        status: int,
        body: ErrorBody,
        headers: dict[str, str],
        error: Exception | None = None,
    ) -> Response:
        if pages is not None and pages.is_page(request):
            headers.pop("WWW-Authenticate", None)
            return pages.error_page(request, status, body.message, headers, error)
        return error_response(status, body, headers)

    async def on_error(request: Request, error: Exception) -> Response:
        status, body, headers = body_for(error)
        return answer(request, status, body, headers, error)

    async def on_invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        fields = [
            FieldError(
                field="body" if e.get("type") == "json_invalid" else _field_name(e.get("loc", ())),
                message=str(e.get("msg", "")),
            )
            for e in error.errors()
        ]
        summary = "; ".join(f"{f.field}: {f.message}" for f in fields)
        body = ErrorBody(error="validation_failed", message=summary, fields=fields)
        return answer(request, 422, body, {})

    async def on_database(request: Request, error: Exception) -> Response:
        if not is_unavailable(error):
            raise error  # a bug, not an outage: the server's 500 and its traceback
        seconds = UNAVAILABLE_RETRY_AFTER
        body = ErrorBody(
            error="unavailable",
            message="The service cannot reach its database; try again shortly.",
            retry_after=seconds,
        )
        return answer(request, 503, body, {"Retry-After": str(seconds)})

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        code = _HTTP_CODES.get(error.status_code, "error")
        body = ErrorBody(error=code, message=str(error.detail))
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return answer(request, error.status_code, body, headers)

    app.add_exception_handler(DomainError, on_error)
    app.add_exception_handler(Unauthenticated, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(DBAPIError, on_database)
