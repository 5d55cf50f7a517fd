"""Every erasure of personal data writes its audit rows through `record`, in one vocabulary:
what kind of data went and how much (`Erased`), whose it was (the subject: an attendee, a
photo, a selfie, an opt-out, an event, an account), who asked (the actor) and why (a
`Reason`). The API's paths (an attendee's face data, an account, a photo, a refused or
judged selfie, an event's opt-outs at close) and the workers' (an event's deletion, the
purge of bystanders' faces after close, a reindexed photo) all write the same rows.
"""

from __future__ import annotations

import dataclasses
import uuid
from enum import StrEnum

from sqlmodel import Session

from core import audit
from core.models import AuditAction


class Reason(StrEnum):
    attendee_request = "attendee_request"
    account_deleted = "account_deleted"
    photo_deleted = "photo_deleted"
    refused = "refused"
    judged = "judged"
    reindexed = "reindexed"
    event_closed = "event_closed"
    event_deleted = "event_deleted"
    unmatched_after_close = "unmatched_after_close"


@dataclasses.dataclass
class Erased:
    """How much of each kind of personal data went, in the order the audit log lists them."""

    photos: int = 0
    face_encodings: int = 0
    selfie_images: int = 0
    selfie_encodings: int = 0
    matches: int = 0
    opt_out_encodings: int = 0
    accounts: int = 0
    events: int = 0


ACTIONS = {
    "photos": AuditAction.photos_deleted,
    "face_encodings": AuditAction.face_encodings_deleted,
    "selfie_images": AuditAction.selfie_image_deleted,
    "selfie_encodings": AuditAction.selfie_encoding_deleted,
    "matches": AuditAction.matches_deleted,
    "opt_out_encodings": AuditAction.opt_out_encoding_deleted,
    "accounts": AuditAction.account_deleted,
    "events": AuditAction.event_deleted,
}
"""The audit action of each kind (a test checks every kind has one)."""


def record(
    session: Session,
    erased: Erased,
    *,
    event_id: uuid.UUID | None,
    subject_id: uuid.UUID | None,
    actor: str,
    reason: Reason | None,
) -> None:
    """A row per kind that went (none for a kind of which nothing went), counts only."""
    why = reason.value if reason else None
    for kind, action in ACTIONS.items():
        audit.record(session, action, event_id=event_id, subject_id=subject_id, actor=actor,
                     count=getattr(erased, kind), reason=why)  # fmt: skip
