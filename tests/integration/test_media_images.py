"""Photos as press officers upload them, made with Pillow here: what is refused, what
every rendition carries (nothing but pixels), its size, and what decoding costs.

Memory is measured as the process's peak resident set (VmHWM), reset before each step
through /proc/self/clear_refs: Pillow allocates pixels outside Python's allocator, where
tracemalloc does not see them."""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

from workflow.media.images import (
    RENDITIONS,
    Encoded,
    ImageInfo,
    make_renditions,
    rendition,
    sanitised_original,
    verify_image,
)
from workflow.media.inspection import JPEG, PNG, WEBP, FileType, RefusedFile, detect

MAX_PIXELS = 60_000_000  # the setting's default
RED = (255, 0, 0)
BLUE = (0, 0, 255)
SECRETS = (b"SECRET-GPS", b"SecretCam", b"secret comment", b"secret xmp", b"secret text")
EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F
GPS_IFD = 0x8825


# --- Reading what was written ---------------------------------------------------------


def jpeg_markers(data: bytes) -> list[int]:
    """Every marker of a JPEG in order, scans included (a progressive JPEG has many, and
    a segment could hide between them): entropy-coded data is skipped to the next
    marker that is not a stuffed byte or a restart."""
    assert data[:2] == b"\xff\xd8"
    markers = [0xD8]
    at = 2
    while at < len(data):
        assert data[at] == 0xFF, f"no marker at {at}"
        while data[at] == 0xFF:
            at += 1
        marker = data[at]
        at += 1
        markers.append(marker)
        if marker == 0xD9:
            return markers
        (length,) = struct.unpack_from(">H", data, at)
        at += length
        if marker == 0xDA:
            while not (data[at] == 0xFF and data[at + 1] not in (0x00, *range(0xD0, 0xD8))):
                at += 1
    raise AssertionError("no end of image")


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack_from(">L4s", data, at)
        chunks.append(kind)
        at += 12 + length
    return chunks


APP0, APP1, APP2, APP13, COM = 0xE0, 0xE1, 0xE2, 0xED, 0xFE


def assert_nothing_but_pixels(encoded: Encoded) -> None:
    """What a journalist downloads says nothing of the camera, the place or the
    software: no EXIF, GPS, XMP, IPTC, ICC profile, comment or text of any kind."""
    data = encoded.data
    for secret in (*SECRETS, b"Exif", b"http://ns.adobe.com/xap", b"ICC_PROFILE"):
        assert secret not in data, secret
    with Image.open(io.BytesIO(data)) as image:
        assert dict(image.getexif()) == {}
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile"} & set(image.info)
        assert (image.width, image.height) == (encoded.width, encoded.height)
        if encoded.content_type == "image/jpeg":
            assert image.format == "JPEG"
            markers = jpeg_markers(data)
            assert {m for m in markers if 0xE0 <= m <= 0xEF or m == COM} <= {APP0}
        else:
            assert (encoded.content_type, image.format) == ("image/png", "PNG")
            assert set(png_chunks(data)) <= {b"IHDR", b"IDAT", b"IEND"}


def decoded(encoded: Encoded) -> Image.Image:
    image = Image.open(io.BytesIO(encoded.data))
    image.load()
    return image


def close_to(pixel: Any, expected: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def peak_growth_kib(action: Callable[[], object]) -> int:
    """How far the process's peak resident memory rose above its level before
    ``action``, in KiB."""
    status = Path("/proc/self/status")
    Path("/proc/self/clear_refs").write_text("5")  # the peak becomes the current level

    def peak() -> int:
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM"))
        return int(line.split()[1])

    before = peak()
    action()
    return peak() - before


def measured_refusal(attempt: Callable[[], object]) -> tuple[RefusedFile, float, int]:
    """The refusal ``attempt`` raises, the seconds it took and its peak memory growth
    in KiB."""
    refusals: list[RefusedFile] = []

    def refused() -> None:
        with pytest.raises(RefusedFile) as caught:
            attempt()
        refusals.append(caught.value)

    started = time.perf_counter()
    growth = peak_growth_kib(refused)
    return refusals[0], time.perf_counter() - started, growth


# --- Making images ---------------------------------------------------------------------


def two_halves(size: tuple[int, int], left: tuple[int, int, int] = RED) -> Image.Image:
    """Left half ``left``, right half blue: which way it stands is plain to see."""
    image = Image.new("RGB", size, BLUE)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def exif_with_gps(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    exif[EXIF_MAKE] = "SecretCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (37.0, 34.0, 59.0)  # GPSLatitude: the ministry's courtyard
    gps[3] = "E"
    gps[4] = (126.0, 58.0, 30.0)
    gps[27] = b"ASCII\x00\x00\x00SECRET-GPS"  # GPSProcessingMethod
    return exif


def srgb_profile() -> bytes:
    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile


XMP = (
    b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:Description>secret xmp</rdf:Description></x:xmpmeta>"
)


@pytest.fixture
def phone_photo(tmp_path: Path) -> Path:
    """A photo as a phone writes it: stored landscape with orientation 6 (turn a
    quarter clockwise to view), camera and GPS EXIF, XMP, a comment, an ICC profile."""
    path = tmp_path / "IMG_0001.jpg"
    two_halves((600, 400)).save(
        path,
        exif=exif_with_gps(6).tobytes(),
        xmp=XMP,
        comment=b"secret comment",
        icc_profile=srgb_profile(),
        quality=95,
    )
    data = path.read_bytes()
    assert all(secret in data for secret in (b"SECRET-GPS", b"secret xmp", b"secret comment"))
    assert {APP1, APP2, COM} <= set(jpeg_markers(data))
    return path


def raw_deflated_zeros(size: int, chunk: int = 1 << 20) -> bytes:
    """A raw deflate stream of ``size`` zero bytes, made without compressing them all:
    one independently compressed mebibyte (a full flush forgets the history) repeated,
    then the rest in a final block."""
    unit_compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = unit_compressor.compress(bytes(chunk)) + unit_compressor.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, chunk)
    last_compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return unit * count + last_compressor.compress(bytes(rest)) + last_compressor.flush()


def zeros_checksum(size: int, add: Callable[[bytes, int], int], start: int) -> int:
    chunk = 1 << 20
    checksum, zeros = start, bytes(chunk)
    count, rest = divmod(size, chunk)
    for _ in range(count):
        checksum = add(zeros, checksum)
    return add(bytes(rest), checksum)


def deflated_zeros(size: int) -> bytes:
    """The zlib stream (as in a PNG's IDAT) of ``size`` zero bytes."""
    checksum = zeros_checksum(size, zlib.adler32, 1)
    return b"\x78\xda" + raw_deflated_zeros(size) + struct.pack(">L", checksum)


def zip_of(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip archive written field by field, for entries whose compressed data is
    given: (name, method, data, crc32, uncompressed size)."""
    local, central = bytearray(), bytearray()
    for name, method, data, crc, size in entries:
        encoded = name.encode()
        fields = struct.pack(
            "<HHHHHLLLH", 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded)
        )
        central += (
            b"PK\x01\x02"
            + struct.pack("<H", 20)
            + fields
            + struct.pack("<HHHHLL", 0, 0, 0, 0, 0, len(local))
            + encoded
        )
        local += b"PK\x03\x04" + fields + struct.pack("<H", 0) + encoded + data
    end = b"PK\x05\x06" + struct.pack(
        "<HHHHLLH", 0, 0, len(entries), len(entries), len(central), len(local), 0
    )
    return bytes(local + central + end)


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` black pixels: a hundred
    kilobytes that decode to width x height bytes in Pillow."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))
        )

    row = 1 + (width + 7) // 8  # the filter byte and the packed bits
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">LLBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", deflated_zeros(row * height))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "poster.png"
    path.write_bytes(png_bomb(30_000, 30_000))
    assert path.stat().st_size < 200_000
    return path


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24-megapixel (6000 x 4000) JPEG, as a camera writes one."""
    path = tmp_path_factory.mktemp("camera") / "DSC_0001.jpg"
    image = two_halves((6000, 4000))
    ImageDraw.Draw(image).ellipse((2000, 1000, 4000, 3000), fill=(255, 255, 0))
    image.save(path, quality=90)
    return path


# --- Refused uploads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", b"<!doctype html><html><script>document.cookie</script></html>"),
        ("photo.jpg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("report.pdf", b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(200)),
    ],
    ids=["html-as-jpg", "svg-as-jpg", "elf-as-pdf"],
)
def test_a_renamed_page_or_program_is_refused(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RefusedFile) as caught:
        detect(path)
    assert caught.value.code == "type_not_allowed"


def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    """A Word document whose [Content_Types].xml inflates to 256 MiB from 250 KB:
    detection reads its first mebibyte and stops."""
    size = 256 << 20
    bomb = raw_deflated_zeros(size)
    main = b"<document/>"
    path = tmp_path / "보도자료.docx"
    path.write_bytes(
        zip_of(
            [
                ("[Content_Types].xml", 8, bomb, zeros_checksum(size, zlib.crc32, 0), size),
                ("word/document.xml", 0, main, zlib.crc32(main), len(main)),
            ]
        )
    )
    assert path.stat().st_size < 300_000
    refusal, seconds, growth = measured_refusal(lambda: detect(path))
    assert refusal.message == "the archive's [Content_Types].xml entry is too large"
    assert seconds < 0.2
    assert growth < 8 * 1024


def test_real_images_are_detected_then_verified(tmp_path: Path) -> None:
    saves: list[tuple[FileType, str, dict[str, Any]]] = [
        (JPEG, "a.jpg", {"format": "JPEG"}),
        (PNG, "a.png", {"format": "PNG"}),
        (WEBP, "a.webp", {"format": "WEBP", "quality": 80}),
        (WEBP, "b.webp", {"format": "WEBP", "lossless": True}),
    ]
    for file_type, name, save in saves:
        path = tmp_path / name
        two_halves((320, 240)).save(path, **save)
        assert detect(path) == file_type
        assert verify_image(path, max_pixels=MAX_PIXELS) == ImageInfo(
            320, 240, file_type.label.upper()
        )


def test_verify_gives_the_size_as_seen(phone_photo: Path) -> None:
    assert verify_image(phone_photo, max_pixels=MAX_PIXELS) == ImageInfo(400, 600, "JPEG")


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_truncated_jpeg_is_refused(tmp_path: Path, progressive: bool) -> None:
    whole = io.BytesIO()
    Image.effect_noise((1200, 800), 60).convert("RGB").save(
        whole, format="JPEG", progressive=progressive
    )
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) * 2 // 3])
    assert detect(path) == JPEG  # its signature is intact: only decoding shows the cut
    for attempt in (
        lambda: verify_image(path, max_pixels=MAX_PIXELS),
        lambda: make_renditions(path, max_pixels=MAX_PIXELS),
        lambda: rendition(path, "thumb", max_pixels=MAX_PIXELS),
    ):
        with pytest.raises(RefusedFile) as caught:
            attempt()
        assert (caught.value.code, caught.value.field) == ("corrupt_image", "file")


def test_a_damaged_png_and_an_image_of_another_format_are_refused(tmp_path: Path) -> None:
    whole = io.BytesIO()
    Image.effect_noise((400, 300), 60).save(whole, format="PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.getvalue()[:-2000])
    gif = tmp_path / "animation.jpg"
    two_halves((40, 30)).save(gif, format="GIF")
    for path in (cut, gif):
        with pytest.raises(RefusedFile) as caught:
            verify_image(path, max_pixels=MAX_PIXELS)
        assert caught.value.code == "corrupt_image"


def test_a_decompression_bomb_is_refused_at_once_without_decoding(bomb: Path) -> None:
    """30,000 x 30,000 pixels in a hundred kilobytes: decoded, 900 MB."""
    assert detect(bomb) == PNG
    for attempt in (
        lambda: verify_image(bomb, max_pixels=MAX_PIXELS),
        lambda: make_renditions(bomb, max_pixels=MAX_PIXELS),
        lambda: rendition(bomb, "thumb", max_pixels=MAX_PIXELS),
        lambda: sanitised_original(bomb, max_pixels=MAX_PIXELS),
    ):
        refusal, seconds, growth = measured_refusal(attempt)
        assert refusal.code == "too_many_pixels"
        assert seconds < 0.25
        assert growth < 8 * 1024


def test_an_image_over_the_setting_is_refused_from_its_header(tmp_path: Path) -> None:
    """8,000 x 8,000 is within Pillow's own limit: the refusal is the explicit check."""
    path = tmp_path / "large.png"
    path.write_bytes(png_bomb(8_000, 8_000))
    started = time.perf_counter()
    with pytest.raises(RefusedFile) as caught:
        verify_image(path, max_pixels=MAX_PIXELS)
    assert time.perf_counter() - started < 0.1
    assert caught.value.code == "too_many_pixels"
    assert "8000 x 8000" in caught.value.message
    assert verify_image(path, max_pixels=64_000_000) == ImageInfo(8_000, 8_000, "PNG")


# --- What renditions carry ----------------------------------------------------------------


def test_a_phone_photo_is_stood_upright_and_stripped_of_everything(phone_photo: Path) -> None:
    made = make_renditions(phone_photo, max_pixels=MAX_PIXELS)
    assert set(made) == {"original", *RENDITIONS}
    for name, encoded in made.items():
        assert encoded.content_type == "image/jpeg", name
        assert_nothing_but_pixels(encoded)
    # Stored 600 x 400 with its left half red; seen a quarter turn clockwise, it is
    # 400 x 600 with the red half on top.
    original = decoded(made["original"])
    assert original.size == (400, 600)
    assert close_to(original.getpixel((200, 100)), RED)
    assert close_to(original.getpixel((200, 500)), BLUE)
    assert jpeg_markers(made["original"].data).count(0xDA) > 1  # progressive
    thumb = decoded(made["thumb"])
    assert thumb.size == (400, 600)
    assert close_to(thumb.getpixel((200, 20)), RED)


def test_single_renditions_match_the_set(phone_photo: Path) -> None:
    made = make_renditions(phone_photo, max_pixels=MAX_PIXELS)
    alone = {
        "original": sanitised_original(phone_photo, max_pixels=MAX_PIXELS),
        **{name: rendition(phone_photo, name, max_pixels=MAX_PIXELS) for name in RENDITIONS},
    }
    for name, encoded in alone.items():
        assert_nothing_but_pixels(encoded)
        assert (encoded.width, encoded.height, encoded.content_type) == (
            made[name].width,
            made[name].height,
            made[name].content_type,
        )
        assert close_to(decoded(encoded).getpixel((encoded.width // 2, 5)), RED)


def test_png_text_chunks_are_dropped_and_transparency_kept(tmp_path: Path) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "secret text")
    text.add_text("Comment", "secret text " * 50, zip=True)
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    logo = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((200, 100, 600, 300), fill=(0, 128, 0, 255))
    path = tmp_path / "logo.png"
    logo.save(path, pnginfo=text, exif=exif_with_gps(1).tobytes(), icc_profile=srgb_profile())
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"} <= set(png_chunks(path.read_bytes()))

    made = make_renditions(path, max_pixels=MAX_PIXELS)
    for name, encoded in made.items():
        assert_nothing_but_pixels(encoded)
        assert encoded.content_type == ("image/jpeg" if name == "preview" else "image/png")
    original = decoded(made["original"])
    assert original.mode == "RGBA"
    assert original.getpixel((10, 10)) == (0, 0, 0, 0)
    assert original.getpixel((400, 200)) == (0, 128, 0, 255)
    # Link previews are flattened on white: crawlers draw transparency as they please.
    preview = decoded(made["preview"])
    assert close_to(preview.getpixel((10, 10)), (255, 255, 255))


def test_a_webp_with_metadata_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "photo.webp"
    two_halves((640, 480)).save(path, exif=exif_with_gps(1).tobytes(), xmp=XMP, quality=90)
    assert b"SECRET-GPS" in path.read_bytes()
    for encoded in make_renditions(path, max_pixels=MAX_PIXELS).values():
        assert encoded.content_type == "image/jpeg"
        assert_nothing_but_pixels(encoded)


@pytest.mark.parametrize(
    ("mode", "save", "content_type", "out_mode"),
    [
        ("CMYK", {"format": "JPEG"}, "image/jpeg", "RGB"),
        ("P", {"format": "PNG"}, "image/jpeg", "RGB"),
        ("P-transparent", {"format": "PNG", "transparency": 0}, "image/png", "RGBA"),
        ("LA", {"format": "PNG"}, "image/png", "RGBA"),
        ("RGBA-opaque", {"format": "PNG"}, "image/jpeg", "RGB"),
        ("L", {"format": "PNG"}, "image/jpeg", "L"),
        ("1", {"format": "PNG"}, "image/jpeg", "L"),
    ],
)
def test_colour_modes_are_normalised(
    tmp_path: Path, mode: str, save: dict[str, Any], content_type: str, out_mode: str
) -> None:
    source = two_halves((200, 100))
    if mode == "CMYK":
        image = source.convert("CMYK")
    elif mode.startswith("P"):
        image = source.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
        image.putpixel((0, 0), 0)  # palette index 0 transparent, in one variant
    elif mode == "LA":
        image = source.convert("LA")
        image.putpixel((0, 0), (0, 0))
    elif mode == "RGBA-opaque":
        image = source.convert("RGBA")
    else:
        image = source.convert(mode)
    path = tmp_path / "image"
    image.save(path, **save)
    encoded = sanitised_original(path, max_pixels=MAX_PIXELS)
    assert encoded.content_type == content_type
    assert decoded(encoded).mode == out_mode
    assert_nothing_but_pixels(encoded)


def test_sixteen_bit_grey_keeps_its_tones(tmp_path: Path) -> None:
    path = tmp_path / "grey16.png"
    Image.new("I;16", (64, 64), 32_768).save(path)  # mid-grey, not white
    out = decoded(sanitised_original(path, max_pixels=MAX_PIXELS))
    assert out.mode == "L"
    assert out.getpixel((32, 32)) in range(126, 131)


def test_an_unusable_icc_profile_does_not_stop_the_photo(tmp_path: Path) -> None:
    path = tmp_path / "odd-profile.jpg"
    two_halves((300, 200)).save(path, icc_profile=b"not a profile" * 20)
    encoded = sanitised_original(path, max_pixels=MAX_PIXELS)
    assert_nothing_but_pixels(encoded)
    assert close_to(decoded(encoded).getpixel((10, 10)), RED)


def test_an_animated_image_gives_its_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "animated.png"
    frames = [Image.new("RGB", (300, 200), colour) for colour in (RED, BLUE, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    made = make_renditions(path, max_pixels=MAX_PIXELS)
    assert made["original"].content_type == "image/jpeg"
    assert close_to(decoded(made["original"]).getpixel((150, 100)), RED)


# --- Sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (
            (3000, 2000),
            {"original": (3000, 2000), "thumb": (400, 267), "page": (1200, 800)}
            | {"email": (1200, 800), "preview": (1200, 630)},
        ),
        (
            (2000, 3000),
            {"original": (2000, 3000), "thumb": (400, 600), "page": (1200, 1800)}
            | {"email": (1200, 1800), "preview": (1200, 630)},
        ),
        # Smaller than every width: nothing is enlarged but the link preview, which is
        # scaled up to cover 1200 x 630 (Lanczos) because crawlers ask for that size.
        (
            (300, 200),
            {"original": (300, 200), "thumb": (300, 200), "page": (300, 200)}
            | {"email": (300, 200), "preview": (1200, 630)},
        ),
        (
            (1000, 100),
            {"original": (1000, 100), "thumb": (400, 40), "page": (1000, 100)}
            | {"email": (1000, 100), "preview": (1200, 630)},
        ),
    ],
    ids=["landscape", "portrait", "small", "banner"],
)
def test_each_rendition_has_its_size(
    tmp_path: Path, size: tuple[int, int], expected: dict[str, tuple[int, int]]
) -> None:
    path = tmp_path / "photo.jpg"
    two_halves(size).save(path, quality=90)
    made = make_renditions(path, max_pixels=MAX_PIXELS)
    assert {name: (e.width, e.height) for name, e in made.items()} == expected
    for encoded in made.values():
        assert decoded(encoded).size == (encoded.width, encoded.height)


def test_the_preview_is_cropped_about_the_centre(tmp_path: Path) -> None:
    """A portrait photo's preview keeps its middle band, not its top or bottom."""
    image = Image.new("RGB", (1200, 2400), BLUE)
    # The middle third red: the centred 630 rows (885 to 1515) fall within it.
    image.paste(RED, (0, 800, 1200, 1600))
    path = tmp_path / "portrait.jpg"
    image.save(path, quality=95)
    preview = decoded(rendition(path, "preview", max_pixels=MAX_PIXELS))
    assert preview.size == (1200, 630)
    for y in (5, 315, 624):
        assert close_to(preview.getpixel((600, y)), RED)


# --- What decoding costs --------------------------------------------------------------------


def test_a_thumbnail_of_a_24_megapixel_photo_is_decoded_at_a_reduced_scale(
    camera_jpeg: Path,
) -> None:
    """Decoded whole, the photo takes 72 MB (6000 x 4000 x 3); its thumbnail is made
    from an eighth-scale decode (750 x 500), a few megabytes at most."""

    def full_decode() -> None:
        with Image.open(camera_jpeg) as image:
            image.load()

    full = peak_growth_kib(full_decode)
    assert full > 60 * 1024  # the measure sees a full decode

    made: list[Encoded] = []
    thumb = peak_growth_kib(
        lambda: made.append(rendition(camera_jpeg, "thumb", max_pixels=MAX_PIXELS))
    )
    assert thumb < 8 * 1024, f"{thumb} KiB for a thumbnail, {full} KiB for a full decode"
    assert (made[0].width, made[0].height) == (400, 267)
    picture = decoded(made[0])
    assert close_to(picture.getpixel((200, 133)), (255, 255, 0))  # the yellow disc
    assert close_to(picture.getpixel((20, 20)), RED)

    # Checking the photo decodes every scan too, also at an eighth of its size.
    assert peak_growth_kib(lambda: verify_image(camera_jpeg, max_pixels=MAX_PIXELS)) < 8 * 1024
    # The link preview needs 1200 x 630 at least: a quarter-scale decode (1500 x 1000).
    assert peak_growth_kib(lambda: rendition(camera_jpeg, "preview", max_pixels=MAX_PIXELS)) < (
        full // 4
    )
