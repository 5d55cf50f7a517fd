from __future__ import annotations

import functools
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api import audit, queue
from api.attendees import repository
from api.attendees.schemas import (
    AttendeeSignIn,
    FaceDataDeleted,
    Registered,
    RegisterWithEventCode,
    SelfieAccepted,
    SelfiePublic,
    SelfieState,
)
from api.auth import repository as auth_repository
from api.auth.security import TokenClaims, create_access_token, hash_password, verify_password
from api.auth.service import authenticate
from api.config import settings
from api.db import defer, lock_matching, on_commit, on_rollback
from api.errors import Conflict, ConsentRequired, NotFound, Unauthorized
from api.events.codes import normalize_code
from api.events.repository import get_event_by_code
from api.images import inspect_image
from api.models import (
    Attendee,
    AuditAction,
    Event,
    EventStatus,
    ForgetOwed,
    Role,
    Selfie,
    SelfieStatus,
    User,
    utcnow,
)
from api.storage import Storage, event_folder


def _open_event(session: Session, typed_code: str) -> Event:
    code = normalize_code(typed_code)
    # FOR SHARE: a deletion waits for this registration, or its code is not found.
    event = get_event_by_code(session, code, for_share=True) if code else None
    if event is None:
        raise NotFound("no event has this code", code="event_not_found")
    if event.status != EventStatus.open:
        raise Conflict("this event is closed", code="event_closed")
    return event


def _user_for_registration(session: Session, body: RegisterWithEventCode) -> User:
    """A new attendee account, or the caller's existing one if the password is right."""
    user = auth_repository.get_user_by_email(session, body.email)
    if user is not None:
        if not verify_password(body.password, user.hashed_password):
            raise Unauthorized(
                "this email is registered; sign in with its password", code="email_taken"
            )
        return user
    user = User(
        email=body.email.lower(),
        full_name=body.name,
        role=Role.attendee,
        hashed_password=hash_password(body.password),
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("this email was registered a moment ago", code="email_taken") from None
    return user


def register(session: Session, body: RegisterWithEventCode) -> Registered:
    if body.consent is not True:
        raise ConsentRequired("face matching needs your explicit consent", code="consent_required")
    event = _open_event(session, body.event_code)
    user = _user_for_registration(session, body)
    attendee = repository.get_attendee(session, user.id, event.id)
    if attendee is None:
        attendee = Attendee(
            user_id=user.id,
            event_id=event.id,
            consented_at=utcnow(),
            consent_policy_version=settings.CONSENT_POLICY_VERSION,
        )
        session.add(attendee)
        session.flush()
    token = create_access_token(TokenClaims(user.id, user.role, attendee.id))
    return Registered(access_token=token, attendee_id=attendee.id, event_id=event.id)


def sign_in(session: Session, body: AttendeeSignIn) -> Registered:
    """A returning attendee back into an event they joined, open or closed: their photos
    keep arriving after it closes, and they must be able to see them."""
    code = normalize_code(body.event_code)
    event = get_event_by_code(session, code) if code else None
    if event is None:
        raise NotFound("no event has this code", code="event_not_found")
    user = authenticate(session, body.email, body.password)
    attendee = repository.get_attendee(session, user.id, event.id)
    if attendee is None:
        raise NotFound("this account has not joined this event", code="not_registered")
    token = create_access_token(TokenClaims(user.id, user.role, attendee.id))
    return Registered(access_token=token, attendee_id=attendee.id, event_id=event.id)


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
