"""The look-alike rule on its own (workers/matching/lookalikes.py): arrays in, flags out."""

import numpy as np

from workers.matching.lookalikes import groups, held_back


def _around(center: np.ndarray, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """n encodings about `spread` from `center` (and about spread * 1.4 from each other)."""
    return center + rng.normal(0, spread / np.sqrt(128), (n, 128))


def test_faces_of_one_photo_never_join_one_group_however_near() -> None:
    same = np.zeros((2, 128))
    assert len(set(groups(["p1", "p1"], same, 0.45))) == 2
    assert len(set(groups(["p1", "p2"], same, 0.45))) == 1


def test_a_look_alikes_group_is_held_back_and_the_attendees_own_is_not() -> None:
    rng = np.random.default_rng(3)
    selfie = np.zeros(128)
    own = _around(selfie + rng.normal(0, 0.38 / np.sqrt(128), 128), 6, 0.25, rng)
    twin_center = rng.normal(0, 0.56 / np.sqrt(128), 128)
    twin = _around(twin_center, 5, 0.25, rng)
    encodings = np.vstack([own, twin])
    distances = np.linalg.norm(encodings - selfie, axis=1)
    assert distances.max() < 0.75, "all of them within a loose tolerance"
    photos = [f"photo-{i}" for i in range(len(encodings))]
    held = held_back(photos, distances, encodings, tolerance=0.6, link=0.45, offset=0.08)
    assert not held[:6].any()
    assert held[6:].all()
    # The rule off: nothing held back.
    assert not held_back(photos, distances, encodings, tolerance=0.6, link=0, offset=0.08).any()


def test_a_face_alone_keeps_the_face_rule() -> None:
    """One far face of a stranger, with no second face to group with, is not held back:
    the tolerance alone decides it."""
    rng = np.random.default_rng(5)
    encodings = np.vstack([_around(np.zeros(128), 3, 0.2, rng), np.full((1, 128), 0.05)])
    distances = np.linalg.norm(encodings, axis=1)
    held = held_back(["a", "b", "c", "d"], distances, encodings, tolerance=0.6, link=0.45,
                     offset=0.08)  # fmt: skip
    assert not held.any()
