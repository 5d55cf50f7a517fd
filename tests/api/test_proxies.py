"""Behind the ingress: the client is the one the trusted proxy names, so two attendees keep
their own rate-limit buckets, while a header from any other peer is ignored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.config import Settings, settings

INGRESS_POD = ("10.42.3.7", 40000)
"""The ingress controller's pod, inside the trusted CIDR below."""


@pytest.fixture
def behind_ingress(clean: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from api.main import create_app

    monkeypatch.setattr(settings, "TRUSTED_PROXIES", "10.42.0.0/16")
    monkeypatch.setattr(settings, "LINK_REDEMPTIONS_PER_MINUTE_PER_IP", 3)
    with TestClient(create_app(), client=INGRESS_POD) as client:
        yield client


def _redeem(client: TestClient, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = client.post("/api/sign-in-link/redeem", json={"token": "x" * 43}, headers=headers)
    return response.status_code


def test_two_clients_behind_the_ingress_keep_separate_buckets(behind_ingress: TestClient) -> None:
    first = [_redeem(behind_ingress, "198.51.100.7") for _ in range(4)]
    second = [_redeem(behind_ingress, "203.0.113.9") for _ in range(3)]
    assert first == [400, 400, 400, 429], "the fourth junk redemption is this client's fourth"
    assert second == [400, 400, 400], "another attendee at the same ingress is not limited"


def test_the_client_is_the_address_the_trusted_proxy_appended(behind_ingress: TestClient) -> None:
    """A client may send its own X-Forwarded-For; the ingress appends the real address, and
    only the rightmost untrusted entry counts."""
    spoofed = [_redeem(behind_ingress, f"192.0.2.{n}, 198.51.100.7") for n in range(4)]
    assert spoofed == [400, 400, 400, 429]


def test_an_untrusted_peer_cannot_name_its_own_address(
    clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.main import create_app

    monkeypatch.setattr(settings, "TRUSTED_PROXIES", "10.42.0.0/16")
    monkeypatch.setattr(settings, "LINK_REDEMPTIONS_PER_MINUTE_PER_IP", 3)
    with TestClient(create_app(), client=("192.0.2.50", 40000)) as client:
        statuses = [_redeem(client, f"198.51.100.{n}") for n in range(4)]
    assert statuses == [400, 400, 400, 429], "a rotating header from the internet is one client"


def test_https_at_the_ingress_is_https_to_the_app(behind_ingress: TestClient) -> None:
    response = behind_ingress.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_wildcard_is_refused_outside_local_mode() -> None:
    with pytest.raises(ValueError, match="not \\*"):
        Settings(MODE="cluster", DATABASE_URL="postgresql://x", REDIS_URL="redis://x",
                 SECRET_KEY="k" * 40, TRUSTED_PROXIES="*")  # fmt: skip
