""" "My photos" accuracy through the real matching SQL on a throwaway embedded PostgreSQL.

Every identity in identities.csv is an attendee of one event, with its first
usable photo as the selfie. The event's photos are the group photos and
collages of the identities' *other* photos, so no selfie is ever matched to
itself. For each tolerance and margin, `workers.matching.rematch_event` runs
and each attendee's photos are compared with who is really in them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from loadtest import datasets

TOLERANCES = [0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
MARGINS = [0.0, 0.03, 0.06]


def _encode_everything(collage_count: int):  # type: ignore[no-untyped-def]
    from workers import faces

    faces.load_models()
    selfies, pool = {}, {}
    for identity, paths in datasets.identities().items():
        for i, path in enumerate(paths):
            verdict = faces.judge_selfie((datasets.FACES / path).read_bytes())
            if verdict.ok:
                selfies[identity] = verdict.encoding
                pool[identity] = paths[:i] + paths[i + 1 :]
                break
    pool = {k: v for k, v in pool.items() if v}
    photos = [
        datasets.Photo(Path(p).name, (datasets.FACES / p).read_bytes(), members)
        for p, members in datasets.GROUPS.items()
    ] + datasets.collages(pool, collage_count)
    indexed = [(photo, faces.index_photo(photo.data)[1]) for photo in photos]
    return selfies, indexed


def run_accuracy(collage_count: int) -> list[dict]:  # type: ignore[type-arg]
    selfies, indexed = _encode_everything(collage_count)
    data_dir = Path(tempfile.mkdtemp(prefix="facematch-accuracy-"))
    from api import local

    postgres, url = local.start_postgres(data_dir, cleanup_mode="delete")
    os.environ.update(
        FACEMATCH_DATA_DIR=str(data_dir),
        FACEMATCH_DATABASE_URL=url,
        FACEMATCH_REDIS_URL="redis://127.0.0.1:1/0",
    )
    try:
        return _measure(selfies, indexed)
    finally:
        from api.db import get_engine

        get_engine().dispose()
        local.stop_postgres(postgres)
        shutil.rmtree(data_dir, ignore_errors=True)


def _measure(selfies, indexed) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    from sqlmodel import Session, select

    from api.cli_support import run_migrations
    from api.db import get_engine
    from api.models import Attendee, Event, Face, Match, Photo, Role, Selfie, User, utcnow
    from workers import matching

    run_migrations()
    with Session(get_engine()) as session:
        owner = User(email="bench@example.com", role=Role.photographer, hashed_password="x")
        event = Event(name="accuracy", code="ACC-ACC", owner_id=owner.id)
        session.add(owner)
        session.flush()
        session.add(event)
        session.flush()
        attendee_of = {}
        for identity, encoding in selfies.items():
            user = User(email=f"{identity}@example.com", role=Role.attendee, hashed_password="x")
            attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                                consent_policy_version="bench")  # fmt: skip
            selfie = Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                            encoding=encoding.tolist())  # fmt: skip
            session.add(user)
            session.flush()
            session.add(attendee)
            session.flush()
            session.add(selfie)
            attendee_of[attendee.id] = identity
        photo_names = {}
        for photo, found in indexed:
            row = Photo(event_id=event.id, storage_key=photo.name, filename=photo.name,
                        content_type="image/jpeg", bytes=len(photo.data), width=1, height=1,
                        status="indexed", face_count=len(found))  # fmt: skip
            session.add(row)
            session.flush()
            photo_names[row.id] = photo.name
            for face in found:
                top, right, bottom, left = face.box
                session.add(Face(photo_id=row.id, event_id=event.id, top=top, right=right,
                                 bottom=bottom, left=left, encoding=face.encoding.tolist(),
                                 detected_width=1, detected_height=1))  # fmt: skip
        session.commit()
        truth = {
            (identity, photo.name)
            for photo, _ in indexed
            for identity in photo.members
            if identity in selfies
        }
        rows = []
        for margin in MARGINS:
            for tolerance in TOLERANCES:
                matching.rematch_event(session, event.id, tolerance, margin)
                session.commit()
                predicted = {
                    (attendee_of[m.attendee_id], photo_names[m.photo_id])
                    for m in session.exec(select(Match)).all()
                }
                correct = len(predicted & truth)
                rows.append({
                    "tolerance": tolerance,
                    "margin": margin,
                    "precision": correct / len(predicted) if predicted else 1.0,
                    "recall": correct / len(truth) if truth else 1.0,
                    "wrong": len(predicted - truth),
                    "missed": len(truth - predicted),
                })  # fmt: skip
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
