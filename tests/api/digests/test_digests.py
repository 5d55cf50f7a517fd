"""Digest mails: one per opted-in attendee per interval, whatever the number of new photos;
none after unsubscribing or deleting face data. Mail goes through the test SMTP server."""

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from api.reconciler.service import reconcile
from core import queue
from core.config import settings
from core.db import session_scope
from core.models import Attendee, Email, EmailKind
from tests.helpers import (
    create_event,
    create_match,
    create_photo,
    create_user,
    mailed,
    mailed_all,
    register_attendee,
)


def _pass(redis: Redis) -> int:
    """One reconciler pass, committed: the digests it composed are enqueued after it."""
    with session_scope() as scoped:
        return reconcile(scoped, queue.JobQueue(redis)).digests


def _matched(session: Session, event, attendee_id: str, photos: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(photos):
        create_match(session, photo=create_photo(session, event=event, status="indexed"),
                     attendee_id=attendee_id)  # fmt: skip


def _interval_passes(session: Session, attendee_id: str) -> None:
    attendee = session.get(Attendee, uuid.UUID(attendee_id))
    assert attendee is not None and attendee.digest_sent_at is not None
    attendee.digest_sent_at -= timedelta(minutes=settings.DIGEST_INTERVAL_MINUTES)
    session.add(attendee)
    session.commit()


def test_new_photos_make_one_digest_per_attendee_per_interval(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session), name="City Marathon")
    ann = register_attendee(client, event.code, email="ann@example.com", notify=True)
    bob = register_attendee(client, event.code, email="bob@example.com", notify=True)
    quiet = register_attendee(client, event.code, email="quiet@example.com")
    _matched(session, event, ann["attendee_id"], 12)
    _matched(session, event, quiet["attendee_id"], 3)
    assert _pass(redis) == 1, "bob has no new photo, quiet did not opt in"
    digest = mailed("ann@example.com", count=2)[0]
    assert digest.subject == "12 new photos of you at City Marathon"
    assert "/signin#" in digest.text and "/unsubscribe/" in digest.text
    one_click = digest.message["List-Unsubscribe"].strip("<>")
    assert one_click.startswith(f"{settings.PUBLIC_URL}/api/unsubscribe/")
    assert digest.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len(mailed_all("quiet@example.com")) == 1, "the sign-in mail only"

    _matched(session, event, ann["attendee_id"], 5)
    _matched(session, event, bob["attendee_id"], 1)
    assert _pass(redis) == 1, "ann had hers this interval; bob's first goes"
    assert mailed("bob@example.com", count=2)[0].subject == "1 new photo of you at City Marathon"
    assert len(mailed_all("ann@example.com")) == 2
    _interval_passes(session, ann["attendee_id"])
    assert _pass(redis) == 1
    assert mailed("ann@example.com", count=3)[0].subject == "5 new photos of you at City Marathon"
    assert _pass(redis) == 0, "nothing new: nothing sent"


def test_no_digest_after_one_click_unsubscribe_or_deleted_face_data(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    ann = register_attendee(client, event.code, email="ann@example.com", notify=True)
    bob = register_attendee(client, event.code, email="bob@example.com", notify=True)
    _matched(session, event, ann["attendee_id"], 2)
    assert _pass(redis) == 1
    one_click = mailed("ann@example.com", count=2)[0].message["List-Unsubscribe"].strip("<>")
    # What a mail program sends for RFC 8058's one click: a POST, no cookie, no session.
    answer = client.post(one_click.removeprefix(settings.PUBLIC_URL),
                         content="List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200 and answer.json() == {"notify": False}
    assert client.get("/api/me/notifications", headers=ann["headers"]).json() == {"notify": False}
    assert client.delete("/api/me/face-data", headers=bob["headers"]).status_code == 200
    _interval_passes(session, ann["attendee_id"])
    _matched(session, event, ann["attendee_id"], 3)
    _matched(session, event, bob["attendee_id"], 3)
    assert _pass(redis) == 0
    assert len(mailed_all("ann@example.com")) == 2 and len(mailed_all("bob@example.com")) == 1
    bad = client.post("/api/unsubscribe/not-a-token")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_link")


def test_a_digest_composed_before_unsubscribing_is_not_sent(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    ann = register_attendee(client, event.code, email="ann@example.com", notify=True)
    _matched(session, event, ann["attendee_id"], 2)
    assert _pass(redis) == 1  # composed and enqueued, not sent yet
    put = client.put("/api/me/notifications", headers=ann["headers"], json={"notify": False})
    assert put.json() == {"notify": False}
    assert len(mailed_all("ann@example.com")) == 1, "the sign-in mail only"
    assert session.exec(select(Email).where(Email.kind == EmailKind.digest)).all() == []


def test_opting_in_later_counts_only_photos_from_then_on(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    ann = register_attendee(client, event.code, email="ann@example.com")
    _matched(session, event, ann["attendee_id"], 4)
    put = client.put("/api/me/notifications", headers=ann["headers"], json={"notify": True})
    assert put.json() == {"notify": True}
    assert _pass(redis) == 0, "she has seen those four"
    _matched(session, event, ann["attendee_id"], 1)
    assert _pass(redis) == 1
    assert mailed("ann@example.com", count=2)[0].subject.startswith("1 new photo of you")


def test_one_pass_mails_every_due_attendee_a_batch_at_a_time(
    client: TestClient, session: Session, redis: Redis, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from api.digests import service as digests

    monkeypatch.setattr(digests, "BATCH", 2)
    event = create_event(session, owner=create_user(session))
    emails = [f"runner{n}@example.com" for n in range(5)]
    for email in emails:
        joined = register_attendee(client, event.code, email=email, notify=True)
        _matched(session, event, joined["attendee_id"], 2)
    assert _pass(redis) == 5
    assert [len(mailed(email, count=2)) for email in emails] == [2] * 5


def test_an_unsubscribe_token_expires_and_never_reaches_a_log(
    client: TestClient,
    session: Session,
    caplog,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    import logging
    import uuid

    from api.auth import security

    caplog.set_level(logging.INFO)
    event = create_event(session, owner=create_user(session))
    ann = register_attendee(client, event.code, email="ann@example.com", notify=True)
    token = security.create_unsubscribe_token(uuid.UUID(ann["attendee_id"]))
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    assert client.post(f"/api/unsubscribe/{token}").status_code == 200
    access = [r.getMessage() for r in caplog.records if r.name == "facematch.access"]
    assert any("/api/unsubscribe/[redacted]" in line for line in access), access
    ours = [r for r in caplog.records if not r.name.startswith("httpx")]  # the test's client
    assert [r.__dict__ for r in ours if token in r.getMessage() or token in str(r.__dict__)] == []
    monkeypatch.setattr(security, "UNSUBSCRIBE_LINK_DAYS", -1)
    stale = security.create_unsubscribe_token(uuid.UUID(ann["attendee_id"]))
    expired = client.post(f"/api/unsubscribe/{stale}")
    assert (expired.status_code, expired.json()["code"]) == (400, "link_expired")


def test_a_pass_reads_only_attendees_with_news_and_clears_what_it_counted(
    client: TestClient, session: Session, redis: Redis
) -> None:
    """Matching marks the attendee (`news_since`); the digest that counts the news, or a
    pass that finds it gone (a "not me" before the digest), clears the mark. A match no
    matching announced is no digest: the mark, not a scan of matches, is what is read."""
    from core.models import Match

    event = create_event(session, owner=create_user(session))
    ann = register_attendee(client, event.code, email="ann-news@example.com", notify=True)
    gone = register_attendee(client, event.code, email="gone-news@example.com", notify=True)
    _matched(session, event, ann["attendee_id"], 2)
    _matched(session, event, gone["attendee_id"], 1)
    for match in session.exec(
        select(Match).where(Match.attendee_id == uuid.UUID(gone["attendee_id"]))
    ):
        session.delete(match)  # taken back before its digest
    session.commit()

    assert _pass(redis) == 1
    session.expire_all()
    for attendee_id in (ann["attendee_id"], gone["attendee_id"]):
        attendee = session.get(Attendee, uuid.UUID(attendee_id))
        assert attendee is not None and attendee.news_since is None
    assert len(mailed_all("gone-news@example.com")) == 1, "the sign-in mail only"

    _interval_passes(session, ann["attendee_id"])
    earlier = session.exec(select(Match)).first()
    assert earlier is not None
    photo = create_photo(session, event=event, status="indexed")
    session.add(Match(attendee_id=earlier.attendee_id, photo_id=photo.id,
                      face_id=earlier.face_id, event_id=event.id, distance=0.3))  # fmt: skip
    session.commit()
    assert _pass(redis) == 0, "a match nobody announced is not read"


def test_a_digest_and_a_sign_in_mail_carry_the_photographers_brand(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session)
    event = create_event(session, owner=owner, name="City Marathon")
    event.accent_color, event.welcome_text = "#c2185b", "Well run!\nPhotos by Studio Mer."
    event.logo_key, event.logo_version = f"events/{event.id}/brand/logo-3.png", 3
    session.add(event)
    session.commit()
    ann = register_attendee(client, event.code, email="ann@example.com", notify=True)
    logo = f"{settings.PUBLIC_URL}/api/e/{event.code}/logo?v=3"
    [sign_in] = mailed("ann@example.com")
    assert logo in sign_in.html and "background:#c2185b;color:#ffffff" in sign_in.html
    assert "Well run!" not in sign_in.text, "the welcome goes to confirmed addresses only"

    _matched(session, event, ann["attendee_id"], 2)
    assert _pass(redis) == 1
    digest = mailed("ann@example.com", count=2)[0]
    assert logo in digest.html and "background:#c2185b" in digest.html
    assert "Well run!\nPhotos by Studio Mer." in digest.text.replace("\r\n", "\n")
    assert "Well run!\nPhotos by Studio Mer." in digest.html.replace("\r\n", "\n")


def test_a_mail_without_an_event_keeps_the_platforms_look(
    client: TestClient, session: Session
) -> None:
    from api.mail.service import render

    _, _, html = render("delete_account", link="https://x/delete-account#t", minutes=15)
    assert ">facematch</p>" in html
