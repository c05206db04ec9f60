"""Stored files over HTTP (``workflow/web/file_responses.py``): a FastAPI app using
``file_response`` on a real uvicorn on 127.0.0.1, asked through httpx.

Every behaviour is checked with both backends: ``LocalStorage``, whose files are sent
from their path, and ``S3Storage`` against moto's S3 server on loopback, whose
``local_path`` is None so that bodies come through ``Storage.read``. Each is seen through
``Watched``, which passes every call on and counts what ``read`` hands out.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from anyio import to_thread
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import Response

from tests.private_servers import free_port
from tests.processes import served_in_thread
from tests.s3_server import s3_server
from workflow.media.storage import LocalStorage, S3Storage, Storage, StoredFile
from workflow.web.file_responses import Disposition, file_response

CACHE_CONTROL = "public, max-age=31536000, immutable"
KOREAN_NAME = "2026 외교부 보도자료.pdf"


class Watched:
    """A storage as it is, but counting the bytes its ``read`` hands out and the reads
    not yet closed, file by file."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.bytes_read: Counter[str] = Counter()
        self.open_reads: Counter[str] = Counter()

    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredFile:
        return self.inner.put_stream(chunks, max_bytes=max_bytes)

    def put_bytes(self, data: bytes) -> StoredFile:
        return self.inner.put_bytes(data)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def size(self, sha256: str) -> int:
        return self.inner.size(sha256)

    def read(self, sha256: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        return self._counted(sha256, self.inner.read(sha256, start, stop))

    def _counted(self, sha256: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        self.open_reads[sha256] += 1
        try:
            for chunk in chunks:
                self.bytes_read[sha256] += len(chunk)
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            self.open_reads[sha256] -= 1

    def local_path(self, sha256: str) -> Path | None:
        return self.inner.local_path(sha256)

    def relative_path(self, sha256: str) -> str | None:
        return self.inner.relative_path(sha256)

    def delete(self, sha256: str) -> None:
        self.inner.delete(sha256)


@dataclass(frozen=True)
class Listed:
    """What the database would hold about an attachment."""

    size: int
    content_type: str
    filename: str
    disposition: Disposition


@dataclass
class Server:
    base: str
    storages: dict[str, Watched]
    listed: dict[str, Listed] = field(default_factory=dict)
    # The one handler thread, held by ``/busy`` until ``release`` is set.
    busy: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app on uvicorn in this process: a download route per storage, and ``/busy``,
    which holds the one thread that plain ``def`` handlers may run in."""
    with s3_server() as s3:
        yield from _serving(
            {
                "local": Watched(LocalStorage(tmp_path_factory.mktemp("var") / "media")),
                "s3": Watched(S3Storage(s3.bucket, s3.client())),
            }
        )


def _serving(storages: dict[str, Watched]) -> Iterator[Server]:
    port = free_port()
    site = Server(f"http://127.0.0.1:{port}", storages)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # workflow/api/app.py holds handler threads to the database pool's size.
        to_thread.current_default_thread_limiter().total_tokens = 1
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/busy")
    def busy() -> Response:
        site.busy.set()
        site.release.wait(timeout=30)
        return Response("done")

    # Deciding touches no storage, so a download is an ``async def`` that takes no
    # handler thread. Under /accel, behind a proxy that serves the local folder.
    @app.api_route("/{kind}/{sha256}", methods=["GET", "HEAD"])
    @app.api_route("/accel/{kind}/{sha256}", methods=["GET", "HEAD"])
    async def download(kind: str, sha256: str, request: Request) -> Response:
        entry = site.listed[sha256]
        return file_response(
            request,
            storages[kind],
            sha256=sha256,
            size=entry.size,
            content_type=entry.content_type,
            filename=entry.filename,
            disposition=entry.disposition,
            cache_control=CACHE_CONTROL,
            accel_redirect="/_media/" if request.url.path.startswith("/accel/") else "",
        )

    with served_in_thread(app, port):
        yield site


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, timeout=30) as http:
        yield http


@dataclass(frozen=True)
class Stored:
    url: str
    sha256: str
    data: bytes
    storage: Watched

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


@pytest.fixture(params=["local", "s3"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass(frozen=True)
class Shelf:
    """``store(data, ...)`` keeps ``data`` in this test's storage, lists it, and gives
    where to ask for it; ``listed_size`` lists a size other than the stored one."""

    server: Server
    kind: str

    def __call__(
        self,
        data: bytes,
        *,
        content_type: str = "application/pdf",
        filename: str = KOREAN_NAME,
        disposition: Disposition = "attachment",
        listed_size: int | None = None,
    ) -> Stored:
        storage = self.server.storages[self.kind]
        stored = storage.put_bytes(data)
        size = stored.size if listed_size is None else listed_size
        self.server.listed[stored.sha256] = Listed(size, content_type, filename, disposition)
        return Stored(f"/{self.kind}/{stored.sha256}", stored.sha256, data, storage)


@pytest.fixture
def store(server: Server, kind: str) -> Shelf:
    return Shelf(server, kind)


def document(size: int, seed: int = 1) -> bytes:
    """``size`` bytes that differ everywhere, so that an offset error shows."""
    blocks = (hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def parameters(value: str) -> dict[str, str]:
    """A Content-Disposition value's parameters, read as RFC 6266 §4.1 writes them:
    ``;``-separated, values as tokens or quoted strings with backslash escapes."""
    found: dict[str, str] = {}
    for match in re.finditer(r';\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)', value):
        name, raw = match.group(1).lower(), match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        found[name] = raw
    return found


def extended_value(value: str) -> str:
    """An RFC 8187 ext-value (``UTF-8''percent-encoded``) decoded by hand."""
    charset, _language, encoded = value.split("'", 2)
    assert charset.upper() == "UTF-8"
    return unquote(encoded, encoding="utf-8", errors="strict")


# --- Behind a proxy that sends files from disk -------------------------------------------


def test_behind_a_proxy_a_local_file_is_named_for_it_and_not_sent(
    store: Shelf, client: httpx.Client
) -> None:
    data = document(100_000)
    stored = store(data, content_type="image/jpeg", disposition="inline")
    url = "/accel" + stored.url
    if store.kind == "s3":
        # No proxy reads a bucket: the app streams, as it does without one.
        for headers in ({}, {"Range": "bytes=0-9"}):
            streamed = client.get(url, headers=headers)
            assert "x-accel-redirect" not in streamed.headers
            assert streamed.content == (data[:10] if headers else data)
        return

    for headers in ({}, {"Range": "bytes=0-9"}, {"If-None-Match": '"other"'}):
        named = client.get(url, headers=headers)
        assert named.status_code == 200, headers
        assert named.headers["x-accel-redirect"] == (f"/_media/{stored.sha256[:2]}/{stored.sha256}")
        assert named.content == b""
        assert named.headers["etag"] == stored.etag
        assert named.headers["content-type"] == "image/jpeg"
        assert named.headers["cache-control"] == CACHE_CONTROL
        assert named.headers["content-disposition"].startswith("inline; ")
    # What the app decides alone, it still answers itself: a 304, a 416, and the
    # conditions a proxy would judge by validators of its own; HEAD reads no bytes.
    assert client.get(url, headers={"If-None-Match": stored.etag}).status_code == 304
    assert client.get(url, headers={"Range": "bytes=200000-"}).status_code == 416
    for headers in (
        {"If-Match": stored.etag},
        {"If-Unmodified-Since": "Mon, 07 Dec 2026 00:00:00 GMT"},
    ):
        sent = client.get(url, headers=headers)
        assert "x-accel-redirect" not in sent.headers
        assert sent.content == data
    head = client.head(url)
    assert "x-accel-redirect" not in head.headers
    assert head.headers["content-length"] == str(len(data))


# --- The whole file ---------------------------------------------------------------------


def test_a_get_answers_the_whole_file_with_its_validators(
    store: Shelf, client: httpx.Client
) -> None:
    data = document(300_000)
    stored = store(data)

    response = client.get(stored.url)

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(data))
    assert "last-modified" not in response.headers
    assert "content-range" not in response.headers
    assert "transfer-encoding" not in response.headers


def test_a_text_file_keeps_exactly_its_type(store: Shelf, client: httpx.Client) -> None:
    stored = store(b"plain notes, encoding unknown\n", content_type="text/plain")

    response = client.get(stored.url)

    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_empty_file_is_an_empty_200(store: Shelf, client: httpx.Client) -> None:
    stored = store(b"")

    response = client.get(stored.url)

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_head_gives_the_headers_of_get_and_no_body(store: Shelf, client: httpx.Client) -> None:
    stored = store(document(200_000))

    get = client.get(stored.url)
    head = client.head(stored.url)

    assert head.status_code == 200
    assert head.content == b""
    without_date = {k: v for k, v in get.headers.items() if k != "date"}
    assert {k: v for k, v in head.headers.items() if k != "date"} == without_date


def test_head_ignores_a_range_as_rfc_9110_says(store: Shelf, client: httpx.Client) -> None:
    stored = store(document(10_000))

    head = client.head(stored.url, headers={"Range": "bytes=0-9"})

    assert head.status_code == 200
    assert head.headers["content-length"] == "10000"
    assert "content-range" not in head.headers


# --- The file's name --------------------------------------------------------------------


def test_a_korean_file_name_survives_in_content_disposition(
    store: Shelf, client: httpx.Client
) -> None:
    stored = store(document(1000), filename=KOREAN_NAME, disposition="inline")

    value = client.get(stored.url).headers["content-disposition"]

    assert value.startswith("inline;")
    assert value.isascii()
    found = parameters(value)
    assert extended_value(found["filename*"]) == KOREAN_NAME
    assert found["filename"] == "2026 ___ ____.pdf"
    # The standard library's RFC 2231 decoding reads the extended value the same way.
    only_extended = Message()
    only_extended["Content-Disposition"] = "inline; filename*=" + found["filename*"]
    assert only_extended.get_filename() == KOREAN_NAME


def test_quotes_and_backslashes_are_escaped_in_the_ascii_name(
    store: Shelf, client: httpx.Client
) -> None:
    name = '보도 "최종" \\ 2026; v2*.pdf'
    stored = store(document(1000), filename=name)

    value = client.get(stored.url).headers["content-disposition"]

    assert value.startswith("attachment;")
    assert '"__ \\"__\\" \\\\ 2026; v2*.pdf"' in value
    found = parameters(value)
    assert found["filename"] == '__ "__" \\ 2026; v2*.pdf'
    assert extended_value(found["filename*"]) == name
    # Only attr-chars (RFC 8187) appear unencoded in the extended value.
    assert re.fullmatch(r"UTF-8''[A-Za-z0-9!#$&+^`|~._%-]*", found["filename*"])


# --- Ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1000", 1000, 1000),
        ("bytes=70000-", 70000, 99_999),
        ("bytes=-500", 99_500, 99_999),
        ("bytes=99000-200000", 99000, 99_999),  # a last position past the end is cut
        ("bytes=-200000", 0, 99_999),  # a suffix longer than the file is all of it
        ("Bytes = 5-9", 5, 9),  # the unit is case-insensitive
        ("bytes=, 5-9 ,", 5, 9),  # empty list elements are skipped
    ],
)
def test_a_single_range_is_answered_206(
    store: Shelf, client: httpx.Client, asked: str, first: int, last: int
) -> None:
    data = document(100_000)
    stored = store(data)

    response = client.get(stored.url, headers={"Range": asked})

    assert response.status_code == 206
    assert response.content == data[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/100000"
    assert response.headers["content-length"] == str(last + 1 - first)
    assert response.headers["etag"] == stored.etag
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("asked", ["bytes=100000-", "bytes=250000-250010", "bytes=-0"])
def test_a_range_past_the_end_is_416(store: Shelf, client: httpx.Client, asked: str) -> None:
    stored = store(document(100_000))

    response = client.get(stored.url, headers={"Range": asked})

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */100000"
    assert response.content == b""


@pytest.mark.parametrize(
    "asked",
    [
        "bytes=0-9,20-29",  # several ranges: the whole file, see the module's docstring
        "bytes=0-9,5-15",
        "bytes=9-0",  # last before first: invalid
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=",
        "items=0-9",  # a unit other than bytes
        "0-9",
        "bytes=１-９",  # full-width digits are not digits here
    ],
)
def test_a_range_that_cannot_be_answered_alone_gets_the_whole_file(
    store: Shelf, client: httpx.Client, asked: str
) -> None:
    data = document(50_000)
    stored = store(data)

    response = client.get(stored.url, headers={b"Range": asked.encode()})

    assert response.status_code == 200
    assert response.content == data
    assert "content-range" not in response.headers


def test_a_position_of_thousands_of_digits_is_past_the_end(
    store: Shelf, client: httpx.Client
) -> None:
    data = document(1000)
    stored = store(data)
    huge = "9" * 5000

    assert client.get(stored.url, headers={"Range": f"bytes={huge}-"}).status_code == 416
    suffix = client.get(stored.url, headers={"Range": f"bytes=-{huge}"})
    assert (suffix.status_code, suffix.content) == (206, data)
    cut = client.get(stored.url, headers={"Range": f"bytes=10-{huge}"})
    assert (cut.status_code, cut.content) == (206, data[10:])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    first=st.integers(min_value=0, max_value=9_000),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=9_000)),
    suffix=st.booleans(),
)
def test_any_single_range_gives_exactly_those_bytes(
    store: Shelf, client: httpx.Client, first: int, length: int | None, suffix: bool
) -> None:
    data = document(8_192, seed=7)
    stored = store(data)
    if suffix:
        asked, wanted = f"bytes=-{first}", (data[-first:] if first else None)
    elif length is None:
        asked, wanted = f"bytes={first}-", data[first:] or None
    else:
        asked, wanted = f"bytes={first}-{first + length}", data[first : first + length + 1] or None

    response = client.get(stored.url, headers={"Range": asked})

    if wanted is None:
        assert response.status_code == 416
        assert response.headers["content-range"] == "bytes */8192"
    else:
        start = len(data) - len(wanted) if suffix else first
        assert response.status_code == 206
        assert response.content == wanted
        assert response.headers["content-range"] == (
            f"bytes {start}-{start + len(wanted) - 1}/8192"
        )


# --- Conditional requests ---------------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [
        "{etag}",
        "W/{etag}",  # If-None-Match compares weakly
        '"0123", {etag}',
        '"a,b", W/"x",{etag}',  # commas inside a tag do not split it
        "*",
    ],
)
def test_if_none_match_naming_the_file_is_304(
    store: Shelf, client: httpx.Client, tags: str
) -> None:
    stored = store(document(20_000))

    for method in ("GET", "HEAD"):
        response = client.request(
            method,
            stored.url,
            headers={"If-None-Match": tags.format(etag=stored.etag), "Range": "bytes=0-9"},
        )

        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == stored.etag
        assert response.headers["cache-control"] == CACHE_CONTROL
        assert "content-length" not in response.headers


def test_if_none_match_over_several_field_lines(store: Shelf, client: httpx.Client) -> None:
    stored = store(document(20_000))

    response = client.get(
        stored.url, headers=[("If-None-Match", '"other"'), ("If-None-Match", stored.etag)]
    )

    assert response.status_code == 304


@pytest.mark.parametrize("tags", ['"other"', '"other", W/"another"', f'"{"0" * 64}"', ""])
def test_if_none_match_naming_other_files_gets_the_file(
    store: Shelf, client: httpx.Client, tags: str
) -> None:
    data = document(20_000)
    stored = store(data)

    response = client.get(stored.url, headers={"If-None-Match": tags})

    assert response.status_code == 200
    assert response.content == data


def test_if_match_compares_strongly(store: Shelf, client: httpx.Client) -> None:
    data = document(20_000)
    stored = store(data)

    assert client.get(stored.url, headers={"If-Match": stored.etag}).content == data
    assert client.get(stored.url, headers={"If-Match": "*"}).status_code == 200
    for failing in ('"other"', f"W/{stored.etag}"):
        response = client.get(stored.url, headers={"If-Match": failing})
        assert response.status_code == 412
        assert response.content == b""


def test_if_range_with_the_etag_gets_the_range(store: Shelf, client: httpx.Client) -> None:
    data = document(20_000)
    stored = store(data)

    response = client.get(stored.url, headers={"Range": "bytes=100-199", "If-Range": stored.etag})

    assert response.status_code == 206
    assert response.content == data[100:200]


@pytest.mark.parametrize(
    "validator",
    [
        '"0123456789abcdef"',  # the file changed since the client's copy
        "W/{etag}",  # a weak tag never matches If-Range
        "Mon, 07 Dec 2026 10:00:00 GMT",  # no Last-Modified: a date never matches
    ],
)
def test_if_range_with_anything_else_gets_the_whole_file(
    store: Shelf, client: httpx.Client, validator: str
) -> None:
    data = document(20_000)
    stored = store(data)

    response = client.get(
        stored.url,
        headers={"Range": "bytes=100-199", "If-Range": validator.format(etag=stored.etag)},
    )

    assert response.status_code == 200
    assert response.content == data
    assert "content-range" not in response.headers


# --- Storage that fails -----------------------------------------------------------------


def test_a_file_missing_from_storage_is_404(store: Shelf, client: httpx.Client) -> None:
    stored = store(document(1000))
    stored.storage.delete(stored.sha256)

    assert client.get(stored.url).status_code == 404
    assert client.head(stored.url).status_code == 404
    assert client.get(stored.url, headers={"Range": "bytes=0-9"}).status_code == 404


def test_a_file_shorter_than_listed_never_passes_for_whole(
    store: Shelf, client: httpx.Client, kind: str
) -> None:
    data = document(300_000)
    stored = store(data, listed_size=len(data) + 1)

    if kind == "local":
        # Seen before the status line: a server error, not a body.
        assert client.get(stored.url).status_code == 500
    else:
        # Seen only when the bytes run out: the connection breaks under the body
        # (closed early or reset, as the timing falls).
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get(stored.url)


# --- Streaming --------------------------------------------------------------------------


def test_a_multi_megabyte_file_streams_whole(store: Shelf, client: httpx.Client) -> None:
    data = document(12 * 1024 * 1024 + 12_345, seed=3)
    stored = store(data)
    digest = hashlib.sha256()
    received = 0

    with client.stream("GET", stored.url) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(data))
        for chunk in response.iter_raw():
            digest.update(chunk)
            received += len(chunk)

    assert received == len(data)
    assert digest.hexdigest() == stored.sha256 == hashlib.sha256(data).hexdigest()
    middle = client.get(stored.url, headers={"Range": "bytes=1048000-5242999"})
    assert middle.status_code == 206
    assert middle.content == data[1_048_000:5_243_000]


def _descriptors_on(path: Path) -> int:
    count = 0
    for entry in Path("/proc/self/fd").iterdir():
        try:
            count += os.readlink(entry) == str(path)
        except OSError:
            continue  # closed while we looked
    return count


def _eventually(predicate: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.02)


def test_an_abandoned_download_stops_reading_and_closes_the_file(
    store: Shelf, server: Server, kind: str
) -> None:
    data = document(48 * 1024 * 1024, seed=5)
    stored = store(data)
    path = stored.storage.local_path(stored.sha256)

    with (
        httpx.Client(base_url=server.base, timeout=30) as own,
        own.stream("GET", stored.url) as response,
    ):
        assert response.status_code == 200
        next(response.iter_raw())
        # The client goes away with most of the file unsent.

    if path is not None:
        _eventually(lambda: _descriptors_on(path) == 0, "the file is still open")
    else:
        _eventually(lambda: stored.storage.open_reads[stored.sha256] == 0, "still reading")
        read = stored.storage.bytes_read[stored.sha256]
        assert read < len(data) // 2, "the store was read on for a client that had gone"


def test_a_local_file_is_sent_from_its_path(store: Shelf, client: httpx.Client, kind: str) -> None:
    data = document(3 * 1024 * 1024)
    stored = store(data)

    assert client.get(stored.url).content == data
    assert client.get(stored.url, headers={"Range": "bytes=10-"}).content == data[10:]

    through_read = stored.storage.bytes_read[stored.sha256]
    assert through_read == (0 if kind == "local" else 2 * len(data) - 10)
    # The server closes its read once the last byte is sent, maybe after the client has it.
    _eventually(lambda: stored.storage.open_reads[stored.sha256] == 0, "still reading")


def test_downloads_take_no_thread_a_handler_needs(
    store: Shelf, server: Server, client: httpx.Client
) -> None:
    data = document(3 * 1024 * 1024, seed=9)
    stored = store(data)
    server.busy.clear()
    server.release.clear()

    with ThreadPoolExecutor(1) as elsewhere:
        waiting = elsewhere.submit(httpx.get, f"{server.base}/busy", timeout=30)
        try:
            _eventually(server.busy.is_set, "the handler did not start")

            response = client.get(stored.url, timeout=5)

            assert response.content == data
            assert client.head(stored.url, timeout=5).status_code == 200
        finally:
            server.release.set()
        assert waiting.result().status_code == 200
