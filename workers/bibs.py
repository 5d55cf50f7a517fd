"""Bib numbers read from a photo, below the faces found in it.

PaddleOCR's PP-OCRv4 text detector (DB) and recogniser (CRNN with CTC) run on
onnxruntime, one thread each, from the ONNX files that the `rapidocr-onnxruntime`
wheel carries (Apache-2.0). The package's own code is never imported: this module
reads the files and checks their sha256, as `faces.yunet_path` does for YuNet.

Where to look. A bib is pinned to the front of a shirt, so a runner who shows a
bib shows a face, and the face says where the torso is and how big its print is:
digits are 0.3-0.45 of a face's width. Each face above FACE_MIN_PX anchors a region
from its chin to four face heights down, scaled so that its digits come to the
detector at ~REGION_DIGIT_PX. A 24 MP race photo with 8 runners then costs 8 small
passes instead of one 24 MP pass (the detector alone took 3 CPU s on a photo at half
size). What it cannot see: a bib whose wearer's face is hidden. The benchmark
(`loadtest/bench_bibs.py`) reports those runners apart.

What counts as a bib. A text line whose best reading is 1-6 digits (`bib_number`) and
nothing else ("10K", "KM 21" and "42.195" are not bibs); at least MIN_HEIGHT_SHARE
of the anchoring face's width tall, and at least TALLEST_SHARE of the tallest
number under that face (the race's year printed small above the number is not a bib);
with paper on both sides of it, so that a number cut by an arm or the bib's edge
("123" of "1234") is refused instead of read short. Its confidence is the least
likely of its characters' probabilities; matching counts reads at or above
`settings.BIB_MIN_CONFIDENCE`, and an event's bib range or start list narrows that
further when searched.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.text import bib_number

Box = tuple[int, int, int, int]
"""(top, right, bottom, left), as `faces.Box`."""

DETECTOR_FILE = "ch_PP-OCRv4_det_infer.onnx"
DETECTOR_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
RECOGNISER_FILE = "ch_PP-OCRv4_rec_infer.onnx"
RECOGNISER_SHA256 = "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"

FACE_MIN_PX = 40
"""Faces narrower than this anchor no region: their bib's digits would be under ~13 px."""
REGION_DIGIT_PX = 40.0
"""The digit height, in the detector's pixels, that each region is scaled for."""
REGION_MAX_SCALE = 1.5
"""Small regions are enlarged at most this much (past it, upscaling adds no detail)."""
BIN_THRESHOLD = 0.3
"""Text probability above which a pixel is text (PaddleOCR's DB default)."""
BOX_THRESHOLD = 0.6
"""A candidate line's mean text probability must reach this."""
UNCLIP_RATIO = 1.6
"""DB's shrunk text kernels are grown back by area * ratio / perimeter (PaddleOCR's)."""
REC_HEIGHT = 48
MIN_HEIGHT_SHARE = 0.15
TALLEST_SHARE = 0.7
PAPER_MARGIN = 0.25
"""Paper must continue this many line heights to each side of a number."""
PAPER_TOLERANCE = 30.0
"""How far (the largest difference of a channel) a side may be from the number's own
paper colour and still count as paper: light skin on cream paper differs by ~38."""


class ModelFileError(RuntimeError):
    """An OCR model file is missing or is not the one this code was checked against."""


@dataclass(frozen=True)
class BibRead:
    bib: str
    box: Box
    """The number's box in the photo's pixels."""
    confidence: float
    """The least probability among the number's characters."""


def models_dir() -> Path:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")  # finds, never imports
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("rapidocr-onnxruntime is not installed (the worker extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(name: str, sha256: str) -> Path:
    path = models_dir() / name
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path} is missing") from exc
    if digest != sha256:
        raise ModelFileError(f"{path} has sha256 {digest}, expected {sha256}")
    return path


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Reader:
    """The two models, loaded once per worker before its work loop."""

    def __init__(self) -> None:
        self.detector = _session(model_path(DETECTOR_FILE, DETECTOR_SHA256))
        self.recogniser = _session(model_path(RECOGNISER_FILE, RECOGNISER_SHA256))
        meta = self.recogniser.get_modelmeta().custom_metadata_map
        classes = self.recogniser.get_outputs()[0].shape[-1]
        characters = meta["character"].splitlines()
        if len(characters) + 2 == classes:  # PaddleOCR appends a space after the dictionary
            characters.append(" ")
        if len(characters) + 1 != classes:
            raise ModelFileError(f"{len(characters)} characters for {classes} classes")
        self.characters = ["", *characters]  # class 0 is CTC's blank

    def read(self, rgb: np.ndarray, faces: list[Box]) -> list[BibRead]:
        """The bibs below these faces, one read per number (the most confident)."""
        best: dict[str, BibRead] = {}
        for face in faces:
            for read in self._read_below(rgb, face):
                if read.bib not in best or read.confidence > best[read.bib].confidence:
                    best[read.bib] = read
        return sorted(best.values(), key=lambda r: (r.box[3], r.box[0]))

    def _read_below(self, rgb: np.ndarray, face: Box) -> list[BibRead]:
        _, right, bottom, left = face
        size = right - left
        if size < FACE_MIN_PX:
            return []
        height, width = rgb.shape[:2]
        cx = (left + right) / 2
        x0, x1 = max(0, round(cx - 1.7 * size)), min(width, round(cx + 1.7 * size))
        y0, y1 = max(0, round(bottom + 0.1 * size)), min(height, round(bottom + 4.2 * size))
        if x1 - x0 < size or y1 - y0 < size:
            return []
        scale = min(REGION_MAX_SCALE, REGION_DIGIT_PX / (0.37 * size))
        lines = self._detect(rgb[y0:y1, x0:x1], scale)
        found = []
        for quad in lines:
            quad = quad + np.array([x0, y0], dtype=np.float32)
            line_h = _quad_height(quad)
            if line_h < MIN_HEIGHT_SHARE * size * 1.4:  # boxes are grown ~1.4x around digits
                continue
            found.append((quad, line_h))
        if not found:
            return []
        crops = [_rectified(rgb, quad) for quad, _ in found]
        reads = []
        for (quad, line_h), (text, confidence) in zip(found, self._recognise(crops), strict=True):
            bib = bib_number(text) if "#" not in text else None
            if bib is None:  # letters, signs or more than BIB_MAX_DIGITS digits: no bib
                continue
            reads.append((bib, quad, line_h, confidence))
        if not reads:
            return []
        tallest = max(r[2] for r in reads)
        out = []
        for bib, quad, line_h, confidence in reads:
            if line_h < TALLEST_SHARE * tallest or not _paper_on_both_sides(rgb, quad):
                continue
            xs, ys = quad[:, 0], quad[:, 1]
            box = (int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max())), int(xs.min()))
            out.append(BibRead(bib, box, confidence))
        return out

    def _detect(self, region: np.ndarray, scale: float) -> list[np.ndarray]:
        """Text lines in a region as quads (4x2, clockwise from top-left) in its pixels."""
        h, w = region.shape[:2]
        th, tw = max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32)
        resized = cv2.resize(region, (tw, th), interpolation=cv2.INTER_AREA)
        x = (resized.astype(np.float32) / 255.0 - 0.5) / 0.5
        prob = self.detector.run(None, {"x": x.transpose(2, 0, 1)[None]})[0][0, 0]
        bitmap = cv2.dilate((prob > BIN_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        quads = []
        kx, ky = w / tw, h / th
        for contour in contours[:1000]:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < 3 or _mean_inside(prob, cv2.boxPoints(rect)) < BOX_THRESHOLD:
                continue
            (cx, cy), (rw, rh), angle = rect
            grow = rw * rh * UNCLIP_RATIO / (2 * (rw + rh))
            grown = ((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)
            quad = _ordered(cv2.boxPoints(grown))
            quads.append(quad * np.array([kx, ky], dtype=np.float32))
        return quads

    def _recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        widths = [max(REC_HEIGHT // 4, round(c.shape[1] * REC_HEIGHT / c.shape[0])) for c in crops]
        batch = np.zeros((len(crops), 3, REC_HEIGHT, max(widths)), dtype=np.float32)
        for i, (crop, w) in enumerate(zip(crops, widths, strict=True)):
            resized = cv2.resize(crop, (w, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
            batch[i, :, :, :w] = ((resized.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(
                2, 0, 1
            )
        probs = self.recogniser.run(None, {"x": batch})[0]
        return [self._decode(p) for p in probs]

    def _decode(self, probs: np.ndarray) -> tuple[str, float]:
        """CTC's best path: repeats merged, blanks dropped; the least probable kept class."""
        best = probs.argmax(axis=1)
        keep = np.ones(len(best), dtype=bool)
        keep[1:] = best[1:] != best[:-1]
        keep &= best != 0
        if not keep.any():
            return "", 0.0
        text = "".join(self.characters[i] for i in best[keep])
        return text, float(probs[np.flatnonzero(keep), best[keep]].min())


def _ordered(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left (PaddleOCR's get_mini_boxes)."""
    by_x = points[np.argsort(points[:, 0])]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def _quad_height(quad: np.ndarray) -> float:
    return float((np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2)


def _mean_inside(prob: np.ndarray, points: np.ndarray) -> float:
    h, w = prob.shape
    xs, ys = points[:, 0], points[:, 1]
    x0, x1 = int(np.clip(np.floor(xs.min()), 0, w - 1)), int(np.clip(np.ceil(xs.max()), 0, w - 1))
    y0, y1 = int(np.clip(np.floor(ys.min()), 0, h - 1)), int(np.clip(np.ceil(ys.max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    cv2.fillPoly(mask, [(points - np.array([x0, y0])).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def _rectified(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
    width = max(1, round(float(np.linalg.norm(quad[1] - quad[0]))))
    height = max(1, round(_quad_height(quad)))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(
        rgb, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def _paper_on_both_sides(rgb: np.ndarray, quad: np.ndarray) -> bool:
    """The line's own background continues past both of its ends.

    The paper colour is the brightest third of the line's pixels. Each side is a strip
    PAPER_MARGIN line heights wide beyond the line; its median colour must be near
    the paper's. An arm, the bib's edge or the shirt ends a number short of that.
    """
    line_h = _quad_height(quad)
    along = quad[1] - quad[0]
    along = along / max(float(np.linalg.norm(along)), 1e-6)
    reach = along * PAPER_MARGIN * line_h
    height, width = rgb.shape[:2]
    paper = _strip_pixels(rgb, quad)
    if paper.size == 0:
        return False
    luma = paper.mean(axis=1)
    colour = np.median(paper[luma >= np.quantile(luma, 0.67)], axis=0)
    left = np.array([quad[0] - reach, quad[0], quad[3], quad[3] - reach], dtype=np.float32)
    right = np.array([quad[1], quad[1] + reach, quad[2] + reach, quad[2]], dtype=np.float32)
    for side in (left, right):
        if (side[:, 0] < 0).any() or (side[:, 0] >= width).any():
            return False
        if (side[:, 1] < 0).any() or (side[:, 1] >= height).any():
            return False
        pixels = _strip_pixels(rgb, side)
        if pixels.size == 0:
            return False
        if float(np.abs(np.median(pixels, axis=0) - colour).max()) > PAPER_TOLERANCE:
            return False
    return True


def _strip_pixels(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The pixels inside a quad, as an (n, 3) float array."""
    xs, ys = quad[:, 0], quad[:, 1]
    x0, y0 = int(np.floor(xs.min())), int(np.floor(ys.min()))
    x1, y1 = int(np.ceil(xs.max())) + 1, int(np.ceil(ys.max())) + 1
    patch = rgb[max(0, y0) : y1, max(0, x0) : x1]
    if patch.size == 0:
        return np.zeros((0, 3))
    mask = np.zeros(patch.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [(quad - np.array([max(0, x0), max(0, y0)])).astype(np.int32)], 1)
    return patch[mask.astype(bool)].astype(np.float32)


@cache
def reader() -> Reader:
    """This process's reader; `workers.main` builds it before the work loop."""
    return Reader()
