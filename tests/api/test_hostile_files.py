# ruff: noqa: E501  (the corpus reads best one case per line)
"""A corpus of broken and hostile files, made here: each is refused with a clear 4xx and a code,
as an event photo and as a selfie, and nothing of it is stored. The odd but real photos
beside them (CMYK, 16-bit, HEIC, EXIF-rotated, a misnamed PNG) are taken and indexed."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from redis import Redis
from sqlmodel import Session, func, select

from core.config import settings
from core.models import Photo, PhotoStatus, Selfie
from tests.helpers import (
    create_event,
    create_user,
    image_bytes,
    register_attendee,
    run_jobs,
    token_headers,
)


def _jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    return image_bytes(size=size)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int, *, depth: int = 8, color: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def _tiff_header_only(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD claims a size and points at no real pixels."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 8), (277, 3, 1), (278, 4, height), (279, 4, 2**32 - 1)]  # fmt: skip
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        ifd += struct.pack("<HHII", tag, kind, 1, value)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00"


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")  # 144 Mpx in a few kB
    return out.getvalue()


def _polyglot() -> bytes:
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("run.sh", random.Random(1).randbytes(8000))
    return _jpeg() + payload.getvalue()


def _animated_gif() -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", (64, 64), c) for c in ("red", "blue")]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def _saved(fmt: str, image: Image.Image | None = None, **kwargs: object) -> bytes:
    out = io.BytesIO()
    (image or Image.new("RGB", (64, 48), "orange")).save(out, fmt, **kwargs)
    return out.getvalue()


REFUSED: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "zero bytes": ("empty.jpg", lambda: b"", "empty_file"),
    "truncated JPEG": ("cut.jpg", lambda: _jpeg()[:1500], "truncated_image"),
    "JPEG header only": ("head.jpg", lambda: _jpeg()[:160], "not_an_image"),
    "text with a .jpg name": ("notes.jpg", lambda: b"these are not pixels\n" * 50, "not_an_image"),
    "HTML with a .jpg name": ("x.jpg", lambda: b"<html><script>alert(1)</script></html>", "not_an_image"),
    "SVG with a script": ("logo.svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not_an_image"),
    "PDF": ("scan.pdf", lambda: b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n", "not_an_image"),
    "random bytes": ("noise.jpg", lambda: random.Random(7).randbytes(20_000), "not_an_image"),
    "animated GIF": ("party.gif", _animated_gif, "unsupported_format"),
    "BMP": ("old.bmp", lambda: _saved("BMP"), "unsupported_format"),
    "decompression bomb": ("bomb.png", _bomb, "too_many_pixels"),
    "PNG header claiming 30000x30000": ("huge.png", lambda: _png_header_only(30_000, 30_000), "too_many_pixels"),
    # Under the pixel limit, but more than the decoding budget even decoded whole and reduced.
    "16-bit gray PNG of 12000x9900": ("deep.png", lambda: _png_header_only(12_000, 9_900, depth=16, color=0), "too_large_to_decode"),
    "RGBA PNG of 11000x8000": ("big.png", lambda: _png_header_only(11_000, 8_000, color=6), "too_large_to_decode"),
    "TIFF header claiming 100000x100000": ("huge.tif", lambda: _tiff_header_only(100_000, 100_000), "too_many_pixels"),
    "JPEG header claiming 60000x60000": ("huge.jpg", lambda: _jpeg_claiming(60_000, 60_000), "too_many_pixels"),
    "JPEG claiming 0x0": ("zero.jpg", lambda: _jpeg_claiming(0, 0), "not_an_image"),
    "JPEG/ZIP polyglot": ("poly.jpg", _polyglot, "embedded_payload"),
    "JPEG with a script after it": ("s.jpg", lambda: _jpeg() + b"<script>alert(1)</script>", "embedded_payload"),
    "truncated PNG": ("cut.png", lambda: _saved("PNG")[:-20], "truncated_image"),
    "truncated WebP": ("cut.webp", lambda: _saved("WEBP")[:-40], "unreadable_image"),
}  # fmt: skip

ODD_BUT_REAL: dict[str, tuple[str, Callable[[], bytes], str, tuple[int, int]]] = {
    "CMYK JPEG": ("print.jpg", lambda: _saved("JPEG", Image.new("CMYK", (64, 48), (0, 80, 160, 0))), "image/jpeg", (64, 48)),
    "16-bit PNG": ("deep.png", lambda: _saved("PNG", Image.new("I;16", (64, 48), 40_000)), "image/png", (64, 48)),
    "HEIC": ("IMG_0001.HEIC", lambda: _saved("HEIF"), "image/heic", (64, 48)),
    "EXIF-rotated JPEG": ("rotated.jpg", lambda: image_bytes(size=(64, 48), exif_orientation=6), "image/jpeg", (48, 64)),
    "PNG named .jpg": ("really-a-png.jpg", lambda: _saved("PNG"), "image/png", (64, 48)),
    "a path in the name": ("../../etc/passwd.jpg", lambda: _jpeg((64, 48)), "image/jpeg", (64, 48)),
    "a motion photo (video after the JPEG)": ("PXL_MP.jpg", lambda: _jpeg((64, 48)) + b"\x00\x00\x00\x18ftypmp42" + bytes(5000), "image/jpeg", (64, 48)),
    "a progressive JPEG": ("prog.jpg", lambda: _saved("JPEG", Image.effect_noise((64, 48), 50).convert("RGB"), progressive=True), "image/jpeg", (64, 48)),
}  # fmt: skip


def _stored_files() -> list[Path]:
    root = settings.storage_root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _photographer(client: TestClient, session: Session):  # type: ignore[no-untyped-def]
    owner = create_user(session, email="p@example.com")
    return create_event(session, owner=owner), token_headers(client, "p@example.com")


def test_the_corpus_is_at_least_twenty_files() -> None:
    assert len(REFUSED) + 2 >= 20  # and the two size limits below


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_a_hostile_file_is_refused_with_a_code_and_nothing_kept(
    client: TestClient, session: Session, redis: Redis, case: str
) -> None:
    pytest.importorskip("pillow_heif")
    filename, make, code = REFUSED[case]
    data = make()
    event, headers = _photographer(client, session)
    response = client.post(
        f"/api/events/{event.id}/photos", files=[("files", (filename, data))], headers=headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["error"], body["code"]) == ("InvalidImage", "no_valid_files")
    [refused] = body["detail"]
    assert (refused["filename"], refused["code"]) == (Path(filename).name, code)
    assert refused["detail"]

    attendee = register_attendee(client, event.code)
    selfie = client.post(
        "/api/upload-selfie", files={"file": (filename, data)}, headers=attendee["headers"]
    )
    assert selfie.status_code == 422, selfie.text
    assert selfie.json()["code"] == code

    assert session.exec(select(func.count()).select_from(Photo)).one() == 0
    assert session.exec(select(func.count()).select_from(Selfie)).one() == 0
    assert _stored_files() == []
    assert sum(redis.llen(f"rq:queue:{q}") for q in ("photos", "selfies")) == 0


def test_a_file_over_the_size_limit_is_a_413_read_no_further(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "MAX_UPLOAD_BYTES", 100_000)
    event, headers = _photographer(client, session)
    big = _saved("JPEG", Image.effect_noise((1000, 1000), 64).convert("RGB"))
    assert len(big) > 100_000
    response = client.post(
        f"/api/events/{event.id}/photos", files=[("files", ("big.jpg", big))], headers=headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["code"] == "file_too_large"
    assert _stored_files() == []


def test_too_many_files_in_one_body_is_a_413(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "MAX_FILES_PER_UPLOAD", 3)
    event, headers = _photographer(client, session)
    files = [("files", (f"{n}.jpg", _jpeg())) for n in range(4)]
    response = client.post(f"/api/events/{event.id}/photos", files=files, headers=headers)
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_files"
    assert _stored_files() == []
    assert session.exec(select(func.count()).select_from(Photo)).one() == 0


def test_odd_but_real_photos_are_taken_and_indexed_without_a_worker_error(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event, headers = _photographer(client, session)
    files = [("files", (name, make())) for name, make, _, _ in ODD_BUT_REAL.values()]
    response = client.post(f"/api/events/{event.id}/photos", files=files, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(ODD_BUT_REAL)
    run_jobs(redis)
    photos = {p.filename: p for p in session.exec(select(Photo))}
    for case, (name, _, content_type, size) in ODD_BUT_REAL.items():
        photo = photos[Path(name).name]
        assert (photo.status, photo.error) == (PhotoStatus.indexed, None), case
        assert photo.content_type == content_type, case
        assert (photo.width, photo.height) == size, case
        assert photo.storage_key.startswith(f"events/{event.id}/photos/"), case
        thumb = client.get(f"/api/photos/{photo.id}/image?size=thumb", headers=headers)
        assert (thumb.status_code, thumb.headers["content-type"]) == (200, "image/jpeg"), case
        assert Image.open(io.BytesIO(thumb.content)).size == size, case  # under 480 px: kept


def test_the_reviews_16_bit_png_is_refused_as_a_selfie_and_nothing_kept(
    client: TestClient, session: Session, redis: Redis
) -> None:
    """169 kB, 9459x9459, 16 bits: accepted as a selfie before, and 2 GiB in the worker."""
    event, _ = _photographer(client, session)
    attendee = register_attendee(client, event.code)
    data = _png_header_only(9459, 9459, depth=16, color=0)
    selfie = client.post("/api/upload-selfie", files={"file": ("deep.png", data)},
                         headers=attendee["headers"])  # fmt: skip
    assert (selfie.status_code, selfie.json()["code"]) == (422, "too_large_to_decode")
    assert session.exec(select(func.count()).select_from(Selfie)).one() == 0
    assert _stored_files() == [] and redis.llen("rq:queue:selfies") == 0
