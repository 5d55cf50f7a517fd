"""Running a face pipeline over photos the way a worker does, for the benchmarks.

Each pipeline runs in a fresh process that loads its models first, then forks
one child per photo, as RQ forks a work horse per job. Each photo's CPU time and
peak RSS are the child's own (`os.wait4`), so the peak is what a worker pod
holds while it indexes that photo: the preloaded models plus the job.

Pipelines:
- `yunet`: the engine's default (workers.faces.index_photo, YuNet tiles), on onnxruntime;
- `reference`: the same engine on the reference runtime (FACEMATCH_RUNTIME=reference:
  OpenCV's FaceDetectorYN and dlib's own encoder), the engine before issue 29;
- `hog`: the engine before v2 (HOG, one upsample, on a 2000 px copy);
- `naive`: the old system (face_recognition at full size, upsample 1);
- `selfie`: a selfie's verdict (workers.faces.judge_selfie), its one face if accepted.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIPELINES = ("yunet", "reference", "hog", "naive", "selfie")
RUNTIMES = {"reference": "reference"}
"""Pipelines that run on another FACEMATCH_RUNTIME than the default; `selfie:reference`
is a selfie's verdict on it."""


@dataclass
class PhotoRun:
    faces: list[tuple[tuple[int, int, int, int], Any, float]]
    """(box, encoding, quality) for each face found; quality is 1.0 for `naive`."""
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float


def _pipeline(name: str):  # type: ignore[no-untyped-def]
    """A function bytes -> [(box, encoding, quality)], its models loaded now."""
    if name == "naive":
        import io

        import face_recognition

        def naive(data: bytes):  # type: ignore[no-untyped-def]
            image = face_recognition.load_image_file(io.BytesIO(data))
            boxes = face_recognition.face_locations(image)
            encodings = face_recognition.face_encodings(image, boxes)
            return [(b, e, 1.0) for b, e in zip(boxes, encodings, strict=True)]

        return naive
    from workers import faces

    faces.load_models()
    if name == "selfie":

        def selfie(data: bytes):  # type: ignore[no-untyped-def]
            verdict = faces.judge_selfie(data)
            return [((0, 0, 0, 0), verdict.encoding, verdict.quality)] if verdict.ok else []

        return selfie

    model = "yunet" if name == "reference" else name

    def engine(data: bytes):  # type: ignore[no-untyped-def]
        return [(f.box, f.encoding, f.quality) for f in faces.index_photo(data, model=model)[1]]

    return engine


def _fork_one(run, data: bytes) -> PhotoRun:  # type: ignore[no-untyped-def]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "work horse"
        os.close(read_end)
        status = 0
        try:
            started = time.perf_counter()
            found = run(data)
            payload = pickle.dumps((found, time.perf_counter() - started))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        except BaseException:
            status = 1
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as result:
        payload = result.read()
    _, status, usage = os.wait4(pid, 0)
    if status != 0 or not payload:
        raise RuntimeError(f"a benchmark child failed with status {status}")
    found, seconds = pickle.loads(payload)
    return PhotoRun(
        faces=found,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,
    )


def child_main(pipeline: str, photos_file: str, out: str) -> None:
    """In the pipeline's own process: load models, then one forked child per photo."""
    photos = pickle.loads(Path(photos_file).read_bytes())
    run = _pipeline(pipeline)
    runs = [_fork_one(run, photo.data) for photo in photos]
    Path(out).write_bytes(pickle.dumps(runs))


def run_in_children(pipeline: str, photos: list, n: int = 1) -> list[list[PhotoRun]]:  # type: ignore[type-arg]
    """n worker-like processes side by side, each indexing every photo; their runs."""
    pipeline, _, runtime = pipeline.partition(":")
    if pipeline not in PIPELINES:
        raise ValueError(pipeline)
    runtime = runtime or RUNTIMES.get(pipeline, "onnxruntime")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photos.pkl"
        src.write_bytes(pickle.dumps(photos))
        outs = [Path(tmp) / f"out{i}.pkl" for i in range(n)]
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "FACEMATCH_RUNTIME": runtime,
        }
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "loadtest.engine_runs", pipeline, str(src), str(out)],
                env=env,
                cwd=Path(__file__).resolve().parents[1],
            )
            for out in outs
        ]
        for child in children:
            if child.wait() != 0:
                raise SystemExit(f"a benchmark process failed: {child.args}")
        return [pickle.loads(out.read_bytes()) for out in outs]


if __name__ == "__main__":
    # Through the package, so the pickled PhotoRuns name loadtest.engine_runs, not __main__.
    from loadtest.engine_runs import child_main as main

    main(*sys.argv[1:4])
