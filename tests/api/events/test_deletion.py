"""Deleting an event: a job that leaves nothing behind, and an event that takes nothing
new meanwhile."""

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core import queue
from core.models import AuditEntry, Event, Face, MatchRejection, Selfie, User, utcnow
from core.redis import get_redis
from core.storage import get_storage, preview_key
from tests.helpers import (
    create_event,
    create_match,
    create_photo,
    create_user,
    image_bytes,
    register_attendee,
    run_jobs,
    token_headers,
    traces_of_event,
    upload_selfie,
)


def _full_event(client: TestClient, session: Session, owner: User) -> tuple[Event, dict]:  # type: ignore[type-arg]
    """An event with photos, previews, faces, matches, a "not me", attendees and selfies
    (one image kept), and a second event one of its attendees also joined."""
    event = create_event(session, owner=owner)
    photos = [create_photo(session, event=event, data=b"\xff\xd8jpeg", status="indexed")
              for _ in range(3)]  # fmt: skip
    get_storage().put(preview_key(event.id, photos[0].id, "thumb"), b"thumb")
    lonely = register_attendee(client, event.code)
    shared_email = "twice@example.com"
    shared = register_attendee(client, event.code, email=shared_email)
    other = create_event(session, owner=owner, name="Other party")
    register_attendee(client, other.code, email=shared_email)
    uploaded = upload_selfie(client, lonely["headers"]).json()  # its image is in storage
    queue.JobQueue(get_redis()).discard(
        queue.validate_selfie(uuid.UUID(uploaded["selfie_id"]))
    )  # left pending, its image kept: the deletion must find both
    create_match(session, photo=photos[0], attendee_id=lonely["attendee_id"])
    create_match(session, photo=photos[1], attendee_id=shared["attendee_id"])
    session.add(MatchRejection(attendee_id=uuid.UUID(shared["attendee_id"]), photo_id=photos[2].id))
    session.commit()
    ids = {
        "photos": [p.id for p in photos],
        "selfie": uuid.UUID(uploaded["selfie_id"]),
        "attendees": [uuid.UUID(a["attendee_id"]) for a in (lonely, shared)],
        "lonely_user": session.exec(
            select(User.id).where(User.email != shared_email, User.role == "attendee")
        ).one(),
        "shared_user": session.exec(select(User).where(User.email == shared_email)).one().id,
        "other": other.id,
    }
    return event, ids


def test_deleting_an_event_leaves_no_row_file_or_queue_entry_and_keeps_the_audit_counts(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    event, ids = _full_event(client, session, owner)
    event_id = event.id  # the row goes: its id is all that is left to ask about
    for photo_id in ids["photos"]:  # index jobs still queued: they must go too
        queue.JobQueue(redis).enqueue(queue.index_photo(photo_id))
    until = (utcnow() + timedelta(days=2)).isoformat()
    gallery = client.put(f"/api/events/{event.id}/gallery", headers=headers,
                         json={"password": "harbour-regatta", "expires_at": until})  # fmt: skip
    token = gallery.json()["url"].rsplit("/g/", 1)[1]
    entered = client.post(f"/api/galleries/{token}/access", json={"password": "harbour-regatta"})
    assert entered.status_code == 200, "a visitor's access, alive for hours"
    everything = [*ids["photos"], ids["selfie"], *ids["attendees"], ids["lonely_user"]]
    before = traces_of_event(session, redis, event.id, *everything)
    assert before["rows"]["photos.event_id"] == 3 and len(before["files"]) == 5
    assert before["redis"], "the queued jobs name the photos"
    assert any(key.startswith("gallery-access:") for key in before["redis"])

    response = client.delete(f"/api/events/{event.id}", headers=headers)
    assert response.status_code == 202
    body = response.json()
    assert body == {"event_id": str(event.id), "job_id": f"delete-event-{event.id}",
                    "status": "deleting", "status_url": f"/api/events/{event.id}"}  # fmt: skip
    assert client.get(body["status_url"], headers=headers).json()["status"] == "deleting"
    assert client.delete(f"/api/events/{event.id}", headers=headers).status_code == 202, "again"

    run_jobs(redis, queue.MAINTENANCE)  # the deletion; the photos' jobs must be gone with them

    assert client.get(body["status_url"], headers=headers).status_code == 404
    assert traces_of_event(session, redis, event.id, *everything) == {
        "rows": {}, "files": [], "redis": []
    }  # fmt: skip
    session.expire_all()
    assert session.get(User, ids["shared_user"]) is not None, "they joined another event"
    assert session.get(Event, ids["other"]) is not None
    audit = {(e.action.value, e.count, e.reason, e.actor.split(":")[0])
             for e in session.exec(select(AuditEntry).where(AuditEntry.event_id == event_id))
             if e.action.value not in ("selfie_image.stored", "consent.given")}  # fmt: skip
    assert audit == {
        ("event.deletion_requested", 1, None, "photographer"),
        ("photos.deleted", 3, "event_deleted", "worker"),
        ("face_encodings.deleted", 2, "event_deleted", "worker"),
        ("matches.deleted", 2, "event_deleted", "worker"),
        ("selfie_image.deleted", 1, "event_deleted", "worker"),
        ("event.deleted", 1, "event_deleted", "worker"),
    }
    assert queue.delete_event(event_id).job_id not in str(redis.keys())


def test_a_deleting_event_takes_no_photo_selfie_attendee_or_change(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    event = create_event(session, owner=owner)
    attendee = register_attendee(client, event.code)
    assert client.delete(f"/api/events/{event.id}", headers=headers).status_code == 202

    upload = client.post(f"/api/events/{event.id}/photos", headers=headers,
                         files=[("files", ("a.jpg", image_bytes(), "image/jpeg"))])  # fmt: skip
    assert (upload.status_code, upload.json()["code"]) == (409, "event_deleting")
    selfie = upload_selfie(client, attendee["headers"])
    assert (selfie.status_code, selfie.json()["code"]) == (409, "event_deleting")
    joined = client.post("/api/register-with-event-code", json={
        "event_code": event.code, "email": "late@example.com", "password": "x" * 12,
        "name": "Late", "consent": True})  # fmt: skip
    assert (joined.status_code, joined.json()["code"]) == (404, "event_not_found")
    assert client.get(f"/e/{event.code}").status_code == 404
    for method, path, json in (
        ("PATCH", f"/api/events/{event.id}", {"name": "Renamed"}),
        ("POST", f"/api/photographer/events/{event.id}/rematch", None),
    ):
        answer = client.request(method, path, headers=headers, json=json)
        assert (answer.status_code, answer.json()["code"]) == (409, "event_deleting"), path
    reopened = client.patch(f"/api/events/{event.id}", headers=headers, json={"status": "deleting"})
    assert reopened.status_code == 422, "a status is never set to deleting by hand"
    assert session.exec(select(Selfie)).all() == [] and session.exec(select(Face)).all() == []


def test_another_photographer_cannot_delete_the_event(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    create_user(session, email="q@example.com")
    other = token_headers(client, "q@example.com")
    response = client.delete(f"/api/events/{event.id}", headers=other)
    assert (response.status_code, response.json()["code"]) == (403, "not_owner")
    assert client.delete(f"/api/events/{uuid.uuid4()}", headers=other).status_code == 404
    session.refresh(event)
    assert event.status == "open"


def test_a_closed_event_is_deleted_by_the_reconciler_once_its_retention_has_passed(
    client: TestClient, session: Session, redis: Redis, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Its own days first, else the platform's; an open event, or one closed more
    recently, is kept."""
    from api.reconciler.service import reconcile_once
    from core.config import settings

    monkeypatch.setattr(settings, "EVENT_RETENTION_DAYS", 30)
    owner = create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    own_days = client.post("/api/events", headers=headers,
                           json={"name": "Kept 2 days", "retention_days": 2}).json()  # fmt: skip
    assert own_days["retention_days"] == 2 and own_days["deletes_at"] is None, "still open"
    closed = client.patch(f"/api/events/{own_days['id']}", headers=headers,
                          json={"status": "closed"}).json()  # fmt: skip
    assert closed["deletes_at"] is not None
    platform = create_event(session, owner=owner, name="Platform's 30 days")
    recent = create_event(session, owner=owner, name="Closed yesterday")
    create_event(session, owner=owner, name="Open")
    for event, closed_days_ago in ((platform, 31), (recent, 1)):
        event.status, event.closed_at = "closed", utcnow() - timedelta(days=closed_days_ago)
        session.add(event)
    own = session.get(Event, uuid.UUID(own_days["id"]))
    own.closed_at = utcnow() - timedelta(days=3)  # type: ignore[union-attr]
    session.add(own)
    session.commit()

    report = reconcile_once()
    assert sorted(report.enqueued) == sorted(
        [queue.delete_event(own.id).job_id, queue.delete_event(platform.id).job_id]  # type: ignore[union-attr]
    )
    run_jobs(redis)
    session.expire_all()
    left = {e.name for e in session.exec(select(Event)).all()}
    assert left == {"Closed yesterday", "Open"}
    actors = {e.actor for e in session.exec(select(AuditEntry).where(
        AuditEntry.action == "event.deletion_requested"))}  # fmt: skip
    assert actors == {"retention"}
