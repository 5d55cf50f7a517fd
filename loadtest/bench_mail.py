"""Digest mails at marathon scale: a real local stack composes them and drains the emails
queue with 2 workers, through an SMTP server that takes its time.

    uv run python -m loadtest.bench_mail                                   # make bench-mail
    uv run python -m loadtest.bench_mail --attendees 1000 --smtp-delay-ms 0

For each size, a synthetic event (loadtest/synthetic.py, ~20 photos of each attendee among
bystanders) is matched, then every attendee opts in to digests from before those matches:
the whole field has new photos in one interval, as after a race. The stack's own
reconciler composes the digests on its next pass, and `--workers` worker processes (the
product's, listening to every queue) send them. The SMTP server is this script's: it
counts what arrives, and holds each mail `--smtp-delay-ms` before answering, as a remote
relay's round trips do (the local catcher answers at once: the flattering case).

Reported per size and delay: matches and mails (one per attendee, never one per match),
the time to compose them (the reconciler's pass), the time from the first mail composed
to the last received ("drain"), mails per second, and each mail's wait from composed to
sent (p50 / p95). And "link": someone joins once the first digest has arrived, in the
thick of the drain; the seconds until their sign-in mail arrives. Results go to
loadtest/results/bench_mail.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller

from devtools.local import free_port
from loadtest import synthetic
from loadtest.chaos import Client, _build_nearest
from loadtest.stack import local_stack

RESULTS = Path(__file__).parent / "results" / "bench_mail.json"
TIMEOUT_SECONDS = 1800


class CountingRelay:
    """An SMTP server that takes `delay` seconds per mail and notes when each arrived."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.arrived: list[float] = []
        self.to: dict[str, float] = {}
        """When the first mail to each address arrived."""
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.arrived.append(time.time())
            for address in envelope.rcpt_tos:
                self.to.setdefault(address, time.time())
        return "250 OK"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def run(attendees: int, delay_ms: int, workers: int) -> dict[str, Any]:
    relay = CountingRelay(delay_ms / 1000)
    port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        "FACEMATCH_SMTP_HOST": "127.0.0.1",
        "FACEMATCH_SMTP_PORT": str(port),
        "FACEMATCH_SMTP_SECURITY": "none",
        "FACEMATCH_RECONCILE_INTERVAL_SECONDS": "5",
    }
    try:
        with local_stack(workers, env=env) as stack:
            return _measure(stack, relay, attendees, delay_ms, workers)
    finally:
        controller.stop()


def _measure(stack: Any, relay: CountingRelay, attendees: int, delay_ms: int,
             workers: int) -> dict[str, Any]:  # fmt: skip
    from sqlmodel import Session, create_engine

    from core.db import sqlalchemy_url
    from workers import matching

    client = Client(stack)
    event = client.create_event(f"bench mail {attendees}")
    url = (stack.data_dir / "postgres.url").read_text().strip()
    started = time.monotonic()
    synthetic.load_event(url, uuid.UUID(event["id"]), photos=attendees * 2, faces_per_photo=20,
                         attendees=attendees)  # fmt: skip
    _build_nearest(url, event["id"])
    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        matching.rematch_event(session, uuid.UUID(event["id"]), 0.6, 0.03)
        session.commit()
    engine.dispose()
    print(f"  {attendees:,} attendees loaded and matched in {time.monotonic() - started:.0f} s",
          flush=True)  # fmt: skip
    with psycopg.connect(url, autocommit=True) as db:
        matched = db.execute(
            "SELECT count(*), count(DISTINCT attendee_id) FROM matches WHERE event_id = %s",
            (event["id"],),
        ).fetchone()
        assert matched is not None
        # Everyone opted in before these matches: all of them are news, in one interval.
        db.execute("UPDATE attendees SET notify = true, digest_through = now() - interval '1 hour'"
                   " WHERE event_id = %s", (event["id"],))  # fmt: skip
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not relay.arrived and time.monotonic() < deadline:
            time.sleep(0.1)
        # The hard case for a sign-in link: someone joins while the digests are going out.
        asked = time.time()
        late = "late-runner@example.com"
        client.http.post(f"{client.base}/api/register-with-event-code", timeout=60,
                         json={"event_code": event["code"], "email": late, "consent": True},
                         ).raise_for_status()  # fmt: skip
        while len(relay.arrived) < matched[1] + 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        rows = db.execute(
            "SELECT extract(epoch FROM created_at), extract(epoch FROM sent_at) FROM emails"
            " WHERE kind = 'digest' AND event_id = %s", (event["id"],),
        ).fetchall()  # fmt: skip
    composed = [float(r[0]) for r in rows]
    waits = [float(r[1]) - float(r[0]) for r in rows if r[1] is not None]
    link_s = relay.to[late] - asked if late in relay.to else None
    arrived = sorted(t for address, t in relay.to.items() if address != late)
    drain = arrived[-1] - min(composed) if arrived and composed else float("nan")
    return {
        "attendees": attendees, "workers": workers, "smtp_delay_ms": delay_ms,
        "matches": matched[0], "attendees_matched": matched[1],
        "mails_composed": len(rows), "mails_received": len(arrived),
        "compose_s": round(max(composed) - min(composed), 2) if composed else None,
        "drain_s": round(drain, 1), "mails_per_s": round(len(arrived) / drain, 1),
        "wait_p50_s": round(statistics.median(waits), 1) if waits else None,
        "wait_p95_s": _p(waits, 0.95) if waits else None,
        "sign_in_link_during_drain_s": round(link_s, 2) if link_s is not None else None,
        "digests_left_when_link_arrived": (
            sum(1 for t in arrived if link_s is not None and t > relay.to[late])
        ),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--smtp-delay-ms", default="0,150", help="comma-separated delays")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    results = []
    for attendees in (int(a) for a in args.attendees.split(",")):
        for delay in (int(d) for d in args.smtp_delay_ms.split(",")):
            print(f"{attendees:,} attendees, SMTP {delay} ms a mail, {args.workers} workers",
                  flush=True)  # fmt: skip
            result = run(attendees, delay, args.workers)
            print("  " + json.dumps(result), flush=True)
            results.append(result)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(
        "\n| attendees | SMTP | matches | mails | compose | drain | mails/s | wait p50/p95 | link |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['attendees']:,} | {r['smtp_delay_ms']} ms | {r['matches']:,} | "
              f"{r['mails_received']:,} | {r['compose_s']} s | {r['drain_s']} s | "
              f"{r['mails_per_s']} | {r['wait_p50_s']} / {r['wait_p95_s']} s | "
              f"{r['sign_in_link_during_drain_s']} s |")  # fmt: skip
    ok = all(r["mails_received"] == r["attendees_matched"] == r["mails_composed"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
