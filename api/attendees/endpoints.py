from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from api import ratelimit
from api.attendees import service
from api.attendees.schemas import (
    ConsentState,
    FaceDataDeleted,
    GiveConsent,
    LiveChallenge,
    MyEvents,
    MyLocale,
    Notifications,
    Registered,
    SelfieAccepted,
    SelfieState,
)
from api.auth.deps import Claims, CurrentAttendee
from api.auth.security import TokenClaims
from api.deps import RedisDep, SessionDep, StorageDep
from api.errors import (
    BadRequest,
    Conflict,
    ConsentRequired,
    InvalidImage,
    NotFound,
    NotPermitted,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    responses,
)
from core.config import settings
from core.models import Attendee

router = APIRouter(tags=["attendees"])


@router.get("/me/events", responses=responses(Unauthorized, NotPermitted))
def list_my_events(session: SessionDep, attendee: CurrentAttendee) -> MyEvents:
    """Every event this account joined, with how many photos of you each holds."""
    return service.my_events(session, attendee)


@router.post("/me/events/{event_id}/session", responses=responses(Unauthorized, NotPermitted,
                                                                   NotFound))  # fmt: skip
def switch_my_event(
    session: SessionDep, attendee: CurrentAttendee, request: Request, event_id: uuid.UUID
) -> Registered:
    """A session on another event this account joined (its photos, selfies, settings)."""
    return service.switch_event(session, attendee, event_id, request.headers.get("user-agent"))


@router.get("/me/consent", responses=responses(Unauthorized, NotPermitted))
def read_my_consent(attendee: CurrentAttendee) -> ConsentState:
    """The policy in force, and whether your consent is to it."""
    return service.consent_state(attendee)


@router.post("/me/consent", responses=responses(Unauthorized, NotPermitted, ConsentRequired))
def give_my_consent(
    session: SessionDep, attendee: CurrentAttendee, body: GiveConsent
) -> ConsentState:
    """Consent to the policy in force; what was not matched meanwhile is matched then."""
    return service.give_consent(session, attendee, body.consent)


@router.get("/me/notifications", responses=responses(Unauthorized, NotPermitted))
def read_my_notifications(attendee: CurrentAttendee) -> Notifications:
    """Whether new photos of me at this event are mailed to me."""
    return Notifications(notify=attendee.notify)


@router.put("/me/notifications", responses=responses(Unauthorized, NotPermitted))
def update_my_notifications(
    session: SessionDep, attendee: CurrentAttendee, body: Notifications
) -> Notifications:
    """Opt in to, or out of, mails about new photos of me at this event."""
    return service.set_notifications(session, attendee, body.notify)


@router.put("/me/locale", responses=responses(Unauthorized, NotPermitted))
def update_my_locale(session: SessionDep, attendee: CurrentAttendee, body: MyLocale) -> MyLocale:
    """The language of your pages: your mails about this event come in it."""
    return service.set_locale(session, attendee, body.locale)


@router.post("/unsubscribe/{token}", responses=responses(BadRequest))
def unsubscribe(session: SessionDep, token: str) -> Notifications:
    """One click from a digest mail (RFC 8058's List-Unsubscribe-Post, or the mail's
    footer): no more mails about new photos at that event. No sign-in needed."""
    return service.unsubscribe(session, token)


@router.post(
    "/upload-selfie",
    status_code=202,
    responses=responses(
        Unauthorized, NotPermitted, Conflict, InvalidImage, PayloadTooLarge, TooManyRequests
    ),
)
def upload_selfie(
    session: SessionDep,
    storage: StorageDep,
    redis: RedisDep,
    request: Request,
    attendee: CurrentAttendee,
    file: Annotated[UploadFile, File(description="a photo of the attendee's face")],
) -> SelfieAccepted:
    """Upload a selfie as a file, where the event allows it (else 409
    `live_capture_required`); it is judged and matched in the background."""
    ratelimit.check_selfie_attempt(redis, request, attendee.id)
    data = file.file.read(settings.MAX_SELFIE_BYTES + 1)
    return service.upload_selfie(session, storage, attendee, data)


@router.post(
    "/me/live-challenges",
    status_code=201,
    responses=responses(Unauthorized, NotPermitted, Conflict, TooManyRequests),
)
def create_live_challenge(
    session: SessionDep, redis: RedisDep, request: Request, attendee: CurrentAttendee,
    claims: Claims,
) -> LiveChallenge:  # fmt: skip
    """Start a live selfie: the steps to take on the camera, in this order, before it
    expires; the challenge is spent by one `POST /api/me/live-selfie` of this session."""
    ratelimit.check_selfie_attempt(redis, request, attendee.id)
    return service.start_live_selfie(session, redis, attendee, _subject(attendee, claims))


@router.post(
    "/me/live-selfie",
    status_code=202,
    responses=responses(
        BadRequest, Unauthorized, NotPermitted, Conflict, InvalidImage, PayloadTooLarge
    ),
)
def upload_live_selfie(
    session: SessionDep,
    storage: StorageDep,
    redis: RedisDep,
    attendee: CurrentAttendee,
    claims: Claims,
    challenge_id: Annotated[str, Form(max_length=64)],
    frames: Annotated[list[UploadFile], File(description="one JPEG per step, in order")],
) -> SelfieAccepted:
    """Send a live selfie's frames; they are judged (the same face turning as asked, not a
    picture) and matched in the background (poll /api/me/selfie)."""
    data = [f.file.read(settings.MAX_LIVE_FRAME_BYTES + 1) for f in frames[:4]]
    return service.upload_live_selfie(session, storage, redis, attendee,
                                      _subject(attendee, claims), challenge_id, data)  # fmt: skip


def _subject(attendee: Attendee, claims: TokenClaims) -> str:
    """A challenge is this session's: a token copied to another device cannot spend it."""
    return f"attendee:{attendee.id}:{claims.session_id}"


@router.get("/me/selfie", responses=responses(Unauthorized, NotPermitted, NotFound))
def read_my_selfie(session: SessionDep, attendee: CurrentAttendee) -> SelfieState:
    """The latest selfie's status, with the reason when it was rejected."""
    return service.selfie_state(session, attendee.id)


@router.delete("/me/face-data", responses=responses(Unauthorized, NotPermitted))
def delete_my_face_data(
    session: SessionDep, storage: StorageDep, attendee: CurrentAttendee, every_event: bool = False
) -> FaceDataDeleted:
    """Delete your selfie images, face encodings and matches at this event (or at every
    event you joined: `every_event=true`); says what was deleted."""
    if every_event:
        return service.delete_face_data_everywhere(session, storage, attendee.user_id)
    return service.delete_face_data(session, storage, attendee)
