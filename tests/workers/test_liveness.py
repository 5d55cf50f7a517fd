"""The live check on real photos of one person turning, and on the spoofs of it."""

from pathlib import Path

import numpy as np
import pytest

from loadtest.datasets import upright
from loadtest.liveness_data import camera_frame, on_screen, still_variants, tilted
from tests.helpers import TURNS, live_frames
from workers import faces, liveness

pytestmark = pytest.mark.faces
ORDER = ["straight", "left", "right"]


def test_a_head_turning_as_asked_is_accepted_with_the_straight_frame_encoded(
    faces_dir: Path,
) -> None:
    for order in (ORDER, ["straight", "right", "left"]):
        verdict = liveness.judge_live(live_frames(order), order)
        assert verdict.ok, verdict.reason
        straight = faces.judge_selfie(live_frames(["straight"])[0])
        assert verdict.encoding is not None and straight.encoding is not None
        assert np.linalg.norm(verdict.encoding - straight.encoding) < 0.1


def test_turns_in_the_wrong_order_are_refused_with_what_to_do(faces_dir: Path) -> None:
    frames = live_frames(["straight", "right", "left"])  # the page asked left first
    verdict = liveness.judge_live(frames, ORDER)
    assert verdict.reason == "turn_left"
    assert verdict.detail == "turn your head to your left when asked, a little further"


def test_the_same_still_as_every_frame_is_refused(faces_dir: Path) -> None:
    (straight,) = live_frames(["straight"])
    assert not liveness.judge_live([straight] * 3, ORDER).ok
    variants = [camera_frame(v) for v in still_variants(upright(TURNS["obama"]["straight"]), 3)]
    for frames in (variants[:3], [variants[0], variants[4], variants[5]]):
        assert liveness.judge_live(frames, ORDER).reason in ("turn_left", "turn_right")


def test_frames_of_two_people_are_refused(faces_dir: Path) -> None:
    frames = live_frames(ORDER, right=TURNS["guido"]["right"])
    assert liveness.judge_live(frames, ORDER).reason == "different_faces"


@pytest.mark.parametrize("medium", ["print", "screen"])
def test_a_photo_tilted_towards_the_camera_is_refused(faces_dir: Path, medium: str) -> None:
    """A print or a phone screen turned left and right: foreshortened, never a head."""
    straight = upright(TURNS["guido"]["straight"])
    for degrees in (25, 40, -25, -40):
        shots = [straight, tilted(straight, degrees), tilted(straight, -degrees)]
        if medium == "screen":
            shots = [on_screen(shot, seed) for seed, shot in enumerate(shots)]
        verdict = liveness.judge_live([camera_frame(s) for s in shots], ORDER)
        assert not verdict.ok, f"{medium} tilted {degrees} got through"
        assert verdict.reason in ("turn_left", "turn_right", "flat_picture"), verdict.reason


def test_a_frame_missing_or_unreadable_is_refused(faces_dir: Path) -> None:
    frames = live_frames(ORDER)
    assert liveness.judge_live(frames[:2], ORDER).reason == "frames_mismatch"
    assert liveness.judge_live(frames, ["left", "straight", "right"]).reason == "frames_mismatch"
    verdict = liveness.judge_live([frames[0], b"not an image", frames[2]], ORDER)
    assert verdict.reason == "unreadable_image"
    assert "(the 'left' picture)" in (verdict.detail or "")


def test_the_yaw_ratio_is_kept_by_any_affine_map_of_the_points() -> None:
    points = np.array([[40.0, 50], [80, 50], [63, 75], [45, 95], [75, 95]])
    ratio = liveness.yaw_ratio(points)
    assert ratio > 0.05, "the nose is right of the midline"
    shear = np.array([[0.8, 0.3], [-0.2, 1.1]])
    assert liveness.yaw_ratio(points @ shear.T + [17, -4]) == pytest.approx(ratio)
    mirrored = points * [-1, 1]
    assert liveness.yaw_ratio(mirrored[[1, 0, 2, 4, 3]]) == pytest.approx(-ratio)


def test_stored_frames_unpack_in_step_order_and_garbage_is_no_frames() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in (2, 0, 1, 10):
            archive.writestr(f"{index}.jpg", f"frame {index}")
    assert liveness.unpack_frames(buffer.getvalue()) == [
        b"frame 0",
        b"frame 1",
        b"frame 2",
        b"frame 10",
    ]
    assert liveness.unpack_frames(b"not a zip") == []
