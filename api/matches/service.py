from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import PurePath

from sqlmodel import Session

from api import queue
from api.db import defer, lock_matching
from api.errors import NotFound
from api.matches import repository
from api.matches.schemas import MatchedPhoto, MatchedPhotos
from api.models import Attendee
from api.storage import Storage


def my_photos(
    session: Session, attendee_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[MatchedPhotos, str]:
    """A page of the attendee's photos, and an ETag that changes whenever any page would:
    a client polls the first page with it, and reads the rest again only on a change."""
    count, digest = repository.attendee_matches_digest(session, attendee_id)
    etag = hashlib.sha256(f"{digest}:{count}:{cursor}:{limit}".encode()).hexdigest()[:32]
    rows, next_cursor = repository.page_attendee_matches(
        session, attendee_id, cursor=cursor, limit=limit
    )
    data = []
    for match, photo in rows:
        image = f"/api/photos/{photo.id}/image"
        data.append(
            MatchedPhoto(
                id=photo.id,
                filename=photo.filename,
                width=photo.width,
                height=photo.height,
                url=image,
                preview_url=f"{image}?size=preview",
                thumb_url=f"{image}?size=thumb",
                distance=round(match.distance, 4),
                matched_at=match.created_at,
            )
        )
    return MatchedPhotos(data=data, count=count, next_cursor=next_cursor), f'"{etag}"'


class _Sink(io.RawIOBase):
    """A write-only, unseekable file: zipfile then writes data descriptors and streams."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def archive_names(filenames: list[str]) -> list[str]:
    """File names for the zip, unique, with a counter before the extension of repeats."""
    seen: dict[str, int] = {}
    names = []
    for filename in filenames:
        name = PurePath(filename).name or "photo"
        count = seen.get(name.lower(), 0)
        seen[name.lower()] = count + 1
        if count:
            path = PurePath(name)
            name = f"{path.stem}-{count + 1}{path.suffix}"
        names.append(name)
    return names


def stream_archive(storage: Storage, entries: list[tuple[str, str]]) -> Iterator[bytes]:
    """A zip of (name, storage key) entries, one photo in memory at a time.

    Photos are stored, not deflated: JPEGs do not compress, and the CPU is
    better spent elsewhere.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, key in entries:
            try:
                data = storage.get(key)
            except FileNotFoundError:
                continue  # deleted since the list was read
            archive.writestr(name, data)
            yield sink.take()
    yield sink.take()


def archive_entries(session: Session, attendee_id: uuid.UUID) -> list[tuple[str, str]]:
    photos = repository.list_attendee_photos(session, attendee_id)
    names = archive_names([p.filename for p in photos])
    return [(name, photo.storage_key) for name, photo in zip(names, photos, strict=True)]


def reject_match(session: Session, attendee: Attendee, photo_id: uuid.UUID) -> None:
    """ "Not me": drop the match and never make it again, even through rematches."""
    lock_matching(session, attendee.event_id)  # a photo job must not remake it meanwhile
    if not repository.has_match(session, attendee.id, photo_id):
        raise NotFound("this photo is not in your matches", code="match_not_found")
    repository.reject(session, attendee.id, photo_id)
    # The face may belong to another attendee after all.
    defer(session, queue.rematch_photo(photo_id))
