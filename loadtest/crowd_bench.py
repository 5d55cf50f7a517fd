"""The crowd benchmark: 6000x4000 crowds with tiny, blurred, dim and tilted faces.

    uv run python loadtest/bench_engine.py crowds --crowds 24

Inputs are built at run time from ../shared/testdata/faces (datasets.crowds):
each identity with two or more photos keeps one as its selfie and the others
are pasted into crowds at 40-600 px, with the single-photo identities as
bystanders. The pasted boxes are the ground truth. Three pipelines index the
same photos, each in its own worker-like process (loadtest/engine_runs.py):
`yunet` (today's engine), `hog` (the engine before v2) and `naive` (the old
system). It reports, for each:

- detection recall per face-size bucket and false detections per photo;
- CPU seconds per photo, photos and faces per second, peak RSS per photo;
- "my photos" precision and recall through the real matching SQL, each
  identity taking its turn as the only attendee of an event holding every
  crowd, across tolerances and weak-face penalties.
"""

from __future__ import annotations

import statistics
from typing import Any

from loadtest import datasets
from loadtest.accuracy import BenchEvent, add_event, matching_db, predicted_pairs, score
from loadtest.engine_runs import PhotoRun, run_in_children

BUCKETS = ((40, 60), (60, 80), (80, 120), (120, 200), (200, 10_000))
IOU_HIT = 0.3
"""A detection finds a pasted face when their boxes overlap by this IoU (boxes of different
detectors frame a face differently: YuNet's include the forehead, HOG's do not)."""
TOLERANCES = (0.5, 0.55, 0.58, 0.6)
PIPELINES = ("yunet", "reference", "hog", "naive")
"""`yunet` on onnxruntime and `reference` (the same engine on OpenCV's DNN and dlib's own
encoder) must agree to 1e-4 on every vector and match for match (`sameness`)."""
SAME = 1e-4
WEAK_RULES = ((0.0, 0.0), (0.15, 0.03), (0.15, 0.05), (0.15, 0.1), (0.25, 0.05), (0.3, 0.05))
"""(MATCH_WEAK_QUALITY, MATCH_WEAK_PENALTY) pairs swept; (0, 0) is no weak-face rule."""


def iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def _bucket(size: int) -> str:
    for low, high in BUCKETS:
        if low <= size < high:
            return f"{low}+" if high == 10_000 else f"{low}-{high - 1}"
    return "<40"


def detection(crowds: list[datasets.Crowd], runs: list[PhotoRun]) -> dict[str, Any]:
    """Recall per size bucket and per degradation, and false detections per photo."""
    hits: dict[str, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    false = 0
    for crowd, run in zip(crowds, runs, strict=True):
        boxes = [box for box, _, _ in run.faces]
        used: set[int] = set()
        for face in crowd.faces:
            match = max(
                (i for i in range(len(boxes)) if i not in used),
                key=lambda i: iou(face.box, boxes[i]),
                default=None,
            )
            found = match is not None and iou(face.box, boxes[match]) >= IOU_HIT
            if found:
                used.add(match)  # type: ignore[arg-type]
            hits.setdefault(_bucket(face.size), []).append(int(found))
            by_kind.setdefault(face.degraded, []).append(int(found))
        false += len(boxes) - len(used)
    total = [h for values in hits.values() for h in values]
    return {
        "recall": {k: (sum(v), len(v)) for k, v in sorted(hits.items(), key=_bucket_order)},
        "recall_by_kind": {k: (sum(v), len(v)) for k, v in sorted(by_kind.items())},
        "true_faces": (sum(total), len(total)),
        "false_per_photo": false / len(crowds),
    }


def _bucket_order(item: tuple[str, Any]) -> int:
    return int(item[0].split("-")[0].rstrip("+"))


def cost(runs: list[PhotoRun]) -> dict[str, float]:
    seconds = sum(r.seconds for r in runs)
    faces = sum(len(r.faces) for r in runs)
    return {
        "cpu_s_per_photo": statistics.mean(r.cpu_seconds for r in runs),
        "photos_per_s": len(runs) / seconds,
        "faces_per_s": faces / seconds,
        "peak_rss_mib": max(r.peak_rss_mib for r in runs),
    }


def my_photos(
    crowds: list[datasets.Crowd], selfies: dict[str, Any], by_pipeline: dict[str, list[PhotoRun]]
) -> tuple[list[dict[str, Any]], dict[tuple[Any, ...], set[tuple[str, str]]]]:
    """Precision and recall per setting, in two shapes of event: each identity alone in an
    event of every crowd (margin 0: no other attendee to be ambiguous with), and every
    identity together in one event with the default margin. Also every setting's matches,
    by (pipeline, shape, weak quality, weak penalty, tolerance)."""
    from core.config import settings

    truth = {(f.identity, c.name) for c in crowds for f in c.faces if f.identity in selfies}
    rows = []
    matches: dict[tuple[Any, ...], set[tuple[str, str]]] = {}
    with matching_db() as session:
        for pipeline, runs in by_pipeline.items():
            photos = [(c.name, r.faces) for c, r in zip(crowds, runs, strict=True)]
            shapes: dict[str, tuple[list[BenchEvent], float]] = {
                "alone": (
                    [
                        add_event(session, f"{pipeline}:{identity}", {identity: enc}, photos)
                        for identity, enc in selfies.items()
                    ],
                    0.0,
                ),
                "together": (
                    [add_event(session, f"{pipeline}:all", selfies, photos)],
                    settings.MATCH_MARGIN,
                ),
            }
            rules = WEAK_RULES if pipeline != "naive" else ((0.0, 0.0),)
            for shape, (events, margin) in shapes.items():
                for weak_quality, weak_penalty in rules:
                    settings.MATCH_WEAK_QUALITY = weak_quality
                    settings.MATCH_WEAK_PENALTY = weak_penalty
                    for tolerance in TOLERANCES:
                        predicted = predicted_pairs(session, events, tolerance, margin)
                        key = (shape, weak_quality, weak_penalty, tolerance)
                        matches[(pipeline, *key)] = predicted
                        rows.append({
                            "pipeline": pipeline, "events": shape, "margin": margin,
                            "tolerance": tolerance, "weak_quality": weak_quality,
                            "weak_penalty": weak_penalty, **score(predicted, truth),
                        })  # fmt: skip
    settings.MATCH_WEAK_QUALITY, settings.MATCH_WEAK_PENALTY = (
        type(settings)().MATCH_WEAK_QUALITY,
        type(settings)().MATCH_WEAK_PENALTY,
    )
    return rows, matches


def other_matches(
    matches: dict[tuple[Any, ...], set[tuple[str, str]]], a: str, b: str
) -> list[tuple[Any, ...]]:
    """The settings (event shape, weak rule, tolerance) under which pipelines a and b match
    differently: not one (attendee, photo) pair more or less."""
    return sorted(
        key[1:]
        for key, pairs in matches.items()
        if key[0] == a and matches.get((b, *key[1:])) != pairs
    )


def sameness(a: list[PhotoRun], b: list[PhotoRun], selfies: dict[str, Any]) -> dict[str, Any]:
    """How far two runs of the same photos are apart: faces paired by their boxes (IoU over
    0.9), the largest difference of a vector's component, and of a distance to a selfie."""
    paired = unpaired = 0
    worst_component = worst_distance = 0.0
    for run_a, run_b in zip(a, b, strict=True):
        left = list(run_b.faces)
        for box, encoding, _ in run_a.faces:
            j = max(range(len(left)), key=lambda i: iou(box, left[i][0]), default=None)
            if j is None or iou(box, left[j][0]) < 0.9:
                unpaired += 1
                continue
            other = left.pop(j)[1]
            paired += 1
            worst_component = max(worst_component, float(abs(encoding - other).max()))
            for selfie in selfies.values():
                worst_distance = max(
                    worst_distance,
                    abs(
                        float(((encoding - selfie) ** 2).sum() ** 0.5)
                        - float(((other - selfie) ** 2).sum() ** 0.5)
                    ),
                )
        unpaired += len(left)
    return {
        "faces_paired": paired,
        "faces_unpaired": unpaired,
        "max_component_difference": worst_component,
        "max_distance_difference": worst_distance,
    }


def run(count: int, pipelines: tuple[str, ...] = PIPELINES) -> dict[str, Any]:
    from workers import faces

    faces.load_models()
    selfies, pool = _selfies_and_pool()
    crowds = datasets.crowds(datasets.face_sources(pool), count)
    by_pipeline = {name: run_in_children(name, crowds)[0] for name in pipelines}
    report: dict[str, Any] = {
        "photos": count,
        "faces": sum(len(c.faces) for c in crowds),
        "attendees": len(selfies),
        "pipelines": {
            name: {**detection(crowds, runs), **cost(runs)} for name, runs in by_pipeline.items()
        },
    }
    report["my_photos"], matches = my_photos(crowds, selfies, by_pipeline)
    if not any(row["recall"] for row in report["my_photos"]):
        # It happened: rows inserted without their nearest attendees matched nothing, and
        # a table of 100 % precision at 0 % recall looked like a result.
        raise SystemExit("no setting matched a single true photo: the benchmark is broken")
    if "yunet" in by_pipeline and "reference" in by_pipeline:
        report["sameness"] = {
            **sameness(by_pipeline["yunet"], by_pipeline["reference"], selfies),
            "settings_with_other_matches": other_matches(matches, "yunet", "reference"),
        }
    _print(report)
    return report


def _selfies_and_pool() -> tuple[dict[str, Any], dict[str, list[str]]]:
    from loadtest.accuracy import held_out_selfies

    return held_out_selfies(datasets.identities())


def _print(report: dict[str, Any]) -> None:
    pipelines = report["pipelines"]
    names = list(pipelines)
    print(
        f"\n== crowds: {report['photos']} photos of 6000x4000, {report['faces']} pasted faces, "
        f"{report['attendees']} attendees (each alone in an event)"
    )
    print(f"{'':22}" + "".join(f"{n:>16}" for n in names))
    buckets = list(pipelines[names[0]]["recall"])
    for bucket in buckets:
        cells = []
        for n in names:
            hit, total = pipelines[n]["recall"].get(bucket, (0, 0))
            cells.append(f"{hit:>4}/{total:<4} {hit / max(total, 1):5.0%}")
        print(f"{'recall ' + bucket + ' px':22}" + "".join(f"{c:>16}" for c in cells))
    for kind in pipelines[names[0]]["recall_by_kind"]:
        cells = []
        for n in names:
            hit, total = pipelines[n]["recall_by_kind"][kind]
            cells.append(f"{hit:>4}/{total:<4} {hit / max(total, 1):5.0%}")
        print(f"{'recall ' + kind:22}" + "".join(f"{c:>16}" for c in cells))
    rows = (
        ("true faces found", lambda p: f"{p['true_faces'][0]}/{p['true_faces'][1]}"),
        ("false per photo", lambda p: f"{p['false_per_photo']:.2f}"),
        ("CPU s per photo", lambda p: f"{p['cpu_s_per_photo']:.2f}"),
        ("photos per s", lambda p: f"{p['photos_per_s']:.3f}"),
        ("photos per CPU s", lambda p: f"{1 / p['cpu_s_per_photo']:.3f}"),
        ("faces per s", lambda p: f"{p['faces_per_s']:.2f}"),
        ("peak RSS MiB", lambda p: f"{p['peak_rss_mib']:.0f}"),
    )
    for label, cell in rows:
        print(f"{label:22}" + "".join(f"{cell(pipelines[n]):>16}" for n in names))
    print('\n== "my photos" on crowds ("alone": one attendee an event, margin 0; "together")')
    print(
        f"{'pipeline':8} {'events':8} {'weak q<':>7} {'penalty':>7} {'tolerance':>9} "
        f"{'precision':>9} {'recall':>7} {'wrong':>5} {'missed':>6}"
    )
    if "sameness" in report:
        same = report["sameness"]
        print(
            f"\n== yunet (onnxruntime) against reference (OpenCV DNN + dlib): "
            f"{same['faces_paired']} faces paired, {same['faces_unpaired']} not; largest "
            f"component difference {same['max_component_difference']:.2e}, distance to a selfie "
            f"{same['max_distance_difference']:.2e}; settings whose matches differ: "
            f"{same['settings_with_other_matches'] or 'none'}"
        )
    for r in report["my_photos"]:
        print(
            f"{r['pipeline']:8} {r['events']:8} {r['weak_quality']:7.2f} {r['weak_penalty']:7.2f} "
            f"{r['tolerance']:9.2f} {r['precision']:9.2%} {r['recall']:7.2%} "
            f"{r['wrong']:5d} {r['missed']:6d}"
        )
