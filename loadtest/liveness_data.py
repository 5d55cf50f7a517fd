"""Live-selfie attempts built from ../shared/testdata/faces: genuine head turns and spoofs.

A genuine attempt is one person at the angles asked: a straight photo and photos of the
same person turned each way (a turned photo mirrored is the same person turned the other
way). The spoofs are what someone with pictures of another person can do:

- **replayed stills**: one photo as every frame, as is, shifted, scaled, rotated in the
  image plane, re-compressed or with noise;
- **recaptured photos**: one photo shown on a screen or printed and tilted towards the
  camera for each turn (a perspective warp), with a screen's moire, gamma and bezel;
- **swapped identities**: the right angles, from two people (a straight photo of the
  victim and someone else's turns, or one turn each).

`several_photos` is the attack the live check cannot tell from a person: a straight and
a turned photo of the victim (the turn mirrored for the other way). It is reported on its
own, never counted as refused.
"""

from __future__ import annotations

import io
import itertools
import random
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageFilter

from loadtest import datasets

FRAME_LONG_SIDE = 960
"""A phone's front camera as the page captures it."""
TURNED = 0.15
"""A photo is turned when its yaw ratio is past this (about 17 degrees); straight under
STRAIGHT."""
STRAIGHT = 0.06


@dataclass(frozen=True)
class Attempt:
    kind: str
    """genuine, still, recaptured, swapped or several_photos."""
    name: str
    steps: tuple[str, ...]
    frames: tuple[bytes, ...]


def camera_frame(image: Image.Image, quality: int = 88) -> bytes:
    """The picture as the page sends it, at most FRAME_LONG_SIDE long, as a JPEG. A small
    face chip is set in a blurred copy of itself and scaled up."""
    if max(image.size) < 480:
        # An aligned chip is all face: put it on a wall, as a camera at arm's length sees one.
        wall = image.resize((image.width * 2, image.height * 2)).filter(
            ImageFilter.GaussianBlur(24)
        )
        wall.paste(image, (image.width // 2, image.height // 2))
        image = wall
    scale = FRAME_LONG_SIDE / max(image.size)
    if scale < 1 or max(image.size) < 480:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def mirrored(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def tilted(image: Image.Image, degrees: float, axis: str = "y") -> Image.Image:
    """The picture as a flat print or screen turned by `degrees` about its vertical (y) or
    horizontal (x) axis, seen by a camera at about its own size away."""
    import cv2

    w, h = image.size
    f = 1.2 * max(w, h)
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    rotation = (
        np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
        if axis == "y"
        else np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    )
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    corners = np.array([[x - w / 2, y - h / 2, 0.0] for x, y in src]) @ rotation.T + [0, 0, f]
    dst = np.float32([[f * x / z + w / 2, f * y / z + h / 2] for x, y, z in corners])
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(np.asarray(image), matrix, (w, h), borderValue=(46, 44, 40))
    return Image.fromarray(warped)


def on_screen(image: Image.Image, seed: int) -> Image.Image:
    """The picture as a camera sees it on a phone held up to it: the screen's pixel grid
    sampled by the camera (moire), a screen's gamma, a black bezel and a desk around it."""
    rng = random.Random(seed)
    w, h = image.size
    big = np.asarray(image.resize((w * 3, h * 3), Image.Resampling.NEAREST), dtype=np.float32)
    stripes = np.zeros((1, 3 * w, 3), dtype=np.float32)
    for channel in range(3):  # RGB sub-pixels side by side
        stripes[0, channel::3, channel] = 1.0
    big = big * (0.35 + 0.65 * stripes)
    shrink = rng.uniform(0.33, 0.47)  # not a whole divisor of the grid: beats, moire
    screen = Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).resize(
        (round(3 * w * shrink), round(3 * h * shrink)), Image.Resampling.BILINEAR
    )
    screen = Image.fromarray(
        np.clip(255 * (np.asarray(screen) / 255) ** rng.uniform(0.7, 0.9) * 1.15, 0, 255).astype(
            np.uint8
        )
    )
    bezel = max(8, screen.width // 18)
    phone = Image.new("RGB", (screen.width + 2 * bezel, screen.height + 3 * bezel), (12, 12, 14))
    phone.paste(screen, (bezel, bezel))
    desk = Image.new("RGB", (round(phone.width * 1.25), round(phone.height * 1.2)), (120, 104, 88))
    desk.paste(phone, ((desk.width - phone.width) // 2, (desk.height - phone.height) // 2))
    return desk.filter(ImageFilter.GaussianBlur(0.6))


def still_variants(image: Image.Image, seed: int) -> list[Image.Image]:
    """The same still, changed the ways a replay changes it."""
    rng = random.Random(seed)
    w, h = image.size
    dx, dy = rng.randint(w // 20, w // 8), rng.randint(h // 20, h // 8)
    shifted = Image.new("RGB", image.size, (40, 40, 40))
    shifted.paste(image, (dx, dy))
    k = rng.uniform(0.8, 0.92)
    scaled = Image.new("RGB", image.size, (40, 40, 40))
    scaled.paste(image.resize((round(w * k), round(h * k))), (0, 0))
    noisy = np.asarray(image, dtype=np.float32) + np.random.default_rng(seed).normal(
        0, 6, (h, w, 3)
    )
    return [
        image,
        shifted,
        scaled,
        image.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC),
        Image.open(io.BytesIO(camera_frame(image, quality=40))).convert("RGB"),
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)),
    ]


@cache
def yaws() -> dict[str, float]:
    """Each identity photo's yaw ratio (loads the face engine)."""
    from workers import faces, liveness

    faces.load_models()
    found: dict[str, float] = {}
    for paths in datasets.identities().values():
        for path in paths:
            frame = faces.decode(camera_frame(datasets.upright(path)))
            seen = liveness.find_face(frame)
            if seen:
                found[path] = liveness.yaw_ratio(seen[0][1])
    return found


def _poses(identity: str) -> dict[str, list[Image.Image]]:
    """An identity's straight photos, and its photos turned to the person's left and right."""
    poses: dict[str, list[Image.Image]] = {"straight": [], "left": [], "right": []}
    for path in datasets.identities()[identity]:
        yaw = yaws().get(path)
        if yaw is None:
            continue
        image = datasets.upright(path)
        if abs(yaw) <= STRAIGHT:
            poses["straight"].append(image)
        elif abs(yaw) >= TURNED:
            turned, other = ("left", "right") if yaw > 0 else ("right", "left")
            poses[turned].append(image)
            poses[other].append(mirrored(image))
    return poses


def _attempt(kind: str, name: str, steps: tuple[str, ...], images: list[Image.Image]) -> Attempt:
    return Attempt(kind, name, steps, tuple(camera_frame(i) for i in images))


ORDERS = (("straight", "left", "right"), ("straight", "right", "left"))


def genuine(limit: int, seed: int = 7) -> list[Attempt]:
    """Straight, then each turn, from different photos of one person; both orders."""
    rng = random.Random(seed)
    found = []
    for identity in sorted(datasets.identities()):
        poses = _poses(identity)
        combos = list(itertools.product(range(len(poses["straight"])), range(len(poses["left"])),
                                        range(len(poses["right"]))))  # fmt: skip
        # The mirror of the left turn is not the right turn: one photo would do both.
        rng.shuffle(combos)
        for s, left, right in combos:
            for order in ORDERS:
                pictures = {"straight": poses["straight"][s], "left": poses["left"][left],
                            "right": poses["right"][right]}  # fmt: skip
                found.append(_attempt("genuine", f"{identity} s{s} l{left} r{right}", order,
                                      [pictures[step] for step in order]))  # fmt: skip
    rng.shuffle(found)
    return found[:limit]


def spoofs(seed: int = 11) -> list[Attempt]:
    """Replayed stills, recaptured photos and swapped identities."""
    rng = random.Random(seed)
    everyone = datasets.identities()
    poses = {identity: _poses(identity) for identity in everyone}
    straight = [(i, image) for i in sorted(everyone) for image in poses[i]["straight"]]
    found = []
    for n, (identity, image) in enumerate(straight):
        order = ORDERS[n % 2]
        variants = still_variants(image, n)
        found.append(_attempt("still", f"{identity} {n} repeated", order, [image] * 3))
        found.append(_attempt("still", f"{identity} {n} shifted", order, variants[:3]))
        found.append(_attempt("still", f"{identity} {n} re-encoded", order,
                              [variants[0], variants[4], variants[5]]))  # fmt: skip
        found.append(_attempt("still", f"{identity} {n} rotated", order,
                              [variants[0], variants[3], variants[2]]))  # fmt: skip
        for degrees in (-40, -25, 25, 40):  # each way round: whichever fools the check
            tilts = {"straight": image, "left": tilted(image, degrees),
                     "right": tilted(image, -degrees)}  # fmt: skip
            found.append(_attempt("recaptured", f"{identity} {n} print tilted {degrees}", order,
                                  [tilts[s] for s in order]))  # fmt: skip
            found.append(_attempt(
                "recaptured", f"{identity} {n} screen tilted {degrees}", order,
                [on_screen(tilts[s], n * 3 + k) for k, s in enumerate(order)],
            ))  # fmt: skip
        swaps = [other for other in sorted(everyone) if other != identity
                 and poses[other]["left"] and poses[other]["right"]]  # fmt: skip
        if swaps:
            other = poses[rng.choice(swaps)]
            pictures = {"straight": image, "left": rng.choice(other["left"]),
                        "right": rng.choice(other["right"])}  # fmt: skip
            found.append(_attempt("swapped", f"{identity} {n} with another's turns", order,
                                  [pictures[s] for s in order]))  # fmt: skip
            own = poses[identity]
            if own["left"]:
                pictures["left"] = rng.choice(own["left"])
                found.append(_attempt("swapped", f"{identity} {n} one turn another's", order,
                                      [pictures[s] for s in order]))  # fmt: skip
    return found


def several_photos(limit: int, seed: int = 13) -> list[Attempt]:
    """A straight and ONE turned photo of the victim, the turn mirrored for the other way."""
    rng = random.Random(seed)
    found = []
    for identity in sorted(datasets.identities()):
        poses = _poses(identity)
        for image in poses["straight"]:
            for path in datasets.identities()[identity]:
                yaw = yaws().get(path)
                if yaw is None or abs(yaw) < TURNED:
                    continue
                turned = datasets.upright(path)
                left, right = (turned, mirrored(turned)) if yaw > 0 else (mirrored(turned), turned)
                pictures = {"straight": image, "left": left, "right": right}
                order = rng.choice(ORDERS)
                found.append(_attempt("several_photos", f"{identity} {path.rsplit('/', 1)[-1]}",
                                      order, [pictures[s] for s in order]))  # fmt: skip
    rng.shuffle(found)
    return found[:limit]
