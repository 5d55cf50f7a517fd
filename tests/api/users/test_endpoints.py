"""Accounts end: an attendee's data goes with theirs; staff only once nothing depends on them."""

import uuid

from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core import queue
from core.config import settings
from core.models import Attendee, AuditEntry, ForgetOwed, Match, Selfie, User
from core.storage import get_storage
from tests.helpers import (
    PASSWORD,
    create_event,
    create_match,
    create_photo,
    create_user,
    mailed,
    register_attendee,
    run_jobs,
    token_headers,
    upload_selfie,
)


def test_an_attendee_deletes_their_account_with_every_registration_and_its_face_data(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session)
    first, second = create_event(session, owner=owner), create_event(session, owner=owner)
    email = "runner@example.com"
    joined = [register_attendee(client, e.code, email=email) for e in (first, second)]
    headers = joined[1]["headers"]
    selfie_id = uuid.UUID(upload_selfie(client, headers).json()["selfie_id"])
    selfie = session.get(Selfie, selfie_id)
    assert selfie is not None and selfie.storage_key
    selfie.encoding, selfie.status = [0.1] * 128, "valid"
    session.add(selfie)
    session.commit()
    key = selfie.storage_key
    create_match(session, photo=create_photo(session, event=second, status="indexed"),
                 attendee_id=joined[1]["attendee_id"])  # fmt: skip

    # An attendee has no password: typing the account's email asks for a link mailed there,
    # and only the link deletes (a stolen session is not the mailbox).
    wrong = client.request("DELETE", "/api/users/me", headers=headers,
                           json={"email": "someone@example.com"})  # fmt: skip
    assert (wrong.status_code, wrong.json()["code"]) == (400, "confirmation_mismatch")
    asked = client.request("DELETE", "/api/users/me", headers=headers,
                           json={"email": "Runner@example.com"})  # fmt: skip
    assert asked.status_code == 202, asked.text
    assert asked.json()["expires_in_minutes"] == settings.SIGN_IN_LINK_MINUTES
    assert client.get("/api/users/me", headers=headers).status_code == 200, "nothing deleted yet"
    mail = mailed(email, count=3)[0]  # the newest
    assert mail.subject == "Confirm the deletion of your facematch account"
    link = next(u for u in mail.links if "/delete-account#" in u)
    token = link.split("#", 1)[1]
    forged = client.post("/api/account-deletions", json={"token": "x" * 43})
    assert (forged.status_code, forged.json()["code"]) == (400, "invalid_link")
    response = client.post("/api/account-deletions", json={"token": token})
    assert response.status_code == 200, response.text
    again = client.post("/api/account-deletions", json={"token": token})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_link"), "once"
    assert response.json() == {"events_joined": 2, "selfies": 1, "selfie_images": 1,
                               "encodings": 1, "matches": 1}  # fmt: skip

    session.expire_all()
    assert session.exec(select(User).where(User.email == email)).all() == []
    assert session.exec(select(Attendee)).all() == []
    assert session.exec(select(Selfie)).all() == [] and session.exec(select(Match)).all() == []
    assert not get_storage().exists(key)
    second_id = uuid.UUID(joined[1]["attendee_id"])
    assert session.get(ForgetOwed, second_id) is not None, "its faces' recomputation is owed"
    assert queue.JobQueue(redis).is_active(queue.forget_attendee(second_id).job_id)
    assert client.get("/api/users/me", headers=headers).status_code == 401, "its token is dead"
    actions = [e.action.value for e in session.exec(select(AuditEntry))]
    assert "account.deleted" in actions and "selfie_encoding.deleted" in actions
    run_jobs(redis, queue.MAINTENANCE)
    session.expire_all()
    assert session.get(ForgetOwed, second_id) is None


def test_a_photographer_with_events_is_refused_until_they_are_deleted(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="p@example.com")
    owner_id = owner.id
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    refused = client.request("DELETE", "/api/users/me", headers=headers,
                             json={"password": PASSWORD})  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (409, "events_remain")
    assert client.delete(f"/api/events/{event.id}", headers=headers).status_code == 202
    still = client.request("DELETE", "/api/users/me", headers=headers, json={"password": PASSWORD})
    assert still.status_code == 409, "a deleting event is still theirs"
    run_jobs(redis, queue.MAINTENANCE)
    done = client.request("DELETE", "/api/users/me", headers=headers, json={"password": PASSWORD})
    assert done.status_code == 200
    session.expire_all()
    assert session.get(User, owner_id) is None


def test_an_admin_deactivates_reactivates_and_deletes_accounts_but_never_the_last_admin(
    client: TestClient, session: Session
) -> None:
    admin = create_user(session, email="admin@example.com", role="admin")
    other_photographer = create_user(session)
    create_user(session, email="p@example.com")
    attendee = register_attendee(client, create_event(session, owner=other_photographer).code)
    headers = token_headers(client, "admin@example.com")
    photographer_token = token_headers(client, "p@example.com")
    photographer = session.exec(select(User).where(User.email == "p@example.com")).one()

    off = client.patch(f"/api/admin/users/{photographer.id}", headers=headers,
                       json={"is_active": False})  # fmt: skip
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert client.get("/api/users/me", headers=photographer_token).status_code == 401
    login = client.post("/api/auth/token", data={"username": "p@example.com", "password": PASSWORD})
    assert login.status_code == 401
    on = client.patch(f"/api/admin/users/{photographer.id}", headers=headers,
                      json={"is_active": True})  # fmt: skip
    assert on.json()["is_active"] is True
    assert client.get("/api/users/me", headers=photographer_token).status_code == 401, (
        "deactivating ended the account's sessions for good"
    )
    fresh = token_headers(client, "p@example.com")
    assert client.get("/api/users/me", headers=fresh).status_code == 200

    for method in ("PATCH", "DELETE"):
        last = client.request(method, f"/api/admin/users/{admin.id}", headers=headers,
                              json={"is_active": False} if method == "PATCH" else None)  # fmt: skip
        assert (last.status_code, last.json()["code"]) == (409, "last_admin"), method
    row = session.get(Attendee, uuid.UUID(attendee["attendee_id"]))
    assert row is not None
    gone = client.delete(f"/api/admin/users/{row.user_id}", headers=headers)
    assert gone.status_code == 200 and gone.json()["events_joined"] == 1
    assert client.delete(f"/api/admin/users/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.delete(f"/api/admin/users/{photographer.id}",
                         headers=fresh).status_code == 403  # fmt: skip


def test_an_admins_reset_link_sets_a_new_password_once(
    client: TestClient, session: Session, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from api.users import service
    from core.models import PasswordReset

    create_user(session, email="admin@example.com", role="admin")
    photographer = create_user(session, email="p@example.com")
    headers = token_headers(client, "admin@example.com")

    def new_link() -> str:
        response = client.post(f"/api/admin/users/{photographer.id}/reset-link", headers=headers)
        assert response.status_code == 200
        url = response.json()["url"]
        assert url.startswith("/reset-password#"), "the token rides in the fragment, never sent"
        return str(url.split("#", 1)[1])

    replaced, token = new_link(), new_link()
    assert session.exec(select(PasswordReset)).all()[0].token_sha256 != token, "kept hashed"

    def reset(with_token: str, password: str = "a new password"):  # type: ignore[no-untyped-def]
        body = {"token": with_token, "password": password}
        return client.post("/api/auth/reset-password", json=body)

    stale = reset(replaced)
    assert (stale.status_code, stale.json()["code"]) == (400, "invalid_reset_link")
    assert reset(token).status_code == 204
    assert token_headers(client, "p@example.com", "a new password")
    old = client.post("/api/auth/token", data={"username": "p@example.com", "password": PASSWORD})
    assert old.status_code == 401
    again = reset(token, "another password")
    assert (again.status_code, again.json()["code"]) == (400, "invalid_reset_link")
    monkeypatch.setattr(service, "RESET_LINK_HOURS", -1)
    expired = reset(new_link())
    assert (expired.status_code, expired.json()["code"]) == (400, "reset_link_expired")


def test_an_admin_hands_a_leaving_photographers_event_over_then_deletes_the_account(
    client: TestClient, session: Session
) -> None:
    from core.models import Event

    create_user(session, email="admin@example.com", role="admin")
    leaving = create_user(session, email="leaving@example.com")
    leaving_id = leaving.id
    staying = create_user(session, email="staying@example.com")
    attendee_user = create_user(session, email="runner@example.com", role="attendee")
    event = create_event(session, owner=leaving)
    headers = token_headers(client, "admin@example.com")

    refused = client.delete(f"/api/admin/users/{leaving_id}", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "events_remain")
    to_attendee = client.post(f"/api/admin/events/{event.id}/owner", headers=headers,
                              json={"email": attendee_user.email})  # fmt: skip
    assert (to_attendee.status_code, to_attendee.json()["code"]) == (409, "not_staff")
    nobody = client.post(f"/api/admin/events/{event.id}/owner", headers=headers,
                         json={"email": "nobody@example.com"})  # fmt: skip
    assert (nobody.status_code, nobody.json()["code"]) == (404, "user_not_found")
    moved = client.post(f"/api/admin/events/{event.id}/owner", headers=headers,
                        json={"email": "STAYING@example.com"})  # fmt: skip
    assert moved.status_code == 200 and moved.json()["owner_id"] == str(staying.id)
    assert client.delete(f"/api/admin/users/{leaving_id}", headers=headers).status_code == 200
    session.expire_all()
    assert session.get(User, leaving_id) is None
    assert session.get(Event, event.id) is not None, "the event stays, with its new owner"


def test_deleting_a_staff_account_is_no_password_oracle(
    client: TestClient, session: Session, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A stolen session may not try passwords at full speed through DELETE /api/users/me."""
    monkeypatch.setattr(settings, "LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT", 3)
    create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    tries = [
        client.request(
            "DELETE", "/api/users/me", headers=headers, json={"password": f"guess-{n}"}
        ).status_code
        for n in range(4)
    ]
    assert tries == [401, 401, 429, 429], "the sign-in was the account's first attempt"


def test_junk_password_resets_from_one_client_block_no_one_else(
    client: TestClient, session: Session, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient as Client

    from api.main import create_app

    monkeypatch.setattr(settings, "LOGIN_ATTEMPTS_PER_MINUTE_PER_IP", 3)
    junk = {"token": "j" * 43, "password": "a-new-password"}
    tries = [client.post("/api/auth/reset-password", json=junk).status_code for _ in range(4)]
    assert tries == [400, 400, 400, 429]
    admin = create_user(session, email="admin@example.com", role="admin")
    user = create_user(session, email="p@example.com")
    reset = client.post(f"/api/admin/users/{user.id}/reset-link",
                        headers=token_headers(client, admin.email)).json()  # fmt: skip
    token = reset["url"].split("#", 1)[1]
    with Client(create_app(), client=("198.51.100.9", 50000)) as elsewhere:
        done = elsewhere.post("/api/auth/reset-password",
                              json={"token": token, "password": "a-new-password"})  # fmt: skip
    assert done.status_code == 204, "the owner of a real link, from their own address"
