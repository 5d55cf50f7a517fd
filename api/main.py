"""The facematch API. It enqueues face work by name and never loads a face library.

It runs no periodic work: the reconciler is its own process (`api/reconciler/`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.admin.endpoints import router as admin_router
from api.attendees.endpoints import router as attendees_router
from api.auth.endpoints import router as auth_router
from api.bibs.endpoints import router as bibs_router
from api.bodies import BodyGate
from api.branding.endpoints import router as branding_router
from api.calibration.endpoints import router as calibration_router
from api.concurrency import ConcurrencyLimit
from api.errors import install_handlers
from api.events.endpoints import router as events_router
from api.galleries.endpoints import router as galleries_router
from api.headers import SecurityHeaders
from api.health.endpoints import router as health_router
from api.matches.endpoints import router as matches_router
from api.middleware import RequestContext
from api.monitoring.endpoints import router as monitoring_router
from api.optouts.endpoints import router as optouts_router
from api.photographers.endpoints import router as photographers_router
from api.photos.endpoints import router as photos_router
from api.reviews.endpoints import router as reviews_router
from api.signin.endpoints import router as signin_router
from api.users.endpoints import router as users_router
from api.web.endpoints import STATIC_DIR
from api.web.endpoints import router as web_router
from api.webhooks.endpoints import router as webhooks_router
from core.config import settings
from core.db import get_engine
from core.logs import configure
from core.metrics import Metrics
from core.redis import get_redis


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    get_engine()
    get_redis()
    try:
        yield
    finally:
        get_engine().dispose()
        get_redis().close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="facematch",
        summary="Find every attendee's photos at an event by their face.",
        lifespan=lifespan,
        # Swagger UI and ReDoc come from a CDN, unpinned: never on a cluster's origin.
        docs_url="/docs" if settings.API_DOCS else None,
        redoc_url="/redoc" if settings.API_DOCS else None,
    )
    install_handlers(app)
    # Middleware, innermost first: a request gets a slot only once its body is all here.
    app.add_middleware(
        ConcurrencyLimit,
        limit=settings.API_MAX_CONCURRENT_REQUESTS,
        queue_timeout=settings.API_QUEUE_TIMEOUT_SECONDS,
    )
    app.add_middleware(BodyGate, settings=settings)
    app.state.metrics = Metrics(get_redis)
    app.add_middleware(SecurityHeaders)  # even an "overloaded" 503 carries them
    # Every answer, overload 503s included, has an id, a log line and metrics.
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    # Outermost: the client and scheme are the ones the trusted proxy saw (uvicorn runs
    # with --no-proxy-headers, so this is the only place that believes the headers).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    api = APIRouter(prefix="/api")
    for router in (
        auth_router,
        users_router,
        signin_router,
        events_router,
        calibration_router,
        reviews_router,
        optouts_router,
        photos_router,
        photographers_router,
        attendees_router,
        matches_router,
        bibs_router,
        branding_router,
        webhooks_router,
        galleries_router,
        admin_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health_router)
    app.include_router(monitoring_router)
    app.include_router(web_router)
    if settings.MODE == "local":  # the mail catcher's page; never in cluster mode
        from api.mail.endpoints import router as dev_mail_router

        app.include_router(dev_mail_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


configure(
    settings.LOG_LEVEL,
    settings.LOG_FORMAT,
    access_level=settings.ACCESS_LOG_LEVEL,
    library_level=settings.LIBRARY_LOG_LEVEL,
)
app = create_app()
