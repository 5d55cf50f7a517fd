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

from loadtest.scenarios import tagged as tagged  # uploads of one file as many photos

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


def scaled_up(
    photos: list[Photo], truth: list[list[tuple[int, int, int, int]]], size=(6000, 4000)
) -> tuple[list[Photo], list[list[tuple[int, int, int, int]]]]:
    """Photos scaled up to fit `size` (centred on grey, quality 90) and their boxes with them."""
    out, boxes = [], []
    for photo, photo_truth in zip(photos, truth, strict=True):
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(photo.data))).convert("RGB")
        fitted = ImageOps.contain(image, size, Image.Resampling.BICUBIC)
        k = fitted.width / image.width
        x0, y0 = (size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2
        canvas = Image.new("RGB", size, (90, 90, 90))
        canvas.paste(fitted, (x0, y0))
        out.append(Photo(f"6000x4000:{photo.name}", jpeg(canvas), photo.members))
        boxes.append([
            (round(t * k) + y0, round(r * k) + x0, round(b * k) + y0, round(lf * k) + x0)
            for t, r, b, lf in photo_truth
        ])  # fmt: skip
    return out, boxes


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


CROWD_SIZES = (40, 45, 50, 60, 70, 80, 100, 130, 200, 350, 600)
"""Face widths pasted into crowd canvases, in original pixels; small ones come more often."""
CROWD_SIZE_WEIGHTS = (3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1)
BACKGROUND = "dlib_examples_faces/dogs.jpg"
"""A photo with no human face: crowd canvases are built on it, so any other detection is false."""


@dataclass
class Pasted:
    """One face pasted into a crowd canvas: the ground truth."""

    identity: str
    source: str
    box: tuple[int, int, int, int]
    """(top, right, bottom, left) of the face in the canvas."""
    size: int
    """The face's width in the canvas, the bucket it counts in."""
    degraded: str
    """"clean", "blur", "dim" or "tilt"."""


@dataclass
class Crowd(Photo):
    faces: list[Pasted] = field(default_factory=list)


def face_sources(paths: dict[str, list[str]]) -> list[tuple[str, str, Image.Image, tuple]]:
    """(identity, path, upright image, face box) for each photo whose single face dlib finds.

    The box is HOG's (upsample 1, on a copy at most 700 px long), in the image's pixels.
    """
    import dlib  # the benchmark's own use; the engine under test is separate
    import numpy as np

    detector = dlib.get_frontal_face_detector()
    sources = []
    for identity, identity_paths in paths.items():
        for path in identity_paths:
            image = upright(path)
            small = ImageOps.contain(image, (700, 700))
            rects = detector(np.asarray(small), 1)
            if len(rects) != 1:
                continue
            r, k = rects[0], image.width / small.width
            box = (r.top() * k, r.right() * k, r.bottom() * k, r.left() * k)
            sources.append((identity, path, image, box))
    return sources


_FACELESS = ((0, 0, 460, 450), (462, 0, 900, 450), (462, 452, 900, 916))
"""The dogs photo's quarters with no human face (the fourth has a magazine cover)."""


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A scene with no faces: the dogs photo's faceless quarters in a 3x2 mosaic, flipped at
    random, unevenly lit, with sensor noise (an upscaled photo alone is unrealistically smooth)."""
    import numpy as np
    from PIL import ImageEnhance

    base = upright(BACKGROUND)
    canvas = Image.new("RGB", size)
    cell = (size[0] // 3, size[1] // 2)
    for i in range(6):
        quarter = base.crop(rng.choice(_FACELESS))
        if rng.random() < 0.5:
            quarter = ImageOps.mirror(quarter)
        quarter = ImageOps.fit(quarter, cell, Image.Resampling.BICUBIC)
        quarter = ImageEnhance.Brightness(quarter).enhance(rng.uniform(0.6, 1.1))
        canvas.paste(quarter, ((i % 3) * cell[0], (i // 3) * cell[1]))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 5, (size[1], size[0], 1))
    pixels = np.asarray(canvas, dtype=np.float32) + noise.astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _sky(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A clear sky: a vertical blue gradient with sensor noise (sigma 3 grey levels)."""
    import numpy as np

    top, bottom = np.array([70, 120, 200]), np.array([170, 200, 235])
    ramp = np.linspace(0, 1, size[1])[:, None, None]
    pixels = top + (bottom - top) * ramp + np.zeros((1, size[0], 1))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 3, (size[1], size[0], 1))
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def _head(image: Image.Image, box: tuple, width: int, degraded: str, rng: random.Random):
    """The face with hair and neck, scaled so the face is `width` px wide, and a feathered mask."""
    from PIL import ImageDraw, ImageEnhance, ImageFilter

    top, right, bottom, left = box
    w, h = right - left, bottom - top
    x0, y0 = max(0, int(left - 0.45 * w)), max(0, int(top - 0.6 * h))
    x1, y1 = min(image.width, int(right + 0.45 * w)), min(image.height, int(bottom + 0.5 * h))
    crop = image.crop((x0, y0, x1, y1))
    k = width / w
    head = crop.resize(
        (max(1, round(crop.width * k)), max(1, round(crop.height * k))), Image.Resampling.LANCZOS
    )
    mask = Image.new("L", head.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, head.width - 1, head.height - 1), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, head.width // 20)))
    if degraded == "blur":
        head = head.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.6) * width / 60))
    elif degraded == "dim":
        head = ImageEnhance.Brightness(head).enhance(rng.uniform(0.3, 0.5))
    elif degraded == "tilt":
        angle = rng.choice((-1, 1)) * rng.uniform(10, 25)
        head = head.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        mask = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    face_in_head = ((left - x0) * k, (top - y0) * k)  # the face's corner before any rotation
    return head, mask, face_in_head, round(h * k)


def crowds(
    sources: list[tuple[str, str, Image.Image, tuple]],
    count: int,
    *,
    seed: int = 13,
    size: tuple[int, int] = (6000, 4000),
    per_photo: tuple[int, int] = (12, 20),
    sizes: tuple[int, ...] = CROWD_SIZES,
    draw_each_once: bool = False,
    degrade: bool = True,
    max_upscale: float | None = None,
    sky: float = 0.0,
) -> list[Crowd]:
    """6000x4000 crowd photos: 12-20 real faces at 40-600 px, a quarter each blurred, dim or
    tilted, on a background with no faces, saved at JPEG quality 60-90. The pasted boxes are
    the ground truth; one canvas in four is dim all over (an evening event).

    `draw_each_once` pastes the sources in their order instead of drawing at random; without
    `degrade` every face is clean and no canvas is dimmed (posed groups, portraits);
    `max_upscale` keeps a small source face from being blown up past that factor; `sky`
    paints that share of the canvas's top as a clear sky (a gradient with sensor noise)
    before the faces are pasted, some of them onto it (heads against the sky)."""
    from PIL import ImageEnhance

    rng = random.Random(seed)
    weights = CROWD_SIZE_WEIGHTS if sizes == CROWD_SIZES else None
    photos = []
    for n in range(count):
        canvas = _background(rng, size)
        if sky:
            canvas.paste(_sky(rng, (size[0], round(sky * size[1]))), (0, 0))
        taken: list[tuple[int, int, int, int]] = []
        pasted: list[Pasted] = []
        for k in range(rng.randint(*per_photo)):
            identity, path, image, box = sources[k] if draw_each_once else rng.choice(sources)
            width = rng.choices(sizes, weights)[0]
            if max_upscale is not None:
                width = min(width, round(max_upscale * (box[1] - box[3])))
            degraded = rng.choice(("clean", "clean", "blur", "dim", "tilt")) if degrade else "clean"
            head, mask, (fx, fy), height = _head(image, box, width, degraded, rng)
            for _attempt in range(40):
                x = rng.randint(0, size[0] - head.width)
                y = rng.randint(0, size[1] - head.height)
                spot = (x, y, x + head.width, y + head.height)
                if not any(
                    spot[0] < t[2] and t[0] < spot[2] and spot[1] < t[3] and t[1] < spot[3]
                    for t in taken
                ):
                    break
            else:
                continue
            taken.append(spot)
            canvas.paste(head, (x, y), mask)
            if degraded == "tilt":  # centred in the rotated head, as wide as before
                cx, cy = x + head.width / 2, y + head.height / 2
                left, top = cx - width / 2, cy - height / 2
            else:
                left, top = x + fx, y + fy
            face_box = (round(top), round(left + width), round(top + height), round(left))
            pasted.append(Pasted(identity, path, face_box, width, degraded))
        if degrade and n % 4 == 3:
            canvas = ImageEnhance.Brightness(canvas).enhance(0.45)
        quality = rng.randint(60, 90)
        photos.append(
            Crowd(
                f"crowd-{n}",
                jpeg(canvas, quality),
                {p.identity for p in pasted},
                faces=pasted,
            )
        )
    return photos
