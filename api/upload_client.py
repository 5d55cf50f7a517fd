"""`facematch upload`: a photographer's folder (a camera's card, or a folder a tethered
camera writes into) sent to an event over the API, hashes first.

Each file's SHA-256 is computed here and the API is asked which of them the event has
(`POST /api/events/{id}/photos/known`); only the others are sent, one a request, with
retries. An upload cut off halfway is resumed by running the same command again: it
sends what is missing and nothing twice. `watch` keeps looking for new files, and sends
a file once its size and time have not changed for `SETTLE_SECONDS` (a camera writing
it is done). Only the standard library and urllib3 (the API's own dependency): the
command works from the API's wheel, without a checkout.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"}
ASK_BATCH = 1000
"""Hashes asked about a request (the API takes up to 2,000)."""
RETRIES = 5
"""Tries of one request: connection errors, 429 and 5xx are retried with backing off."""
SETTLE_SECONDS = 2.0


class UploadError(RuntimeError):
    """The server refused in a way another try does not fix (a bad password, no such event)."""


@dataclass
class Tally:
    files: int = 0
    known: int = 0
    """Files the event had already: not sent."""
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)


class Client:
    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 120) -> None:
        self.base = base_url.rstrip("/")
        self.token = token
        self.http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=timeout), retries=False
        )

    def request(self, method: str, path: str, *, json_body: Any = None, fields: Any = None) -> Any:
        """The answer's JSON; retried on a dropped connection, 429 and 5xx."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(json_body).encode()
        for attempt in range(RETRIES):
            try:
                if fields is not None:
                    response = self.http.request(
                        method, self.base + path, fields=fields, headers=headers
                    )
                else:
                    response = self.http.request(method, self.base + path, body=body,
                                                 headers=headers)  # fmt: skip
            except urllib3.exceptions.HTTPError:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(2**attempt)
                continue
            if (response.status == 429 or response.status >= 500) and attempt < RETRIES - 1:
                time.sleep(float(response.headers.get("Retry-After", 2**attempt)))
                continue
            if response.status >= 400 and response.status not in (413, 422):
                raise UploadError(f"{method} {path}: {response.status} {response.data[:300]!r}")
            return json.loads(response.data or b"null")
        raise UploadError(f"{method} {path}: no answer after {RETRIES} tries")

    def sign_in(self, email: str, password: str) -> None:
        response = self.http.request_encode_body(
            "POST", self.base + "/api/auth/token", fields={"username": email, "password": password},
            encode_multipart=False,
        )  # fmt: skip
        if response.status != 200:
            raise UploadError(f"sign-in refused: {response.status}")
        self.token = json.loads(response.data)["access_token"]

    def event_id(self, code: str) -> str:
        """The id of the event with this code among the caller's (own and contributed)."""
        wanted = _plain(code)
        cursor = None
        while True:
            page = self.request("GET", "/api/events?limit=200" + (
                f"&cursor={quote(cursor)}" if cursor else ""))  # fmt: skip
            for event in page["data"]:
                if _plain(event["code"]) == wanted:
                    return str(event["id"])
            cursor = page.get("next_cursor")
            if not cursor:
                raise UploadError(f"no event of yours has the code {code!r}")


def _plain(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def photo_files(folder: Path, *, recursive: bool = True) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in folder.glob(pattern)
        if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES and not p.name.startswith(".")
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upload(
    client: Client,
    event_id: str,
    files: list[Path],
    *,
    on_file: Callable[[Path, str], None] = lambda path, outcome: None,
) -> Tally:
    """Send the files the event does not have yet; `on_file` hears each file's outcome."""
    tally = Tally(files=len(files))
    hashes = {path: sha256_of(path) for path in files}
    known: set[str] = set()
    for batch in _batches(sorted(set(hashes.values())), ASK_BATCH):
        answer = client.request("POST", f"/api/events/{event_id}/photos/known",
                                json_body={"sha256": batch})  # fmt: skip
        if not isinstance(answer, dict) or "known" not in answer:
            raise UploadError(f"the server did not say which files it has: {answer}")
        known.update(answer["known"])
    sent: set[str] = set()
    for path, digest in hashes.items():
        if digest in known or digest in sent:
            tally.known += 1
            on_file(path, "known")
            continue
        answer = client.request("POST", f"/api/events/{event_id}/photos",
                                fields={"files": (path.name, path.read_bytes())})  # fmt: skip
        tally.sent += 1
        sent.add(digest)
        result = (answer or {}).get("data", [{}])[0] if isinstance(answer, dict) else {}
        if result.get("id") and result.get("duplicate"):
            tally.duplicates += 1
            on_file(path, "duplicate")
        elif result.get("id"):
            tally.accepted += 1
            on_file(path, "sent")
        else:
            tally.refused.append(f"{path}: {result.get('code') or answer}")
            on_file(path, "refused")
    return tally


def settled(files: list[Path], seen: dict[Path, tuple[int, float, float]]) -> list[Path]:
    """The files whose size and modification time have not changed for SETTLE_SECONDS."""
    now = time.monotonic()
    ready = []
    for path in files:
        stat = path.stat()
        before = seen.get(path)
        if before is None or before[:2] != (stat.st_size, stat.st_mtime):
            seen[path] = (stat.st_size, stat.st_mtime, now)
        elif now - before[2] >= SETTLE_SECONDS:
            ready.append(path)
    return ready
