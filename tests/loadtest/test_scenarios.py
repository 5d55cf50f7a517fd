"""The load test's building blocks, without Locust."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from loadtest import scenarios


class FakeResponse:
    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.content = body
        self.text = body.decode()
        self.outcome: str | None = None

    def json(self) -> Any:
        import json

        return json.loads(self.content)

    def success(self) -> None:
        self.outcome = "success"

    def failure(self, reason: str) -> None:
        self.outcome = f"failure: {reason}"

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeClient:
    def __init__(self, response: FakeResponse) -> None:
        self.response = response

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        assert kwargs["catch_response"] is True
        return self.response


def _checked(status: int, body: bytes, expected: str) -> str | None:
    response = FakeResponse(status, body)
    with scenarios.checked(FakeClient(response), "GET", "/x", "x") as data:
        assert data["status"] == expected, f"status {data['status']}"
    return response.outcome


def test_a_response_passes_only_when_its_content_does() -> None:
    assert _checked(200, b'{"status": "valid"}', "valid") == "success"
    assert _checked(200, b'{"status": "rejected"}', "valid") == "failure: status rejected"
    assert _checked(200, b'{"other": 1}', "valid") == "failure: 'status'"
    assert _checked(200, b"<html>", "valid") == "failure: response is not JSON"
    assert _checked(503, b'{"error": "ServiceUnavailable"}', "valid") == (
        'failure: 503: {"error": "ServiceUnavailable"}'
    )
    assert _checked(0, b"", "valid") == "failure: 0: "


def _jpeg(path: Path) -> None:
    Image.new("RGB", (8, 8)).save(path, "JPEG")


def test_a_flat_folder_groups_photos_by_identity(tmp_path: Path) -> None:
    for name in ("ada__1.jpg", "ada__2.jpg", "bob__1.jpg", "notes.txt", "stray.jpg"):
        _jpeg(tmp_path / name) if name.endswith(".jpg") else (tmp_path / name).write_text("x")

    identities = scenarios.load_identities(tmp_path)

    assert [i.name for i in identities] == ["ada", "bob"]
    assert [name for name, _ in identities[0].photos] == ["ada__2.jpg"]
    # One photo only: it is both the selfie and the event photo.
    assert [name for name, _ in identities[1].photos] == ["bob__1.jpg"]


def test_no_face_photos_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="LOADTEST_FACES"):
        scenarios.load_identities(tmp_path)
