"""The face engine on its own: decoding edge cases and real photos of real people."""

import io
import itertools
import zlib

import numpy as np
import pytest
from PIL import Image

from core import decoding
from core.config import settings
from tests.helpers import face_photo, image_bytes
from workers import faces

TWO_PEOPLE = "ageitgey_face_recognition/examples/two_people.jpg"
OBAMA = "ageitgey_face_recognition/examples/obama.jpg"
OBAMA_2 = "ageitgey_face_recognition/examples/obama2.jpg"
BIDEN = "ageitgey_face_recognition/examples/biden.jpg"
DOGS = "dlib_examples_faces/dogs.jpg"


def test_decode_applies_exif_orientation() -> None:
    image = Image.new("RGB", (300, 200), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 150, 200))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    decoded = faces.decode(buffer.getvalue())
    assert (decoded.width, decoded.height) == (200, 300)
    assert decoded.rgb.shape == (300, 200, 3)
    top, bottom = decoded.rgb[10, 100], decoded.rgb[290, 100]
    assert top[2] > 200 and top[0] < 60  # the blue half is now on top
    assert bottom[0] > 200 and bottom[2] < 60


@pytest.mark.parametrize(
    ("mode", "color"),
    [("RGBA", (10, 20, 30, 0)), ("L", 128), ("CMYK", (0, 255, 0, 0)), ("I;16", 40000), ("P", 3)],
)
def test_decode_gives_8_bit_rgb_for_every_mode(mode: str, color: object) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    decoded = faces.decode(image_bytes(mode=mode, color=color, fmt=fmt))
    assert decoded.rgb.dtype == np.uint8
    assert decoded.rgb.shape == (48, 64, 3)


def test_transparent_pixels_become_white_not_black() -> None:
    decoded = faces.decode(image_bytes(mode="RGBA", color=(0, 0, 0, 0), fmt="PNG"))
    assert decoded.rgb.min() == 255


def test_decode_downscales_big_jpegs_and_keeps_the_original_size() -> None:
    decoded = faces.decode(image_bytes(size=(4000, 3000)), max_side=1000)
    assert max(decoded.rgb.shape[:2]) == 1000
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert decoded.scale == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not an image at all", "not_an_image"),
        (b"", "not_an_image"),
        (image_bytes(size=(800, 600))[:2000], "truncated_image"),
    ],
)
def test_bad_images_raise_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(faces.InvalidImage) as error:
        faces.decode(data)
    assert error.value.code == code


def test_decompression_bombs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faces, "MAX_PIXELS", 1000)
    with pytest.raises(faces.InvalidImage) as error:
        faces.decode(image_bytes(size=(100, 100), fmt="PNG"))
    assert error.value.code == "too_many_pixels"


def test_a_blank_image_has_no_faces() -> None:
    _, found = faces.index_photo(image_bytes(size=(640, 480)))
    assert found == []


def test_a_blank_selfie_is_rejected_with_no_face() -> None:
    verdict = faces.judge_selfie(image_bytes(size=(640, 480)))
    assert (verdict.ok, verdict.reason) == (False, "no_face")


@pytest.mark.faces
def test_two_people_are_found_with_boxes_in_original_pixels(faces_dir) -> None:  # type: ignore[no-untyped-def]
    decoded, found = faces.index_photo(face_photo(TWO_PEOPLE))
    assert len(found) == 2
    for face in found:
        top, right, bottom, left = face.box
        assert 0 <= left < right <= decoded.width and 0 <= top < bottom <= decoded.height
        assert face.encoding.shape == (128,)


@pytest.mark.faces
def test_the_same_person_is_near_and_different_people_are_far(faces_dir) -> None:  # type: ignore[no-untyped-def]
    obama = faces.judge_selfie(face_photo(OBAMA))
    obama_again = faces.judge_selfie(face_photo(OBAMA_2))
    biden = faces.judge_selfie(face_photo(BIDEN))
    assert obama.ok and obama_again.ok and biden.ok
    same = float(np.linalg.norm(obama.encoding - obama_again.encoding))
    different = float(np.linalg.norm(obama.encoding - biden.encoding))
    assert same < 0.5 < different


@pytest.mark.faces
def test_a_selfie_with_two_faces_is_rejected(faces_dir) -> None:  # type: ignore[no-untyped-def]
    verdict = faces.judge_selfie(face_photo(TWO_PEOPLE))
    assert verdict.reason == "multiple_faces"
    assert verdict.encoding is None


@pytest.mark.faces
def test_a_photo_of_dogs_is_not_a_selfie(faces_dir) -> None:  # type: ignore[no-untyped-def]
    assert faces.judge_selfie(face_photo(DOGS)).reason == "no_face"


@pytest.mark.faces
def test_a_tiny_face_is_too_small_for_a_selfie(faces_dir) -> None:  # type: ignore[no-untyped-def]
    image = Image.open(io.BytesIO(face_photo(OBAMA))).convert("RGB")
    small = image.resize((image.width // 6, image.height // 6))
    canvas = Image.new("RGB", (1200, 900), (128, 128, 128))
    canvas.paste(small, (500, 400))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=95)
    verdict = faces.judge_selfie(buffer.getvalue())
    assert verdict.reason == "face_too_small"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_heic_selfies_from_iphones_decode() -> None:
    import pillow_heif

    image = Image.new("RGB", (80, 60), (10, 200, 30))
    heif = pillow_heif.from_pillow(image)
    buffer = io.BytesIO()
    heif.save(buffer, quality=90)
    decoded = faces.decode(buffer.getvalue())
    assert decoded.rgb.shape == (60, 80, 3)
    assert decoded.rgb[30, 40, 1] > 150


@pytest.mark.faces
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda im: im.filter(__import__("PIL.ImageFilter").ImageFilter.GaussianBlur(6)),
            "too_blurry",
        ),
        (
            lambda im: __import__("PIL.ImageEnhance").ImageEnhance.Brightness(im).enhance(0.2),
            "too_dark",
        ),
        (
            lambda im: __import__("PIL.ImageEnhance").ImageEnhance.Brightness(im).enhance(3.0),
            "too_bright",
        ),
    ],
)
def test_poor_selfies_are_rejected_with_a_retake_hint(faces_dir, change, reason) -> None:  # type: ignore[no-untyped-def]
    image = Image.open(io.BytesIO(face_photo(OBAMA))).convert("RGB")
    verdict = faces.judge_selfie(_jpeg(change(image)))
    assert verdict.reason == reason
    assert verdict.detail == faces.SELFIE_HINTS[reason]


@pytest.mark.faces
@pytest.mark.parametrize("name", ["obama_partial_face.jpg", "obama_partial_face2.jpg"])
def test_a_face_cut_by_the_border_is_rejected(faces_dir, name: str) -> None:  # type: ignore[no-untyped-def]
    data = face_photo(f"ageitgey_face_recognition/tests/test_images/{name}")
    assert faces.judge_selfie(data).reason == "face_cut_off"


@pytest.mark.faces
def test_a_small_face_in_the_background_is_tolerated(faces_dir) -> None:  # type: ignore[no-untyped-def]
    main = Image.open(io.BytesIO(face_photo(OBAMA))).convert("RGB")
    background = Image.open(io.BytesIO(face_photo(BIDEN))).convert("RGB")
    background = background.resize((background.width // 3, background.height // 3))
    canvas = main.copy()
    canvas.paste(background, (canvas.width - background.width, 0))
    verdict = faces.judge_selfie(_jpeg(canvas))
    assert verdict.ok, verdict.reason


@pytest.mark.faces
def test_every_identity_photo_makes_a_valid_selfie(faces_dir) -> None:  # type: ignore[no-untyped-def]
    import csv

    rows = list(csv.DictReader((faces_dir / "identities.csv").read_text().splitlines()))
    rejected = {r["path"]: faces.judge_selfie(face_photo(r["path"])).reason for r in rows}
    assert {p: r for p, r in rejected.items() if r is not None} == {}


@pytest.mark.faces
def test_the_cnn_detector_is_an_option(faces_dir) -> None:  # type: ignore[no-untyped-def]
    decoded = faces.decode(face_photo("ageitgey_face_recognition/examples/obama_small.jpg"))
    assert len(faces.detect(decoded.rgb, upsample=0, model="cnn")) == 1


# --- Engine v2: YuNet on full-resolution tiles -------------------------------------------


def test_the_yunet_model_is_the_one_whose_hash_we_pinned() -> None:
    import hashlib
    from pathlib import Path

    path = Path(faces.yunet_path())
    assert path.name == "face_detection_yunet_2023mar.onnx"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == faces.YUNET_SHA256


def test_a_model_file_with_another_hash_stops_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faces, "YUNET_SHA256", "0" * 64)
    with pytest.raises(faces.ModelsMissing, match="sha256"):
        faces.yunet_path()


@pytest.mark.parametrize("length", [300, 1024, 1025, 2000, 4000, 6000])
def test_tiles_cover_the_side_and_overlap_by_at_least_the_overlap(length: int) -> None:
    origins = faces._tile_origins(length)
    assert origins[0] == 0
    assert origins[-1] + faces.TILE >= length
    assert origins[-1] == max(0, length - faces.TILE)
    for before, after in itertools.pairwise(origins):
        assert before + faces.TILE - after >= faces.TILE_OVERLAP


def test_merging_keeps_the_best_of_duplicates_and_drops_half_faces() -> None:
    face = (100, 200, 200, 100)
    same_face_other_tile = (102, 201, 203, 101)
    upper_half = (100, 200, 150, 100)  # cut by a tile edge, inside the whole face
    neighbour = (100, 330, 200, 230)
    kept = faces.merge_detections(
        [(0.85, same_face_other_tile), (0.95, face), (0.99, upper_half), (0.9, neighbour)]
    )
    assert sorted(kept) == sorted([(0.95, face), (0.9, neighbour)])


def test_big_images_become_the_same_array_in_strips() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (2100, 2500, 3), dtype=np.uint8)  # 5.25 MP: strips
    image = Image.fromarray(pixels)
    assert np.array_equal(faces._to_array(image), pixels)


def _head(data: bytes) -> tuple[Image.Image, int]:
    """The face of a portrait with hair and chin, and the face's width in it."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    (top, right, bottom, left), *_ = faces.detect(np.asarray(image), upsample=0)
    w, h = right - left, bottom - top
    box = (max(0, left - w // 2), max(0, top - h // 2), right + w // 2, bottom + h // 2)
    return image.crop(box), w


def _paste(canvas: Image.Image, head: tuple[Image.Image, int], width: int, at: tuple) -> tuple:
    """Paste the head so its face is `width` px wide with the crop's corner at `at`; the
    face's expected box (top, right, bottom, left)."""
    image, face_width = head
    k = width / face_width
    scaled = image.resize((round(image.width * k), round(image.height * k)), Image.LANCZOS)
    canvas.paste(scaled, at)
    left, top = at[0] + scaled.width / 4, at[1] + scaled.height / 4
    return (round(top), round(left + width), round(top + scaled.height / 2), round(left))


def _noisy(size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.normal(110, 12, (size[1], size[0], 3)).clip(0, 255).astype("uint8"))


def _overlaps(a: tuple, b: tuple) -> bool:
    return min(a[1], b[1]) > max(a[3], b[3]) and min(a[2], b[2]) > max(a[0], b[0])


@pytest.mark.faces
def test_small_faces_in_a_24_mp_crowd_are_found_and_match_their_owner(faces_dir) -> None:  # type: ignore[no-untyped-def]
    obama, biden = _head(face_photo(OBAMA_2)), _head(face_photo(BIDEN))
    canvas = _noisy((6000, 4000))
    expected = {
        "obama 44 px": _paste(canvas, obama, 44, (700, 900)),
        "obama 56 px": _paste(canvas, obama, 56, (3100, 2500)),
        "obama 72 px": _paste(canvas, obama, 72, (5200, 3500)),
        "biden 48 px": _paste(canvas, biden, 48, (1700, 3300)),
    }
    _, found = faces.index_photo(_jpeg(canvas))
    assert len(found) == len(expected)
    selfie = faces.judge_selfie(face_photo(OBAMA))
    for name, box in expected.items():
        (face,) = [f for f in found if _overlaps(f.box, box)]
        distance = float(np.linalg.norm(face.encoding - selfie.encoding))
        assert (distance <= 0.55) == name.startswith("obama"), (name, distance)
    # The engine before v2 (HOG on a 2000 px copy) sees none of them: the gap v2 closes.
    assert faces.index_photo(_jpeg(canvas), model="hog")[1] == []


@pytest.mark.faces
def test_faces_across_tile_edges_and_bigger_than_a_tile_are_found_once(faces_dir) -> None:  # type: ignore[no-untyped-def]
    obama = _head(face_photo(OBAMA_2))
    canvas = _noisy((3000, 2000))
    stride = faces.TILE - faces.TILE_OVERLAP
    assert 150 < faces.TILE_OVERLAP < 700
    expected = [
        # across the first vertical tile edge, inside the next tile's overlap
        _paste(canvas, obama, 120, (stride - 60, 200)),
        # across the first tile's right and bottom edges at once
        _paste(canvas, obama, 150, (faces.TILE - 150, faces.TILE - 150)),
        # wider than the overlap and crossing tiles: only the overview sees it whole
        _paste(canvas, obama, 700, (1550, 300)),
    ]
    _, found = faces.index_photo(_jpeg(canvas))
    assert len(found) == len(expected)
    for box in expected:
        assert sum(_overlaps(f.box, box) for f in found) == 1


@pytest.mark.faces
def test_every_hand_drawn_pascal_face_is_found_in_the_small_originals(faces_dir) -> None:  # type: ignore[no-untyped-def]
    from loadtest.crowd_bench import iou
    from loadtest.datasets import pascal_boxes

    truth = pascal_boxes()
    missed = []
    for name, boxes in truth.items():
        _, found = faces.index_photo(face_photo(f"dlib_examples_faces/{name}"))
        missed += [(name, gt) for gt in boxes if not any(iou(gt, f.box) >= 0.3 for f in found)]
    assert sum(map(len, truth.values())) == 43
    assert missed == []


def test_a_16_bit_image_is_scaled_to_8_bits_by_its_brightest_pixel() -> None:
    """In strips, a byte a pixel: the old float copy of the whole image took 16."""
    gradient = Image.new("I;16", (300, 600))
    gradient.putdata([row * 100 for row in range(600) for _ in range(300)])
    buffer = io.BytesIO()
    gradient.save(buffer, "PNG")
    rgb = faces.decode(buffer.getvalue()).rgb
    assert rgb.shape == (600, 300, 3)
    assert (rgb[0, 0].tolist(), rgb[-1, -1].tolist()) == ([0, 0, 0], [255, 255, 255])
    assert rgb[300, 10, 0] == round(300 * 100 * 255 / 59_900)
    assert (rgb[:, :, 0] == rgb[:, :, 2]).all()


def test_an_image_over_the_decoding_budget_is_refused_before_a_pixel_is_decoded() -> None:
    """The review's 169 kB 16-bit PNG of 9459x9459: 2 GiB at the worker's peak, before."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

    ihdr = (9459).to_bytes(4, "big") * 2 + bytes([16, 0, 0, 0, 0])
    # No pixels at all: a decoder that tried to read one would fail another way.
    header_only = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
    with pytest.raises(faces.InvalidImage) as error:
        faces.decode(header_only, budget=decoding.selfie_budget())  # it came as a selfie
    assert error.value.code == "too_large_to_decode"
    assert decoding.reduction_for("PNG", "I;16", 9459, 9459) == 4, "as a photo: at 1/4"


@pytest.mark.faces
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_an_image_over_the_budget_is_decoded_reduced_with_boxes_in_original_pixels(
    faces_dir,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,  # type: ignore[no-untyped-def]
) -> None:
    """A JPEG is decoded at 1/2 scale by libjpeg; a PNG whole, then reduced before its
    conversion. Either way the faces are the same people, in the original's pixels."""
    data = face_photo(TWO_PEOPLE)
    if fmt == "PNG":
        buffer = io.BytesIO()
        Image.open(io.BytesIO(data)).save(buffer, "PNG")
        data = buffer.getvalue()
    whole, found = faces.index_photo(data)
    width, height = whole.width, whole.height
    # Half the sides fit, the whole does not.
    budget = decoding.decode_cost("RGB", width, height, 2, draft=fmt == "JPEG")
    assert decoding.decode_cost("RGB", width, height) > budget
    monkeypatch.setattr(settings, "DECODE_BUDGET_BYTES", budget)
    reduced, found_reduced = faces.index_photo(data)
    assert reduced.rgb.shape[1] == -(-width // 2) and reduced.scale == pytest.approx(2, rel=0.01)
    assert (reduced.width, reduced.height) == (width, height)
    assert len(found_reduced) == len(found) == 2
    for face, again in zip(sorted(found, key=lambda f: f.box[3]),
                           sorted(found_reduced, key=lambda f: f.box[3]), strict=True):  # fmt: skip
        assert max(abs(a - b) for a, b in zip(face.box, again.box, strict=True)) <= 0.1 * face.size
        assert np.linalg.norm(face.encoding - again.encoding) < 0.25, "the same person"


def test_a_worker_refuses_no_image_the_api_accepted_by_its_pixels() -> None:
    """A worker never imports the API's image checks, and Pillow's own limit is 89.5 MP."""
    import subprocess
    import sys

    probe = "import PIL.Image, workers.faces; print(PIL.Image.MAX_IMAGE_PIXELS)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert int(out.stdout) == settings.MAX_IMAGE_PIXELS == faces.MAX_PIXELS


@pytest.mark.parametrize("mode", ["RGBA", "I;16", "L"])
def test_every_mode_decoded_whole_then_reduced_is_8_bit_rgb(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reduced before its conversion; transparency still ends white. (A palette is never
    reduced: its conversion to RGB would cost more than decoding it whole.)"""
    image = Image.new(mode, (400, 300))
    if mode == "RGBA":
        image.paste((255, 0, 0, 255), (0, 0, 200, 300))  # the right half is transparent
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    budget = decoding.decode_cost(mode, 400, 300, 2, draft=False)
    monkeypatch.setattr(settings, "DECODE_BUDGET_BYTES", budget)
    decoded = faces.decode(buffer.getvalue())
    assert decoded.rgb.shape == (150, 200, 3) and decoded.scale == 2
    if mode == "RGBA":
        assert decoded.rgb[75, 50].tolist() == [255, 0, 0]
        assert decoded.rgb[75, 150].tolist() == [255, 255, 255], "transparent: white"
    assert decoding.reduction_for("PNG", "P", 4000, 3000, 10**6) is None


def test_a_phone_heic_selfie_fits_its_budget_and_its_decoder_copy_is_counted() -> None:
    """libheif decodes into its own buffer beside Pillow's (a 20 MP HEIC's load peaks at
    7.1 bytes a pixel): a 12 MP front-camera HEIC is a selfie, a 48 MP "HEIF Max" photo is
    over the photo budget even reduced."""
    assert decoding.reduction_for("HEIF", "RGB", 4032, 3024, decoding.selfie_budget()) == 1
    assert decoding.reduction_for("HEIF", "RGB", 5712, 4284) == 1  # 24 MP
    assert decoding.reduction_for("HEIF", "RGB", 8064, 6048) is None
    assert decoding.reduction_for("PNG", "RGB", 8064, 6048) == 2
