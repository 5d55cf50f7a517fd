from __future__ import annotations

import cv2
import numpy as np
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.config import settings
from tests.helpers import create_event, create_user


def test_the_event_page_shows_the_event_and_the_consent_text(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session), name="Harbour <b>party</b>")
    response = client.get(f"/e/{event.code}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Harbour &lt;b&gt;party&lt;/b&gt;" in page  # escaped, never markup
    assert f'data-code="{event.code}"' in page
    assert "How we use your face" in page
    assert f"policy {settings.CONSENT_POLICY_VERSION}" in page
    assert "DELETE /api/me/face-data" in page


def test_a_code_typed_loosely_redirects_to_the_canonical_page(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    loose = event.code.replace("-", "").lower()
    response = client.get(f"/e/{loose}", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == f"/e/{event.code}"
    joined = client.get("/join", params={"code": f" {loose} "}, follow_redirects=False)
    assert (joined.status_code, joined.headers["location"]) == (303, f"/e/{event.code}")


def test_an_unknown_code_gets_a_404_page_that_says_so(client: TestClient, session: Session) -> None:
    response = client.get("/e/AAA-AAA")
    assert response.status_code == 404
    assert "No event has the code “AAA-AAA”" in response.text
    assert client.get("/join", params={"code": "nope"}).status_code == 404
    assert client.get("/e/AAA-AAA/qr.svg").status_code == 404


def test_the_qr_code_opens_the_join_link(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    png = client.get(f"/e/{event.code}/qr.png")
    assert png.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_GRAYSCALE)
    # The ArUco-based detector: the classic one misread about 1 code in 200 (a flaky test).
    text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    assert text == f"{settings.PUBLIC_URL.rstrip('/')}/e/{event.code}"

    svg = client.get(f"/e/{event.code}/qr.svg", params={"download": True})
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg")
    assert svg.headers["content-disposition"] == (
        f'attachment; filename="facematch-{event.code}.svg"'
    )


def test_every_page_and_its_assets_are_served(client: TestClient, session: Session) -> None:
    for path in ("/", "/login", "/studio", "/admin", "/privacy", "/studio/events/" + "0" * 32):
        response = client.get(path)
        assert response.status_code == 200, path
        for asset in ("/static/app.css", "/static/nav.js"):
            assert asset in response.text
    for name in ("app.js", "attendee.js", "event.js", "studio.js", "admin.js", "login.js"):
        script = client.get(f"/static/{name}")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]


def test_the_privacy_page_states_the_policy_version(client: TestClient) -> None:
    page = " ".join(client.get("/privacy").text.split())
    assert f"Policy version {settings.CONSENT_POLICY_VERSION}" in page
    assert "How long we keep it" in page
    assert "deleted as soon as it has been checked" in page
    hours = round(settings.UNMATCHED_FACE_RETENTION_HOURS)
    assert f"deleted {hours} hours after the event closes" in page
    assert "audit log" in page


def test_pages_are_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/api/") and p not in ("/healthz", "/readyz")]


def test_guessing_event_codes_is_limited_per_client(
    client: TestClient, session: Session, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """28 bits are not worth guessing at 3 a minute: past the misses, every code is refused,
    the right one included, while another client is not held back."""
    from api.main import create_app

    monkeypatch.setattr(settings, "EVENT_CODE_MISSES_PER_MINUTE_PER_IP", 3)
    event = create_event(session, owner=create_user(session))
    hits = [client.get(f"/e/{event.code}").status_code for _ in range(5)]
    assert hits == [200] * 5, "a hit counts nothing"
    guesses = [client.get(f"/e/AAA-{n:03d}").status_code for n in range(3)]
    assert guesses == [404, 404, 404]
    refused = client.get(f"/e/{event.code}/qr.svg")
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert int(refused.headers["retry-after"]) <= 60
    assert client.get(f"/join?code={event.code}", follow_redirects=False).status_code == 429
    with TestClient(create_app(), client=("198.51.100.9", 50000)) as other:
        assert other.get(f"/e/{event.code}").status_code == 200


def test_the_api_explorer_is_off_in_cluster_mode(services, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Swagger UI and ReDoc come from a CDN, unpinned, with no CSP, on the origin whose
    storage holds tokens: not in a cluster. The schema itself stays for clients."""
    from api.main import create_app

    monkeypatch.setattr(settings, "API_DOCS", False)
    cluster = TestClient(create_app())
    assert cluster.get("/docs").status_code == 404 and cluster.get("/redoc").status_code == 404
    assert cluster.get("/openapi.json").status_code == 200
    from core.config import Settings

    resolved = Settings(MODE="cluster", DATABASE_URL="postgresql://x", REDIS_URL="redis://x",
                        SECRET_KEY="k" * 40)  # fmt: skip
    assert resolved.API_DOCS is False
