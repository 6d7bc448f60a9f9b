"""The studio's web pages: server-rendered Jinja2 shells whose one small script calls the REST API.

Each page is a template in ``templates/`` that extends ``base.html`` (navigation, who is logged
in, the AI-content banner, the logout form). The pages hold no data of their own: ``static/studio.js``
fetches it from ``/api`` with the session cookie and sends the ``prodgen_csrf`` cookie's value in
the ``X-CSRF-Token`` header on every state-changing request, exactly as any other API client would.

Pages need a logged-in user (else a redirect to ``/login?next=...``); pages for a higher role than
the user's answer 403 with a page saying which role is needed. ``/login`` is the only open page; its
form posts to ``POST /login`` (``studio.auth``). No inline scripts or styles, so the app may send
``Content-Security-Policy: default-src 'self'``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .auth import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, optional_user
from .fidelity import STATED_COLOURS

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"  # the app mounts it at /static
templates = Jinja2Templates(directory=str(TEMPLATES))

# path, template, title, role needed, shown in the navigation
PAGES = [
    ("/", "generate.html", "Generate", "viewer"),
    ("/edit", "edit.html", "Edit a photo", "viewer"),
    ("/jobs", "jobs.html", "Jobs", "viewer"),
    ("/review", "review.html", "Review", "viewer"),
    ("/exports", "exports.html", "Export", "reviewer"),
    ("/audit", "audit.html", "Audit log", "admin"),
    ("/tokens", "tokens.html", "Tokens", "admin"),
]
ROLE_ORDER = ("viewer", "editor", "reviewer", "admin")
ERRORS = {"invalid": "That token is unknown or was revoked. Check it, or ask an admin for a new one.",
          "expired": "Your session has ended. Log in again."}

router = APIRouter(include_in_schema=False)


def _at_least(role: str, needed: str) -> bool:
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)


def _context(request: Request, user, page: str, title: str) -> dict:
    nav = [{"path": p, "title": t, "current": p == page} for p, _, t, need in PAGES if user and _at_least(user.role, need)]
    return {"request": request, "user": user, "page": page, "title": title, "nav": nav,
            "can": {r: bool(user) and _at_least(user.role, r) for r in ROLE_ORDER},
            "csrf": getattr(user, "csrf", None) or "", "csrf_field": CSRF_FIELD, "csrf_cookie": CSRF_COOKIE,
            "csrf_header": CSRF_HEADER, "stated_colours": [k for k, v in STATED_COLOURS.items() if v is not None]}


def _page(path: str, template: str, title: str, needed: str):
    async def page(request: Request) -> Response:
        user = optional_user(request)
        if user is None:
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        ctx = _context(request, user, path, title)
        if not _at_least(user.role, needed):
            ctx.update(needed=needed, title="Not allowed")
            return templates.TemplateResponse(request, "forbidden.html", ctx, status_code=403)
        return templates.TemplateResponse(request, template, ctx)

    page.__name__ = "page_" + (template.removesuffix(".html"))
    return page


for _path, _template, _title, _needed in PAGES:
    router.add_api_route(_path, _page(_path, _template, _title, _needed), methods=["GET"], response_class=HTMLResponse)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", error: str | None = None) -> Response:  # noqa: A002
    ctx = _context(request, None, "/login", "Log in")
    ctx.update(next=next if next.startswith("/") and not next.startswith("//") else "/", error=ERRORS.get(error or ""))
    if error and not ctx["error"]:
        ctx["error"] = "Logging in failed. Try again."
    return templates.TemplateResponse(request, "login.html", ctx)


__all__ = ["PAGES", "STATIC", "TEMPLATES", "router"]
