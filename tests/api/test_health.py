from fastapi.testclient import TestClient
from redis import Redis

from core.redis import get_redis


def test_liveness_answers_without_touching_anything(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readiness_checks_database_and_redis(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_is_503_when_redis_is_down(client: TestClient, monkeypatch) -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr("api.health.service.get_redis", lambda: dead)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "ServiceUnavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")
    assert get_redis().ping()
