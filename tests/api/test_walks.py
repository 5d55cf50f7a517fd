"""How wide three everyday walks through the code are: which project modules run when an
event is deleted, a selfie is uploaded and judged, and an attendee signs in by a mailed
link, each from its HTTP request through its jobs. Each walk's API side stays in its own
feature folders (named here, so that a walk that widens is a decision, not a drift), and
its worker side never reaches into `api/`.

`pytest tests/api/test_walks.py -s` prints each walk's files.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session

from tests.helpers import (
    create_event,
    create_user,
    face_photo,
    link_token,
    mailed_link,
    register_attendee,
    run_jobs,
    token_headers,
    upload_selfie,
)

BASE = Path(__file__).resolve().parents[2]
OBAMA = "ageitgey_face_recognition/examples/obama.jpg"


@contextmanager
def _traced() -> Iterator[set[str]]:
    """The project modules (core, api, workers) whose code runs inside the block, in every
    thread (the test client serves the app from another one)."""
    seen: set[str] = set()

    def profile(frame: FrameType, event: str, _: Any) -> None:
        if event == "call":
            path = frame.f_code.co_filename
            if path.startswith(str(BASE)) and path.endswith(".py"):
                relative = Path(path).relative_to(BASE)
                if relative.parts[0] in ("core", "api", "workers"):
                    seen.add(relative.as_posix())

    threading.setprofile(profile)  # type: ignore[arg-type]
    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


# The features each walk's API side may use besides its own, and why.
API_SIDE = {
    "delete an event": {"events", "auth"},  # auth: who asks
    "upload a selfie": {"attendees", "auth", "events"},  # events: is it open
    "sign in by link": {"signin", "attendees", "auth", "events", "mail", "branding"},
}
"""attendees: the attendance a join creates; mail: the outbox the link goes out by;
branding: the event's logo and accent on the mail."""


def _walk(name: str, run: Callable[[TestClient], None], client: TestClient) -> None:
    import workers.tasks  # noqa: F401  (imported before: a job's walk, not the import's)

    with _traced() as seen:
        # A client of its own: each request's thread starts inside the trace.
        run(TestClient(client.app, client=("127.0.0.1", 50000)))
    features = {p.split("/")[1] for p in seen if p.startswith("api/") and p.count("/") >= 2}
    worker_side = sorted(p for p in seen if p.startswith("workers/"))
    print(f"\n{name}: {len(seen)} files; api features {sorted(features)};"
          f" workers {worker_side}")  # fmt: skip
    for path in sorted(seen):
        print(f"  {path}")
    assert features <= API_SIDE[name], features - API_SIDE[name]
    assert worker_side, "the walk ran no job"


def test_deleting_an_event(client: TestClient, session: Session, redis: Redis) -> None:
    owner = create_user(session)
    event = create_event(session, owner=owner)
    headers = token_headers(client, owner.email)

    def run(walker: TestClient) -> None:
        assert walker.delete(f"/api/events/{event.id}", headers=headers).status_code == 202
        run_jobs(redis)

    _walk("delete an event", run, client)


@pytest.mark.faces
def test_uploading_a_selfie(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    selfie = face_photo(OBAMA)

    def run(walker: TestClient) -> None:
        assert upload_selfie(walker, attendee["headers"], selfie).status_code == 202
        run_jobs(redis)

    _walk("upload a selfie", run, client)


def test_signing_in_by_link(client: TestClient, session: Session, redis: Redis) -> None:
    event = create_event(session, owner=create_user(session))
    email = "walker@example.com"

    def run(walker: TestClient) -> None:
        body = {"event_code": event.code, "email": email, "name": "W", "consent": True}
        assert walker.post("/api/register-with-event-code", json=body).status_code == 202
        link = mailed_link(email)  # runs the mail job
        redeemed = walker.post("/api/sign-in-link/redeem", json={"token": link_token(link)})
        assert redeemed.status_code == 200

    _walk("sign in by link", run, client)
