"""Deleting an event: everything under it, in batches that each commit.

A worker killed midway loses nothing. The event stays `deleting` until its last step,
so the job, run again (RQ's release of an abandoned job, its retry, or the reconciler,
which finds the event still `deleting`), carries on after the last batch committed.

Each batch of DELETE_BATCH_PHOTOS photos (500: their ~10,000 faces, one S3 call): their
jobs are dropped from the queues, their files (original and previews) deleted, then
their rows, under the event's matching lock (faces and their encodings, nearest
attendees, matches and "not me"s cascade). Files
go before rows: a batch killed between the two finds the rows again and deletes the
files again (a missing file is no error); the other way round, a killed batch would
leave files that no row names.

Then, in one transaction: the selfies' images and jobs, the event's other jobs, the
files left in the event's folder (an upload killed between its file and its row), its
gallery's accesses in Redis, the event's row (selfies, attendees and what is owed them
cascade), and the accounts of attendees who joined no other event. Every step is counted
in the audit log, which keeps counts and ids, never the data; who asked is in its
`event.deletion_requested` row.

Uploads and registrations lock the event's row FOR SHARE and check its status, so once
the status says `deleting` no new photo, selfie or attendee can join it.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from core import erasure, galleries, queue
from core.config import settings
from core.db import lock_matching, session_scope
from core.erasure import Erased, Reason
from core.models import (
    Attendee,
    Event,
    EventStatus,
    Face,
    FaceOptOut,
    ForgetOwed,
    Match,
    Photo,
    Role,
    Selfie,
    User,
)
from core.redis import get_redis
from core.storage import Storage, event_folder, get_storage, photo_keys
from workers import matching
from workers.matching import face_cache, selfie_cache

log = logging.getLogger(__name__)

_REASON = Reason.event_deleted
_ACTOR = "worker"
"""Who asked for the deletion is in its `event.deletion_requested` row."""


def delete_in_batches(event_id: uuid.UUID) -> dict[str, Any] | None:
    """Delete what is left of a `deleting` event; the counts, or None if there is no such
    event (deleted already) or it is not being deleted."""
    storage, jobs = get_storage(), queue.get_job_queue()
    totals: Counter[str] = Counter()
    while True:
        with session_scope() as session:
            event = session.get(Event, event_id)
            if event is None or event.status != EventStatus.deleting:
                return None
            photos = session.exec(
                select(Photo).where(Photo.event_id == event_id).order_by(col(Photo.id))
                .limit(settings.DELETE_BATCH_PHOTOS)
            ).all()  # fmt: skip
            if not photos:
                break
            totals.update(_delete_photos(session, storage, jobs, event, photos))
    with session_scope() as session:
        event = session.get(Event, event_id, with_for_update=True)
        if event is None or event.status != EventStatus.deleting:
            return None  # another run finished it meanwhile
        totals.update(_delete_the_rest(session, storage, jobs, event))
    redis = get_redis()
    for cache in (face_cache, selfie_cache):
        cache.HOT.forget(redis, event_id)
    log.info("event %s deleted: %s", event_id, dict(totals))
    return dict(totals)


def _delete_photos(
    session: Session,
    storage: Storage,
    jobs: queue.JobQueue,
    event: Event,
    photos: list[Photo] | Any,
) -> Counter[str]:
    ids = [photo.id for photo in photos]
    jobs.discard_many([spec(i) for i in ids for spec in queue.PHOTO_JOBS])
    storage.delete_many(
        [k for p in photos for k in photo_keys(event.id, p.id, p.storage_key, event.preview_mark())]
    )
    lock_matching(session, event.id)  # no job matches these photos while they go
    faces = _count(session, Face, col(Face.photo_id).in_(ids))
    matches = _count(session, Match, col(Match.photo_id).in_(ids))
    session.exec(delete(Photo).where(col(Photo.id).in_(ids)))
    counts = Counter(photos=len(ids), faces=faces, matches=matches)
    erasure.record(
        session,
        Erased(photos=len(ids), face_encodings=faces, matches=matches),
        event_id=event.id,
        subject_id=event.id,
        actor=_ACTOR,
        reason=_REASON,
    )
    return counts


def _delete_the_rest(
    session: Session, storage: Storage, jobs: queue.JobQueue, event: Event
) -> Counter[str]:
    selfies = session.exec(select(Selfie).where(Selfie.event_id == event.id)).all()
    attendees = session.exec(select(Attendee).where(Attendee.event_id == event.id)).all()
    # Attendee accounts that joined this event only: their email goes with it.
    elsewhere = select(Attendee.user_id).where(Attendee.event_id != event.id)
    lonely = session.exec(
        select(User.id).where(
            col(User.id).in_([a.user_id for a in attendees]),
            User.role == Role.attendee,
            col(User.id).not_in(elsewhere),
        )
    ).all()
    opt_outs = session.exec(select(FaceOptOut).where(FaceOptOut.event_id == event.id)).all()
    specs = [queue.validate_selfie(s.id) for s in selfies]
    specs += [queue.judge_opt_out(o.id) for o in opt_outs]
    specs += [queue.forget_attendee(a.id) for a in attendees]
    specs += [spec(event.id) for spec in (queue.rematch_event, queue.purge_unmatched_faces)]
    jobs.discard_many(specs)
    images = [s.storage_key for s in selfies if s.storage_key]
    storage.delete_many(images)
    strays = storage.delete_prefix(event_folder(event.id))
    accesses = galleries.revoke_all(get_redis(), event.id)
    lock_matching(session, event.id)
    encodings = sum(1 for s in selfies if s.encoding is not None)
    matches = _count(session, Match, Match.event_id == event.id)
    session.delete(event)  # selfies, attendees, "not me"s and owed jobs cascade
    session.flush()
    if lonely:
        session.exec(delete(User).where(col(User.id).in_(lonely)))
    erased = Erased(
        selfie_images=len(images),
        selfie_encodings=encodings,
        matches=matches,
        opt_out_encodings=sum(o.encoding is not None for o in opt_outs),
        events=1,
    )
    erasure.record(session, erased, event_id=event.id, subject_id=event.id, actor=_ACTOR,
                   reason=_REASON)  # fmt: skip
    return Counter(selfies=len(selfies), selfie_images=len(images), attendees=len(attendees),
                   accounts=len(lonely), stray_files=strays, matches=matches,
                   gallery_accesses=accesses)  # fmt: skip


def _count(session: Session, model: Any, where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(where)).one())


def delete_event(event_id: str) -> dict[str, Any]:
    """Everything of an event being deleted, in batches that each commit ."""
    done = delete_in_batches(uuid.UUID(event_id))
    if done is None:
        return {"event_id": event_id, "skipped": True}  # gone already, or not being deleted
    return {"event_id": event_id, **done}


def forget_attendee(attendee_id: str) -> dict[str, Any]:
    """After an attendee's face data was deleted: the faces that named them, again."""
    aid = uuid.UUID(attendee_id)
    with session_scope() as session:
        # The attendee's row may be gone too (a deleted account): the faces name its event.
        event_id = matching.event_of_attendee(session, aid)
        event = session.get(Event, event_id) if event_id else None
        matched = (
            matching.forget_attendee(
                session, event.id, aid, event.effective_tolerance(), settings.MATCH_MARGIN
            )
            if event is not None
            else None
        )
        # Paid, under the event's matching lock: a deletion after this one waits for it and
        # owes the job again.
        session.exec(delete(ForgetOwed).where(col(ForgetOwed.attendee_id) == aid))
    if matched is None:
        return {"attendee_id": attendee_id, "skipped": True}  # no face names them
    return {"attendee_id": attendee_id, "matches": matched.count}
