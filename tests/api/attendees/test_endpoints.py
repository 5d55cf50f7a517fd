import uuid

from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core.config import settings
from core.models import Attendee, Selfie, User
from core.queue import JobQueue, validate_selfie
from tests.helpers import (
    create_event,
    create_match,
    create_photo,
    create_user,
    mailed_all,
    mailed_link,
    redeem,
    register_attendee,
    token_headers,
    upload_selfie,
)


def _register(client: TestClient, code: str, **overrides: object):  # type: ignore[no-untyped-def]
    body = {
        "event_code": code,
        "email": "ann@example.com",
        "name": "Ann",
        "consent": True,
        **overrides,
    }
    return client.post("/api/register-with-event-code", json=body)


def test_registration_mails_a_link_that_records_consent_and_signs_in(
    client: TestClient, session: Session
) -> None:
    from core.models import AuditEntry

    event = create_event(session, owner=create_user(session))
    response = _register(client, event.code.lower().replace("-", " "))
    assert response.status_code == 202
    assert "access_token" not in response.json(), "no session before the address is proven"
    assert session.exec(select(User).where(User.email == "ann@example.com")).first() is None
    body = redeem(client, mailed_link("ann@example.com"))
    assert (body["event_id"], body["event_code"]) == (str(event.id), event.code)
    attendee = session.get(Attendee, body["attendee_id"])
    assert attendee is not None
    assert attendee.consent_policy_version == settings.CONSENT_POLICY_VERSION
    assert attendee.consented_at is not None
    user = session.get(User, attendee.user_id)
    assert user is not None and user.hashed_password is None, "attendees have no password"
    consents = session.exec(select(AuditEntry).where(AuditEntry.action == "consent.given")).all()
    assert [(c.subject_id, c.reason) for c in consents] == [
        (attendee.id, settings.CONSENT_POLICY_VERSION)
    ]
    me = client.get("/api/users/me", headers=body["headers"])
    assert me.json()["role"] == "attendee"


def test_registration_without_consent_is_422_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    response = _register(client, event.code, consent=False)
    assert response.status_code == 422
    assert response.json()["code"] == "consent_required"
    assert session.exec(select(User).where(User.email == "ann@example.com")).first() is None


def test_a_wrong_event_code_is_404(client: TestClient, session: Session) -> None:
    response = _register(client, "ACD-EFG")
    assert response.status_code == 404
    assert response.json()["code"] == "event_not_found"
    assert _register(client, "not a code").status_code == 404


def test_joining_again_with_the_same_email_reuses_the_account(
    client: TestClient, session: Session
) -> None:
    first_event = create_event(session, owner=create_user(session))
    second_event = create_event(session, owner=create_user(session))
    first = register_attendee(client, first_event.code, email="ann@example.com")
    again = register_attendee(client, first_event.code, email="ANN@example.com")
    other = register_attendee(client, second_event.code, email="ann@example.com")
    assert first["attendee_id"] == again["attendee_id"]
    assert other["attendee_id"] != first["attendee_id"]
    assert len(session.exec(select(User)).all()) == 3


def test_selfie_upload_is_accepted_at_once_and_queued(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    response = upload_selfie(client, attendee["headers"])
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert JobQueue(redis).is_active(validate_selfie(body["selfie_id"]).job_id)
    assert JobQueue(redis).depths()["selfies"] == 1
    state = client.get("/api/me/selfie", headers=attendee["headers"]).json()
    assert (state["id"], state["status"], state["reason"]) == (body["selfie_id"], "pending", None)


def test_a_selfie_that_is_not_an_image_is_422_and_not_stored(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    response = upload_selfie(client, attendee["headers"], b"%PDF-1.4")
    assert response.status_code == 422
    assert response.json()["code"] == "not_an_image"
    assert session.exec(select(Selfie)).all() == []
    assert client.get("/api/me/selfie", headers=attendee["headers"]).status_code == 404


def test_at_most_three_selfies_are_active(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    for _ in range(settings.MAX_SELFIES_PER_ATTENDEE):
        assert upload_selfie(client, attendee["headers"]).status_code == 202
    response = upload_selfie(client, attendee["headers"])
    assert response.status_code == 409
    assert response.json()["code"] == "selfie_limit"


def test_attendee_routes_need_an_attendee_token(client: TestClient, session: Session) -> None:
    create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    assert client.get("/api/me/selfie", headers=headers).status_code == 403
    assert client.get("/api/me/photos", headers=headers).status_code == 403
    response = upload_selfie(client, headers)
    assert response.status_code == 403


def test_deleting_face_data_removes_selfies_images_and_matches(
    client: TestClient, session: Session, redis: Redis
) -> None:
    from core.models import AuditEntry, Match, MatchRejection
    from core.queue import forget_attendee
    from core.storage import get_storage

    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    uploaded = upload_selfie(client, attendee["headers"]).json()
    selfie = session.get(Selfie, uploaded["selfie_id"])
    key = selfie.storage_key
    assert get_storage().exists(key)
    selfie.encoding = [0.1] * 128  # as if judged, with the image kept (KEEP_SELFIE_IMAGES)
    session.add(selfie)
    session.commit()
    photo = create_photo(session, event=event, status="indexed")
    create_match(session, photo=photo, attendee_id=attendee["attendee_id"])
    hidden = create_photo(session, event=event, status="indexed")
    create_match(session, photo=hidden, attendee_id=attendee["attendee_id"])
    thumb = f"/api/photos/{hidden.id}/image?size=thumb"
    assert client.post(f"/api/me/photos/{hidden.id}/not-me",
                       headers=attendee["headers"]).status_code == 204  # fmt: skip

    response = client.delete("/api/me/face-data", headers=attendee["headers"])
    assert response.status_code == 200
    assert response.json() == {"selfies": 1, "selfie_images": 1, "encodings": 1, "matches": 1}
    session.expire_all()
    assert session.exec(select(Selfie)).all() == []
    assert session.exec(select(Match)).all() == []
    assert session.exec(select(MatchRejection)).all() == [], "no row points at a photo"
    assert client.get(thumb, headers=attendee["headers"]).status_code == 403
    assert not get_storage().exists(key)
    forget = forget_attendee(uuid.UUID(attendee["attendee_id"]))
    assert JobQueue(redis).is_active(forget.job_id), "the faces that named them, looked at again"
    again = client.delete("/api/me/face-data", headers=attendee["headers"])
    assert again.json() == {"selfies": 0, "selfie_images": 0, "encodings": 0, "matches": 0}
    audit = {(e.action.value, e.count, e.reason) for e in session.exec(select(AuditEntry))}
    assert audit == {
        ("consent.given", 1, settings.CONSENT_POLICY_VERSION),
        ("selfie_image.stored", 1, None),
        ("selfie_image.deleted", 1, "attendee_request"),
        ("selfie_encoding.deleted", 1, "attendee_request"),
        ("matches.deleted", 1, "attendee_request"),
    }


def test_a_returning_attendee_signs_in_to_a_closed_event_they_joined(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    joined = register_attendee(client, event.code, email="runner@example.com")
    create_user(session, email="stranger@example.com", role="attendee")
    event.status = "closed"
    session.add(event)
    session.commit()
    again = _register(client, event.code, email="runner@example.com")
    assert (again.status_code, again.json()["code"]) == (409, "event_closed")

    def ask(email: str, code: str = event.code):  # type: ignore[no-untyped-def]
        return client.post("/api/sign-in-link", json={"event_code": code, "email": email})

    asked = ask("runner@example.com")
    assert asked.status_code == 202
    signed_in = redeem(client, mailed_link("runner@example.com", count=2))
    assert signed_in["attendee_id"] == joined["attendee_id"]
    assert client.get("/api/me/photos", headers=signed_in["headers"]).status_code == 200
    for email in ("stranger@example.com", "nobody@example.com"):
        answer = ask(email)
        assert answer.json() == asked.json(), "an address's account shows in no answer"
        assert mailed_all(email) == [], "and gets no link"
    unknown = ask("runner@example.com", code="ZZZ-ZZZ")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "event_not_found")


def test_one_account_sees_every_event_it_joined_and_deletes_face_data_per_event_or_all(
    client: TestClient, session: Session
) -> None:
    from core.models import Match

    owner = create_user(session)
    first, second = (
        create_event(session, owner=owner, name="Spring"),
        create_event(session, owner=owner, name="Autumn"),
    )
    a = register_attendee(client, first.code, email="ann@example.com")
    b = register_attendee(client, second.code, email="ann@example.com")
    stranger = register_attendee(client, second.code, email="bob@example.com")
    for joined, event in ((a, first), (b, second), (b, second), (stranger, second)):
        create_match(session, photo=create_photo(session, event=event, status="indexed"),
                     attendee_id=joined["attendee_id"])  # fmt: skip
    listed = client.get("/api/me/events", headers=a["headers"]).json()
    assert [(e["name"], e["photos"], e["current"]) for e in listed["data"]] == [
        ("Autumn", 2, False), ("Spring", 1, True)]  # fmt: skip
    switched = client.post(f"/api/me/events/{second.id}/session", headers=a["headers"])
    assert switched.status_code == 200 and switched.json()["attendee_id"] == b["attendee_id"]
    other = {"Authorization": f"Bearer {switched.json()['access_token']}"}
    assert client.get("/api/me/photos", headers=other).json()["count"] == 2
    foreign = create_event(session, owner=owner)
    refused = client.post(f"/api/me/events/{foreign.id}/session", headers=a["headers"])
    assert (refused.status_code, refused.json()["code"]) == (404, "not_registered")

    one = client.delete("/api/me/face-data", headers=a["headers"]).json()
    assert one["matches"] == 1
    everywhere = client.delete("/api/me/face-data?every_event=true", headers=a["headers"]).json()
    assert everywhere["matches"] == 2
    left = session.exec(select(Match)).all()
    assert [str(m.attendee_id) for m in left] == [stranger["attendee_id"]], "only Bob's is left"
