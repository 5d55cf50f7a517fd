"""Browse-all galleries. The link's token finds the event; the password (argon2id, hashed
and checked off the event loop, rate-limited per client and per gallery) gives an access
token that lives in Redis (core/galleries.py) until the gallery's expiry, four hours at
most. Turning the gallery off, making a new link or deleting the event ends every access
at once: an access names the link it was given for, and each is deleted."""

from __future__ import annotations

import functools
import secrets
import uuid
from datetime import UTC, timedelta

from redis import Redis
from sqlmodel import Session

from api.auth.security import burn_verify_time, hash_password, verify_password
from api.branding import service as branding
from api.errors import BadRequest, NotFound, Unauthorized
from api.events import service as events
from api.galleries import repository
from api.galleries.schemas import (
    MAX_GALLERY_DAYS,
    GalleryAccess,
    GalleryInfo,
    GalleryPhotos,
    GalleryPublic,
    GalleryUpdate,
)
from api.images import ShownPhoto, shown
from api.links import public_url
from api.photos import repository as photos_repository
from api.photos import service as photos
from core.db import on_commit
from core.galleries import access_key, revoke_all
from core.models import Event, Photo, PhotoStatus, utcnow
from core.redis import get_redis
from core.storage import Storage

ACCESS_SECONDS = 4 * 3600
"""An access token's life at most (the gallery's expiry cuts it shorter)."""
_GONE = NotFound("this gallery link has expired, was turned off, or is not ours",
                 code="gallery_not_found")  # fmt: skip


def gallery_of(event: Event) -> GalleryPublic:
    if not event.gallery_open():
        return GalleryPublic()
    return GalleryPublic(enabled=True, url=public_url(f"/g/{event.gallery_token}"),
                         expires_at=event.gallery_expires_at)  # fmt: skip


def set_gallery(session: Session, event: Event, body: GalleryUpdate) -> GalleryPublic:
    """A new link with this password and expiry: the old link, and every access given
    through it, stop working."""
    events.refuse_if_deleting(event)
    expires = body.expires_at if body.expires_at.tzinfo else body.expires_at.replace(tzinfo=UTC)
    now = utcnow()
    if not now < expires <= now + timedelta(days=MAX_GALLERY_DAYS):
        raise BadRequest(f"a gallery's link expires within {MAX_GALLERY_DAYS} days from now",
                         code="bad_gallery_expiry")  # fmt: skip
    _revoke_accesses(session, event)
    event.gallery_token = secrets.token_urlsafe(24)
    event.gallery_password_hash = hash_password(body.password)
    event.gallery_expires_at = expires
    session.add(event)
    return gallery_of(event)


def _revoke_accesses(session: Session, event: Event) -> None:
    """Once the change commits, the accesses given through the old link are deleted (an
    access names its link, so none opens the new one meanwhile)."""
    on_commit(session, functools.partial(revoke_all, get_redis(), event.id))


def delete_gallery(session: Session, event: Event) -> None:
    _revoke_accesses(session, event)
    event.gallery_token = event.gallery_password_hash = None
    event.gallery_expires_at = None
    session.add(event)


def _open_event(session: Session, token: str) -> Event:
    event = repository.event_of_token(session, token) if len(token) <= 64 else None
    if event is None or not event.gallery_open() or not events.is_live(event):
        raise _GONE
    return event


def gallery_event(session: Session, token: str) -> Event | None:
    """The event whose gallery this link opens now, for its page; None if none."""
    try:
        return _open_event(session, token)
    except NotFound:
        return None


def info(session: Session, token: str) -> GalleryInfo:
    event = _open_event(session, token)
    assert event.gallery_expires_at is not None
    return GalleryInfo(event_name=event.name, brand=branding.brand(event),
                       expires_at=event.gallery_expires_at)  # fmt: skip


def open_gallery(session: Session, redis: Redis, token: str, password: str) -> GalleryAccess:
    """An access token for the gallery, if the password is its own."""
    event = repository.event_of_token(session, token) if len(token) <= 64 else None
    if event is None or event.gallery_password_hash is None or not event.gallery_open():
        burn_verify_time(password)  # a wrong link takes as long as a wrong password
        raise _GONE
    if not verify_password(password, event.gallery_password_hash):
        raise Unauthorized("wrong password for this gallery", code="wrong_gallery_password")
    assert event.gallery_expires_at is not None
    expires = min(event.gallery_expires_at, utcnow() + timedelta(seconds=ACCESS_SECONDS))
    access = secrets.token_urlsafe(32)
    seconds = max(1, int((expires - utcnow()).total_seconds()))
    redis.set(access_key(event.id, access), f"{event.id}|{token}", ex=seconds)
    return GalleryAccess(access_token=access, expires_at=expires)


def _entered(session: Session, redis: Redis, token: str, access: str | None) -> Event:
    """The gallery's event, if `access` was given for this link and the link still works."""
    event = _open_event(session, token)
    raw = redis.get(access_key(event.id, access)) if access and len(access) <= 64 else None
    granted = raw.decode() if isinstance(raw, bytes) else raw
    if granted != f"{event.id}|{token}":
        raise Unauthorized("enter the gallery's password first", code="gallery_locked")
    return event


def list_photos(session: Session, redis: Redis, token: str, access: str | None, *,
                cursor: str | None, limit: int) -> GalleryPhotos:  # fmt: skip
    """Every indexed photo of the event, latest taken first."""
    event = _entered(session, redis, token, access)
    found, next_cursor, count = photos_repository.list_event_photos(
        session, event.id, status=PhotoStatus.indexed, cursor=cursor, limit=limit
    )
    base = f"/api/galleries/{token}/photos"
    data = [ShownPhoto(**shown(p, f"{base}/{p.id}/image", original=event.originals_downloadable))
            for p in found]  # fmt: skip
    return GalleryPhotos(event_name=event.name, data=data, count=count, next_cursor=next_cursor)


def read_image(
    session: Session,
    redis: Redis,
    storage: Storage,
    token: str,
    access: str | None,
    photo_id: uuid.UUID,
    size: str,
) -> tuple[Photo, bytes, str]:
    """One photo of the gallery, under the event's download rules."""
    event = _entered(session, redis, token, access)
    photo = repository.indexed_photo(session, event.id, photo_id)
    if photo is None:
        raise NotFound("no such photo in this gallery", code="photo_not_found")
    photos.check_visitor_image(event, size)
    return photo, *photos.read_image(session, storage, event, photo, size)
