from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.deps import CurrentAttendee, SessionDep
from api.errors import NotFound, NotPermitted, Unauthorized, responses
from api.matches import repository, service
from api.matches.schemas import MatchedPhoto, MatchedPhotos

router = APIRouter(tags=["matches"])


@router.get("/me/photos", responses=responses(Unauthorized, NotPermitted))
def list_my_photos(session: SessionDep, attendee: CurrentAttendee) -> MatchedPhotos:
    """The event's photos the attendee is in, newest match first."""
    matches = repository.list_attendee_matches(session, attendee.id)
    data = [
        MatchedPhoto(
            id=m.photo_id,
            url=f"/api/photos/{m.photo_id}/image",
            distance=round(m.distance, 4),
            matched_at=m.created_at,
        )
        for m in matches
    ]
    return MatchedPhotos(data=data, count=len(data))


@router.post(
    "/me/photos/{photo_id}/not-me",
    status_code=204,
    responses=responses(Unauthorized, NotPermitted, NotFound),
)
def reject_my_photo(
    session: SessionDep, attendee: CurrentAttendee, photo_id: uuid.UUID
) -> Response:
    """Say "not me": the photo leaves your matches and stays out through rematches."""
    service.reject_match(session, attendee, photo_id)
    return Response(status_code=204)
