"""The ASGI application: ``create_app(ctx)`` builds it around a service context.

Nothing is built at import time: tests pass a context of their own, and production
(``newsroom web``) calls ``production_app`` to build one from the settings. The
synchronous SQLAlchemy sessions run in the thread pool, never on the event loop: most
endpoints are plain ``def`` functions, which FastAPI runs there; the commands are
``async`` and go there once, through ``Credentials.act``, which saves the trips a plain
handler makes for its caller and its answer (see ``workflow.api.auth``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException

from config.settings import Settings, get_settings
from tasks.configuration import QUEUES
from workflow import metrics
from workflow.api import docs, errors
from workflow.api.auth import Context
from workflow.api.body_limit import BodyLimit
from workflow.api.request_observer import RequestObserver
from workflow.api.routers import (
    accounts,
    admin_acts,
    attachments,
    bounces,
    people,
    preview_links,
    public,
    releases,
    subscriptions,
    test_emails,
    translations,
)
from workflow.api.schemas import HealthOut, ReadyOut
from workflow.auth import verify_password
from workflow.backlog import BacklogReader
from workflow.db.engine import POOL_SIZE
from workflow.heap import freeze_what_startup_made
from workflow.services.context import ServiceContext
from workflow.web import pages as web_pages
from workflow.web.access_log import lighter_log_records
from workflow.web.public_cache import PublicPageCache
from workflow.web.routers import routers as web_routers
from workflow.web.security_headers import SecurityHeaders

DESCRIPTION = """\
Bilingual (ko/en) press releases from draft through review and translation to
publication. Sign in with a personal access token (`Authorization: Bearer nrt_…`, from
`POST /api/v1/auth/token`) or, in a browser, with the session cookie from
`POST /api/v1/auth/login` plus its CSRF token in `X-CSRF-Token` on every change.
The actor of every command is the signed-in user. Every error has the `ErrorBody` shape.
"""


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # As many handlers at once as the database pool keeps connections (anyio's default
    # is 40): more threads would only open and close connections, and wait for the GIL.
    to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
    yield


# Where a file is uploaded: the API's and the office's form.
_UPLOADS = re.compile(r"^/(api/v1|office)/releases/\d+/attachments/?$")
# A multipart form's fields and boundaries around the file itself.
_FORM_ALLOWANCE = 64 * 1024


def body_limit(ctx: ServiceContext, path: str) -> int:
    """The largest request body ``path`` takes: an upload's file size limit, or the
    limit of every other body."""
    if _UPLOADS.match(path):
        return ctx.settings.max_attachment_bytes + _FORM_ALLOWANCE
    return ctx.settings.max_body_bytes


def create_app(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="Newsroom",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        # Our own /docs (workflow/api/docs.py): no public CDN, no inline script.
        docs_url=None,
        redoc_url=None,
        # Any operation may find the database down for a moment (a restart, a failover).
        responses=errors.responses(503),
    )
    app.state.ctx = ctx
    errors.install(app, pages=web_pages)
    app.add_exception_handler(web_pages.LoginRequired, web_pages.login_redirect)
    app.add_middleware(BodyLimit, limit=lambda path: body_limit(ctx, path), pages=web_pages)
    # A kept public page skips everything below.
    app.add_middleware(PublicPageCache, ctx=ctx)
    # Outside the cache, so that a kept page carries them as a fresh one does.
    app.add_middleware(
        SecurityHeaders, https=lambda: ctx.settings.public_base_url.startswith("https://")
    )
    # Added last, so outermost: every request has its id, and is timed, kept pages too.
    app.add_middleware(RequestObserver)
    backlog = BacklogReader(ctx, QUEUES)
    for module in (
        accounts,
        releases,
        attachments,
        translations,
        preview_links,
        test_emails,
        people,
        public,
        subscriptions,
        bounces,
        admin_acts,
    ):
        app.include_router(module.router)
    for router in web_routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=web_pages.STATIC), name="static")
    docs.install(app)
    generated = app.openapi

    def openapi() -> dict[str, Any]:
        document = generated()
        state_settings(document, ctx.settings)
        document_body_errors(document)
        document_pages(app, document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", response_model=HealthOut, tags=["health"], summary="Process is up")
    def healthz() -> HealthOut:
        return HealthOut(status="ok")

    @app.get(
        "/readyz",
        response_model=ReadyOut,
        tags=["health"],
        summary="Database (and broker, when configured) reachable, and work not far behind",
        responses={503: {"model": ReadyOut, "description": "Not ready"}},
    )
    def readyz(ctx: Context) -> ReadyOut | JSONResponse:
        checks = {"database": _check_database(ctx), "broker": _check_broker(ctx)}
        # Up, but behind: events or deliveries waiting longer than they should. Not
        # asked of a database that did not answer: the answer is known, and slow.
        if checks["database"] == "ok":
            checks.update(backlog.checks())
        else:
            checks.update(outbox="skipped", deliveries="skipped")
        ready = all(v in {"ok", "skipped"} for v in checks.values())
        result = ReadyOut(status="ok" if ready else "unavailable", checks=checks)
        if ready:
            return result
        return JSONResponse(result.model_dump(), status_code=503)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        # Anyone else is told there is nothing here, as for any unknown path.
        client = request.client.host if request.client else None
        if not metrics.allowed(ctx.settings, client, request.headers.get("authorization")):
            raise HTTPException(status_code=404)
        body, content_type = metrics.exposition([metrics.recorded(whole_host=True), backlog])
        return Response(body, media_type=content_type)

    return app


def state_settings(document: dict[str, Any], settings: Settings) -> None:
    """Write the limits the office configures into the document: the longest life of a
    personal access token."""
    for model in ("TokenIn", "TokenLoginIn"):
        days = document["components"]["schemas"][model]["properties"]["expires_in_days"]
        for option in days["anyOf"]:
            if option.get("type") == "integer":
                option["maximum"] = settings.token_max_expiry_days


def document_body_errors(document: dict[str, Any]) -> None:
    """Any operation that reads a body can answer 400 (not UTF-8 JSON) and 413 (over the
    limit, ``workflow.api.body_limit``) before its own code runs."""
    for operations in document["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:
                for status, answer in errors.json_responses(400, 413).items():
                    operation["responses"].setdefault(str(status), answer)


def document_pages(app: FastAPI, document: dict[str, Any]) -> None:
    """Describe what else answers at an API operation's address, so that the methods a
    405's Allow header names are all in the document: HEAD where GET serves a file (the
    same answers, without the body), and the web pages behind the emailed subscription
    links (a page for GET, the API for POST), which take the operation's parameters and
    answer HTML: 200, or 422 for a link that is not valid."""
    html = {"text/html": {"schema": {"type": "string"}}}
    for route in iter_route_contexts(app.routes):
        if getattr(route, "include_in_schema", True) or not route.methods:
            continue
        operations = document["paths"].get(route.path_format)
        if not operations:
            continue
        for method in sorted(m.lower() for m in route.methods):
            if method in operations:
                continue
            if method == "head" and "get" in operations:
                get = operations["get"]
                operations[method] = {
                    **get,
                    "summary": f"{get.get('summary', '')}: headers only",
                    "operationId": f"{get['operationId']}_head",
                }
                continue
            operations[method] = {
                "tags": ["pages"],
                "summary": (route.description or str(route.name)).split("\n", 1)[0],
                "operationId": f"page_{route.name}",
                "parameters": next(iter(operations.values())).get("parameters", []),
                "responses": {
                    "200": {"description": "The page", "content": html},
                    "422": {"description": "A link that is not valid", "content": html},
                },
            }


def _check_database(ctx: ServiceContext) -> str:
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready"
        return f"error: {type(error).__name__}"
    return "ok"


def _check_broker(ctx: ServiceContext) -> str:
    url = getattr(ctx.settings, "broker_url", None)
    if not url or not str(url).startswith(("redis://", "rediss://")):
        return "skipped"  # the embedded broker is files on this machine
    import redis

    try:
        client = redis.Redis.from_url(str(url), socket_timeout=1, socket_connect_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:  # any failure means "not ready"
        return f"error: {type(error).__name__}"
    return "ok"


def production_app() -> FastAPI:
    """The app as ``newsroom web`` serves it: context from the settings, and commits that
    write outbox rows wake the Celery relay at once."""
    ctx = ServiceContext.from_settings(get_settings())
    from tasks.runtime import connect_outbox_hint

    # Compute the dummy hash now, so that the first login with an unknown email takes
    # no longer than any other.
    verify_password(None, "")

    app = create_app(connect_outbox_hint(ctx, in_background=True))
    lighter_log_records()
    freeze_what_startup_made()
    return app
