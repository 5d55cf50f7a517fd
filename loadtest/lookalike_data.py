"""The inputs of the precision benchmark (loadtest/bench_precision.py), built at run time
from ../shared/testdata/faces and indexed by the real engine.

Everyone in ../shared becomes someone at one event:
- the identities of identities.csv with two or more photos, who may register (one photo
  held out as their selfie) or stay bystanders;
- the four bald actors of dlib's clustering collage, look-alikes of each other, told
  apart by clustering the collage's faces (their selfie is one face cut from it);
- bystanders who never register: every face of the volleyball and baseball crowds, the
  PASCAL photos and the Friends cast, and the single-photo identities.

The event's photos are made of them: 6000x4000 crowds (12-20 faces at 40-600 px, a fifth
each blurred, dim or tilted), 6000x4000 groups of 4-10 people at 150-600 px, and
portraits. Each bystander face is pasted into several photos, so bystanders form groups
of their own, as real people at an event do. The pasted boxes are the ground truth; a
detection overlapping none of them (IoU under 0.3) is nobody's face.
"""

from __future__ import annotations

import hashlib
import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest import datasets

RESULTS = Path(__file__).resolve().parent / "results"
BYSTANDER_PHOTOS = [
    "retinaface_serengil/img3.jpg",
    "pytorch_retinaface_biubug6/test.jpg",
    "pypi_insightface/t1.jpg",
] + [
    f"dlib_examples_faces/{name}"
    for name in (
        "2007_007763.jpg", "2008_001009.jpg", "2008_001322.jpg", "2008_002079.jpg",
        "2008_002470.jpg", "2008_002506.jpg", "2008_004176.jpg", "2008_007676.jpg",
        "2009_004587.jpg",
    )
]  # fmt: skip
"""Photos whose every face is a bystander (nobody of identities.csv is in them)."""
BALD = "dlib_examples_faces/bald_guys.jpg"
DATA_VERSION = 2
"""Change it whenever the way the event is made changes: the cached encodings are then stale."""
MIN_SOURCE_FACE = 24
"""A bystander face narrower than this (px) in its photo is too small to paste anywhere."""


@dataclass
class Source:
    identity: str
    path: str
    box: tuple[float, float, float, float]
    """(top, right, bottom, left) of the face in `image` (or in the upright photo at `path`)."""
    width: float
    image: Any = None
    """The face's surroundings cut from a photo of many, every other face blurred away: a
    pasted head must not bring a neighbour's face along, nobody's in the ground truth."""


def _alone(path: str, box: tuple, others: list[tuple]) -> tuple[Any, tuple]:
    """A window of the photo around the face at `box`, with the other faces blurred beyond
    detection; the face's box in the window."""
    from PIL import ImageFilter

    image = datasets.upright(path)
    top, right, bottom, left = box
    w, h = right - left, bottom - top
    x0, y0 = max(0, int(left - 1.2 * w)), max(0, int(top - 1.2 * h))
    x1, y1 = min(image.width, int(right + 1.2 * w)), min(image.height, int(bottom + 1.2 * h))
    window = image.crop((x0, y0, x1, y1))
    for t, r, b, lf in others:
        m = 0.25 * (r - lf)
        region = (int(lf - m - x0), int(t - m - y0), int(r + m - x0), int(b + m - y0))
        region = (max(0, region[0]), max(0, region[1]),
                  min(window.width, region[2]), min(window.height, region[3]))  # fmt: skip
        if region[2] > region[0] and region[3] > region[1]:
            patch = window.crop(region).filter(ImageFilter.GaussianBlur(max(4, (r - lf) // 3)))
            window.paste(patch, region[:2])
    return window, (top - y0, right - x0, bottom - y0, left - x0)


@dataclass
class EventPhoto:
    name: str
    kind: str
    """"crowd", "group" or "portrait"."""
    faces: list[datasets.Pasted]
    found: list[tuple[tuple[int, int, int, int], Any, float]] = field(default_factory=list)
    """(box, encoding, quality) of each face the engine found."""
    identities: list[str | None] = field(default_factory=list)
    """Whose face each found one is (None: a false detection)."""


@dataclass
class LookalikeEvent:
    photos: list[EventPhoto]
    selfies: dict[str, Any]
    """identity -> the encoding of their held-out selfie (judged by the selfie rules)."""
    registrable: list[str]
    """Identities with a selfie: they may register."""


def _engine_faces(path: str) -> list[tuple[tuple[int, int, int, int], Any]]:
    from workers import faces

    return [(f.box, f.encoding) for f in faces.index_photo((datasets.FACES / path).read_bytes())[1]]


def _bald_sources() -> tuple[list[Source], dict[str, Any]]:
    """The collage's faces, labelled by dlib's chinese whispers (its own clustering example);
    each actor's first face is cut out as their selfie."""
    import dlib

    from workers import faces

    found = _engine_faces(BALD)
    labels = dlib.chinese_whispers_clustering([dlib.vector(list(e)) for _, e in found], 0.5)
    boxes = [box for box, _ in found]
    sources, selfies = [], {}
    for (box, _), label in sorted(zip(found, labels, strict=True), key=lambda x: x[0][0][3]):
        identity = f"bald_actor_{label}"
        window, inner = _alone(BALD, box, [b for b in boxes if b != box])
        if identity not in selfies:
            scale = 2
            verdict = faces.judge_selfie(datasets.jpeg(
                window.resize((window.width * scale, window.height * scale))))  # fmt: skip
            if verdict.ok:
                selfies[identity] = verdict.encoding
                continue
        sources.append(Source(identity, BALD, inner, inner[1] - inner[3], window))
    return sources, selfies


def _bystander_sources() -> list[Source]:
    sources = []
    for path in BYSTANDER_PHOTOS:
        boxes = [box for box, _ in _engine_faces(path)]
        for i, box in enumerate(boxes):
            if box[1] - box[3] >= MIN_SOURCE_FACE:
                window, inner = _alone(path, box, [b for b in boxes if b != box])
                identity = f"bystander:{Path(path).stem}:{i}"
                sources.append(Source(identity, path, inner, inner[1] - inner[3], window))
    return sources


def _identity_sources() -> tuple[list[Source], dict[str, Any]]:
    from loadtest.accuracy import held_out_selfies

    selfies, pool = held_out_selfies(datasets.identities())
    sources = [
        Source(identity, path, box, box[1] - box[3])
        for identity, path, _, box in datasets.face_sources(pool)
    ]
    return sources, selfies


def _compose(
    sources: list[Source], rng: random.Random, kind: str, n: int, count: int, sizes: tuple
) -> list[tuple[str, bytes, list[datasets.Pasted]]]:
    """Photos of `kind`, each of `count` faces drawn so that every source appears about
    as often as every other (bystanders too)."""
    images: dict[str, Any] = {}
    deck: list[Source] = []
    out = []
    for index in range(n):
        chosen: list[Source] = []
        while len(chosen) < count:
            if not deck:
                deck = list(sources)
                rng.shuffle(deck)
            source = deck.pop()
            if all(c.identity != source.identity for c in chosen):
                chosen.append(source)
        for c in chosen:
            if c.image is None:
                images.setdefault(c.path, datasets.upright(c.path))
        chosen_sources = [
            (c.identity, c.path, c.image if c.image is not None else images[c.path], c.box)
            for c in chosen
        ]
        crowd = datasets.crowds(
            chosen_sources, 1, seed=rng.randrange(2**31), per_photo=(count, count),
            sizes=sizes, draw_each_once=True, degrade=kind == "crowd", max_upscale=3,
        )[0]  # fmt: skip
        out.append((f"{kind}-{index}", crowd.data, crowd.faces))
    return out


def build(
    crowds: int = 40, groups: int = 24, portraits: int = 30, seed: int = 25
) -> LookalikeEvent:
    """The event's photos with their ground truth, indexed by the engine in a worker-like
    process; cached in loadtest/results by the inputs' digest."""
    key = hashlib.sha256(
        repr((crowds, groups, portraits, seed, DATA_VERSION)).encode()
    ).hexdigest()[:16]
    cache = RESULTS / f"lookalike-event-{key}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())  # type: ignore[no-any-return]
    from loadtest.crowd_bench import iou
    from loadtest.engine_runs import run_in_children
    from workers import faces

    faces.load_models()
    people, selfies = _identity_sources()
    bald, bald_selfies = _bald_sources()
    selfies.update(bald_selfies)
    everyone = people + bald + _bystander_sources()
    rng = random.Random(seed)
    made = (
        _compose(everyone, rng, "crowd", crowds, 16, datasets.CROWD_SIZES)
        + _compose(everyone, rng, "group", groups, 7, (150, 200, 300, 400, 600))
        + _compose(everyone, rng, "portrait", portraits, 1, (700, 900, 1200))
    )
    photos = [datasets.Photo(name, data) for name, data, _ in made]
    runs = run_in_children("yunet", photos)[0]
    event_photos = []
    for (name, _, pasted), run in zip(made, runs, strict=True):
        photo = EventPhoto(name, name.split("-")[0], pasted, run.faces)
        for box, _, _ in run.faces:
            best = max(pasted, key=lambda p: iou(p.box, box), default=None)
            hit = best is not None and iou(best.box, box) >= 0.3
            photo.identities.append(best.identity if hit and best else None)
        event_photos.append(photo)
    event = LookalikeEvent(event_photos, selfies, sorted(selfies))
    RESULTS.mkdir(exist_ok=True)
    cache.write_bytes(pickle.dumps(event))
    return event
