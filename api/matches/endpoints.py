from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentAttendee, SessionDep
from api.errors import NotPermitted, Unauthorized, responses
from api.matches import repository
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
