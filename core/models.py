"""Every table, in one module so Alembic sees them all.

Request and response shapes live in each feature's `schemas.py` and build on
the `*Base` classes here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlmodel import Column, Field, SQLModel

from core.config import settings

ENCODING_DIMENSIONS = 128


def utcnow() -> datetime:
    return datetime.now(UTC)


def _enum(enum: type[StrEnum], length: int = 16) -> sa.Enum:
    """Store enums as short strings with a CHECK constraint, not as PostgreSQL types."""
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        name=f"{enum.__name__.lower()}",
    )


def _timestamp(nullable: bool = False, **kwargs: object) -> sa.Column:
    return sa.Column(sa.DateTime(timezone=True), nullable=nullable, **kwargs)  # type: ignore[arg-type]


class Role(StrEnum):
    admin = "admin"
    photographer = "photographer"
    attendee = "attendee"


class EventStatus(StrEnum):
    open = "open"
    closed = "closed"
    deleting = "deleting"
    """Being deleted by its job (workers/jobs/deletion.py): hidden from attendees, read-only."""


class BibSearch(StrEnum):
    """Who may see the photos of a bib number (README, "Bib numbers")."""

    runner = "runner"
    """Only whoever holds a link mailed to the bib's address on the start list."""
    open = "open"
    """Anyone with the event's code, as many race photo sites do."""


class PhotoStatus(StrEnum):
    pending = "pending"
    indexing = "indexing"
    indexed = "indexed"
    failed = "failed"


class SelfieStatus(StrEnum):
    pending = "pending"
    valid = "valid"
    rejected = "rejected"
    held = "held"
    """Valid, but the face is another attendee's of the event: not matched until the
    photographer or an admin releases it (or refuses it: rejected)."""


class OptOutStatus(StrEnum):
    pending = "pending"
    done = "done"
    rejected = "rejected"


class AuditAction(StrEnum):
    """Each creation and deletion of biometric data (BIPA, GDPR art. 9)."""

    selfie_image_stored = "selfie_image.stored"
    selfie_image_deleted = "selfie_image.deleted"
    selfie_encoding_created = "selfie_encoding.created"
    selfie_encoding_deleted = "selfie_encoding.deleted"
    face_encodings_created = "face_encodings.created"
    face_encodings_deleted = "face_encodings.deleted"
    matches_deleted = "matches.deleted"
    photos_deleted = "photos.deleted"
    event_deletion_requested = "event.deletion_requested"
    event_deleted = "event.deleted"
    account_deleted = "account.deleted"
    consent_given = "consent.given"
    """An attendee agreed to a version of the policy (`reason` holds the version)."""
    selfie_held = "selfie.held"
    """A selfie's face is another attendee's: held for the photographer or an admin."""
    selfie_released = "selfie.released"
    selfie_refused = "selfie.refused"
    opt_out_faces_removed = "opt_out.faces_removed"
    """Someone who never joined had their faces left out (`count`: how many)."""
    opt_out_encoding_deleted = "opt_out.encoding_deleted"
    support_link_issued = "support_link.issued"
    """An admin made a sign-in or join link for an attendee (`reason`: which kind)."""


class UserBase(SQLModel):
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    full_name: str | None = Field(default=None, max_length=200)
    role: Role = Field(sa_type=_enum(Role))


class User(UserBase, table=True):
    __tablename__ = "users"
    __table_args__ = (sa.Index("ix_users_created", "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    hashed_password: str | None = None
    """Staff only: attendees sign in by links mailed to them (`SignInLink`)."""
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class PasswordReset(SQLModel, table=True):
    """A one-time link an admin made for someone to set a new password; only its token's
    SHA-256 is kept, so the table leaks no working link."""

    __tablename__ = "password_resets"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    token_sha256: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())
    used_at: datetime | None = Field(default=None, sa_column=_timestamp(True))


class SignInLinkPurpose(StrEnum):
    joining = "join"
    sign_in = "sign_in"


class SignInLink(SQLModel, table=True):
    """A link mailed to an attendee: single use, short-lived, only its token's SHA-256
    kept. A `join` link carries the registration it confirms (name, consent, notify),
    so nothing about an address is stored as an account before its owner clicks."""

    __tablename__ = "sign_in_links"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=320, index=True)
    token_sha256: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    purpose: SignInLinkPurpose = Field(sa_type=_enum(SignInLinkPurpose))
    event_id: uuid.UUID | None = Field(
        default=None, foreign_key="events.id", ondelete="CASCADE", index=True
    )
    full_name: str | None = Field(default=None, max_length=200)
    consent_policy_version: str | None = Field(default=None, max_length=32)
    notify: bool | None = None
    issued_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    """The admin who made it for support (`link_for_support`); None for a mailed link."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())
    used_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    locale: str | None = Field(default=None, max_length=8)
    """The page's language when the link was asked for: its mail's, and then its attendee's."""


class AuthSession(SQLModel, table=True):
    """One signed-in browser. Its id is the access token's `sid`: a token whose session
    is revoked, expired or gone is refused, so signing out ends it everywhere."""

    __tablename__ = "auth_sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())
    revoked_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    user_agent: str | None = Field(default=None, max_length=200)


class EmailKind(StrEnum):
    sign_in = "sign_in"
    digest = "digest"
    notice = "notice"
    """A word about the account itself, such as its face used by someone else."""


class Email(SQLModel, table=True):
    """A mail to send: the outbox. A worker's `send_email` job sends it and clears its
    bodies (a sign-in link lives in the table only until it is sent); the reconciler
    re-enqueues one whose job was lost. It goes with its event or attendee."""

    __tablename__ = "emails"
    __table_args__ = (
        sa.Index("ix_emails_unsent", "created_at", postgresql_where=sa.text("sent_at IS NULL")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: EmailKind = Field(sa_type=_enum(EmailKind))
    to_address: str = Field(max_length=320)
    event_id: uuid.UUID | None = Field(
        default=None, foreign_key="events.id", ondelete="CASCADE", index=True
    )
    attendee_id: uuid.UUID | None = Field(
        default=None, foreign_key="attendees.id", ondelete="CASCADE", index=True
    )
    subject: str = Field(max_length=300)
    text_body: str | None = None
    html_body: str | None = None
    unsubscribe_url: str | None = Field(default=None, max_length=500)
    """For the List-Unsubscribe header (RFC 8058 one-click)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    expires_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    """A sign-in mail is not worth sending once its link has expired."""
    sent_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    job_id: str | None = Field(default=None, max_length=100)
    """The RQ job that sends it (one mail's, or a batch's): the reconciler asks RQ about it."""


class WebhookDelivery(SQLModel, table=True):
    """A webhook to deliver: the outbox (core/webhooks.py). A worker's `deliver_webhooks`
    job posts the owed ones of an event in order, each signed; a failure is tried again
    after a back-off, and the reconciler re-enqueues the job of an event whose deliveries
    are due. The body is kept as sent (the delivery log), and goes with its event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_event", "event_id", "created_at"),
        sa.Index("ix_webhook_deliveries_owed", "next_attempt_at",
                 postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL")),
    )  # fmt: skip

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE")
    kind: str = Field(max_length=40)
    """`photo.indexed`, `match.created` or `ping`."""
    body: str
    """The JSON posted, byte for byte what was signed; emptied once delivered or given up
    (an attendee's email may be in it)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    attempts: int = 0
    delivered_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    failed_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    """Given up after the last attempt."""
    last_status: int | None = None
    """The receiver's HTTP status at the last attempt; None if it never answered."""
    last_error: str | None = Field(default=None, max_length=500)


class EventBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)


class Event(EventBase, table=True):
    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_owner_created", "owner_id", "created_at", "id"),
        sa.Index("ix_events_created", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(max_length=16, sa_column_kwargs={"unique": True})
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    tolerance: float | None = None
    status: EventStatus = Field(default=EventStatus.open, sa_type=_enum(EventStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    # A rematch is owed while requested is later than done; the reconciler
    # re-enqueues it if its job was lost.
    rematch_requested_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    rematched_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    # Unmatched faces' encodings are deleted UNMATCHED_FACE_RETENTION_HOURS after this.
    closed_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    # The whole event is deleted this many days after it closes (None: the platform's
    # EVENT_RETENTION_DAYS, which may be None: kept until its photographer deletes it).
    retention_days: int | None = None
    # A selfie uploaded as a file, not taken live (None: the platform's SELFIE_UPLOAD).
    selfie_upload: bool | None = None
    # Closes by itself this many days after its last upload (None: AUTO_CLOSE_DAYS).
    auto_close_days: int | None = None
    # When its deletion was asked for; the reconciler resumes a deletion left behind.
    deletion_requested_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    # Counts the photos whose nearest attendees were computed (workers/matching/__init__.py): a new
    # selfie scans the event's faces before taking the matching lock, then only the photos
    # numbered after what that scan saw.
    match_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Bib numbers are read from its photos (workers/bibs.py) when on; a range, when set,
    # limits what counts as a bib (a start list, when imported, limits it further).
    bibs_enabled: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    bib_min: int | None = None
    bib_max: int | None = None
    bib_search: BibSearch = Field(
        default=BibSearch.runner,
        sa_type=_enum(BibSearch),
        sa_column_kwargs={"server_default": BibSearch.runner.value},
    )
    # The photographer's brand on the attendee pages and mails (api/branding/).
    accent_color: str | None = Field(default=None, max_length=7)
    welcome_text: str | None = Field(default=None, max_length=1000)
    logo_key: str | None = Field(default=None, max_length=300)
    logo_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Counts logo changes: the logo's public URL carries it, so caches refetch."""
    # Burned into every preview and thumbnail (the logo, else `watermark_text`, else the
    # event's name); originals are never marked.
    watermark: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    watermark_text: str | None = Field(default=None, max_length=60)
    mark_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Counts changes to what previews carry: a preview's storage key names it, so a
    preview made under an older mark is never served (core.storage.preview_key)."""
    marks_swept: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """The `mark_version` whose older previews were deleted; a sweep is owed while less."""
    # What an attendee (or a runner, or a gallery visitor) may download; the photographer
    # and admins may download everything.
    originals_downloadable: bool = Field(
        default=True, sa_column_kwargs={"server_default": sa.true()}
    )
    zips_allowed: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    # Browse-all: every indexed photo, for whoever has this link's token and the password
    # (api/galleries/); off while the token is None or past its expiry.
    gallery_token: str | None = Field(
        default=None, max_length=64, sa_column_kwargs={"unique": True}
    )
    gallery_password_hash: str | None = Field(default=None, max_length=200)
    gallery_expires_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    # Deliveries of what happens at the event, signed with the secret (core/webhooks.py).
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, max_length=100)

    def effective_tolerance(self) -> float:
        """The event's own match tolerance, else the platform default."""
        return self.tolerance if self.tolerance is not None else settings.MATCH_TOLERANCE

    def allows_selfie_upload(self) -> bool:
        """Whether a selfie may be a file, or must be taken live on the camera."""
        return bool(settings.SELFIE_UPLOAD) if self.selfie_upload is None else self.selfie_upload

    def gallery_open(self, now: datetime | None = None) -> bool:
        """Whether its browse-all gallery is on (a link made, and not expired)."""
        return (
            self.gallery_token is not None
            and self.gallery_expires_at is not None
            and self.gallery_expires_at > (now or utcnow())
        )

    def preview_mark(self) -> int:
        """The mark its previews are made under now: 0 for none (core.storage.preview_key)."""
        return self.mark_version + 1 if self.watermark else 0

    def effective_auto_close_days(self) -> int | None:
        return (
            self.auto_close_days if self.auto_close_days is not None else settings.AUTO_CLOSE_DAYS
        )


class Photo(SQLModel, table=True):
    __tablename__ = "photos"
    __table_args__ = (
        sa.Index("ix_photos_event_status", "event_id", "status"),
        sa.Index("ix_photos_status_updated", "status", "updated_at"),
        sa.Index("ix_photos_event_match_epoch", "event_id", "match_epoch"),
        sa.Index("ix_photos_event_created", "event_id", "created_at", "id"),
        sa.Index("ux_photos_event_content", "event_id", "content_sha256", unique=True),
        sa.Index("ix_photos_event_captured", "event_id", "captured_at", "id"),
        sa.Index("ix_photos_event_uploader", "event_id", "uploaded_by"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE")
    storage_key: str = Field(max_length=300)
    filename: str = Field(max_length=300)
    content_type: str = Field(max_length=100)
    bytes: int
    width: int
    height: int
    status: PhotoStatus = Field(default=PhotoStatus.pending, sa_type=_enum(PhotoStatus))
    # None until indexed; 0 is a real result and is never re-processed.
    face_count: int | None = None
    error: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    indexed_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    match_epoch: int | None = None
    """The event's `match_epoch` when this photo's faces got their nearest attendees."""
    content_sha256: str | None = Field(default=None, max_length=64)
    """The file's SHA-256: a second upload of the same bytes to the event is this photo."""
    bibs_read_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    """When its bib numbers were read; None while owed (or the event reads none)."""
    uploaded_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    """The photographer who uploaded it (the owner or a contributor); None for an import."""
    taken_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    """EXIF DateTimeOriginal: with its offset where the camera wrote one, else the camera's
    clock read as UTC. None when the file says nothing."""
    taken_offset_minutes: int | None = None
    """EXIF OffsetTimeOriginal, when present."""
    captured_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    """When it was taken on the event's one timeline: `taken_at` plus its photographer's
    clock correction (`EventClock`); its upload time when the file has no capture time.
    Grids are ordered by it."""


class Contributor(SQLModel, table=True):
    """A photographer the owner invited to an event, by email: with an active photographer
    account of that address, they upload to it, see their own uploads and its counts."""

    __tablename__ = "event_contributors"
    __table_args__ = (sa.UniqueConstraint("event_id", "email"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE")
    email: str = Field(max_length=320, index=True)
    invited_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class EventClock(SQLModel, table=True):
    """A photographer's camera clock correction at an event: their photos' `captured_at` is
    their `taken_at` plus this."""

    __tablename__ = "event_clocks"

    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    offset_seconds: int = 0


class PhotoBib(SQLModel, table=True):
    """A number read on a bib in a photo (workers/bibs.py), once per photo and number.
    Reads under `settings.BIB_MIN_CONFIDENCE`, or outside the event's range or start
    list, are kept but never shown: a threshold or a list changed later needs no re-read."""

    __tablename__ = "photo_bibs"
    __table_args__ = (sa.Index("ix_photo_bibs_event_bib", "event_id", "bib", "confidence"),)

    photo_id: uuid.UUID = Field(foreign_key="photos.id", ondelete="CASCADE", primary_key=True)
    bib: str = Field(max_length=8, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE")
    top: int
    right: int
    bottom: int
    left: int
    confidence: float


class Runner(SQLModel, table=True):
    """One line of an event's start list: a bib and who wears it."""

    __tablename__ = "runners"
    __table_args__ = (sa.UniqueConstraint("event_id", "bib"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE")
    bib: str = Field(max_length=8)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class BibPass(SQLModel, table=True):
    """A link mailed to a start list's address that shows the photos of its bib.

    Only the token's SHA-256 is kept. It may be used until it expires, from any device;
    an attendee of the event who opens it may add the bib to their photos."""

    __tablename__ = "bib_passes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", index=True)
    bib: str = Field(max_length=8)
    token_sha256: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())


class Face(SQLModel, table=True):
    __tablename__ = "faces"
    # A photo's face boxes from the index alone: a page of the studio's grid reads 2,000
    # boxes, which as heap rows (each beside its 512-byte encoding) came from disk.
    __table_args__ = (
        sa.Index("ix_faces_photo_boxes", "photo_id",
                 postgresql_include=["top", "right", "bottom", "left"]),
    )  # fmt: skip

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    photo_id: uuid.UUID = Field(foreign_key="photos.id", ondelete="CASCADE")
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", index=True)
    # Box in the photo's own pixels, after EXIF orientation.
    top: int
    right: int
    bottom: int
    left: int
    encoding: list[float] = Field(sa_column=Column(Vector(ENCODING_DIMENSIONS), nullable=False))
    # The size of the image the detector ran on.
    detected_width: int
    detected_height: int
    size_px: int = 0
    """The face box's width in the photo's own pixels."""
    quality: float = 0.0
    """0..1 from size and sharpness (workers.faces.quality)."""


class ForgetOwed(SQLModel, table=True):
    """An attendee whose face data was deleted, owed the recomputation of the faces that
    named them (workers.tasks.forget_attendee). Written with the deletion and deleted by
    the job, so a job lost with Redis is enqueued again by the reconciler."""

    __tablename__ = "forgets_owed"

    attendee_id: uuid.UUID = Field(primary_key=True)
    """No foreign key: the attendee's row may be deleted before the job runs."""
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", index=True)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class FaceNearest(SQLModel, table=True):
    """A face's nearest attendee, exact within NEAREST_RADIUS, and its runner-up, exact
    when within MAX_MATCH_MARGIN of the nearest (further, it decides nothing, and the
    row may hold an older one or none).

    Kept up to date as photos are indexed and selfies arrive or go (workers/matching/__init__.py),
    so that matching is a filter over these numbers: a tolerance change rematches an
    event without comparing a face with a selfie. A face with no attendee within the
    radius has no row. Attendees that said "not me" to the face's photo are left out.
    The attendee columns have no foreign key: a row naming an attendee with no valid
    selfie left is stale, never matched, and recomputed by the event's rematch.
    """

    __tablename__ = "face_nearest"
    __table_args__ = (sa.Index("ix_face_nearest_event_photo", "event_id", "photo_id"),)

    face_id: uuid.UUID = Field(foreign_key="faces.id", ondelete="CASCADE", primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE")
    photo_id: uuid.UUID = Field(foreign_key="photos.id", ondelete="CASCADE")
    attendee_id: uuid.UUID = Field(index=True)
    distance: float
    runner_up_attendee_id: uuid.UUID | None = Field(default=None, index=True)
    runner_up: float | None = None
    quality: float
    lookalike: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    """The face is in a group of faces that is another person's, a look-alike of its nearest
    attendee (workers/matching/lookalikes.py): never matched to them."""


class Attendee(SQLModel, table=True):
    __tablename__ = "attendees"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "event_id"),
        sa.Index(
            "ix_attendees_news", "news_since", postgresql_where=sa.text("news_since IS NOT NULL")
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", index=True)
    consented_at: datetime = Field(sa_column=_timestamp())
    consent_policy_version: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    notify: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    """Opted in to digest mails of new photos, at registration or later."""
    notify_changed_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    digest_sent_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    digest_through: datetime | None = Field(default=None, sa_column=_timestamp(True))
    """Matches made up to this moment were counted in a digest (or predate opting in)."""
    news_since: datetime | None = Field(default=None, sa_column=_timestamp(True))
    """A match was made for the attendee since their news was last read (set by matching,
    in the transaction that made it; cleared by the digest that counts it)."""
    bib: str | None = Field(default=None, max_length=8)
    """Their bib number, proven (by a bib pass, or given where the event's bib search is
    open): "my photos" is then their face matches and this bib's photos together."""
    locale: str | None = Field(default=None, max_length=8)
    """The language their pages were in when they last used them: their mails' (api/i18n.py)."""
    share_email: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    """They agreed that the event's organiser learns their email with their matches (the
    event's webhook); otherwise the organiser gets an opaque id only."""


class Selfie(SQLModel, table=True):
    __tablename__ = "selfies"
    __table_args__ = (
        sa.Index("ix_selfies_status_updated", "status", "updated_at"),
        sa.Index("ix_selfies_event_epoch", "event_id", "match_epoch"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    attendee_id: uuid.UUID = Field(foreign_key="attendees.id", ondelete="CASCADE", index=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", index=True)
    storage_key: str | None = Field(default=None, max_length=300)
    status: SelfieStatus = Field(default=SelfieStatus.pending, sa_type=_enum(SelfieStatus))
    reason: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    encoding: list[float] | None = Field(
        default=None, sa_column=Column(Vector(ENCODING_DIMENSIONS), nullable=True)
    )
    quality: float | None = None
    steps: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))
    """A live selfie: the challenge's steps, one frame each (`workers/liveness.py`); None:
    an uploaded file."""
    held_for: uuid.UUID | None = Field(
        default=None, foreign_key="attendees.id", ondelete="SET NULL"
    )
    """A held selfie: the attendee of the event whose face it is too."""
    held_told_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    """When that attendee was mailed about it (`api/reviews/service.py`: `queue_notices`)."""
    match_epoch: int | None = Field(default=None, sa_type=sa.BigInteger)
    """Numbered from `selfies_match_epoch_seq` under the event's matching lock once the
    selfie is valid and matched: a bulk worker's matrix of the event's selfies holds
    every one numbered up to its epoch (workers/matching/selfie_cache.py)."""
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Match(SQLModel, table=True):
    __tablename__ = "matches"
    __table_args__ = (
        sa.UniqueConstraint("attendee_id", "photo_id"),
        sa.Index("ix_matches_attendee_created", "attendee_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    attendee_id: uuid.UUID = Field(foreign_key="attendees.id", ondelete="CASCADE")
    photo_id: uuid.UUID = Field(foreign_key="photos.id", ondelete="CASCADE", index=True)
    face_id: uuid.UUID = Field(foreign_key="faces.id", ondelete="CASCADE", index=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", index=True)
    distance: float
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class FaceOptOut(SQLModel, table=True):
    """Someone in an event's photos who never joined asked, with a live selfie, for their
    face to be left out. Their faces go; `encoding` stays only while photos may still be
    uploaded (the event is open), to leave them out of those too."""

    __tablename__ = "face_opt_outs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", index=True)
    status: OptOutStatus = Field(default=OptOutStatus.pending, sa_type=_enum(OptOutStatus))
    reason: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    storage_key: str | None = Field(default=None, max_length=300)
    steps: list[str] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    encoding: list[float] | None = Field(
        default=None, sa_column=Column(Vector(ENCODING_DIMENSIONS), nullable=True)
    )
    faces_removed: int = 0
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class TolerancePreview(SQLModel, table=True):
    """What the event's matches would be at another tolerance, computed by a worker from
    the stored encodings (workers/matching/__init__.py: preview_tolerance) before the photographer
    changes anything. `result` holds counts and attendee ids, never a name or a vector."""

    __tablename__ = "tolerance_previews"

    event_id: uuid.UUID = Field(foreign_key="events.id", ondelete="CASCADE", primary_key=True)
    tolerance: float = Field(primary_key=True)
    status: str = "pending"
    """pending, done"""
    requested_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    finished_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    result: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(), nullable=True)
    )


class MatchRejection(SQLModel, table=True):
    """An attendee said "not me" on a photo: it is never matched to them again."""

    __tablename__ = "match_rejections"
    __table_args__ = (sa.UniqueConstraint("attendee_id", "photo_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    attendee_id: uuid.UUID = Field(foreign_key="attendees.id", ondelete="CASCADE")
    photo_id: uuid.UUID = Field(foreign_key="photos.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class AuditEntry(SQLModel, table=True):
    """One creation or deletion of biometric data. Rows outlive what they describe,
    so ids are plain values, not foreign keys; they never hold the data itself."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_event_at", "event_id", "at"),
        sa.Index("ix_audit_log_at", "at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    action: AuditAction = Field(sa_type=_enum(AuditAction, length=32))
    event_id: uuid.UUID | None = None
    subject_id: uuid.UUID | None = None
    """The photo, selfie or attendee concerned."""
    count: int = 1
    actor: str = Field(max_length=64)
    """Who did it: "attendee:<user id>", "photographer:<user id>", "worker", "retention"."""
    reason: str | None = Field(default=None, max_length=64)
