"""Benchmark inputs built from ../shared/testdata/faces at run time (never stored in the repo)."""

from __future__ import annotations

import csv
import io
import os
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

FACES = Path(
    os.environ.get("FACEMATCH_FACES", Path(__file__).resolve().parents[2] / "shared/testdata/faces")
)
GROUPS = {
    "pypi_insightface/t1.jpg": {"jennifer_aniston"},
    "ageitgey_face_recognition/examples/knn_examples/test/obama_and_biden.jpg": {"obama", "biden"},
    "ageitgey_face_recognition/examples/two_people.jpg": {"obama", "biden"},
    "ageitgey_face_recognition/examples/knn_examples/test/kit_with_rose.jpg": {
        "kit_harington",
        "rose_leslie",
    },
    "retinaface_serengil/img3.jpg": set(),
    "pytorch_retinaface_biubug6/test.jpg": set(),
    "dlib_examples_faces/bald_guys.jpg": set(),
}
"""Group photos and the identities of identities.csv known to be in them."""
CROWDS = ["retinaface_serengil/img3.jpg", "pytorch_retinaface_biubug6/test.jpg",
          "dlib_examples_faces/bald_guys.jpg", "pypi_insightface/t1.jpg"]  # fmt: skip


@dataclass
class Photo:
    name: str
    data: bytes
    members: set[str] = field(default_factory=set)


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def identities() -> dict[str, list[str]]:
    by_identity: dict[str, list[str]] = {}
    for row in csv.DictReader((FACES / "identities.csv").read_text().splitlines()):
        by_identity.setdefault(row["identity"], []).append(row["path"])
    return by_identity


def upright(path: str) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(FACES / path)).convert("RGB")


def event_sized(paths: list[str], size: tuple[int, int] = (6000, 4000)) -> list[Photo]:
    """Shared photos scaled up to a camera's 6000x4000, as quality-90 JPEGs."""
    photos = []
    for path in paths:
        image = upright(path)
        canvas = Image.new("RGB", size, (90, 90, 90))
        fitted = ImageOps.contain(image, size, Image.Resampling.BICUBIC)
        canvas.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
        photos.append(Photo(f"6000x4000:{Path(path).name}", jpeg(canvas), GROUPS.get(path, set())))
    return photos


def collages(
    pool: dict[str, list[str]], count: int, *, seed: int = 7, size: tuple[int, int] = (3000, 2000)
) -> list[Photo]:
    """`count` canvases of 4 to 12 identity photos each, with their members."""
    rng = random.Random(seed)
    items = [(identity, path) for identity, paths in pool.items() for path in paths]
    photos = []
    for n in range(count):
        k = rng.randint(4, 12)
        chosen = rng.sample(items, k)
        cols = 4 if k > 6 else 3
        rows = -(-k // cols)
        cell = (size[0] // cols, size[1] // rows)
        canvas = Image.new("RGB", size, (200, 200, 200))
        for i, (_, path) in enumerate(chosen):
            fitted = ImageOps.contain(upright(path), (cell[0] - 20, cell[1] - 20))
            x, y = (i % cols) * cell[0] + 10, (i // cols) * cell[1] + 10
            canvas.paste(fitted, (x, y))
        photos.append(Photo(f"collage-{n}", jpeg(canvas), {identity for identity, _ in chosen}))
    return photos


def pascal_boxes() -> dict[str, list[tuple[int, int, int, int]]]:
    """Ground-truth face boxes (top, right, bottom, left) of the PASCAL photos."""
    boxes: dict[str, list[tuple[int, int, int, int]]] = {}
    for xml in ("testing.xml", "training.xml"):
        root = ET.parse(FACES / "dlib_examples_faces" / xml).getroot()
        for image in root.iter("image"):
            name = image.get("file", "")
            for box in image.iter("box"):
                if box.get("ignore") == "1":
                    continue
                t, lf = int(box.get("top", 0)), int(box.get("left", 0))
                w, h = int(box.get("width", 0)), int(box.get("height", 0))
                boxes.setdefault(name, []).append((t, lf + w, t + h, lf))
    return boxes
