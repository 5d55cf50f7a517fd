"""Time from selfie upload until `GET /api/me/photos` returns the matches.

Against a running stack (`make dev`): creates a photographer and an event,
uploads the shared group photos and portraits, waits for indexing, then
registers N attendees (obama and kit_harington in turn), each uploading a
selfie and polling until their photos appear, then deleting their face data.
Prints p50 and p95.

    uv run python loadtest/selfie_latency.py --runs 20 --base http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

from loadtest.stack import join_event

FACES = Path(
    os.environ.get("FACEMATCH_FACES", Path(__file__).parents[1].parent / "shared/testdata/faces")
)
EVENT_PHOTOS = [
    "ageitgey_face_recognition/examples/knn_examples/test/obama_and_biden.jpg",
    "ageitgey_face_recognition/examples/two_people.jpg",
    "ageitgey_face_recognition/examples/knn_examples/test/kit_with_rose.jpg",
    "pypi_insightface/t1.jpg",
    "ageitgey_face_recognition/examples/obama.jpg",
    "ageitgey_face_recognition/examples/biden.jpg",
    "ageitgey_face_recognition/examples/knn_examples/train/kit_harington/john1.jpeg",
    "ageitgey_face_recognition/examples/knn_examples/train/rose_leslie/img1.jpg",
    "ageitgey_face_recognition/examples/lin-manuel-miranda.png",
]
SELFIES = {
    "obama": "ageitgey_face_recognition/examples/obama2.jpg",
    "kit_harington": "ageitgey_face_recognition/examples/knn_examples/test/johnsnow_test1.jpg",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--admin-email", default=os.environ.get("FACEMATCH_ADMIN_EMAIL"))
    parser.add_argument("--admin-password", default=os.environ.get("FACEMATCH_ADMIN_PASSWORD"))
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for work")
    args = parser.parse_args()
    if not FACES.is_dir():
        print(f"face photos not found at {FACES}", file=sys.stderr)
        return 2

    client = httpx.Client(base_url=args.base, timeout=30)
    token = (
        client.post(
            "/api/auth/token", data={"username": args.admin_email, "password": args.admin_password}
        )
        .raise_for_status()
        .json()["access_token"]
    )
    admin = {"Authorization": f"Bearer {token}"}
    suffix = uuid.uuid4().hex[:8]
    event = client.post("/api/events", json={"name": f"latency {suffix}"}, headers=admin)
    event = event.raise_for_status().json()
    files = [("files", (Path(p).name, (FACES / p).read_bytes())) for p in EVENT_PHOTOS]
    client.post(f"/api/events/{event['id']}/photos", files=files, headers=admin).raise_for_status()
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.timeout:
        progress = client.get(f"/api/events/{event['id']}", headers=admin).json()["progress"]
        if progress["photos_indexed"] + progress["photos_failed"] == len(EVENT_PHOTOS):
            break
        time.sleep(0.2)
    else:
        print("photos were not indexed in time", file=sys.stderr)
        return 1
    print(
        f"indexed {len(EVENT_PHOTOS)} photos, {progress['faces']} faces, "
        f"in {time.monotonic() - t0:.1f} s"
    )

    latencies: list[float] = []
    identities = list(SELFIES)
    for run in range(args.runs):
        identity = identities[run % len(identities)]
        email = f"{identity}-{suffix}-{run}@example.com"
        headers = join_event(client.post, "", event["code"], email, admin, identity)
        selfie = (FACES / SELFIES[identity]).read_bytes()
        start = time.monotonic()
        client.post(
            "/api/upload-selfie", files={"file": ("selfie.jpg", selfie)}, headers=headers
        ).raise_for_status()
        while time.monotonic() - start < args.timeout:
            photos = client.get("/api/me/photos", headers=headers).json()
            if photos["count"] > 0:
                break
            state = client.get("/api/me/selfie", headers=headers).json()
            if state["status"] == "rejected":
                print(f"run {run}: selfie rejected: {state['reason']}", file=sys.stderr)
                return 1
            time.sleep(0.05)
        else:
            print(f"run {run}: no matches within {args.timeout} s", file=sys.stderr)
            return 1
        latencies.append(time.monotonic() - start)
        # The next attendee may be the same person; two attendees with one face
        # would make every match ambiguous (the margin rule gives it to nobody).
        client.delete("/api/me/face-data", headers=headers).raise_for_status()
        print(
            f"run {run:2d} {identity:14s} {photos['count']} photos in {latencies[-1] * 1000:.0f} ms"
        )

    print(
        f"selfie upload -> matches over {len(latencies)} runs: "
        f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
