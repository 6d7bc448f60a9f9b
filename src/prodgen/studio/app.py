"""``create_app(settings)``: the studio's FastAPI app: REST API, login, pages, static files, OpenAPI docs.

The app holds one ``Studio`` (settings, database, store, queue) in ``app.state.studio``. It starts no
workers: ``prodgen serve`` runs them in their own processes (``worker.run_consumer``). Only ``/health``,
the login page and its static files are open; ``/docs`` and ``/openapi.json`` need a token like the API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from huey import SqliteHuey

from ..errors import UserError
from . import api, auth
from .db import Database
from .queue import JobQueue, make_huey
from .settings import StudioSettings
from .storage import Storage

log = logging.getLogger("prodgen.studio")
OPEN_DOCS = ("/docs", "/docs/oauth2-redirect")  # Swagger UI loads its script from a CDN: no CSP there


@dataclass
class Studio:
    settings: StudioSettings
    db: Database
    storage: Storage
    huey: SqliteHuey
    queue: JobQueue


def create_app(settings: StudioSettings, huey: SqliteHuey | None = None, recover: bool = True) -> FastAPI:
    """The app for ``settings``; ``recover``: requeue jobs orphaned by a previous run and refill huey's queue."""
    auth.install_log_redaction()
    db = Database(settings.data)
    huey = huey or make_huey(settings)
    st = Studio(settings, db, Storage(settings.data), huey, JobQueue(settings, db, huey))
    if recover:
        st.queue.recover()
    app = FastAPI(title="prodgen studio", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="Request, review and export generated and edited product images. Every route but "
                              "/health needs `Authorization: Bearer <token>` (or a browser session from POST /login).")
    app.state.studio = st

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        resp = await call_next(request)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path not in OPEN_DOCS:
            resp.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; "
                                                               "frame-ancestors 'none'")
        return resp

    @app.get("/health", tags=["health"], summary="Liveness and schema version (no authentication)")
    def health(request: Request) -> dict:
        return api.health(request)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: auth.Principal = Depends(auth.current_user)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(user: auth.Principal = Depends(auth.current_user)) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="prodgen studio API")

    app.include_router(auth.router)
    app.include_router(api.router)
    try:
        from . import pages
    except ImportError:  # TODO(pages): the web pages are not in this tree yet; the API works without them
        pages = None
    if pages is not None:
        app.include_router(pages.router)
        if pages.STATIC.is_dir():
            app.mount("/static", StaticFiles(directory=str(pages.STATIC)), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app


__all__ = ["Studio", "create_app"]
