"""Biometric data is kept only as long as it is needed, and each creation and deletion is logged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from sqlmodel import Session, select

from api.reconciler.service import reconcile
from core.config import settings
from core.models import AuditEntry, EventStatus, Face, SelfieStatus, utcnow
from core.queue import JobQueue, purge_unmatched_faces
from core.storage import get_storage
from tests.helpers import create_event, create_match, create_photo, create_user, image_bytes
from tests.workers.test_tasks import (
    OBAMA_2,
    TWO_PEOPLE,
    add_attendee,
    add_photo,
    add_selfie,
    face_photo,
)
from workers import tasks


def _audit(session: Session) -> list[tuple[str, int, str, str | None]]:
    session.expire_all()
    entries = session.exec(select(AuditEntry).order_by(AuditEntry.at)).all()
    return [(e.action.value, e.count, e.actor, e.reason) for e in entries]


def test_a_judged_selfie_image_is_deleted_and_only_its_verdict_kept(session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    selfie = add_selfie(session, add_attendee(session, event), image_bytes(size=(400, 400)))
    key = selfie.storage_key
    tasks.validate_selfie(str(selfie.id))
    session.refresh(selfie)
    assert (selfie.status, selfie.reason) == (SelfieStatus.rejected, "no_face")
    assert selfie.storage_key is None
    assert not get_storage().exists(key)
    assert _audit(session) == [("selfie_image.deleted", 1, "worker", "judged")]


def test_selfie_images_can_be_kept_by_configuration(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "KEEP_SELFIE_IMAGES", True)
    event = create_event(session, owner=create_user(session))
    selfie = add_selfie(session, add_attendee(session, event), image_bytes(size=(400, 400)))
    tasks.validate_selfie(str(selfie.id))
    session.refresh(selfie)
    assert selfie.status == SelfieStatus.rejected
    assert get_storage().exists(selfie.storage_key)
    assert _audit(session) == []


@pytest.mark.faces
def test_encodings_made_and_replaced_are_logged(session: Session, faces_dir) -> None:  # type: ignore[no-untyped-def]
    event = create_event(session, owner=create_user(session))
    photo = add_photo(session, event, face_photo(TWO_PEOPLE))
    tasks.index_photo(str(photo.id))
    selfie = add_selfie(session, add_attendee(session, event), face_photo(OBAMA_2))
    tasks.validate_selfie(str(selfie.id))
    # A worker killed after committing leaves the photo to be indexed again.
    photo.status = "indexing"
    session.add(photo)
    session.commit()
    tasks.index_photo(str(photo.id))
    log = _audit(session)
    assert log[:3] == [
        ("face_encodings.created", 2, "worker", None),
        ("selfie_image.deleted", 1, "worker", "judged"),
        ("selfie_encoding.created", 1, "worker", None),
    ]
    assert log[3:] == [
        ("face_encodings.deleted", 2, "worker", "reindexed"),
        ("face_encodings.created", 2, "worker", None),
    ]


def _face(session: Session, photo) -> Face:  # type: ignore[no-untyped-def]
    face = Face(photo_id=photo.id, event_id=photo.event_id, top=0, right=1, bottom=1, left=0,
                encoding=[0.2] * 128, detected_width=1, detected_height=1)  # fmt: skip
    session.add(face)
    session.commit()
    return face


def _closed_event_with_a_bystander(session: Session, *, closed_hours_ago: float):  # type: ignore[no-untyped-def]
    """A closed event: one photo with a matched attendee's face and a bystander's."""
    event = create_event(session, owner=create_user(session))
    photo = create_photo(session, event=event, status="indexed", face_count=2)
    attendee = add_attendee(session, event)
    matched = create_match(session, photo=photo, attendee_id=attendee.id)
    bystander = _face(session, photo)
    event.status = EventStatus.closed
    event.closed_at = utcnow() - timedelta(hours=closed_hours_ago)
    session.add(event)
    session.commit()
    return event, matched.face_id, bystander.id


def test_unmatched_encodings_go_once_the_closed_event_is_past_retention(
    session: Session, redis: Redis
) -> None:
    hours = settings.UNMATCHED_FACE_RETENTION_HOURS
    recent, _, _ = _closed_event_with_a_bystander(session, closed_hours_ago=hours - 1)
    old, kept, gone = _closed_event_with_a_bystander(session, closed_hours_ago=hours + 1)

    report = reconcile(session, JobQueue(redis))
    assert report.enqueued == [purge_unmatched_faces(old.id).job_id]
    session.commit()
    assert tasks.purge_unmatched_faces(str(old.id)) == {"event_id": str(old.id), "deleted": 1}
    assert session.get(Face, kept) is not None
    session.expire_all()
    assert session.get(Face, gone) is None
    assert _audit(session) == [("face_encodings.deleted", 1, "retention", "unmatched_after_close")]
    # Nothing is left to do, and the recent event keeps its faces until its time comes.
    assert tasks.purge_unmatched_faces(str(recent.id))["skipped"] is True
    assert reconcile(session, JobQueue(redis)).enqueued == []


def test_no_purge_while_a_rematch_is_owed_or_after_reopening(
    session: Session, redis: Redis
) -> None:
    hours = settings.UNMATCHED_FACE_RETENTION_HOURS
    event, _, bystander = _closed_event_with_a_bystander(session, closed_hours_ago=hours + 1)
    event.rematch_requested_at = utcnow()
    session.add(event)
    session.commit()
    assert reconcile(session, JobQueue(redis)).enqueued == []

    event.rematched_at = utcnow()
    event.status = EventStatus.open
    event.closed_at = None
    session.add(event)
    session.commit()
    assert reconcile(session, JobQueue(redis)).enqueued == []
    assert tasks.purge_unmatched_faces(str(event.id))["skipped"] is True
    assert session.get(Face, bystander) is not None
