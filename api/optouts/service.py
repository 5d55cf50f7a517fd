"""People in an event's photos who never joined: a live selfie asks for their face to be
left out (`workers/jobs/optouts.py` does it). No account is needed; the live check makes sure
the face is the requester's own, so nobody can remove someone else."""

from __future__ import annotations

import uuid

from redis import Redis
from sqlmodel import Session

from api import liveness
from api.attendees.schemas import LiveChallenge
from api.errors import NotFound
from api.events.service import get_event_by_code
from api.optouts import repository
from api.optouts.schemas import OptOutAccepted, OptOutState
from core import queue
from core.db import defer, on_rollback
from core.models import Event, EventStatus, FaceOptOut
from core.storage import Storage, event_folder


def _event(session: Session, code: str) -> Event:
    event = get_event_by_code(session, code)
    if event is None or event.status == EventStatus.deleting:
        raise NotFound("no event has this code", code="event_not_found")
    return event


def _subject(event: Event) -> str:
    return f"opt-out:{event.id}"


def start(session: Session, redis: Redis, code: str) -> LiveChallenge:
    challenge_id, steps, expires_at = liveness.new_challenge(redis, _subject(_event(session, code)))
    return LiveChallenge(challenge_id=challenge_id, steps=steps, expires_at=expires_at)


def request_opt_out(
    session: Session,
    storage: Storage,
    redis: Redis,
    code: str,
    challenge_id: str,
    frames: list[bytes],
) -> OptOutAccepted:
    event = _event(session, code)
    steps = liveness.spend_challenge(redis, challenge_id, _subject(event))
    packed, extension = liveness.pack_frames(frames, steps)
    row = FaceOptOut(event_id=event.id, steps=steps)
    key = f"{event_folder(event.id)}opt-outs/{row.id}{extension}"
    storage.put(key, packed)
    on_rollback(session, lambda: storage.delete(key))
    row.storage_key = key
    session.add(row)
    defer(session, queue.judge_opt_out(row.id))
    return OptOutAccepted(opt_out_id=row.id, status=row.status,
                          status_url=f"/api/opt-outs/{row.id}")  # fmt: skip


def read_opt_out(session: Session, opt_out_id: uuid.UUID) -> OptOutState:
    row = repository.get_opt_out(session, opt_out_id)
    if row is None:
        raise NotFound("no such request", code="opt_out_not_found")
    return OptOutState(opt_out_id=row.id, status=row.status, reason=row.reason,
                       detail=row.detail, faces_removed=row.faces_removed,
                       created_at=row.created_at)  # fmt: skip
