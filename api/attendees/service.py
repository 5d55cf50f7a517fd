from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence

from redis import Redis
from sqlmodel import Session

from api import liveness
from api.attendees import repository
from api.attendees.schemas import (
    ConsentState,
    FaceDataDeleted,
    LiveChallenge,
    MyEvent,
    MyEvents,
    MyLocale,
    Notifications,
    Registered,
    SelfieAccepted,
    SelfiePublic,
    SelfieState,
)
from api.auth.repository import get_attendee, get_user
from api.auth.security import decode_unsubscribe_token
from api.auth.service import start_session
from api.errors import Conflict, ConsentRequired, NotFound
from api.events import service as events
from api.images import inspect_image
from api.webhooks import service as webhooks
from core import audit, erasure, queue
from core.config import settings
from core.db import defer, lock_matching, on_commit, on_rollback
from core.decoding import selfie_budget
from core.erasure import Erased, Reason
from core.models import (
    Attendee,
    AuditAction,
    Event,
    Selfie,
    SelfieStatus,
    utcnow,
)
from core.storage import Storage, event_folder


def my_events(session: Session, attendee: Attendee) -> MyEvents:
    rows = repository.list_attendances(session, attendee.user_id)
    data = [
        MyEvent(
            attendee_id=a.id,
            event_id=e.id,
            code=e.code,
            name=e.name,
            status=e.status.value,
            photos=photos,
            notify=a.notify,
            consent_current=a.consent_policy_version == settings.CONSENT_POLICY_VERSION,
            current=a.id == attendee.id,
        )
        for a, e, photos in rows
    ]
    return MyEvents(data=data, count=len(data))


def switch_event(
    session: Session, attendee: Attendee, event_id: uuid.UUID, user_agent: str | None
) -> Registered:
    """A session of the same account on another event it joined (one token per event)."""
    other = repository.get_attendee(session, attendee.user_id, event_id)
    event = events.live_event(session, event_id) if other else None
    if other is None or event is None:
        raise NotFound("you have not joined this event", code="not_registered")
    user = get_user(session, attendee.user_id)
    assert user is not None  # CurrentAttendee checked it
    token = start_session(session, user, other.id, user_agent)
    return Registered(access_token=token, attendee_id=other.id, event_id=event.id,
                      event_code=event.code)  # fmt: skip


def consent_state(attendee: Attendee) -> ConsentState:
    return ConsentState(
        policy_version=settings.CONSENT_POLICY_VERSION,
        consented_version=attendee.consent_policy_version,
        consented_at=attendee.consented_at,
        current=attendee.consent_policy_version == settings.CONSENT_POLICY_VERSION,
    )


def give_consent(session: Session, attendee: Attendee, consent: bool) -> ConsentState:
    """Consent to the policy in force (recorded, beside the earlier one), and get what was
    not matched while consent was outdated."""
    if consent is not True:
        raise ConsentRequired("face matching needs your explicit consent", code="consent_required")
    if attendee.consent_policy_version != settings.CONSENT_POLICY_VERSION:
        attendee.consent_policy_version = settings.CONSENT_POLICY_VERSION
        attendee.consented_at = utcnow()
        session.add(attendee)
        record_consent(session, attendee)
        defer(session, queue.rematch_attendee(attendee.id))
    return consent_state(attendee)


def require_current_consent(attendee: Attendee) -> None:
    if attendee.consent_policy_version != settings.CONSENT_POLICY_VERSION:
        raise Conflict(
            "the privacy policy changed: consent to the new one first", code="consent_outdated"
        )


def _open_event(session: Session, attendee: Attendee) -> Event:
    # FOR SHARE: a deletion waits for this selfie, or the selfie sees the event deleting.
    return events.require_open(events.get_event_for_share(session, attendee.event_id))


def _check_can_add_selfie(session: Session, attendee: Attendee) -> Event:
    event = _open_event(session, attendee)
    require_current_consent(attendee)
    if repository.count_active_selfies(session, attendee.id) >= settings.MAX_SELFIES_PER_ATTENDEE:
        raise Conflict(
            f"at most {settings.MAX_SELFIES_PER_ATTENDEE} selfies per attendee",
            code="selfie_limit",
        )
    return event


def start_live_selfie(
    session: Session, redis: Redis, attendee: Attendee, subject: str
) -> LiveChallenge:
    """A challenge for a live selfie (checked first, so nobody turns their head for nothing)."""
    _check_can_add_selfie(session, attendee)
    challenge_id, steps, expires_at = liveness.new_challenge(redis, subject)
    return LiveChallenge(challenge_id=challenge_id, steps=steps, expires_at=expires_at)


def upload_selfie(
    session: Session, storage: Storage, attendee: Attendee, data: bytes
) -> SelfieAccepted:
    event = _check_can_add_selfie(session, attendee)
    if not event.allows_selfie_upload():
        raise Conflict(
            "this event wants a selfie taken live on the camera, not a file",
            code="live_capture_required",
        )
    info = inspect_image(data, max_bytes=settings.MAX_SELFIE_BYTES, budget=selfie_budget())
    return _store_selfie(session, storage, attendee, data, info.extension, None)


def upload_live_selfie(
    session: Session,
    storage: Storage,
    redis: Redis,
    attendee: Attendee,
    subject: str,
    challenge_id: str,
    frames: list[bytes],
) -> SelfieAccepted:
    """A live selfie: the frames of a challenge, judged by a worker (`workers/liveness.py`)."""
    steps = liveness.spend_challenge(redis, challenge_id, subject)
    _check_can_add_selfie(session, attendee)
    packed, extension = liveness.pack_frames(frames, steps)
    return _store_selfie(session, storage, attendee, packed, extension, steps)


def _store_selfie(
    session: Session,
    storage: Storage,
    attendee: Attendee,
    data: bytes,
    extension: str,
    steps: list[str] | None,
) -> SelfieAccepted:
    selfie = Selfie(attendee_id=attendee.id, event_id=attendee.event_id, steps=steps)
    key = f"{event_folder(attendee.event_id)}selfies/{selfie.id}{extension}"
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
        count=len(steps) if steps else 1,
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
    reason: Reason = Reason.attendee_request,
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
    # Nor will the organiser's webhook tell of matches that are gone, or of their email.
    webhooks.withdraw(session, attendee.event_id, attendee.id)
    actor = actor or f"attendee:{attendee.user_id}"
    erased = Erased(selfie_images=len(keys), selfie_encodings=encodings, matches=matches)
    erasure.record(session, erased, event_id=attendee.event_id, subject_id=attendee.id,
                   actor=actor, reason=reason)  # fmt: skip
    # Files go only once the rows are gone for good.
    for key in keys:
        on_commit(session, functools.partial(storage.delete, key))
    if selfies:
        # Faces this attendee competed for may now belong to someone else: those faces
        # alone are looked at again (a whole event's rematch held its matching lock for
        # seconds at a million faces). Owed in the database, should the job be lost.
        repository.owe_forget(session, attendee)
        defer(session, queue.forget_attendee(attendee.id))
    return FaceDataDeleted(
        selfies=len(selfies), selfie_images=len(keys), encodings=encodings, matches=matches
    )


def delete_face_data_everywhere(
    session: Session, storage: Storage, user_id: uuid.UUID
) -> FaceDataDeleted:
    """`delete_face_data` at every event the account joined; the totals."""
    attendances = [a for a, _, _ in repository.list_attendances(session, user_id)]
    return delete_face_data_of(session, storage, attendances)


def delete_face_data_of(
    session: Session,
    storage: Storage,
    attendances: Sequence[Attendee],
    *,
    actor: str | None = None,
    reason: Reason = Reason.attendee_request,
) -> FaceDataDeleted:
    """`delete_face_data` for each of `attendances`; what was deleted, added up."""
    total = FaceDataDeleted(selfies=0, selfie_images=0, encodings=0, matches=0)
    for attendee in attendances:
        deleted = delete_face_data(session, storage, attendee, actor=actor, reason=reason)
        for field in FaceDataDeleted.model_fields:
            setattr(total, field, getattr(total, field) + getattr(deleted, field))
    return total


def record_consent(session: Session, attendee: Attendee, *,
                   support: uuid.UUID | None = None) -> None:  # fmt: skip
    """The consent row; one recorded through an admin's support link says so in its reason
    (the consent was given in the request to join; the link that confirmed it was staff's,
    whose `support_link.issued` row names them)."""
    version = attendee.consent_policy_version
    audit.record(session, AuditAction.consent_given, event_id=attendee.event_id,
                 subject_id=attendee.id, actor=f"attendee:{attendee.user_id}",
                 reason=f"{version}; via support link" if support else version)  # fmt: skip


def set_notify(attendee: Attendee, notify: bool) -> None:
    """Opt in or out of digests. Opting in counts only matches made from now on."""
    now = utcnow()
    if notify and not attendee.notify:
        attendee.digest_through = now
    attendee.notify = notify
    attendee.notify_changed_at = now


def set_notifications(session: Session, attendee: Attendee, notify: bool) -> Notifications:
    set_notify(attendee, notify)
    session.add(attendee)
    return Notifications(notify=attendee.notify)


def set_locale(session: Session, attendee: Attendee, locale: str) -> MyLocale:
    attendee.locale = locale
    session.add(attendee)
    return MyLocale(locale=locale)  # type: ignore[arg-type]


def unsubscribe(session: Session, token: str) -> Notifications:
    """A digest's one-click unsubscribe: no more mails about new photos at that event."""
    attendee = get_attendee(session, decode_unsubscribe_token(token))
    if attendee is not None and attendee.notify:
        set_notify(attendee, False)
        session.add(attendee)
    return Notifications(notify=False)
