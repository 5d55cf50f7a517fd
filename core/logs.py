"""One JSON object per log line, with the request id that follows a request into its jobs.

The API sets the id per request (from a sane `X-Request-ID`, or a new one) and
sends it back; jobs enqueued during the request carry it in their meta, and the
worker sets it again while the job runs. A filter redacts what must never reach
a log: bearer tokens and JWTs, passwords in forms or JSON, and long vectors of
floats (face encodings).
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SECRET_FIELD = r"""(?i)("?(?:password|secret|secret_key|access_token)"?\s*[:=]\s*)"""
_SECRET_VALUE = r"""("[^"]*"|'[^']*'|[^\s,&}]+)"""
_NUMBER = r"-?\d+\.\d+(?:e-?\d+)?"
_REDACTIONS = (
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+"), "[token]"),
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), r"\1[token]"),
    (re.compile(_SECRET_FIELD + _SECRET_VALUE), r"\1[redacted]"),
    # Eight or more numbers in a row, as in a 128-number face encoding.
    (re.compile(rf"\[?\s*(?:{_NUMBER}\s*,\s*){{7,}}{_NUMBER}\s*\]?"), "[vector]"),
)  # fmt: skip


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, var in (("request_id", request_id), ("job_id", job_id)):
            value = var.get()
            if value:
                entry[key] = value
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class RedactingFormatter(logging.Formatter):
    """The plain-text format for a terminal, with the same redactions."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"[{v}]" for v in (request_id.get(), job_id.get()) if v)
        return redact(super().format(record) + (f" {ids}" if ids else ""))


class _Handler(logging.StreamHandler):
    """Ours, so that configuring twice replaces it and leaves other handlers alone."""


ACCESS_LOGGER = "facematch.access"
"""One line per request (api/middleware.py): INFO, or WARNING for a 5xx answer."""


LIBRARIES = ("uvicorn", "uvicorn.error", "rq.worker", "rq.scheduler")


def configure(
    level: str = "INFO",
    fmt: str = "json",
    *,
    access_level: str | None = None,
    library_level: str | None = None,
) -> None:
    """Route every logger, uvicorn's and RQ's included, through one redacting handler."""
    handler = _Handler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else RedactingFormatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _Handler)] + [handler]
    root.setLevel(level)
    for name in LIBRARIES:
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(library_level or logging.NOTSET)
    # Its lines carry query strings; RequestContext logs each request without them.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger(ACCESS_LOGGER).setLevel(access_level or logging.NOTSET)
    # At INFO and below SQLAlchemy logs statements with their parameters: password
    # hashes and face encodings. Never, whatever the level asked for.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
