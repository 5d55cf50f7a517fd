"""Fixed-window rate limits in Redis: on the routes that hash passwords, mail links or spend them.

Each hit is one INCR; the first in a window sets its expiry. Accounts are keyed
by a hash of the email, so Redis never holds addresses. A limit of 0 turns a
check off (load tests from one address do that).
"""

from __future__ import annotations

import hashlib
import time

from fastapi import Request
from redis import Redis

from api.errors import TooManyRequests
from core.config import settings

WINDOW_SECONDS = 60


def _hit(redis: Redis, key: str, limit: int, seconds: int = WINDOW_SECONDS) -> None:
    if limit <= 0:
        return
    window = int(time.time()) // seconds
    name = f"ratelimit:{key}:{window}"
    pipe = redis.pipeline()
    pipe.incr(name)
    pipe.expire(name, seconds * 2)
    count, _ = pipe.execute()
    if count > limit:
        retry_after = seconds - int(time.time()) % seconds
        raise TooManyRequests(
            f"too many attempts; retry in {retry_after} s",
            code="rate_limited",
            headers={"Retry-After": str(retry_after)},
        )


def client_address(request: Request) -> str:
    """The caller's address: behind a trusted proxy (FACEMATCH_TRUSTED_PROXIES), the one it
    named; otherwise the peer's."""
    return request.client.host if request.client else "unknown"


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def check_login(redis: Redis, request: Request, email: str) -> None:
    _hit(redis, f"login:ip:{client_address(request)}", settings.LOGIN_ATTEMPTS_PER_MINUTE_PER_IP)
    _hit(redis, f"login:account:{_account(email)}", settings.LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT)


def check_password_reset(redis: Redis, request: Request, token: str) -> None:
    """Per client and per link: one client's junk resets never block anyone else's."""
    _hit(redis, f"reset:ip:{client_address(request)}", settings.LOGIN_ATTEMPTS_PER_MINUTE_PER_IP)
    _hit(redis, f"reset:link:{_account(token)}", settings.LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT)


def check_registration(redis: Redis, request: Request) -> None:
    _hit(
        redis,
        f"register:ip:{client_address(request)}",
        settings.REGISTRATIONS_PER_MINUTE_PER_IP,
    )


def check_sign_in_link(redis: Redis, request: Request, email: str) -> None:
    """A mailed link (joining or signing in): per client, as registrations, and per address,
    so nobody floods an inbox. Venues share one address, hence a generous client limit."""
    check_registration(redis, request)
    _hit(redis, f"link:account:{_account(email)}", settings.SIGN_IN_LINKS_PER_HOUR_PER_ACCOUNT,
         seconds=3600)  # fmt: skip


def check_link_redemption(redis: Redis, request: Request) -> None:
    _hit(
        redis,
        f"redeem:ip:{client_address(request)}",
        settings.LINK_REDEMPTIONS_PER_MINUTE_PER_IP,
    )


def check_selfie_attempt(redis: Redis, request: Request, attendee_id: object) -> None:
    """A selfie attempt (a live challenge or an uploaded file): per attendee (by a hash, so
    no key names them), and per client, whose limit is generous since a venue's guests
    share its address."""
    _hit(redis, f"selfie:ip:{client_address(request)}", settings.SELFIE_ATTEMPTS_PER_HOUR_PER_IP,
         seconds=3600)  # fmt: skip
    _hit(redis, f"selfie:attendee:{_account(str(attendee_id))}",
         settings.SELFIE_ATTEMPTS_PER_HOUR_PER_ATTENDEE, seconds=3600)  # fmt: skip


def check_opt_out_attempt(redis: Redis, request: Request) -> None:
    """A request to be left out of an event's photos, per client: no account to count by."""
    _hit(redis, f"opt-out:ip:{client_address(request)}",
         settings.SELFIE_ATTEMPTS_PER_HOUR_PER_ATTENDEE, seconds=3600)  # fmt: skip


def _code_misses_key(request: Request) -> str:
    return f"ratelimit:code-miss:ip:{client_address(request)}:{int(time.time()) // WINDOW_SECONDS}"


def check_code_misses(redis: Redis, request: Request) -> None:
    """A client that named too many unknown event codes this minute is refused any code,
    known or not, so it learns nothing more until the window ends."""
    limit = settings.EVENT_CODE_MISSES_PER_MINUTE_PER_IP
    misses = redis.get(_code_misses_key(request))
    if limit > 0 and misses is not None and int(misses) >= limit:
        retry_after = WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS
        raise TooManyRequests(
            f"too many unknown event codes; retry in {retry_after} s",
            code="rate_limited",
            headers={"Retry-After": str(retry_after)},
        )


def count_code_miss(redis: Redis, request: Request) -> None:
    pipe = redis.pipeline()
    pipe.incr(_code_misses_key(request))
    pipe.expire(_code_misses_key(request), WINDOW_SECONDS * 2)
    pipe.execute()


def check_bib_search(redis: Redis, request: Request) -> None:
    """A bib search or a pass request, per client."""
    _hit(redis, f"bib:ip:{client_address(request)}", settings.BIB_SEARCHES_PER_MINUTE_PER_IP)


def check_gallery_password(redis: Redis, request: Request, token: str) -> None:
    """Per client and per gallery: a password guessed from many addresses is still slow."""
    _hit(redis, f"gallery:ip:{client_address(request)}", settings.LOGIN_ATTEMPTS_PER_MINUTE_PER_IP)
    _hit(redis, f"gallery:link:{_account(token)}",
         settings.LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT)  # fmt: skip
