from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from api.auth.deps import RequirePhotographer
from api.calibration import service
from api.calibration.schemas import Calibration, PreviewRequest, TolerancePreviewPublic
from api.deps import SessionDep
from api.errors import Conflict, NotFound, NotPermitted, Unauthorized, responses
from api.events.service import get_owned_event
from core.config import MAX_TOLERANCE

router = APIRouter(tags=["calibration"])
_AUTH = (Unauthorized, NotPermitted)


@router.get("/events/{event_id}/calibration", responses=responses(*_AUTH, NotFound))
def read_calibration(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> Calibration:
    """How near the event's faces are to their nearest attendee, and each attendee's photos."""
    return service.read_calibration(session, get_owned_event(session, user, event_id))


@router.post(
    "/events/{event_id}/calibration/previews",
    status_code=202,
    responses=responses(*_AUTH, NotFound, Conflict),
)
def request_tolerance_preview(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, body: PreviewRequest
) -> TolerancePreviewPublic:
    """Ask what another tolerance would do to the matches (a job); poll its status URL."""
    event = get_owned_event(session, user, event_id)
    return service.request_preview(session, event, body.tolerance)


@router.get(
    "/events/{event_id}/calibration/previews/{tolerance}", responses=responses(*_AUTH, NotFound)
)
def read_tolerance_preview(
    session: SessionDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    tolerance: Annotated[float, Path(ge=0.3, le=MAX_TOLERANCE)],
) -> TolerancePreviewPublic:
    """A tolerance's preview: pending, or the matches gained and lost and who they are."""
    event = get_owned_event(session, user, event_id)
    return service.read_preview(session, event, tolerance)
