from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, delete

from api import queue
from api.errors import NotFound
from api.matches import repository
from api.models import Attendee, Match, MatchRejection, utcnow


def reject_match(session: Session, attendee: Attendee, photo_id: uuid.UUID) -> None:
    """ "Not me": drop the match and never make it again, even through rematches."""
    if not repository.has_match(session, attendee.id, photo_id):
        raise NotFound("this photo is not in your matches", code="match_not_found")
    session.exec(
        delete(Match).where(col(Match.attendee_id) == attendee.id, col(Match.photo_id) == photo_id)
    )
    session.exec(
        insert(MatchRejection)
        .values(id=uuid.uuid4(), attendee_id=attendee.id, photo_id=photo_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["attendee_id", "photo_id"])
    )
    # The face may belong to another attendee after all.
    queue.defer(session, queue.rematch_photo(photo_id))
