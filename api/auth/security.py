"""Password hashing (argon2id) and access tokens (JWT)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from redis import Redis

from api.errors import BadRequest, Unauthorized
from core.config import settings
from core.models import Role

ALGORITHM = "HS256"


@cache
def _hasher() -> PasswordHash:
    return PasswordHash(
        (
            Argon2Hasher(
                memory_cost=settings.ARGON2_MEMORY_KIB,
                time_cost=settings.ARGON2_TIME_COST,
                parallelism=1,
            ),
        )
    )


_hash_slots = threading.BoundedSemaphore(settings.PASSWORD_HASH_CONCURRENCY)
"""Bounds the memory and cores that a burst of logins and registrations can take."""


def hash_password(password: str) -> str:
    """Blocks for tens of milliseconds by design: call it from a worker thread, never the loop."""
    with _hash_slots:
        return _hasher().hash(password)


def verify_password(password: str, hashed: str) -> bool:
    with _hash_slots:
        return _hasher().verify(password, hashed)


@cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


def burn_verify_time(password: str) -> None:
    """Spend a verification's time for an unknown email, so timing does not reveal accounts."""
    verify_password(password, _dummy_hash())


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    role: Role
    attendee_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    """The `auth_sessions` row the token belongs to; a token without one is refused."""


def create_access_token(claims: TokenClaims, *, expires: datetime) -> str:
    """Sign the claims of a session (`api.auth.service.start_session` makes both)."""
    payload = {
        "sub": str(claims.user_id),
        "role": claims.role.value,
        "iat": datetime.now(UTC),
        "exp": expires,
    }
    if claims.attendee_id:
        payload["aid"] = str(claims.attendee_id)
    if claims.session_id:
        payload["sid"] = str(claims.session_id)
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=ALGORITHM)


def decode_access_token(token: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token, settings.SECRET_KEY, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return TokenClaims(
            user_id=uuid.UUID(payload["sub"]),
            role=Role(payload["role"]),
            attendee_id=uuid.UUID(payload["aid"]) if payload.get("aid") else None,
            session_id=uuid.UUID(payload["sid"]) if payload.get("sid") else None,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired", code="token_expired") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise Unauthorized("the token is not valid", code="invalid_token") from None


DOWNLOAD_LINK_SECONDS = 300
"""How long a download link works: long enough to click, short enough to leak little."""


@dataclass(frozen=True)
class DownloadGrant:
    user_id: uuid.UUID
    session_id: uuid.UUID
    """The session that asked: the link dies with it (sign-out, a password reset)."""


def _download_key(link: str) -> str:
    return f"download:{token_digest(link)}"


def issue_download_link(redis: Redis, claims: TokenClaims, path: str) -> tuple[str, datetime]:
    """An opaque id for one download of `path`, for a link a browser follows without its
    bearer token (a zip streamed to disk, not built in the page's memory). Single use: the
    first request spends it. Redis holds its digest, the path and the session."""
    if claims.session_id is None:
        raise Unauthorized("this session has ended: sign in again", code="session_ended")
    link = secrets.token_urlsafe(24)
    grant = f"{claims.user_id}|{claims.session_id}|{path}"
    redis.set(_download_key(link), grant, ex=DOWNLOAD_LINK_SECONDS)
    return link, datetime.now(UTC) + timedelta(seconds=DOWNLOAD_LINK_SECONDS)


def spend_download_link(redis: Redis, link: str, path: str) -> DownloadGrant:
    """Who a download link was made for, if it is for this path and not spent or expired.
    Spent by this call whatever the answer: a link tried on another path is gone too."""
    raw = redis.getdel(_download_key(link)) if len(link) <= 64 else None
    if raw is None:
        raise Unauthorized("the download link was used, has expired or is not valid",
                           code="invalid_link")  # fmt: skip
    user_id, session_id, for_path = (raw.decode() if isinstance(raw, bytes) else raw).split("|", 2)
    if for_path != path:
        raise Unauthorized("the download link is for another download", code="invalid_link")
    return DownloadGrant(uuid.UUID(user_id), uuid.UUID(session_id))


def new_link_token() -> tuple[str, str]:
    """A random token for a link mailed or handed to someone, and its SHA-256: only the
    digest is stored, so the table leaks no working link."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


UNSUBSCRIBE_LINK_DAYS = 180
"""A digest's unsubscribe link works this long: months after the mail, never for ever (every
digest carries a new one, and signing in turns mails off too)."""


def create_unsubscribe_token(attendee_id: uuid.UUID) -> str:
    """For the one-click unsubscribe link of an attendee's digest mails; it does one thing:
    turns the mails off."""
    expires = datetime.now(UTC) + timedelta(days=UNSUBSCRIBE_LINK_DAYS)
    payload = {"sub": str(attendee_id), "aud": "unsubscribe", "exp": expires}
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=ALGORITHM)


def decode_unsubscribe_token(token: str) -> uuid.UUID:
    try:
        payload = jwt.decode(
            token, settings.SECRET_KEY, algorithms=[ALGORITHM], audience="unsubscribe",
            options={"require": ["sub", "aud", "exp"]},
        )  # fmt: skip
        return uuid.UUID(payload["sub"])
    except jwt.ExpiredSignatureError:
        raise BadRequest("the unsubscribe link has expired: sign in to stop the mails",
                         code="link_expired") from None  # fmt: skip
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise BadRequest("the unsubscribe link is not valid", code="invalid_link") from None
