"""``create_app(settings)``: the studio's FastAPI app: REST API, login, pages, static files, OpenAPI docs.

The app holds one ``Studio`` (settings, database, store, queue) in ``app.state.studio``. It starts no
workers: ``prodgen serve`` runs them in their own processes (``worker.run_consumer``). Only ``/health``,
the login page and its static files are open; ``/docs`` and ``/openapi.json`` need a token like the API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException  # fastapi.HTTPException and the body-size limit's 413 alike
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from huey import SqliteHuey

from ..errors import UserError
from . import api, auth, pages
from .db import Database
from .queue import JobQueue, make_huey
from .settings import StudioSettings
from .storage import Storage

log = logging.getLogger("prodgen.studio")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'")  # Swagger UI starts from one inline script
PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'"


def swagger_static():
    """Swagger UI's script and stylesheet as served offline: the copy shipped by the ``fastapi-offline`` package
    (FastAPI's default /docs loads them from a CDN, which a shop's offline server cannot reach)."""
    import fastapi_offline

    from pathlib import Path

    return Path(fastapi_offline.__file__).parent / "static"


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
    async def guard(request: Request, call_next):
        """A body declared too large gets its 413 (naming the limit) before a byte is read (the routes' FastAPI
        ``max_body_size`` also stops bodies that do not declare their size, as they stream in); security headers."""
        size = request.headers.get("content-length")
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and size and size.isdigit():
            upload = request.url.path == "/api/uploads"
            cap = settings.ingest.max_bytes + api.MULTIPART_ENVELOPE if upload else api.JSON_BODY_LIMIT
            if int(size) > cap:
                return JSONResponse({"detail": _too_large(upload, settings)}, status_code=413, headers={"Connection": "close"})
        resp = await call_next(request)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy", DOCS_CSP if request.url.path == "/docs" else PAGE_CSP)
        return resp

    @app.get("/health", tags=["health"], summary="Liveness and schema version (no authentication)")
    def health(request: Request) -> dict:
        return api.health(request)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: auth.Principal = Depends(auth.current_user)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(user: auth.Principal = Depends(auth.current_user)) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="prodgen studio API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    app.include_router(auth.router)
    app.include_router(api.router)
    app.include_router(api.uploads_router(settings.ingest.max_bytes))
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(pages.STATIC)), name="static")
    app.mount("/docs-static", StaticFiles(directory=str(swagger_static())), name="docs-static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        detail = exc.detail
        if exc.status_code == 413 and detail == "Content Too Large":  # the body cap, hit while the body streamed in
            detail = _too_large(request.url.path == "/api/uploads", settings)
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    return app


def _too_large(upload: bool, settings: StudioSettings) -> str:
    if upload:
        from .ingest import _mb

        return (f"the file is larger than the {_mb(settings.ingest.max_bytes)} upload limit; "
                "send a smaller or more compressed file")
    return f"the request body is larger than {api.JSON_BODY_LIMIT // 1024} KB; send a smaller request"


__all__ = ["Studio", "create_app"]
