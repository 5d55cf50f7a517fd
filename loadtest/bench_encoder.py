"""dlib's face encoder and YuNet on onnxruntime against the reference, on one core.

    uv run python -m loadtest.bench_encoder            # what `make bench` runs
    uv run python -m loadtest.bench_encoder --rounds 9 --json loadtest/results/encoder.json

- **Sameness.** Every face in ../shared (each photo's YuNet faces aligned by dlib, and
  the 150x150 chips dlib ships) is encoded by both: the largest difference of a vector
  component, and of the distance between every pair of faces (the distances matching
  compares with the tolerance), over all of them.
- **Encoder speed.** CPU ms a face for batches of 1 to 32 chips, onnxruntime against
  dlib's own `compute_face_descriptor` on the same batch.
- **YuNet speed.** CPU ms a 1024x1024 tile of a real photo, onnxruntime against
  OpenCV's FaceDetectorYN.

Each timing is repeated `--rounds` times, the runtimes taking turns, so that a busy
neighbour on a shared machine slows both; the median and the best round are reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest import datasets

BATCHES = (1, 4, 8, 16, 32)


def shared_chips() -> list[Any]:
    from workers import faces

    chips = []
    for path in sorted(datasets.FACES.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        photo = faces.decode(path.read_bytes())
        if photo.rgb.shape[:2] == (150, 150):
            chips.append(photo.rgb)
            continue
        chips += [faces.face_chip(photo.rgb, box) for _, box in faces.detect_tiled(photo.rgb)]
    return chips


def _distances(v: Any) -> Any:
    import numpy as np

    squared = (v * v).sum(axis=1)
    return np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * v @ v.T, 0))


def _timed(fn: Any) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def _summary(samples: list[float], per: int) -> dict[str, float]:
    return {
        "median_ms": round(1000 * statistics.median(samples) / per, 2),
        "best_ms": round(1000 * min(samples) / per, 2),
    }


def run(rounds: int) -> dict[str, Any]:
    import cv2
    import dlib
    import face_recognition_models as paths
    import numpy as np

    from workers import faces, resnet, yunet

    cv2.setNumThreads(1)
    faces.load_models()
    chips = shared_chips()
    ours = resnet.Encoder.load(paths.face_recognition_model_location())
    theirs = dlib.face_recognition_model_v1(paths.face_recognition_model_location())
    a = ours.encode(chips)
    b = np.array(theirs.compute_face_descriptor(chips, 1))
    pairs = len(chips) * (len(chips) - 1) // 2
    report: dict[str, Any] = {
        "faces": len(chips),
        "max_component_difference": float(np.abs(a - b).max()),
        "face_pairs": pairs,
        "max_distance_difference": float(np.abs(_distances(a) - _distances(b)).max()),
    }
    sample = chips[:32]
    encoder: dict[str, Any] = {}
    for batch in BATCHES:
        runs: dict[str, list[float]] = {"onnxruntime": [], "dlib": []}
        batches = [sample[i : i + batch] for i in range(0, len(sample), batch)]
        for _ in range(rounds):
            runs["onnxruntime"].append(_timed(lambda b=batches: [ours.encode(c) for c in b]))
            runs["dlib"].append(
                _timed(lambda b=batches: [theirs.compute_face_descriptor(c, 1) for c in b])
            )
        encoder[str(batch)] = {k: _summary(v, len(sample)) for k, v in runs.items()}
    report["encoder_ms_a_face"] = encoder
    model = Path(faces.yunet_path()).read_bytes()
    on_ort = yunet.Detector(model, faces.TILE, faces.DETECT_SCORE, faces.NMS_IOU, 5000)
    on_cv = cv2.FaceDetectorYN.create(
        faces.yunet_path(), "", (faces.TILE, faces.TILE), faces.DETECT_SCORE, faces.NMS_IOU, 5000
    )
    photo = faces.decode((datasets.FACES / "dlib_examples_faces/bald_guys.jpg").read_bytes())
    tile = np.ascontiguousarray(photo.rgb[: faces.TILE, : faces.TILE, ::-1])
    tiles: dict[str, list[float]] = {"onnxruntime": [], "opencv": []}
    for _ in range(rounds):
        tiles["onnxruntime"].append(_timed(lambda: [on_ort.detect(tile) for _ in range(5)]))
        tiles["opencv"].append(_timed(lambda: [on_cv.detect(tile) for _ in range(5)]))
    report["yunet_ms_a_tile"] = {k: _summary(v, 5) for k, v in tiles.items()}
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"\n== sameness: {report['faces']} faces of ../shared; largest vector component "
        f"difference {report['max_component_difference']:.2e}; over {report['face_pairs']:,} "
        f"pairs of faces, largest distance difference {report['max_distance_difference']:.2e}"
    )
    print("\n== encoder, CPU ms a face on one core (median / best round)")
    print(f"{'batch':>6} {'onnxruntime':>16} {'dlib':>16} {'speed-up':>9}")
    for batch, row in report["encoder_ms_a_face"].items():
        o, d = row["onnxruntime"], row["dlib"]
        speedup = d["median_ms"] / o["median_ms"]
        print(
            f"{batch:>6} {o['median_ms']:>8.2f} / {o['best_ms']:<5.2f} "
            f"{d['median_ms']:>8.2f} / {d['best_ms']:<5.2f} {speedup:>8.1f}x"
        )
    y = report["yunet_ms_a_tile"]
    print(
        f"\n== YuNet, CPU ms a 1024x1024 tile: onnxruntime {y['onnxruntime']['median_ms']:.1f} "
        f"(best {y['onnxruntime']['best_ms']:.1f}), OpenCV {y['opencv']['median_ms']:.1f} "
        f"(best {y['opencv']['best_ms']:.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not datasets.FACES.is_dir():
        print(f"face photos not found at {datasets.FACES}", file=sys.stderr)
        return 2
    report = run(args.rounds)
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
