from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile

from api import ratelimit
from api.attendees import service
from api.attendees.schemas import (
    AttendeeSignIn,
    FaceDataDeleted,
    Registered,
    RegisterWithEventCode,
    SelfieAccepted,
    SelfieState,
)
from api.config import settings
from api.deps import CurrentAttendee, RedisDep, SessionDep, StorageDep
from api.errors import (
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

router = APIRouter(tags=["attendees"])


@router.post(
    "/register-with-event-code",
    status_code=201,
    responses=responses(ConsentRequired, NotFound, Conflict, Unauthorized, TooManyRequests),
)
def register_with_event_code(
    session: SessionDep, redis: RedisDep, request: Request, body: RegisterWithEventCode
) -> Registered:
    """Join an event by its code, with explicit consent to face matching (rate-limited)."""
    ratelimit.check_registration(redis, request)
    return service.register(session, body)


@router.post("/attendee-sign-in", responses=responses(NotFound, Unauthorized, TooManyRequests))
def attendee_sign_in(
    session: SessionDep, redis: RedisDep, request: Request, body: AttendeeSignIn
) -> Registered:
    """Back into an event you joined, open or closed, with your email and password
    (rate-limited as sign-in is)."""
    ratelimit.check_login(redis, request, body.email)
    return service.sign_in(session, body)


@router.post(
    "/upload-selfie",
    status_code=202,
    responses=responses(Unauthorized, NotPermitted, Conflict, InvalidImage, PayloadTooLarge),
)
def upload_selfie(
    session: SessionDep,
    storage: StorageDep,
    attendee: CurrentAttendee,
    file: Annotated[UploadFile, File(description="a photo of the attendee's face")],
) -> SelfieAccepted:
    """Upload a selfie; it is checked and matched in the background (poll /api/me/selfie)."""
    data = file.file.read(settings.MAX_SELFIE_BYTES + 1)
    return service.upload_selfie(session, storage, attendee, data)


@router.get("/me/selfie", responses=responses(Unauthorized, NotPermitted, NotFound))
def read_my_selfie(session: SessionDep, attendee: CurrentAttendee) -> SelfieState:
    """The latest selfie's status, with the reason when it was rejected."""
    return service.selfie_state(session, attendee.id)


@router.delete("/me/face-data", responses=responses(Unauthorized, NotPermitted))
def delete_my_face_data(
    session: SessionDep, storage: StorageDep, attendee: CurrentAttendee
) -> FaceDataDeleted:
    """Delete your selfie images, face encodings and matches; says what was deleted."""
    return service.delete_face_data(session, storage, attendee)
