from __future__ import annotations

import hashlib
import uuid
from typing import Literal

from sqlmodel import Session

from api.archive import ArchiveEntry
from api.bibs import service as bibs
from api.errors import NotFound
from api.events import service as events
from api.images import shown
from api.matches import repository
from api.matches.schemas import HiddenPhoto, HiddenPhotos, MatchedPhoto, MatchedPhotos
from api.photos import service as photos
from core import queue
from core.db import defer, lock_matching
from core.models import Attendee, Event
from core.storage import Storage


def my_photos(
    session: Session, attendee: Attendee, *, cursor: str | None, limit: int
) -> tuple[MatchedPhotos, str]:
    """A page of the attendee's photos (face matches and their bib's), and an ETag that
    changes whenever any page would: a client polls the first page with it, and reads
    the rest again only on a change."""
    bib = bibs.counted_bib(session, attendee)
    # A race's photos come along the course (by capture time); another event's newest
    # first, so that what just arrived is on top.
    event = events.get_event(session, attendee.event_id)
    page = repository.page_attendee_photos(
        session, attendee.id, attendee.event_id, bib, cursor=cursor, limit=limit,
        along_course=bool(event and event.bibs_enabled),
    )  # fmt: skip
    rules = (event.originals_downloadable, event.mark_version) if event else None
    state = f"{page.digest}:{page.count}:{cursor}:{limit}:{rules}"
    etag = hashlib.sha256(state.encode()).hexdigest()[:32]
    original = event is None or event.originals_downloadable
    data = []
    for found in page.found:
        photo = found.photo
        data.append(
            MatchedPhoto(
                **shown(photo, f"/api/photos/{photo.id}/image", original=original),
                distance=round(found.distance, 4) if found.distance is not None else None,
                matched_at=found.found_at,
                found_by=found_by(found.by_face, found.by_bib),
            )
        )
    photos = MatchedPhotos(data=data, count=page.count, next_cursor=page.next_cursor)
    return photos, f'"{etag}"'


def found_by(by_face: bool, by_bib: bool) -> list[Literal["face", "bib"]]:
    ways: list[Literal["face", "bib"]] = []
    if by_face:
        ways.append("face")
    if by_bib:
        ways.append("bib")
    return ways


def check_archive(session: Session, attendee: Attendee) -> Event:
    """The attendee's event, if its rules let them download a zip."""
    event = events.get_event(session, attendee.event_id)
    if event is None:
        raise NotFound("no such event", code="event_not_found")
    photos.check_visitor_zip(event)
    return event


def archive_entries(session: Session, storage: Storage, attendee: Attendee) -> list[ArchiveEntry]:
    """The attendee's photos for one zip, under their event's download rules."""
    event = check_archive(session, attendee)
    bib = bibs.counted_bib(session, attendee)
    found = repository.list_attendee_photos(session, attendee.id, attendee.event_id, bib)
    return photos.visitor_archive(session, storage, event, found)


def reject_match(session: Session, attendee: Attendee, photo_id: uuid.UUID) -> None:
    """ "Not me": drop the match and never make it again, even through rematches."""
    lock_matching(session, attendee.event_id)  # a photo job must not remake it meanwhile
    bib = bibs.counted_bib(session, attendee)
    if not (
        repository.has_match(session, attendee.id, photo_id)
        or repository.has_bib_photo(session, attendee.event_id, bib, photo_id)
    ):
        raise NotFound("this photo is not in your matches", code="match_not_found")
    repository.reject(session, attendee.id, photo_id)
    # The face may belong to another attendee after all.
    defer(session, queue.rematch_photo(photo_id))


def undo_reject(session: Session, attendee: Attendee, photo_id: uuid.UUID) -> None:
    """Take a "not me" back: the photo is matched again as the rules say (it may go to the
    attendee again, or stay with someone nearer)."""
    lock_matching(session, attendee.event_id)
    if not repository.unreject(session, attendee.id, photo_id):
        raise NotFound("this photo is not hidden from you", code="not_hidden")
    defer(session, queue.restore_match(photo_id))


def hidden_photos(session: Session, attendee_id: uuid.UUID) -> HiddenPhotos:
    rows = repository.list_rejected_photos(session, attendee_id)
    return HiddenPhotos(data=[
        HiddenPhoto(id=photo.id, filename=photo.filename, hidden_at=rejection.created_at)
        for rejection, photo in rows
    ])  # fmt: skip
