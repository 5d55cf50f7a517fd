"""The match rule in SQL, on hand-made encodings: what the distances and qualities decide."""

import numpy as np
import pytest
from sqlmodel import Session, select

from api.models import Attendee, Face, Match, Selfie, utcnow
from tests.helpers import create_event, create_photo, create_user
from workers import matching


def _vector(distance: float) -> list[float]:
    """An encoding at exactly `distance` from the all-zero selfie."""
    vector = np.zeros(128)
    vector[0] = distance
    return vector.tolist()


def _face(session: Session, photo, *, distance: float, quality: float, size: int) -> Face:  # type: ignore[no-untyped-def]
    face = Face(photo_id=photo.id, event_id=photo.event_id, top=0, right=size, bottom=size,
                left=0, encoding=_vector(distance), detected_width=6000, detected_height=4000,
                size_px=size, quality=quality)  # fmt: skip
    session.add(face)
    session.commit()
    return face


def _attendee_with_selfie(session: Session, event) -> Attendee:  # type: ignore[no-untyped-def]
    user = create_user(session, role="attendee")
    attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                        consent_policy_version="test")  # fmt: skip
    session.add(attendee)
    session.flush()
    session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                       encoding=_vector(0.0)))  # fmt: skip
    session.commit()
    return attendee


def test_a_weak_face_must_be_nearer_than_the_tolerance_to_match(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.config import settings

    monkeypatch.setattr(settings, "MATCH_WEAK_QUALITY", 0.15)
    monkeypatch.setattr(settings, "MATCH_WEAK_PENALTY", 0.05)
    event = create_event(session, owner=create_user(session))
    strong, weak_near, weak_far = (create_photo(session, event=event) for _ in range(3))
    _face(session, strong, distance=0.52, quality=0.6, size=120)
    _face(session, weak_near, distance=0.45, quality=0.1, size=44)
    _face(session, weak_far, distance=0.52, quality=0.1, size=44)  # within 0.55, not 0.50
    attendee = _attendee_with_selfie(session, event)

    matching.rematch_event(session, event.id, 0.55, 0.0)
    session.commit()
    matched = {m.photo_id for m in session.exec(select(Match)).all()}
    assert matched == {strong.id, weak_near.id}

    monkeypatch.setattr(settings, "MATCH_WEAK_PENALTY", 0.0)  # the rule off: all three
    matching.match_attendee(session, event.id, attendee.id, 0.55, 0.0)
    session.commit()
    assert {m.photo_id for m in session.exec(select(Match)).all()} == {
        strong.id,
        weak_near.id,
        weak_far.id,
    }
