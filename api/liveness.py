"""Challenges for a live selfie, and the frames it sends, packed as one stored file.

A challenge is a random order of head turns (`workers/liveness.py` judges the frames
against it). It lives in Redis for LIVE_CHALLENGE_SECONDS, bound to whoever asked for it
(an attendee's session, or a person opting out of an event), and is spent by GETDEL:
used twice, late or by someone else, it is refused. Its id is 128 random bits.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from datetime import datetime, timedelta

from redis import Redis

from api.errors import BadRequest, Conflict
from api.images import inspect_image
from core.config import settings
from core.decoding import selfie_budget
from core.models import utcnow

TURNS = ("left", "right")


def _key(challenge_id: str) -> str:
    return f"live-challenge:{challenge_id}"


def _digest(subject: str) -> str:
    """Redis holds no attendee or event id: a deleted one leaves nothing there."""
    return hashlib.sha256(subject.encode()).hexdigest()


def new_challenge(redis: Redis, subject: str) -> tuple[str, list[str], datetime]:
    """(id, steps, expiry) of a fresh challenge for `subject`: look straight, then both
    turns in a random order."""
    turns = list(TURNS)
    secrets.SystemRandom().shuffle(turns)
    steps = ["straight", *turns]
    challenge_id = secrets.token_urlsafe(16)
    seconds = settings.LIVE_CHALLENGE_SECONDS
    found = {"subject": _digest(subject), "steps": steps}
    redis.set(_key(challenge_id), json.dumps(found), ex=seconds)
    return challenge_id, steps, utcnow() + timedelta(seconds=seconds)


def spend_challenge(redis: Redis, challenge_id: str, subject: str) -> list[str]:
    """The steps of `subject`'s challenge, which can never be used again."""
    raw = redis.getdel(_key(challenge_id)) if len(challenge_id) <= 64 else None
    found = json.loads(raw) if raw else None
    if found is None or not secrets.compare_digest(found["subject"], _digest(subject)):
        raise Conflict(
            "this challenge was used, has expired or is not yours: start the capture again",
            code="challenge_invalid",
        )
    return list(found["steps"])


def pack_frames(frames: list[bytes], steps: list[str]) -> tuple[bytes, str]:
    """One stored file of checked frames: a zip holding `0.jpg`, `1.jpg`, ... in step order.
    Returns (the zip, its extension)."""
    if len(frames) != len(steps):
        raise BadRequest(
            f"send one frame per step: {len(steps)} ({', '.join(steps)}), not {len(frames)}",
            code="frames_mismatch",
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index, frame in enumerate(frames):
            info = inspect_image(
                frame, max_bytes=settings.MAX_LIVE_FRAME_BYTES, budget=selfie_budget()
            )
            archive.writestr(f"{index}{info.extension}", frame)
    return buffer.getvalue(), ".frames.zip"
