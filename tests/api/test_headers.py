"""Security headers on every answer, and rate limits on the routes that hash passwords."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.config import settings
from tests.helpers import PASSWORD, create_event, create_user


def test_pages_and_api_answers_carry_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/api/users/me", "/static/app.js", "/readyz", "/nope"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
    assert client.get("/api/users/me").headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in client.get("/").headers
    # FastAPI's explorer needs its CDN and inline script; it still gets the rest.
    docs = client.get("/docs").headers
    assert "content-security-policy" not in docs
    assert docs["x-frame-options"] == "DENY"


def test_hsts_is_sent_over_https(client: TestClient) -> None:
    secure = TestClient(client.app, base_url="https://facematch.example")
    assert secure.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


def _login(client: TestClient, email: str, password: str = "wrong password"):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/token", data={"username": email, "password": password})


def test_login_is_limited_per_account_even_with_the_right_password(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT", 3)
    create_user(session, email="victim@example.com")
    statuses = [_login(client, "Victim@example.com").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    refused = _login(client, "victim@example.com", PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another account from the same address is not affected.
    create_user(session, email="other@example.com")
    assert _login(client, "other@example.com", PASSWORD).status_code == 200


def test_login_is_limited_per_address(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "LOGIN_ATTEMPTS_PER_MINUTE_PER_IP", 4)
    statuses = [_login(client, f"guess{n}@example.com").status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


def test_registration_is_limited_per_address(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "REGISTRATIONS_PER_MINUTE_PER_IP", 2)
    event = create_event(session, owner=create_user(session))

    def register(n: int) -> int:
        body = {"event_code": event.code, "email": f"a{n}@example.com", "consent": True}
        return client.post("/api/register-with-event-code", json=body).status_code

    assert [register(n) for n in range(3)] == [202, 202, 429]


def test_a_limit_of_zero_turns_the_check_off(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, redis
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(settings, "LOGIN_ATTEMPTS_PER_MINUTE_PER_IP", 0)
    monkeypatch.setattr(settings, "LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT", 0)
    assert {_login(client, "x@example.com").status_code for _ in range(12)} == {401}
    assert redis.keys("ratelimit:*") == []
