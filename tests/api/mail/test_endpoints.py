"""`/dev/mail`: local mode's caught mail, to click a sign-in link without a mail account."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.config import settings
from tests.helpers import create_event, create_user, mailed


def test_the_local_mail_page_lists_caught_mail_with_its_links(
    client: TestClient, session: Session
) -> None:
    assert "No mail yet" in client.get("/dev/mail").text
    event = create_event(session, owner=create_user(session), name="Harbour Run")
    body = {"event_code": event.code, "email": "ann@example.com", "consent": True}
    assert client.post("/api/register-with-event-code", json=body).status_code == 202
    [mail] = mailed("ann@example.com")
    page = client.get("/dev/mail")
    assert page.status_code == 200
    assert "Confirm your email to find your photos at Harbour Run" in page.text
    link = next(u for u in mail.links if "/signin#" in u)
    assert f'class="mail-link" href="{link}"' in page.text
    shown = client.get(f"/dev/mail/{mail.name}")
    assert shown.status_code == 200 and link in shown.text
    assert client.get("/dev/mail/nothing.eml").status_code == 404


def test_cluster_mode_serves_no_mail_page(services, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from api.main import create_app

    monkeypatch.setattr(settings, "MODE", "cluster")
    cluster = TestClient(create_app())
    assert cluster.get("/signin").status_code == 200
    assert cluster.get("/dev/mail").status_code == 404


def test_the_mail_page_is_for_this_machine_only(client: TestClient, session: Session) -> None:
    """`make dev` on 0.0.0.0 for phones: a laptop on the same Wi-Fi must not read the links,
    even by naming 127.0.0.1 in a header."""
    from api.main import create_app

    event = create_event(session, owner=create_user(session), name="Harbour Run")
    body = {"event_code": event.code, "email": "ann@example.com", "consent": True}
    assert client.post("/api/register-with-event-code", json=body).status_code == 202
    [mail] = mailed("ann@example.com")
    assert client.get(f"/dev/mail/{mail.name}").status_code == 200
    with TestClient(create_app(), client=("192.168.1.20", 50000)) as neighbour:
        for path in ("/dev/mail", f"/dev/mail/{mail.name}"):
            for headers in ({}, {"X-Forwarded-For": "127.0.0.1"}):
                response = neighbour.get(path, headers=headers)
                assert response.status_code == 404, (path, headers)
                assert "ann@example.com" not in response.text and "signin" not in response.text
