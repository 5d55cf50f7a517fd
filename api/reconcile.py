"""The reconciler: the database says what work is owed, and lost jobs are enqueued again.

A worker killed mid-job leaves its photo in `indexing`, and an enqueue that
failed after a commit leaves a row `pending` with no job. Both are found here
by age and re-enqueued under their deterministic job ids, so work already
queued or running is never doubled. A row that keeps killing its worker is
marked failed after `MAX_JOB_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import exists, text
from sqlmodel import Session, col, select

from api import queue
from api.config import settings
from api.db import session_scope
from api.models import (
    Event,
    EventStatus,
    Face,
    Match,
    Photo,
    PhotoStatus,
    Selfie,
    SelfieStatus,
    utcnow,
)
from api.queue import get_job_queue

log = logging.getLogger(__name__)

BATCH = 1000
"""Rows looked at per kind and pass; the next pass takes the rest."""
_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('facematch-reconciler'))")
REMATCH_OWED = col(Event.rematch_requested_at).is_not(None) & (
    col(Event.rematched_at).is_(None) | (col(Event.rematched_at) < col(Event.rematch_requested_at))
)
"""An event whose rematch was asked for after its last one ran."""


@dataclass
class Report:
    enqueued: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    skipped_locked: bool = False


def reconcile(
    session: Session,
    jobs: queue.JobQueue,
    *,
    stale_after: timedelta | None = None,
    max_attempts: int | None = None,
) -> Report:
    """One pass. Only one process at a time does it: the others skip on the advisory lock."""
    report = Report()
    if not session.connection().execute(_LOCK).scalar():
        report.skipped_locked = True
        return report
    # Retries whose scheduler died with its worker: every pass, whatever the rows' age.
    report.enqueued += jobs.release_overdue()
    cutoff = utcnow() - (stale_after or timedelta(seconds=settings.RECONCILE_STALE_SECONDS))
    max_attempts = max_attempts or settings.MAX_JOB_ATTEMPTS

    photos = session.exec(
        select(Photo)
        .where(
            col(Photo.status).in_([PhotoStatus.pending, PhotoStatus.indexing]),
            Photo.updated_at < cutoff,
        )
        .order_by(col(Photo.updated_at))
        .limit(BATCH)
    ).all()
    selfies = session.exec(
        select(Selfie)
        .where(Selfie.status == SelfieStatus.pending, Selfie.updated_at < cutoff)
        .order_by(col(Selfie.updated_at))
        .limit(BATCH)
    ).all()
    rows: list[tuple[Photo | Selfie, queue.JobSpec]] = [
        *((photo, queue.index_photo(photo.id)) for photo in photos),
        *((selfie, queue.validate_selfie(selfie.id)) for selfie in selfies),
    ]
    for row, spec in rows:
        if jobs.is_active(spec.job_id):
            continue
        if row.attempts >= max_attempts:
            _give_up(row)
            session.add(row)
            report.gave_up.append(spec.job_id)
        else:
            jobs.enqueue(spec)
            report.enqueued.append(spec.job_id)

    owed = session.exec(
        select(Event.id).where(col(Event.rematch_requested_at) < cutoff, REMATCH_OWED)
    ).all()
    report.enqueued += _enqueue_idle(jobs, [queue.rematch_event(event_id) for event_id in owed])
    report.enqueued += _enqueue_purges(session, jobs)

    if report.enqueued or report.gave_up:
        log.info(
            "reconciler re-enqueued %d jobs and gave up on %d",
            len(report.enqueued),
            len(report.gave_up),
        )
    return report


def reconcile_once() -> None:
    """One pass in its own transaction (the API's loop, `facematch reconcile`)."""
    with session_scope() as session:
        reconcile(session, get_job_queue())


def _enqueue_purges(session: Session, jobs: queue.JobQueue) -> list[str]:
    """Closed events past retention that still hold unmatched faces, with no rematch owed."""
    closed_before = utcnow() - timedelta(hours=settings.UNMATCHED_FACE_RETENTION_HOURS)
    unmatched_face = (
        select(Face.id)
        .where(
            col(Face.event_id) == col(Event.id),
            ~exists().where(col(Match.face_id) == col(Face.id)),
        )
        .exists()
    )
    due = session.exec(
        select(Event.id).where(
            Event.status == EventStatus.closed,
            col(Event.closed_at) < closed_before,
            ~REMATCH_OWED,
            unmatched_face,
        )
    ).all()
    return _enqueue_idle(jobs, [queue.purge_unmatched_faces(event_id) for event_id in due])


def _enqueue_idle(jobs: queue.JobQueue, specs: list[queue.JobSpec]) -> list[str]:
    """Enqueue each job not already queued or running; the ids enqueued."""
    enqueued = []
    for spec in specs:
        if not jobs.is_active(spec.job_id):
            jobs.enqueue(spec)
            enqueued.append(spec.job_id)
    return enqueued


def _give_up(row: Photo | Selfie) -> None:
    """After the last attempt: a failed photo, or a selfie the attendee is asked to redo."""
    if isinstance(row, Photo):
        row.status = PhotoStatus.failed
        row.error = f"gave up after {row.attempts} attempts"
    else:
        row.status = SelfieStatus.rejected
        row.reason = "processing_failed"
        row.detail = "we could not process this selfie; please upload another"
    row.updated_at = utcnow()
