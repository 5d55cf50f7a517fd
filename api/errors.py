"""Application errors, rendered as `{"error": "<ClassName>", "detail": "..."}`.

    AppError (500)
    ├── BadRequest (400)
    ├── Unauthorized (401)
    ├── NotPermitted (403)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── PayloadTooLarge (413)
    ├── InvalidImage (422)
    ├── InvalidFile (422)
    ├── ConsentRequired (422)
    ├── TooManyRequests (429)
    └── ServiceUnavailable (503)

Expected failures are never 500s: a 500 means a bug.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(
        self, detail: Any, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        # A stable machine-readable reason, e.g. "multiple_faces" or "not_an_image".
        self.code = code
        self.headers = headers

    @classmethod
    def response_doc(cls) -> dict[int | str, dict[str, Any]]:
        return {cls.status_code: {"model": ErrorBody, "description": cls.__name__}}


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401


class NotPermitted(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class PayloadTooLarge(AppError):
    status_code = 413


class InvalidImage(AppError):
    status_code = 422


class InvalidFile(AppError):
    """A file whose content is wrong (a start list with bad lines): `detail` says where."""

    status_code = 422


class ConsentRequired(AppError):
    status_code = 422


class TooManyRequests(AppError):
    status_code = 429


class ServiceUnavailable(AppError):
    status_code = 503


class ErrorBody(BaseModel):
    error: str
    detail: Any
    code: str | None = None


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the errors an endpoint can raise."""
    docs: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        docs.update(error.response_doc())
    return docs


def _body(error: str, detail: Any, code: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if code:
        body["code"] = code
    return body


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = dict(exc.headers or {})
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(
            _body(type(exc).__name__, exc.detail, exc.code), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(_body("ValidationError", detail), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            _body("HTTPError", exc.detail), exc.status_code, headers=getattr(exc, "headers", None)
        )

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("backing service unavailable: %s", type(exc).__name__)
        return JSONResponse(
            _body("ServiceUnavailable", "a backing service is unavailable, retry shortly"),
            503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # A value that passed validation but PostgreSQL cannot hold, such as a NUL
        # character in a text field. The transaction is rolled back, files with it.
        log.warning("unstorable value refused: %s", str(exc.orig).splitlines()[0])
        return JSONResponse(
            _body("InvalidValue", "a value in the request cannot be stored", "invalid_value"),
            422,
        )

    # A pool that stays exhausted for pool_timeout is overload: retry later, not a bug.
    for exc_type in (OperationalError, PoolTimeoutError, RedisConnectionError, RedisTimeoutError):
        app.add_exception_handler(exc_type, _unavailable)
