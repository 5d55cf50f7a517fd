"""Whose face is a selfie: one person per account, one account per face at an event."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from api.reconciler.service import reconcile_once
from core.models import AuditEntry, Match, Selfie
from tests.helpers import (
    create_event,
    create_photo,
    create_user,
    face_photo,
    mailed,
    mailed_all,
    register_attendee,
    run_jobs,
    token_headers,
    upload_selfie,
)
from workers import tasks

pytestmark = pytest.mark.faces
OBAMA, OBAMA_2 = (
    "ageitgey_face_recognition/examples/obama.jpg",
    "ageitgey_face_recognition/examples/obama2.jpg",
)
BIDEN = "ageitgey_face_recognition/examples/biden.jpg"
TWO_PEOPLE = "ageitgey_face_recognition/examples/two_people.jpg"


def _states(session: Session, attendee_id: str) -> list[tuple[str, str | None]]:
    selfies = session.exec(
        select(Selfie).where(Selfie.attendee_id == attendee_id).order_by(Selfie.created_at)
    ).all()
    for selfie in selfies:
        session.refresh(selfie)
    return [(s.status.value, s.reason) for s in selfies]


def _matched(session: Session, attendee_id: str) -> int:
    return len(session.exec(select(Match).where(Match.attendee_id == attendee_id)).all())


def test_a_second_selfie_of_another_person_is_refused_on_the_same_account(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    tasks.index_photo(str(create_photo(session, event=event, data=face_photo(TWO_PEOPLE)).id))
    stalker = register_attendee(client, event.code)
    for path in (OBAMA, BIDEN, OBAMA_2):
        assert upload_selfie(client, stalker["headers"], face_photo(path)).status_code == 202
        run_jobs(redis, "selfies")
    assert _states(session, stalker["attendee_id"]) == [
        ("valid", None),
        ("rejected", "another_person"),
        ("valid", None),
    ]
    assert _matched(session, stalker["attendee_id"]) == 1, "obama's photo, never biden's"


def test_the_same_face_in_two_accounts_is_held_told_and_reviewed(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    tasks.index_photo(str(create_photo(session, event=event, data=face_photo(TWO_PEOPLE)).id))
    first = register_attendee(client, event.code, email="first@example.com")
    upload_selfie(client, first["headers"], face_photo(OBAMA))
    run_jobs(redis, "selfies")
    second = register_attendee(client, event.code, email="second@example.com")
    upload_selfie(client, second["headers"], face_photo(OBAMA_2))
    run_jobs(redis, "selfies")

    assert _states(session, second["attendee_id"]) == [("held", None)]
    assert _matched(session, second["attendee_id"]) == 0, "held: nothing matched"
    held = session.exec(select(AuditEntry).where(AuditEntry.action == "selfie.held")).all()
    assert len(held) == 1
    reconcile_once()
    (notice,) = mailed("first@example.com", count=2)[:1]
    assert "with your face" in notice.subject and "photographer@example.com" in notice.text
    reconcile_once()
    assert len(mailed_all("first@example.com")) == 2, "told once"

    headers = token_headers(client, "photographer@example.com")
    listed = client.get(f"/api/events/{event.id}/held-selfies", headers=headers).json()
    assert [(h["email"], h["held_for_email"]) for h in listed["data"]] == [
        ("second@example.com", "first@example.com")
    ]
    selfie_id = listed["data"][0]["selfie_id"]
    released = client.post(f"/api/events/{event.id}/held-selfies/{selfie_id}/release",
                           headers=headers)  # fmt: skip
    assert released.json() == {"selfie_id": selfie_id, "status": "valid"}
    run_jobs(redis, "selfies")
    (selfie,) = session.exec(select(Selfie).where(Selfie.attendee_id == second["attendee_id"]))
    session.refresh(selfie)
    assert selfie.status == "valid" and selfie.match_epoch is not None, "matched once released"
    # The face goes to whichever of the two is nearer, as any face does.
    assert _matched(session, first["attendee_id"]) + _matched(session, second["attendee_id"]) == 1
    again = client.post(f"/api/events/{event.id}/held-selfies/{selfie_id}/refuse", headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "selfie_not_held")


def test_a_refused_selfie_loses_its_encoding_and_finds_nothing(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    first = register_attendee(client, event.code)
    upload_selfie(client, first["headers"], face_photo(OBAMA))
    second = register_attendee(client, event.code)
    upload_selfie(client, second["headers"], face_photo(OBAMA_2))
    run_jobs(redis, "selfies")
    (selfie,) = session.exec(select(Selfie).where(Selfie.attendee_id == second["attendee_id"]))
    headers = token_headers(client, "photographer@example.com")
    refused = client.post(f"/api/events/{event.id}/held-selfies/{selfie.id}/refuse",
                          headers=headers)  # fmt: skip
    assert refused.json()["status"] == "rejected"
    session.refresh(selfie)
    assert (selfie.status, selfie.reason, selfie.encoding) == ("rejected", "refused", None)
    actions = {a.action for a in session.exec(select(AuditEntry).where(
        AuditEntry.subject_id == selfie.id))}  # fmt: skip
    assert {"selfie.held", "selfie.refused", "selfie_encoding.deleted"} <= actions
    tasks.index_photo(str(create_photo(session, event=event, data=face_photo(TWO_PEOPLE)).id))
    assert _matched(session, second["attendee_id"]) == 0
    assert _matched(session, first["attendee_id"]) == 1
