"""The anonymous public pages, kept in each web process until the public side changes.

The public list, each release's page (both in HTML and in the public API) and the feeds
are the same for every anonymous reader of one URL in one language, and they are most of
the service's traffic. ``PublicPageCache`` keeps each such answer and replays it without
running the handler, its database queries or its template, for as long as what it shows
has not changed.

How it knows: at most once every ``settings.public_cache_seconds`` (default 1 s) each
process reads the public side's marks (``queries.public_marks``: one small aggregate
query, each numbered release's row version and embargo only when that moved), and
supersedes the answers that depend on what changed: a changed release's own page and
API answer, and every list and feed. The drafting, review and translation of releases
that were never published change no mark, so they supersede nothing.

What it promises:

* **Nothing early.** Only an answer rendered from what was public when it was asked for
  is kept; a scheduled or embargoed release that was not public then is in no kept
  answer until a check after its time supersedes that answer, and a 404 is never kept.
* **Withdrawals and corrections within the bound.** An answer is replayed only if the
  last check *started* less than ``public_cache_seconds`` ago (else the request waits
  for a new one), and a check sees every change committed before it started; so a change
  shows on every public path at most that long after its commit. A superseded answer
  is replayed while its successor renders only within that bound (``_meanwhile``), and
  an answer whose rendering overlapped a check that superseded something is not kept.
  (The clock is the service's, so tests move it; a clock going backwards checks again.)
* **Every view counted.** A kept release page still counts its reader's view
  (``count_view``, the same counter as the handler), once per visitor and window. The
  counts *shown* on a kept answer are those when it was rendered: an answer older than
  ``public_cache_max_age_seconds`` (default 120 s) is rendered again, by the first
  reader who asks for it, while the others get the old one a moment longer; and one
  such answer at a time in each process (``_waits_its_turn``), so that the answers a
  start-up rendered together, which come due together, are not all rendered at once.
  Either way, no count shown is older than twice that age.
* **Anonymous only, both ways.** A request with a session cookie, an ``Authorization``
  header or a one-shot notice cookie is neither answered from the cache nor kept, and
  an answer that sets any cookie but the language's is not kept: staff never get an
  anonymous page and no one gets a page made for someone else.
* **The database first.** If the check cannot read the marks (the database is down), no
  answer is replayed: the request goes to the handler, which says 503.

Each process keeps at most ``MAX_ENTRIES`` answers (least recently used first out), so
unusual query strings cannot grow it without bound. The cache is asked on the event
loop, without the thread-pool hop that a plain ``def`` handler costs; the handler runs
only on a miss, and the check in a thread, one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.services import view_counts
from workflow.services.context import ServiceContext
from workflow.services.queries.public_marks import PublicMarks, public_marks
from workflow.web.i18n import LANGUAGE_COOKIE, choose_language
from workflow.web.view_counting import flush_if_due, view_counter, visitor_of

log = logging.getLogger(__name__)

MAX_ENTRIES: Final = 2048
# Answers past their age that a process renders again at once (``_waits_its_turn``).
REFRESHED_AT_ONCE: Final = 1
# The pages and API answers kept; anything else goes straight to the app. The
# ``number`` group names the one release an answer shows; the others show many. A
# release's stable address (``/r/<id>``) stays out: its embargo page must not outlive the
# embargo at all, not even by the bound within which a kept answer is superseded.
CACHED_PATHS: Final = re.compile(
    r"^(?:/|/feed\.atom|/api/v1/public/releases"
    r"|(?:/releases|/api/v1/public/releases)/(?P<number>[0-9]{4}-[0-9]{4,6}))$"
)
# Set by the release page's handler (in the request's state) to the release whose view
# it counted; a replay of that page counts one for its own reader.
COUNTED_RELEASE: Final = "counted_release"
# Cookies a request may carry and still get (and make) a kept answer. The notice and
# the session cookies, among others, make a request's page its own.
_NEUTRAL_COOKIES: Final = frozenset({LANGUAGE_COOKIE})

_Key = tuple[str, bytes, str]


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    asked_at: datetime
    counted_release: int | None
    # The release this answer shows, or None for a list or feed (which shows them all).
    number: str | None
    # Set when a check found that what it shows changed: the start of the check before
    # that one, which had not seen the change (see ``_meanwhile``).
    superseded_since: datetime | None = None


class PublicPageCache:
    """ASGI middleware: answers anonymous GETs of the public pages from a per-process
    cache, checked against the public side's marks (see the module's docstring for what
    it promises)."""

    def __init__(self, app: ASGIApp, ctx: ServiceContext) -> None:
        self.app = app
        self.ctx = ctx
        self._answers: OrderedDict[_Key, _Answer] = OrderedDict()
        self._marks: PublicMarks | None = None
        # When the last check that read the marks started (the service's clock).
        self._checked_at: datetime | None = None
        # Moves on whenever a check supersedes answers, which records when each kind of
        # answer was last superseded: a rendering that began before that may show what
        # was superseded, so it is not kept (``_changed_since``).
        self._generation = 0
        self._lists_changed = 0  # lists and feeds: by any change
        self._all_changed = 0  # every answer: by the topics
        self._release_changed: dict[str, int] = {}  # one release's answers, by number
        self._check: asyncio.Future[None] | None = None
        self._courier = _Courier()
        # The answers being rendered now, each with the generation it began in.
        self._rendering: dict[_Key, tuple[int, asyncio.Future[_Answer | None]]] = {}
        # How many of those renderings refresh an answer past its age.
        self._refreshing = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = self.ctx.settings.public_cache_seconds
        found = (
            CACHED_PATHS.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == "GET" and seconds > 0
            else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not _anonymous(request):
            await self.app(scope, receive, send)
            return
        now = self.ctx.clock.now()
        if not await self._checked(now, seconds):
            # The marks cannot be read, so no kept answer is known to be true: the
            # handler answers (with 503 while the database is down).
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"], choose_language(request).value)
        kept = self._answers.get(key)
        if kept is not None and (
            (kept.superseded_since is None and self._young(kept, now))
            or self._meanwhile(key, kept, now)
            or self._waits_its_turn(kept, now)
        ):
            self._answers.move_to_end(key)
            await self._replay(request, kept, send)
            return
        refresh = kept is not None and kept.superseded_since is None
        self._refreshing += refresh
        try:
            await self._ask(request, receive, send, key, now, found["number"])
        finally:
            self._refreshing -= refresh

    def _meanwhile(self, key: _Key, kept: _Answer, now: datetime) -> bool:
        """Whether an answer that is superseded, or past its age, may still be replayed
        while its successor is being rendered (so that the readers of a list that a
        publication changed do not all wait for its rendering).

        A superseded answer misses a change committed after the check before the one
        that found it began (``superseded_since``): replaying it until
        ``public_cache_seconds`` after that still shows every change within the bound.
        An answer past its age shows nothing untrue, only older counts: it may be
        replayed until twice its age."""
        rendering = self._rendering.get(key)
        if rendering is None or self._changed_since(kept.number, rendering[0]):
            return False
        if kept.superseded_since is None:
            return timedelta(0) <= now - kept.asked_at < 2 * self._max_age
        bound = timedelta(seconds=self.ctx.settings.public_cache_seconds)
        return kept.superseded_since <= now < kept.superseded_since + bound

    def _waits_its_turn(self, kept: _Answer, now: datetime) -> bool:
        """Whether an answer past its age, which shows nothing untrue, is replayed while
        ``REFRESHED_AT_ONCE`` others are being rendered again for their age: until twice
        its age, as ``_meanwhile`` allows. Without this, the answers a start-up rendered
        together come due together ``public_cache_max_age_seconds`` later, and their
        first readers render them all at once, holding up every kept page meanwhile."""
        return (
            kept.superseded_since is None
            and self._refreshing >= REFRESHED_AT_ONCE
            and timedelta(0) <= now - kept.asked_at < 2 * self._max_age
        )

    def _changed_since(self, number: str | None, generation: int) -> bool:
        """Whether a check superseded the answers about release ``number`` (None: a list
        or feed) after ``generation``."""
        if number is None:
            last = self._lists_changed
        else:
            last = max(self._all_changed, self._release_changed.get(number, 0))
        return last > generation

    @property
    def _max_age(self) -> timedelta:
        return timedelta(seconds=self.ctx.settings.public_cache_max_age_seconds)

    def _young(self, kept: _Answer, now: datetime) -> bool:
        return timedelta(0) <= now - kept.asked_at < self._max_age

    async def _checked(self, now: datetime, seconds: float) -> bool:
        """Whether the marks were read less than ``seconds`` before ``now`` (reading
        them again, and superseding what changed, if not); False if they cannot be read.
        Past half of ``seconds`` a new check begins without anyone waiting for it, so
        that under steady traffic no reader waits for one, and a superseded answer may
        be replayed for a moment (``_meanwhile``)."""
        if self._checked_at is not None:
            age = now - self._checked_at
            if timedelta(0) <= age < timedelta(seconds=seconds):
                if age >= timedelta(seconds=seconds / 2):
                    self._start_check()
                return True
        try:
            await asyncio.shield(self._start_check())
        except Exception:
            return False
        return True

    def _start_check(self) -> asyncio.Future[None]:
        """The check under way, begun now if there is none: one at a time."""
        if self._check is None:
            check = asyncio.ensure_future(self._read_marks())
            check.add_done_callback(self._check_done)
            self._check = check
        return self._check

    def _check_done(self, check: asyncio.Future[None]) -> None:
        if self._check is check:
            self._check = None
        if not check.cancelled():
            check.exception()  # logged by _read_marks; nobody may be waiting for it

    async def _read_marks(self) -> None:
        started = self.ctx.clock.now()
        try:
            marks = await run_in_threadpool(public_marks, self.ctx, self._marks)
        except Exception:
            log.warning("public page cache: could not read the marks", exc_info=True)
            raise
        # Nothing is kept before the first marks are read: they have nothing to supersede.
        if self._marks is not None and self._checked_at is not None:
            numbers, topics = marks.changed_since(self._marks)
            if topics or numbers:
                self._supersede(numbers, topics, since=self._checked_at)
        self._marks = marks
        self._checked_at = started

    def _supersede(self, numbers: set[str], topics: bool, since: datetime) -> None:
        """Mark the answers that show a change (every list and feed, the changed
        releases' own answers, and all of them if the topics changed) as superseded since
        ``since``, the start of the last check that had not seen it."""
        self._generation += 1
        self._lists_changed = self._generation
        if topics:
            self._all_changed = self._generation
        for number in numbers:
            self._release_changed[number] = self._generation
        changed = [
            (key, answer)
            for key, answer in self._answers.items()
            if answer.superseded_since is None
            and (topics or answer.number is None or answer.number in numbers)
        ]
        for key, answer in changed:
            self._answers[key] = replace(answer, superseded_since=since)

    async def _ask(
        self,
        request: Request,
        receive: Receive,
        send: Send,
        key: _Key,
        asked_at: datetime,
        number: str | None,
    ) -> None:
        """Render the answer (the handler runs), keeping it if it may be kept; or, if
        the same answer is being rendered already and what it shows has not changed
        since that began, wait for that one and replay it, so that a list superseded by
        a publication is rendered once, not by every reader who asks for it meanwhile."""
        generation = self._generation
        rendering = self._rendering.get(key)
        if rendering is not None and not self._changed_since(number, rendering[0]):
            answer = await asyncio.shield(rendering[1])
            if answer is not None and not self._changed_since(number, rendering[0]):
                await self._replay(request, answer, send)
                return
            rendering = self._rendering.get(key)  # that one was not kept: render anew
        mine: asyncio.Future[_Answer | None] = asyncio.get_running_loop().create_future()
        if rendering is None or self._changed_since(number, rendering[0]):
            self._rendering[key] = (generation, mine)
        try:
            answer = await self._render(request.scope, receive, send, asked_at, number)
            if answer is not None and not self._changed_since(number, generation):
                self._keep(key, answer)
            else:
                # Not kept, or a check superseded what it shows while it was rendered.
                answer = None
            mine.set_result(answer)
        finally:
            if not mine.done():
                mine.set_result(None)
            if self._rendering.get(key, (None, None))[1] is mine:
                del self._rendering[key]

    async def _render(
        self, scope: Scope, receive: Receive, send: Send, asked_at: datetime, number: str | None
    ) -> _Answer | None:
        """The handler's answer, sent as it comes; returned if it may be kept."""
        start: Message | None = None
        chunks: list[bytes] = []
        complete = False

        async def keeping_send(message: Message) -> None:
            nonlocal start, complete
            if message["type"] == "http.response.start":
                start = message
                _let_shared_caches_keep(scope, message, self.ctx.settings.public_cache_seconds)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, keeping_send)
        if start is None or not complete or start["status"] != 200:
            return None
        headers = list(start.get("headers", []))
        if any(
            name.lower() == b"set-cookie" and not _neutral_cookie(value) for name, value in headers
        ):
            return None
        counted = scope.get("state", {}).get(COUNTED_RELEASE)
        return _Answer(200, headers, b"".join(chunks), asked_at, counted, number)

    def _keep(self, key: _Key, answer: _Answer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > MAX_ENTRIES:
            self._answers.popitem(last=False)

    async def _replay(self, request: Request, kept: _Answer, send: Send) -> None:
        await send({"type": "http.response.start", "status": kept.status, "headers": kept.headers})
        await send({"type": "http.response.body", "body": kept.body})
        if kept.counted_release is None:
            return
        # After the answer has gone: the reader does not wait for the count.
        visitor = visitor_of(request, self.ctx)
        counter = view_counter(request)
        if visitor is None:
            pass
        elif isinstance(counter, view_counts.MemoryViewCounter):
            counter.record(kept.counted_release, visitor)
        else:
            await self._courier.carry(counter, kept.counted_release, visitor)
        flush = flush_if_due(self.ctx, counter)
        if flush is not None:
            await flush()


class _Courier:
    """Carries the views of replayed pages to a counter that does I/O (Redis), in
    batches: one thread and one round trip for all the views that arrived in the
    ``GATHER_SECONDS`` before it leaves, instead of one each. A trip to the thread pool
    is the costly part, the more so under load: it is one more thread asking the event
    loop for the GIL. A view's ``carry`` returns once its batch has been recorded (or
    its failure logged, as ``record`` does), after its page has gone."""

    GATHER_SECONDS: Final = 0.02

    def __init__(self) -> None:
        self._waiting: list[tuple[int, str]] = []
        self._recorded: asyncio.Future[None] | None = None
        self._on_its_way = False
        self._delivery: asyncio.Future[None] | None = None

    async def carry(self, counter: view_counts.ViewCounter, release_id: int, visitor: str) -> None:
        self._waiting.append((release_id, visitor))
        if self._recorded is None:
            self._recorded = asyncio.get_running_loop().create_future()
        recorded = self._recorded
        if not self._on_its_way:
            self._on_its_way = True
            self._delivery = asyncio.ensure_future(self._deliver(counter))
        await recorded

    async def _deliver(self, counter: view_counts.ViewCounter) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(self.GATHER_SECONDS)
                batch, self._waiting = self._waiting, []
                recorded, self._recorded = self._recorded, None
                try:
                    await run_in_threadpool(counter.record_many, batch)
                except Exception:  # a view is worth less than the page: log, go on
                    log.exception("%d views not counted", len(batch))
                finally:
                    if recorded is not None and not recorded.done():
                        recorded.set_result(None)
        finally:
            self._on_its_way = False


def _let_shared_caches_keep(scope: Scope, start: Message, seconds: float) -> None:
    """Marks an anonymous public answer that a shared cache (the compose file's nginx)
    may keep for ``seconds``, whole seconds, as this cache does before it checks again:
    through such a cache a change shows within twice the bound. Not a page that counts
    a view (a release's page), whose every reader must reach a web process, nor one that
    sets a cookie, nor one whose handler said otherwise. Browsers keep nothing."""
    headers = start.get("headers", [])
    if (
        start["status"] != 200
        or int(seconds) < 1
        or scope.get("state", {}).get(COUNTED_RELEASE) is not None
        or any(name.lower() in (b"set-cookie", b"cache-control") for name, _ in headers)
    ):
        return
    start["headers"] = [
        *headers,
        (b"cache-control", f"public, max-age=0, s-maxage={int(seconds)}".encode()),
    ]


def _anonymous(request: Request) -> bool:
    if "authorization" in request.headers:
        return False
    return all(name in _NEUTRAL_COOKIES for name in request.cookies)


def _neutral_cookie(header: bytes) -> bool:
    return header.split(b"=", 1)[0].strip().decode("latin-1") in _NEUTRAL_COOKIES
