"""The face engine: decode, detect, encode and judge. No database code here.

Every function takes bytes or arrays and returns plain values, so it can be
tested and benchmarked on its own.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

MAX_PIXELS = 120_000_000
"""Images above this many pixels are refused before decoding (decompression bombs)."""
DETECT_MAX_SIDE = 1600
"""Photos are detected at most this long on their long side."""
DETECT_UPSAMPLE = 1
"""One HOG upsample finds faces down to ~40 px in the detection image."""
SELFIE_MAX_SIDE = 1280
"""Selfies are judged at most this long on their long side."""
SELFIE_MIN_FACE = 60
"""A selfie's face must be at least this many pixels wide in the judged image."""
SELFIE_JITTERS = 5
"""Selfies are encoded once per attendee, so they get more re-sampling than photo faces."""
PHOTO_JITTERS = 1
"""Photo faces are encoded once each, at ~65 ms a face."""

_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}
"""EXIF orientations that swap width and height."""

Box = tuple[int, int, int, int]
"""(top, right, bottom, left), face_recognition's order."""


class ImageError(Exception):
    """An image we cannot use, with a stable code for the API and UI."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ModelsMissing(RuntimeError):
    """The face models could not be loaded; a worker must not start without them."""


_fr: Any = None


def load_models() -> None:
    """Import face_recognition and load its models now, before the work loop forks.

    face_recognition calls `quit()` when its models package is missing, which
    exits with status 0 and looks like success; that is turned into an error here.
    """
    global _fr
    if _fr is not None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pkg_resources' deprecation notice
            import face_recognition
    except SystemExit:
        raise ModelsMissing(
            "face_recognition could not load its models (face_recognition_models); "
            "install the `worker` extra"
        ) from None
    except ImportError as exc:
        raise ModelsMissing(f"face_recognition is not installed: {exc}") from None
    import cv2

    cv2.setNumThreads(1)
    # One tiny pass through every model so nothing is loaded lazily inside a job.
    blank = np.zeros((64, 64, 3), dtype=np.uint8)
    face_recognition.face_locations(blank)
    face_recognition.face_encodings(blank, known_face_locations=[(8, 56, 56, 8)])
    _fr = face_recognition


def _engine() -> Any:
    if _fr is None:
        load_models()
    return _fr


@dataclass(frozen=True)
class Decoded:
    rgb: np.ndarray
    """The upright image as uint8 RGB, possibly downscaled."""
    width: int
    """The upright original's width."""
    height: int

    @property
    def scale(self) -> float:
        """Original pixels per decoded pixel."""
        return self.width / self.rgb.shape[1]


def decode(data: bytes, *, max_side: int | None = None) -> Decoded:
    """Decode with EXIF orientation applied, as 8-bit RGB, at most `max_side` long."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ImageError("too_many_pixels", f"{image.width}x{image.height} is too large")
            width, height = image.size
            if image.getexif().get(_ORIENTATION, 1) in _ROTATED:
                width, height = height, width
            if max_side and image.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: far faster than a full decode.
                image.draft("RGB", (max_side, max_side))
            image = _to_rgb(ImageOps.exif_transpose(image))
            if max_side and max(image.size) > max_side:
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
            rgb = np.asarray(image, dtype=np.uint8)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("too_many_pixels", "the image has too many pixels") from None
    except UnidentifiedImageError:
        raise ImageError("not_an_image", "the file is not an image we can read") from None
    except OSError as exc:
        code = "truncated_image" if "truncated" in str(exc) else "unreadable_image"
        raise ImageError(code, f"the image could not be decoded ({exc})") from None
    except Exception as exc:
        raise ImageError("unreadable_image", f"the image could not be decoded ({exc})") from None
    return Decoded(rgb=np.ascontiguousarray(rgb), width=width, height=height)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite transparency onto white, not black: a dark halo confuses the detector.
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() or 1.0
        gray = Image.fromarray((array * (255.0 / peak)).astype(np.uint8))
        return gray.convert("RGB")
    return image.convert("RGB")


@dataclass(frozen=True)
class FoundFace:
    box: Box
    """In the original photo's upright pixels."""
    encoding: np.ndarray
    detected_width: int
    detected_height: int


def detect(rgb: np.ndarray, *, upsample: int = DETECT_UPSAMPLE, model: str = "hog") -> list[Box]:
    return [tuple(b) for b in _engine().face_locations(rgb, upsample, model)]


def encode(rgb: np.ndarray, boxes: list[Box], *, jitters: int = PHOTO_JITTERS) -> list[np.ndarray]:
    if not boxes:
        return []
    return list(_engine().face_encodings(rgb, known_face_locations=boxes, num_jitters=jitters))


def _scale_box(box: Box, scale: float, width: int, height: int) -> Box:
    top, right, bottom, left = box
    return (
        max(0, round(top * scale)),
        min(width, round(right * scale)),
        min(height, round(bottom * scale)),
        max(0, round(left * scale)),
    )


def index_photo(data: bytes) -> tuple[Decoded, list[FoundFace]]:
    """Every face in a photo, each with its 128-d encoding."""
    decoded = decode(data, max_side=DETECT_MAX_SIDE)
    boxes = detect(decoded.rgb)
    encodings = encode(decoded.rgb, boxes)
    h, w = decoded.rgb.shape[:2]
    faces = [
        FoundFace(
            box=_scale_box(box, decoded.scale, decoded.width, decoded.height),
            encoding=encoding,
            detected_width=w,
            detected_height=h,
        )
        for box, encoding in zip(boxes, encodings, strict=True)
    ]
    return decoded, faces


@dataclass(frozen=True)
class SelfieVerdict:
    reason: str | None
    """None when the selfie is usable, else a stable code such as `multiple_faces`."""
    detail: str | None = None
    encoding: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def judge_selfie(data: bytes) -> SelfieVerdict:
    """Exactly one face, big enough; its encoding if so."""
    try:
        decoded = decode(data, max_side=SELFIE_MAX_SIDE)
    except ImageError as exc:
        return SelfieVerdict("unreadable_image", exc.detail)
    # A selfie's face is big: a pass without upsampling finds it in a fifth of the
    # time; the upsampled pass runs only when that finds nothing.
    boxes = detect(decoded.rgb, upsample=0) or detect(decoded.rgb, upsample=1)
    if not boxes:
        return SelfieVerdict("no_face", "no face was found; face the camera in good light")
    if len(boxes) > 1:
        return SelfieVerdict(
            "multiple_faces", f"{len(boxes)} faces were found; take a selfie on your own"
        )
    top, right, bottom, left = boxes[0]
    if min(right - left, bottom - top) < SELFIE_MIN_FACE:
        return SelfieVerdict("face_too_small", "the face is too small; hold the camera closer")
    (encoding,) = encode(decoded.rgb, boxes, jitters=SELFIE_JITTERS)
    return SelfieVerdict(None, encoding=encoding)
