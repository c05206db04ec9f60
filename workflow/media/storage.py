"""Where attachment files are kept: content-addressed blobs, by their SHA-256.

Two backends behind one interface, chosen by ``NEWSROOM_MEDIA_BACKEND``: the local file
system under ``NEWSROOM_VAR_DIR/media`` (``LocalStorage``) and S3-compatible object
storage (``S3Storage``); ``build_storage`` makes the one the settings name. The database
holds what a file is (its name, type, size, which release); storage holds only bytes.

A file's name is the SHA-256 of its bytes, so storing the same bytes twice keeps one
copy, and a stored file never changes. Storage does not count who refers to a file: the
caller deletes one only when no attachment row names it any more.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

# boto3 and botocore ship no type information; the one client interface used here is
# written down as ``S3Client`` below.
import boto3.exceptions  # type: ignore[import-untyped]
import boto3.session  # type: ignore[import-untyped]
import botocore.config  # type: ignore[import-untyped]
import botocore.exceptions  # type: ignore[import-untyped]
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

from config.settings import Settings

CHUNK_BYTES = 256 * 1024  # what ``read`` yields at a time, and what it reads at a time

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str  # lower-case hex: the file's name in storage
    size: int


class TooLarge(Exception):
    """An upload passed the size limit while it streamed in; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


class MissingFile(Exception):
    """No file with that SHA-256 is stored."""


class StorageUnavailable(Exception):
    """The storage cannot be reached or refuses this service: an unreachable endpoint,
    bad credentials, a missing bucket. The message says which, in one line."""


class Storage(Protocol):
    """Content-addressed file storage. Every method that takes a ``sha256`` raises
    ``ValueError`` unless it is 64 lower-case hex characters, so that no path or key can
    be smuggled in through it."""

    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredFile:
        """Store ``chunks`` as they come, hashing them on the way, never holding the whole
        file in memory. Raises ``TooLarge`` as soon as ``max_bytes`` is passed (nothing is
        left behind). Storing bytes already stored is a no-op that answers the same."""
        ...

    def put_bytes(self, data: bytes) -> StoredFile:
        """Store ``data`` as ``put_stream`` does, with no size limit."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether a file with that SHA-256 is stored."""
        ...

    def size(self, sha256: str) -> int:
        """The stored size; ``MissingFile`` if there is none."""
        ...

    def read(self, sha256: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, stop)`` in chunks; ``MissingFile`` if there is none.

        The call itself raises ``MissingFile`` (or ``ValueError`` for a negative
        ``start`` or a ``stop`` before it), before any chunk is asked for, so that a
        response can still answer 404. A range past the end is cut at the end. Read the
        iterator to its end or close it: it holds a file or a connection open."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """The file's path when it is on this host's disk (the local backend), so that a
        response can send it straight from the file; None for remote storage. The local
        backend raises ``MissingFile`` if there is none."""
        ...

    def relative_path(self, sha256: str) -> str | None:
        """Where the file is under the local backend's root folder, for a web server that
        serves that folder itself (``NEWSROOM_MEDIA_ACCEL_REDIRECT``); None for remote
        storage. Touches no storage: the file may not exist."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the file; deleting a file that is not stored does nothing."""
        ...


def build_storage(settings: Settings) -> Storage:
    """The storage that ``NEWSROOM_MEDIA_BACKEND`` names. Nothing is contacted yet: an
    unreachable S3 endpoint raises ``StorageUnavailable`` at the first call."""
    if settings.media_backend == "s3":
        return S3Storage(settings.s3_bucket, s3_client(settings))
    return LocalStorage(settings.var_dir / "media")


class LocalStorage:
    """Files on this host's disk, as ``root/<first two hex digits>/<sha256>``.

    An upload is written to ``root/.incoming`` and renamed into place once complete, so
    a file under its name is always whole, also for a reader in another process (web
    and workers share the directory). Files are readable by all (0o644), so that web
    and worker processes running as different users can serve them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._incoming = root / ".incoming"

    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredFile:
        _make_directory(self.root, parents=True)
        _make_directory(self._incoming)
        # In root itself, so that the rename into place stays on one file system.
        descriptor, name = tempfile.mkstemp(prefix="upload-", dir=self._incoming)
        temporary = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as out:
                stored = _copy(chunks, out, max_bytes)
                out.flush()
                os.fsync(out.fileno())
                os.fchmod(out.fileno(), 0o644)  # mkstemp makes it 0o600
            target = self._path(stored.sha256)
            if target.exists():
                temporary.unlink()
                return stored
            _make_directory(target.parent)
            os.replace(temporary, target)
            _sync_directory(target.parent)  # the rename itself survives a crash
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return stored

    def put_bytes(self, data: bytes) -> StoredFile:
        return self.put_stream((data,), max_bytes=len(data))

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            raise MissingFile(sha256) from None

    def read(self, sha256: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        _check_range(start, stop)
        try:
            source = self._path(sha256).open("rb")
        except FileNotFoundError:
            raise MissingFile(sha256) from None
        return _file_chunks(source, start, stop)

    def local_path(self, sha256: str) -> Path:
        path = self._path(sha256)
        if not path.is_file():
            raise MissingFile(sha256)
        return path

    def relative_path(self, sha256: str) -> str:
        _check_sha256(sha256)
        return f"{sha256[:2]}/{sha256}"

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.root / self.relative_path(sha256)


def _make_directory(path: Path, *, parents: bool = False) -> None:
    """Make ``path`` readable and searchable by all, whatever the process's umask: the
    web and the workers may run as different users."""
    try:
        path.mkdir(parents=parents)
    except FileExistsError:
        return
    path.chmod(0o755)


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _file_chunks(source: IO[bytes], start: int, stop: int | None) -> Iterator[bytes]:
    with source:
        source.seek(start)
        left = None if stop is None else stop - start
        while left is None or left > 0:
            chunk = source.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


class S3Client(Protocol):
    """The calls of a boto3 S3 client that ``S3Storage`` makes."""

    @property
    def meta(self) -> Any: ...

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...

    def head_bucket(self, *, Bucket: str) -> dict[str, Any]: ...

    def get_object(self, *, Bucket: str, Key: str, Range: str = ...) -> dict[str, Any]: ...

    def delete_object(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...

    def upload_file(
        self,
        Filename: str,
        Bucket: str,
        Key: str,
        ExtraArgs: dict[str, Any] | None = None,
        Callback: Any = None,
        Config: Any = None,
    ) -> None: ...


# Above 8 MiB a file goes up in parts of 8 MiB, four at a time, each read from the spool
# file as it is sent: memory stays a few MiB whatever the file's size.
_TRANSFER = TransferConfig(
    multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4
)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Storage:
    """Objects ``media/<sha256>`` in one bucket of an S3-compatible store.

    An upload is spooled to a temporary file on local disk while it is hashed and
    measured, then sent under its name unless an object of that name is there already.
    Objects are stored as ``application/octet-stream``: the application knows each
    file's real type and serves it with that.

    The credentials need ``s3:GetObject``, ``s3:PutObject`` and ``s3:DeleteObject`` on
    ``media/*``, and ``s3:ListBucket`` on the bucket: without it S3 answers a missing
    object with 403, which reads as refused access, not as ``MissingFile``."""

    def __init__(self, bucket: str, client: S3Client) -> None:
        self.bucket = bucket
        self.client = client

    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredFile:
        # In the system's temporary directory, removed on close however this ends.
        with tempfile.NamedTemporaryFile(prefix="newsroom-upload-") as spool:
            stored = _copy(chunks, spool, max_bytes)
            spool.flush()
            key = _key(stored.sha256)
            if self._head(key) is None:
                with self._translated():
                    # By file name, not file object: given a file object, boto3's
                    # transfer manager reads each part of a multipart upload into memory.
                    self.client.upload_file(
                        spool.name,
                        self.bucket,
                        key,
                        ExtraArgs={"ContentType": "application/octet-stream"},
                        Config=_TRANSFER,
                    )
        return stored

    def put_bytes(self, data: bytes) -> StoredFile:
        return self.put_stream((data,), max_bytes=len(data))

    def exists(self, sha256: str) -> bool:
        return self._head(_key(sha256)) is not None

    def size(self, sha256: str) -> int:
        head = self._head(_key(sha256))
        if head is None:
            raise MissingFile(sha256)
        return int(head["ContentLength"])

    def read(self, sha256: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        key = _key(sha256)
        _check_range(start, stop)
        if stop == start:  # no Range header asks for nothing
            if self._head(key) is None:
                raise MissingFile(sha256)
            return iter(())
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or stop is not None:
            last = "" if stop is None else str(stop - 1)
            arguments["Range"] = f"bytes={start}-{last}"
        try:
            with self._translated():
                body = self.client.get_object(**arguments)["Body"]
        except MissingFile:
            raise MissingFile(sha256) from None
        except _RangePastEnd:
            return iter(())
        return self._body_chunks(body)

    def local_path(self, sha256: str) -> Path | None:
        _check_sha256(sha256)
        return None

    def relative_path(self, sha256: str) -> str | None:
        _check_sha256(sha256)
        return None

    def delete(self, sha256: str) -> None:
        key = _key(sha256)
        with self._translated():
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            with self._translated():
                return self.client.head_object(Bucket=self.bucket, Key=key)
        except MissingFile:
            self._check_bucket()
            return None

    def _check_bucket(self) -> None:
        """``StorageUnavailable`` if the bucket is missing: a HEAD's bare 404 is the same
        for a missing object and a missing bucket."""
        try:
            with self._translated():
                self.client.head_bucket(Bucket=self.bucket)
        except MissingFile:
            raise self._unavailable("NoSuchBucket: the bucket does not exist") from None

    def _body_chunks(self, body: Any) -> Iterator[bytes]:
        with self._translated():
            try:
                yield from body.iter_chunks(CHUNK_BYTES)
            finally:
                body.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """botocore's errors as this module's: ``MissingFile`` for an object that is not
        there, ``StorageUnavailable`` (one line) for anything that says the store cannot
        be used."""
        try:
            yield
        except botocore.exceptions.ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code", ""))
            if code in _MISSING:
                raise MissingFile() from None
            if code == "InvalidRange":
                raise _RangePastEnd() from None
            reason = details.get("Message") or code
            raise self._unavailable(f"{code}: {reason}" if code != reason else code) from None
        except boto3.exceptions.S3UploadFailedError as error:
            raise self._unavailable(str(error)) from None
        except _BOTOCORE_UNAVAILABLE as error:
            raise self._unavailable(str(error)) from None

    def _unavailable(self, reason: str) -> StorageUnavailable:
        endpoint = self.client.meta.endpoint_url
        line = " ".join(reason.split())
        return StorageUnavailable(f"S3 bucket {self.bucket!r} at {endpoint}: {line}")


class _RangePastEnd(Exception):
    """S3's answer 416 to a range that starts at or after the object's end."""


_BOTOCORE_UNAVAILABLE = (
    botocore.exceptions.ConnectionError,  # refused, timed out, TLS, proxy
    botocore.exceptions.HTTPClientError,  # the connection dropped or stalled mid-answer
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
)


def s3_client(settings: Settings) -> S3Client:
    """A boto3 S3 client for the settings' endpoint and credentials; empty settings
    leave the choice to boto3 (AWS itself, credentials from its usual places)."""
    endpoint = settings.s3_endpoint_url or None
    config = botocore.config.Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        # Other S3-compatible stores (MinIO, Ceph, Garage) are reached by a host name of
        # their own, which has no per-bucket subdomains.
        s3={"addressing_style": "path"} if endpoint else None,
    )
    # A session of its own: boto3's default session is not safe to share between
    # threads that build clients.
    session = boto3.session.Session()
    client: S3Client = session.client(
        "s3",
        endpoint_url=endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id or None,
        aws_secret_access_key=settings.s3_secret_access_key or None,
        config=config,
    )
    return client


def _key(sha256: str) -> str:
    _check_sha256(sha256)
    return f"media/{sha256}"


def _check_sha256(sha256: str) -> None:
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise ValueError(f"not a SHA-256 in lower-case hex: {sha256!r:.80}")


def _check_range(start: int, stop: int | None) -> None:
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"not a byte range: [{start}, {stop})")


def _copy(chunks: Iterable[bytes], out: IO[bytes], max_bytes: int) -> StoredFile:
    """Write ``chunks`` to ``out``, hashing and counting them; ``TooLarge`` before
    writing the chunk that would pass ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(max_bytes)
        digest.update(chunk)
        out.write(chunk)
    return StoredFile(digest.hexdigest(), size)
