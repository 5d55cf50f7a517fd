"""A 5,000-photo folder uploaded, cut off, and uploaded again (`facematch upload`).

    uv run python -m loadtest.bench_upload                 # in `make bench-scale`
    uv run python -m loadtest.bench_upload --photos 5000 --cut 2000

A local stack (no worker: indexing is not what is measured) takes `--photos` distinct
JPEGs of a folder through the upload client (api/upload_client.py). The first run dies
after `--cut` photos, as a pulled cable would; the second is the same command again and
must send exactly the rest; the third must send nothing. It reports what each run sent
and how long it took, with the time spent hashing and asking the API what it has.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class Cut(Exception):
    """The cable, pulled."""


def make_folder(folder: Path, count: int, size: tuple[int, int] = (800, 533)) -> None:
    """Distinct JPEGs of noise (so that none compresses to another's bytes)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(5)
    for n in range(count):
        pixels = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize(size)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        (folder / f"DSC_{n:05}.JPG").write_bytes(buffer.getvalue())


def run(photos: int, cut: int) -> dict[str, Any]:
    from api import upload_client
    from loadtest.stack import local_stack

    folder = Path(tempfile.mkdtemp(prefix="facematch-upload-"))
    result: dict[str, Any] = {"photos": photos, "cut_after": cut}
    try:
        started = time.perf_counter()
        make_folder(folder, photos)
        result["folder_mb"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20)
        result["make_s"] = round(time.perf_counter() - started, 1)
        with local_stack(0) as stack:
            client = upload_client.Client(stack.base)
            client.sign_in(stack.admin_email, stack.admin_password)
            event = client.request("POST", "/api/events", json_body={"name": "Upload bench"})
            files = upload_client.photo_files(folder)
            random.Random(1).shuffle(files)  # a card is read in no particular order

            sent = 0

            def until_cut(path: Path, outcome: str) -> None:
                nonlocal sent
                sent += outcome == "sent"
                if sent == cut:
                    raise Cut

            started = time.perf_counter()
            with contextlib.suppress(Cut):
                upload_client.upload(client, event["id"], files, on_file=until_cut)
            result["first_run"] = {"sent": sent, "s": round(time.perf_counter() - started, 1)}

            for name in ("resumed_run", "third_run"):
                started = time.perf_counter()
                hashes = [upload_client.sha256_of(p) for p in files]
                hashed = time.perf_counter()
                known: list[str] = []
                for start in range(0, len(hashes), upload_client.ASK_BATCH):
                    batch = hashes[start : start + upload_client.ASK_BATCH]
                    known += client.request("POST", f"/api/events/{event['id']}/photos/known",
                                            json_body={"sha256": batch})["known"]  # fmt: skip
                asked = time.perf_counter()
                tally = upload_client.upload(client, event["id"], files)
                result[name] = {
                    "known_before": len(known),
                    "sent": tally.sent,
                    "accepted": tally.accepted,
                    "duplicates": tally.duplicates,
                    "refused": len(tally.refused),
                    "hash_s": round(hashed - started, 2),
                    "ask_s": round(asked - hashed, 2),
                    "whole_run_s": round(time.perf_counter() - asked, 1),
                }
            page = client.request("GET", f"/api/events/{event['id']}")
            result["photos_on_the_event"] = page["progress"]["photos_total"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["ok"] = (
        result["first_run"]["sent"] == cut
        and result["resumed_run"]["sent"] == photos - cut
        and result["third_run"]["sent"] == 0
        and result["photos_on_the_event"] == photos
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=5000)
    parser.add_argument("--cut", type=int, default=2000)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results/upload_resume.json"
    )
    args = parser.parse_args()
    result = run(args.photos, args.cut)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
