from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from core.config import settings
from tests.helpers import create_event, create_photo, create_user, token_headers


def _selfie(session: Session, event, *, status: str, seconds: float, minutes_ago: float = 1):  # type: ignore[no-untyped-def]
    from core.models import Attendee, Selfie, SelfieStatus, utcnow

    created = utcnow() - timedelta(minutes=minutes_ago)
    user = create_user(session, role="attendee")
    attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=created,
                        consent_policy_version=settings.CONSENT_POLICY_VERSION)  # fmt: skip
    session.add(attendee)
    session.flush()
    session.add(
        Selfie(
            attendee_id=attendee.id,
            event_id=event.id,
            status=SelfieStatus(status),
            created_at=created,
            updated_at=created + timedelta(seconds=seconds),
        )
    )
    session.commit()


def test_throughput_reports_selfie_latency_and_indexing_rate(
    client: TestClient, session: Session
) -> None:
    from core.models import PhotoStatus, utcnow

    admin = create_user(session, email="admin@example.com", role="admin")
    event = create_event(session, owner=admin)
    for seconds in (1.0, 2.0, 3.0, 4.0):
        _selfie(session, event, status="valid", seconds=seconds)
    _selfie(session, event, status="rejected", seconds=5.0)
    _selfie(session, event, status="pending", seconds=0)
    _selfie(session, event, status="valid", seconds=60, minutes_ago=120)  # before the window
    for _ in range(3):
        create_photo(session, event=event, status=PhotoStatus.indexed, indexed_at=utcnow())
    create_photo(session, event=event, status=PhotoStatus.pending)

    since = (utcnow() - timedelta(minutes=10)).isoformat()
    response = client.get(
        "/api/admin/throughput", params={"since": since}, headers=token_headers(client, admin.email)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["selfies_done"] == 5
    assert body["selfies_waiting"] == 1
    assert body["selfie_p50_ms"] == 3000.0
    assert body["selfie_max_ms"] == 5000.0
    assert 4000.0 < body["selfie_p95_ms"] < 5000.0
    assert body["photos_indexed"] == 3
    assert body["photos_waiting"] == 1
    assert 0 < body["photos_indexed_per_second"] <= 3 / 600 + 1e-3


def test_throughput_is_for_admins_and_wants_an_aware_time(
    client: TestClient, session: Session
) -> None:
    create_user(session, email="admin@example.com", role="admin")
    photographer = create_user(session)
    admin = token_headers(client, "admin@example.com")

    naive = client.get(
        "/api/admin/throughput", params={"since": "2026-01-01T00:00:00"}, headers=admin
    )
    forbidden = client.get(
        "/api/admin/throughput", headers=token_headers(client, photographer.email)
    )

    assert naive.status_code == 400
    assert naive.json()["error"] == "BadRequest"
    assert forbidden.status_code == 403


def test_queue_stats_list_each_live_worker(client: TestClient, session: Session) -> None:
    from rq import Worker

    from core.queue import QUEUE_NAMES, JobQueue
    from core.redis import get_redis

    create_user(session, email="admin@example.com", role="admin")
    queues = list(JobQueue(get_redis()).queues[name] for name in QUEUE_NAMES)
    worker = Worker(queues, connection=get_redis(), name="pod-a.1")
    worker.register_birth()
    try:
        stats = client.get(
            "/api/admin/queues", headers=token_headers(client, "admin@example.com")
        ).json()
    finally:
        worker.register_death()
    assert stats["workers"] == 1
    [listed] = stats["worker_list"]
    assert listed["name"] == "pod-a.1"
    assert listed["queues"] == list(QUEUE_NAMES)
    assert listed["current_job"] is None
    assert (listed["successful_jobs"], listed["failed_jobs"]) == (0, 0)


def test_the_audit_log_is_for_admins_and_filters_by_event(
    client: TestClient, session: Session
) -> None:
    from core.models import AuditAction, AuditEntry

    create_user(session, email="admin@example.com", role="admin")
    owner = create_user(session, email="p@example.com")
    events = [create_event(session, owner=owner) for _ in range(2)]
    for event in events:
        session.add(AuditEntry(action=AuditAction.face_encodings_created, event_id=event.id,
                               count=3, actor="worker"))  # fmt: skip
    session.commit()
    assert (
        client.get("/api/admin/audit", headers=token_headers(client, "p@example.com")).status_code
        == 403
    )
    headers = token_headers(client, "admin@example.com")
    assert client.get("/api/admin/audit", headers=headers).json()["count"] == 2
    body = client.get(
        "/api/admin/audit", params={"event_id": str(events[0].id)}, headers=headers
    ).json()
    assert body["count"] == 1
    [entry] = body["data"]
    assert (entry["action"], entry["count"], entry["actor"]) == (
        "face_encodings.created",
        3,
        "worker",
    )
    assert entry["event_id"] == str(events[0].id)
    session.add(AuditEntry(action=AuditAction.event_deleted, event_id=events[1].id, count=1,
                           actor="worker", reason="event_deleted"))  # fmt: skip
    session.commit()
    deleted = client.get("/api/admin/audit", params={"action": "event.deleted"}, headers=headers)
    assert [e["event_id"] for e in deleted.json()["data"]] == [str(events[1].id)]
    both = {"action": "face_encodings.created", "event_id": str(events[1].id)}
    assert client.get("/api/admin/audit", params=both, headers=headers).json()["count"] == 1
    wrong = client.get("/api/admin/audit", params={"action": "nonsense"}, headers=headers)
    assert wrong.status_code == 422
