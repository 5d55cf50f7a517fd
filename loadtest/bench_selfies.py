"""Selfie verdicts on a big event: a real local stack, 8 workers, 200,000 faces.

    uv run python -m loadtest.bench_selfies                           # make bench-selfies
    uv run python -m loadtest.bench_selfies --faces 20000 --burst 40  # quicker

The event holds `--faces` synthetic faces (loadtest/synthetic.py, with their nearest
attendees built in bulk) and the real photos of `identities.csv`'s people; the workers
keep big events' faces in memory (FACEMATCH_FACE_CACHE_MAX_FACES, as the chart's
interactive pool does). Then:

- **idle**, cold then warm: one attendee at a time uploads a selfie, a real photo of someone in the
  event's real photos. Timed three ways: the verdict from the selfie row's own
  timestamps (upload to judged and encoded, before the matching step); "until judged",
  upload to the API showing the verdict, which is committed with the matches; and
  "until my photos show", by polling the API.
  Each attendee deletes their face data afterwards, so that the next one with the same
  face is not its twin. Cold: the first selfies of the event, while the workers load
  its faces into memory one after the other; warm: WARM_AFTER seconds later.
- **burst**: `--burst` attendees, registered beforehand, upload their selfies at once
  from 8 threads while the photographer uploads photos. Verdicts per second from the
  first upload to the last verdict; and the event's matching lock, sampled every 50 ms:
  how many transactions were waiting for it.

Results go to loadtest/results/bench_selfies.json; one table is printed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest import datasets, synthetic
from loadtest.chaos import Client, _build_nearest
from loadtest.stack import Stack, local_stack

ENV = {
    "FACEMATCH_FACE_CACHE_MAX_FACES": "1000000",
    "FACEMATCH_LOG_FORMAT": "json",
}
WARM_AFTER = 60
"""Seconds after the cold runs: every worker has loaded the event's faces by then."""
LOCK_WAITERS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND classid = 26221"  # core.db's matching-lock namespace, 0x666D
)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_s": round(statistics.median(values), 3), "p95_s": _p(values, 0.95),
            "max_s": round(max(values), 3)}  # fmt: skip


class Attendee:
    def __init__(self, client: Client, event: dict[str, Any], email: str) -> None:
        self.http = requests.Session()
        self.base = client.base
        self.headers = client.join(event["code"], email)

    def upload(self, selfie: bytes) -> str:
        files = {"file": ("selfie.jpg", selfie, "image/jpeg")}
        url = f"{self.base}/api/upload-selfie"
        response = self.http.post(url, headers=self.headers, files=files, timeout=60)
        response.raise_for_status()
        return str(response.json()["selfie_id"])

    def get(self, path: str) -> Any:
        response = self.http.get(f"{self.base}{path}", headers=self.headers, timeout=60)
        response.raise_for_status()
        return response.json()

    def leave(self) -> None:
        self.http.delete(f"{self.base}/api/me/face-data", headers=self.headers, timeout=60)


def _wait(predicate: Any, timeout: float, what: str, every: float = 0.02) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{what}: not within {timeout} s")
        time.sleep(every)
    return time.monotonic() - started


def _verdict_seconds(url: str, selfie_ids: list[str]) -> list[float]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT extract(epoch FROM updated_at - created_at) FROM selfies"
            " WHERE id = ANY(%s) AND status <> 'pending'",
            ([uuid.UUID(s) for s in selfie_ids],),
        ).fetchall()
    return [float(r[0]) for r in rows]


def prepare(stack: Stack, faces: int) -> tuple[Client, dict[str, Any], dict[str, bytes]]:
    """The event: synthetic faces and their nearest attendees, then the real photos."""
    client = Client(stack)
    event = client.create_event("bench selfies")
    url = (stack.data_dir / "postgres.url").read_text().strip()
    started = time.monotonic()
    synthetic.load_event(url, uuid.UUID(event["id"]), photos=faces // 20, faces_per_photo=20,
                         attendees=faces // 40)  # fmt: skip
    _build_nearest(url, event["id"])
    print(f"  {faces:,} synthetic faces loaded in {time.monotonic() - started:.0f} s", flush=True)
    people = {name: paths for name, paths in datasets.identities().items() if len(paths) >= 2}
    selfies = {name: datasets.jpeg(datasets.upright(paths[0])) for name, paths in people.items()}
    photos = [(Path(p).name, (datasets.FACES / p).read_bytes())
              for paths in people.values() for p in paths[1:]]  # fmt: skip
    photos += [(Path(p).name, (datasets.FACES / p).read_bytes()) for p in datasets.GROUPS]
    expected = client.progress(event)["photos_total"]
    for start in range(0, len(photos), 10):
        files = [("files", (name, data, "image/jpeg")) for name, data in photos[start : start + 10]]
        response = client.http.post(f"{client.base}/api/events/{event['id']}/photos",
                                    files=files, headers=client.headers, timeout=120)  # fmt: skip
        response.raise_for_status()
        expected += response.json()["accepted"]  # a file in two lists is one photo

    def indexed() -> bool:
        progress = client.progress(event)
        return progress["photos_indexed"] + progress["photos_failed"] >= expected

    _wait(indexed, 600, "indexing the real photos", every=0.5)
    return client, event, selfies


def idle(stack: Stack, client: Client, event: dict[str, Any], selfies: dict[str, bytes],
         runs: int, tag: str) -> dict[str, Any]:  # fmt: skip
    url = (stack.data_dir / "postgres.url").read_text().strip()
    names = list(selfies)
    verdicts, judged, shown = [], [], []
    for run in range(runs):
        attendee = Attendee(client, event, f"idle-{tag}-{run}@example.com")
        started = time.monotonic()
        selfie_id = attendee.upload(selfies[names[run % len(names)]])
        _wait(lambda a=attendee: a.get("/api/me/selfie")["status"] != "pending", 120, "a verdict")
        judged.append(time.monotonic() - started)
        _wait(lambda a=attendee: a.get("/api/me/photos")["count"] > 0, 30, "my photos")
        shown.append(time.monotonic() - started)
        verdicts += _verdict_seconds(url, [selfie_id])
        attendee.leave()  # its selfie rows go with its face data
    return {
        "runs": runs,
        "verdict": _summary(verdicts),
        "until_judged": _summary(judged),
        "until_my_photos_show": _summary(shown),
        "each_until_judged_s": [round(j, 2) for j in judged],
    }


def burst(stack: Stack, client: Client, event: dict[str, Any], selfies: dict[str, bytes],
          count: int) -> dict[str, Any]:  # fmt: skip
    url = (stack.data_dir / "postgres.url").read_text().strip()
    names = list(selfies)
    with ThreadPoolExecutor(4) as pool:  # argon2 hashing: registration is paced by the API
        attendees = list(pool.map(lambda n: Attendee(client, event, f"burst-{n}@example.com"),
                                  range(count)))  # fmt: skip
    waiting: list[int] = []
    done = threading.Event()

    def sample_lock() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            while not done.is_set():
                waiting.append(connection.execute(LOCK_WAITERS).fetchone()[0])  # type: ignore[index]
                time.sleep(0.05)

    def photographer() -> None:
        photos = [(Path(p).name, (datasets.FACES / p).read_bytes()) for p in datasets.GROUPS]
        for n in itertools.count():
            if done.is_set():
                return
            files = [("files", (name, datasets.tagged(data, f"burst-{n}"), "image/jpeg"))
                     for name, data in photos]  # fmt: skip
            client.http.post(f"{client.base}/api/events/{event['id']}/photos", files=files,
                             headers=client.headers, timeout=120)  # fmt: skip
            time.sleep(2)

    threads = [threading.Thread(target=sample_lock), threading.Thread(target=photographer)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        selfie_ids = list(pool.map(lambda n: attendees[n].upload(selfies[names[n % len(names)]]),
                                   range(count)))  # fmt: skip
    uploaded = time.monotonic() - started

    def judged() -> bool:
        return len(_verdict_seconds(url, selfie_ids)) == count

    _wait(judged, 1800, "the burst's verdicts", every=0.2)
    elapsed = time.monotonic() - started
    done.set()
    for thread in threads:
        thread.join()
    with psycopg.connect(url) as connection:
        photos_indexed = connection.execute(
            "SELECT count(*) FROM photos WHERE event_id = %s"
            " AND indexed_at >= now() - %s * interval '1 second'",
            (uuid.UUID(event["id"]), elapsed),
        ).fetchone()[0]  # type: ignore[index]
    return {
        "selfies": count,
        "uploaded_in_s": round(uploaded, 1),
        "all_judged_in_s": round(elapsed, 1),
        "verdicts_per_s": round(count / elapsed, 2),
        "photos_indexed_meanwhile": photos_indexed,
        "verdict": _summary(_verdict_seconds(url, selfie_ids)),
        "lock_waiters": {
            "mean": round(statistics.mean(waiting), 3),
            "max": max(waiting),
            "samples": len(waiting),
            "share_with_a_waiter": round(sum(1 for w in waiting if w) / len(waiting), 3),
        },
    }


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # so that the stack is stopped on SIGTERM too


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=20, help="idle selfies, one at a time")
    parser.add_argument("--burst", type=int, default=160, help="selfies uploaded at once")
    args = parser.parse_args()
    if not datasets.FACES.is_dir():
        print(f"face photos not found at {datasets.FACES}", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"faces": args.faces, "workers": args.workers}
    with local_stack(args.workers, env=ENV) as stack:
        print(f"== {args.faces:,} faces, {args.workers} workers: preparing ...", flush=True)
        client, event, selfies = prepare(stack, args.faces)
        print("== idle, cold: one selfie at a time ...", flush=True)
        result["cold"] = idle(stack, client, event, selfies, args.runs, "cold")
        print(json.dumps(result["cold"]), flush=True)
        time.sleep(WARM_AFTER)
        print("== idle, warm: one selfie at a time ...", flush=True)
        result["idle"] = idle(stack, client, event, selfies, args.runs, "warm")
        print(json.dumps(result["idle"]), flush=True)
        print(f"== burst: {args.burst} selfies at once, photos uploading ...", flush=True)
        result["burst"] = burst(stack, client, event, selfies, args.burst)
        print(json.dumps(result["burst"]), flush=True)
    c, i, b = result["cold"], result["idle"], result["burst"]
    print(
        "| event | workers | idle, warm: verdict / until judged / until my photos show, p50 and"
        " p95 | idle, cold: until judged | burst: verdicts per s | burst verdict p50 / p95 |"
        " lock waiters mean / max |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {args.faces:,} faces | {args.workers}"
        f" | {i['verdict']['p50_s']} / {i['verdict']['p95_s']} s,"
        f" {i['until_judged']['p50_s']} / {i['until_judged']['p95_s']} s,"
        f" {i['until_my_photos_show']['p50_s']} / {i['until_my_photos_show']['p95_s']} s"
        f" | {c['until_judged']['p50_s']} / {c['until_judged']['p95_s']} s"
        f" | {b['verdicts_per_s']} ({b['selfies']} in {b['all_judged_in_s']} s)"
        f" | {b['verdict']['p50_s']} / {b['verdict']['p95_s']} s"
        f" | {b['lock_waiters']['mean']} / {b['lock_waiters']['max']} |"
    )
    out = Path(__file__).parent / "results" / "bench_selfies.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
