"""The photographer's watermark, burned into previews and thumbnails when they are made.

The mark is the event's logo, else its watermark text, else its name. It goes in the
first corner (or edge) where it covers no face the worker found, and where every place
covers one, where it covers the least. Originals are never marked.

Making the mark costs once per event, mark and preview size (cached); burning it in is an
alpha composite of a few hundred pixels square, a small part of a preview's cost
(`loadtest/bench_watermark.py`).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

MARK_SHARE = 0.24
"""The mark's width, as a share of the preview's shorter side."""
MIN_MARK_WIDTH = 56
MARGIN_SHARE = 0.03
"""Space between the mark and the preview's edge, as a share of the shorter side."""
LOGO_OPACITY = 0.6
TEXT_OPACITY = 0.75
FACE_PAD = 0.2
"""A face box grows by this share on each side before overlap is measured: hair, chin."""
_CACHED_STAMPS = 64


@dataclass(frozen=True)
class Box:
    """A face in the preview's pixels."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class Mark:
    """What is burned in: a logo (PNG bytes), or a line of text. `key` names it for the
    cache: the event and its `mark_version`."""

    key: str
    text: str
    logo: Callable[[], bytes] | None = None


def _text_stamp(text: str, width: int) -> Image.Image:
    """White text with a dark outline (it reads on sky and on shadow), `width` wide."""
    size = 64
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text, stroke_width=size // 12)
    canvas = Image.new("RGBA", (int(right - left) + 4, int(bottom - top) + 4), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((2 - left, 2 - top), text, font=font, fill=(255, 255, 255, 255),
                                stroke_width=size // 12, stroke_fill=(0, 0, 0, 200))  # fmt: skip
    return _fade(_fit(canvas, width), TEXT_OPACITY)


def _logo_stamp(data: bytes, width: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as logo:
        return _fade(_fit(logo.convert("RGBA"), width), LOGO_OPACITY)


def _fit(image: Image.Image, width: int) -> Image.Image:
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _fade(image: Image.Image, opacity: float) -> Image.Image:
    alpha = image.getchannel("A").point(lambda a: round(a * opacity))
    image.putalpha(alpha)
    return image


class _Stamps:
    """Marks ready to paste, by (mark, width): a few dozen small RGBA images."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamps: OrderedDict[tuple[str, int], Image.Image] = OrderedDict()

    def get(self, mark: Mark, width: int) -> Image.Image:
        key = (mark.key, width)
        with self._lock:
            if key in self._stamps:
                self._stamps.move_to_end(key)
                return self._stamps[key]
        stamp = None
        if mark.logo is not None:
            # The logo replaced meanwhile: this mark is already old, its text will do.
            with contextlib.suppress(FileNotFoundError):
                stamp = _logo_stamp(mark.logo(), width)
        if stamp is None:
            stamp = _text_stamp(mark.text, width)
        with self._lock:
            self._stamps[key] = stamp
            while len(self._stamps) > _CACHED_STAMPS:
                self._stamps.popitem(last=False)
        return stamp


stamps = _Stamps()


def mark_width(width: int, height: int) -> int:
    return max(MIN_MARK_WIDTH, round(min(width, height) * MARK_SHARE))


EDGE_STEPS = 6
"""Places tried along each edge between its corners, after the corners themselves."""


def place(size: tuple[int, int], stamp: tuple[int, int], faces: Sequence[Box]) -> tuple[int, int]:
    """Where the mark's top-left corner goes: the first of the corners, then of the places
    along the edges (bottom and top first), that covers no face; else the place covering
    the least face area."""
    width, height = size
    w, h = stamp
    margin = round(min(width, height) * MARGIN_SHARE)
    right, bottom = width - w - margin, height - h - margin
    places = [(right, bottom), (margin, bottom), (right, margin), (margin, margin)]
    along_x = [margin + (right - margin) * n // (EDGE_STEPS + 1) for n in range(EDGE_STEPS, 0, -1)]
    along_y = [margin + (bottom - margin) * n // (EDGE_STEPS + 1) for n in range(EDGE_STEPS, 0, -1)]
    places += [(x, bottom) for x in along_x] + [(x, margin) for x in along_x]
    places += [(right, y) for y in along_y] + [(margin, y) for y in along_y]
    # Only faces that reach a band the mark can sit in matter (a crowd's middle does not).
    padded = [
        box for box in map(_pad, faces) if _in_band(box, margin + w, margin + h, right, bottom)
    ]
    best, least = places[0], float("inf")
    for x, y in places:
        covered = sum(_overlap((x, y, x + w, y + h), face) for face in padded)
        if covered == 0:
            return x, y
        if covered < least:
            best, least = (x, y), covered
    return best


def _in_band(box: tuple[float, float, float, float], left: float, top: float, right: float,
             bottom: float) -> bool:  # fmt: skip
    """Whether a box reaches into the band along the edges where a mark may sit."""
    return box[0] < left or box[1] < top or box[2] > right or box[3] > bottom


def _pad(face: Box) -> tuple[float, float, float, float]:
    dx, dy = (face.right - face.left) * FACE_PAD, (face.bottom - face.top) * FACE_PAD
    return face.left - dx, face.top - dy, face.right + dx, face.bottom + dy


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def burn(image: Image.Image, mark: Mark, faces: Sequence[Box]) -> Image.Image:
    """`image` (RGB) with the mark composited in, away from `faces`."""
    stamp = stamps.get(mark, mark_width(*image.size))
    x, y = place(image.size, stamp.size, faces)
    image.paste(stamp, (x, y), stamp)
    return image
