"""Cheap checks on uploaded images, done in the API before anything is stored.

They read the header only: full decoding, which costs 100+ ms for a big JPEG,
is the worker's job. Each refusal is an `InvalidImage` with a stable code.
"""

from __future__ import annotations

import io
import threading
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlmodel import SQLModel

from api import watermark
from api.errors import InvalidImage, PayloadTooLarge
from core import decoding
from core.config import settings
from core.models import Photo
from core.storage import PREVIEW_SIZES

pillow_heif.register_heif_opener()
# Pillow warns above MAX_IMAGE_PIXELS (set in core.decoding) and refuses at twice as many;
# we refuse at once.

CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # multi-picture JPEG from some cameras; the first frame is the photo
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
    "TIFF": "image/tiff",
}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/tiff": ".tiff",
}
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}
_PAYLOAD_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"Rar!", b"7z\xbc\xaf", b"MZ", b"\x7fELF",
                       b"%PDF", b"<script", b"<html", b"<?php", b"#!")  # fmt: skip
"""What a JPEG/archive or JPEG/script polyglot carries after the image."""
_PNG_IEND = b"IEND\xaeB`\x82"


def jpeg_end(data: bytes) -> int | None:
    """Offset just past the first image's end-of-image marker, or None if it never ends.

    Marker segments are skipped by their lengths, and entropy-coded data by its
    byte stuffing (0xFF is followed by 0x00 or a restart marker there), so an
    0xFFD9 inside metadata or pixels is not mistaken for the end.
    """
    i, size = 2, len(data)
    while i + 1 < size:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xD9:
            return i + 2
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if i + 4 > size:
            return None
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker != 0xDA:  # not a start of scan
            continue
        while True:
            i = data.find(b"\xff", i)
            if i < 0 or i + 1 >= size:
                return None
            following = data[i + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                i += 2
                continue
            break
    return None


def _check_jpeg_end(data: bytes) -> None:
    end = jpeg_end(data)
    if end is None:
        raise InvalidImage("the JPEG is truncated", code="truncated_image")
    # Phones append motion-photo videos and cameras a second image (MPO) after the
    # end: those are fine. An archive, program or script there is a polyglot.
    trailer = data[end:].lstrip(b"\x00")
    if trailer.startswith(_PAYLOAD_SIGNATURES) or b"PK\x05\x06" in trailer[-65_557:]:
        raise InvalidImage(
            "the JPEG carries another file after the image (an archive or a script)",
            code="embedded_payload",
        )


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int
    taken_at: datetime | None = None
    """EXIF DateTimeOriginal (`capture_time`)."""
    taken_offset_minutes: int | None = None

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def inspect_image(data: bytes, *, max_bytes: int, budget: int | None = None) -> ImageInfo:
    """Format and upright size of an image, or an `InvalidImage` saying why not: among the
    reasons, a decoding that would take more than `budget` bytes (`core.decoding`; default
    the photo budget) with no cheaper scale to decode at."""
    if not data:
        raise InvalidImage("the file is empty", code="empty_file")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"the file is {len(data)} bytes; the limit is {max_bytes}", code="file_too_large"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            mode = image.mode
            width, height = image.size
            orientation = decoding.orientation(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage("the image has too many pixels", code="too_many_pixels") from None
    except UnidentifiedImageError:
        raise InvalidImage("the file is not an image we can read", code="not_an_image") from None
    except Exception as exc:
        raise InvalidImage(f"the image is unreadable ({exc})", code="unreadable_image") from None

    content_type = CONTENT_TYPES.get(image_format)
    if content_type is None:
        raise InvalidImage(
            f"{image_format or 'this'} images are not accepted; use JPEG, PNG, WebP or HEIC",
            code="unsupported_format",
        )
    if width < 1 or height < 1 or width * height > settings.MAX_IMAGE_PIXELS:
        raise InvalidImage(
            f"the image is {width}x{height}; at most {settings.MAX_IMAGE_PIXELS} pixels",
            code="too_many_pixels",
        )
    if decoding.reduction_for(image_format, mode, width, height, budget) is None:
        raise InvalidImage(
            f"a {width}x{height} {mode} image takes more memory to decode than allowed; "
            "send a JPEG, or fewer pixels",
            code="too_large_to_decode",
        )
    if content_type == "image/jpeg":
        _check_jpeg_end(data)
    if content_type == "image/png" and _PNG_IEND not in data[-64:]:
        raise InvalidImage("the PNG is truncated (no end chunk)", code="truncated_image")
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(content_type, width, height, *capture_time(image))


_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL, _SUBSEC_ORIGINAL, _OFFSET_ORIGINAL = 0x9003, 0x9291, 0x9011


def capture_time(image: Image.Image) -> tuple[datetime | None, int | None]:
    """When the photo was taken, from EXIF: DateTimeOriginal (with SubSecTimeOriginal), and
    OffsetTimeOriginal where the camera wrote one. With an offset, the instant in UTC;
    without, the camera's clock read as UTC (one camera's photos keep their order, and a
    photographer's clock correction lines them up with the others'). None when the file
    says nothing usable: no tag, zeros, a date before 1990 or a garbled string."""
    try:
        exif = image.getexif().get_ifd(_EXIF_IFD)
        raw = _text(exif.get(_DATETIME_ORIGINAL))
        taken = datetime.strptime(raw, "%Y:%m:%d %H:%M:%S")
    except (ValueError, TypeError, AttributeError, SyntaxError, OSError):
        return None, None
    if not 1990 <= taken.year <= 2100:
        return None, None
    fraction = _text(exif.get(_SUBSEC_ORIGINAL))
    if fraction.isdigit():
        taken = taken.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    offset = _offset_minutes(_text(exif.get(_OFFSET_ORIGINAL)))
    zone = timezone(timedelta(minutes=offset)) if offset is not None else UTC
    return taken.replace(tzinfo=zone).astimezone(UTC), offset


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip().strip("\x00").strip() if isinstance(value, str) else ""


def _offset_minutes(text: str) -> int | None:
    """ "+02:00" or "-05:30" in minutes; None for anything else."""
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    hours, minutes = text[1:3], text[4:6]
    if not (hours.isdigit() and minutes.isdigit()) or int(hours) > 14 or int(minutes) > 59:
        return None
    sign = -1 if text[0] == "-" else 1
    return sign * (int(hours) * 60 + int(minutes))


PREVIEW_SIDES = dict(zip(PREVIEW_SIZES, (480, 1600), strict=True))
"""The longest side of each preview kept beside an original."""
"""Longest side in pixels of each derived size the web app shows."""


_whole_decodes = threading.BoundedSemaphore(1)
"""Non-JPEG originals decode whole, up to the decoding budget: one at a time per process."""


@dataclass(frozen=True)
class Marking:
    """A watermark for a preview, and the faces (in the photo's upright pixels, whose width
    is `photo_width`) it should keep off."""

    mark: watermark.Mark
    faces: tuple[tuple[int, int, int, int], ...]
    """(top, right, bottom, left), as the faces table has them."""
    photo_width: int


def make_preview(data: bytes, max_side: int, marking: Marking | None = None) -> bytes:
    """An upright JPEG of the image, its longest side at most `max_side`, with the
    watermark of `marking` burned in.

    JPEGs are decoded at a DCT scale near the target (`draft`), so a 24 MP
    photo costs tens of milliseconds, not a full decode. Other formats decode
    whole, one at a time: the API's memory holds one budget's worth, not one per request.
    """
    with Image.open(io.BytesIO(data)) as image:
        if image.format in decoding.DRAFT_FORMATS:
            image.draft("RGB", (max_side, max_side))
            return _preview(image, max_side, marking)
        with _whole_decodes:
            return _preview(image, max_side, marking)


def _preview(image: Image.Image, max_side: int, marking: Marking | None) -> bytes:
    image.load()
    ImageOps.exif_transpose(image, in_place=True)  # no second full-size copy
    if image.mode in decoding.SIXTEEN_BIT:  # Pillow cannot shrink 16-bit modes
        image = decoding.sixteen_bit_to_gray(image)  # as the worker scales it
    # Bicubic, plain baseline JPEG: ~100 ms less than Lanczos with an optimised,
    # progressive file on a 24 MP photo, and no visible difference at these sizes.
    image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    image = image.convert("RGB")
    if marking is not None:
        scale = image.width / max(1, marking.photo_width)
        faces = [watermark.Box(left * scale, top * scale, right * scale, bottom * scale)
                 for top, right, bottom, left in marking.faces]  # fmt: skip
        watermark.burn(image, marking.mark, faces)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


class ShownPhoto(SQLModel):
    """A photo as an attendee or a runner sees it: its name, size and image links."""

    id: uuid.UUID
    filename: str
    width: int
    height: int
    url: str
    """What the viewer may download: the original file where the event's photographer
    allows it, else the preview."""
    download_url: str
    """`url` as an attachment with the photo's file name."""
    original: bool
    """Whether `url` is the original file."""
    preview_url: str
    """An upright JPEG, 1600 px on its longest side (with the photographer's watermark
    when the event has one)."""
    thumb_url: str
    """An upright JPEG, 480 px on its longest side (watermarked as the preview)."""


def shown(photo: Photo, image: str, *, original: bool) -> dict[str, Any]:
    """`ShownPhoto`'s fields for a photo whose image is served at `image`; `original`:
    whether the viewer may download the original file."""
    url = image if original else f"{image}?size=preview"
    download = f"{url}{'&' if '?' in url else '?'}download=1"
    return {"id": photo.id, "filename": photo.filename, "width": photo.width,
            "height": photo.height, "url": url, "download_url": download, "original": original,
            "preview_url": f"{image}?size=preview", "thumb_url": f"{image}?size=thumb"}  # fmt: skip
