"""Sign-in links: mailed through a real SMTP server, single use, short-lived, kept hashed,
rate-limited; sessions end when their owner signs out."""

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core.config import settings
from core.models import Attendee, AuthSession, Email, SignInLink, utcnow
from tests.helpers import (
    create_event,
    create_user,
    link_token,
    mailed,
    mailed_all,
    mailed_link,
    redeem,
    register_attendee,
)


def _join(client: TestClient, code: str, email: str = "ann@example.com", **extra: object) -> int:
    body = {"event_code": code, "email": email, "consent": True, **extra}
    return client.post("/api/register-with-event-code", json=body).status_code


def test_the_mail_carries_the_link_in_text_and_html_and_only_a_hash_is_stored(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session), name="City Marathon")
    assert _join(client, event.code, name="Ann") == 202
    [mail] = mailed("ann@example.com")
    assert mail.subject == "Confirm your email to find your photos at City Marathon"
    link = mailed_link("ann@example.com")
    assert link.startswith(f"{settings.PUBLIC_URL}/signin#"), "the token rides in the fragment"
    assert link in mail.text and link in mail.html
    assert mail.message["From"] == settings.MAIL_FROM
    assert "List-Unsubscribe" not in mail.message, "a sign-in mail is not a mailing"
    token = link_token(link)
    stored = session.exec(select(SignInLink)).one()
    assert stored.token_sha256 != token and token not in stored.token_sha256
    session.expire_all()
    sent = session.exec(select(Email)).one()
    assert sent.sent_at is not None and sent.attempts == 1
    assert sent.text_body is None and sent.html_body is None, "the link left the outbox"


def test_a_link_works_once(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    assert _join(client, event.code) == 202
    link = mailed_link("ann@example.com")
    redeem(client, link)
    again = client.post("/api/sign-in-link/redeem", json={"token": link_token(link)})
    assert (again.status_code, again.json()["code"]) == (400, "link_used")


def test_a_link_expires_after_its_minutes(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    assert _join(client, event.code) == 202
    link = mailed_link("ann@example.com")
    row = session.exec(select(SignInLink)).one()
    assert row.expires_at - row.created_at == timedelta(minutes=settings.SIGN_IN_LINK_MINUTES)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    late = client.post("/api/sign-in-link/redeem", json={"token": link_token(link)})
    assert (late.status_code, late.json()["code"]) == (400, "link_expired")
    unknown = client.post("/api/sign-in-link/redeem", json={"token": "x" * 43})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_link")


def test_guessing_links_is_rate_limited_per_client(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "LINK_REDEMPTIONS_PER_MINUTE_PER_IP", 5)
    event = create_event(session, owner=create_user(session))
    assert _join(client, event.code) == 202
    link = mailed_link("ann@example.com")
    guesses = [
        client.post("/api/sign-in-link/redeem", json={"token": f"{n:043d}"}).status_code
        for n in range(5)
    ]
    assert guesses == [400] * 5
    blocked = client.post("/api/sign-in-link/redeem", json={"token": link_token(link)})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert blocked.json()["code"] == "rate_limited"


def test_links_mailed_to_one_address_are_rate_limited(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "SIGN_IN_LINKS_PER_HOUR_PER_ACCOUNT", 2)
    event = create_event(session, owner=create_user(session))
    answers = [_join(client, event.code, email="Ann@example.com") for _ in range(2)]
    answers.append(client.post("/api/sign-in-link", json={"email": "ann@example.com"}).status_code)
    assert answers == [202, 202, 429]
    assert _join(client, event.code, email="bob@example.com") == 202, "other addresses go on"
    assert len(mailed_all("ann@example.com")) == 2


def test_a_staff_address_gets_no_link(client: TestClient, session: Session) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    assert _join(client, event.code, email="p@example.com") == 202
    assert client.post("/api/sign-in-link", json={"email": "p@example.com"}).status_code == 202
    assert mailed_all("p@example.com") == [], "staff sign in with their passwords"


def test_a_link_opens_a_session_on_any_device_and_signing_out_ends_only_that_one(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    phone = register_attendee(client, event.code, email="ann@example.com")
    assert client.post("/api/sign-in-link", json={"email": "ann@example.com"}).status_code == 202
    laptop = redeem(client, mailed_link("ann@example.com", count=2))
    assert laptop["attendee_id"] == phone["attendee_id"]
    listed = client.get("/api/me/sessions", headers=laptop["headers"]).json()
    assert len(listed) == 2 and [s["current"] for s in listed] == [True, False]

    out = client.post("/api/auth/sign-out", headers=phone["headers"])
    assert out.json() == {"sessions_ended": 1}
    ended = client.get("/api/me/photos", headers=phone["headers"])
    assert (ended.status_code, ended.json()["code"]) == (401, "session_ended")
    assert client.get("/api/me/photos", headers=laptop["headers"]).status_code == 200

    again = redeem(client, _fresh_link(client))
    other = next(s for s in client.get("/api/me/sessions", headers=again["headers"]).json()
                 if not s["current"])  # fmt: skip
    gone = client.delete(f"/api/me/sessions/{other['id']}", headers=again["headers"])
    assert gone.status_code == 204
    assert client.get("/api/me/photos", headers=laptop["headers"]).status_code == 401
    everywhere = client.post("/api/auth/sign-out?everywhere=true", headers=again["headers"])
    assert everywhere.json() == {"sessions_ended": 1}
    assert session.exec(select(AuthSession).where(AuthSession.revoked_at == None)).all() == []  # noqa: E711
    missing = client.delete(f"/api/me/sessions/{uuid.uuid4()}", headers=laptop["headers"])
    assert missing.status_code == 401


def _fresh_link(client: TestClient) -> str:
    before = len(mailed_all("ann@example.com"))
    assert client.post("/api/sign-in-link", json={"email": "ann@example.com"}).status_code == 202
    return mailed_link("ann@example.com", count=before + 1)


def test_a_join_link_opened_after_the_event_closed_is_refused(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    assert _join(client, event.code) == 202
    link = mailed_link("ann@example.com")
    event.status = "closed"
    session.add(event)
    session.commit()
    late = client.post("/api/sign-in-link/redeem", json={"token": link_token(link)})
    assert (late.status_code, late.json()["code"]) == (409, "event_closed")
    session.expire_all()
    assert session.exec(select(SignInLink)).one().used_at is None, "nothing half-stored"


def test_an_admin_gives_a_link_to_an_attendee_whose_mail_does_not_arrive(
    client: TestClient, session: Session
) -> None:
    from tests.helpers import token_headers

    create_user(session, email="admin@example.com", role="admin")
    admin = token_headers(client, "admin@example.com")
    event = create_event(session, owner=create_user(session))

    def support(email: str):  # type: ignore[no-untyped-def]
        body = {"email": email, "event_code": event.code}
        return client.post("/api/admin/sign-in-links", headers=admin, json=body)

    nobody = support("ann@example.com")
    assert (nobody.status_code, nobody.json()["code"]) == (404, "not_registered")
    assert _join(client, event.code, notify=True) == 202  # the mail never arrives
    issued = support("ann@example.com")
    assert issued.status_code == 200
    joined = redeem(client, issued.json()["url"])
    attendee = session.get(Attendee, uuid.UUID(joined["attendee_id"]))
    assert attendee is not None and attendee.notify, "the request's choices, and its consent"
    assert attendee.consent_policy_version == settings.CONSENT_POLICY_VERSION
    again = redeem(client, support("ann@example.com").json()["url"])
    assert again["attendee_id"] == joined["attendee_id"], "now a plain sign-in link"
    staff = support("admin@example.com")
    assert staff.status_code == 404, "staff sign in with their passwords"
    from core.models import AuditEntry, User

    admin_user = session.exec(select(User).where(User.email == "admin@example.com")).one()
    rows = session.exec(select(AuditEntry).order_by(AuditEntry.at)).all()
    issued_rows = [(e.actor, e.reason, e.subject_id) for e in rows
                   if e.action.value == "support_link.issued"]  # fmt: skip
    assert issued_rows == [(f"admin:{admin_user.id}", "join", None),
                           (f"admin:{admin_user.id}", "sign_in", attendee.id)]  # fmt: skip
    [consent] = [e for e in rows if e.action.value == "consent.given"]
    assert consent.reason == f"{settings.CONSENT_POLICY_VERSION}; via support link"


def test_the_reconciler_deletes_spent_links_and_ended_sessions(
    client: TestClient, session: Session, redis: Redis
) -> None:
    from api.reconciler.service import reconcile
    from core import queue
    from core.db import session_scope

    event = create_event(session, owner=create_user(session))
    joined = register_attendee(client, event.code, email="ann@example.com")
    client.post("/api/auth/sign-out", headers=joined["headers"])
    long_ago = utcnow() - timedelta(days=8)
    for row in session.exec(select(SignInLink)).all():
        row.expires_at = long_ago
        session.add(row)
    for ended in session.exec(select(AuthSession)).all():
        ended.revoked_at = long_ago
        session.add(ended)
    session.commit()
    with session_scope() as scoped:
        reconcile(scoped, queue.JobQueue(redis))
    session.expire_all()
    assert session.exec(select(SignInLink)).all() == []
    assert session.exec(select(AuthSession)).all() == []


@pytest.mark.parametrize("name", ["Ann\nVisit http://evil.example", "Ann\r", "Ann\u2028x",
                                  "Ann\u202eevil", "\x00"])  # fmt: skip
def test_a_name_is_one_line_of_text(client: TestClient, session: Session, name: str) -> None:
    event = create_event(session, owner=create_user(session))
    body = {"event_code": event.code, "email": "ann@example.com", "consent": True, "name": name}
    response = client.post("/api/register-with-event-code", json=body)
    assert response.status_code == 422, response.text
    assert session.exec(select(SignInLink)).all() == []


def test_a_name_is_not_mailed_to_an_address_that_has_not_confirmed(
    client: TestClient, session: Session
) -> None:
    """Anyone may type a name and someone else's address: our sender would carry their text."""
    code = create_event(session, owner=create_user(session)).code
    assert _join(client, code, name="Winner of a prize, call 555") == 202
    [mail] = mailed("ann@example.com")
    assert "Winner" not in mail.text and "Winner" not in mail.html
    assert mail.text.startswith("Hello,")
