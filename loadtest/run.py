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
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from loadtest.stack import Stack, local_stack

HERE = Path(__file__).parent
RESULTS = HERE / "results"
SAMPLE_SECONDS = 1.0
TARGET_MS = 250
"""p95 target for register and upload-selfie (issue 5)."""
SELFIE_TARGET_MS = 2000


@dataclass
class Peaks:
    """What the sampler saw during the run."""

    queue_depth: dict[str, int] = field(default_factory=dict)
    api_rss_mib: float = 0.0
    worker_rss_mib: float = 0.0
    samples: list[dict[str, Any]] = field(default_factory=list)


def role_of(process: psutil.Process) -> str | None:
    try:
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return None
    if "uvicorn" in cmdline:
        return "api"
    if "-m workers" in cmdline:
        return "worker"  # the worker and its forked work horses
    return None


def role_of_parent(process: psutil.Process) -> str | None:
    try:
        parent = process.parent()
    except psutil.Error:
        return None
    return role_of(parent) if parent else None


def rss_by_role(supervisor: int) -> dict[str, float]:
    """Largest single-process RSS per role among the stack's processes, in MiB."""
    peaks: dict[str, float] = {}
    try:
        children = psutil.Process(supervisor).children(recursive=True)
    except psutil.Error:
        return peaks
    for child in children:
        # uvicorn's worker processes and RQ's work horses take their parent's role.
        role = role_of(child) or role_of_parent(child)
        if role is None:
            continue
        try:
            rss = child.memory_info().rss / 2**20
        except psutil.Error:
            continue
        peaks[role] = max(peaks.get(role, 0.0), rss)
    return peaks


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
                rss = rss_by_role(self.supervisor)
                sample |= {f"{role}_rss_mib": round(v, 1) for role, v in rss.items()}
                self.peaks.api_rss_mib = max(self.peaks.api_rss_mib, rss.get("api", 0.0))
                self.peaks.worker_rss_mib = max(self.peaks.worker_rss_mib, rss.get("worker", 0.0))
            self.peaks.samples.append(sample)


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
    stats: list[dict[str, str]], throughput: dict[str, Any], peaks: Peaks, args: argparse.Namespace
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
    if peaks.api_rss_mib:
        lines.append(
            f"  peak RSS            API {peaks.api_rss_mib:.0f} MiB, "
            f"worker {peaks.worker_rss_mib:.0f} MiB (largest single process)"
        )
    verdicts = targets(rows, queue)
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
        "targets": verdicts,
    }
    return "\n".join(lines), summary


def targets(rows: list[dict[str, Any]], queue: dict[str, Any]) -> list[str]:
    """Issue 5's targets, each with its measured value."""
    by_name = {r["name"]: r for r in rows}
    out = []
    total = by_name.get("Aggregated")
    if total:
        ok = total["failures"] == 0
        out.append(f"{'met ' if ok else 'MISS'} 0 failures: {total['failures']}")
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
    parser.add_argument("--target", default="", help="base URL of a running stack")
    parser.add_argument("--admin-email", default=os.environ.get("LOADTEST_ADMIN_EMAIL", ""))
    parser.add_argument("--admin-password", default=os.environ.get("LOADTEST_ADMIN_PASSWORD", ""))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results / f"{stamp}-u{args.users}"
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
    text, summary = summarize(locust_stats(stats_file), throughput, sampler.peaks, args)
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
    return code


if __name__ == "__main__":
    sys.exit(main())
