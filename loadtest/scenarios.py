"""The load test's traffic, as plain functions over a Locust user's HTTP client.

`locustfile.py` only composes these into user classes. This module imports
nothing beyond the standard library and `requests` (a Locust dependency), so
it runs unchanged in the stock Locust image, where the locustfile and this
file are mounted side by side from a ConfigMap.

Settings come from `LOADTEST_*` environment variables (see `Settings`).

Matching needs distinct faces: two attendees of one event with the same face
make every match ambiguous, and the margin rule then gives it to nobody. So
each process hands out identities round-robin and opens a new event "slot"
whenever every identity is taken in the current one. The photographer's bulk
upload feeds all slots, so every attendee's photos exist somewhere in the
queue.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests

PASSWORD = "load-test passphrase 1"
"""Every simulated account's password; the accounts live only in the tested stack."""
POLL_INTERVALS = (0.5, 0.5, 1.0, 1.0, 2.0, 3.0, 5.0)
"""Back-off between selfie status polls; the last value repeats."""
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def tagged(image: bytes, tag: str) -> bytes:
    """The same JPEG or PNG with `tag` in a comment (a JPEG COM segment, a PNG tEXt chunk):
    the same pixels, other bytes. The API keeps one photo per content hash in an event, so
    a load test that uploads one file many times tags each upload to mean many photos."""
    payload = tag.encode()
    if image.startswith(b"\xff\xd8"):
        return image[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + image[2:]
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        body = b"tEXt" + b"Comment\x00" + payload
        chunk = len(body[4:]).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
        return image[:33] + chunk + image[33:]  # after the signature and the IHDR chunk
    raise ValueError("not a JPEG or PNG")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"LOADTEST_{name}", default)


def _secret(name: str) -> str:
    """`LOADTEST_ADMIN_<NAME>`, else the file `<name>` in LOADTEST_SECRETS_DIR (a Secret)."""
    value = _env(f"ADMIN_{name.upper()}", "")
    folder = _env("SECRETS_DIR", "")
    if not value and folder and (Path(folder) / name).is_file():
        value = (Path(folder) / name).read_text().strip()
    return value


@dataclass(frozen=True)
class Settings:
    """`LOADTEST_*` environment variables."""

    faces: Path = field(
        default_factory=lambda: Path(
            _env("FACES", str(Path(__file__).resolve().parents[2] / "shared/testdata/faces"))
        )
    )
    """Face photos: the shared test data (identities.csv) or a flat `<identity>__<n>.jpg` folder."""
    admin_email: str = field(default_factory=lambda: _secret("email"))
    admin_password: str = field(default_factory=lambda: _secret("password"))
    photos: int = field(default_factory=lambda: int(_env("PHOTOS", "1000")))
    """Photos each Locust process's photographer uploads in all, in batches."""
    photo_batch: int = field(default_factory=lambda: int(_env("PHOTO_BATCH", "10")))
    photo_interval: float = field(default_factory=lambda: float(_env("PHOTO_INTERVAL", "1")))
    """Seconds between the photographer's requests. Below the workers' pace the queue stays
    bounded however long the run (the soak); at 1 s it is a burst."""
    attendee_visits: int = field(default_factory=lambda: int(_env("ATTENDEE_VISITS", "0")))
    """Looks at "my photos" before an attendee deletes their face data and a new one takes
    their place; 0 keeps every attendee to the end (a burst of arrivals, then polling)."""
    selfie_timeout: float = field(default_factory=lambda: float(_env("SELFIE_TIMEOUT", "120")))
    """Seconds an attendee waits for the selfie verdict before the flow counts as failed."""
    run_id: str = field(default_factory=lambda: _env("RUN_ID", uuid.uuid4().hex[:8]))


@dataclass
class Identity:
    name: str
    selfie: bytes
    photos: list[tuple[str, bytes]]
    """The identity's other photos, uploaded as event photos."""


def load_identities(root: Path) -> list[Identity]:
    """Face photos grouped by person; the first photo of each is the selfie."""
    by_name: dict[str, list[Path]] = {}
    if (root / "identities.csv").is_file():
        for row in csv.DictReader((root / "identities.csv").read_text().splitlines()):
            by_name.setdefault(row["identity"], []).append(root / row["path"])
    else:
        for path in sorted(root.iterdir() if root.is_dir() else []):
            if path.suffix.lower() in IMAGE_SUFFIXES and "__" in path.stem:
                by_name.setdefault(path.stem.split("__")[0], []).append(path)
    if not by_name:
        raise RuntimeError(
            f"no face photos under {root}: set LOADTEST_FACES to ../shared/testdata/faces "
            "or to a folder of <identity>__<n>.jpg files"
        )
    return [
        Identity(
            name=name,
            selfie=paths[0].read_bytes(),
            photos=[(p.name, p.read_bytes()) for p in (paths[1:] or paths)],
        )
        for name, paths in sorted(by_name.items())
    ]


class HttpClient(Protocol):
    """The part of Locust's `HttpSession` the scenarios use."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


class UserLike(Protocol):
    client: HttpClient
    environment: Any


@dataclass
class Slot:
    event_id: str
    code: str
    next_identity: int = 0


class Fixture:
    """One Locust process's photographer, events and identities, made on first use."""

    _lock = threading.Lock()
    _instance: Fixture | None = None

    def __init__(self, host: str, settings: Settings) -> None:
        self.host = host.rstrip("/")
        self.settings = settings
        self.identities = load_identities(settings.faces)
        self.admin = self._login(settings.admin_email, settings.admin_password)
        email = f"lt-photographer-{settings.run_id}-{os.getpid()}@example.com"
        self._post(
            "/api/admin/users",
            self.admin,
            json={"email": email, "password": PASSWORD, "role": "photographer"},
        )
        self.photographer = self._login(email, PASSWORD)
        self.slots: list[Slot] = []
        self.photos_uploaded = 0
        self._attendees = itertools.count()
        # Each upload is new bytes (a tagged copy): the API keeps one photo per file.
        run = uuid.uuid4().hex[:8]
        self._uploads = (
            (f"{n}-{name}", tagged(data, f"{run}-{n}"))
            for n, (name, data) in enumerate(
                itertools.cycle([p for identity in self.identities for p in identity.photos])
            )
        )

    @classmethod
    def get(cls, host: str) -> Fixture:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls(host, Settings())
            return cls._instance

    def _post(self, path: str, token: str | None, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = requests.post(self.host + path, headers=headers, timeout=60, **kwargs)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def support_link(self, email: str, code: str) -> str:
        """The sign-in link of an attendee's registration, as an admin's support gets it."""
        body = self._post("/api/admin/sign-in-links", self.admin,
                          json={"email": email, "event_code": code})  # fmt: skip
        return str(body["url"])

    def _login(self, email: str, password: str) -> str:
        if not email:
            raise RuntimeError(
                "set LOADTEST_ADMIN_EMAIL and LOADTEST_ADMIN_PASSWORD, or LOADTEST_SECRETS_DIR"
            )
        body = self._post("/api/auth/token", None, data={"username": email, "password": password})
        return str(body["access_token"])

    def next_attendee(self) -> tuple[int, Slot, Identity]:
        """A unique attendee number, its event and a face nobody else in that event has."""
        with self._lock:
            number = next(self._attendees)
            slot_index, identity_index = divmod(number, len(self.identities))
            while len(self.slots) <= slot_index:
                name = f"loadtest {self.settings.run_id} #{len(self.slots) + 1}"
                event = self._post("/api/events", self.photographer, json={"name": name})
                self.slots.append(Slot(event_id=event["id"], code=event["code"]))
            return number, self.slots[slot_index], self.identities[identity_index]

    def next_batch(self) -> tuple[Slot, list[tuple[str, bytes]]] | None:
        """The photographer's next upload: a batch for the next event, or None when done."""
        with self._lock:
            left = self.settings.photos - self.photos_uploaded
            if left <= 0 or not self.slots:
                return None
            size = min(self.settings.photo_batch, left)
            self.photos_uploaded += size
            slot = self.slots[(self.photos_uploaded // self.settings.photo_batch) % len(self.slots)]
            return slot, [next(self._uploads) for _ in range(size)]


@contextmanager
def checked(
    client: HttpClient, method: str, path: str, name: str, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """A request that fails on its content, not only its status.

    Yields the JSON body (empty when the status already failed it). The caller
    checks it with `assert`; a failed check, a missing key, a 4xx/5xx, a
    connection error or a body that is not JSON all mark the request failed.
    """
    with client.request(method, path, name=name, catch_response=True, **kwargs) as response:
        error, body = None, {}
        if response.status_code == 0 or response.status_code >= 400:
            error = f"{response.status_code}: {(response.text or '')[:200]}"
        else:
            try:
                body = response.json()
            except ValueError:
                error = "response is not JSON"
        try:
            yield body
        except (AssertionError, KeyError, TypeError) as failed:
            error = error or (str(failed) or repr(failed)).splitlines()[0]
        if error:
            response.failure(error)
        else:
            response.success()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class AttendeeState:
    token: str = ""
    photos: int = 0


def attendee_arrives(user: UserLike, state: AttendeeState, host: str) -> None:
    """Register with the event code, open the sign-in link, upload a selfie, wait for the
    verdict, open "my photos". The link is mailed (the workers send it); the simulated
    attendee, with no mailbox, gets it from the support route an admin would use."""
    fixture = Fixture.get(host)
    number, slot, identity = fixture.next_attendee()
    email = f"lt-{fixture.settings.run_id}-{os.getpid()}-{number}@example.com"
    with checked(
        user.client,
        "POST",
        "/api/register-with-event-code",
        "[Attendee] register",
        json={"event_code": slot.code, "email": email, "name": identity.name, "consent": True},
    ) as body:
        assert body["expires_in_minutes"] > 0, "no link mailed"
    url = fixture.support_link(email, slot.code)
    with checked(
        user.client,
        "POST",
        "/api/sign-in-link/redeem",
        "[Attendee] open sign-in link",
        json={"token": url.split("#", 1)[1]},
    ) as body:
        assert body["access_token"], "no access token"
        state.token = body["access_token"]
    if not state.token:
        return
    started = time.monotonic()
    with checked(
        user.client,
        "POST",
        "/api/upload-selfie",
        "[Attendee] upload selfie",
        headers=bearer(state.token),
        files={"file": ("selfie.jpg", identity.selfie, "image/jpeg")},
    ) as body:
        assert body["status"] == "pending", f"selfie status {body['status']}"
    wait_for_verdict(user, state, started, fixture.settings.selfie_timeout)
    my_photos(user, state)


def wait_for_verdict(user: UserLike, state: AttendeeState, started: float, timeout: float) -> None:
    """Poll the selfie with back-off; the whole wait becomes "[Attendee] selfie verdict"."""
    status, error = "pending", None
    for interval in itertools.chain(POLL_INTERVALS, itertools.repeat(POLL_INTERVALS[-1])):
        if time.monotonic() - started > timeout:
            error = AssertionError(f"no verdict within {timeout:.0f} s")
            break
        time.sleep(interval)
        with checked(
            user.client,
            "GET",
            "/api/me/selfie",
            "[Attendee] selfie status",
            headers=bearer(state.token),
        ) as body:
            status = body["status"]
            assert status != "rejected", f"selfie rejected: {body['reason']}"
        if status != "pending":
            break
    if status == "rejected":
        error = AssertionError("selfie rejected")
    fire(user, "[Attendee] selfie verdict", started, error)


def fire(user: UserLike, name: str, started: float, error: Exception | None) -> None:
    """Record a whole flow's duration next to the requests, as request type FLOW."""
    user.environment.events.request.fire(
        request_type="FLOW",
        name=name,
        response_time=(time.monotonic() - started) * 1000,
        response_length=0,
        exception=error,
        context={},
    )


def my_photos(user: UserLike, state: AttendeeState) -> None:
    if not state.token:
        return
    with checked(
        user.client, "GET", "/api/me/photos", "[Attendee] my photos", headers=bearer(state.token)
    ) as body:
        assert isinstance(body["data"], list), "no photo list"
        assert body["count"] >= len(body["data"]), "count below the listed photos"
        state.photos = body["count"]


def attendee_leaves(user: UserLike, state: AttendeeState) -> None:
    """Delete the attendee's face data, as a leaving attendee may; their state is spent."""
    if state.token:
        with checked(
            user.client,
            "DELETE",
            "/api/me/face-data",
            "[Attendee] delete face data",
            headers=bearer(state.token),
        ) as body:
            assert body["selfies"] >= 1, f"deleted {body}"
    state.token, state.photos = "", 0


def photographer_uploads(user: UserLike, host: str) -> bool:
    """Upload the next batch; False once this process's share of photos is uploaded."""
    fixture = Fixture.get(host)
    batch = fixture.next_batch()
    if batch is None:
        return False
    slot, files = batch
    with checked(
        user.client,
        "POST",
        f"/api/events/{slot.event_id}/photos",
        "[Photographer] upload photos",
        headers=bearer(fixture.photographer),
        files=[("files", (name, data, "image/jpeg")) for name, data in files],
    ) as body:
        assert body["accepted"] == len(files), f"refused: {body['data']}"
    return True


def _any_event(host: str) -> tuple[Fixture, Slot] | None:
    fixture = Fixture.get(host)
    return (fixture, random.choice(fixture.slots)) if fixture.slots else None


def photographer_checks_progress(user: UserLike, host: str) -> None:
    if (picked := _any_event(host)) is None:
        return
    fixture, slot = picked
    with checked(
        user.client,
        "GET",
        f"/api/events/{slot.event_id}",
        "[Photographer] event progress",
        headers=bearer(fixture.photographer),
    ) as body:
        assert "photos_indexed" in body["progress"], "no progress"


def admin_rematches(user: UserLike, host: str) -> None:
    if (picked := _any_event(host)) is None:
        return
    fixture, slot = picked
    with checked(
        user.client,
        "POST",
        f"/api/admin/events/{slot.event_id}/rematch",
        "[Admin] rematch event",
        headers=bearer(fixture.admin),
    ) as body:
        assert body, "empty rematch answer"


def admin_reads_queues(user: UserLike, host: str) -> None:
    fixture = Fixture.get(host)
    with checked(
        user.client, "GET", "/api/admin/queues", "[Admin] queues", headers=bearer(fixture.admin)
    ) as body:
        assert set(body["queues"]) >= {"selfies", "photos"}, f"queues {body['queues']}"
