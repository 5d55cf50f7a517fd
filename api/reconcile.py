"""The reconciler: the database says what work is owed, and lost jobs are enqueued again.

A worker killed mid-job leaves its photo in `indexing`, and an enqueue that
failed after a commit leaves a row `pending` with no job (or an owed rematch, or an
owed recomputation after deleted face data, `forgets_owed`). Both are found here
by age and re-enqueued under their deterministic job ids, so work already
queued or running is never doubled. A row that keeps killing its worker is
marked failed after `MAX_JOB_ATTEMPTS`.

It runs as its own process (`facematch reconcile --forever`; the chart's
`reconciler` Deployment, a child of `facematch-dev up`), so it runs with no API
pod up, and any number of them take turns by an advisory lock.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import exists, text, tuple_
from sqlmodel import Session, col, select

from api.auth.service import purge_ended_sessions
from api.mail import digests, notices, outbox
from core import queue
from core.config import settings
from core.db import session_scope
from core.metrics import record_reconcile
from core.models import (
    Event,
    EventStatus,
    Face,
    FaceOptOut,
    ForgetOwed,
    Match,
    OptOutStatus,
    Photo,
    PhotoStatus,
    Selfie,
    SelfieStatus,
    utcnow,
)
from core.queue import get_job_queue
from core.redis import get_redis

log = logging.getLogger(__name__)

BATCH = 1000
"""Rows read at a time, per kind; a pass reads them all, a batch at a time."""
_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('facematch-reconciler'))")
REMATCH_OWED = col(Event.rematch_requested_at).is_not(None) & (
    col(Event.rematched_at).is_(None) | (col(Event.rematched_at) < col(Event.rematch_requested_at))
)
"""An event whose rematch was asked for after its last one ran."""
HEARTBEAT_FILE = Path(
    os.environ.get("FACEMATCH_RECONCILER_HEARTBEAT_FILE", "/tmp/facematch-reconciler-heartbeat")
)
"""Touched before every pass; the pod's liveness probe reads its age (`core.heartbeat`)."""


@dataclass
class Report:
    enqueued: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    skipped_locked: bool = False
    digests: int = 0
    """Digest mails composed in this pass (their jobs are enqueued after its commit)."""
    notices: int = 0
    """Mails to attendees whose face a held selfie is."""


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
    # Jobs that died with their worker, and retries whose scheduler died with its worker:
    # every pass, whatever the rows' age.
    report.enqueued += jobs.release_abandoned()
    report.enqueued += jobs.release_overdue()
    if stale_after is None:  # (timedelta(0) is falsy, and means "everything")
        stale_after = timedelta(seconds=settings.RECONCILE_STALE_SECONDS)
    cutoff = utcnow() - stale_after
    max_attempts = max_attempts or settings.MAX_JOB_ATTEMPTS

    for batches, spec_of in (
        (_stale(session, Photo, cutoff), queue.index_photo),
        (_stale(session, Selfie, cutoff), queue.validate_selfie),
        (_stale(session, FaceOptOut, cutoff), queue.judge_opt_out),
    ):
        for rows in batches:
            _requeue(session, jobs, report, rows, spec_of, max_attempts)

    owed = session.exec(
        select(Event.id).where(col(Event.rematch_requested_at) < cutoff, REMATCH_OWED)
    ).all()
    report.enqueued += _enqueue_idle(jobs, [queue.rematch_event(event_id) for event_id in owed])
    deleting = session.exec(
        select(Event.id).where(
            Event.status == EventStatus.deleting, col(Event.deletion_requested_at) < cutoff
        )
    ).all()
    report.enqueued += _enqueue_idle(jobs, [queue.delete_event(e) for e in deleting])
    report.enqueued += _start_retention_deletions(session)
    _close_idle_events(session)
    forgets = session.exec(
        select(ForgetOwed.attendee_id).where(col(ForgetOwed.requested_at) < cutoff)
    ).all()
    report.enqueued += _enqueue_idle(jobs, [queue.forget_attendee(a) for a in forgets])
    report.enqueued += _enqueue_purges(session, jobs)
    report.enqueued += outbox.requeue_lost(session, jobs, older_than=stale_after, limit=BATCH)
    report.digests = digests.queue_digests(session)
    report.notices = notices.queue_notices(session)
    outbox.purge_spent(session)
    purge_ended_sessions(session)

    if report.enqueued or report.gave_up or report.digests:
        log.info(
            "reconciler re-enqueued %d jobs, gave up on %d, composed %d digest mails",
            len(report.enqueued),
            len(report.gave_up),
            report.digests,
        )
    return report


def _requeue(
    session: Session,
    jobs: queue.JobQueue,
    report: Report,
    rows: Sequence[Photo | Selfie | FaceOptOut],
    spec_of: Callable[[uuid.UUID], queue.JobSpec],
    max_attempts: int,
) -> None:
    """Enqueue each row's job again unless RQ will still run it; after the last attempt,
    give up on the row instead."""
    specs = [spec_of(row.id) for row in rows]
    active = jobs.active([spec.job_id for spec in specs])
    for row, spec in zip(rows, specs, strict=True):
        if spec.job_id in active:
            continue
        if row.attempts >= max_attempts:
            _give_up(row)
            session.add(row)
            report.gave_up.append(spec.job_id)
        else:
            jobs.enqueue(spec)
            report.enqueued.append(spec.job_id)


Row = TypeVar("Row", Photo, Selfie, FaceOptOut)


def _stale(session: Session, model: type[Row], cutoff: datetime) -> Iterator[Sequence[Row]]:
    """Rows whose work is owed and that have not changed since `cutoff`, oldest first, in
    batches of BATCH: all of them, though the oldest thousand may all be queued behind a
    long queue (a big event's upload) while a lost one waits further on."""
    owed = [PhotoStatus.pending, PhotoStatus.indexing] if model is Photo else ["pending"]
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        query = select(model).where(col(model.status).in_(owed), model.updated_at < cutoff)
        if after is not None:
            query = query.where(tuple_(col(model.updated_at), col(model.id)) > after)
        rows = session.exec(query.order_by(col(model.updated_at), col(model.id)).limit(BATCH)).all()
        if not rows:
            return
        after = (rows[-1].updated_at, rows[-1].id)  # before the caller changes them
        yield rows


def reconcile_once() -> Report:
    """One pass in its own transaction (`facematch reconcile`), recorded in the metrics."""
    with session_scope() as session:
        report = reconcile(session, get_job_queue())
    if not report.skipped_locked:
        record_reconcile(get_redis(), len(report.enqueued), len(report.gave_up))
    return report


def run_forever(interval: float, stop: threading.Event) -> None:
    """A pass every `interval` seconds until `stop` is set; a failed pass (the database or
    Redis away) is logged, and the next one tries again. The heartbeat says the loop turns,
    not that passes succeed: restarting the process would not bring a database back."""
    log.info("reconciler started: a pass every %s s", interval)
    while not stop.is_set():
        HEARTBEAT_FILE.touch()
        try:
            reconcile_once()
        except Exception:
            log.exception("reconciler pass failed; the next one retries")
        stop.wait(interval)
    log.info("reconciler stopped")


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


# Closed events past their retention: their own days, else the platform's (if any).
_PAST_RETENTION = text(
    """
SELECT id FROM events
WHERE status = 'closed'
  AND closed_at
      + make_interval(days => coalesce(retention_days, CAST(:default_days AS int))) < now()
ORDER BY closed_at LIMIT :limit
FOR UPDATE SKIP LOCKED
"""
)


def _start_retention_deletions(session: Session) -> list[str]:
    """Mark closed events past their retention `deleting` and enqueue their deletion after
    the commit, as their photographer's DELETE does; the audit log names the rule."""
    from api.events.service import request_deletion

    params = {"default_days": settings.EVENT_RETENTION_DAYS, "limit": BATCH}
    due = session.connection().execute(_PAST_RETENTION, params).scalars().all()
    enqueued = []
    for event_id in due:
        event = session.get(Event, event_id)
        assert event is not None  # locked by the query above
        enqueued.append(request_deletion(session, event, "retention").job_id)
    return enqueued


def _close_idle_events(session: Session) -> None:
    """Close open events idle past their auto-close days, as their photographer would:
    the purge of bystanders' encodings then always comes."""
    from api.events.repository import events_to_close
    from api.events.service import close_event

    for event_id in events_to_close(session, utcnow())[:BATCH]:
        event = session.get(Event, event_id, with_for_update=True)
        if event is not None and event.status == EventStatus.open:
            close_event(session, event, actor="auto_close")
            log.info("closed event %s: idle past its auto-close days", event_id)


def _enqueue_idle(jobs: queue.JobQueue, specs: list[queue.JobSpec]) -> list[str]:
    """Enqueue each job not already queued or running; the ids enqueued."""
    enqueued = []
    active = jobs.active([spec.job_id for spec in specs])
    for spec in specs:
        if spec.job_id not in active:
            jobs.enqueue(spec)
            enqueued.append(spec.job_id)
    return enqueued


def _give_up(row: Photo | Selfie | FaceOptOut) -> None:
    """After the last attempt: a failed photo, or a selfie (or an opt-out's) the person is
    asked to redo."""
    if isinstance(row, Photo):
        row.status = PhotoStatus.failed
        row.error = f"gave up after {row.attempts} attempts"
    elif isinstance(row, FaceOptOut):
        row.status = OptOutStatus.rejected
        row.reason = "processing_failed"
        row.detail = "we could not process this request; please try again"
    else:
        row.status = SelfieStatus.rejected
        row.reason = "processing_failed"
        row.detail = "we could not process this selfie; please upload another"
    row.updated_at = utcnow()
