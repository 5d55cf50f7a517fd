"""The face engine on onnxruntime against the reference (OpenCV's YuNet and dlib's own encoder):
the same networks and weights, so the same boxes and the same vectors."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.config import settings
from workers import faces, resnet, yunet

SAME = 1e-4
"""Issue 29's bound: no component of a vector more than this from dlib's."""
CROWDS = [
    "retinaface_serengil/img3.jpg",  # a volleyball crowd of small faces
    "pytorch_retinaface_biubug6/test.jpg",  # a baseball crowd
    "dlib_examples_faces/bald_guys.jpg",
    "pypi_insightface/t1.jpg",
    "ageitgey_face_recognition/examples/knn_examples/test/obama_and_biden.jpg",
]
CHIPS = "dlib_examples_johns"
"""Aligned 150x150 chips, as dlib's own examples ship them."""


def _dlib_file() -> str:
    import face_recognition_models as paths

    return str(paths.face_recognition_model_location())


@pytest.fixture(scope="module")
def dlib_encoder() -> Any:
    import dlib

    return dlib.face_recognition_model_v1(_dlib_file())


@pytest.fixture(scope="module")
def encoder() -> resnet.Encoder:
    return resnet.Encoder.load(_dlib_file())


@pytest.fixture(scope="module")
def sample_chips(faces_dir: Path) -> list[np.ndarray]:
    """Every face YuNet finds in the crowds, aligned by dlib, and 20 of dlib's own chips."""
    chips = []
    for name in CROWDS:
        photo = faces.decode((faces_dir / name).read_bytes())
        chips += [faces.face_chip(photo.rgb, box) for _, box in faces.detect_tiled(photo.rgb)]
    given = sorted((faces_dir / CHIPS).rglob("*.jpg"))[:20]
    chips += [faces.decode(path.read_bytes()).rgb for path in given]
    assert len(chips) > 80 and all(chip.shape == (150, 150, 3) for chip in chips)
    return chips


def test_the_encoder_gives_dlibs_vectors_on_real_faces(
    sample_chips: list[np.ndarray], encoder: resnet.Encoder, dlib_encoder: Any
) -> None:
    ours = encoder.encode(sample_chips)
    theirs = np.array(dlib_encoder.compute_face_descriptor(sample_chips, 1))
    assert ours.shape == theirs.shape == (len(sample_chips), 128)
    assert np.abs(ours - theirs).max() < SAME
    # Not a constant: the chips' vectors differ from one another as faces do.
    assert np.linalg.norm(theirs[0] - theirs[1:], axis=1).min() > 0.1


def test_a_batch_gives_each_chip_the_vector_it_gets_alone(
    sample_chips: list[np.ndarray], encoder: resnet.Encoder
) -> None:
    chips = sample_chips[: resnet.BATCH + 3]  # one full batch and a short one
    together = encoder.encode(chips)
    alone = np.concatenate([encoder.encode([chip]) for chip in chips])
    assert np.abs(together - alone).max() < 1e-5


def test_the_engine_encodes_on_the_runtime_it_is_set_to(
    faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (faces_dir / CROWDS[0]).read_bytes()
    monkeypatch.setattr(faces, "_models", None)
    _, ours = faces.index_photo(data)
    assert isinstance(faces._engine().encoder, resnet.Encoder)
    assert isinstance(faces._engine().yunet, yunet.Detector)
    monkeypatch.setattr(settings, "RUNTIME", "reference")
    monkeypatch.setattr(faces, "_models", None)
    _, theirs = faces.index_photo(data)
    assert hasattr(faces._engine().encoder, "compute_face_descriptor")  # dlib's own
    assert len(ours) == len(theirs) > 20
    for a, b in zip(ours, theirs, strict=True):
        assert a.box == b.box
        assert np.abs(a.encoding - b.encoding).max() < SAME
        assert a.quality == b.quality


def test_jitters_run_on_dlibs_encoder(sample_chips: list[np.ndarray], dlib_encoder: Any) -> None:
    """dlib's jitter (random crops, flips, rotations) is dlib's code: it stays there."""
    ours = faces.encode_chips(sample_chips[:1], jitters=3)[0]
    plain = np.asarray(dlib_encoder.compute_face_descriptor(sample_chips[0], 1))
    assert ours.shape == (128,)
    assert 0 < np.linalg.norm(ours - plain) < 0.2  # jittered: near, not the same


def test_yunet_finds_what_opencv_finds(faces_dir: Path) -> None:
    import cv2

    ours = faces._load_yunet()
    assert isinstance(ours, yunet.Detector)
    theirs = cv2.FaceDetectorYN.create(
        faces.yunet_path(), "", (faces.TILE, faces.TILE), faces.DETECT_SCORE, faces.NMS_IOU, 5000
    )
    total = 0
    for name in CROWDS:
        rgb = faces.decode((faces_dir / name).read_bytes()).rgb
        tile = np.zeros((faces.TILE, faces.TILE, 3), dtype=np.uint8)
        part = rgb[: faces.TILE, : faces.TILE, ::-1]
        tile[: part.shape[0], : part.shape[1]] = part
        rows = [ours.detect(tile)[1], theirs.detect(tile)[1]]
        a, b = (r[np.lexsort((r[:, 1], r[:, 0]))] for r in rows if r is not None)
        assert a.shape == b.shape
        assert np.abs(a - b).max() < 0.01  # pixels, landmarks and score
        total += len(a)
    assert total > 60


def test_the_detector_takes_only_its_size() -> None:
    detector = faces._load_yunet(faces.LIVE_SIDE)
    with pytest.raises(ValueError, match="640x640"):
        detector.detect(np.zeros((480, 640, 3), dtype=np.uint8))
    assert detector.detect(np.zeros((640, 640, 3), dtype=np.uint8)) == (1, None)


def test_dlibs_file_is_read_whole_and_checked() -> None:
    data = Path(_dlib_file()).read_bytes()
    weights = resnet.parse(data)
    assert len(weights.convs) == len(weights.affines) == 29
    assert weights.fc.shape == (256, 128)
    assert weights.convs[0][0].shape == (32, 3, 7, 7)
    assert weights.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)


def _changed(data: bytes, old: bytes, new: bytes) -> bytes:
    at = data.index(old)
    return data[:at] + new + data[at + len(old) :]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d[: len(d) // 2], "the file ends"),
        (lambda d: d + b"\x00", "bytes follow the last layer"),
        # The first conv's kernel 5x5 instead of 7x7: another network.
        (
            lambda d: _changed(
                d, b"\x01\x20\x01\x07\x01\x07\x01\x02", b"\x01\x20\x01\x05\x01\x05\x01\x02"
            ),
            "conv",
        ),
        (lambda d: _changed(d, b"\x05relu_", b"\x05rele_"), "layer"),
        (lambda d: _changed(d, b"loss_metric_2", b"loss_mmod_xx2"), "loss"),
    ],
)
def test_a_file_that_is_not_this_network_is_refused(change: Any, error: str) -> None:
    data = Path(_dlib_file()).read_bytes()
    with pytest.raises(resnet.ModelFileError, match=error):
        resnet.parse(change(data))


def test_the_file_must_have_the_pinned_hash(tmp_path: Path) -> None:
    copy = tmp_path / "model.dat"
    data = Path(_dlib_file()).read_bytes()
    copy.write_bytes(data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])  # one weight's last bit
    with pytest.raises(resnet.ModelFileError, match="sha256"):
        resnet.read(copy)


def test_flat_tiles_are_skipped_and_no_face_is_lost(
    faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 6000x4000 photo whose top half is a clear sky with sensor noise, a crowd below and
    one face against the sky: the sky's tiles are skipped, the face in it is not, and the
    boxes are those found on every tile."""
    import io

    from PIL import Image

    rng = np.random.default_rng(29)
    sky = np.linspace([70, 120, 200], [170, 200, 235], 2000)[:, None, :] + np.zeros((1, 6000, 1))
    canvas = np.zeros((4000, 6000, 3))
    canvas[:2000] = sky + rng.normal(0, 3, (2000, 6000, 1))
    crowd = faces.decode((faces_dir / CROWDS[0]).read_bytes()).rgb  # 1000x644 volleyball
    canvas[2000:] = 128
    for x in range(0, 6000 - 2000, 2000):  # the crowd at 2x, three times along the bottom
        canvas[2100 : 2100 + 1288, x : x + 2000] = np.kron(crowd, np.ones((2, 2, 1)))
    face = faces.decode((faces_dir / "ageitgey_face_recognition/examples/obama.jpg").read_bytes())
    head = face.rgb[40:480, 330:660]  # a face of ~230 px with its hair, in the sky
    canvas[800 : 800 + head.shape[0], 2900 : 2900 + head.shape[1]] = head
    out = io.BytesIO()
    Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    rgb = faces.decode(out.getvalue()).rgb

    calls: list[int] = []
    inner = faces._yunet_boxes
    monkeypatch.setattr(
        faces,
        "_yunet_boxes",
        lambda *a: calls.append(1) or inner(*a),  # type: ignore[func-returns-value]
    )
    skipping = faces.detect_tiled(rgb)
    tiles_run = len(calls)
    monkeypatch.setattr(faces, "FLAT_STD", 0.0)
    calls.clear()
    every = faces.detect_tiled(rgb)
    assert len(calls) == 36  # 35 tiles and the overview
    # 12 of the 14 tiles wholly in the sky hold nothing else (the gym's floor may be flat
    # too); the boxes show that skipping them lost nothing.
    assert tiles_run <= 36 - 12
    assert skipping == every
    assert any(box[0] < 2000 for _, box in every)  # the face against the sky
    assert len(every) > 40
