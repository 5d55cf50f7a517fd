from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import Session


def test_an_exhausted_connection_pool_is_a_503_not_a_500(client: TestClient, clean: None) -> None:
    from api.db import get_engine
    from api.deps import get_session

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
