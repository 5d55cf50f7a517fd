"""Whose face is a selfie: one person per account, and one account per face at an event.

- Every selfie after an attendee's first must be of the same person
  (SELFIE_SAME_PERSON_DISTANCE): three selfies are three chances to be found, never three
  people's photos.
- A selfie within SELFIE_DUPLICATE_DISTANCE of another attendee's valid selfie at the
  event is held: not matched until the photographer or an admin releases it. The audit
  log gets a row, and the earlier attendee a mail (`api/mail/notices.py`, from the
  reconciler: workers write no mail).
"""

from __future__ import annotations

import uuid

import numpy as np
from sqlmodel import Session, col, select

from core import audit
from core.config import settings
from core.models import AuditAction, Selfie, SelfieStatus

SAME_PERSON_HINT = (
    "this is not the person of your first selfie: an account finds one person's photos"
)


def first_selfie(session: Session, selfie: Selfie) -> Selfie | None:
    """The attendee's earliest other selfie that was judged to be a face."""
    return session.exec(
        select(Selfie)
        .where(
            Selfie.attendee_id == selfie.attendee_id,
            Selfie.id != selfie.id,
            col(Selfie.status).in_([SelfieStatus.valid, SelfieStatus.held]),
            col(Selfie.encoding).is_not(None),
        )
        .order_by(col(Selfie.created_at))
        .limit(1)
    ).first()


def another_person(session: Session, selfie: Selfie, encoding: np.ndarray) -> bool:
    """Whether `encoding` is too far from the attendee's first selfie to be them."""
    first = first_selfie(session, selfie)
    if first is None or first.encoding is None:
        return False
    distance = float(np.linalg.norm(np.asarray(first.encoding) - encoding))
    return distance > settings.SELFIE_SAME_PERSON_DISTANCE


def face_owner(session: Session, selfie: Selfie, encoding: np.ndarray) -> uuid.UUID | None:
    """Another attendee of the event whose valid selfie is this face, nearest first."""
    distance = col(Selfie.encoding).l2_distance(encoding.tolist())  # type: ignore[attr-defined]
    return session.exec(
        select(Selfie.attendee_id)
        .where(
            Selfie.event_id == selfie.event_id,
            Selfie.attendee_id != selfie.attendee_id,
            Selfie.status == SelfieStatus.valid,
            distance <= settings.SELFIE_DUPLICATE_DISTANCE,
        )
        .order_by(distance)
        .limit(1)
    ).first()


def hold(session: Session, selfie: Selfie, owner_id: uuid.UUID) -> None:
    """Hold `selfie` for review; the attendee whose face it is gets told."""
    selfie.status = SelfieStatus.held
    selfie.held_for = owner_id
    session.add(selfie)
    audit.record(session, AuditAction.selfie_held, event_id=selfie.event_id,
                 subject_id=selfie.id, actor="worker")  # fmt: skip
