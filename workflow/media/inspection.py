"""What an uploaded file really is, and the name it is offered under.

A file's type is read from its bytes, never from its name or the type the browser
declared: a page renamed ``photo.jpg`` or a program renamed ``report.pdf`` is refused
here, before anything is stored or shown. Only the types in ``ALLOWED`` are accepted.
Images are recognised by their signature; whether they decode is the image module's
check (``workflow.media.images.verify_image``), which the caller runs next for a file of
kind ``"image"``.

Documents are inspected without being extracted: an HWP is an OLE2 compound file read
through olefile; HWPX and the Office formats are zip archives of which only the central
directory and one or two small entries are read, each with a size cap, so a zip bomb
costs nothing.

A refusal is a ``RefusedFile`` with a stable ``code`` that the web layer turns into a
4xx answer in the page's language; its ``message`` is a one-line English explanation.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, NoReturn

import olefile  # type: ignore[import-untyped]  # olefile ships no type information

Refusal = Literal[
    "empty",  # no bytes at all
    "type_not_allowed",  # the content is not one of the accepted types
    "content_mismatch",  # it begins like an accepted type, but is not a whole one
    "corrupt_image",  # an image signature, but the pixels do not decode
    "too_many_pixels",  # an image larger than the pixel limit (a decompression bomb)
    "bad_filename",  # the name cannot be offered for download as it is
]


class RefusedFile(Exception):
    """An upload that is not accepted. ``field`` says which part of the form is at fault
    (``"file"``: its content, ``"filename"``: its name); ``code`` is stable, for the web
    layer to translate; ``message`` is one line of English for logs and the API."""

    def __init__(
        self, code: Refusal, message: str, *, field: Literal["file", "filename"] = "file"
    ) -> None:
        super().__init__(message)
        self.code: Refusal = code
        self.message = message
        self.field: Literal["file", "filename"] = field

    def __repr__(self) -> str:
        return f"RefusedFile({self.code!r}, {self.message!r}, field={self.field!r})"


@dataclass(frozen=True, slots=True)
class FileType:
    """One accepted kind of file: the content type it is served with, the extension its
    name gets, and a short name for people."""

    kind: Literal["image", "document"]
    content_type: str
    extension: str  # with its dot: ".jpg"
    label: str  # "JPEG", "Word", …
    # Other extensions people give this type, kept as they are: "photo.jpeg" stays so.
    other_extensions: tuple[str, ...] = ()

    @property
    def extensions(self) -> tuple[str, ...]:
        return (self.extension, *self.other_extensions)


_OOXML = "application/vnd.openxmlformats-officedocument"

JPEG = FileType("image", "image/jpeg", ".jpg", "JPEG", (".jpeg", ".jpe", ".jfif"))
PNG = FileType("image", "image/png", ".png", "PNG")
WEBP = FileType("image", "image/webp", ".webp", "WebP")
PDF = FileType("document", "application/pdf", ".pdf", "PDF")
HWP = FileType("document", "application/x-hwp", ".hwp", "HWP")
HWPX = FileType("document", "application/hwp+zip", ".hwpx", "HWPX")
DOCX = FileType("document", f"{_OOXML}.wordprocessingml.document", ".docx", "Word")
XLSX = FileType("document", f"{_OOXML}.spreadsheetml.sheet", ".xlsx", "Excel")
PPTX = FileType("document", f"{_OOXML}.presentationml.presentation", ".pptx", "PowerPoint")

ALLOWED: tuple[FileType, ...] = (JPEG, PNG, WEBP, PDF, HWP, HWPX, DOCX, XLSX, PPTX)

_NOT_ALLOWED = (
    "this kind of file is not accepted: photos must be JPEG, PNG or WebP, "
    "documents PDF, HWP, HWPX, Word, Excel or PowerPoint"
)

# --- Detection -------------------------------------------------------------------------

_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_SIGNATURE = b"PK\x03\x04"
_HWP_SIGNATURE = b"HWP Document File"
# How far from each end of a PDF its header and its end-of-file marker may be, as
# Acrobat tolerates: a PDF may follow a short preamble and end in a little padding.
_PDF_WINDOW = 1024

# Limits on what a zip may make us read. A document's central directory is a few
# kilobytes; a large PowerPoint has a few thousand entries. The directory is checked
# before zipfile parses it, because zipfile builds one object per entry.
_ZIP_MAX_ENTRIES = 20_000
_ZIP_MAX_DIRECTORY_BYTES = 4 * 1024 * 1024
_ZIP_MAX_SMALL_ENTRY = 1024 * 1024  # [Content_Types].xml
_HWPX_MIMETYPE = b"application/hwp+zip"
# An HWP's FileHeader stream is 256 bytes; a much larger one is not an HWP's.
_HWP_MAX_FILE_HEADER = 64 * 1024

# Office Open XML: the main part each accepted document must have, and the content type
# [Content_Types].xml gives it. The macro-enabled and template variants declare other
# types and are not accepted (nor is any package that carries a VBA project).
_OOXML_MAIN_PARTS: tuple[tuple[FileType, str, bytes], ...] = (
    (DOCX, "word/document.xml", f"{_OOXML}.wordprocessingml.document.main+xml".encode()),
    (XLSX, "xl/workbook.xml", f"{_OOXML}.spreadsheetml.sheet.main+xml".encode()),
    (PPTX, "ppt/presentation.xml", f"{_OOXML}.presentationml.presentation.main+xml".encode()),
)


def detect(path: Path) -> FileType:
    """The accepted type of the file at ``path``, read from its content; ``RefusedFile``
    if it is empty, not an accepted type, or a damaged one. Reads only the file's ends
    and the few structures named in the module's docstring; extracts nothing."""
    with path.open("rb") as stream:
        return detect_stream(stream)


def detect_stream(stream: BinaryIO) -> FileType:
    """``detect`` for an open, seekable binary stream (an upload spooled to a temporary
    file, or bytes in memory). Its position is left anywhere."""
    stream.seek(0, 2)
    size = stream.tell()
    if size == 0:
        raise RefusedFile("empty", "the file is empty")
    stream.seek(0)
    head = stream.read(_PDF_WINDOW)

    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:15] == b"VP8":
        return WEBP
    if head.startswith(_OLE_SIGNATURE):
        return _ole_document(stream)
    if head.startswith(_ZIP_SIGNATURE):
        return _zip_document(stream, size)
    if b"%PDF-" in head:
        stream.seek(max(0, size - _PDF_WINDOW))
        if b"%%EOF" not in stream.read(_PDF_WINDOW):
            raise RefusedFile("content_mismatch", "the PDF is incomplete: it has no end marker")
        return PDF
    raise RefusedFile("type_not_allowed", _NOT_ALLOWED)


def _ole_document(stream: BinaryIO) -> FileType:
    """An OLE2 compound file is accepted only as an HWP: its FileHeader stream begins
    with the HWP signature. Word 97, Excel 97 and the rest are not accepted."""
    stream.seek(0)
    try:
        with olefile.OleFileIO(stream) as ole:
            if ole.get_type("FileHeader") != olefile.STGTY_STREAM:
                raise RefusedFile("type_not_allowed", _NOT_ALLOWED)
            if ole.get_size("FileHeader") > _HWP_MAX_FILE_HEADER:
                raise RefusedFile("content_mismatch", "the HWP file's header is damaged")
            signature = bytes(ole.openstream("FileHeader").read(len(_HWP_SIGNATURE)))
    except RefusedFile:
        raise
    # olefile reports a malformed structure with whichever exception its parsing met
    # (OSError, ValueError, IndexError, struct.error, …); each means the same here.
    except Exception as error:
        raise RefusedFile("content_mismatch", "the file is a damaged OLE2 compound file") from error
    if signature != _HWP_SIGNATURE:
        raise RefusedFile("type_not_allowed", _NOT_ALLOWED)
    return HWP


def _zip_document(stream: BinaryIO, size: int) -> FileType:
    """HWPX, DOCX, XLSX or PPTX, from the zip's directory and at most two small
    entries; any other zip is refused."""
    _check_zip_directory(stream, size)
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            return _zip_kind(archive)
    except RefusedFile:
        raise
    # A damaged zip (BadZipFile, a bad deflate stream), an encrypted entry
    # (RuntimeError) or an unsupported compression method (NotImplementedError).
    except (
        zipfile.BadZipFile,
        zlib.error,
        RuntimeError,
        NotImplementedError,
        EOFError,
        OSError,
        ValueError,
    ) as error:
        raise RefusedFile("content_mismatch", "the file is a damaged zip archive") from error


def _zip_kind(archive: zipfile.ZipFile) -> FileType:
    names = set(archive.namelist())
    if "mimetype" in names:
        if _read_small(archive, "mimetype", 256).strip() == _HWPX_MIMETYPE:
            return HWPX
        # ODF, EPUB and other packages that name their type the same way.
        raise RefusedFile("type_not_allowed", _NOT_ALLOWED)
    if "[Content_Types].xml" not in names:
        raise RefusedFile("type_not_allowed", _NOT_ALLOWED)
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise RefusedFile("type_not_allowed", "documents that contain macros are not accepted")
    content_types = _read_small(archive, "[Content_Types].xml", _ZIP_MAX_SMALL_ENTRY)
    for file_type, main_part, main_type in _OOXML_MAIN_PARTS:
        if main_type in content_types:
            if main_part not in names:
                raise RefusedFile(
                    "content_mismatch", f"the {file_type.label} document has no {main_part}"
                )
            return file_type
    if b"macroEnabled" in content_types:
        raise RefusedFile("type_not_allowed", "documents that contain macros are not accepted")
    raise RefusedFile("type_not_allowed", _NOT_ALLOWED)


def _read_small(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """The entry ``name``, decompressed, or a refusal if it is larger than ``limit``:
    the declared size is not trusted, only what decompression yields."""
    with archive.open(name) as entry:
        data = entry.read(limit + 1)
    if len(data) > limit:
        raise RefusedFile("content_mismatch", f"the archive's {name} entry is too large")
    return data


def _check_zip_directory(stream: BinaryIO, size: int) -> None:
    """Refuse a zip whose central directory is too large to parse cheaply, from its end
    record (and its zip64 end record, when the plain one says to look there)."""
    tail_length = min(size, 22 + 0xFFFF)  # the end record and the longest comment
    stream.seek(size - tail_length)
    tail = stream.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise RefusedFile("content_mismatch", "the file is a damaged zip archive")
    entries, directory_size, directory_offset = struct.unpack_from("<10xHLL", tail, at)
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF or directory_offset == 0xFFFFFFFF:
        locator = tail[at - 20 : at] if at >= 20 else b""
        if not locator.startswith(b"PK\x06\x07"):
            raise RefusedFile("content_mismatch", "the file is a damaged zip archive")
        (record_offset,) = struct.unpack_from("<8xQ", locator)
        stream.seek(record_offset)
        record = stream.read(56)
        if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
            raise RefusedFile("content_mismatch", "the file is a damaged zip archive")
        entries, directory_size = struct.unpack_from("<32xQQ", record)
    if entries > _ZIP_MAX_ENTRIES or directory_size > _ZIP_MAX_DIRECTORY_BYTES:
        raise RefusedFile("content_mismatch", "the archive has too many entries for a document")


# --- File names ------------------------------------------------------------------------

# Bidirectional formatting characters: they make "evil‮fdp.exe" display as "evilexe.pdf".
_BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
# Unicode categories refused in a name: control characters (C0, DEL, C1), lone
# surrogates (which have no UTF-8 form) and the line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_DRIVE = re.compile(r"[A-Za-z]:")
# The longest name, in UTF-8 bytes: what ext4 and APFS allow, so a name that passes can
# be saved as it is on any journalist's disk. Korean syllables take three bytes each,
# so this is 85 of them; it also bounds the name to 255 characters.
MAX_FILENAME_BYTES = 255
# What counts as an extension to replace: a short ASCII run with a letter in it
# ("pdf", "mp4", "7z"), so "보도자료 v1.2" keeps its ".2" and gets ".pdf" after it.
_MAX_EXTENSION_LENGTH = 8


def checked_filename(name: str, file_type: FileType) -> str:
    """The name a file is shown and downloaded under, from the name it was uploaded
    with: NFC-normalised (a Korean name typed on a Mac arrives decomposed), surrounding
    whitespace and trailing dots removed (Windows drops them on saving), and its
    extension made the detected type's (``사진.png`` that is a JPEG becomes
    ``사진.jpg``; a name without an extension gets one). Korean and other letters are
    kept as they are.

    Refused (``RefusedFile``, field ``"filename"``, code ``"bad_filename"``): an empty
    name, a path (``/``, ``\\``, ``..``, a drive letter), control characters,
    bidirectional formatting characters, a leading dot, and a name longer than
    ``MAX_FILENAME_BYTES`` bytes of UTF-8 once its extension is fixed.
    """
    name = unicodedata.normalize("NFC", name)
    for character in name:
        if unicodedata.category(character) in _REFUSED_CATEGORIES:
            _refuse_name(f"the file name contains the control character U+{ord(character):04X}")
        if character in _BIDI_CONTROLS:
            _refuse_name(
                f"the file name contains the text-direction character U+{ord(character):04X}"
            )
    name = name.strip()
    if not name:
        _refuse_name("the file name is empty")
    if "/" in name or "\\" in name or name == "..":
        _refuse_name("the file name contains a path")
    if _DRIVE.match(name):
        _refuse_name("the file name begins with a drive letter")
    if name.startswith("."):
        _refuse_name("the file name begins with a dot")
    name = name.rstrip(". ")

    stem, dot, extension = name.rpartition(".")
    if dot and stem and _looks_like_extension(extension):
        if f".{extension.lower()}" not in file_type.extensions:
            name = stem + file_type.extension
    else:
        name += file_type.extension

    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        _refuse_name(f"the file name is longer than {MAX_FILENAME_BYTES} bytes")
    return name


def _looks_like_extension(text: str) -> bool:
    return (
        0 < len(text) <= _MAX_EXTENSION_LENGTH
        and text.isascii()
        and text.isalnum()
        and any(character.isalpha() for character in text)
    )


def _refuse_name(message: str) -> NoReturn:
    raise RefusedFile("bad_filename", message, field="filename")
