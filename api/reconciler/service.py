"""The reconciler's pass (`reconcile`) and its loop (`run_forever`); its queries are
`repository`'s, and what it does about each finding is the owning feature's service."""

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

from sqlmodel import Session

from api.auth.service import purge_ended_sessions
from api.bibs import service as bibs
from api.digests.service import queue_digests
from api.events import service as events
from api.mail import service as mail
from api.reconciler import repository
from api.reviews.service import queue_notices
from api.signin.service import purge_expired
from core import queue
from core.config import settings
from core.db import session_scope
from core.metrics import record_reconcile
from core.models import (
    EventStatus,
    FaceOptOut,
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


WEBHOOK_LOG_DAYS = 30
"""A delivered or given-up webhook delivery stays in the studio's log this long."""


def reconcile(
    session: Session,
    jobs: queue.JobQueue,
    *,
    stale_after: timedelta | None = None,
    max_attempts: int | None = None,
) -> Report:
    """One pass. Only one process at a time does it: the others skip on the advisory lock."""
    report = Report()
    if not repository.try_lock(session):
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

    owed = repository.rematches_owed(session, cutoff)
    report.enqueued += _enqueue_idle(jobs, [queue.rematch_event(event_id) for event_id in owed])
    deleting = repository.deletions_owed(session, cutoff)
    report.enqueued += _enqueue_idle(jobs, [queue.delete_event(e) for e in deleting])
    report.enqueued += _start_retention_deletions(session)
    hooks = repository.webhooks_due(session)
    report.enqueued += _enqueue_idle(jobs, [queue.deliver_webhooks(e) for e in hooks])
    repository.purge_webhook_log(session, utcnow() - timedelta(days=WEBHOOK_LOG_DAYS))
    sweeps = repository.sweeps_owed(session)
    report.enqueued += _enqueue_idle(jobs, [queue.sweep_previews(e) for e in sweeps])
    _close_idle_events(session)
    forgets = repository.forgets_owed(session, cutoff)
    report.enqueued += _enqueue_idle(jobs, [queue.forget_attendee(a) for a in forgets])
    report.enqueued += _enqueue_purges(session, jobs)
    report.enqueued += _enqueue_bib_reads(session, jobs, cutoff)
    report.enqueued += mail.requeue_lost(session, jobs, older_than=stale_after, limit=BATCH)
    report.digests = queue_digests(session)
    report.notices = queue_notices(session)
    purge_expired(session)
    bibs.purge_expired(session)
    mail.purge_sent(session)
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
        rows = repository.stale(session, model, owed, cutoff, after, BATCH)
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
    due = repository.purges_owed(session, closed_before)
    return _enqueue_idle(jobs, [queue.purge_unmatched_faces(event_id) for event_id in due])


def _enqueue_bib_reads(session: Session, jobs: queue.JobQueue, cutoff: datetime) -> list[str]:
    """A read for every indexed photo owed one (its event turned bib reading on after it
    was indexed), a batch at a time, skipping those already queued."""
    enqueued: list[str] = []
    after: tuple[datetime, uuid.UUID] | None = None
    while rows := repository.bib_reads_owed(session, cutoff, after, BATCH):
        after = rows[-1]
        enqueued += _enqueue_idle(jobs, [queue.read_bibs(photo_id) for _, photo_id in rows])
    return enqueued


def _start_retention_deletions(session: Session) -> list[str]:
    """Mark closed events past their retention `deleting` and enqueue their deletion after
    the commit, as their photographer's DELETE does; the audit log names the rule."""
    due = repository.past_retention(session, settings.EVENT_RETENTION_DAYS, BATCH)
    enqueued = []
    for event_id in due:
        event = events.get_event(session, event_id)
        assert event is not None  # locked by the query above
        enqueued.append(events.request_deletion(session, event, "retention").job_id)
    return enqueued


def _close_idle_events(session: Session) -> None:
    """Close open events idle past their auto-close days, as their photographer would:
    the purge of bystanders' encodings then always comes."""
    for event_id in events.events_to_close(session)[:BATCH]:
        event = events.get_event_for_update(session, event_id)
        if event is not None and event.status == EventStatus.open:
            events.close_event(session, event, actor="auto_close")
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
