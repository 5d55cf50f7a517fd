"""Settings for every facematch process, read from `FACEMATCH_*` environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me"


MAX_TOLERANCE = 0.75
"""The loosest tolerance an event may have: past it dlib's encodings match strangers."""
MAX_MATCH_MARGIN = 0.05
MAX_RETENTION_DAYS = 3650
"""The longest an event may be kept after it closes, by its own setting (ten years)."""
NEAREST_RADIUS = MAX_TOLERANCE + MAX_MATCH_MARGIN
"""How far a face's nearest attendees are kept (`face_nearest`): any tolerance and margin
allowed are decided from them alone."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FACEMATCH_",
        env_file=".env",
        extra="ignore",
        # In the cluster, secrets are files (FACEMATCH_DATABASE_URL, ...) in this folder.
        secrets_dir=os.environ.get("FACEMATCH_SECRETS_DIR") or None,
    )

    # `local` runs the embedded PostgreSQL and Valkey; `cluster` expects external ones.
    MODE: Literal["local", "cluster"] = "local"
    DATA_DIR: Path = Path(".data")
    # Empty means "the embedded server of local mode".
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    PUBLIC_URL: str = "http://127.0.0.1:8000"

    # If set, /metrics answers only `Authorization: Bearer <this>` (Prometheus' bearer_token).
    # In cluster mode /metrics is off without one.
    METRICS_TOKEN: str = ""
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses or CIDRs,
    # comma-separated (the ingress controller's pods). Any other peer is the client itself,
    # whatever it sends. "*" is refused outside local mode.
    TRUSTED_PROXIES: str = "127.0.0.1,::1"
    # FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN, on the origin whose
    # storage holds tokens. None: on in local mode, off in cluster mode.
    API_DOCS: bool | None = None
    LOG_LEVEL: str = "INFO"
    # One JSON object per line (for log collectors), or text for a terminal.
    LOG_FORMAT: Literal["json", "text"] = "json"
    # One line per request at INFO; `facematch-dev up` sets WARNING: only 5xx answers.
    ACCESS_LOG_LEVEL: str = "INFO"
    # uvicorn's and RQ's own lines (start-up, registries); `facematch-dev up` sets WARNING.
    LIBRARY_LOG_LEVEL: str = "INFO"

    SECRET_KEY: str = DEFAULT_SECRET
    ACCESS_TOKEN_MINUTES: int = 60 * 24
    # OWASP's argon2id floor: 19 MiB memory, 2 iterations, 1 lane.
    ARGON2_MEMORY_KIB: int = 19 * 1024
    ARGON2_TIME_COST: int = 2
    # Requests inside the app at once per API process; keep it under the DB pool (40) and
    # anyio's 40 threads (api/concurrency.py says why). Others wait, then get a 503.
    API_MAX_CONCURRENT_REQUESTS: int = Field(default=24, ge=1, le=39)
    API_QUEUE_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # Rate limits per minute on the routes that hash passwords; 0 turns one off.
    LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT: int = Field(default=10, ge=0)
    LOGIN_ATTEMPTS_PER_MINUTE_PER_IP: int = Field(default=60, ge=0)
    REGISTRATIONS_PER_MINUTE_PER_IP: int = Field(default=30, ge=0)
    # Sign-in links mailed to attendees: single use, valid this long.
    SIGN_IN_LINK_MINUTES: int = Field(default=15, ge=1, le=60)
    # Links mailed per address per hour, and link redemptions per minute per client address
    # (a token has 256 bits; the limit makes guessing visibly futile, and logs it).
    SIGN_IN_LINKS_PER_HOUR_PER_ACCOUNT: int = Field(default=5, ge=0)
    LINK_REDEMPTIONS_PER_MINUTE_PER_IP: int = Field(default=20, ge=0)
    # Unknown event codes a client may name per minute (event pages, QR codes, the home
    # page's form); past it, every code is refused until the minute ends.
    EVENT_CODE_MISSES_PER_MINUTE_PER_IP: int = Field(default=20, ge=0)
    # Hashes running at once per API process: each holds ARGON2_MEMORY_KIB and a core.
    PASSWORD_HASH_CONCURRENCY: int = Field(default=4, ge=1)

    # Where photos live: a local (or shared ReadWriteMany) folder, or an S3-compatible bucket.
    STORAGE_BACKEND: Literal["local", "s3"] = "local"
    STORAGE_ROOT: Path | None = None
    S3_BUCKET: str = ""
    S3_PREFIX: str = ""
    # For MinIO, Ceph, R2 and the like; empty means AWS.
    S3_ENDPOINT_URL: str | None = None
    S3_REGION: str | None = None
    # Empty means boto3's own chain (IRSA, instance profile, AWS_* variables).
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: str | None = None

    # Euclidean distance between 128-d dlib encodings; lower is stricter.
    MATCH_TOLERANCE: float = Field(default=0.6, gt=0, le=MAX_TOLERANCE)
    # A face goes to its nearest attendee only if the runner-up is this much further.
    MATCH_MARGIN: float = Field(default=0.03, ge=0, le=MAX_MATCH_MARGIN)
    # A face whose quality (0..1 from pixel size and sharpness) is under MATCH_WEAK_QUALITY
    # must be MATCH_WEAK_PENALTY nearer than the tolerance to match (loadtest/README.md).
    MATCH_WEAK_QUALITY: float = Field(default=0.15, ge=0, le=1)
    MATCH_WEAK_PENALTY: float = Field(default=0.03, ge=0, le=0.5)
    # Look-alikes (workers/matching/lookalikes.py): an attendee's faces of different photos within
    # MATCH_LOOKALIKE_LINK of each other are one person's; a group of two or more whose mean
    # distance is more than MATCH_LOOKALIKE_OFFSET inside the tolerance is someone else's.
    # A link of 0 turns the rule off. Chosen by `make bench` (loadtest/README.md, "Precision").
    MATCH_LOOKALIKE_LINK: float = Field(default=0.5, ge=0, le=1)
    MATCH_LOOKALIKE_OFFSET: float = Field(default=0.04, ge=0, le=0.5)
    # Photo face detector. YuNet on full-resolution tiles finds faces down to ~40 px in
    # 24 MP photos; HOG (on a 2000 px copy) and dlib's CNN are kept for comparison.
    DETECTOR: Literal["yunet", "hog", "cnn"] = "yunet"
    # What runs YuNet and dlib's face encoder: onnxruntime on one thread (the same networks
    # and weights, vectors within 1e-6 of dlib's, ~5x faster a photo), or the reference:
    # OpenCV's FaceDetectorYN and dlib's own encoder, for comparison (loadtest/README.md).
    RUNTIME: Literal["onnxruntime", "reference"] = "onnxruntime"
    # A bib read (workers/bibs.py) counts for "my photos" and bib search when the least
    # likely of its characters is at least this probable. Chosen by `make bench`
    # (loadtest/bench_bibs.py): the lowest with no wrong bib on photos it was not tuned on.
    BIB_MIN_CONFIDENCE: float = Field(default=0.9, ge=0, le=1)
    # A bib pass (a link mailed to a start list's address) shows its bib's photos this long.
    BIB_PASS_DAYS: int = Field(default=30, ge=1, le=365)
    # Bib searches and pass requests, per client a minute: an open search is no way to
    # walk every bib of a race quickly.
    BIB_SEARCHES_PER_MINUTE_PER_IP: int = Field(default=30, ge=0)
    # Encoder passes per selfie, averaged; each adds ~200 ms to the verdict (loadtest/README.md).
    SELFIE_JITTERS: int = Field(default=1, ge=1, le=20)
    MAX_UPLOAD_BYTES: int = 50 * 1024 * 1024
    # One request of photos, all files together (the studio sends one file a request); the
    # chart derives its ingress' proxy-body-size from it.
    MAX_UPLOAD_REQUEST_BYTES: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    # Any other request's body (JSON): read no further past it (api/bodies.py).
    MAX_BODY_BYTES: int = Field(default=256 * 1024, ge=1024)
    # A body with no byte for this long, or slower than the rate below once this long has
    # passed, is answered 408: a slow client holds a socket, never a request slot.
    BODY_IDLE_SECONDS: float = Field(default=15, gt=0)
    BODY_MIN_BYTES_PER_SECOND: int = Field(default=8 * 1024, ge=0)
    # Bytes of bodies being received at once per API process, spooled past 1 MiB to /tmp
    # (the chart's tmpSizeLimit holds them); a body past it is answered 503 with Retry-After.
    BODY_SPOOL_BYTES: int = Field(default=1024 * 1024 * 1024, ge=1024 * 1024)
    # Requests with a body over 1 MiB (photos, selfies) inside the app at once per process:
    # each holds its files in memory while they are checked and stored.
    UPLOAD_CONCURRENCY: int = Field(default=3, ge=1)
    MAX_SELFIE_BYTES: int = 15 * 1024 * 1024
    MAX_IMAGE_PIXELS: int = 120_000_000
    # Memory one image may take decoded (pixels x the bytes a pixel takes in each step from
    # file to RGB array; core/decoding.py). A JPEG over it is decoded at 1/2, 1/4 or 1/8
    # scale; another format is refused at upload. Sized to the chart's worker limit.
    DECODE_BUDGET_BYTES: int = Field(default=320 * 1024 * 1024, ge=16 * 1024 * 1024)
    MAX_FILES_PER_UPLOAD: int = 200
    MAX_SELFIES_PER_ATTENDEE: int = 3
    # A selfie uploaded as a file rather than taken live with a head-turn challenge
    # (workers/liveness.py); an event may say otherwise. None: on in local mode, off in
    # cluster mode.
    SELFIE_UPLOAD: bool | None = None
    # An event's webhook may name a loopback, private or link-local address (and plain
    # http). None: in local mode only; in a cluster such a URL would reach its insides
    # (the database, the cloud's metadata service) from the worker.
    WEBHOOK_PRIVATE_ADDRESSES: bool | None = None
    # Seconds a webhook receiver has to answer one delivery.
    WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10, gt=0, le=60)
    # A live selfie's challenge is spent once, within this many seconds.
    LIVE_CHALLENGE_SECONDS: int = Field(default=120, ge=10, le=900)
    MAX_LIVE_FRAME_BYTES: int = 4 * 1024 * 1024
    # Selfie attempts (challenges and uploads) per hour; a venue shares one address.
    SELFIE_ATTEMPTS_PER_HOUR_PER_ATTENDEE: int = Field(default=12, ge=0)
    SELFIE_ATTEMPTS_PER_HOUR_PER_IP: int = Field(default=300, ge=0)
    # One person per account: every selfie after the first within this of it.
    SELFIE_SAME_PERSON_DISTANCE: float = Field(default=0.5, gt=0, le=1)
    # A selfie this close to another attendee's at the event is held for review.
    SELFIE_DUPLICATE_DISTANCE: float = Field(default=0.4, gt=0, le=1)
    # An open event closes by itself this many days after its last upload, so the purge
    # of bystanders' encodings always comes; an event may say otherwise. None: never.
    AUTO_CLOSE_DAYS: int | None = Field(default=14, ge=1, le=MAX_RETENTION_DAYS)
    # Someone who never joined asks to be left out: faces this close to their live selfie.
    OPT_OUT_DISTANCE: float = Field(default=0.5, gt=0, le=1)
    CONSENT_POLICY_VERSION: str = "2026-12-03"
    # Privacy: a selfie image is deleted once it is judged; its encoding is what matching needs.
    KEEP_SELFIE_IMAGES: bool = False
    # Encodings of faces that matched no attendee (bystanders who never consented) are
    # deleted this long after their event closes.
    UNMATCHED_FACE_RETENTION_HOURS: float = Field(default=72, ge=0)
    # A closed event, with its photos, faces, selfies and attendees, is deleted this many
    # days after it closes, unless the event sets its own `retention_days`. None: kept
    # until its photographer deletes it.
    EVENT_RETENTION_DAYS: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)
    # Photos an event's deletion deletes per transaction (workers/jobs/deletion.py).
    DELETE_BATCH_PHOTOS: int = Field(default=500, ge=1)

    # Photos and selfies still pending or indexing after this long, with no job RQ will
    # run, are re-enqueued. Jobs still queued, running or due are never doubled, so this
    # only needs to outlast the moment between a commit and its enqueue.
    RECONCILE_STALE_SECONDS: int = Field(default=60, ge=1)
    # Seconds between the reconciler's passes (`facematch reconcile --forever`).
    RECONCILE_INTERVAL_SECONDS: int = Field(default=15, ge=1)
    MAX_JOB_ATTEMPTS: int = 3

    # uvicorn processes `facematch-dev up` runs; one process is one core at most (the GIL).
    # In the cluster the API scales by pods instead.
    API_PROCESSES: int = Field(default=2, ge=1)
    # `facematch-dev up` runs workers at this niceness so the API keeps its share of a shared CPU.
    WORKER_NICE: int = Field(default=10, ge=0, le=19)
    # A worker that judges selfies keeps the faces of big events it judged selfies for in
    # memory, up to this many faces in all (512 MiB per million; workers/matching/face_cache.py).
    # 0: never, a new selfie's faces are found by a scan in SQL.
    FACE_CACHE_MAX_FACES: int = Field(default=0, ge=0)
    # A worker that indexes photos keeps the valid selfies of busy events (1,000 selfies and
    # more) in memory, up to this many in all (10,000: 5 MiB; workers/matching/selfie_cache.py).
    # 0: never, a new photo's faces are compared with every selfie in SQL.
    SELFIE_CACHE_MAX_SELFIES: int = Field(default=100_000, ge=0)

    # Outgoing mail. Empty host in local mode: the stack's embedded catcher (`/dev/mail`).
    SMTP_HOST: str = ""
    SMTP_PORT: int = Field(default=587, ge=1, le=65535)
    # starttls: upgrade a plain connection (port 587); tls: TLS from the start (port 465).
    SMTP_SECURITY: Literal["starttls", "tls", "none"] = "starttls"
    SMTP_USERNAME: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_TIMEOUT_SECONDS: float = Field(default=20, gt=0)
    MAIL_FROM: str = "facematch <no-reply@facematch.example.com>"
    # New photos of an attendee are told in one mail per attendee per this many minutes.
    DIGEST_INTERVAL_MINUTES: int = Field(default=30, ge=1)

    ADMIN_EMAIL: str | None = None
    ADMIN_PASSWORD: str | None = None

    @model_validator(mode="after")
    def _refuse_default_secret_outside_local(self) -> Settings:
        if self.SECRET_KEY == DEFAULT_SECRET:
            if self.MODE != "local":
                raise ValueError("FACEMATCH_SECRET_KEY must be set outside local mode")
            self.SECRET_KEY = _local_secret(self.DATA_DIR)
        if len(self.SECRET_KEY) < 32:
            raise ValueError("FACEMATCH_SECRET_KEY must be at least 32 characters")
        if self.STORAGE_BACKEND == "s3" and not self.S3_BUCKET:
            raise ValueError("FACEMATCH_S3_BUCKET is required with the s3 storage backend")
        if self.MODE != "local" and not (self.DATABASE_URL and self.REDIS_URL):
            raise ValueError(
                "FACEMATCH_DATABASE_URL and FACEMATCH_REDIS_URL are required in cluster mode"
            )
        if self.SELFIE_UPLOAD is None:
            self.SELFIE_UPLOAD = self.MODE == "local"
        if self.WEBHOOK_PRIVATE_ADDRESSES is None:
            self.WEBHOOK_PRIVATE_ADDRESSES = self.MODE == "local"
        if self.API_DOCS is None:
            self.API_DOCS = self.MODE == "local"
        if self.MODE != "local" and "*" in self.trusted_proxies:
            raise ValueError(
                "FACEMATCH_TRUSTED_PROXIES must list the proxies' addresses or CIDRs, not *: "
                "with *, any client could name its own address and evade every rate limit"
            )
        if self.MAX_UPLOAD_REQUEST_BYTES < self.MAX_UPLOAD_BYTES:
            raise ValueError("FACEMATCH_MAX_UPLOAD_REQUEST_BYTES must hold one photo at least")
        return self

    @property
    def smtp_address(self) -> tuple[str, int]:
        """Where mail goes: the configured server, or the local stack's catcher."""
        if self.SMTP_HOST:
            return self.SMTP_HOST, self.SMTP_PORT
        if self.MODE != "local":
            raise RuntimeError("FACEMATCH_SMTP_HOST is not set: no mail can be sent")
        host, _, port = _local_url(self.DATA_DIR / "smtp.url").rpartition(":")
        return host.removeprefix("smtp://"), int(port)

    @property
    def trusted_proxies(self) -> list[str]:
        return [p.strip() for p in self.TRUSTED_PROXIES.split(",") if p.strip()]

    @property
    def storage_root(self) -> Path:
        return self.STORAGE_ROOT or self.DATA_DIR / "storage"

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or _local_url(self.DATA_DIR / "postgres.url")

    @property
    def redis_url(self) -> str:
        return self.REDIS_URL or _local_url(self.DATA_DIR / "valkey.url")


def _local_secret(data_dir: Path) -> str:
    """A per-checkout random key, so local tokens survive restarts but never leak between stacks."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _local_url(path: Path) -> str:
    """The URL the local stack wrote when it started its embedded server."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(
            f"{path} is missing: start the local stack with `make dev`, "
            "or set FACEMATCH_DATABASE_URL and FACEMATCH_REDIS_URL"
        ) from None


settings = Settings()
