from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import timedelta
from pathlib import PurePath
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.archive import ArchiveEntry, archive_names, entry_name, stored
from api.branding import service as branding
from api.errors import AppError, NotFound, NotPermitted
from api.events import service as events
from api.images import PREVIEW_SIDES, Marking, inspect_image, make_preview
from api.photos import repository
from api.photos.schemas import (
    FaceBox,
    KnownPhotos,
    KnownPhotosQuery,
    PersonInPhoto,
    PhotoDeleted,
    PhotoPeople,
    PhotoPublic,
    PhotosPublic,
    UploadAccepted,
    UploadResult,
)
from core import erasure, queue
from core.config import settings
from core.db import defer, lock_matching, on_commit, on_rollback
from core.erasure import Erased, Reason
from core.models import Event, Photo, PhotoStatus, Role, User, utcnow
from core.queue import get_job_queue
from core.storage import Storage, event_folder, photo_keys, preview_key


def _clean_filename(name: str | None) -> str:
    """The base name, without control characters (NUL cannot even be stored)."""
    printable = "".join(ch for ch in name or "" if ch.isprintable())
    return PurePath(printable).name[:300] or "upload"


def store_photo(
    session: Session,
    storage: Storage,
    event: Event,
    filename: str,
    data: bytes,
    uploaded_by: uuid.UUID | None = None,
) -> tuple[Photo, bool]:
    """Check, store and register one photo; indexing is enqueued after the commit. The
    same bytes again are the event's photo already, and nothing is stored: (photo, True)."""
    info = inspect_image(data, max_bytes=settings.MAX_UPLOAD_BYTES)
    digest = hashlib.sha256(data).hexdigest()
    existing = repository.get_photo_by_content(session, event.id, digest)
    if existing is not None:
        return existing, True
    photo_id = uuid.uuid4()
    key = f"{event_folder(event.id)}photos/{photo_id}{info.extension}"
    storage.put(key, data)
    photo = Photo(
        id=photo_id,
        event_id=event.id,
        storage_key=key,
        filename=filename,
        content_type=info.content_type,
        bytes=len(data),
        width=info.width,
        height=info.height,
        content_sha256=digest,
        uploaded_by=uploaded_by,
        taken_at=info.taken_at,
        taken_offset_minutes=info.taken_offset_minutes,
    )
    if info.taken_at is not None:
        offset = repository.clock_offset(session, event.id, uploaded_by) if uploaded_by else 0
        photo.captured_at = info.taken_at + timedelta(seconds=offset)
    else:
        photo.captured_at = photo.created_at
    try:
        with session.begin_nested():  # a savepoint: a lost race undoes this row alone
            session.add(photo)
    except IntegrityError:
        storage.delete(key)  # the same bytes, uploaded at the same moment by another request
        existing = repository.get_photo_by_content(session, event.id, digest)
        if existing is None:
            raise
        return existing, True
    on_rollback(session, lambda: storage.delete(key))
    defer(session, queue.index_photo(photo.id))
    return photo, False


def upload_photos(
    session: Session,
    storage: Storage,
    event: Event,
    files: list[tuple[str | None, bytes]],
    *,
    uploaded_by: uuid.UUID | None = None,
) -> UploadAccepted:
    events.require_open(event)
    results = []
    for raw_name, data in files:
        filename = _clean_filename(raw_name)
        try:
            photo, duplicate = store_photo(session, storage, event, filename, data, uploaded_by)
        except AppError as exc:
            results.append(
                UploadResult(
                    filename=filename, error=type(exc).__name__, code=exc.code, detail=exc.detail
                )
            )
            continue
        results.append(
            UploadResult(filename=filename, id=photo.id, status=photo.status, duplicate=duplicate)
        )
    accepted = sum(1 for r in results if r.id is not None and not r.duplicate)
    duplicates = sum(1 for r in results if r.duplicate)
    return UploadAccepted(data=results, accepted=accepted, duplicates=duplicates,
                          rejected=len(results) - accepted - duplicates)  # fmt: skip


def known_photos(session: Session, event: Event, query: KnownPhotosQuery) -> KnownPhotos:
    """Hashes first: which files the event has, so a resumed upload sends only the rest."""
    return KnownPhotos(known=sorted(repository.known_contents(session, event.id, query.sha256)))


def read_viewable_image(
    session: Session, storage: Storage, user: User, photo_id: uuid.UUID, size: str
) -> tuple[Photo, bytes, str]:
    """The photo's image, if `user` may see it: its photographer or an admin, any size; an
    attendee matched to it, what the event's download rules give visitors."""
    photo = repository.get_photo(session, photo_id)
    if photo is None:
        raise NotFound("no such photo", code="photo_not_found")
    event = events.get_event(session, photo.event_id)
    if event is None:
        raise NotFound("no such photo", code="photo_not_found")
    if user.role != Role.admin and event.owner_id != user.id:
        if not repository.user_is_matched_to(session, user.id, photo.id):
            raise NotPermitted("you are not matched to this photo", code="not_matched")
        check_visitor_image(event, size)
    return photo, *read_image(session, storage, event, photo, size)


def list_event_photos(
    session: Session,
    event: Event,
    user: User,
    *,
    status: PhotoStatus | None,
    photographer: uuid.UUID | None = None,
    cursor: str | None,
    limit: int,
) -> PhotosPublic:
    """Latest taken first (`captured_at`: EXIF time with each photographer's clock
    correction). A contributor's list is their own uploads, whatever they ask."""
    if events.role_in(user, event) == "contributor":
        photographer = user.id
    photos, next_cursor, count = repository.list_event_photos(
        session, event.id, status=status, uploaded_by=photographer, cursor=cursor, limit=limit
    )
    return to_public_list(session, photos, count, next_cursor)


def to_public_list(
    session: Session, photos: list[Photo], count: int, next_cursor: str | None = None
) -> PhotosPublic:
    """Photos with their face boxes, in one query for the page."""
    boxes = repository.list_face_boxes(session, [p.id for p in photos])
    data = []
    for photo in photos:
        public = PhotoPublic.model_validate(photo)
        public.faces = [
            FaceBox(top=top, right=right, bottom=bottom, left=left)
            for top, right, bottom, left in boxes.get(photo.id, [])
        ]
        data.append(public)
    return PhotosPublic(data=data, count=count, next_cursor=next_cursor)


def get_owned_photo(session: Session, user: User, photo_id: uuid.UUID) -> Photo:
    """The photo, if `user` is its event's photographer or an admin."""
    photo = repository.get_photo(session, photo_id)
    if photo is None:
        raise NotFound("no such photo", code="photo_not_found")
    if user.role != Role.admin:
        event = events.get_event(session, photo.event_id)
        if event is None or event.owner_id != user.id:
            raise NotPermitted("this photo belongs to another photographer", code="not_owner")
    return photo


def get_deletable_photo(session: Session, user: User, photo_id: uuid.UUID) -> Photo:
    """The photo, if `user` may delete it: its event's owner, an admin, or the contributor
    who uploaded it while they still contribute."""
    photo = repository.get_photo(session, photo_id)
    if photo is not None and photo.uploaded_by == user.id:
        events.get_event_for_contributor(session, user, photo.event_id)
        return photo
    return get_owned_photo(session, user, photo_id)


def people_in_photo(session: Session, user: User, photo_id: uuid.UUID) -> PhotoPeople:
    """The attendees matched to the photo, by name, with the face each was found by."""
    photo = get_owned_photo(session, user, photo_id)
    return PhotoPeople(data=[
        PersonInPhoto(attendee_id=attendee_id, name=name, distance=distance, matched_at=at,
                      face=FaceBox(top=top, right=right, bottom=bottom, left=left))
        for attendee_id, name, distance, at, top, right, bottom, left
        in repository.people_in_photo(session, photo.id)
    ])  # fmt: skip


def delete_photo(
    session: Session, storage: Storage, user: User, photo_id: uuid.UUID
) -> PhotoDeleted:
    """The photo goes with everything made from it: its faces and their encodings, the
    matches they made, its file and previews, and its job if it has not started."""
    photo = get_deletable_photo(session, user, photo_id)
    lock_matching(session, photo.event_id)  # a photo or selfie job must not match it meanwhile
    faces, matches = repository.count_faces_and_matches(session, photo.id)
    event = events.get_event(session, photo.event_id)
    mark = event.preview_mark() if event is not None else 0
    keys = photo_keys(photo.event_id, photo.id, photo.storage_key, mark)
    session.delete(photo)  # faces, matches, nearest attendees and "not me"s cascade
    actor = f"{user.role.value}:{user.id}"
    erasure.record(session, Erased(face_encodings=faces, matches=matches),
                   event_id=photo.event_id, subject_id=photo.id, actor=actor,
                   reason=Reason.photo_deleted)  # fmt: skip
    on_commit(session, functools.partial(storage.delete_many, keys))  # once the rows are gone
    jobs = get_job_queue()
    specs = [job(photo.id) for job in queue.PHOTO_JOBS]
    on_commit(session, functools.partial(jobs.discard_many, specs))
    # Its faces counted in their attendees' look-alike groups (workers/matching/lookalikes.py):
    # a look-alike's group that lost a photo may no longer hold back the rest. The
    # event's rematch groups them again (one job however many photos go; owed until it
    # has run, so the reconciler re-enqueues a lost one).
    if faces and event is not None and events.is_live(event):
        event.rematch_requested_at = utcnow()
        session.add(event)
        defer(session, queue.rematch_event(event.id))
    return PhotoDeleted(faces=faces, matches=matches)


def read_image(
    session: Session, storage: Storage, event: Event, photo: Photo, size: str
) -> tuple[bytes, str]:
    """The original, or a derived upright JPEG made on first use and kept beside it, with
    the event's watermark when it has one (kept once the photo's faces are known, so the
    mark is placed off them)."""
    gone = NotFound("no such photo", code="photo_not_found")  # deleted meanwhile
    marking: Marking | None = None
    try:
        if size == "full":
            return storage.get(photo.storage_key), photo.content_type
        mark = event.preview_mark()
        key = preview_key(photo.event_id, photo.id, size, mark)
        try:
            return storage.get(key), "image/jpeg"
        except FileNotFoundError:
            pass
        if mark:
            faces = repository.list_face_boxes(session, [photo.id]).get(photo.id, [])
            marking = Marking(branding.mark(storage, event), tuple(faces), photo.width)
        data = make_preview(storage.get(photo.storage_key), PREVIEW_SIDES[size], marking)
    except FileNotFoundError as error:
        raise gone from error
    if marking is not None and photo.status != PhotoStatus.indexed:
        return data, "image/jpeg"  # kept once the worker has found its faces
    storage.put(key, data)
    # A deletion removes the original before the previews: if it is gone now, this preview
    # may have come after the deletion's, and must not outlive the photo.
    if not storage.exists(photo.storage_key):
        storage.delete(key)
        raise gone
    # A new mark meanwhile: its sweep may have run before this preview was stored.
    if repository.preview_mark(session, event.id) != mark:
        storage.delete(key)
    return data, "image/jpeg"


def check_visitor_image(event: Event, size: str) -> None:
    """The one check of what an attendee, a runner or a gallery visitor may have of a photo:
    previews always (watermarked when the event says so), the original only where the
    event allows it. Its photographer and admins are not visitors."""
    if size == "full" and not event.originals_downloadable:
        raise NotPermitted("this event's photographer offers previews only, not the original "
                           "files", code="originals_not_downloadable")  # fmt: skip


def check_visitor_zip(event: Event) -> None:
    """The one check of whether an attendee (or a runner) may download their photos as a zip."""
    if not event.zips_allowed:
        raise NotPermitted("this event's photographer does not offer zips",
                           code="zips_not_allowed")  # fmt: skip


def visitor_size(event: Event) -> str:
    """What a visitor downloads of a photo: the original, else the 1600 px preview."""
    return "full" if event.originals_downloadable else "preview"


def download_name(photo: Photo, size: str) -> str:
    """The file name a download of `size` gets: the photo's, as a JPEG for a preview."""
    if size == "full":
        return photo.filename
    return f"{PurePath(entry_name(photo.filename)).stem}.jpg"


IMAGE_CACHE = "private, max-age=3600"


def image_headers(photo: Photo, size: str, download: bool) -> dict[str, str]:
    """An image answer's headers: kept an hour by the browser alone; as an attachment with
    its file name when it is downloaded."""
    headers = {"Cache-Control": IMAGE_CACHE}
    if download:
        headers["Content-Disposition"] = attachment(download_name(photo, size))
    return headers


def attachment(filename: str) -> str:
    """A Content-Disposition that survives any file name (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def archive_entries(
    session: Session, storage: Storage, event: Event, *, matched_only: bool
) -> list[ArchiveEntry]:
    """The originals of every photo of the event, or of the matched ones, for a zip."""
    rows = repository.archive_rows(session, event.id, matched_only=matched_only)
    names = archive_names([filename for filename, _ in rows])
    return [(name, stored(storage, key)) for name, (_, key) in zip(names, rows, strict=True)]


def visitor_archive(
    session: Session, storage: Storage, event: Event, photos: list[Photo]
) -> list[ArchiveEntry]:
    """`photos` for a zip an attendee downloads, under the event's rules: refused where it
    offers no zips; the originals where it offers them, else the 1600 px previews (with
    its watermark), each made when the zip reaches it if none is kept yet."""
    check_visitor_zip(event)
    if event.originals_downloadable:
        names = archive_names([photo.filename for photo in photos])
        return [
            (name, stored(storage, p.storage_key)) for name, p in zip(names, photos, strict=True)
        ]
    mark = event.preview_mark()
    marked = branding.mark(storage, event) if mark else None
    boxes = repository.list_face_boxes(session, [p.id for p in photos]) if mark else {}

    def preview(photo: Photo) -> bytes:
        try:
            return storage.get(preview_key(event.id, photo.id, "preview", mark))
        except FileNotFoundError:
            pass
        marking = None
        if marked is not None:
            marking = Marking(marked, tuple(boxes.get(photo.id, [])), photo.width)
        return make_preview(storage.get(photo.storage_key), PREVIEW_SIDES["preview"], marking)

    names = archive_names([download_name(p, "preview") for p in photos])
    return [(name, functools.partial(preview, p)) for name, p in zip(names, photos, strict=True)]
