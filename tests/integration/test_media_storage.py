"""Attachment storage: both backends through the same tests, made by ``build_storage``
from settings as the service makes them. The local one writes under a temporary
``var_dir``; the S3 one talks to moto's server on loopback (``tests/s3_server.py``), a
bucket of its own for each test.

What a test checks is what is stored: the bytes read back, and every file or object a
backend holds afterwards (its directory, its bucket, and the system's temporary
directory, where the S3 backend spools an upload)."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.settings import Settings
from tests.private_servers import free_port
from tests.s3_server import S3Server
from tests.s3_server import s3_server as start_s3_server
from workflow.media.storage import (
    CHUNK_BYTES,
    LocalStorage,
    MissingFile,
    S3Storage,
    Storage,
    StorageUnavailable,
    StoredFile,
    TooLarge,
    build_storage,
)

MiB = 1024 * 1024


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with start_s3_server() as server:
        yield server


@dataclass
class Backend:
    name: str
    storage: Storage
    held: Callable[[], list[str]]  # every file or object it holds, whole or partial


def files_under(*roots: Path) -> list[str]:
    return sorted(str(path) for root in roots for path in root.rglob("*") if not path.is_dir())


def s3_settings(server: S3Server, bucket: str) -> Settings:
    return Settings(
        environment="test",
        media_backend="s3",
        s3_endpoint_url=server.endpoint_url,
        s3_bucket=bucket,
        s3_region=server.region,
        s3_access_key_id=server.access_key_id,
        s3_secret_access_key=server.secret_access_key,
    )


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary directory, as this test's own empty folder."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, spool: Path) -> Backend:
    if request.param == "local":
        var_dir = tmp_path / "var"
        settings = Settings(environment="test", media_backend="local", var_dir=var_dir)
        return Backend("local", build_storage(settings), lambda: files_under(var_dir, spool))
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = server.create_bucket()

    def held() -> list[str]:
        return [f"s3://{bucket}/{key}" for key in server.keys(bucket)] + files_under(spool)

    return Backend("s3", build_storage(s3_settings(server, bucket)), held)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sample(size: int) -> bytes:
    return os.urandom(size)


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def read_all(storage: Storage, sha256: str, start: int = 0, stop: int | None = None) -> bytes:
    chunks = list(storage.read(sha256, start, stop))
    assert all(0 < len(chunk) <= CHUNK_BYTES for chunk in chunks)
    return b"".join(chunks)


# --- the contract, on both backends ---


def test_what_is_stored_reads_back_the_same(backend: Backend) -> None:
    storage = backend.storage
    data = sample(3 * CHUNK_BYTES + 1234)

    stored = storage.put_stream(pieces(data, 10_000), max_bytes=len(data))

    assert stored == StoredFile(sha(data), len(data))
    assert storage.exists(stored.sha256)
    assert storage.size(stored.sha256) == len(data)
    assert read_all(storage, stored.sha256) == data
    path = storage.local_path(stored.sha256)
    if path is not None:
        assert path.read_bytes() == data


def test_an_empty_file_is_stored_too(backend: Backend) -> None:
    stored = backend.storage.put_bytes(b"")

    assert stored == StoredFile(sha(b""), 0)
    assert backend.storage.size(stored.sha256) == 0
    assert read_all(backend.storage, stored.sha256) == b""
    assert read_all(backend.storage, stored.sha256, 0, 10) == b""
    assert len(backend.held()) == 1


def test_the_same_bytes_are_stored_once(backend: Backend) -> None:
    data = sample(100_000)

    answers = {
        backend.storage.put_bytes(data),
        backend.storage.put_stream(pieces(data, 7), max_bytes=len(data)),
        backend.storage.put_stream(pieces(data, 65_536), max_bytes=10 * len(data)),
    }

    assert answers == {StoredFile(sha(data), len(data))}
    assert len(backend.held()) == 1
    assert read_all(backend.storage, sha(data)) == data


def test_different_bytes_are_different_files(backend: Backend) -> None:
    first, second = backend.storage.put_bytes(b"first"), backend.storage.put_bytes(b"second")

    assert first.sha256 != second.sha256
    assert read_all(backend.storage, first.sha256) == b"first"
    assert read_all(backend.storage, second.sha256) == b"second"
    assert len(backend.held()) == 2


def test_concurrent_puts_of_the_same_bytes_keep_one_whole_copy(backend: Backend) -> None:
    data = sample(2 * MiB)
    answers: list[StoredFile] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            answers.append(backend.storage.put_stream(pieces(data, 64 * 1024), max_bytes=MiB * 4))
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=put) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert answers == [StoredFile(sha(data), len(data))] * 4
    assert len(backend.held()) == 1
    assert read_all(backend.storage, sha(data)) == data


def test_ranges(backend: Backend) -> None:
    data = sample(2 * CHUNK_BYTES + 100)
    size = len(data)
    key = backend.storage.put_bytes(data).sha256
    ranges = [
        (0, None),
        (0, size),
        (0, 1),
        (1, 2),
        (10, 20),
        (CHUNK_BYTES - 1, CHUNK_BYTES + 1),  # across a chunk's edge
        (CHUNK_BYTES, 2 * CHUNK_BYTES),
        (100, None),
        (size - 1, None),
        (size - 1, size),
        (0, size + 1000),  # a stop past the end is cut there
        (size - 5, size + 5),
        (0, 0),  # empty ranges
        (5, 5),
        (size, None),
        (size, size),
        (size + 10, None),
        (size + 10, size + 20),
    ]

    for start, stop in ranges:
        assert read_all(backend.storage, key, start, stop) == data[start:stop], (start, stop)


@pytest.mark.parametrize(("start", "stop"), [(-1, None), (-1, 5), (10, 9)])
def test_a_backwards_or_negative_range_is_refused(
    backend: Backend, start: int, stop: int | None
) -> None:
    key = backend.storage.put_bytes(b"0123456789abcdef").sha256

    with pytest.raises(ValueError, match="not a byte range"):
        backend.storage.read(key, start, stop)


def test_too_large_stops_at_the_limit_and_leaves_nothing(backend: Backend) -> None:
    piece = sample(100 * 1024)
    taken = 0

    def upload() -> Iterator[bytes]:
        nonlocal taken
        for _ in range(50):
            taken += 1
            yield piece

    with pytest.raises(TooLarge) as refused:
        backend.storage.put_stream(upload(), max_bytes=MiB)

    assert refused.value.limit == MiB
    assert taken == 11  # ten pieces are 1,024,000 bytes; the eleventh passes 1 MiB
    assert backend.held() == []
    assert not backend.storage.exists(sha(piece * 11))


def test_an_upload_broken_off_midway_leaves_nothing(backend: Backend) -> None:
    class Disconnected(Exception):
        pass

    def upload() -> Iterator[bytes]:
        yield sample(CHUNK_BYTES)
        yield sample(CHUNK_BYTES)
        raise Disconnected

    with pytest.raises(Disconnected):
        backend.storage.put_stream(upload(), max_bytes=10 * MiB)

    assert backend.held() == []


def test_a_file_of_exactly_the_limit_is_stored(backend: Backend) -> None:
    data = sample(50_000)

    stored = backend.storage.put_stream(pieces(data, 1000), max_bytes=len(data))

    assert stored.size == len(data)
    assert read_all(backend.storage, stored.sha256) == data


def test_a_missing_file(backend: Backend) -> None:
    storage = backend.storage
    storage.put_bytes(b"something else")
    missing = sha(b"never stored")

    assert not storage.exists(missing)
    with pytest.raises(MissingFile):
        storage.size(missing)
    # Before any chunk is asked for, so that a response can still say 404.
    with pytest.raises(MissingFile):
        storage.read(missing)
    with pytest.raises(MissingFile):
        storage.read(missing, 0, 0)
    with pytest.raises(MissingFile):
        storage.read(missing, 5, 10)


def test_delete_removes_the_file_and_may_be_repeated(backend: Backend) -> None:
    storage = backend.storage
    kept, deleted = storage.put_bytes(b"kept"), storage.put_bytes(b"deleted")

    storage.delete(deleted.sha256)
    storage.delete(deleted.sha256)
    storage.delete(sha(b"never stored"))

    assert not storage.exists(deleted.sha256)
    with pytest.raises(MissingFile):
        storage.size(deleted.sha256)
    assert storage.exists(kept.sha256)
    assert len(backend.held()) == 1


BAD_SHA256 = [
    "",
    "../../../../etc/passwd",
    "a" * 63,
    "a" * 65,
    "A" * 64,  # upper case: the same file under another name
    "g" * 64,
    "a" * 62 + "/x",
    "a" * 64 + "\n",
    "../" + "a" * 61,
    " " + "a" * 63,
]


@pytest.mark.parametrize("bad", BAD_SHA256, ids=repr)
def test_a_name_that_is_not_a_sha256_is_refused(backend: Backend, bad: str) -> None:
    storage = backend.storage
    calls: list[Callable[[], object]] = [
        lambda: storage.exists(bad),
        lambda: storage.size(bad),
        lambda: storage.read(bad),
        lambda: storage.read(bad, 0, 0),
        lambda: storage.local_path(bad),
        lambda: storage.delete(bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="not a SHA-256"):
            call()
    assert backend.held() == []


def test_a_large_upload_streams_through_without_being_held_in_memory(backend: Backend) -> None:
    """30 MiB, generated 1 MiB at a time, stored and read back while tracemalloc watches
    every allocation of this process (all threads: boto3 sends parts from threads of its
    own; the S3 server is another process). What may be held at once does not depend on
    the file's size: the piece being written, and for S3 up to four parts in flight, each
    read in 1 MiB pieces by botocore to checksum it. A backend that held the file, or
    its multipart parts (boto3's ``upload_fileobj`` does: 35 MiB here), passes the
    bound."""
    size, piece = 30 * MiB, MiB
    expected = hashlib.sha256()

    def upload() -> Iterator[bytes]:
        for _ in range(size // piece):
            chunk = os.urandom(piece)
            expected.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        stored = backend.storage.put_stream(upload(), max_bytes=size)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read_back = hashlib.sha256()
        read_size = 0
        for chunk in backend.storage.read(stored.sha256):
            read_back.update(chunk)
            read_size += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored == StoredFile(expected.hexdigest(), size)
    assert (read_back.hexdigest(), read_size) == (stored.sha256, size)
    assert put_peak < 12 * MiB, f"storing 30 MiB took {put_peak / MiB:.1f} MiB at the peak"
    assert read_peak < 12 * MiB, f"reading 30 MiB took {read_peak / MiB:.1f} MiB at the peak"


# --- what each backend does of its own ---


def test_local_files_are_named_by_their_hash_and_readable_by_all(tmp_path: Path) -> None:
    root = tmp_path / "media"
    storage = LocalStorage(root)
    previous = os.umask(0o077)  # a strict umask must not hide files from the other processes
    try:
        stored = storage.put_bytes(b"a photo")
    finally:
        os.umask(previous)

    path = root / stored.sha256[:2] / stored.sha256
    assert storage.local_path(stored.sha256) == path
    assert path.read_bytes() == b"a photo"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert list((root / ".incoming").iterdir()) == []
    with pytest.raises(MissingFile):
        storage.local_path(sha(b"never stored"))


def test_local_storage_is_built_under_var_dir(tmp_path: Path) -> None:
    settings = Settings(environment="test", media_backend="local", var_dir=tmp_path)

    storage = build_storage(settings)
    stored = storage.put_bytes(b"a document")

    assert isinstance(storage, LocalStorage)
    assert files_under(tmp_path) == [str(tmp_path / "media" / stored.sha256[:2] / stored.sha256)]


def test_s3_objects_are_keyed_by_hash_as_opaque_bytes(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    storage = build_storage(s3_settings(s3_server, bucket))

    stored = storage.put_bytes(b"%PDF-1.7 a document")

    assert isinstance(storage, S3Storage)
    assert storage.bucket == bucket
    assert storage.local_path(stored.sha256) is None
    assert s3_server.keys(bucket) == [f"media/{stored.sha256}"]
    head = s3_server.client().head_object(Bucket=bucket, Key=f"media/{stored.sha256}")
    assert head["ContentType"] == "application/octet-stream"


def test_s3_uploads_a_large_file_in_parts(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    storage = build_storage(s3_settings(s3_server, bucket))
    data = sample(17 * MiB)

    stored = storage.put_stream(pieces(data, MiB), max_bytes=len(data))

    head = s3_server.client().head_object(Bucket=bucket, Key=f"media/{stored.sha256}")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart object's ETag counts parts
    assert read_all(storage, stored.sha256) == data


def test_an_unreachable_endpoint_is_one_clear_error(tmp_path: Path, spool: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(
        environment="test",
        media_backend="s3",
        s3_endpoint_url=endpoint,
        s3_bucket="newsroom-media",
        s3_access_key_id="key",
        s3_secret_access_key="secret",
    )
    storage = build_storage(settings)  # contacts nothing yet
    key = sha(b"anything")

    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as first:
        storage.exists(key)
    assert time.monotonic() - started < 15  # a few quick retries, not a hang

    message = str(first.value)
    assert "\n" not in message
    assert message.startswith(f"S3 bucket 'newsroom-media' at {endpoint}: ")
    assert "Could not connect" in message
    assert first.value.__suppress_context__  # no chained traceback under it
    with pytest.raises(StorageUnavailable, match="newsroom-media"):
        storage.put_bytes(b"an upload")
    with pytest.raises(StorageUnavailable, match="newsroom-media"):
        storage.read(key)
    assert files_under(spool) == []


def test_a_missing_bucket_is_one_clear_error(s3_server: S3Server, spool: Path) -> None:
    storage = build_storage(s3_settings(s3_server, "no-such-bucket-here"))

    # A HEAD's 404 alone would read as a missing file.
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        storage.exists(sha(b"anything"))
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        storage.read(sha(b"anything"))
    with pytest.raises(StorageUnavailable) as refused:
        storage.put_bytes(b"an upload")

    message = str(refused.value)
    assert message.startswith(f"S3 bucket 'no-such-bucket-here' at {s3_server.endpoint_url}: ")
    assert "NoSuchBucket" in message or "404" in message
    assert "\n" not in message
    assert files_under(spool) == []
