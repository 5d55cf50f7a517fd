"""Face-engine benchmarks: throughput against the naive pipeline, detection recall,
and "my photos" accuracy across tolerances through the real matching SQL.

    uv run python loadtest/bench_engine.py all          # what `make bench` runs
    uv run python loadtest/bench_engine.py throughput --big 3
    uv run python loadtest/bench_engine.py recall
    uv run python loadtest/bench_engine.py accuracy --collages 30
    uv run python loadtest/bench_engine.py previews --big 3   # the web app's thumbnails, in the API

Each pipeline runs in a fresh process of its own, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest import datasets

NAIVE = "naive"
OURS = "ours"


def _photos(which: str, big: int, collage_count: int) -> list[datasets.Photo]:
    if which == "shared":
        paths = list(datasets.GROUPS) + [p for ps in datasets.identities().values() for p in ps[:1]]
        return [datasets.Photo(Path(p).name, (datasets.FACES / p).read_bytes()) for p in paths]
    if which == "big":
        return datasets.event_sized(list(datasets.GROUPS)[:big])
    if which == "collages":
        return datasets.collages(datasets.identities(), collage_count)
    raise ValueError(which)


def _detector(pipeline: str):  # type: ignore[no-untyped-def]
    """A function bytes -> list of (box, encoding), loaded before timing starts."""
    if pipeline == NAIVE:
        import io

        import face_recognition

        def naive(data: bytes):  # type: ignore[no-untyped-def]
            image = face_recognition.load_image_file(io.BytesIO(data))
            boxes = face_recognition.face_locations(image)
            return list(zip(boxes, face_recognition.face_encodings(image, boxes), strict=True))

        return naive
    from workers import faces

    faces.load_models()

    def ours(data: bytes):  # type: ignore[no-untyped-def]
        return [(f.box, f.encoding) for f in faces.index_photo(data)[1]]

    return ours


def run_pipeline(pipeline: str, photos_file: str, out: str) -> None:
    """Child process: index every photo once, report time, faces and peak RSS."""
    photos: list[datasets.Photo] = pickle.loads(Path(photos_file).read_bytes())
    detect = _detector(pipeline)
    results, start = [], time.perf_counter()
    for photo in photos:
        results.append(detect(photo.data))
    seconds = time.perf_counter() - start
    Path(out).write_bytes(
        pickle.dumps(
            {
                "seconds": seconds,
                "faces": [[box for box, _ in r] for r in results],
                "encodings": [[enc for _, enc in r] for r in results],
                "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def _in_child(pipeline: str, photos: list[datasets.Photo]) -> dict:  # type: ignore[type-arg]
    return _in_children(pipeline, photos, 1)[0]


def _in_children(pipeline: str, photos: list[datasets.Photo], n: int) -> list[dict]:  # type: ignore[type-arg]
    """n worker-like processes at once, each indexing every photo after loading its models."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photos.pkl"
        src.write_bytes(pickle.dumps(photos))
        outs = [Path(tmp) / f"out{i}.pkl" for i in range(n)]
        children = [
            subprocess.Popen([sys.executable, __file__, "_child", pipeline, str(src), str(out)])
            for out in outs
        ]
        for child in children:
            if child.wait() != 0:
                raise SystemExit(f"a benchmark child failed: {child.args}")
        return [pickle.loads(out.read_bytes()) for out in outs]


def scaling(args: argparse.Namespace) -> list[dict]:  # type: ignore[type-arg]
    """Indexing throughput of N single-threaded worker processes side by side."""
    photos = _photos("shared", args.big, args.collages)
    rows = []
    for n in [int(x) for x in args.processes.split(",")]:
        runs = _in_children(OURS, photos, n)
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


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0])
    return inter / (area - inter) if area > inter else 0.0


def recall(args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    truth = datasets.pascal_boxes()
    pascal = [
        datasets.Photo(name, (datasets.FACES / "dlib_examples_faces" / name).read_bytes())
        for name in truth
    ]
    crowds = [
        datasets.Photo(Path(p).name, (datasets.FACES / p).read_bytes()) for p in datasets.CROWDS
    ]
    report: dict = {}  # type: ignore[type-arg]
    for pipeline in (OURS, NAIVE):
        found = _in_child(pipeline, pascal + crowds)["faces"]
        hits = sum(
            sum(1 for gt in truth[photo.name] if any(_iou(gt, box) >= 0.3 for box in boxes))
            for photo, boxes in zip(pascal, found[: len(pascal)], strict=True)
        )
        report[pipeline] = {
            "pascal_hits": hits,
            "crowds": {p.name: len(b) for p, b in zip(crowds, found[len(pascal) :], strict=True)},
        }
    total = sum(len(v) for v in truth.values())
    print("\n== detection recall")
    print(
        f"PASCAL ground truth ({total} faces, IoU >= 0.3): ours {report[OURS]['pascal_hits']}, "
        f"naive upsample 1 {report[NAIVE]['pascal_hits']}"
    )
    for name in report[OURS]["crowds"]:
        print(
            f"  {name:14s} faces found: ours {report[OURS]['crowds'][name]:3d}, "
            f"naive {report[NAIVE]['crowds'][name]:3d}"
        )
    report["pascal_total"] = total
    return report


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
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        run_pipeline(*sys.argv[2:5])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "what", choices=["throughput", "recall", "accuracy", "scaling", "previews", "all"]
    )
    parser.add_argument("--processes", default="1,2", help="scaling: process counts to run")
    parser.add_argument("--big", type=int, default=3, help="6000x4000 photos (naive is slow)")
    parser.add_argument("--collages", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not datasets.FACES.is_dir():
        print(f"face photos not found at {datasets.FACES}", file=sys.stderr)
        return 2
    results = {}
    steps = (
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
