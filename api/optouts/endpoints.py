from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from api import ratelimit
from api.attendees.schemas import LiveChallenge
from api.deps import RedisDep, SessionDep, StorageDep
from api.errors import (
    BadRequest,
    Conflict,
    InvalidImage,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    responses,
)
from api.optouts import service
from api.optouts.schemas import OptOutAccepted, OptOutChallengeRequest, OptOutState
from core.config import settings

router = APIRouter(tags=["opt-outs"])


@router.post(
    "/opt-outs/challenges", status_code=201, responses=responses(NotFound, TooManyRequests)
)
def create_opt_out_challenge(
    session: SessionDep, redis: RedisDep, request: Request, body: OptOutChallengeRequest
) -> LiveChallenge:
    """You are in an event's photos and never joined: start a live capture to have your
    face left out of it (no account needed)."""
    ratelimit.check_opt_out_attempt(redis, request)
    return service.start(session, redis, body.event_code)


@router.post(
    "/opt-outs",
    status_code=202,
    responses=responses(BadRequest, NotFound, Conflict, InvalidImage, PayloadTooLarge),
)
def request_opt_out(
    session: SessionDep,
    storage: StorageDep,
    redis: RedisDep,
    event_code: Annotated[str, Form(min_length=3, max_length=16)],
    challenge_id: Annotated[str, Form(max_length=64)],
    frames: Annotated[list[UploadFile], File(description="one JPEG per step, in order")],
) -> OptOutAccepted:
    """Send the live capture's frames: once judged, your faces at the event are removed,
    and left out of photos uploaded later (poll the status URL)."""
    data = [f.file.read(settings.MAX_LIVE_FRAME_BYTES + 1) for f in frames[:4]]
    return service.request_opt_out(session, storage, redis, event_code, challenge_id, data)


@router.get("/opt-outs/{opt_out_id}", responses=responses(NotFound))
def read_opt_out(session: SessionDep, opt_out_id: uuid.UUID) -> OptOutState:
    """Whether the request is judged, and how many of your faces were removed."""
    return service.read_opt_out(session, opt_out_id)
