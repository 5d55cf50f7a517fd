"""The live check: a selfie taken as a few frames on the live camera, following a challenge.

The attendee looks straight, then turns their head left and right in the order the
server chose. A picture of a person cannot do that:

- **Pose from 3-D structure.** The nose tip stands out of the face; the eyes and the
  mouth corners nearly lie in one plane. `yaw_ratio` places the nose tip in the frame
  spanned by the eyes and the mouth: an affine invariant, so a photo held at an angle,
  shifted, scaled or rotated (a print, a phone screen) keeps its ratio, while a head
  that turns moves it (about 0.5 x sin(yaw)). Each turn must move it the asked way.
- **One face throughout.** Every frame's encoding is within LIVE_SAME_FACE of the
  straight frame's: no frames of two people.
- **A head, not a flat picture.** A landmark detector learned that a foreshortened
  face is a turned one, so a print tilted 40 degrees moves the yaw ratio as far as a
  17-degree turn. Pixels do not lie that way: a flat picture moved, tilted or shown on
  a screen maps onto itself by one homography (`flat_fit`, SIFT and RANSAC on the
  face), while a turning head's nose, cheeks and ears do not.
- **The selfie rules** (`faces.judge_face`) hold for the straight frame, whose encoding
  is the selfie's.

Pure functions on bytes, as `faces`; no database code here.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass

import numpy as np

from core import decoding
from workers import faces

log = logging.getLogger(__name__)

STEPS = ("straight", "left", "right")
"""What a frame may show. Left and right are the attendee's own: turning to their left
moves the nose towards the right of the (unmirrored) camera image."""
_DIRECTION = {"left": 1.0, "right": -1.0}
STRAIGHT_MAX = 0.12
"""|yaw ratio| of the straight frame at most (about 14 degrees)."""
TURN_MIN = 0.07
"""A turn moves the yaw ratio at least this far from the straight frame, the asked way
(about 8 degrees: the direction is what counts; flatness is FLAT_INLIERS' to judge)."""
FLAT_SIDE = 256
"""Faces are compared at this width..."""
FLAT_MARGIN = 0.15
"""... with this share of their width around them."""
FLAT_INLIERS = 8
FLAT_SHARE = 0.4
"""A turned frame is the straight frame's picture moved, tilted or re-shown when at
least FLAT_INLIERS of their matched SIFT points, and FLAT_SHARE of them, fit one
homography. On the spoof benchmark every picture tilted 25 or 40 degrees (the ones the
pose check lets by) had 8 or more, and at least 0.47 of its matches (a screen's moire
costs matches, not their fit); 3 of 69 genuine sequences had that much, all from chips
of one photo shoot."""
LIVE_SAME_FACE = 0.55
"""Every frame's encoding within this of the straight frame's (dlib distance). On the
benchmark, photos of one person years apart were at most 0.51 apart, frames of two
people at least 0.73; a live sequence is one sitting, nearer still."""

LIVE_HINTS = {
    "frames_mismatch": "the pictures do not match the steps asked; start again",
    "look_straight": "look straight at the camera for the first picture",
    "turn_left": "turn your head to your left when asked, a little further",
    "turn_right": "turn your head to your right when asked, a little further",
    "different_faces": "every picture must show the same person: you",
    "flat_picture": "we need you on the live camera: a photo or a screen cannot turn its head",
}


@dataclass(frozen=True)
class FrameFace:
    """The main face in one frame."""

    step: str
    box: faces.Box
    """In the decoded frame's pixels, clipped."""
    yaw: float
    chip: np.ndarray
    grey: np.ndarray


def _reject(reason: str, step: str | None = None) -> faces.SelfieVerdict:
    hint = LIVE_HINTS.get(reason) or faces.SELFIE_HINTS[reason]
    if step is not None and reason in faces.SELFIE_HINTS:
        hint = f"{hint} (the '{step}' picture)"
    return faces.SelfieVerdict(reason, hint)


def yaw_ratio(points: np.ndarray) -> float:
    """Where the nose tip sits between the eyes, from YuNet's five points.

    `points` are (right eye, left eye, nose tip, right mouth corner, left mouth corner)
    of the person, in image pixels. Solving nose = eyes' mid + a (left eye - right eye)
    + b (mouth's mid - eyes' mid) gives `a`: 0 for a frontal face, positive when the
    nose points to the image's right. Affine maps keep `a`, so a flat picture moved,
    scaled, rotated or tilted (nearly affine at arm's length) keeps it too.
    """
    right_eye, left_eye, nose, right_mouth, left_mouth = (np.asarray(p, float) for p in points)
    eyes = (right_eye + left_eye) / 2
    basis = np.stack([left_eye - right_eye, (right_mouth + left_mouth) / 2 - eyes], axis=1)
    if abs(np.linalg.det(basis)) < 1e-6:
        return 0.0
    a, _ = np.linalg.solve(basis, nose - eyes)
    return float(a)


def find_face(frame: faces.Decoded) -> list[tuple[faces.Box, np.ndarray]]:
    """YuNet's faces in a frame, biggest first: (unclipped box, five points), in its pixels."""
    rgb = frame.rgb
    h, w = rgb.shape[:2]
    k = min(1.0, faces.LIVE_SIDE / max(h, w))
    import cv2

    small = (
        rgb
        if k == 1.0
        else cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    )
    canvas = np.zeros((faces.LIVE_SIDE, faces.LIVE_SIDE, 3), dtype=np.uint8)
    canvas[: small.shape[0], : small.shape[1]] = small[:, :, ::-1]
    _, rows = faces._engine().yunet_live.detect(canvas)
    found = []
    for row in [] if rows is None else rows:
        x, y, bw, bh = (float(v) / k for v in row[:4])
        box = (round(y), round(x + bw), round(y + bh), round(x))
        found.append((box, np.asarray(row[4:14], float).reshape(5, 2) / k))
    found.sort(key=lambda f: (f[0][1] - f[0][3]) * (f[0][2] - f[0][0]), reverse=True)
    return found


def face_grey(frame: faces.Decoded, box: faces.Box) -> np.ndarray:
    """The face and FLAT_MARGIN around it (hair, ears), in grey, FLAT_SIDE wide."""
    import cv2

    top, right, bottom, left = box
    pad = round(FLAT_MARGIN * (right - left))
    h, w = frame.rgb.shape[:2]
    crop = frame.rgb[
        max(0, top - pad) : min(h, bottom + pad), max(0, left - pad) : min(w, right + pad)
    ]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    k = FLAT_SIDE / max(1, crop.shape[1])
    return cv2.resize(grey, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)


def flat_fit(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """(inliers, matches): SIFT points of face `a` matched in face `b` (Lowe's ratio test),
    and how many of them land on their match under the one homography that fits most
    (RANSAC, 4 px at FLAT_SIDE)."""
    import cv2

    sift = cv2.SIFT.create(nfeatures=500)
    points_a, described_a = sift.detectAndCompute(a, None)
    points_b, described_b = sift.detectAndCompute(b, None)
    if described_a is None or described_b is None or min(len(points_a), len(points_b)) < 2:
        return 0, 0
    pairs = cv2.BFMatcher().knnMatch(described_a, described_b, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < FLAT_INLIERS:
        return 0, len(good)
    src = np.array([points_a[g.queryIdx].pt for g in good], dtype=np.float32)
    dst = np.array([points_b[g.trainIdx].pt for g in good], dtype=np.float32)
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, 4.0)
    return (0 if mask is None else int(mask.sum())), len(good)


def is_flat(inliers: int, matches: int) -> bool:
    return inliers >= FLAT_INLIERS and inliers >= FLAT_SHARE * matches


MAX_FRAMES = 8


def unpack_frames(data: bytes) -> list[bytes]:
    """The frames of a stored live selfie (`api/liveness.py` packs them), in step order;
    an unreadable file is no frames."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted(archive.namelist(), key=lambda n: int(n.split(".", 1)[0]))
            return [archive.read(name) for name in names[:MAX_FRAMES]]
    except (zipfile.BadZipFile, ValueError, KeyError):
        return []


def judge_live(
    frames: list[bytes], steps: list[str], *, jitters: int = faces.SELFIE_JITTERS
) -> faces.SelfieVerdict:
    """Judge a live selfie: `frames[i]` is the picture taken for `steps[i]`.

    The first step is "straight"; its frame must pass the selfie rules and becomes
    the encoding. Returns the first rule broken, with a hint that says what to do.
    """
    if len(frames) != len(steps) or not steps or steps[0] != "straight":
        return _reject("frames_mismatch")
    if any(step not in STEPS for step in steps):
        return _reject("frames_mismatch")
    decoded: list[faces.Decoded] = []
    for data, step in zip(frames, steps, strict=True):
        try:
            decoded.append(
                faces.decode(data, max_side=faces.SELFIE_MAX_SIDE, budget=decoding.selfie_budget())
            )
        except faces.InvalidImage:
            return _reject("unreadable_image", step)
    seen: list[FrameFace] = []
    for frame, step in zip(decoded, steps, strict=True):
        found = find_face(frame)
        if not found:
            return _reject("no_face", step)
        (box, points), others = found[0], found[1:]
        width = box[1] - box[3]
        if any(o[1] - o[3] >= faces.BACKGROUND_FACE_RATIO * width for o, _ in others):
            return _reject("multiple_faces", step)
        if step == "straight":
            reason, _ = faces.judge_face(frame, frame, box)
            if reason:
                return _reject(reason, step)
        clipped = faces._scale_box(box, 1.0, frame.rgb.shape[1], frame.rgb.shape[0])
        chip = faces.face_chip(frame.rgb, clipped)
        seen.append(FrameFace(step, clipped, yaw_ratio(points), chip, face_grey(frame, clipped)))
    straight = seen[0]
    if abs(straight.yaw) > STRAIGHT_MAX:
        return _reject("look_straight")
    for face in seen[1:]:
        if face.step == "straight":
            continue
        if _DIRECTION[face.step] * (face.yaw - straight.yaw) < TURN_MIN:
            return _reject(f"turn_{face.step}")
    fits = [flat_fit(straight.grey, f.grey) for f in seen[1:]]
    # Measures only, never a face: how real sittings compare with the thresholds.
    log.info("live check: yaw %s, homography fits %s",
             [round(f.yaw, 3) for f in seen], fits)  # fmt: skip
    if any(is_flat(*fit) for fit in fits):
        return _reject("flat_picture")
    encodings = faces.encode_chips([f.chip for f in seen], jitters=1)
    if any(np.linalg.norm(e - encodings[0]) > LIVE_SAME_FACE for e in encodings[1:]):
        return _reject("different_faces")
    if jitters > 1:
        encodings[0] = faces.encode_chips([straight.chip], jitters=jitters)[0]
    full_box = straight.box
    return faces.SelfieVerdict(
        None,
        encoding=encodings[0],
        quality=faces.quality(full_box[1] - full_box[3], faces.sharpness(decoded[0].rgb, full_box)),
    )
