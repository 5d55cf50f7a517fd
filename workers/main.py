"""The worker process: load the models once, then run RQ's forking work loop.

Run it as PID 1 in its container (`facematch worker` execs into it), so
SIGTERM reaches RQ and triggers a warm shutdown: the current job finishes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import signal
import socket
import sys
import uuid

from core.process import PR_SET_PDEATHSIG, prctl
from core.queue import DIGESTS, EMAILS, JOB_HEARTBEAT_SECONDS, QUEUE_NAMES
from workers.probe import HEARTBEAT_FILE, is_alive

log = logging.getLogger("workers")

MAINTENANCE_INTERVAL = 15
"""Seconds between RQ's maintenance passes, in which a worker takes over the scheduler lock
of a dead one once the lock expires (61 s after its holder's last beat): RQ's 600 s default
left retries unscheduled for up to 13 minutes. Retries overdue meanwhile are the
reconciler's (`JobQueue.release_overdue`); this only brings RQ's own scheduler back."""
WORKER_TTL = 35
"""Seconds RQ keeps an idle worker's record alive; an idle worker waits on the queues for
this less 15 s (20 s), then beats and runs its maintenance if due. RQ's 420 s meant an idle
worker beat, and so touched the liveness file, every 405 s: past the probe's 120 s."""
EXIT_MODELS_MISSING = 3
"""Exit status when the face models cannot be loaded."""


def children_die_with_this_process() -> None:
    """Every process forked from here on (work horses, RQ's scheduler) gets SIGKILL when
    this one dies, as in a container whose PID 1 dies. Without it a killed worker leaves
    an orphaned horse still running a job that RQ already counts as abandoned, and an
    orphaned scheduler still holding its lock."""
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    os.register_at_fork(after_in_child=in_child)


def _tiny_jpeg() -> bytes:
    """A 2x2 JPEG, enough to make Pillow import and set up its decoders."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, "JPEG")
    return buffer.getvalue()


def warm_up() -> None:
    """Do once, before forking, what every work horse would otherwise redo per job.

    A horse starts from the parent's memory: whatever the parent has not imported
    or initialised, each job pays for again (measured: half of a selfie job's
    time was the database driver's and Pillow's lazy imports). No connection may
    cross the fork, so the engine's pool is emptied again afterwards.
    """
    from sqlalchemy.orm import configure_mappers

    from core.db import get_engine
    from workers import faces

    configure_mappers()
    engine = get_engine()
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:  # the database may come up later; jobs connect themselves
        log.warning("database not reachable while warming up: %s", exc)
    finally:
        engine.dispose()
    with contextlib.suppress(faces.InvalidImage):
        faces.decode(_tiny_jpeg())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facematch worker")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--check", action="store_true", help="load the models, then exit")
    parser.add_argument(
        "--queues",
        default=",".join(QUEUE_NAMES),
        help="comma-separated, highest priority first (default: %(default)s)",
    )
    parser.add_argument("--name", default=None, help="worker name (default: host.pid)")
    parser.add_argument(
        "--alive",
        type=float,
        metavar="SECONDS",
        help="probe: exit 0 if the worker's heartbeat is younger than SECONDS",
    )
    parser.add_argument("--log-level", default=os.environ.get("FACEMATCH_LOG_LEVEL", "INFO"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.alive is not None:
        return 0 if is_alive(args.alive) else 1  # normally served by workers/probe.py
    from core.config import settings
    from core.logs import configure

    configure(args.log_level, settings.LOG_FORMAT, library_level=settings.LIBRARY_LOG_LEVEL)

    from workers import bibs, faces

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = set(queues) - set(QUEUE_NAMES)
    if unknown:
        parser.error(f"unknown queues: {', '.join(sorted(unknown))}")
    # A mail-only worker (`--queues emails,digests`) needs no face models.
    face_work = not set(queues) <= {EMAILS, DIGESTS}
    try:
        if face_work:
            faces.load_models(cnn=settings.DETECTOR == "cnn")
            bibs.reader()  # any event may turn bib reading on
    except (faces.ModelsMissing, bibs.ModelFileError) as exc:
        print(f"facematch worker: {exc}", file=sys.stderr)
        return EXIT_MODELS_MISSING
    if args.check:
        print("facematch worker: face models loaded")
        return 0

    from rq.serializers import JSONSerializer

    # Import the jobs' code here, once: RQ forks a work horse per job, and a module
    # first imported in the horse is imported again for every job (seconds, here).
    import workers.tasks  # noqa: F401
    from core.process import set_process_role
    from core.redis import get_redis
    from workers.worker import FacematchWorker

    set_process_role("worker")
    warm_up()
    HEARTBEAT_FILE.touch()
    children_die_with_this_process()
    worker = FacematchWorker(
        queues,
        connection=get_redis(),
        serializer=JSONSerializer,
        name=args.name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}",
        maintenance_interval=MAINTENANCE_INTERVAL,
        worker_ttl=WORKER_TTL,
        # A running job's heartbeat: the reconciler counts a job silent for
        # ABANDONED_SECONDS as lost (its worker died), instead of RQ's 90 s and more.
        job_monitoring_interval=JOB_HEARTBEAT_SECONDS,
    )
    # RQ sets its own loggers to this level: the library level, as configure() does.
    worker.work(with_scheduler=True, burst=args.burst, logging_level=settings.LIBRARY_LOG_LEVEL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
