"""Attachment files, from storage to the client: GET and HEAD with validators and ranges.

``file_response`` answers a request for one stored file the way HTTP caches, browsers'
PDF viewers and download managers expect (RFC 9110):

* **Validators.** The strong ``ETag`` is the quoted SHA-256, which names the bytes
  themselves, so it never goes stale. No ``Last-Modified``: a content-addressed store
  knows no true modification date, and one made up from a file's ``mtime`` would differ
  between hosts holding the same bytes. ``If-Match`` (strong comparison) answers 412
  when it fails; ``If-None-Match`` (weak comparison, lists and ``*``) answers 304 with
  the ``ETag`` and ``Cache-Control`` a 200 would carry. Date conditions are ignored, as
  RFC 9110 §13.1.3 and §13.1.4 require of a resource without a modification date.
* **One range.** A ``Range`` of one ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` is
  answered 206 with its ``Content-Range``; one that no byte of the file satisfies, 416
  with ``Content-Range: bytes */size``. ``If-Range`` sends the range only when it holds
  this very ETag (a date or a weak tag never matches), and the whole file otherwise.
* **The whole file for anything else.** A malformed ``Range``, another unit, and a
  request for several ranges get the whole file, 200, as RFC 9110 §14.2 lets a server
  do ("MAY ignore"). The clients that matter here ask for one range at a time (a PDF
  viewer fetching pages, a download resuming); ``multipart/byteranges`` would serve no
  one, and answering several overlapping ranges is how range requests are abused to
  make a server send a file many times over. HEAD answers as GET would without a
  ``Range``: range handling is defined for GET only (§14.2).
* **Exactly the given type.** ``Content-Type`` is sent as the caller gives it (no
  charset is added to a binary type, nor to text whose encoding is unknown), with
  ``X-Content-Type-Options: nosniff`` so that a browser never reads an upload as HTML.
* **The name survives.** ``Content-Disposition`` carries an ASCII ``filename`` for old
  clients and ``filename*`` in UTF-8 (RFC 6266, RFC 8187), which every current browser
  prefers, so "2026 외교부 보도자료.pdf" is saved under that name.

The body streams from the file itself when the storage has it on this host
(``Storage.local_path``), read in large chunks in a worker thread, and otherwise from
``Storage.read`` chunk by chunk, each one fetched in a worker thread. Those threads are
bounded apart from the handlers' (``STORAGE_THREADS``), and deciding touches no storage,
so a download route can be an ``async def`` that takes no handler thread at all.
Nothing is read before the status line is due, and then only enough to know the file is
there: a file the database lists but storage lacks is answered 404 and logged as an
error, and one that ends before its recorded size breaks the connection rather than send
a short body under a full ``Content-Length``.

Behind a reverse proxy that serves the local backend's folder (``accel_redirect``, from
``NEWSROOM_MEDIA_ACCEL_REDIRECT``), a GET that gets the file or one range of it is
answered with ``X-Accel-Redirect`` to the file under that location and no body: the
decision and its headers stay here, and the proxy sends the bytes from disk with
``sendfile``, which costs a small part of what streaming them through the app does. The
proxy judges ``Range`` and ``If-Range`` itself, by the same rules (``max_ranges 1`` and
the ETag passed on, in ``config/nginx/locations.inc.template``); a request with
``If-Match`` or ``If-Unmodified-Since`` is still answered here, since the proxy would judge
those by its own validators. Files in S3 are always streamed by the app.

Starlette's ``FileResponse`` is not used: it sends an ETag and a Last-Modified made from
the file's ``stat``, answers a malformed ``Range`` with 400, knows no ``If-None-Match``,
names a non-ASCII file in ``filename*`` alone, and reads 64 KiB at a time.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any, Final, Literal
from urllib.parse import quote

import anyio
from anyio.lowlevel import RunVar
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from workflow.media.inspection import ALLOWED
from workflow.media.storage import MissingFile, Storage

log = logging.getLogger(__name__)

# Chunks of a local file: large enough that a 5 MB PDF takes a handful of thread hops
# and sends, small enough that sixteen concurrent downloads hold little memory.
LOCAL_CHUNK_BYTES: Final = 1024 * 1024

# Threads reading stored files at once, in each process. They are counted apart from
# the handlers' threads (``workflow/api/app.py`` holds those to the database pool's
# size), so that downloads waiting on a slow disk or S3 never hold a thread a handler
# needs, nor the reverse.
STORAGE_THREADS: Final = 32

Disposition = Literal["inline", "attachment"]

# A file answer's media types, for /openapi.json: the kinds a release may carry.
FILE_CONTENT: Final[dict[str, Any]] = {kind.content_type: {} for kind in ALLOWED}


def file_answers(content: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """What ``file_response`` answers besides refusals, for /openapi.json, the file being
    of one of the media types in ``content``."""
    return {
        200: {"content": content, "description": "The file"},
        206: {"content": content, "description": "The one range of the file asked for"},
        304: {"description": "Not modified: the client's copy (If-None-Match) is current"},
        412: {"description": "The file is not the one the client expects (If-Match)"},
        416: {"description": "No byte of the file is in the range asked for"},
    }


# RFC 8187 attr-char, besides the letters, digits and "_.-~" that quote() always keeps.
_ATTR_CHAR_PUNCTUATION: Final = "!#$&+^`|"
# One element of an entity-tag list (RFC 9110 §8.8.3): an optional weakness mark and a
# quoted opaque tag, which may itself hold commas.
_ENTITY_TAG: Final = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
_RANGE_SPECIFIER: Final = re.compile(r"\s*bytes\s*=(.*)", re.IGNORECASE | re.DOTALL)
_RANGE_SPEC: Final = re.compile(r"([0-9]+)-([0-9]*)|-([0-9]+)")
# Beyond any file's size; positions longer than this many digits are treated as this.
_HUGE: Final = 10**18


class _Unsatisfiable:
    """A ``Range`` that is well formed but that no byte of the file satisfies."""


_UNSATISFIABLE: Final = _Unsatisfiable()
_STORAGE_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("storage_limiter")


def _storage_threads() -> anyio.CapacityLimiter:
    """This event loop's bound on threads reading storage (``STORAGE_THREADS``)."""
    try:
        return _STORAGE_LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(STORAGE_THREADS)
        _STORAGE_LIMITER.set(limiter)
        return limiter


def file_response(
    request: Request,
    storage: Storage,
    *,
    sha256: str,
    size: int,
    content_type: str,
    filename: str,
    disposition: Disposition,
    cache_control: str,
    accel_redirect: str = "",
) -> Response:
    """The answer to a GET or HEAD ``request`` for the stored file ``sha256`` of ``size``
    bytes, to be sent as ``content_type`` and saved as ``filename``.

    Decides from the request's headers alone (304, 412, 416, 206 or 200) without touching
    storage; the returned response opens the file only when it is sent. The route must
    accept HEAD as well as GET (``api_route(..., methods=["GET", "HEAD"])``). With
    ``accel_redirect`` (a proxy's internal location, see the module's docstring), a 200 or
    206 to a GET of a file on the local disk is the proxy's to send.
    """
    etag = f'"{sha256}"'
    validators = {"etag": etag, "cache-control": cache_control}
    if_match = _field(request, "if-match")
    if if_match is not None and not _matches(if_match, sha256, weak=False):
        return Response(status_code=412, headers=validators)
    if_none_match = _field(request, "if-none-match")
    if if_none_match is not None and _matches(if_none_match, sha256, weak=True):
        return Response(status_code=304, headers=validators)

    headers = {
        "content-type": content_type,
        "x-content-type-options": "nosniff",
        "content-disposition": content_disposition(disposition, filename),
        "accept-ranges": "bytes",
        **validators,
    }
    wanted = _wanted_range(request, etag, size)
    if wanted is _UNSATISFIABLE:
        return Response(
            status_code=416,
            headers={
                "content-range": f"bytes */{size}",
                "x-content-type-options": "nosniff",
                "accept-ranges": "bytes",
                **validators,
            },
        )
    if accel_redirect and _proxy_may_send(request):
        name = storage.relative_path(sha256)
        if name is not None:
            headers["x-accel-redirect"] = accel_redirect + name
            return Response(status_code=200, headers=headers)
    if isinstance(wanted, tuple):
        start, stop = wanted
        headers["content-range"] = f"bytes {start}-{stop - 1}/{size}"
        status = 206
    else:
        start, stop = 0, size
        status = 200
    headers["content-length"] = str(stop - start)
    return StoredFileResponse(
        storage,
        sha256,
        size=size,
        start=start,
        stop=stop,
        status_code=status,
        headers=headers,
        send_body=request.method != "HEAD",
    )


def content_disposition(disposition: Disposition, filename: str) -> str:
    """A ``Content-Disposition`` value naming ``filename`` twice (RFC 6266 §4.3): as an
    ASCII quoted string, each other character replaced by "_", for clients that know no
    better, and as UTF-8 in ``filename*`` (RFC 8187), which the others prefer."""
    fallback = "".join(c if " " <= c <= "~" else "_" for c in filename)
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    encoded = quote(filename, safe=_ATTR_CHAR_PUNCTUATION, encoding="utf-8", errors="replace")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


class StoredFileResponse(Response):
    """``size`` bytes stored as ``sha256``, of which ``[start, stop)`` are sent, from the
    file on this host's disk when storage has one and else from ``Storage.read``.
    ``headers`` are sent as given; ``send_body`` is False for HEAD."""

    def __init__(
        self,
        storage: Storage,
        sha256: str,
        *,
        size: int,
        start: int,
        stop: int,
        status_code: int,
        headers: dict[str, str],
        send_body: bool,
    ) -> None:
        self.storage = storage
        self.sha256 = sha256
        self.size = size
        self.start = start
        self.stop = stop
        self.status_code = status_code
        self.send_body = send_body
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            reader = await anyio.to_thread.run_sync(self._open, limiter=_storage_threads())
        except MissingFile:
            log.error("stored file %s is listed but missing from storage", self.sha256)
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if reader is None:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            spec = scope.get("asgi", {}).get("spec_version", "2.0")
            if tuple(map(int, spec.split("."))) >= (2, 4):
                # Here the server's send raises once the client has gone.
                await self._stream(reader, send)
                return
            # Before ASGI 2.4 a send to a client that has gone returns as if it had
            # worked: the body would be read to its end for no one.
            async with anyio.create_task_group() as tasks:

                async def stream() -> None:
                    await self._stream(reader, send)
                    tasks.cancel_scope.cancel()

                tasks.start_soon(stream)
                while (await receive())["type"] != "http.disconnect":
                    pass
                tasks.cancel_scope.cancel()
        finally:
            if reader is not None:
                with anyio.CancelScope(shield=True):
                    await reader.aclose()

    def _open(self) -> _FileReader | _StoreReader | None:
        """What the body is read from, opened before the status line so that a missing
        file is a 404 (``MissingFile``), not a broken response; None for HEAD."""
        if not self.send_body:
            if not self.storage.exists(self.sha256):
                raise MissingFile(self.sha256)
            return None
        path = self.storage.local_path(self.sha256)
        if path is None:
            return _StoreReader(self.storage.read(self.sha256, self.start, self.stop))
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise MissingFile(self.sha256) from None
        reader = _FileReader(descriptor, self.start, self.stop)
        found = os.fstat(descriptor).st_size
        if found != self.size:
            reader.close()
            raise RuntimeError(f"stored file {self.sha256} has {found} bytes, not {self.size}")
        return reader

    async def _stream(self, reader: _FileReader | _StoreReader, send: Send) -> None:
        remaining = self.stop - self.start
        if remaining == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        while remaining:
            chunk = await anyio.to_thread.run_sync(reader.read, limiter=_storage_threads())
            if not chunk or len(chunk) > remaining:
                # Raised after the status line: the server breaks the connection, so the
                # client sees an incomplete body, never a wrong one.
                raise RuntimeError(
                    f"stored file {self.sha256} does not hold bytes {self.start}-{self.stop - 1}"
                )
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})


class _FileReader:
    """``[start, stop)`` of an open file, a chunk at a time, at explicit offsets (pread),
    so nothing depends on a shared file position."""

    def __init__(self, descriptor: int, start: int, stop: int) -> None:
        self.descriptor = descriptor
        self.position = start
        self.stop = stop

    def read(self) -> bytes:
        chunk = os.pread(
            self.descriptor, min(LOCAL_CHUNK_BYTES, self.stop - self.position), self.position
        )
        self.position += len(chunk)
        return chunk

    def close(self) -> None:
        os.close(self.descriptor)

    async def aclose(self) -> None:
        self.close()


class _StoreReader:
    """``Storage.read``'s chunks, the first fetched at once so that ``MissingFile`` comes
    before the status line; closing the generator releases what it holds (a remote
    store's open stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.first: bytes | None = next(chunks, b"")

    def read(self) -> bytes:
        if self.first is not None:
            chunk, self.first = self.first, None
            return chunk
        return next(self.chunks, b"")

    async def aclose(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            await anyio.to_thread.run_sync(close, limiter=_storage_threads())


def _proxy_may_send(request: Request) -> bool:
    """Whether the proxy's answer to ``request`` would be this module's: a GET without
    the conditions that the proxy judges by validators of its own."""
    return (
        request.method == "GET"
        and "if-match" not in request.headers
        and "if-unmodified-since" not in request.headers
    )


def _field(request: Request, name: str) -> str | None:
    """A list-valued header, its field lines joined as RFC 9110 §5.3 allows."""
    lines = request.headers.getlist(name)
    return ", ".join(lines) if lines else None


def _matches(field: str, sha256: str, *, weak: bool) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names this file's ETag, by weak or
    strong comparison (RFC 9110 §8.8.3.2). ``*`` names any file that exists."""
    if field.strip() == "*":
        return True
    return any(
        tag == sha256 and (weak or not weakness) for weakness, tag in _ENTITY_TAG.findall(field)
    )


def _wanted_range(
    request: Request, etag: str, size: int
) -> tuple[int, int] | _Unsatisfiable | None:
    """The one range ``[start, stop)`` to send, ``_UNSATISFIABLE``, or None for the whole
    file (no Range, one to ignore, or an If-Range that does not hold)."""
    if request.method != "GET":
        return None
    field = _field(request, "range")
    if field is None:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    return _parse_range(field, size)


def _parse_range(field: str, size: int) -> tuple[int, int] | _Unsatisfiable | None:
    """RFC 9110 §14.1.2's byte ranges, of which only a single range is answered."""
    specifier = _RANGE_SPECIFIER.fullmatch(field)
    if specifier is None:
        return None
    # A list may hold empty elements, which a recipient skips (RFC 9110 §5.6.1).
    specs = [spec.strip() for spec in specifier.group(1).split(",") if spec.strip()]
    if len(specs) != 1:
        return None
    spec = _RANGE_SPEC.fullmatch(specs[0])
    if spec is None:
        return None
    first, last, suffix = spec.groups()
    if suffix is not None:
        length = _position(suffix)
        if length == 0:
            return _UNSATISFIABLE
        if size == 0:
            return None  # any suffix of nothing is all of it
        return (max(size - length, 0), size)
    start = _position(first)
    if last and _position(last) < start:
        return None  # invalid: the whole field is ignored (RFC 9110 §14.1.1)
    if start >= size:
        return _UNSATISFIABLE
    stop = size if not last else min(_position(last) + 1, size)
    return (start, stop)


def _position(digits: str) -> int:
    # int() refuses strings of more than 4300 digits; any such number is past the end.
    return int(digits) if len(digits) <= 18 else _HUGE
