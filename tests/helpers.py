"""Plain helper functions that make test data, with keyword arguments and defaults."""

from __future__ import annotations

import io
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image
from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlmodel import Session

SHARED = Path(os.environ.get("FACEMATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
"""The workplace's shared folder beside the repository: test photos and schemas."""
FACES = Path(os.environ.get("FACEMATCH_FACES", SHARED / "testdata/faces"))
PASSWORD = "correct horse battery"

KNN = "ageitgey_face_recognition/examples/knn_examples"
EVENT_PHOTOS = {
    "obama_and_biden.jpg": f"{KNN}/test/obama_and_biden.jpg",
    "two_people.jpg": "ageitgey_face_recognition/examples/two_people.jpg",
    "kit_with_rose.jpg": f"{KNN}/test/kit_with_rose.jpg",
    "friends.jpg": "pypi_insightface/t1.jpg",
    "obama.jpg": "ageitgey_face_recognition/examples/obama.jpg",
    "biden.jpg": "ageitgey_face_recognition/examples/biden.jpg",
    "kit.jpeg": f"{KNN}/train/kit_harington/john1.jpeg",
    "rose.jpg": f"{KNN}/train/rose_leslie/img1.jpg",
    "lin.png": "ageitgey_face_recognition/examples/lin-manuel-miranda.png",
    "dogs.jpg": "dlib_examples_faces/dogs.jpg",
}
IN_PHOTOS = {
    "obama": {"obama_and_biden.jpg", "two_people.jpg", "obama.jpg"},
    "kit_harington": {"kit_with_rose.jpg", "kit.jpeg"},
}
SELFIES = {
    "obama": "ageitgey_face_recognition/examples/obama2.jpg",
    "kit_harington": f"{KNN}/test/johnsnow_test1.jpg",
}

_counter = itertools.count()


def create_user(
    session: Session,
    *,
    email: str | None = None,
    role: str = "photographer",
    password: str = PASSWORD,
    full_name: str | None = None,
):  # type: ignore[no-untyped-def]
    from api.auth.security import hash_password
    from core.models import Role, User

    user = User(
        email=email or f"user{next(_counter)}@example.com",
        role=Role(role),
        hashed_password=hash_password(password),
        full_name=full_name,
    )
    session.add(user)
    session.commit()
    return user


def create_event(session: Session, *, owner, name: str = "Summer party", tolerance=None):  # type: ignore[no-untyped-def]
    from api.events.codes import new_code
    from core.models import Event

    event = Event(name=name, owner_id=owner.id, code=new_code(), tolerance=tolerance)
    session.add(event)
    session.commit()
    return event


def owned_event(session: Session, *, name: str = "Harbour Regatta", **fields: object):  # type: ignore[no-untyped-def]
    """An event with `fields` set, and its new owner's auth headers."""
    owner = create_user(session)
    event = create_event(session, owner=owner, name=name)
    for field, value in fields.items():
        setattr(event, field, value)
    session.add(event)
    session.commit()
    return event, {"Authorization": f"Bearer {session_token(session, owner)}"}


@contextmanager
def committed_after(marker: str, commit: Callable[[], object]) -> Iterator[list[object]]:
    """Run `commit` (on another connection) right after the first SQL statement containing
    `marker`, as a concurrent request or job would: what it returned is listed."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    done: list[object] = []

    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if marker in statement and not done:
            done.append(commit())

    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield done
    finally:
        event.remove(Engine, "after_cursor_execute", after)
    assert done, f"no statement with {marker!r} ran"


def token_headers(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def register_attendee(
    client: TestClient,
    event_code: str,
    *,
    email: str | None = None,
    notify: bool = False,
) -> dict:  # type: ignore[type-arg]
    """Join as an attendee does: the registration mails a link (through the test SMTP
    server), and the link is spent for a session."""
    email = email or f"attendee{next(_counter)}@example.com"
    response = client.post(
        "/api/register-with-event-code",
        json={"event_code": event_code, "email": email, "name": "Attendee", "consent": True,
              "notify": notify},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return redeem(client, mailed_link(email))


def redeem(client: TestClient, link: str) -> dict:  # type: ignore[type-arg]
    response = client.post("/api/sign-in-link/redeem", json={"token": link_token(link)})
    assert response.status_code == 200, response.text
    body = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    return body


def link_token(link: str) -> str:
    return link.split("/signin#", 1)[1]


def mailed(email: str, *, count: int = 1, timeout: float = 15.0) -> list:  # type: ignore[type-arg]
    """The mails the test SMTP server received for `email`, newest first, once there are
    `count`: the outbox's jobs run here (a live worker may take them first)."""
    import time

    from api.mail.caught import caught_mails
    from core.redis import get_redis

    deadline = time.monotonic() + timeout
    while True:
        run_jobs(get_redis(), "emails", "digests")
        mails = caught_mails(to=email)
        if len(mails) >= count or time.monotonic() > deadline:
            assert len(mails) >= count, f"{len(mails)} mails to {email}, expected {count}"
            return mails
        time.sleep(0.1)


def mailed_all(email: str) -> list:  # type: ignore[type-arg]
    """Every mail to `email` once the outbox's queued jobs have run (none is fine)."""
    from api.mail.caught import caught_mails
    from core.redis import get_redis

    run_jobs(get_redis(), "emails", "digests")
    return caught_mails(to=email)


def mailed_link(email: str, *, count: int = 1) -> str:
    """The sign-in link of the newest mail to `email`."""
    links = [u for u in mailed(email, count=count)[0].links if "/signin#" in u]
    assert links, "the mail has no sign-in link"
    return links[0]


def session_token(session: Session, user, attendee_id: uuid.UUID | None = None) -> str:  # type: ignore[no-untyped-def]
    """An access token of a new session, as a sign-in makes (committed)."""
    from api.auth.service import start_session

    token = start_session(session, user, attendee_id)
    session.commit()
    return token


def image_bytes(
    *,
    size: tuple[int, int] = (64, 48),
    mode: str = "RGB",
    fmt: str = "JPEG",
    color: object = (200, 120, 40),
    exif_orientation: int | None = None,
) -> bytes:
    image = Image.new(mode, size, color)  # type: ignore[arg-type]
    buffer = io.BytesIO()
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def logo_bytes(size: tuple[int, int] = (200, 80), fmt: str = "PNG") -> bytes:
    """A logo: a dark bar with a transparent margin, so a mark made of it is findable."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    inner = (size[0] // 8, size[1] // 4, size[0] - size[0] // 8, size[1] - size[1] // 4)
    image.paste((20, 30, 160, 255), inner)
    if fmt == "JPEG":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def face_photo(relative: str) -> bytes:
    return (FACES / relative).read_bytes()


def run_jobs(redis: Redis, *names: str) -> None:
    """Run every queued job (of the queues `names`, or all) in this process, as RQ's
    testing docs suggest."""
    from core.queue import QUEUE_NAMES, JobQueue

    queues = list(JobQueue(redis).queues[name] for name in names or QUEUE_NAMES)
    SimpleWorker(queues, connection=redis, serializer=JSONSerializer).work(burst=True)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def create_photo(session: Session, *, event, data: bytes | None = None, **fields):  # type: ignore[no-untyped-def]
    """A photo row; with `data`, its file is stored too."""
    from core.models import Photo
    from core.storage import get_storage

    photo_id = uuid.uuid4()
    values = {
        "storage_key": f"events/{event.id}/photos/{photo_id}.jpg",
        "filename": "photo.jpg",
        "content_type": "image/jpeg",
        "bytes": len(data) if data else 1,
        "width": 1,
        "height": 1,
        **fields,
    }
    if "created_at" in values and "captured_at" not in values:
        values["captured_at"] = values["created_at"]  # no capture time: its upload time
    photo = Photo(id=photo_id, event_id=event.id, **values)
    if data is not None:
        get_storage().put(photo.storage_key, data)
    session.add(photo)
    session.commit()
    return photo


def create_match(session: Session, *, photo, attendee_id, distance: float = 0.3):  # type: ignore[no-untyped-def]
    """A face in `photo` matched to the attendee, announced as matching announces it."""
    from core.models import Face, Match
    from workers.matching import Written, announce

    face = Face(photo_id=photo.id, event_id=photo.event_id, top=0, right=1, bottom=1, left=0,
                encoding=[0.0] * 128, detected_width=1, detected_height=1)  # fmt: skip
    session.add(face)
    session.flush()
    from sqlalchemy import func, select

    now = session.execute(select(func.now())).scalar_one()  # as matching's SQL stamps it
    match = Match(attendee_id=attendee_id, photo_id=photo.id, face_id=face.id,
                  event_id=photo.event_id, distance=distance, created_at=now)  # fmt: skip
    session.add(match)
    session.flush()
    announce(session, Written(1, {match.attendee_id}))
    session.commit()
    return match


def upload_selfie(client: TestClient, headers: dict[str, str], data: bytes | None = None):  # type: ignore[no-untyped-def]
    """POST /api/upload-selfie; the response, whatever its status."""
    return client.post(
        "/api/upload-selfie", files={"file": ("me.jpg", data or image_bytes())}, headers=headers
    )


def traces_of_event(session: Session, redis: Redis, event_id: uuid.UUID, *ids: uuid.UUID) -> dict:  # type: ignore[type-arg]
    """What is left of an event: rows in every table with an `event_id` (but the audit
    log, which outlives what it counts by design) and the event's own; rows that name one
    of `ids` (its photos, selfies, attendees, their accounts) in any uuid column; files
    under its folder in storage; and Redis keys whose name or value holds one of the ids."""
    from sqlalchemy import text

    from core.storage import event_folder, get_storage

    names = {str(i) for i in (event_id, *ids)}
    columns = session.exec(  # type: ignore[call-overload]
        text(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type = 'uuid' AND table_name <> 'audit_log'"
        )
    ).all()
    rows = {}
    for table, column in columns:
        count = session.exec(  # type: ignore[call-overload]
            text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = ANY(CAST(:ids AS uuid[]))'),
            params={"ids": sorted(names)},
        ).scalar_one()
        if count:
            rows[f"{table}.{column}"] = count
    session.rollback()
    keys = []
    for key in redis.scan_iter(count=1000):
        readers = {
            "string": lambda k: redis.get(k),
            "hash": lambda k: redis.hgetall(k),
            "list": lambda k: redis.lrange(k, 0, -1),
            "set": lambda k: redis.smembers(k),
            "zset": lambda k: redis.zrange(k, 0, -1),
        }
        value = readers.get(redis.type(key).decode(), lambda k: b"")(key)
        blob = key.decode(errors="replace") + " " + repr(value)
        if any(name in blob for name in names):
            keys.append(key.decode(errors="replace"))
    files = get_storage().keys(event_folder(event_id))
    return {"rows": rows, "files": files, "redis": sorted(keys)}


def _axis_encoding(distance: float, axis: int) -> list[float]:
    """An encoding `distance` from the all-zero selfie along its own axis: faces on
    different axes are far from each other (no two of them make a group)."""
    import numpy as np

    vector = np.zeros(128)
    vector[axis] = distance
    return vector.tolist()


def create_matched_event(session: Session, distances: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    """An event at tolerance 0.60 whose attendees (named by the keys, one selfie each, far
    from each other) are at the given distances from one face each in photos of their own,
    matched as their selfie jobs match them."""
    import numpy as np

    from core.config import settings
    from core.models import Attendee, Face, Selfie, utcnow
    from workers import matching

    owner = create_user(session)
    event = create_event(session, owner=owner, tolerance=0.6)
    attendees = {}
    axis = 0
    for name, faces in distances.items():
        user = create_user(session, role="attendee", full_name=name)
        attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                            consent_policy_version=settings.CONSENT_POLICY_VERSION)  # fmt: skip
        session.add(attendee)
        session.flush()
        selfie = np.zeros(128)
        selfie[127 - len(attendees)] = 3.0  # attendees far apart from each other
        session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                           encoding=selfie.tolist()))  # fmt: skip
        for d in faces:
            photo = create_photo(session, event=event, status="indexed")
            encoding = np.array(_axis_encoding(d, axis)) + selfie
            axis += 1
            session.add(Face(photo_id=photo.id, event_id=event.id, top=0, right=90, bottom=90,
                             left=0, encoding=encoding.tolist(), detected_width=6000,
                             detected_height=4000, size_px=90, quality=0.8))  # fmt: skip
        session.commit()
        attendees[name] = attendee
    for attendee in attendees.values():  # as their selfie jobs do
        matching.match_attendee(session, event.id, attendee.id, 0.6, settings.MATCH_MARGIN)
        session.commit()
    return event


_A = "ageitgey_face_recognition/"
_G = _A + "pr1285/examples/face_recognition_svm_proba/people_dataset/"
TURNS = {
    "obama": {"straight": _A + "examples/obama.jpg",
              "left": _A + "examples/knn_examples/test/obama1.jpg",
              "right": _A + "examples/obama2.jpg"},
    "guido": {"straight": _G + "train/guido_van_rossum/guido_van_rossum3.jpg",
              "left": _G + "test/test_guido_van_rossum.jpg",
              "right": _G + "train/guido_van_rossum/guido_van_rossum2.jpg"},
    "wozniak": {"straight": _G + "train/steve_wozniak/steve_wozniak3.jpg",
                "right": _G + "train/steve_wozniak/steve_wozniak4.jpg"},
}  # fmt: skip
"""Photos of one person looking straight and turned to their own left and right (yaw
ratios about 0, +0.26 and -0.20 for obama; 0, +0.28, -0.19 for guido)."""


def live_frames(steps: list[str], person: str = "obama", **swap: str) -> list[bytes]:
    """A live selfie's frames for `steps`, as the page sends them, from `person`'s photos
    in TURNS (`swap`: a step's photo from another path instead)."""
    from loadtest.datasets import upright
    from loadtest.liveness_data import camera_frame

    return [camera_frame(upright(swap.get(step) or TURNS[person][step])) for step in steps]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle of a graph (node: the nodes it imports), each as a path that
    ends where it began."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found
