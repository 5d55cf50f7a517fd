"""Face-engine benchmarks: crowds with ground truth, throughput against the naive pipeline,
detection recall, and "my photos" accuracy across tolerances through the real matching SQL.

    uv run python loadtest/bench_engine.py all          # what `make bench` runs
    uv run python loadtest/bench_engine.py crowds --crowds 24   # the hard case (crowd_bench.py)
    uv run python loadtest/bench_engine.py selfies      # a selfie's verdict, engine only
    uv run python loadtest/bench_engine.py throughput --big 3
    uv run python loadtest/bench_engine.py recall
    uv run python loadtest/bench_engine.py accuracy --collages 30
    uv run python loadtest/bench_engine.py previews --big 3   # the web app's thumbnails, in the API

Each pipeline runs in a fresh process of its own that forks a child per photo, as a
worker does (loadtest/engine_runs.py), so each peak RSS is a worker's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest import datasets
from loadtest.crowd_bench import iou
from loadtest.engine_runs import PhotoRun, run_in_children

NAIVE = "naive"
OURS = "yunet"
BEFORE = "hog"
"""The engine before v2: HOG with one upsample on a 2000 px copy."""


def _photos(which: str, big: int, collage_count: int) -> list[datasets.Photo]:
    if which == "shared":
        paths = list(datasets.GROUPS) + [p for ps in datasets.identities().values() for p in ps[:1]]
        return [datasets.Photo(Path(p).name, (datasets.FACES / p).read_bytes()) for p in paths]
    if which == "big":
        return datasets.event_sized(list(datasets.GROUPS)[:big])
    if which == "collages":
        return datasets.collages(datasets.identities(), collage_count)
    raise ValueError(which)


def _summary(runs: list[PhotoRun]) -> dict:  # type: ignore[type-arg]
    return {
        "seconds": sum(r.seconds for r in runs),
        "faces": [[box for box, _, _ in r.faces] for r in runs],
        "rss_mib": max(r.peak_rss_mib for r in runs),
    }


def _in_child(pipeline: str, photos: list[datasets.Photo]) -> dict:  # type: ignore[type-arg]
    return _summary(run_in_children(pipeline, photos)[0])


def scaling(args: argparse.Namespace) -> list[dict]:  # type: ignore[type-arg]
    """Indexing throughput of N single-threaded worker processes side by side."""
    photos = _photos("shared", args.big, args.collages)
    rows = []
    for n in [int(x) for x in args.processes.split(",")]:
        runs = [_summary(r) for r in run_in_children(OURS, photos, n)]
        seconds = max(r["seconds"] for r in runs)
        rows.append(
            {
                "processes": n,
                "photos": n * len(photos),
                "seconds": seconds,
                "photos_per_s": n * len(photos) / seconds,
            }
        )
    single = rows[0]["photos_per_s"] / rows[0]["processes"]
    print(f"\n== indexing throughput by worker processes ({os.cpu_count()} cores here)")
    print(f"{'processes':>9} {'photos':>6} {'seconds':>8} {'photos/s':>9} {'efficiency':>10}")
    for r in rows:
        r["efficiency"] = r["photos_per_s"] / (r["processes"] * single)
        print(
            f"{r['processes']:9d} {r['photos']:6d} {r['seconds']:8.1f} "
            f"{r['photos_per_s']:9.2f} {r['efficiency']:9.0%}"
        )
    return rows


def throughput(args: argparse.Namespace) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for which in ("shared", "collages", "big"):
        photos = _photos(which, args.big, args.collages)
        ours, naive = _in_child(OURS, photos), _in_child(NAIVE, photos)
        n = len(photos)
        row = {
            "set": which,
            "photos": n,
            "ours_photos_per_s": n / ours["seconds"],
            "naive_photos_per_s": n / naive["seconds"],
            "speedup": naive["seconds"] / ours["seconds"],
            "ours_faces": sum(map(len, ours["faces"])),
            "naive_faces": sum(map(len, naive["faces"])),
            "ours_faces_per_s": sum(map(len, ours["faces"])) / ours["seconds"],
            "ours_rss_mib": ours["rss_mib"],
            "naive_rss_mib": naive["rss_mib"],
        }
        rows.append(row)
    print(
        "\n== indexing throughput, one worker process each (naive = load_image_file +"
        " face_locations + face_encodings at full size)"
    )
    print(
        f"{'set':9} {'photos':>6} {'ours ph/s':>9} {'naive ph/s':>10} {'speedup':>7} "
        f"{'faces ours/naive':>16} {'ours faces/s':>12} {'RSS ours/naive MiB':>19}"
    )
    for r in rows:
        print(
            f"{r['set']:9} {r['photos']:6d} {r['ours_photos_per_s']:9.2f} "
            f"{r['naive_photos_per_s']:10.2f} {r['speedup']:6.1f}x "
            f"{r['ours_faces']:>8d}/{r['naive_faces']:<7d} {r['ours_faces_per_s']:12.1f} "
            f"{r['ours_rss_mib']:9.0f}/{r['naive_rss_mib']:<9.0f}"
        )
    return rows


def _pascal_hits(photos: list[datasets.Photo], truth: list[list[tuple]], found: list) -> int:  # type: ignore[type-arg]
    return sum(
        sum(1 for gt in boxes_true if any(iou(gt, box) >= 0.3 for box in boxes))
        for boxes_true, boxes in zip(truth, found, strict=True)
    )


def recall(args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    """PASCAL's hand-drawn boxes at their size and scaled up to 6000x4000, and real crowds."""
    truth = datasets.pascal_boxes()
    pascal = [
        datasets.Photo(name, (datasets.FACES / "dlib_examples_faces" / name).read_bytes())
        for name in truth
    ]
    big, big_truth = datasets.scaled_up(pascal, [truth[p.name] for p in pascal])
    crowds = [
        datasets.Photo(Path(p).name, (datasets.FACES / p).read_bytes()) for p in datasets.CROWDS
    ]
    report: dict = {}  # type: ignore[type-arg]
    n = len(pascal)
    for pipeline in (OURS, BEFORE, NAIVE):
        found = _in_child(pipeline, pascal + big + crowds)["faces"]
        report[pipeline] = {
            "pascal_hits": _pascal_hits(pascal, [truth[p.name] for p in pascal], found[:n]),
            "pascal_6000_hits": _pascal_hits(big, big_truth, found[n : 2 * n]),
            "crowds": {p.name: len(b) for p, b in zip(crowds, found[2 * n :], strict=True)},
        }
    total = sum(len(v) for v in truth.values())
    print("\n== detection recall")
    for key, label in (("pascal_hits", "as is"), ("pascal_6000_hits", "scaled to 6000x4000")):
        print(
            f"PASCAL ground truth {label} ({total} faces, IoU >= 0.3): "
            f"yunet {report[OURS][key]}, hog (before v2) {report[BEFORE][key]}, "
            f"naive upsample 1 {report[NAIVE][key]}"
        )
    for name in report[OURS]["crowds"]:
        print(
            f"  {name:14s} faces found: yunet {report[OURS]['crowds'][name]:3d}, "
            f"hog {report[BEFORE]['crowds'][name]:3d}, naive {report[NAIVE]['crowds'][name]:3d}"
        )
    report["pascal_total"] = total
    return report


def selfies(args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    """The engine's time for a selfie's verdict: median of 7, on each identity's first photo
    and on a 12 MP phone-sized selfie (4032x3024, the first one scaled up)."""
    import statistics
    import time

    from workers import faces

    faces.load_models()
    paths = [ps[0] for ps in datasets.identities().values()]
    photos = [(Path(p).name, (datasets.FACES / p).read_bytes()) for p in paths]
    phone = datasets.upright(paths[0]).resize((3024, 4032))
    photos.append(("12 MP selfie", datasets.jpeg(phone)))
    report = {}
    for name, data in photos:
        times = []
        for _ in range(7):
            started = time.perf_counter()
            faces.judge_selfie(data)
            times.append(time.perf_counter() - started)
        report[name] = round(1000 * statistics.median(times), 1)
    small = [ms for name, ms in report.items() if name != "12 MP selfie"]
    print(
        f"\n== selfie verdict, engine only: median {statistics.median(small):.0f} ms over "
        f"{len(small)} identity photos, {report['12 MP selfie']:.0f} ms for a 12 MP selfie"
    )
    return report


def crowds(args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    from loadtest.crowd_bench import run

    return run(args.crowds, tuple(args.pipelines.split(",")))


def accuracy(args: argparse.Namespace) -> list[dict]:  # type: ignore[type-arg]
    from loadtest.accuracy import run_accuracy

    return run_accuracy(args.collages)


def previews(args: argparse.Namespace) -> list[dict]:  # type: ignore[type-arg]
    """The API's cost to make a thumbnail and a preview of a 6000x4000 JPEG, once per photo."""
    from api.images import PREVIEW_SIDES, make_preview

    photos = datasets.event_sized(list(datasets.GROUPS)[: args.big])
    rows = []
    for size, side in PREVIEW_SIDES.items():
        times, sizes = [], []
        for photo in photos:
            for _ in range(3):
                started = time.perf_counter()
                out = make_preview(photo.data, side)
                times.append(time.perf_counter() - started)
            sizes.append(len(out))
        times.sort()
        row = {
            "size": size,
            "side_px": side,
            "photos": len(photos),
            "median_ms": round(1000 * times[len(times) // 2], 1),
            "max_ms": round(1000 * times[-1], 1),
            "mean_kib": round(sum(sizes) / len(sizes) / 1024, 1),
        }
        print(json.dumps(row))
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "what",
        choices=[
            "crowds",
            "selfies",
            "throughput",
            "recall",
            "accuracy",
            "scaling",
            "previews",
            "all",
        ],
    )
    parser.add_argument("--processes", default="1,2", help="scaling: process counts to run")
    parser.add_argument("--big", type=int, default=3, help="6000x4000 photos (naive is slow)")
    parser.add_argument("--collages", type=int, default=30)
    parser.add_argument(
        "--crowds", type=int, default=24, help="6000x4000 crowd photos (naive: ~13 s each)"
    )
    parser.add_argument(
        "--pipelines",
        default="yunet,reference,hog,naive",
        help="crowds: the pipelines to run (loadtest/engine_runs.py)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not datasets.FACES.is_dir():
        print(f"face photos not found at {datasets.FACES}", file=sys.stderr)
        return 2
    results = {}
    steps = (
        ("crowds", crowds),
        ("selfies", selfies),
        ("throughput", throughput),
        ("recall", recall),
        ("accuracy", accuracy),
        ("scaling", scaling),
        ("previews", previews),
    )
    for name, fn in steps:
        if args.what in (name, "all"):
            results[name] = fn(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
