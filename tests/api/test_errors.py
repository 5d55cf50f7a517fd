from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import Session


def test_an_exhausted_connection_pool_is_a_503_not_a_500(client: TestClient, clean: None) -> None:
    from api.deps import get_session
    from core.db import get_engine

    engine = create_engine(get_engine().url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    held = engine.connect()  # the pool's only connection, busy elsewhere

    def exhausted_session() -> Iterator[Session]:
        with Session(engine) as session:
            session.connection()
            yield session

    client.app.dependency_overrides[get_session] = exhausted_session  # type: ignore[attr-defined]
    try:
        response = client.post(
            "/api/register-with-event-code",
            json={"event_code": "ABC-DEF", "email": "a@example.com", "password": "x" * 12,
                  "name": "A", "consent": True},
        )  # fmt: skip
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
        held.close()
        engine.dispose()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "ServiceUnavailable"


def test_a_cursor_the_api_did_not_give_is_a_400_on_every_list(
    client: TestClient, session: Session
) -> None:
    """A forged or mangled cursor never reaches PostgreSQL as a 500, on any paged list."""
    import base64

    from tests.helpers import create_event, create_user, register_attendee, token_headers

    create_user(session, email="admin@example.com", role="admin")
    event = create_event(session, owner=create_user(session))
    admin = token_headers(client, "admin@example.com")
    attendee = register_attendee(client, event.code)
    lists = [(path, admin) for path in ("/api/events", f"/api/events/{event.id}/photos",
                                        "/api/admin/users", "/api/admin/audit")]  # fmt: skip
    lists.append(("/api/me/photos", attendee["headers"]))
    naive = base64.urlsafe_b64encode(b"2026-12-02T10:00:00|" + str(event.id).encode()).decode()
    for path, headers in lists:
        for cursor in ("garbage", "x" * 201, naive, "%%%", base64.b64encode(b"\xff|x").decode()):
            response = client.get(path, params={"cursor": cursor}, headers=headers)
            assert response.status_code in (400, 422), (path, cursor)
            if response.status_code == 400:
                assert response.json()["code"] == "invalid_cursor", (path, cursor)
        assert client.get(path, headers=headers).status_code == 200, path


def test_a_nul_character_is_a_422_and_nothing_is_stored(
    client: TestClient, session: Session
) -> None:
    """Found by schemathesis: a NUL in a name reached PostgreSQL and came back a 500."""
    from sqlmodel import func, select

    from core.models import User
    from tests.helpers import create_user, token_headers

    create_user(session, email="admin@example.com", role="admin")
    headers = token_headers(client, "admin@example.com")
    response = client.post(
        "/api/admin/users",
        json={"email": "new@example.com", "password": "x" * 12, "full_name": "A\x00B",
              "role": "photographer"},
        headers=headers,
    )  # fmt: skip

    assert response.status_code == 422, "a name is one line of text: no control character"
    assert session.exec(select(func.count()).select_from(User)).one() == 1


def test_a_value_postgresql_cannot_hold_is_a_422_not_a_500(session: Session) -> None:
    """What validation lets through and PostgreSQL refuses (a NUL in free text) is the
    client's error: the handler answers 422 `invalid_value`, never a 500."""
    from fastapi import FastAPI
    from sqlalchemy import text

    from api.errors import install_handlers

    app = FastAPI()
    install_handlers(app)

    @app.get("/nul")
    def nul() -> None:
        session.execute(text("SELECT CAST(:value AS text)"), {"value": "A\x00B"})

    response = TestClient(app).get("/nul")
    assert (response.status_code, response.json()["code"]) == (422, "invalid_value")


def test_control_characters_are_dropped_from_uploaded_file_names(
    client: TestClient, session: Session
) -> None:
    from tests.helpers import create_event, create_user, image_bytes, token_headers

    owner = create_user(session, email="owner@example.com")
    event = create_event(session, owner=owner)
    # Built by hand: HTTP clients percent-encode control characters, a raw client need not.
    body = (
        b'--B\r\nContent-Disposition: form-data; name="files"; '
        b'filename="party\x00\x01 night.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        + image_bytes()
        + b"\r\n--B--\r\n"
    )
    response = client.post(
        f"/api/events/{event.id}/photos",
        content=body,
        headers={
            **token_headers(client, "owner@example.com"),
            "Content-Type": "multipart/form-data; boundary=B",
        },
    )

    assert response.status_code == 202, response.text
    assert response.json()["data"][0]["filename"] == "party night.jpg"
