"""The live check against spoofs and genuine head turns built from ../shared (make bench).

    python -m loadtest.bench_liveness [--genuine 150] [--json loadtest/results/liveness.json]
    python -m loadtest.bench_liveness --latency      # make bench-selfies: what it adds

Reports, per kind, how many attempts the check accepted, every spoof that got through,
the genuine attempts refused and why, and the check's time per attempt. The target: 0
spoofs accepted of at least 200, and at least 95 % of at least 100 genuine accepted.

`--latency`: for each genuine attempt, the worker's verdict on the live frames against its
verdict on the straight frame alone as an uploaded selfie (one core, models loaded):
what the live check adds to a selfie's verdict, p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from loadtest import liveness_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--genuine", type=int, default=120)
    parser.add_argument("--several", type=int, default=40)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--latency", action="store_true")
    args = parser.parse_args(argv)

    from workers import faces, liveness

    faces.load_models()
    if args.latency:
        return added_latency(liveness_data.genuine(args.genuine))
    attempts = (
        liveness_data.genuine(args.genuine)
        + liveness_data.spoofs()
        + liveness_data.several_photos(args.several)
    )
    results: dict[str, list[dict]] = {}
    timings: list[float] = []
    for attempt in attempts:
        start = time.perf_counter()
        verdict = liveness.judge_live(list(attempt.frames), list(attempt.steps))
        timings.append(time.perf_counter() - start)
        results.setdefault(attempt.kind, []).append(
            {
                "name": attempt.name,
                "steps": attempt.steps,
                "accepted": verdict.ok,
                "reason": verdict.reason,
            }
        )
    spoofs = [r for kind in ("still", "recaptured", "swapped") for r in results.get(kind, [])]
    summary = {
        kind: {
            "attempts": len(rows),
            "accepted": sum(r["accepted"] for r in rows),
            "reasons": dict(Counter(r["reason"] for r in rows if not r["accepted"])),
        }
        for kind, rows in results.items()
    }
    print(f"{'kind':16s} {'attempts':>8s} {'accepted':>8s}  refused because")
    for kind, row in summary.items():
        reasons = ", ".join(
            f"{k} {v}" for k, v in sorted(row["reasons"].items(), key=lambda x: -x[1])
        )
        print(f"{kind:16s} {row['attempts']:8d} {row['accepted']:8d}  {reasons}")
    through = [r for r in spoofs if r["accepted"]]
    genuine = results.get("genuine", [])
    accepted = sum(r["accepted"] for r in genuine)
    print(f"\nspoofs (stills, recaptured, swapped): {len(through)} of {len(spoofs)} accepted")
    for row in through:
        print(f"  got through: {row['name']} {row['steps']}")
    share = 100 * accepted / max(1, len(genuine))
    print(f"genuine: {accepted} of {len(genuine)} accepted ({share:.1f} %)")
    for row in genuine:
        if not row["accepted"]:
            print(f"  refused: {row['name']} {row['steps']}: {row['reason']}")
    several = results.get("several_photos", [])
    print(f"several photos of the victim (not a spoof the check can tell): "
          f"{sum(r['accepted'] for r in several)} of {len(several)} accepted")  # fmt: skip
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"check time per attempt: median {statistics.median(timings) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms (one core)")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "results": results}, indent=1))
    ok = (
        not through
        and len(spoofs) >= 200
        and len(genuine) >= 100
        and accepted >= 0.95 * len(genuine)
    )
    return 0 if ok else 1


def added_latency(attempts: list[liveness_data.Attempt]) -> int:
    from workers import faces, liveness

    added = []
    for attempt in attempts:
        start = time.perf_counter()
        faces.judge_selfie(attempt.frames[0])
        single = time.perf_counter() - start
        start = time.perf_counter()
        liveness.judge_live(list(attempt.frames), list(attempt.steps))
        added.append(time.perf_counter() - start - single)
    p50, p95 = statistics.median(added), statistics.quantiles(added, n=20)[-1]
    print(f"the live check adds to a selfie's verdict ({len(added)} genuine attempts, one core):")
    print(f"median {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (target: p95 under 1000 ms)")
    return 0 if p95 < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
