"""Consent versions: after the policy changes, nothing new is matched to an attendee until
they consent again; both consents are recorded."""

import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core import queue
from core.config import settings
from core.models import Attendee, AuditEntry, Face, FaceNearest, Match, Selfie
from tests.helpers import (
    create_event,
    create_photo,
    create_user,
    image_bytes,
    register_attendee,
    run_jobs,
)
from workers import matching


def _at(**axes: float) -> list[float]:
    vector = np.zeros(128)
    for axis, value in axes.items():
        vector[int(axis.removeprefix("a"))] = value
    return vector.tolist()


def _photo_with_a_face(session: Session, event, encoding: list[float]):  # type: ignore[no-untyped-def]
    photo = create_photo(session, event=event, status="indexed")
    session.add(Face(photo_id=photo.id, event_id=event.id, top=0, right=120, bottom=120, left=0,
                     encoding=encoding, detected_width=6000, detected_height=4000, size_px=120,
                     quality=0.8))  # fmt: skip
    session.commit()
    matching.match_photo(session, event.id, photo.id, 0.6, 0.03)  # as its index job does
    session.commit()
    return photo


def _joined_with_a_selfie(client: TestClient, session: Session, event, email: str,  # type: ignore[no-untyped-def]
                          selfie: list[float]) -> tuple[dict, Attendee]:  # type: ignore[type-arg]  # fmt: skip
    joined = register_attendee(client, event.code, email=email)
    attendee = session.get(Attendee, uuid.UUID(joined["attendee_id"]))
    assert attendee is not None
    session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid", encoding=selfie))
    session.commit()
    return joined, attendee


def test_after_a_policy_change_nothing_new_is_matched_until_consent_is_given_again(
    client: TestClient, session: Session, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = create_event(session, owner=create_user(session))
    old = settings.CONSENT_POLICY_VERSION
    ann, ann_row = _joined_with_a_selfie(client, session, event, "ann@example.com", _at(a0=0.0))
    before = _photo_with_a_face(session, event, _at(a0=0.3))
    assert [m.photo_id for m in session.exec(select(Match))] == [before.id]

    monkeypatch.setattr(settings, "CONSENT_POLICY_VERSION", "2027-01-01")
    state = client.get("/api/me/consent", headers=ann["headers"]).json()
    assert (state["current"], state["consented_version"], state["policy_version"]) == (
        False, old, "2027-01-01")  # fmt: skip
    refused = client.post("/api/upload-selfie", headers=ann["headers"],
                          files={"file": ("me.jpg", image_bytes())})  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (409, "consent_outdated")
    # Bob joins under the new policy; his selfie is 0.58 from the new face, Ann's is 0.3.
    _, bob = _joined_with_a_selfie(client, session, event, "bob@example.com", _at(a1=0.5))
    after = _photo_with_a_face(session, event, _at(a0=0.3))
    nearest = session.exec(select(FaceNearest).where(FaceNearest.photo_id == after.id)).one()
    assert nearest.attendee_id == ann_row.id, "the face is still Ann's"
    matches = {(m.attendee_id, m.photo_id) for m in session.exec(select(Match))}
    assert matches == {(ann_row.id, before.id)}, "nothing new for Ann, and never Bob"

    no = client.post("/api/me/consent", headers=ann["headers"], json={"consent": False})
    assert (no.status_code, no.json()["code"]) == (422, "consent_required")
    yes = client.post("/api/me/consent", headers=ann["headers"], json={"consent": True})
    assert yes.status_code == 200 and yes.json()["current"] is True
    assert queue.JobQueue(redis).is_active(queue.rematch_attendee(ann_row.id).job_id)
    run_jobs(redis, queue.SELFIES)
    session.expire_all()
    matches = {(m.attendee_id, m.photo_id) for m in session.exec(select(Match))}
    assert matches == {(ann_row.id, before.id), (ann_row.id, after.id)}
    consents = session.exec(select(AuditEntry).where(
        AuditEntry.action == "consent.given", AuditEntry.subject_id == ann_row.id
    ).order_by(AuditEntry.at)).all()  # fmt: skip
    assert [c.reason for c in consents] == [old, "2027-01-01"], "both consents are recorded"
    assert bob.id not in {a for a, _ in matches}
