"""The registry of RQ jobs: every job a queue names is `workers.tasks.<name>`.

RQ keeps these names in Redis across deploys (a job queued before a deploy runs after
it), so they stay here, whatever module a job lives in (workers/jobs/, by domain).
core/queue.py builds the specs that name them; tests/workers/test_tasks.py checks that
every one resolves to a job here.
"""

from __future__ import annotations

from workers.jobs.bibs import read_bibs
from workers.jobs.common import RowGone
from workers.jobs.deletion import delete_event, forget_attendee
from workers.jobs.events import (
    preview_tolerance,
    purge_unmatched_faces,
    rematch_attendee,
    rematch_event,
    sweep_previews,
)
from workers.jobs.mail import send_email, send_emails
from workers.jobs.optouts import judge_opt_out
from workers.jobs.photos import index_photo, rematch_photo, restore_match
from workers.jobs.selfies import release_selfie, validate_selfie
from workers.jobs.webhooks import deliver_webhooks

__all__ = [
    "RowGone",
    "delete_event",
    "deliver_webhooks",
    "forget_attendee",
    "index_photo",
    "judge_opt_out",
    "preview_tolerance",
    "purge_unmatched_faces",
    "read_bibs",
    "release_selfie",
    "rematch_attendee",
    "rematch_event",
    "rematch_photo",
    "restore_match",
    "send_email",
    "send_emails",
    "sweep_previews",
    "validate_selfie",
]
