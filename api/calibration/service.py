"""Calibration the photographer sees before changing anything: how near the event's faces
are to their attendees, each attendee's photos, and what another tolerance would do."""

from __future__ import annotations

from sqlmodel import Session

from api.calibration import repository
from api.calibration.schemas import (
    AttendeeChange,
    AttendeePhotos,
    Calibration,
    DistanceBin,
    TolerancePreviewPublic,
)
from api.errors import NotFound
from api.events.service import refuse_if_deleting
from core import queue
from core.config import settings
from core.db import defer
from core.models import Event, TolerancePreview


def read_calibration(session: Session, event: Event) -> Calibration:
    low, high, bins = (repository.HISTOGRAM_LOW, repository.HISTOGRAM_HIGH,
                       repository.HISTOGRAM_BINS)  # fmt: skip
    step = (high - low) / bins
    counts = {b: (m, u, lk) for b, m, u, lk in repository.distance_histogram(session, event.id)}
    histogram = []
    for b in range(bins + 1):
        m, u, lk = counts.get(b, (0, 0, 0))
        lo, hi = (0.0, low) if b == 0 else (low + (b - 1) * step, low + b * step)  # 0: nearer
        histogram.append(DistanceBin(low=round(lo, 2), high=round(hi, 2), matched=m,
                                     unmatched=u, lookalike=lk))  # fmt: skip
    attendees = sorted(
        (AttendeePhotos(attendee_id=a, name=n, photos=c)
         for a, n, c in repository.attendee_photo_counts(session, event.id)),
        key=lambda row: (-row.photos, str(row.attendee_id)),
    )  # fmt: skip
    return Calibration(tolerance=event.effective_tolerance(), margin=settings.MATCH_MARGIN,
                       matches=sum(m for m, _, _ in counts.values()), histogram=histogram,
                       attendees=attendees)  # fmt: skip


def _status_url(event: Event, tolerance: float) -> str:
    return f"/api/events/{event.id}/calibration/previews/{tolerance:.2f}"


def to_public(session: Session, event: Event, preview: TolerancePreview) -> TolerancePreviewPublic:
    public = TolerancePreviewPublic(
        event_id=event.id, tolerance=preview.tolerance, status=preview.status,
        status_url=_status_url(event, preview.tolerance), requested_at=preview.requested_at,
        finished_at=preview.finished_at,
    )  # fmt: skip
    result = preview.result
    if preview.status != "done" or not result:
        return public
    for key in ("matches_now", "matches_then", "gained", "lost", "attendees_affected"):
        setattr(public, key, result[key])
    # Attendees who have gone since (face data or account deleted) are left out.
    changed = {a: (now, then) for a, (now, then) in result["attendees"].items() if now != then}
    names = repository.attendee_names(session, list(changed))
    public.attendees = sorted(
        (AttendeeChange(attendee_id=a, name=n, photos_now=changed[str(a)][0],
                        photos_then=changed[str(a)][1]) for a, n in names.items()),
        key=lambda row: (-abs(row.photos_then - row.photos_now), str(row.attendee_id)),
    )  # fmt: skip
    return public


def request_preview(session: Session, event: Event, tolerance: float) -> TolerancePreviewPublic:
    """A worker computes what `tolerance` would do; nothing changes until it is saved."""
    refuse_if_deleting(event)
    tolerance = round(tolerance, 2)
    preview = repository.request_preview(session, event.id, tolerance)
    defer(session, queue.preview_tolerance(event.id, tolerance))
    return to_public(session, event, preview)


def read_preview(session: Session, event: Event, tolerance: float) -> TolerancePreviewPublic:
    preview = repository.get_preview(session, event.id, round(tolerance, 2))
    if preview is None:
        raise NotFound("no preview of this tolerance was asked for", code="preview_not_found")
    return to_public(session, event, preview)
