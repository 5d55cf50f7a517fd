"""The face engine on its own: decoding edge cases and real photos of real people."""

import io

import numpy as np
import pytest
from PIL import Image

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
