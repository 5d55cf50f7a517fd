"""`make loadtest`: Locust headless against a throwaway stack (or TARGET), plus the queue side.

    uv run python -m loadtest.run --users 300 --spawn-rate 10 --duration 5m --workers 2
    uv run python -m loadtest.run --target https://facematch.example.com \\
        --admin-email ... --admin-password ...

While Locust runs, a sampler reads the queue depths every second from
`/api/admin/queues` and, for a local stack, the RSS of the API and worker
processes. Afterwards `/api/admin/throughput` gives selfie-to-matches latency
and photos indexed per second over the run. Everything lands in
`loadtest/results/<time>-u<users>/`; one summary is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from loadtest.stack import Stack, local_stack
from workers.worker import HORSE_NAME

HERE = Path(__file__).parent
RESULTS = HERE / "results"
SAMPLE_SECONDS = 1.0
TARGET_MS = 250
"""p95 target for register and upload-selfie (issue 5)."""
SELFIE_TARGET_MS = 2000
STARTUP_SECONDS = 30
"""Processes first seen after this are counted as started during the run."""
ROLES = ("api", "worker", "horse")


@dataclass
class Peaks:
    """What the sampler saw during the run."""

    queue_depth: dict[str, int] = field(default_factory=dict)
    api_rss_mib: float = 0.0
    worker_rss_mib: float = 0.0
    """Largest worker process or work horse."""
    samples: list[dict[str, Any]] = field(default_factory=list)
    pids: dict[str, Counter[int]] = field(
        default_factory=lambda: {"api": Counter(), "worker": Counter()}
    )
    """How many samples saw each long-lived (API and worker) process."""
    early_pids: dict[str, set[int]] = field(default_factory=dict)
    """Those seen in the first STARTUP_SECONDS (RQ's scheduler starts after the models load)."""

    def restarted(self) -> dict[str, int]:
        """Processes started during the run: a crashed one comes back as a new one.

        A pid seen once is not counted: a work horse sampled between its fork and
        taking its name looks like a worker process for that one sample.
        """
        started = {}
        for role, pids in self.pids.items():
            early = self.early_pids.get(role, set())
            started[role] = sum(1 for pid, seen in pids.items() if seen > 1 and pid not in early)
        return started


def role_of(process: psutil.Process) -> str | None:
    """api (uvicorn and its children), horse (a job's forked process), worker (the rest of
    the workers' processes, which live as long as the worker: itself and RQ's scheduler)."""
    try:
        cmdline = " ".join(process.cmdline())
        parent = process.parent()
        parent_cmdline = " ".join(parent.cmdline()) if parent else ""
        name = process.name()
    except psutil.Error:
        return None
    if "uvicorn" in cmdline or "uvicorn" in parent_cmdline:
        return "api"
    if "-m workers" in cmdline:
        return "horse" if name == HORSE_NAME.decode() else "worker"
    return None


def rss_by_role(supervisor: int) -> dict[str, tuple[float, float, list[int]]]:
    """Per role: total RSS, largest single process (MiB) and the pids, of the stack's processes."""
    found: dict[str, tuple[float, float, list[int]]] = {}
    try:
        children = psutil.Process(supervisor).children(recursive=True)
    except psutil.Error:
        return found
    for child in children:
        if (role := role_of(child)) is None:
            continue
        try:
            rss = child.memory_info().rss / 2**20
        except psutil.Error:
            continue
        total, largest, pids = found.get(role, (0.0, 0.0, []))
        found[role] = (total + rss, max(largest, rss), [*pids, child.pid])
    return found


class Sampler(threading.Thread):
    def __init__(self, base: str, token: str, supervisor: int | None) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self.supervisor = supervisor
        self.peaks = Peaks()
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(SAMPLE_SECONDS):
            sample: dict[str, Any] = {"t": round(time.monotonic() - started, 1)}
            try:
                depths = self.client.get("/api/admin/queues").raise_for_status().json()["queues"]
            except (httpx.HTTPError, KeyError, ValueError):
                depths = {}
            for name, depth in depths.items():
                sample[f"queue_{name}"] = depth
                self.peaks.queue_depth[name] = max(self.peaks.queue_depth.get(name, 0), depth)
            if self.supervisor is not None:
                self.record_rss(sample, rss_by_role(self.supervisor))
            self.peaks.samples.append(sample)

    def record_rss(
        self, sample: dict[str, Any], rss: dict[str, tuple[float, float, list[int]]]
    ) -> None:
        for role, (total, largest, pids) in rss.items():
            # The API and worker processes live all run: their total is what may leak.
            # Work horses live one job each: the largest is what one job costs.
            sample[f"{role}_rss_mib"] = round(largest if role == "horse" else total, 1)
            self.peaks.pids.get(role, Counter()).update(pids)
            if sample["t"] < STARTUP_SECONDS:
                self.peaks.early_pids.setdefault(role, set()).update(pids)
        single = {role: v[1] for role, v in rss.items()}
        self.peaks.api_rss_mib = max(self.peaks.api_rss_mib, single.get("api", 0.0))
        self.peaks.worker_rss_mib = max(
            self.peaks.worker_rss_mib, single.get("worker", 0.0), single.get("horse", 0.0)
        )


@dataclass(frozen=True)
class Growth:
    """A role's RSS after warm-up against the end of the run (medians of two windows)."""

    role: str
    start_mib: float
    end_mib: float

    @property
    def percent(self) -> float:
        return (self.end_mib / self.start_mib - 1) * 100 if self.start_mib else 0.0


def rss_growth(samples: list[dict[str, Any]]) -> list[Growth]:
    """Median RSS per role in a window after warm-up and in the last window.

    Warm-up is the first fifth of the run (pools fill, models and caches load);
    each window is a sixth of it, at least a minute. For a 30 min soak: minutes
    6-11 against 25-30.
    """
    if not samples:
        return []
    length = samples[-1]["t"]
    window = max(60.0, length / 6)
    warm = length / 5
    out = []
    for role in ROLES:
        key = f"{role}_rss_mib"
        early = [s[key] for s in samples if key in s and warm <= s["t"] < warm + window]
        late = [s[key] for s in samples if key in s and s["t"] > length - window]
        if early and late:
            out.append(Growth(role, statistics.median(early), statistics.median(late)))
    return out


def failures_by_status(path: Path) -> dict[str, int]:
    """Locust's failures counted as 5xx, 4xx, connection (no answer) and other (content)."""
    counts = {"5xx": 0, "4xx": 0, "connection": 0, "other": 0}
    if not path.is_file():
        return counts
    with path.open() as f:
        for row in csv.DictReader(f):
            # `scenarios.checked` writes "<status>: <body>"; Locust may wrap it in a repr.
            match = re.search(r"(?<![0-9])([0-9]{1,3}): ", row["Error"])
            status = int(match.group(1)) if match else -1
            kind = (
                "5xx" if 500 <= status < 600
                else "4xx" if 400 <= status < 500
                else "connection" if status == 0 or "Connection" in row["Error"]
                else "other"
            )  # fmt: skip
            counts[kind] += int(row["Occurrences"])
    return counts


def admin_token(base: str, email: str, password: str) -> str:
    response = httpx.post(
        f"{base}/api/auth/token", data={"username": email, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def locust_stats(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def summarize(
    stats: list[dict[str, str]],
    throughput: dict[str, Any],
    peaks: Peaks,
    failures: dict[str, int],
    args: argparse.Namespace,
) -> tuple[str, dict[str, Any]]:
    """The printed summary and its JSON twin."""
    lines = [
        f"facematch load test: {args.users} users, spawn {args.spawn_rate}/s, {args.duration}, "
        f"{args.workers} workers, {args.target or 'local stack'}",
        "",
        f"{'request':42s} {'reqs':>7s} {'fails':>6s} {'req/s':>7s} "
        f"{'p50':>6s} {'p95':>6s} {'p99':>6s} {'max':>7s}",
    ]
    rows = []
    for row in stats:
        name = row["Name"] if row["Type"] in ("", "FLOW") else f"{row['Type']} {row['Name']}"
        rows.append(
            {
                "name": row["Name"],
                "type": row["Type"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50_ms": float(row["50%"] or 0),
                "p95_ms": float(row["95%"] or 0),
                "p99_ms": float(row["99%"] or 0),
                "max_ms": float(row["Max Response Time"] or 0),
            }
        )
        r = rows[-1]
        lines.append(
            f"{name[:42]:42s} "
            f"{r['requests']:7d} {r['failures']:6d} {r['rps']:7.1f} {r['p50_ms']:6.0f} "
            f"{r['p95_ms']:6.0f} {r['p99_ms']:6.0f} {r['max_ms']:7.0f}"
        )
    queue = throughput
    lines += [
        "",
        "queue side (/api/admin/throughput over the run):",
        f"  selfie to matches   p50 {queue.get('selfie_p50_ms')} ms, "
        f"p95 {queue.get('selfie_p95_ms')} ms, max {queue.get('selfie_max_ms')} ms "
        f"over {queue.get('selfies_done')} selfies"
        f" ({queue.get('selfies_waiting')} still waiting)",
        f"  photos indexed      {queue.get('photos_indexed')} "
        f"({queue.get('photos_indexed_per_second')}/s), {queue.get('faces_found')} faces, "
        f"{queue.get('photos_waiting')} still queued, {queue.get('photos_failed')} failed",
        f"  max queue depth     {json.dumps(peaks.queue_depth)}",
    ]
    lines.append(
        "  failures            " + ", ".join(f"{n} {kind}" for kind, n in failures.items())
    )
    growth = rss_growth(peaks.samples)
    if peaks.api_rss_mib:
        lines += [
            f"  peak RSS            API {peaks.api_rss_mib:.0f} MiB, "
            f"worker {peaks.worker_rss_mib:.0f} MiB (largest single process)",
            "  started during run  "
            + ", ".join(f"{n} {role}" for role, n in peaks.restarted().items())
            + " (a crashed process comes back as a new one)",
        ]
        lines += [
            f"  RSS {g.role:16s}{g.start_mib:7.1f} MiB after warm-up, {g.end_mib:7.1f} MiB "
            f"at the end ({g.percent:+.1f}%)"
            + (" (all API processes)" if g.role == "api" else "")
            + (" (all worker processes)" if g.role == "worker" else "")
            + (" (largest work horse)" if g.role == "horse" else "")
            for g in growth
        ]
    verdicts = targets(rows, queue, failures, growth, args.max_rss_growth)
    lines += ["", "targets:"] + [f"  {v}" for v in verdicts]
    summary = {
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "duration": args.duration,
        "workers": args.workers,
        "target": args.target,
        "requests": rows,
        "queue": queue,
        "max_queue_depth": peaks.queue_depth,
        "api_peak_rss_mib": round(peaks.api_rss_mib, 1),
        "worker_peak_rss_mib": round(peaks.worker_rss_mib, 1),
        "failures": failures,
        "rss_growth": [
            {"role": g.role, "start_mib": g.start_mib, "end_mib": g.end_mib, "percent": g.percent}
            for g in growth
        ],
        "processes_started_during_run": peaks.restarted(),
        "targets": verdicts,
    }
    return "\n".join(lines), summary


def targets(
    rows: list[dict[str, Any]],
    queue: dict[str, Any],
    failures: dict[str, int],
    growth: list[Growth],
    max_growth: float | None,
) -> list[str]:
    """The load test's (issue 5) and the soak's (issue 7) targets, each with its value."""
    by_name = {r["name"]: r for r in rows}
    out = []
    total = by_name.get("Aggregated")
    if total:
        ok = total["failures"] == 0
        out.append(f"{'met ' if ok else 'MISS'} 0 failures: {total['failures']}")
    out.append(f"{'met ' if failures['5xx'] == 0 else 'MISS'} no 5xx: {failures['5xx']}")
    if max_growth is not None:
        out += [
            f"{'met ' if g.percent < max_growth else 'MISS'} {g.role} RSS growth < "
            f"{max_growth:g}%: {g.percent:+.1f}%"
            for g in growth
        ]
    for name in ("[Attendee] register", "[Attendee] upload selfie"):
        if name in by_name:
            p95 = by_name[name]["p95_ms"]
            out.append(
                f"{'met ' if p95 < TARGET_MS else 'MISS'} {name} p95 < {TARGET_MS} ms: {p95:.0f}"
            )
    p95 = queue.get("selfie_p95_ms")
    if p95 is not None:
        ok = p95 < SELFIE_TARGET_MS
        out.append(
            f"{'met ' if ok else 'MISS'} selfie to matches p95 < {SELFIE_TARGET_MS} ms: {p95:.0f}"
        )
    return out


def run_locust(base: str, email: str, password: str, out: Path, args: argparse.Namespace) -> int:
    env = dict(
        os.environ,
        LOADTEST_ADMIN_EMAIL=email,
        LOADTEST_ADMIN_PASSWORD=password,
        LOADTEST_RUN_ID=uuid.uuid4().hex[:8],
        LOADTEST_PHOTOS=str(args.photos),
        LOADTEST_PHOTO_INTERVAL=str(args.photo_interval),
        LOADTEST_ATTENDEE_VISITS=str(args.attendee_visits),
    )
    command = [
        sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
        "--host", base, "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration,
        "--csv", str(out / "locust"), "--html", str(out / "report.html"),
        "--json-file", str(out / "locust"), "--only-summary", "--stop-timeout", "10",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    with (out / "locust.log").open("w") as log:
        return subprocess.call(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", default="5m")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (local stack)")
    parser.add_argument("--photos", type=int, default=1000, help="photos the photographer uploads")
    parser.add_argument(
        "--photo-interval", type=float, default=1.0, help="seconds between photographer requests"
    )
    parser.add_argument(
        "--attendee-visits",
        type=int,
        default=0,
        help="looks at 'my photos' before an attendee deletes their face data and a new one "
        "arrives (0: attendees stay)",
    )
    parser.add_argument(
        "--max-rss-growth",
        type=float,
        default=None,
        help="a target: percent RSS growth per role from after warm-up to the end (the soak)",
    )
    parser.add_argument("--target", default="", help="base URL of a running stack")
    parser.add_argument("--admin-email", default=os.environ.get("LOADTEST_ADMIN_EMAIL", ""))
    parser.add_argument("--admin-password", default=os.environ.get("LOADTEST_ADMIN_PASSWORD", ""))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results / f"{stamp}-u{args.users}{'-soak' if args.max_rss_growth else ''}"
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if args.target:
            if not args.admin_email:
                parser.error("--target needs --admin-email and --admin-password")
            base, email, password, supervisor = (
                args.target.rstrip("/"), args.admin_email, args.admin_password, None
            )  # fmt: skip
        else:
            print(f"starting a local stack with {args.workers} workers ...", flush=True)
            local: Stack = stack.enter_context(local_stack(args.workers))
            base, email, password = local.base, local.admin_email, local.admin_password
            supervisor = local.pid
        token = admin_token(base, email, password)
        sampler = Sampler(base, token, supervisor)
        since = datetime.now(UTC)
        sampler.start()
        print(f"locust: {args.users} users for {args.duration} against {base} ...", flush=True)
        code = run_locust(base, email, password, out, args)
        sampler.stopped.set()
        sampler.join()
        throughput = (
            httpx.get(
                f"{base}/api/admin/throughput",
                params={"since": since.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            .raise_for_status()
            .json()
        )
    stats_file = out / "locust_stats.csv"
    if not stats_file.is_file():
        print(f"locust wrote no stats; see {out / 'locust.log'}", file=sys.stderr)
        return code or 1
    failures = failures_by_status(out / "locust_failures.csv")
    text, summary = summarize(locust_stats(stats_file), throughput, sampler.peaks, failures, args)
    summary["locust_exit_code"] = code
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.txt").write_text(text + "\n")
    with (out / "samples.csv").open("w", newline="") as f:
        keys = sorted({k for s in sampler.peaks.samples for k in s}, key=lambda k: (k != "t", k))
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(sampler.peaks.samples)
    print(text)
    print(f"\nresults in {out}")
    missed = any(v.startswith("MISS") for v in summary["targets"])
    return code or int(missed and args.max_rss_growth is not None)


if __name__ == "__main__":
    sys.exit(main())
