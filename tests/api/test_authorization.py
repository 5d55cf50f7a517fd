"""Who may call what: every route x every kind of caller, generated from the app's route table.

A route added without a rule here fails `test_every_route_has_a_rule`. Callers:
anonymous; an attendee matched to the photo; another attendee of the same event
(not matched); the event's photographer; another photographer; an admin. A
caller the rule leaves out gets 401 (no token) or 403; one it lets in gets
anything but those.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.routing import BaseRoute, Mount

from api.main import create_app
from core.models import Attendee
from tests.helpers import (
    PASSWORD,
    create_event,
    create_match,
    create_photo,
    create_user,
    image_bytes,
    logo_bytes,
    register_attendee,
    session_token,
)

CALLERS = ("anonymous", "attendee", "other_attendee", "owner", "photographer", "admin")
PUBLIC = frozenset(CALLERS)
SIGNED_IN = PUBLIC - {"anonymous"}
ATTENDEES = frozenset({"attendee", "other_attendee"})
STAFF = frozenset({"owner", "photographer", "admin"})
OWNER = frozenset({"owner", "admin"})
ADMIN = frozenset({"admin"})

RULES: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/auth/token"): PUBLIC,
    ("GET", "/api/users/me"): SIGNED_IN,
    ("POST", "/api/events"): STAFF,
    ("GET", "/api/events"): STAFF,
    ("GET", "/api/events/{event_id}"): OWNER,
    ("PATCH", "/api/events/{event_id}"): OWNER,
    ("POST", "/api/photographer/events/{event_id}/rematch"): OWNER,
    ("GET", "/api/events/{event_id}/calibration"): OWNER,
    ("POST", "/api/events/{event_id}/calibration/previews"): OWNER,
    ("GET", "/api/events/{event_id}/calibration/previews/{tolerance}"): OWNER,
    ("POST", "/api/events/{event_id}/photos"): OWNER,
    ("GET", "/api/events/{event_id}/photos"): OWNER,
    ("GET", "/api/photos/{photo_id}/image"): OWNER | {"attendee"},
    ("DELETE", "/api/photos/{photo_id}"): OWNER,
    ("GET", "/api/photos/{photo_id}/people"): OWNER,
    ("DELETE", "/api/events/{event_id}"): OWNER,
    ("POST", "/api/events/{event_id}/archive-link"): OWNER,
    ("GET", "/api/events/{event_id}/archive"): OWNER,  # or a link's token (test_endpoints.py)
    ("POST", "/api/sign-in-link"): PUBLIC,
    ("POST", "/api/admin/sign-in-links"): ADMIN,
    ("POST", "/api/sign-in-link/redeem"): PUBLIC,  # with a link's token (400 without)
    ("POST", "/api/unsubscribe/{token}"): PUBLIC,  # with a mail's token (400 without)
    ("POST", "/api/auth/sign-out"): SIGNED_IN,
    ("GET", "/api/me/sessions"): SIGNED_IN,
    ("DELETE", "/api/me/sessions/{session_id}"): SIGNED_IN,
    ("GET", "/api/me/notifications"): ATTENDEES,
    ("GET", "/api/me/consent"): ATTENDEES,
    ("GET", "/api/me/events"): ATTENDEES,
    ("POST", "/api/me/events/{event_id}/session"): ATTENDEES,
    ("POST", "/api/me/consent"): ATTENDEES,
    ("PUT", "/api/me/notifications"): ATTENDEES,
    ("DELETE", "/api/users/me"): SIGNED_IN,
    ("PATCH", "/api/admin/users/{user_id}"): ADMIN,
    ("DELETE", "/api/admin/users/{user_id}"): ADMIN,
    ("POST", "/api/admin/users/{user_id}/reset-link"): ADMIN,
    ("POST", "/api/auth/reset-password"): PUBLIC,  # with a link's token (400 without)
    ("POST", "/api/account-deletions"): PUBLIC,  # with a mailed link's token (400 without)
    ("GET", "/delete-account"): PUBLIC,
    ("GET", "/reset-password"): PUBLIC,
    ("POST", "/api/register-with-event-code"): PUBLIC,
    ("POST", "/api/upload-selfie"): ATTENDEES,
    ("POST", "/api/me/live-challenges"): ATTENDEES,
    ("POST", "/api/me/live-selfie"): ATTENDEES,  # with a challenge's frames (422 without)
    ("GET", "/api/events/{event_id}/held-selfies"): OWNER,
    ("POST", "/api/events/{event_id}/held-selfies/{selfie_id}/release"): OWNER,
    ("POST", "/api/events/{event_id}/held-selfies/{selfie_id}/refuse"): OWNER,
    ("POST", "/api/opt-outs/challenges"): PUBLIC,  # nobody who opts out has an account
    ("POST", "/api/opt-outs"): PUBLIC,  # with a challenge's frames (422 without)
    ("GET", "/api/opt-outs/{opt_out_id}"): PUBLIC,  # by its random id
    ("GET", "/api/me/selfie"): ATTENDEES,
    ("DELETE", "/api/me/face-data"): ATTENDEES,
    ("GET", "/api/me/photos"): ATTENDEES,
    ("GET", "/api/me/photos/archive"): ATTENDEES,
    ("POST", "/api/me/photos/archive-link"): ATTENDEES,
    ("PUT", "/api/events/{event_id}/logo"): OWNER,
    ("DELETE", "/api/events/{event_id}/logo"): OWNER,
    ("GET", "/api/e/{code}/logo"): PUBLIC,
    ("GET", "/api/e/{code}/brand"): PUBLIC,
    ("GET", "/api/events/{event_id}/webhook"): OWNER,
    ("PUT", "/api/events/{event_id}/webhook"): OWNER,
    ("DELETE", "/api/events/{event_id}/webhook"): OWNER,
    ("POST", "/api/events/{event_id}/webhook/secret"): OWNER,
    ("POST", "/api/events/{event_id}/webhook/test"): OWNER,
    ("GET", "/api/me/email-sharing"): ATTENDEES,
    ("PUT", "/api/me/locale"): ATTENDEES,
    ("GET", "/api/events/{event_id}/gallery"): OWNER,
    ("PUT", "/api/events/{event_id}/gallery"): OWNER,
    ("DELETE", "/api/events/{event_id}/gallery"): OWNER,
    # A gallery's link and password are its keys, whoever holds them (galleries/test_endpoints.py).
    ("GET", "/api/galleries/{token}"): PUBLIC,
    ("POST", "/api/galleries/{token}/access"): PUBLIC,
    ("GET", "/api/galleries/{token}/photos"): PUBLIC,
    ("GET", "/api/galleries/{token}/photos/{photo_id}/image"): PUBLIC,
    ("GET", "/g/{token}"): PUBLIC,
    ("PUT", "/api/me/email-sharing"): ATTENDEES,
    ("POST", "/api/me/photos/{photo_id}/not-me"): ATTENDEES,
    ("DELETE", "/api/me/photos/{photo_id}/not-me"): ATTENDEES,
    ("GET", "/api/me/hidden-photos"): ATTENDEES,
    ("POST", "/api/admin/users"): ADMIN,
    ("GET", "/api/admin/users"): ADMIN,
    ("GET", "/api/admin/queues"): ADMIN,
    ("GET", "/api/admin/throughput"): ADMIN,
    ("GET", "/api/admin/audit"): ADMIN,
    ("POST", "/api/admin/events/{event_id}/rematch"): ADMIN,
    ("POST", "/api/admin/events/{event_id}/owner"): ADMIN,
    ("POST", "/api/events/{event_id}/photos/known"): OWNER,  # and its contributors
    ("GET", "/api/events/{event_id}/photographers"): OWNER,
    ("POST", "/api/events/{event_id}/contributors"): OWNER,
    ("DELETE", "/api/events/{event_id}/contributors/{email}"): OWNER,
    # And a contributor for their own clock (tests/api/photographers).
    ("PUT", "/api/events/{event_id}/clocks/{user_id}"): OWNER,
    ("PUT", "/api/events/{event_id}/start-list"): OWNER,
    ("GET", "/api/events/{event_id}/start-list"): OWNER,
    ("DELETE", "/api/events/{event_id}/start-list"): OWNER,
    # Bib search: open where the event says so, else by a mailed pass (tests/api/bibs).
    ("GET", "/api/e/{code}/bibs/{bib}/photos"): PUBLIC,
    ("GET", "/api/e/{code}/bibs/{bib}/photos/{photo_id}/image"): PUBLIC,
    ("POST", "/api/e/{code}/bib-passes"): PUBLIC,
    ("GET", "/api/bib-passes/{token}/photos"): PUBLIC,  # with a pass's token (404 without)
    ("GET", "/api/bib-passes/{token}/photos/{photo_id}/image"): PUBLIC,
    ("POST", "/api/bib-passes/{token}/claim"): ATTENDEES,
    ("GET", "/api/me/bib"): ATTENDEES,
    ("PUT", "/api/me/bib"): ATTENDEES,
    ("DELETE", "/api/me/bib"): ATTENDEES,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # unless FACEMATCH_METRICS_TOKEN is set (test_metrics.py)
    # The web pages are shells; what they show comes from the API routes above.
    ("GET", "/"): PUBLIC,
    ("GET", "/join"): PUBLIC,
    ("GET", "/e/{code}"): PUBLIC,
    ("GET", "/e/{code}/qr.{kind}"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("GET", "/studio"): PUBLIC,
    ("GET", "/studio/events/{event_id}"): PUBLIC,
    ("GET", "/admin"): PUBLIC,
    ("GET", "/privacy"): PUBLIC,
    ("GET", "/bib"): PUBLIC,
    ("GET", "/e/{code}/bib/{bib}"): PUBLIC,
    ("GET", "/e/{code}/brand.css"): PUBLIC,
    ("GET", "/signin"): PUBLIC,
    ("GET", "/me"): PUBLIC,
    ("GET", "/unsubscribe/{token}"): PUBLIC,
    # Local mode only (never mounted in cluster mode: tests/api/mail/test_endpoints.py).
    ("GET", "/dev/mail"): PUBLIC,
    ("GET", "/dev/mail/{name}"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
}
_emails = itertools.count()


def _routes(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path) of every route, through included routers; HEAD is GET's twin."""
    found = []
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            found += _routes(route.effective_route_contexts())
        elif not isinstance(route, Mount):
            methods = getattr(route, "methods", None) or set()
            found += [(m, route.path) for m in sorted(methods - {"HEAD"})]  # type: ignore[attr-defined]
    return found


ROUTES = _routes(create_app().routes)


def test_every_route_has_a_rule() -> None:
    assert set(ROUTES) == set(RULES), "add a rule for each new route; drop rules of removed ones"


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    values: dict[str, str]


@pytest.fixture
def world(client: TestClient, session: Session) -> World:
    def staff(role: str) -> dict[str, str]:
        user = create_user(session, role=role)
        return {"Authorization": f"Bearer {session_token(session, user)}"}

    owner_user = create_user(session, email="owner@example.com")
    event = create_event(session, owner=owner_user)
    attendee = register_attendee(client, event.code, email="matched@example.com")
    other = register_attendee(client, event.code)
    other_user = session.get(Attendee, uuid.UUID(other["attendee_id"])).user_id  # type: ignore[union-attr]
    photo = create_photo(session, event=event, data=image_bytes(), status="indexed")
    create_match(session, photo=photo, attendee_id=attendee["attendee_id"])
    owner_token = session_token(session, owner_user)
    return World(
        headers={
            "anonymous": {},
            "attendee": attendee["headers"],
            "other_attendee": other["headers"],
            "owner": {"Authorization": f"Bearer {owner_token}"},
            "photographer": staff("photographer"),
            "admin": staff("admin"),
        },
        values={
            "event_id": str(event.id),
            "photo_id": str(photo.id),
            "code": event.code,
            "kind": "svg",
            "owner_email": owner_user.email,
            "user_id": str(other_user),
            "token": "not-a-token",
            "session_id": str(uuid.uuid4()),
            "name": "none.eml",
            "tolerance": "0.55",
            "selfie_id": str(uuid.uuid4()),
            "opt_out_id": str(uuid.uuid4()),
            "bib": "42",
            "email": "nobody@example.com",
        },
    )


def _request(client: TestClient, method: str, path: str, world: World, caller: str) -> Any:
    url = path.format(**world.values)
    headers = world.headers[caller]
    n = next(_emails)
    if (method, path) == ("POST", "/api/auth/token"):
        form = {"username": world.values["owner_email"], "password": PASSWORD}
        return client.post(url, data=form, headers=headers)
    if path.endswith("/photos") and method == "POST":
        return client.post(url, files=[("files", ("a.jpg", image_bytes()))], headers=headers)
    if path.endswith("/logo") and method == "PUT":
        return client.put(url, files={"file": ("logo.png", logo_bytes())}, headers=headers)
    if path.endswith("/start-list") and method == "PUT":
        return client.put(url, files={"file": ("start.csv", b"bib\n7\n")}, headers=headers)
    if path == "/api/upload-selfie":
        return client.post(url, files={"file": ("me.jpg", image_bytes())}, headers=headers)
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/events"): {"name": "New"},
        ("PATCH", "/api/events/{event_id}"): {"name": "Renamed"},
        ("POST", "/api/events/{event_id}/calibration/previews"): {"tolerance": 0.55},
        ("POST", "/api/opt-outs/challenges"): {"event_code": world.values["code"]},
        ("POST", "/api/register-with-event-code"): {
            "event_code": world.values["code"], "email": f"new{n}@example.com",
            "name": "New", "consent": True,
        },
        ("POST", "/api/sign-in-link"): {"email": "matched@example.com"},
        ("POST", "/api/admin/sign-in-links"): {
            "email": "matched@example.com", "event_code": world.values["code"],
        },
        ("POST", "/api/sign-in-link/redeem"): {"token": "x" * 43},
        ("PUT", "/api/me/notifications"): {"notify": True},
        ("PUT", "/api/me/bib"): {"bib": "42"},
        ("PUT", "/api/events/{event_id}/webhook"): {"url": "https://hooks.example.com/x"},
        ("PUT", "/api/me/email-sharing"): {"share_email": False},
        ("PUT", "/api/me/locale"): {"locale": "fr"},
        ("PUT", "/api/events/{event_id}/gallery"): {
            "password": "harbour-regatta", "expires_at": "2099-01-01T00:00:00Z",
        },
        ("POST", "/api/galleries/{token}/access"): {"password": "harbour-regatta"},
        ("POST", "/api/events/{event_id}/photos/known"): {"sha256": ["0" * 64]},
        ("POST", "/api/events/{event_id}/contributors"): {"email": "helper@example.com"},
        ("PUT", "/api/events/{event_id}/clocks/{user_id}"): {"offset_seconds": 60},
        ("POST", "/api/e/{code}/bib-passes"): {"bib": "42"},
        ("POST", "/api/me/consent"): {"consent": True},
        ("POST", "/api/admin/users"): {"email": f"staff{n}@example.com", "password": PASSWORD},
        ("DELETE", "/api/users/me"): {"password": PASSWORD},
        ("PATCH", "/api/admin/users/{user_id}"): {"is_active": True},
        ("POST", "/api/auth/reset-password"): {"token": "x" * 43, "password": PASSWORD},
        ("POST", "/api/admin/events/{event_id}/owner"): {"email": world.values["owner_email"]},
    }  # fmt: skip
    return client.request(method, url, json=bodies.get((method, path)), headers=headers)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_each_caller_gets_what_the_rule_says(
    client: TestClient, world: World, method: str, path: str
) -> None:
    allowed = RULES[(method, path)]
    # Refusals first: they must not depend on what an allowed call changed.
    for caller in sorted(CALLERS, key=lambda c: c in allowed):
        status = _request(client, method, path, world, caller).status_code
        if caller in allowed:
            assert status not in (401, 403), f"{caller} was refused: {status}"
            assert status < 500, f"{caller} got {status}"
        else:
            expected = 401 if caller == "anonymous" else 403
            assert status == expected, f"{caller} got {status}, not {expected}"
