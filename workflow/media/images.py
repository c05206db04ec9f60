"""A photo's checks and its renditions, with Pillow.

Every file this module writes is a re-encoding of the upload's pixels, never its bytes:

- **Orientation** is applied (``ImageOps.exif_transpose``), so a phone's portrait photo
  stands up in every rendition, and no output carries an orientation tag.
- **Metadata is dropped, all of it**: EXIF (camera, time, GPS position), XMP, IPTC,
  JPEG comments and PNG text chunks. Only the pixels are encoded; the decoded image's
  ``info`` is emptied before saving, because Pillow writes some of it back by itself
  (a JPEG's comment, a PNG's ICC profile).
- **Colour is converted to sRGB** with the embedded ICC profile (an iPhone's Display P3,
  Adobe RGB, a printer's CMYK) and the profile is then dropped: an untagged image is read
  as sRGB by browsers and mail clients, and a CMYK profile alone can weigh more than a
  thumbnail. An image whose profile cannot be used is converted as if it had none.
- **Modes are normalised**: CMYK and 16-bit greyscale become RGB and 8-bit greyscale;
  palette images become RGB, or RGBA if they have transparency; greyscale with alpha
  becomes RGBA. An alpha channel that is opaque everywhere is dropped.
- **Formats**: an image without transparency is written as JPEG (quality 85, progressive,
  optimised Huffman tables; chroma at full resolution when the source was lossless, so
  the text of a chart stays sharp), an image with transparency as PNG, which every
  browser and mail client shows. The link-preview crop is always a JPEG, flattened on
  white, since crawlers draw transparency as they please. An animated image gives its
  first frame.

Decoding is bounded: the pixel count is read from the header and checked against the
caller's ``max_pixels`` before any pixel is decoded, and a JPEG is decoded at a reduced
scale (``Image.draft``) when the target is much smaller than the source, so a
24-megapixel photo's 400-pixel thumbnail never holds the full-size image in memory.
Pillow's own process-wide limit (``Image.MAX_IMAGE_PIXELS``, 89 million) is left as it
is: it warns above it and refuses above twice it, before our check could; a
``max_pixels`` above 89 million therefore takes effect only up to 179 million pixels,
unless the process raises Pillow's limit at start-up.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from workflow.media.inspection import RefusedFile

# Only the decoders of the accepted formats are ever used: Image.open would otherwise
# try every plugin, some of which hand the file to other programs (EPS to Ghostscript).
_FORMATS = ("JPEG", "PNG", "WEBP")
_RESAMPLE = Image.Resampling.LANCZOS
_JPEG_QUALITY = 85
_BACKGROUND = (255, 255, 255)  # under transparency, where a JPEG is needed
# Orientations that turn the stored image a quarter turn: its width is seen as height.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """A checked image: its size as people see it (after its EXIF orientation) and its
    format as Pillow names it ("JPEG", "PNG", "WEBP")."""

    width: int
    height: int
    format: str


@dataclass(frozen=True, slots=True)
class Encoded:
    """One encoded image: its bytes, the content type to serve them with, its size."""

    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Rendition:
    """How one rendition is made. Without a ``height``: scaled down to at most ``width``
    pixels wide, its proportions kept, never enlarged. With one: scaled to cover exactly
    ``width`` x ``height`` and cropped about its centre; an image smaller than that is
    enlarged (Lanczos), so that link previews always get the size they ask for."""

    name: str
    width: int
    height: int | None = None
    # The transparency that PNG keeps; a JPEG-only rendition flattens it on white.
    keeps_alpha: bool = True


RENDITIONS: Mapping[str, Rendition] = {
    # The list of attachments and the office's pages.
    "thumb": Rendition("thumb", 400),
    # The public release page, up to its widest column on a high-density screen.
    "page": Rendition("page", 1200),
    # Emails to journalists: 600 CSS pixels at twice the density.
    "email": Rendition("email", 1200),
    # Link previews (Open Graph, Twitter cards): exactly 1200 x 630.
    "preview": Rendition("preview", 1200, 630, keeps_alpha=False),
}


def verify_image(path: Path, *, max_pixels: int) -> ImageInfo:
    """Check that the image at ``path`` is a JPEG, PNG or WebP whose first frame decodes
    completely, and that it has at most ``max_pixels`` pixels, checked from its header
    before decoding. ``RefusedFile`` (``corrupt_image``, ``too_many_pixels``) otherwise.

    A JPEG is decoded at an eighth of its size: libjpeg's scaled decoding still reads
    and decodes every scan of the file, so a truncated or broken one is refused just the
    same, while the pixels it holds are 1/64 of the full image's."""
    with _opened(path, max_pixels=max_pixels) as (image, _lossless):
        width, height = _oriented_size(image)  # before draft() reduces it
        image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
        assert image.format is not None  # set by every plugin's open
        return ImageInfo(width, height, image.format)


def sanitised_original(path: Path, *, max_pixels: int) -> Encoded:
    """The image at full size, re-encoded as the module's docstring says: upright,
    without metadata, in sRGB, as JPEG or (with transparency) PNG."""
    with _opened(path, max_pixels=max_pixels) as (image, lossless):
        prepared = _prepared(image)
    return _encode(prepared, keep_alpha=True, lossless_source=lossless)


def rendition(path: Path, name: str, *, max_pixels: int) -> Encoded:
    """The rendition ``name`` (a key of ``RENDITIONS``) of the image at ``path``. A JPEG
    much larger than the rendition is decoded at a reduced scale."""
    spec = RENDITIONS[name]
    with _opened(path, max_pixels=max_pixels) as (image, lossless):
        _draft_for(image, spec)
        prepared = _prepared(image)
    return _render(prepared, spec, lossless_source=lossless)


def make_renditions(path: Path, *, max_pixels: int) -> dict[str, Encoded]:
    """The sanitised original (key ``"original"``) and every rendition of
    ``RENDITIONS``, from one full decode of the image at ``path``."""
    with _opened(path, max_pixels=max_pixels) as (image, lossless):
        prepared = _prepared(image)
    made = {"original": _encode(prepared, keep_alpha=True, lossless_source=lossless)}
    for name, spec in RENDITIONS.items():
        made[name] = _render(prepared, spec, lossless_source=lossless)
    return made


# --- Decoding --------------------------------------------------------------------------


@contextmanager
def _opened(path: Path, *, max_pixels: int) -> Iterator[tuple[Image.Image, bool]]:
    """The image at ``path`` opened (its header read, no pixels decoded) and checked
    against ``max_pixels``, with whether its format is lossless; Pillow's errors, while
    opening and while decoding within the block, become refusals.

    The file is opened here rather than by Pillow so that a decoded image outlives the
    block: closing an image Pillow opened would discard its pixels too. A file that
    cannot be opened at all is the caller's error and raises as it is."""
    with path.open("rb") as stream:
        lossless = _is_lossless(stream.read(16))
        stream.seek(0)
        try:
            image = Image.open(stream, formats=_FORMATS)
            if image.width * image.height > max_pixels:
                raise RefusedFile(
                    "too_many_pixels",
                    f"the image is {image.width} x {image.height} pixels, "
                    f"more than the {max_pixels} accepted",
                )
            yield image, lossless
        except RefusedFile:
            raise
        except Image.DecompressionBombError as error:
            # Pillow's own ceiling (twice Image.MAX_IMAGE_PIXELS), met while reading
            # the header of an image far beyond any sensible max_pixels.
            raise RefusedFile(
                "too_many_pixels", "the image has more pixels than are accepted"
            ) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
            # OSError: truncated or undecodable data; SyntaxError and ValueError:
            # malformed headers and chunks (an oversized PNG text chunk among them), as
            # the plugins report them.
            raise RefusedFile("corrupt_image", "the image is damaged or incomplete") from error


def _is_lossless(head: bytes) -> bool:
    """Whether the source kept every pixel as drawn (PNG, a simple lossless WebP): its
    chroma is then encoded at full resolution, for the sake of text and thin lines."""
    return head.startswith(b"\x89PNG") or (head[:4] == b"RIFF" and head[12:16] == b"VP8L")


def _orientation(image: Image.Image) -> int:
    orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    return orientation if isinstance(orientation, int) else 1


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    if _orientation(image) in _QUARTER_TURNS:
        return image.height, image.width
    return image.width, image.height


def _draft_for(image: Image.Image, spec: Rendition) -> None:
    """Ask a JPEG to decode at the smallest scale (1/2, 1/4, 1/8) that still leaves at
    least the rendition's size on both sides, so that what follows only ever reduces.
    Other formats ignore it."""
    shown_width, shown_height = _oriented_size(image)
    if spec.height is None:
        if shown_width <= spec.width:
            return
        wanted = (spec.width, max(1, shown_height * spec.width // shown_width))
    else:
        wanted = (spec.width, spec.height)
    if _orientation(image) in _QUARTER_TURNS:
        wanted = (wanted[1], wanted[0])
    image.draft(None, wanted)


def _prepared(image: Image.Image) -> Image.Image:
    """The decoded first frame, upright, in sRGB, in mode L, RGB or RGBA, with nothing
    left in ``info`` for an encoder to write back."""
    image.load()
    if _orientation(image) != 1:
        ImageOps.exif_transpose(image, in_place=True)
    icc = image.info.get("icc_profile")
    working = image
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        working = _to_srgb(image, icc)
    working = _normalised_mode(working)
    working.info = {}
    return working


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """``image`` converted to sRGB from the colour space its ICC profile describes:
    RGB or CMYK to RGB, RGBA to RGBA (the alpha channel is carried over)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            image,
            source,
            _srgb(),
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGBA" if image.mode == "RGBA" else "RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A profile that cannot be read or does not fit the pixels (a grey profile on
        # colour pixels): the pixels are taken for what they would be without one.
        return image
    assert converted is not None  # inPlace=False returns the new image
    return converted


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _normalised_mode(image: Image.Image) -> Image.Image:
    """``image`` in mode L, RGB or RGBA; RGBA only if some pixel is not opaque."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I"):
        # 16-bit greyscale: convert() would clip every value above 255 to white.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if (mode == "P" and "transparency" in image.info) or mode in ("RGBA", "LA", "PA", "La"):
        rgba = image.convert("RGBA")
        lowest_alpha = rgba.getchannel("A").getextrema()[0]
        return rgba.convert("RGB") if lowest_alpha == 255 else rgba
    # CMYK, P without transparency, YCbCr, LAB, HSV…
    return image.convert("RGB")


# --- Renditions and encoding -----------------------------------------------------------


def _render(prepared: Image.Image, spec: Rendition, *, lossless_source: bool) -> Encoded:
    """One rendition of a prepared image, which is left as it is."""
    image = prepared
    if spec.height is not None:
        image = ImageOps.fit(
            prepared, (spec.width, spec.height), method=_RESAMPLE, centering=(0.5, 0.5)
        )
    elif prepared.width > spec.width:
        height = max(1, round(prepared.height * spec.width / prepared.width))
        # reducing_gap: a cheap integer reduction first, then Lanczos over the last
        # factor of three, as Image.thumbnail does.
        image = prepared.resize((spec.width, height), _RESAMPLE, reducing_gap=3.0)
    return _encode(image, keep_alpha=spec.keeps_alpha, lossless_source=lossless_source)


def _encode(image: Image.Image, *, keep_alpha: bool, lossless_source: bool) -> Encoded:
    """``image`` (mode L, RGB or RGBA, empty ``info``) as PNG if it keeps its alpha,
    else as a progressive JPEG; the caller's image is not changed."""
    buffer = io.BytesIO()
    if image.mode == "RGBA" and keep_alpha:
        image.save(buffer, format="PNG")
        content_type = "image/png"
    else:
        if image.mode == "RGBA":
            flat = Image.new("RGB", image.size, _BACKGROUND)
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(
            buffer,
            format="JPEG",
            quality=_JPEG_QUALITY,
            progressive=True,
            optimize=True,
            # 4:4:4 for drawings and screenshots, 4:2:0 (as the camera wrote it) for photos.
            subsampling=0 if lossless_source else 2,
        )
        content_type = "image/jpeg"
    return Encoded(buffer.getvalue(), content_type, image.width, image.height)
