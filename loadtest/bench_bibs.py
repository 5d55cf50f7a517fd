"""Bib numbers read from 6000x4000 race photos (loadtest/bib_data.py), on one core.

    OMP_NUM_THREADS=1 uv run python -m loadtest.bench_bibs                # what `make bench` runs
    OMP_NUM_THREADS=1 uv run python -m loadtest.bench_bibs --photos 200 --seed 7 --json out.json

Runners with bibs of 1-5 digits, 20-80 px tall, folded, turned, motion-blurred, with an
arm across some numbers, some with their face hidden; kilometre boards and banners with
numbers, the race's year on every bib, runners with no bib, photos with nobody. It reports:

- **read rate** by digit height and by condition, over the runners whose whole number
  shows. The target (95 %) is for digits of 30 px and more; it is given with and without
  the runners whose face is hidden, whom the reader does not look under (workers/bibs.py);
- **wrong bibs**: reads, at each confidence, of a number that no runner in the photo
  shows whole (a number cut by an arm, a year, a board). The matching confidence
  (`settings.BIB_MIN_CONFIDENCE`) must have none;
- **CPU a photo** for the whole indexing job (faces and bibs) and for the bib step alone.

The photos are made from ../shared/testdata/faces at run time with `--seed`; tune on one
seed and report on another, so that the reader is judged on photos it was not tuned on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one core, as a worker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest import bib_data, datasets  # noqa: E402

CONFIDENCES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
BUCKETS = ("20-29", "30-39", "40-59", "60-80")


def _make(args: tuple[int, int, int]) -> list[bib_data.RacePhoto]:
    seed, start, count = args
    sources = datasets.face_sources(datasets.identities())
    return bib_data.races(sources, count, seed=seed * 1000 + start)


def make_photos(count: int, seed: int, jobs: int) -> list[bib_data.RacePhoto]:
    """`count` photos, made by `jobs` processes in chunks (each chunk seeded by its start)."""
    chunk = max(1, -(-count // jobs))
    parts = [(seed, start, min(chunk, count - start)) for start in range(0, count, chunk)]
    with ProcessPoolExecutor(jobs) as pool:
        made = [p for part in pool.map(_make, parts) for p in part]
    for i, photo in enumerate(made):
        photo.name = f"race-{seed}-{i}"
    return made


def read_all(photos: list[bib_data.RacePhoto]) -> list[dict[str, Any]]:
    """Index each photo as the job does, then read its bibs; CPU seconds of each step."""
    from core.config import settings
    from workers import bibs, faces

    faces.load_models()
    reader = bibs.reader()
    out = []
    for photo in photos:
        started = time.process_time()
        full, found = faces.index_photo(photo.data, model=settings.DETECTOR)
        indexed = time.process_time()
        reads = reader.read(full.rgb, [f.box for f in found])
        done = time.process_time()
        out.append(
            {
                "photo": photo.name,
                "faces_s": indexed - started,
                "bibs_s": done - indexed,
                "reads": [(r.bib, r.confidence) for r in reads],
            }
        )
    return out


def score(photos: list[bib_data.RacePhoto], results: list[dict[str, Any]]) -> dict[str, Any]:
    from core.config import settings

    used = settings.BIB_MIN_CONFIDENCE
    shown: dict[str, list[int]] = {}  # bucket or condition -> [read, of]
    wrong = dict.fromkeys(CONFIDENCES, 0)
    wrong_examples = []
    for photo, result in zip(photos, results, strict=True):
        reads = dict(result["reads"])
        whole = {r.bib for r in photo.runners if r.readable}
        for runner in photo.runners:
            if not runner.readable:
                continue
            hit = reads.get(runner.bib or "", -1.0) >= used
            keys = [
                bib_data.digit_bucket(runner.digit_px),
                f"condition {runner.condition}",
                "all",
            ]
            if runner.digit_px >= 30:
                keys.append("30 px and more")
                if runner.condition != "faceless":
                    keys.append("30 px and more, face shown")
            for key in keys:
                tally = shown.setdefault(key, [0, 0])
                tally[0] += hit
                tally[1] += 1
        for bib, confidence in reads.items():
            if bib in whole:
                continue
            for c in CONFIDENCES:
                wrong[c] += confidence >= c
            wrong_examples.append((photo.name, bib, round(confidence, 4)))
    runners = sum(len(p.runners) for p in photos)
    return {
        "photos": len(photos),
        "runners": runners,
        "runners_without_bib": sum(r.bib is None for p in photos for r in p.runners),
        "numbers_cut_by_an_arm": sum(r.hidden_digits > 0 for p in photos for r in p.runners),
        "photos_with_nobody": sum(not p.runners for p in photos),
        "confidence_used": used,
        "read_rate": {k: {"read": v[0], "of": v[1], "rate": v[0] / v[1]} for k, v in shown.items()},
        "wrong_bibs_at": {str(c): n for c, n in wrong.items()},
        "wrong_examples": sorted(wrong_examples, key=lambda w: -w[2])[:20],
        "cpu_s_a_photo": {
            "bibs median": statistics.median(r["bibs_s"] for r in results),
            "bibs mean": statistics.fmean(r["bibs_s"] for r in results),
            "bibs max": max(r["bibs_s"] for r in results),
            "faces median": statistics.median(r["faces_s"] for r in results),
            "indexing job (faces + bibs) mean": statistics.fmean(
                r["faces_s"] + r["bibs_s"] for r in results
            ),
        },
    }


def report(summary: dict[str, Any]) -> None:
    print(
        f"{summary['photos']} photos of 6000x4000, {summary['runners']} runners "
        f"({summary['runners_without_bib']} without a bib, {summary['numbers_cut_by_an_arm']} "
        f"with an arm across the number), {summary['photos_with_nobody']} photos with nobody"
    )
    print(f"\nRead rate at confidence >= {summary['confidence_used']}:")
    order = [*BUCKETS, "30 px and more", "30 px and more, face shown", "all"]
    rates = summary["read_rate"]
    order += sorted(k for k in rates if k.startswith("condition"))
    for key in order:
        if key in rates:
            r = rates[key]
            print(f"  {key:<28} {r['read']:>5} / {r['of']:<5} {100 * r['rate']:6.2f} %")
    print("\nWrong bibs (a number no runner in the photo shows whole) at confidence >=")
    for c, n in summary["wrong_bibs_at"].items():
        mark = "   <- used for matching" if float(c) == summary["confidence_used"] else ""
        print(f"  {c:<5} {n}{mark}")
    for example in summary["wrong_examples"][:8]:
        print("    e.g.", example)
    print("\nCPU seconds a photo (one core):")
    for k, v in summary["cpu_s_a_photo"].items():
        print(f"  {k:<34} {v:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--seed", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="to make photos")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.monotonic()
    photos = make_photos(args.photos, args.seed, args.jobs)
    print(f"made {len(photos)} photos in {time.monotonic() - started:.0f} s (seed {args.seed})")
    summary = score(photos, read_all(photos))
    report(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
