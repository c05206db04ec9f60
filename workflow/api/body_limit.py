"""Refuse request bodies over a size limit, before any handler reads them.

The declared ``Content-Length`` is checked first; a body sent without one (chunked) or
with a false one is counted as it streams in, and refused as soon as it passes the limit.
A web page's form post (a file upload, say) is refused with an error page rather than
the API's JSON, when ``pages`` says how to draw one.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.api.errors import PageErrors


class _TooLarge(Exception):
    pass


class BodyLimit:
    """``limit`` is asked on every request, with its path (an upload takes more than
    other requests), so that the setting in force applies."""

    def __init__(
        self, app: ASGIApp, limit: Callable[[str], int], pages: PageErrors | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await self._refuse(
                    scope, send, 400, "bad_request", "the Content-Length is not a number"
                )
                return
            if size > max_bytes:
                await self._refuse_too_large(scope, send, max_bytes)
                return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app makes of the cut-off body, the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse_too_large(scope, send, max_bytes)

    async def _refuse_too_large(self, scope: Scope, send: Send, max_bytes: int) -> None:
        await self._refuse(
            scope, send, 413, "too_large", f"the request body is larger than {max_bytes} bytes"
        )

    async def _refuse(self, scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        request = Request(scope)
        if self.pages is not None and self.pages.is_page(request):
            page = self.pages.error_page(request, status, message, {"Connection": "close"})
            await page(scope, _nothing_more, send)
            return
        body = json.dumps({"error": code, "message": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _nothing_more() -> Message:
    # The refused body is not read any further.
    return {"type": "http.disconnect"}
