"""Bib numbers: read when a photo is indexed, or later by `read_bibs` when an event turns
bib reading on after its photos were indexed. Either way a photo's reads are written
once, in one transaction with `photos.bibs_read_at`; reading again replaces them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, delete, func, select, update

from core.config import settings
from core.db import session_scope
from core.models import Attendee, Event, Face, Photo, PhotoBib, PhotoStatus, utcnow
from core.storage import get_storage
from workers import bibs, faces


def read(full: faces.Decoded, boxes: list[faces.Box]) -> list[bibs.BibRead]:
    """The bibs below these faces (boxes in the original's pixels), boxes returned in the
    original's pixels too, whatever scale the photo was decoded at."""
    scale = full.scale
    if scale == 1:
        return bibs.reader().read(full.rgb, boxes)
    height, width = full.rgb.shape[:2]
    decoded = [faces._scale_box(b, 1 / scale, width, height) for b in boxes]
    return [
        bibs.BibRead(r.bib, faces._scale_box(r.box, scale, full.width, full.height), r.confidence)
        for r in bibs.reader().read(full.rgb, decoded)
    ]


def store(session: Session, photo: Photo, reads: list[bibs.BibRead]) -> None:
    """Replace the photo's reads with these, and mark it read."""
    session.exec(delete(PhotoBib).where(col(PhotoBib.photo_id) == photo.id))
    for r in reads:
        top, right, bottom, left = r.box
        session.add(
            PhotoBib(
                photo_id=photo.id,
                event_id=photo.event_id,
                bib=r.bib,
                top=top,
                right=right,
                bottom=bottom,
                left=left,
                confidence=r.confidence,
            )
        )
    photo.bibs_read_at = utcnow()
    session.add(photo)
    # The attendees who gave these bibs have news, as matching marks those it matched.
    sure = sorted({r.bib for r in reads if r.confidence >= settings.BIB_MIN_CONFIDENCE})
    if sure:
        session.exec(
            update(Attendee)
            .where(col(Attendee.event_id) == photo.event_id, col(Attendee.bib).in_(sure))
            .values(news_since=func.coalesce(col(Attendee.news_since), photo.bibs_read_at))
        )


def read_bibs(photo_id: str) -> dict[str, Any]:
    """Read an indexed photo's bibs, anchored on its stored faces (no face is detected or
    encoded again). Nothing is owed for a photo not yet indexed (its indexing reads them),
    already read, or in an event that reads no bibs."""
    pid = uuid.UUID(photo_id)
    with session_scope() as session:
        photo = session.get(Photo, pid)
        event = session.get(Event, photo.event_id) if photo is not None else None
        if photo is None or event is None or not event.bibs_enabled:
            return {"photo_id": photo_id, "skipped": True}
        if photo.status != PhotoStatus.indexed or photo.bibs_read_at is not None:
            return {"photo_id": photo_id, "skipped": True}
        boxes = [
            (f.top, f.right, f.bottom, f.left)
            for f in session.exec(select(Face).where(col(Face.photo_id) == pid)).all()
        ]
        key = photo.storage_key
    reads: list[bibs.BibRead] = []
    if boxes:  # a photo with no face has no bib to read (workers/bibs.py)
        try:
            data = get_storage().get(key)
        except FileNotFoundError:  # deleted meanwhile
            return {"photo_id": photo_id, "skipped": True}
        reads = read(faces.decode(data), boxes)
    with session_scope() as session:
        photo = session.get(Photo, pid, with_for_update=True)
        if photo is None or photo.bibs_read_at is not None:
            return {"photo_id": photo_id, "skipped": True}
        store(session, photo, reads)
    return {"photo_id": photo_id, "bibs": len(reads)}
