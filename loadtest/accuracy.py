""" "My photos" accuracy through the real matching SQL on a throwaway embedded PostgreSQL.

Two harnesses use it:
- `run_accuracy` (bench_engine.py accuracy): every identity in identities.csv is
  an attendee of one event, with its first usable photo as the selfie; the
  photos are the group photos and collages of the identities' *other* photos,
  so no selfie is ever matched to itself.
- loadtest/crowd_bench.py: 6000x4000 crowds, each identity alone in an event.

Each sweep runs `workers.matching.rematch_event` for every setting and compares
each attendee's photos with who is really in them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import settings
from loadtest import datasets

TOLERANCES = [0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
MARGINS = [0.0, 0.03, 0.06]

Found = tuple[tuple[int, int, int, int], Any, float]
"""(box, encoding, quality) of one face, as the pipelines return them."""


def _encode_everything(collage_count: int):  # type: ignore[no-untyped-def]
    from workers import faces

    faces.load_models()
    selfies, pool = held_out_selfies(datasets.identities())
    photos = [
        datasets.Photo(Path(p).name, (datasets.FACES / p).read_bytes(), members)
        for p, members in datasets.GROUPS.items()
    ] + datasets.collages(pool, collage_count)
    indexed = [
        (photo, [(f.box, f.encoding, f.quality) for f in faces.index_photo(photo.data)[1]])
        for photo in photos
    ]
    return selfies, indexed


def held_out_selfies(by_identity: dict[str, list[str]]) -> tuple[dict[str, Any], dict[str, list]]:  # type: ignore[type-arg]
    """Each identity's first photo that passes as a selfie, encoded, and its other photos.

    Identities with one photo have no selfie: they stay in the pool as bystanders.
    """
    from workers import faces

    selfies, pool = {}, {}
    for identity, paths in by_identity.items():
        pool[identity] = paths
        if len(paths) < 2:
            continue
        for i, path in enumerate(paths):
            verdict = faces.judge_selfie((datasets.FACES / path).read_bytes())
            if verdict.ok:
                selfies[identity] = verdict.encoding
                pool[identity] = paths[:i] + paths[i + 1 :]
                break
    return selfies, pool


@contextlib.contextmanager
def matching_db() -> Iterator[Any]:
    """A migrated throwaway database; yields an open sqlmodel Session."""
    data_dir = Path(tempfile.mkdtemp(prefix="facematch-accuracy-"))
    from devtools import local

    postgres, url = local.start_postgres(data_dir, cleanup_mode="delete")
    os.environ.update(
        FACEMATCH_DATA_DIR=str(data_dir),
        FACEMATCH_DATABASE_URL=url,
        FACEMATCH_REDIS_URL="redis://127.0.0.1:1/0",
    )
    from core.config import settings

    # The settings may have been read before this database existed.
    settings.DATA_DIR, settings.DATABASE_URL = data_dir, url
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        from sqlmodel import Session

        from core.db import get_engine
        from core.migrate import run_migrations

        run_migrations()
        with Session(get_engine()) as session:
            yield session
    finally:
        from core.db import get_engine

        get_engine().dispose()
        local.stop_postgres(postgres)
        shutil.rmtree(data_dir, ignore_errors=True)


def add_faces(
    session: Any, event_id: uuid.UUID, photo_id: uuid.UUID, found: list[Found], detected: int = 1
) -> None:
    """A photo's faces as the indexing job stores them (`detected`: the detection image's
    width and height, which only the photo's page reads)."""
    from core.models import Face

    for (top, right, bottom, left), encoding, quality in found:
        session.add(Face(photo_id=photo_id, event_id=event_id, top=top, right=right,
                         bottom=bottom, left=left, encoding=list(map(float, encoding)),
                         detected_width=detected, detected_height=detected,
                         size_px=right - left, quality=quality))  # fmt: skip


@dataclass
class BenchEvent:
    id: uuid.UUID
    attendee_of: dict[uuid.UUID, str]
    photo_names: dict[uuid.UUID, str]


def add_event(
    session: Any, name: str, selfies: dict[str, Any], photos: list[tuple[str, list[Found]]]
) -> BenchEvent:
    """An event with one attendee per selfie and the photos' faces, committed."""
    from core.models import Attendee, Event, Photo, Role, Selfie, User, utcnow

    owner = User(email=f"owner-{uuid.uuid4().hex[:8]}@example.com", role=Role.photographer,
                 hashed_password="x")  # fmt: skip
    session.add(owner)
    session.flush()
    event = Event(name=name, code=uuid.uuid4().hex[:7].upper(), owner_id=owner.id)
    session.add(event)
    session.flush()
    attendee_of = {}
    for identity, encoding in selfies.items():
        user = User(email=f"{identity}-{uuid.uuid4().hex[:8]}@example.com", role=Role.attendee,
                    hashed_password="x")  # fmt: skip
        session.add(user)
        session.flush()
        attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                            consent_policy_version=settings.CONSENT_POLICY_VERSION)  # fmt: skip
        session.add(attendee)
        session.flush()
        session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                           encoding=list(map(float, encoding))))  # fmt: skip
        attendee_of[attendee.id] = identity
    photo_names = {}
    for photo_name, found in photos:
        row = Photo(event_id=event.id, storage_key=photo_name, filename=photo_name,
                    content_type="image/jpeg", bytes=1, width=1, height=1, status="indexed",
                    face_count=len(found))  # fmt: skip
        session.add(row)
        session.flush()
        photo_names[row.id] = photo_name
        add_faces(session, event.id, row.id, found)
    session.commit()
    if selfies:
        # Matches are a filter over each face's nearest attendees (`face_nearest`), which
        # the worker keeps as photos and selfies arrive; rows inserted here need them built.
        from workers.matching import rebuild

        rebuild.rebuild(session, event.id)
        session.commit()
    return BenchEvent(event.id, attendee_of, photo_names)


def predicted_pairs(
    session: Any, events: list[BenchEvent], tolerance: float, margin: float
) -> set[tuple[str, str]]:
    """(identity, photo name) for every match after rematching the events."""
    from sqlmodel import col, select

    from core.models import Match
    from workers import matching

    pairs = set()
    for event in events:
        matching.rematch_event(session, event.id, tolerance, margin)
        session.commit()
        for m in session.exec(select(Match).where(col(Match.event_id) == event.id)).all():
            pairs.add((event.attendee_of[m.attendee_id], event.photo_names[m.photo_id]))
    return pairs


def score(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, Any]:
    correct = len(predicted & truth)
    return {
        "precision": correct / len(predicted) if predicted else 1.0,
        "recall": correct / len(truth) if truth else 1.0,
        "wrong": len(predicted - truth),
        "missed": len(truth - predicted),
    }


def run_accuracy(collage_count: int) -> list[dict]:  # type: ignore[type-arg]
    selfies, indexed = _encode_everything(collage_count)
    truth = {
        (identity, photo.name)
        for photo, _ in indexed
        for identity in photo.members
        if identity in selfies
    }
    rows = []
    with matching_db() as session:
        event = add_event(session, "accuracy", selfies, [(p.name, f) for p, f in indexed])
        for margin in MARGINS:
            for tolerance in TOLERANCES:
                predicted = predicted_pairs(session, [event], tolerance, margin)
                rows.append({"tolerance": tolerance, "margin": margin,
                             **score(predicted, truth)})  # fmt: skip
    faces_total = sum(len(f) for _, f in indexed)
    print(
        f'\n== "my photos" accuracy: {len(selfies)} attendees, {len(indexed)} photos, '
        f"{faces_total} faces, {len(truth)} true (attendee, photo) pairs"
    )
    print(
        f"{'margin':>6} {'tolerance':>9} {'precision':>9} {'recall':>7} {'wrong':>5} {'missed':>6}"
    )
    for r in rows:
        print(
            f"{r['margin']:6.2f} {r['tolerance']:9.2f} {r['precision']:9.2%} "
            f"{r['recall']:7.2%} {r['wrong']:5d} {r['missed']:6d}"
        )
    return rows
