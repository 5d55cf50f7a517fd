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
MAX_BYTES = 100 * 1024 * 1024
"""Files above this size are refused unread (the API's limit is lower; this is the backstop)."""
DETECT_MAX_SIDE = 2000
"""Photos are detected at most this long on their long side (measured: loadtest/bench_engine.py)."""
DETECT_UPSAMPLE = 1
"""One HOG upsample finds faces down to ~40 px in the detection image."""
SELFIE_MAX_SIDE = 1280
"""Selfies are judged at most this long on their long side."""
SELFIE_MIN_FACE = 64
"""A selfie's face must be at least this many original pixels wide."""
BACKGROUND_FACE_RATIO = 0.5
"""Other faces narrower than this share of the main face are tolerated in a selfie."""
SELFIE_MAX_OUTSIDE = 0.08
"""A face whose detected box reaches beyond the border by more than this share of
its width is cut off (obama_partial_face*.jpg: 19-23%; tight face crops: 0-4%)."""
SELFIE_MIN_SHARPNESS = 15.0
"""Variance of the Laplacian on the face at QUALITY_WIDTH px; below is too blurry."""
SELFIE_MIN_BRIGHTNESS = 40.0
SELFIE_MAX_BRIGHTNESS = 225.0
"""Mean face luminance (0..255) outside this range is too dark or too bright."""
QUALITY_WIDTH = 128
"""Faces are resized to this width before sharpness is measured."""
SELFIE_JITTERS = 1
"""Re-samplings of a selfie's encoding. Each costs one encoder pass (~200 ms here); 5 find
one more photo of 177 in the accuracy benchmark but put a selfie's verdict past 1 s."""
PHOTO_JITTERS = 1
"""Photo faces are encoded once each, at ~200 ms a face on this machine's cores."""

_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}
"""EXIF orientations that swap width and height."""

Box = tuple[int, int, int, int]
"""(top, right, bottom, left), face_recognition's order."""


class InvalidImage(Exception):
    """An image we cannot use, with a stable code for the API and UI."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ModelsMissing(RuntimeError):
    """The face models could not be loaded; a worker must not start without them."""


@dataclass(frozen=True)
class Models:
    detector: Any
    landmarks: Any
    encoder: Any
    cnn_detector: Any | None


_models: Models | None = None


def load_models(*, cnn: bool = False) -> Models:
    """Load dlib's HOG detector, 5-point landmarks and encoder now, before the work loop forks.

    The model files come from face_recognition_models. We do not `import
    face_recognition` here: at import it loads all four models, the 100 MB
    68-point predictor we never use among them (~110 MB of RSS per worker), and
    sets Pillow's LOAD_TRUNCATED_IMAGES, which would hide truncated uploads. It
    also calls `quit()`, exit status 0, when its models are missing; a missing
    model here is a `ModelsMissing` error and a non-zero exit.
    """
    global _models
    if _models is not None and (_models.cnn_detector is not None or not cnn):
        return _models
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources' deprecation notice in old copies
            import dlib
            import face_recognition_models as paths
    except ImportError as exc:
        raise ModelsMissing(
            f"could not load its models: {exc}; install the `worker` extra"
        ) from None
    try:
        models = Models(
            detector=dlib.get_frontal_face_detector(),
            landmarks=dlib.shape_predictor(paths.pose_predictor_five_point_model_location()),
            encoder=dlib.face_recognition_model_v1(paths.face_recognition_model_location()),
            cnn_detector=(
                dlib.cnn_face_detection_model_v1(paths.cnn_face_detector_model_location())
                if cnn
                else None
            ),
        )
    except RuntimeError as exc:
        raise ModelsMissing(f"could not load its models: {exc}") from None
    import cv2

    cv2.setNumThreads(1)
    # One tiny pass through each model so nothing initialises lazily inside a job.
    blank = np.zeros((96, 96, 3), dtype=np.uint8)
    models.detector(blank, 0)
    shape = models.landmarks(blank, dlib.rectangle(8, 8, 88, 88))
    models.encoder.compute_face_descriptor(blank, shape, 1)
    _models = models
    return models


def _engine() -> Models:
    return _models or load_models()


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
    if len(data) > MAX_BYTES:
        raise InvalidImage("file_too_large", f"the file is over {MAX_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImage("too_many_pixels", f"{image.width}x{image.height} is too large")
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
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage("too_many_pixels", "the image has too many pixels") from None
    except UnidentifiedImageError:
        raise InvalidImage("not_an_image", "the file is not an image we can read") from None
    except OSError as exc:
        code = "truncated_image" if "truncated" in str(exc) else "unreadable_image"
        raise InvalidImage(code, f"the image could not be decoded ({exc})") from None
    except Exception as exc:
        raise InvalidImage("unreadable_image", f"the image could not be decoded ({exc})") from None
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
    quality: float
    """0..1 from the face's pixel size and sharpness; low values are weak evidence."""

    @property
    def size(self) -> int:
        """The face box's width in original pixels."""
        return self.box[1] - self.box[3]


def detect(
    rgb: np.ndarray, *, upsample: int = DETECT_UPSAMPLE, model: str = "hog", clip: bool = True
) -> list[Box]:
    """Face boxes in `rgb`'s pixels, clipped to the image unless `clip` is false."""
    if model == "cnn":
        cnn: Any = load_models(cnn=True).cnn_detector
        rects = [d.rect for d in cnn(rgb, upsample)]
    else:
        rects = _engine().detector(rgb, upsample)
    h, w = rgb.shape[:2]
    boxes = [(r.top(), r.right(), r.bottom(), r.left()) for r in rects]
    if clip:
        boxes = [(max(t, 0), min(r, w), min(b, h), max(lf, 0)) for t, r, b, lf in boxes]
    return [b for b in boxes if b[1] > b[3] and b[2] > b[0]]


def _outside(box: Box, width: int, height: int) -> int:
    """How many pixels of an unclipped box lie beyond the image border, at most."""
    top, right, bottom, left = box
    return max(0, -top, -left, bottom - height, right - width)


def encode(rgb: np.ndarray, boxes: list[Box], *, jitters: int = PHOTO_JITTERS) -> list[np.ndarray]:
    """128-d encodings, from 5-point landmarks on the pixels of `rgb` itself."""
    import dlib

    models = _engine()
    encodings = []
    for top, right, bottom, left in boxes:
        shape = models.landmarks(rgb, dlib.rectangle(left, top, right, bottom))
        encodings.append(np.asarray(models.encoder.compute_face_descriptor(rgb, shape, jitters)))
    return encodings


def _scale_box(box: Box, scale: float, width: int, height: int) -> Box:
    top, right, bottom, left = box
    return (
        max(0, round(top * scale)),
        min(width, round(right * scale)),
        min(height, round(bottom * scale)),
        max(0, round(left * scale)),
    )


def _crop(rgb: np.ndarray, box: Box, margin: float = 0.5) -> tuple[np.ndarray, Box]:
    """The face with a margin of context (landmarks need it), and the box in the crop."""
    top, right, bottom, left = box
    h, w = rgb.shape[:2]
    pad_x, pad_y = round((right - left) * margin), round((bottom - top) * margin)
    y0, y1 = max(0, top - pad_y), min(h, bottom + pad_y)
    x0, x1 = max(0, left - pad_x), min(w, right + pad_x)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    return crop, (top - y0, right - x0, bottom - y0, left - x0)


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian on the face, resized to a fixed width so sizes compare."""
    import cv2

    top, right, bottom, left = box
    face = rgb[top:bottom, left:right]
    if face.size == 0:
        return 0.0
    gray = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    gray = cv2.resize(gray, (QUALITY_WIDTH, QUALITY_WIDTH), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def brightness(rgb: np.ndarray, box: Box) -> float:
    """Mean luminance (0..255) of the face."""
    top, right, bottom, left = box
    face = rgb[top:bottom, left:right].astype(np.float32)
    if face.size == 0:
        return 0.0
    return float((face @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean())


def quality(size: int, sharp: float) -> float:
    """1.0 for a face of 160+ px with a crisp Laplacian, falling towards 0 for tiny or soft ones."""
    return round(min(1.0, size / 160) * min(1.0, sharp / 300), 3)


def encode_at_full_resolution(
    full: np.ndarray, boxes: list[Box], *, jitters: int
) -> list[tuple[np.ndarray, float]]:
    """Encode each face on a crop of the full-resolution pixels, with its quality."""
    results = []
    for box in boxes:
        crop, box_in_crop = _crop(full, box)
        (encoding,) = encode(crop, [box_in_crop], jitters=jitters)
        results.append((encoding, quality(box[1] - box[3], sharpness(full, box))))
    return results


def index_photo(data: bytes, *, model: str = "hog") -> tuple[Decoded, list[FoundFace]]:
    """Every face in a photo, each encoded once on full-resolution pixels.

    Detection runs on a draft-decoded copy at most DETECT_MAX_SIDE long with one
    upsample, which finds faces down to max(40, long side / 50) original pixels
    at a fraction of a full-size upsample's cost. Only photos with faces are
    then decoded at full size, for landmarks and encodings.
    """
    small = decode(data, max_side=DETECT_MAX_SIDE)
    boxes = detect(small.rgb, model=model)
    if not boxes:
        return small, []
    full = small if small.scale == 1 else decode(data)
    full_boxes = [_scale_box(b, small.scale, full.width, full.height) for b in boxes]
    h, w = small.rgb.shape[:2]
    faces = [
        FoundFace(box=box, encoding=encoding, detected_width=w, detected_height=h, quality=q)
        for box, (encoding, q) in zip(
            full_boxes,
            encode_at_full_resolution(full.rgb, full_boxes, jitters=PHOTO_JITTERS),
            strict=True,
        )
    ]
    return full, faces


@dataclass(frozen=True)
class SelfieVerdict:
    reason: str | None
    """None when the selfie is usable, else a stable code such as `multiple_faces`."""
    detail: str | None = None
    encoding: np.ndarray | None = None
    quality: float | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def _reject(reason: str) -> SelfieVerdict:
    return SelfieVerdict(reason, SELFIE_HINTS[reason])


SELFIE_HINTS = {
    "unreadable_image": "we could not read this image; try another photo or a JPEG",
    "no_face": "no face was found; face the camera in good light",
    "multiple_faces": "more than one face is in the picture; take a selfie on your own",
    "face_too_small": "your face is too small; hold the camera closer",
    "too_blurry": "the photo is blurry; hold still and tap to focus",
    "too_dark": "the photo is too dark; move towards a light or a window",
    "too_bright": "the photo is too bright; avoid direct light on your face",
    "face_cut_off": "part of your face is outside the picture; centre your face",
}
"""A retake hint per rejection code, for the UI."""


def judge_selfie(data: bytes, *, jitters: int = SELFIE_JITTERS) -> SelfieVerdict:
    """Exactly one clear face, big, sharp, well lit and whole; its encoding if so.

    A much smaller face behind the attendee (under BACKGROUND_FACE_RATIO of the
    main face's width) is tolerated: selfies in a crowd are normal, and the
    main face is unambiguous.
    """
    try:
        full = decode(data)
    except InvalidImage:
        return _reject("unreadable_image")
    small = (
        full
        if max(full.width, full.height) <= SELFIE_MAX_SIDE
        else decode(data, max_side=SELFIE_MAX_SIDE)
    )
    # A selfie's face is big: a pass without upsampling finds it in a fifth of the
    # time; the upsampled pass runs only when that finds nothing.
    boxes = detect(small.rgb, upsample=0, clip=False) or detect(small.rgb, upsample=1, clip=False)
    if not boxes:
        return _reject("no_face")
    boxes.sort(key=lambda b: (b[1] - b[3]) * (b[2] - b[0]), reverse=True)
    main, others = boxes[0], boxes[1:]
    main_width = main[1] - main[3]
    if any((b[1] - b[3]) >= BACKGROUND_FACE_RATIO * main_width for b in others):
        return _reject("multiple_faces")
    small_h, small_w = small.rgb.shape[:2]
    if _outside(main, small_w, small_h) > SELFIE_MAX_OUTSIDE * main_width:
        return _reject("face_cut_off")
    box = _scale_box(main, small.scale, full.width, full.height)
    if box[1] - box[3] < SELFIE_MIN_FACE:
        return _reject("face_too_small")
    light = brightness(full.rgb, box)
    if light < SELFIE_MIN_BRIGHTNESS:
        return _reject("too_dark")
    if light > SELFIE_MAX_BRIGHTNESS:
        return _reject("too_bright")
    sharp = sharpness(full.rgb, box)
    if sharp < SELFIE_MIN_SHARPNESS:
        return _reject("too_blurry")
    ((encoding, q),) = encode_at_full_resolution(full.rgb, [box], jitters=jitters)
    return SelfieVerdict(None, encoding=encoding, quality=q)
