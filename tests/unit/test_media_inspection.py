"""What an upload is, from its bytes, and the name it is offered under.

Everything here is built in memory: documents as zip archives in a BytesIO, an HWP with
the compound-file writer in tests/compound_file.py (checked here against olefile), and
images only as their signatures, since decoding them is the image module's part
(tests/integration/test_media_images.py)."""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile

import olefile  # type: ignore[import-untyped]
import pytest

from tests.compound_file import compound_file, hwp_file_header
from workflow.media.inspection import (
    ALLOWED,
    DOCX,
    HWP,
    HWPX,
    JPEG,
    MAX_FILENAME_BYTES,
    PDF,
    PNG,
    PPTX,
    WEBP,
    XLSX,
    FileType,
    RefusedFile,
    checked_filename,
    detect_stream,
)

OOXML = "application/vnd.openxmlformats-officedocument"


def detected(data: bytes) -> FileType:
    return detect_stream(io.BytesIO(data))


def refusal(data: bytes) -> RefusedFile:
    with pytest.raises(RefusedFile) as caught:
        detect_stream(io.BytesIO(data))
    assert caught.value.field == "file"
    return caught.value


def zipped(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            # As the formats require, a "mimetype" entry is stored uncompressed.
            method = zipfile.ZIP_STORED if name == "mimetype" else compression
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def content_types(*main_types: str) -> bytes:
    overrides = "".join(
        f'<Override PartName="/part{i}.xml" ContentType="{t}"/>' for i, t in enumerate(main_types)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{overrides}</Types>"
    ).encode()


def office(main_part: str, main_type: str, extra: dict[str, bytes] | None = None) -> bytes:
    return zipped(
        {
            "[Content_Types].xml": content_types(main_type),
            "_rels/.rels": b"<Relationships/>",
            main_part: b"<document/>",
            **(extra or {}),
        }
    )


DOCX_BYTES = office("word/document.xml", f"{OOXML}.wordprocessingml.document.main+xml")
XLSX_BYTES = office("xl/workbook.xml", f"{OOXML}.spreadsheetml.sheet.main+xml")
PPTX_BYTES = office("ppt/presentation.xml", f"{OOXML}.presentationml.presentation.main+xml")
HWPX_BYTES = zipped(
    {
        "mimetype": b"application/hwp+zip",
        "version.xml": b"<version/>",
        "Contents/content.hpf": b"<package/>",
        "Contents/section0.xml": b"<section/>",
    }
)
HWP_BYTES = compound_file(
    {
        "FileHeader": hwp_file_header(),
        "DocInfo": b"\x00" * 600,
        "PrvText": "보도자료".encode("utf-16-le"),
    }
)
PDF_BYTES = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


# --- Detection by content -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40), JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40), PNG),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(40), WEBP),
        (b"RIFF\x24\x00\x00\x00WEBPVP8L" + bytes(40), WEBP),
        (PDF_BYTES, PDF),
        # A preamble before the header and padding after the end marker, as some
        # producers write them.
        (b"\x00" * 500 + PDF_BYTES + b"\n" * 700, PDF),
        (HWP_BYTES, HWP),
        (HWPX_BYTES, HWPX),
        (DOCX_BYTES, DOCX),
        (XLSX_BYTES, XLSX),
        (PPTX_BYTES, PPTX),
    ],
    ids=[
        *("jpeg", "png", "webp", "webp-lossless", "pdf", "pdf-padded"),
        *("hwp", "hwpx", "docx", "xlsx", "pptx"),
    ],
)
def test_each_accepted_type_is_read_from_its_content(data: bytes, expected: FileType) -> None:
    assert detected(data) == expected


def test_the_allow_list_names_each_type_once() -> None:
    assert len({t.content_type for t in ALLOWED}) == len(ALLOWED)
    extensions = [e for t in ALLOWED for e in t.extensions]
    assert len(set(extensions)) == len(extensions)
    assert all(e.startswith(".") and e == e.lower() for e in extensions)
    assert {t.label for t in ALLOWED} >= {"JPEG", "PDF", "HWP", "Word", "Excel", "PowerPoint"}
    assert {t.kind for t in ALLOWED if t.content_type.startswith("image/")} == {"image"}


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b"\x7fELF\x02\x01\x01\x00" + bytes(56),
        b"MZ\x90\x00" + bytes(60),
        # A program with a document appended: zip readers find the archive at the end,
        # but the file is a program.
        b"MZ\x90\x00" + bytes(60) + DOCX_BYTES,
        b"GIF89a\x01\x00\x01\x00" + bytes(20),
        b"plain text, not a document",
    ],
    ids=["html", "svg", "elf", "exe", "exe-with-zip", "gif", "text"],
)
def test_anything_else_is_not_allowed(data: bytes) -> None:
    assert refusal(data).code == "type_not_allowed"


def test_an_empty_file_is_refused() -> None:
    error = refusal(b"")
    assert (error.code, error.field, error.message) == ("empty", "file", "the file is empty")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",  # cut before its end
        PDF_BYTES + b"x" * 2000,  # the end marker too far from the end
    ],
    ids=["no-end-marker", "marker-not-near-the-end"],
)
def test_a_pdf_without_its_end_marker_is_refused(data: bytes) -> None:
    assert refusal(data).code == "content_mismatch"


def test_an_ole2_file_is_accepted_only_as_an_hwp() -> None:
    word_97 = compound_file({"WordDocument": b"\xec\xa5" + bytes(700), "1Table": bytes(100)})
    assert refusal(word_97).code == "type_not_allowed"
    not_hwp = compound_file({"FileHeader": hwp_file_header(signature=b"Not An HWP File")})
    assert refusal(not_hwp).code == "type_not_allowed"
    cut_off = HWP_BYTES[: len(HWP_BYTES) - 512]
    assert refusal(cut_off).code == "content_mismatch"


def test_the_compound_file_writer_is_read_back_by_olefile() -> None:
    """The HWP tests stand on this writer; olefile, strict about defects, reads back
    every stream, small ones from the mini stream and large ones from sectors."""
    streams = {
        "FileHeader": hwp_file_header(),
        "DocInfo": bytes(range(256)) * 20,  # 5,120 bytes: regular sectors
        "PrvText": "미리보기".encode("utf-16-le"),
        "\x05HwpSummaryInformation": b"\x01" * 64,
    }
    with olefile.OleFileIO(
        io.BytesIO(compound_file(streams)), raise_defects=olefile.DEFECT_INCORRECT
    ) as ole:
        assert sorted(path[0] for path in ole.listdir()) == sorted(streams)
        for name, data in streams.items():
            assert ole.openstream(name).read() == data


def test_an_hwpx_is_known_by_its_mimetype_entry() -> None:
    odt = zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b""})
    assert refusal(odt).code == "type_not_allowed"


def test_office_documents_with_macros_are_not_allowed() -> None:
    docm = office(
        "word/document.xml",
        "application/vnd.ms-word.document.macroEnabled.main+xml",
        {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"},
    )
    assert "macros" in refusal(docm).message
    # A macro project hidden in a package that declares itself a plain document.
    docx_with_vba = office(
        "word/document.xml",
        f"{OOXML}.wordprocessingml.document.main+xml",
        {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"},
    )
    assert refusal(docx_with_vba).code == "type_not_allowed"
    xlsm = office("xl/workbook.xml", "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    assert refusal(xlsm).code == "type_not_allowed"


def test_other_zips_are_not_allowed_and_damaged_ones_are_refused() -> None:
    assert refusal(zipped({"photo.jpg": b"\xff\xd8\xff"})).code == "type_not_allowed"
    template = office("word/document.xml", f"{OOXML}.wordprocessingml.template.main+xml")
    assert refusal(template).code == "type_not_allowed"
    no_main_part = zipped(
        {"[Content_Types].xml": content_types(f"{OOXML}.wordprocessingml.document.main+xml")}
    )
    assert refusal(no_main_part).code == "content_mismatch"
    assert refusal(DOCX_BYTES[: len(DOCX_BYTES) // 2]).code == "content_mismatch"


def test_a_zip_entry_is_read_only_up_to_its_cap() -> None:
    """[Content_Types].xml inflating to 2 MiB (from a few kilobytes) is refused after
    its first mebibyte is read: what the entry declares is not trusted."""
    bomb = zipped(
        {
            "[Content_Types].xml": content_types(f"{OOXML}.wordprocessingml.document.main+xml")
            + b" " * (2 * 1024 * 1024),
            "word/document.xml": b"<document/>",
        }
    )
    assert len(bomb) < 20_000
    error = refusal(bomb)
    assert (error.code, error.message) == (
        "content_mismatch",
        "the archive's [Content_Types].xml entry is too large",
    )


def end_record(entries: int, directory_size: int, directory_offset: int) -> bytes:
    return b"PK\x05\x06" + struct.pack(
        "<HHHHLLH", 0, 0, entries, entries, *(directory_size, directory_offset, 0)
    )


def test_a_zip_directory_too_large_to_parse_cheaply_is_refused_before_parsing() -> None:
    many_entries = b"PK\x03\x04" + bytes(100) + end_record(60_000, 2_760_000, 4)
    assert refusal(many_entries).message == "the archive has too many entries for a document"
    huge_directory = b"PK\x03\x04" + bytes(100) + end_record(10, 50_000_000, 4)
    assert refusal(huge_directory).code == "content_mismatch"
    zip64_record = b"PK\x06\x06" + struct.pack(
        "<QHHLLQQQQ", 44, 45, 45, 0, 0, *(500_000, 500_000, 23_000_000, 4)
    )
    zip64_offset = 104
    zip64 = (
        b"PK\x03\x04"
        + bytes(100)
        + zip64_record
        + b"PK\x06\x07"
        + struct.pack("<LQL", 0, zip64_offset, 1)
        + end_record(0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    )
    assert refusal(zip64).message == "the archive has too many entries for a document"
    assert refusal(b"PK\x03\x04" + bytes(100)).code == "content_mismatch"  # no end record


def test_a_refusal_says_what_it_is() -> None:
    error = RefusedFile("type_not_allowed", "not accepted")
    assert (error.code, error.field, error.message, str(error)) == (
        "type_not_allowed",
        "file",
        "not accepted",
        "not accepted",
    )


# --- File names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "file_type", "expected"),
    [
        ("2024년 외교부 보도자료.pdf", PDF, "2024년 외교부 보도자료.pdf"),
        ("장관 회담 사진.JPG", JPEG, "장관 회담 사진.JPG"),
        ("photo.jpeg", JPEG, "photo.jpeg"),
        # The type is the content's: a JPEG uploaded as PNG is served as a JPEG.
        ("사진.png", JPEG, "사진.jpg"),
        ("보도자료.hwp", PDF, "보도자료.pdf"),
        ("report.html", PDF, "report.pdf"),
        ("invoice.pdf.exe", PDF, "invoice.pdf.pdf"),
        ("붙임 1", HWP, "붙임 1.hwp"),
        ("보도자료 v1.2", HWPX, "보도자료 v1.2.hwpx"),
        ("result.", XLSX, "result.xlsx"),
        ("  발표 자료.pptx \u3000", PPTX, "발표 자료.pptx"),
        ("a..b.docx", DOCX, "a..b.docx"),
        ("보도자료: 제목.hwp", HWP, "보도자료: 제목.hwp"),
    ],
)
def test_a_name_is_kept_with_its_extension_made_the_types(
    name: str, file_type: FileType, expected: str
) -> None:
    assert checked_filename(name, file_type) == expected


def test_a_decomposed_korean_name_is_composed() -> None:
    typed_on_a_mac = unicodedata.normalize("NFD", "보도자료.hwp")
    assert len(typed_on_a_mac) > len("보도자료.hwp")
    assert checked_filename(typed_on_a_mac, HWP) == "보도자료.hwp"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "../../etc/passwd",
        "photos/사진.jpg",
        "C:\\Users\\press\\사진.jpg",
        "..\\사진.jpg",
        "..",
        "C:사진.jpg",
        "z:report.pdf",
        "report\x00.pdf",
        "report\n.pdf",
        "report\r\n.pdf",
        "\treport.pdf",
        "report\x1b[31m.pdf",
        "report\x7f.pdf",
        "report\x85.pdf",
        "report\x9f.pdf",
        "evil\u202efdp.exe",
        "evil\u202a.pdf",
        "evil\u202b.pdf",
        "evil\u202c.pdf",
        "evil\u202d.pdf",
        "evil\u2066.pdf",
        "evil\u2067.pdf",
        "evil\u2068.pdf",
        "evil\u2069.pdf",
        "evil\u200e.pdf",
        "evil\u200f.pdf",
        "evil\u061c.pdf",
        "line\u2028break.pdf",
        "surrogate\ud800.pdf",
        ".htaccess",
        ".보도자료.pdf",
        " .hidden.pdf",
        "a" * 252 + ".pdf",
        "가" * 84 + ".pdf",
        "가" * 84,  # fits until its extension is added
    ],
)
def test_a_hostile_name_is_refused(name: str) -> None:
    with pytest.raises(RefusedFile) as caught:
        checked_filename(name, PDF)
    assert (caught.value.code, caught.value.field) == ("bad_filename", "filename")


def test_the_longest_name_is_counted_in_utf8_bytes() -> None:
    """255 bytes: 255 ASCII characters, or 83 Korean syllables and ".pdf" (253 bytes);
    84 syllables and ".pdf" (256 bytes) are refused above."""
    ascii_name = "a" * 251 + ".pdf"
    assert len(ascii_name) == MAX_FILENAME_BYTES
    assert checked_filename(ascii_name, PDF) == ascii_name
    korean = "가" * 83 + ".pdf"
    assert checked_filename(korean, PDF) == korean
