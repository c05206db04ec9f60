"""The anonymous public pages, kept for a moment in each web process.

The public list, each release's page (both in HTML and in the public API) and the feeds
are the same for every anonymous reader of one URL in one language, and they are most of
the service's traffic (``bench/api.py``). ``PublicPageCache`` keeps each such answer for
``settings.public_cache_seconds`` (default 1 s) and replays it without running the
handler, its database queries or its template.

What it promises:

* **Nothing early.** Only an answer rendered from what was public when it was asked for
  is kept, and it is kept for a bounded time from *before* its queries ran; a scheduled
  or embargoed release that was not public then is in no kept answer, and a 404 is never
  kept.
* **Withdrawals and corrections within the bound.** A kept answer expires
  ``public_cache_seconds`` after the moment its queries started, so a change committed
  after that moment shows at most that long after it was committed (the clock is the
  service's, so tests move it; a clock going backwards expires everything).
* **Every view counted.** A kept release page still counts its reader's view
  (``count_view``, the same counter as the handler), once per visitor and window. The
  count *shown* on a kept page (and on a kept list) is the one when it was rendered, up
  to the bound behind.
* **Anonymous only, both ways.** A request with a session cookie, an ``Authorization``
  header or a one-shot notice cookie is neither answered from the cache nor kept, and
  an answer that sets any cookie but the language's is not kept: staff never get an
  anonymous page and no one gets a page made for someone else.

Each process keeps at most ``MAX_ENTRIES`` answers (least recently used first out), so
unusual query strings cannot grow it without bound. The cache is asked on the event
loop, without the thread-pool hop that a plain ``def`` handler costs; the handler runs
only on a miss.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.services import view_counts
from workflow.services.context import ServiceContext
from workflow.web.i18n import LANGUAGE_COOKIE, choose_language

MAX_ENTRIES: Final = 2048
# The pages and API answers kept; anything else goes straight to the app.
CACHED_PATHS: Final = re.compile(
    r"^(/|/releases/[0-9]{4}-[0-9]{4,6}|/feed\.atom"
    r"|/api/v1/public/releases|/api/v1/public/releases/[0-9]{4}-[0-9]{4,6})$"
)
# Set by the release page's handler (in the request's state) to the release whose view
# it counted; a replay of that page counts one for its own reader.
COUNTED_RELEASE: Final = "counted_release"
# Cookies a request may carry and still get (and make) a kept answer. The notice and
# the session cookies, among others, make a request's page its own.
_NEUTRAL_COOKIES: Final = frozenset({LANGUAGE_COOKIE})


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    asked_at: datetime
    counted_release: int | None


class PublicPageCache:
    """ASGI middleware: answers anonymous GETs of the public pages from a short-lived
    per-process cache (see the module's docstring for what it promises)."""

    def __init__(self, app: ASGIApp, ctx: ServiceContext) -> None:
        self.app = app
        self.ctx = ctx
        self._answers: OrderedDict[tuple[str, bytes, str], _Answer] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = self.ctx.settings.public_cache_seconds
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or seconds <= 0
            or not CACHED_PATHS.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not _anonymous(request):
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"], choose_language(request).value)
        now = self.ctx.clock.now()
        kept = self._answers.get(key)
        if kept is not None:
            if timedelta(0) <= now - kept.asked_at < timedelta(seconds=seconds):
                self._answers.move_to_end(key)
                await self._replay(request, kept, send)
                return
            del self._answers[key]
        await self._ask(scope, receive, send, key, now)

    async def _ask(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: tuple[str, bytes, str],
        asked_at: datetime,
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        complete = False

        async def keeping_send(message: Message) -> None:
            nonlocal start, complete
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, keeping_send)
        if start is None or not complete or start["status"] != 200:
            return
        headers = list(start.get("headers", []))
        if any(
            name.lower() == b"set-cookie" and not _neutral_cookie(value) for name, value in headers
        ):
            return
        counted = scope.get("state", {}).get(COUNTED_RELEASE)
        self._answers[key] = _Answer(200, headers, b"".join(chunks), asked_at, counted)
        while len(self._answers) > MAX_ENTRIES:
            self._answers.popitem(last=False)

    async def _replay(self, request: Request, kept: _Answer, send: Send) -> None:
        await send({"type": "http.response.start", "status": kept.status, "headers": kept.headers})
        await send({"type": "http.response.body", "body": kept.body})
        if kept.counted_release is not None:
            # After the answer has gone: the reader does not wait for the count.
            from workflow.web.routers.public import count_view, flush_if_due, view_counter

            counter = view_counter(request)
            if isinstance(counter, view_counts.MemoryViewCounter):
                count_view(request, self.ctx, counter, kept.counted_release)
            else:
                # Redis is I/O: off the event loop, as in the handler.
                await run_in_threadpool(
                    count_view, request, self.ctx, counter, kept.counted_release
                )
            flush = flush_if_due(self.ctx, counter)
            if flush is not None:
                await flush()


def _anonymous(request: Request) -> bool:
    if "authorization" in request.headers:
        return False
    return all(name in _NEUTRAL_COOKIES for name in request.cookies)


def _neutral_cookie(header: bytes) -> bool:
    return header.split(b"=", 1)[0].strip().decode("latin-1") in _NEUTRAL_COOKIES
