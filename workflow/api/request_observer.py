"""Each HTTP request's id, origin and duration: the outermost of the app's own middlewares.

The request id (``workflow.logs``) is the request's ``X-Request-ID`` when sane, else a
new one; it is current while the request runs, so that its log lines and the outbox
events its command writes carry it, and goes back in the answer's ``X-Request-ID``. The
client's address is the request's origin (``workflow.origin``), which the audit of
administrative acts records.

The duration is recorded by route template, method and status
(``workflow.metrics.observe_request``). The router leaves the route it chose in the
scope. A request answered before routing, a public page replayed from the process's
cache, has the template the router chose when that page was rendered in this process,
remembered by path for the last ``REMEMBERED`` paths of GET requests; any other (a body
refused before routing, a path no route takes) is ``unmatched``.
"""

from __future__ import annotations

from time import perf_counter
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow import metrics
from workflow.logs import REQUEST_ID, request_id_from
from workflow.origin import ORIGIN

REMEMBERED: Final = 4096
UNMATCHED: Final = metrics.UNMATCHED
_HEADER: Final = b"x-request-id"


class RequestObserver:
    """ASGI middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Route templates of GET paths the router took, oldest first.
        self._templates: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        given = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                given = value.decode("latin-1")
                break
        request_id = request_id_from(given)
        echoed = (_HEADER, request_id.encode("latin-1"))
        status = 500  # unless an answer starts: the error middleware's

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new message: a replayed page's is the cache's own.
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        token = REQUEST_ID.set(request_id)
        # Behind a proxy, uvicorn's --proxy-headers has put the client's address here.
        client = scope.get("client")
        origin = ORIGIN.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            ORIGIN.reset(origin)
            REQUEST_ID.reset(token)
            metrics.observe_request(
                scope["method"], self._route(scope), status, perf_counter() - started
            )

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        get = scope["method"] == "GET"
        if route is None:
            return self._templates.get(scope["path"], UNMATCHED) if get else UNMATCHED
        template = str(getattr(route, "path", UNMATCHED))
        if get and scope["path"] not in self._templates:
            if len(self._templates) >= REMEMBERED:
                del self._templates[next(iter(self._templates))]
            self._templates[scope["path"]] = template
        return template
