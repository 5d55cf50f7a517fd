"""What decoding an image costs in memory, judged from its header before a pixel is decoded.

The API refuses at upload what a worker could not decode within its budget, and the
worker applies the same rule, so a file that passes one passes the other. A pixel count
alone is not enough: a 169 kB 16-bit PNG of 9459x9459 is under any sane pixel limit and
took 2 GiB to turn into RGB. The cost is pixels times the bytes each pixel takes in every
copy alive at the peak: the decoded file (Pillow holds 1, 2 or 4 bytes a pixel), its RGB
conversion (4) and the uint8 array the detector reads (3).

An image over the budget is decoded reduced, at 1/2, 1/4 or 1/8 scale: a JPEG by libjpeg
itself (`Image.draft`), in proportion less memory; any other format whole and then
`reduce`d before its conversion, so only the whole decoded image must fit (a 48 MP
iPhone HEIC, a 12 MP one as a selfie). Faces in a 100 MP frame are then as big as in a
24 MP one. Only a file whose whole decoded image is over the budget is refused.
"""

from __future__ import annotations

from PIL import Image

from core.config import settings

Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
"""One pixel limit for every process (Pillow's own default, 89.5 MP, differs)."""

DECODER_BYTES = {"HEIF": 4}
"""Bytes a pixel the format's decoder holds beside Pillow's image while it loads: libheif
decodes into its own buffer, which pillow_heif then copies (measured: a 20 MP HEIC's load
peaks at 7.1 bytes a pixel)."""
_STORED = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
"""Bytes a pixel takes in Pillow, by mode; every other mode takes 4."""
SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
"""Modes a decoder scales to 8 bits by the brightest pixel."""
ARRAY_BYTES = 3
RGB_BYTES = 4
REDUCTIONS = (1, 2, 4, 8)
"""The scales libjpeg decodes at directly."""
DRAFT_FORMATS = {"JPEG", "MPO"}


def bytes_per_pixel(mode: str, image_format: str = "") -> int:
    """Memory per pixel at the peak of decoding to an RGB array (`workers.faces.decode`)."""
    stored = _STORED.get(mode, 4) + DECODER_BYTES.get(image_format, 0)
    converted = 0 if mode == "RGB" else RGB_BYTES
    gray = 1 if mode in SIXTEEN_BIT else 0  # scaled to 8 bits on the way
    return stored + converted + gray + ARRAY_BYTES


UNREDUCIBLE = frozenset({"1", "P"})
"""Modes Pillow cannot `reduce`: the conversion it would need first is the whole decode's
own, so they are decoded whole or refused (16-bit modes are scaled to 8 bits first)."""
WITH_ALPHA = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
"""Pillow's `reduce` of these makes a premultiplied copy of the whole image first
(measured: +4 bytes a pixel of an RGBA PNG)."""


def decode_cost(mode: str, width: int, height: int, reduction: int = 1, *,
                draft: bool = True, image_format: str = "") -> int:  # fmt: skip
    """Bytes that decoding takes at its peak, at 1/`reduction` scale: decoded at that scale
    (`draft`, a JPEG), or decoded whole and then reduced (every other format): the whole
    image (with its 8-bit or RGBA copy where the mode needs one) and the reduced copy's
    conversion and array."""
    small = -(-width // reduction) * -(-height // reduction)
    if reduction == 1 or draft:
        return small * bytes_per_pixel(mode, image_format)
    stored = _STORED.get(mode, 4) + DECODER_BYTES.get(image_format, 0)
    if mode in SIXTEEN_BIT:
        extra = 1  # the 8-bit copy
    elif mode in WITH_ALPHA:
        extra = RGB_BYTES  # the premultiplied copy
    else:
        extra = 0
    return width * height * (stored + extra) + small * (RGB_BYTES + ARRAY_BYTES)


def reduction_for(image_format: str, mode: str, width: int, height: int,
                  budget: int | None = None) -> int | None:  # fmt: skip
    """The least reduction (1, 2, 4, 8) that brings decoding within `budget`; None if none
    does (a PNG whose whole decoded image is over the budget)."""
    budget = settings.DECODE_BUDGET_BYTES if budget is None else budget
    draft = image_format in DRAFT_FORMATS
    for scale in REDUCTIONS if draft or mode not in UNREDUCIBLE else (1,):
        if (
            decode_cost(mode, width, height, scale, draft=draft, image_format=image_format)
            <= budget
        ):
            return scale
    return None


STRIP_ROWS = 256


def sixteen_bit_to_gray(image: Image.Image) -> Image.Image:
    """A 16-bit image as 8-bit gray, scaled so its brightest pixel is white, a strip of
    rows at a time: one byte a pixel more, where a whole-image float copy took 16 (2 GiB for
    a 90 MP PNG). Pillow only, so the API's previews use it too."""
    peak = max(1, int(image.getextrema()[1]))  # type: ignore[arg-type]
    width, height = image.size
    gray = Image.new("L", image.size)
    for top in range(0, height, STRIP_ROWS):
        strip = image.crop((0, top, width, min(height, top + STRIP_ROWS)))
        gray.paste(strip.point(lambda v: v * (255 / peak) + 0.5).convert("L"), (0, top))
    return gray


def selfie_budget() -> int:
    """A selfie needs far fewer pixels than a crowd photo; its worker also holds a face
    cache. Half the budget takes a 12 MP phone HEIC (whole, then at 1/2)."""
    return settings.DECODE_BUDGET_BYTES // 2


ORIENTATION_TAG = 0x0112


def orientation(image: Image.Image) -> int:
    """The EXIF orientation, read without decoding a pixel. (Pillow's `getexif()` on a PNG
    decodes the whole image to look for an eXIf chunk after the pixels.)"""
    if image.format == "PNG":
        raw = image.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
        return int(exif.get(ORIENTATION_TAG, 1))
    return int(image.getexif().get(ORIENTATION_TAG, 1))
