"""Where attachment files are kept: content-addressed blobs, by their SHA-256.

Two backends behind one interface, chosen by ``NEWSROOM_MEDIA_BACKEND``: the local file
system under ``NEWSROOM_VAR_DIR/media`` and S3-compatible object storage. The database
holds what a file is (its name, type, size, which release); storage holds only bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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


class Storage(Protocol):
    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredFile:
        """Store ``chunks`` as they come, hashing them on the way, never holding the whole
        file in memory. Raises ``TooLarge`` as soon as ``max_bytes`` is passed (nothing is
        left behind). Storing bytes already stored is a no-op that answers the same."""
        ...

    def put_bytes(self, data: bytes) -> StoredFile: ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int:
        """The stored size; ``MissingFile`` if there is none."""
        ...

    def read(self, sha256: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, stop)`` in chunks; ``MissingFile`` if there is none."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """The file's path when it is on this host's disk (the local backend), so that a
        response can send it straight from the file; None for remote storage."""
        ...

    def delete(self, sha256: str) -> None: ...
