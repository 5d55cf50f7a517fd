"""Where a 24 MP crowd photo's time goes, stage by stage, on one core.

    uv run python -m loadtest.profile_photo                     # 200 faces, both runtimes
    uv run python -m loadtest.profile_photo --faces 20 --runtimes onnxruntime
    uv run python -m loadtest.profile_photo --sky 0.4 --runtimes onnxruntime,onnxruntime:all-tiles

The photo is the hard case of issue 29: a 6000x4000 crowd of `--faces` real faces from
../shared at 40-130 px (a race's finish area, a stand), a quarter of them blurred, dim
or tilted, on a faceless background (loadtest/datasets.py). Each runtime runs in a fresh
process (FACEMATCH_RUNTIME), which indexes the photo once to warm up and then
`--repeat` times through the real `workers.faces.index_photo`, with each stage's
function wrapped in a CPU-time counter. The database stage stores the faces and matches
them against 1,000 attendees in a throwaway PostgreSQL, as the indexing job does.

`--sky` paints the top of the photo as a clear sky first (faces are pasted onto it too);
a runtime named `X:all-tiles` runs YuNet on every tile, flat ones included
(`faces.FLAT_STD = 0`), to show what skipping flat tiles saves and that it loses nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest import datasets
from loadtest.crowd_bench import IOU_HIT, iou

DENSE_SIZES = (40, 45, 50, 60, 70, 80, 100, 130)


def dense_crowd(faces: int, seed: int = 29, sky: float = 0.0) -> datasets.Crowd:
    from loadtest.accuracy import held_out_selfies

    _, pool = held_out_selfies(datasets.identities())
    [photo] = datasets.crowds(
        datasets.face_sources(pool),
        1,
        seed=seed,
        per_photo=(faces, faces),
        sizes=DENSE_SIZES,
        sky=sky,
    )
    return photo


class Stages:
    """CPU seconds and calls per stage, from wrappers around the engine's functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[stage] += time.process_time() - started
                self.calls[stage] += 1

        setattr(owner, name, timed)


def _in_process(photo_file: str, repeat: int, variant: str) -> dict[str, Any]:
    import pickle

    import numpy as np

    from workers import faces

    if variant == "all-tiles":
        faces.FLAT_STD = 0.0
    photo = pickle.loads(Path(photo_file).read_bytes())
    faces.load_models()
    faces.index_photo(photo.data)  # warm-up
    stages = Stages()
    stages.wrap(faces, "decode", "decode (JPEG, full size)")
    stages.wrap(faces, "_yunet_boxes", "YuNet (tiles and overview)")
    stages.wrap(faces, "merge_detections", "merge (NMS across tiles)")
    stages.wrap(faces, "face_chip", "landmarks and aligned chips")
    stages.wrap(faces, "encode_chips", "encoder")
    stages.wrap(faces, "sharpness", "quality (sharpness)")
    total = 0.0
    for _ in range(repeat):
        started = time.process_time()
        _, found = faces.index_photo(photo.data)
        total += time.process_time() - started
    stored = _database([(f.box, f.encoding, f.quality) for f in found])
    hits = sum(any(iou(p.box, f.box) >= IOU_HIT for f in found) for p in photo.faces)
    return {
        "runtime": os.environ.get("FACEMATCH_RUNTIME", "onnxruntime")
        + (f":{variant}" if variant else ""),
        "faces_pasted": len(photo.faces),
        "faces_found": len(found),
        "pasted_found": hits,
        "cpu_s_per_photo": total / repeat,
        "stages": {k: v / repeat for k, v in stages.seconds.items()},
        "calls": {k: v // repeat for k, v in stages.calls.items()},
        "database_s": stored,
        "encodings": np.array([f.encoding for f in found]).tolist(),
        "boxes": [f.box for f in found],
    }


def _database(found: list[Any]) -> float:
    """CPU and wall seconds of the job's write: the faces stored and matched, 1,000 attendees."""
    import numpy as np

    from core.config import settings
    from core.models import Photo
    from loadtest.accuracy import add_event, add_faces, matching_db
    from workers import matching

    rng = np.random.default_rng(29)
    selfies = {
        f"a{i}": v / np.linalg.norm(v) * 0.6 for i, v in enumerate(rng.normal(size=(1000, 128)))
    }
    with matching_db() as session:
        event = add_event(session, "profile", selfies, [])
        photo = Photo(event_id=event.id, storage_key="p", filename="p.jpg",
                      content_type="image/jpeg", bytes=1, width=6000, height=4000,
                      status="indexed", face_count=len(found))  # fmt: skip
        session.add(photo)
        session.commit()
        started = time.perf_counter()
        add_faces(session, event.id, photo.id, found, detected=6000)
        session.flush()
        matching.match_photo(session, event.id, photo.id, 0.6, settings.MATCH_MARGIN)
        session.commit()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runtimes", default="onnxruntime,reference")
    parser.add_argument("--sky", type=float, default=0.0, help="the top share painted as sky")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_in_process(args.child[0], int(args.child[1]), args.child[2])))
        return 0
    if not datasets.FACES.is_dir():
        print(f"face photos not found at {datasets.FACES}", file=sys.stderr)
        return 2
    import pickle
    import tempfile

    import numpy as np

    photo = dense_crowd(args.faces, sky=args.sky)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.pkl"
        src.write_bytes(pickle.dumps(photo))
        for name in args.runtimes.split(","):
            runtime, _, variant = name.partition(":")
            env = {**os.environ, "FACEMATCH_RUNTIME": runtime, "OMP_NUM_THREADS": "1",
                   "OPENBLAS_NUM_THREADS": "1"}  # fmt: skip
            out = subprocess.run(
                [sys.executable, "-m", "loadtest.profile_photo", "--child", str(src),
                 str(args.repeat), variant],
                env=env, capture_output=True, text=True, check=True,
                cwd=Path(__file__).resolve().parents[1],
            ).stdout  # fmt: skip
            results.append(json.loads(out.strip().splitlines()[-1]))
    for r in results:
        print(
            f"\n== {r['runtime']}: a 6000x4000 crowd{' under a sky' if args.sky else ''}, "
            f"{r['faces_pasted']} faces pasted, "
            f"{r['faces_found']} found ({r['pasted_found']} of the pasted), "
            f"{r['cpu_s_per_photo']:.2f} CPU s a photo"
        )
        for stage, seconds in sorted(r["stages"].items(), key=lambda s: -s[1]):
            calls = r["calls"][stage]
            print(f"  {stage:32} {seconds:6.2f} s  ({calls} calls)")
        rest = r["cpu_s_per_photo"] - sum(r["stages"].values())
        print(f"  {'the rest (tiles copied, boxes, glue)':32} {rest:6.2f} s")
        print(f"  {'database (store and match, wall)':32} {r['database_s']:6.2f} s")
    if len(results) == 2:
        a, b = results
        if a["boxes"] == b["boxes"]:
            diff = np.abs(np.array(a["encodings"]) - np.array(b["encodings"])).max()
            print(f"\nsame boxes; largest vector component difference {diff:.2e}")
        else:
            print(f"\nthe boxes differ: {len(a['boxes'])} against {len(b['boxes'])}")
    if args.json:
        for r in results:
            del r["encodings"]
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
