"""A small writer of OLE2 compound files (MS-CFB, version 3), for tests that need an HWP.

No package the project installs writes compound files (olefile only reads them), and
real HWP files are not ours to ship, so tests build their own: streams at the root of
the file, small ones (under 4,096 bytes) in the mini stream as the format requires,
larger ones in regular 512-byte sectors. olefile reading back what this writes is the
check that it is right (tests/unit/test_media_inspection.py).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

SECTOR = 512
MINI_SECTOR = 64
MINI_STREAM_CUTOFF = 4096
ENTRIES_PER_FAT_SECTOR = SECTOR // 4
DIRECTORY_ENTRY = 128
HEADER_DIFAT_ENTRIES = 109

FREE = 0xFFFFFFFF
END_OF_CHAIN = 0xFFFFFFFE
FAT_SECTOR = 0xFFFFFFFD
NO_STREAM = 0xFFFFFFFF

SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
STORAGE_ROOT = 5
STREAM = 2
BLACK = 1


def compound_file(streams: Mapping[str, bytes]) -> bytes:
    """An OLE2 compound file holding ``streams`` (name to content) at its root."""
    names = sorted(streams, key=_directory_order)
    for name in names:
        if not 0 < len(name) <= 31 or any(c in name for c in "/\\:!"):
            raise ValueError(f"not a compound file stream name: {name!r}")

    small = [name for name in names if len(streams[name]) < MINI_STREAM_CUTOFF]
    large = [name for name in names if len(streams[name]) >= MINI_STREAM_CUTOFF]

    # The mini stream: small streams packed in 64-byte mini sectors, with their chains.
    mini_stream = bytearray()
    mini_fat: list[int] = []
    start: dict[str, int] = {}
    for name in small:
        data = streams[name]
        count = _sectors(len(data), MINI_SECTOR)
        start[name] = len(mini_fat) if count else END_OF_CHAIN
        mini_fat.extend(_chain(len(mini_fat), count))
        mini_stream += _padded(data, MINI_SECTOR)

    # Regular sectors, in file order: large streams, the mini stream's container, the
    # mini FAT, the directory, and last the FAT, which must also map its own sectors.
    body = bytearray()
    fat: list[int] = []

    def place(data: bytes) -> int:
        count = _sectors(len(data), SECTOR)
        if not count:
            return END_OF_CHAIN
        first = len(fat)
        fat.extend(_chain(first, count))
        body.extend(_padded(data, SECTOR))
        return first

    for name in large:
        start[name] = place(streams[name])
    mini_stream_start = place(bytes(mini_stream))
    mini_fat_bytes = b"".join(struct.pack("<L", entry) for entry in mini_fat)
    mini_fat_start = place(mini_fat_bytes)

    directory = _directory(names, streams, start, mini_stream_start, len(mini_stream))
    directory_start = place(directory)

    fat_count = 0
    while _sectors(len(fat) + fat_count, ENTRIES_PER_FAT_SECTOR) > fat_count:
        fat_count += 1
    if fat_count > HEADER_DIFAT_ENTRIES:
        raise ValueError("too large for a compound file without DIFAT sectors")
    fat_start = len(fat)
    fat.extend([FAT_SECTOR] * fat_count)
    fat.extend([FREE] * (fat_count * ENTRIES_PER_FAT_SECTOR - len(fat)))
    body += b"".join(struct.pack("<L", entry) for entry in fat)

    difat = [fat_start + i for i in range(fat_count)]
    difat += [FREE] * (HEADER_DIFAT_ENTRIES - fat_count)
    header = (
        SIGNATURE
        + bytes(16)  # class id
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)  # versions, order, shifts
        + bytes(6)
        + struct.pack(
            "<LLLLLLLLL",
            0,  # directory sectors: always 0 in version 3
            fat_count,
            directory_start,
            0,  # transaction signature
            MINI_STREAM_CUTOFF,
            mini_fat_start,
            _sectors(len(mini_fat_bytes), SECTOR),
            END_OF_CHAIN,  # first DIFAT sector: none
            0,  # DIFAT sectors
        )
        + b"".join(struct.pack("<L", entry) for entry in difat)
    )
    assert len(header) == SECTOR
    return header + bytes(body)


def _directory(
    names: list[str],
    streams: Mapping[str, bytes],
    start: Mapping[str, int],
    mini_stream_start: int,
    mini_stream_size: int,
) -> bytes:
    """The root entry (id 0) and one entry per stream (ids 1…), the streams arranged as
    a balanced binary tree in the directory's order under the root."""
    ids = {name: index + 1 for index, name in enumerate(names)}
    left: dict[str, int] = {}
    right: dict[str, int] = {}

    def subtree(ordered: list[str]) -> int:
        if not ordered:
            return NO_STREAM
        middle = len(ordered) // 2
        node = ordered[middle]
        left[node] = subtree(ordered[:middle])
        right[node] = subtree(ordered[middle + 1 :])
        return ids[node]

    child = subtree(names)
    entries = [
        _entry(
            "Root Entry",
            STORAGE_ROOT,
            NO_STREAM,
            NO_STREAM,
            child,
            mini_stream_start,
            mini_stream_size,
        )
    ]
    for name in names:
        entries.append(
            _entry(
                name, STREAM, left[name], right[name], NO_STREAM, start[name], len(streams[name])
            )
        )
    unused = _entry("", 0, NO_STREAM, NO_STREAM, NO_STREAM, 0, 0)
    while len(entries) * DIRECTORY_ENTRY % SECTOR:
        entries.append(unused)
    return b"".join(entries)


def _entry(
    name: str, kind: int, left: int, right: int, child: int, first_sector: int, size: int
) -> bytes:
    encoded = name.encode("utf-16-le") + b"\x00\x00" if name else b""
    return (
        encoded.ljust(64, b"\x00")
        + struct.pack("<HBB", len(encoded), kind, BLACK)
        + struct.pack("<LLL", left, right, child)
        + bytes(16)  # class id
        + bytes(4)  # state bits
        + bytes(16)  # creation and modification times
        + struct.pack("<LQ", first_sector, size)
    )


def _directory_order(name: str) -> tuple[int, str]:
    """Siblings are ordered by name length, then by the upper-cased name."""
    return len(name), name.upper()


def _chain(first: int, count: int) -> list[int]:
    return [first + i + 1 for i in range(count - 1)] + ([END_OF_CHAIN] if count else [])


def _sectors(size: int, sector: int) -> int:
    return -(-size // sector)


def _padded(data: bytes, sector: int) -> bytes:
    return data + bytes(-len(data) % sector)


def hwp_file_header(*, signature: bytes = b"HWP Document File") -> bytes:
    """An HWP 5 FileHeader stream: the signature padded to 32 bytes, version 5.0.3.0,
    the "compressed" property, and reserved bytes to 256."""
    return (
        signature.ljust(32, b"\x00")
        + struct.pack("<L", 0x05000300)
        + struct.pack("<L", 0x1)
        + bytes(256 - 40)
    )
