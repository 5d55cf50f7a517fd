from __future__ import annotations

import functools
import uuid

from sqlmodel import Session

from api import audit, queue
from api.attendees import repository
from api.attendees.schemas import FaceDataDeleted, SelfieAccepted, SelfiePublic, SelfieState
from api.config import settings
from api.db import defer, lock_matching, on_commit, on_rollback
from api.errors import Conflict, NotFound
from api.images import inspect_image
from api.models import (
    Attendee,
    AuditAction,
    Event,
    EventStatus,
    ForgetOwed,
    Selfie,
    SelfieStatus,
)
from api.storage import Storage, event_folder


def upload_selfie(
    session: Session, storage: Storage, attendee: Attendee, data: bytes
) -> SelfieAccepted:
    event = session.get(Event, attendee.event_id, with_for_update={"read": True})
    if event is not None and event.status == EventStatus.deleting:
        raise Conflict("this event is being deleted", code="event_deleting")
    if event is None or event.status != EventStatus.open:
        raise Conflict("this event is closed", code="event_closed")
    if repository.count_active_selfies(session, attendee.id) >= settings.MAX_SELFIES_PER_ATTENDEE:
        raise Conflict(
            f"at most {settings.MAX_SELFIES_PER_ATTENDEE} selfies per attendee",
            code="selfie_limit",
        )
    info = inspect_image(data, max_bytes=settings.MAX_SELFIE_BYTES)
    selfie = Selfie(attendee_id=attendee.id, event_id=attendee.event_id)
    key = f"{event_folder(attendee.event_id)}selfies/{selfie.id}{info.extension}"
    storage.put(key, data)
    on_rollback(session, lambda: storage.delete(key))
    selfie.storage_key = key
    session.add(selfie)
    audit.record(
        session,
        AuditAction.selfie_image_stored,
        event_id=attendee.event_id,
        subject_id=selfie.id,
        actor=f"attendee:{attendee.user_id}",
    )
    defer(session, queue.validate_selfie(selfie.id))
    return SelfieAccepted(selfie_id=selfie.id, status=SelfieStatus.pending)


def selfie_state(session: Session, attendee_id: uuid.UUID) -> SelfieState:
    selfies = [
        SelfiePublic.model_validate(s) for s in repository.list_selfies(session, attendee_id)
    ]
    if not selfies:
        raise NotFound("no selfie uploaded yet", code="no_selfie")
    return SelfieState(**selfies[0].model_dump(), selfies=selfies)


def delete_face_data(
    session: Session,
    storage: Storage,
    attendee: Attendee,
    *,
    actor: str | None = None,
    reason: str = "attendee_request",
) -> FaceDataDeleted:
    """Remove the attendee's selfie images, encodings and matches; keep the account."""
    # A photo job matching meanwhile could otherwise add a match after ours are gone.
    lock_matching(session, attendee.event_id)
    selfies = repository.list_selfies(session, attendee.id)
    keys = [s.storage_key for s in selfies if s.storage_key]
    encodings = sum(1 for s in selfies if s.encoding is not None)
    matches = repository.delete_matches(session, attendee.id)
    for selfie in selfies:
        session.delete(selfie)
    attendee.notify = False  # no mail about photos that can no longer be matched
    session.add(attendee)
    actor = actor or f"attendee:{attendee.user_id}"
    for action, count in (
        (AuditAction.selfie_image_deleted, len(keys)),
        (AuditAction.selfie_encoding_deleted, encodings),
        (AuditAction.matches_deleted, matches),
    ):
        audit.record(session, action, event_id=attendee.event_id, subject_id=attendee.id,
                     actor=actor, count=count, reason=reason)  # fmt: skip
    # Files go only once the rows are gone for good.
    for key in keys:
        on_commit(session, functools.partial(storage.delete, key))
    if selfies:
        # Faces this attendee competed for may now belong to someone else: those faces
        # alone are looked at again (a whole event's rematch held its matching lock for
        # seconds at a million faces). Owed in the database, should the job be lost.
        session.merge(ForgetOwed(attendee_id=attendee.id, event_id=attendee.event_id))
        defer(session, queue.forget_attendee(attendee.id))
    return FaceDataDeleted(
        selfies=len(selfies), selfie_images=len(keys), encodings=encodings, matches=matches
    )
