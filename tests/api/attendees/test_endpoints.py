import uuid

from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from api.config import settings
from api.models import Attendee, Selfie, User
from api.queue import JobQueue, validate_selfie
from tests.helpers import (
    PASSWORD,
    create_event,
    create_match,
    create_photo,
    create_user,
    register_attendee,
    token_headers,
    upload_selfie,
)


def _register(client: TestClient, code: str, **overrides: object):  # type: ignore[no-untyped-def]
    body = {
        "event_code": code,
        "email": "ann@example.com",
        "password": "correct horse battery",
        "name": "Ann",
        "consent": True,
        **overrides,
    }
    return client.post("/api/register-with-event-code", json=body)


def test_registration_records_consent_and_returns_a_token(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    response = _register(client, event.code.lower().replace("-", " "))
    assert response.status_code == 201
    body = response.json()
    assert body["event_id"] == str(event.id)
    attendee = session.get(Attendee, body["attendee_id"])
    assert attendee is not None
    assert attendee.consent_policy_version == settings.CONSENT_POLICY_VERSION
    assert attendee.consented_at is not None
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
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


def test_registering_again_with_the_same_password_reuses_the_account(
    client: TestClient, session: Session
) -> None:
    first_event = create_event(session, owner=create_user(session))
    second_event = create_event(session, owner=create_user(session))
    first = _register(client, first_event.code).json()
    again = _register(client, first_event.code).json()
    other = _register(client, second_event.code).json()
    assert first["attendee_id"] == again["attendee_id"]
    assert other["attendee_id"] != first["attendee_id"]
    assert len(session.exec(select(User)).all()) == 3
    wrong = _register(client, first_event.code, password="another password")
    assert wrong.status_code == 401


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
    from api.models import AuditEntry, Match
    from api.queue import forget_attendee
    from api.storage import get_storage

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

    response = client.delete("/api/me/face-data", headers=attendee["headers"])
    assert response.status_code == 200
    assert response.json() == {"selfies": 1, "selfie_images": 1, "encodings": 1, "matches": 1}
    session.expire_all()
    assert session.exec(select(Selfie)).all() == []
    assert session.exec(select(Match)).all() == []
    assert not get_storage().exists(key)
    forget = forget_attendee(uuid.UUID(attendee["attendee_id"]))
    assert JobQueue(redis).is_active(forget.job_id), "the faces that named them, looked at again"
    again = client.delete("/api/me/face-data", headers=attendee["headers"])
    assert again.json() == {"selfies": 0, "selfie_images": 0, "encodings": 0, "matches": 0}
    audit = {(e.action.value, e.count, e.reason) for e in session.exec(select(AuditEntry))}
    assert audit == {
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
    again = client.post("/api/register-with-event-code", json={
        "event_code": event.code, "email": "runner@example.com", "password": PASSWORD,
        "name": "Runner", "consent": True})  # fmt: skip
    assert (again.status_code, again.json()["code"]) == (409, "event_closed")

    def sign_in(email: str, password: str = PASSWORD, code: str = event.code):  # type: ignore[no-untyped-def]
        body = {"event_code": code, "email": email, "password": password}
        return client.post("/api/attendee-sign-in", json=body)

    signed_in = sign_in("runner@example.com")
    assert signed_in.status_code == 200
    assert signed_in.json()["attendee_id"] == joined["attendee_id"]
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    assert client.get("/api/me/photos", headers=headers).status_code == 200
    for answer, expected in (
        (sign_in("runner@example.com", "wrong password"), (401, "bad_credentials")),
        (sign_in("stranger@example.com"), (404, "not_registered")),
        (sign_in("runner@example.com", code="ZZZ-ZZZ"), (404, "event_not_found")),
    ):
        assert (answer.status_code, answer.json()["code"]) == expected
