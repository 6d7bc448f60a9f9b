"""Who is asking: tokens (stored as sha256 hashes), roles, browser sessions and CSRF.

- A token is ``pgt_`` + 32 random bytes (urlsafe base64). Only its sha256 is stored; it is shown once,
  when made (``prodgen serve token create`` or ``POST /api/tokens``), and never logged.
- Roles: viewer < editor < reviewer < admin; each has every right of those before it.
- API clients send ``Authorization: Bearer <token>``; they need no CSRF token (a browser never
  attaches that header by itself).
- Browsers ``POST /login`` the token once and get ``prodgen_session`` (HttpOnly, SameSite=Strict,
  Secure over https; a random id, stored hashed, expires, dies with its token) and ``prodgen_csrf``
  (readable by the page's JS). Every state-changing request authenticated by the session cookie must
  repeat the CSRF value in the ``X-CSRF-Token`` header or a ``csrf`` form field (403 otherwise).

For the pages: ``Depends(current_user)`` gives the ``Principal`` (401 without credentials),
``Depends(require("reviewer"))`` also checks the role (403), ``optional_user(request)`` returns None
instead of raising (for redirecting to /login), and ``Principal.csrf`` is the value forms must send.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from .db import ROLES, BrowserSession, Database, Token, audit, utcnow

TOKEN_PREFIX = "pgt_"
SESSION_COOKIE = "prodgen_session"
CSRF_COOKIE = "prodgen_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SESSION_HOURS = 12
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_SECRET_RE = re.compile(r"(pgt_|pgs_)[A-Za-z0-9_\-]{8,}")
log = logging.getLogger("prodgen.studio")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def create_token(db: Database, name: str, role: str, created_by: str, created_by_role: str = "admin") -> tuple[Token, str]:
    """A new token row and its secret (the only time the secret exists outside the holder's hands)."""
    check_role(role)
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a token needs a name of 1 to 100 characters (who holds it, e.g. ana)")
    secret = new_token()
    with db.write() as s:
        tok = Token(name=name, role=role, secret_hash=hash_secret(secret), created_by=created_by, created_at=utcnow())
        s.add(tok)
        s.flush()
        audit(s, created_by, created_by_role, "token.create", f"token:{tok.id}", name=name, role=role)
    return tok, secret


def revoke_token(db: Database, token_id: int, actor: str, actor_role: str = "admin") -> Token | None:
    with db.write() as s:
        tok = s.get(Token, token_id)
        if tok is None:
            return None
        if tok.revoked_at is None:
            tok.revoked_at = utcnow()
            s.query(BrowserSession).filter(BrowserSession.token_id == token_id).delete()
            audit(s, actor, actor_role, "token.revoke", f"token:{tok.id}", name=tok.name)
        return tok


def list_tokens(db: Database) -> list[Token]:
    with db.read() as s:
        return list(s.scalars(select(Token).order_by(Token.id)))


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    role: str
    via: str  # "bearer" or "session"
    csrf: str | None = None  # the session's CSRF value (None for bearer clients)

    def can(self, role: str) -> bool:
        return role_at_least(self.role, role)


def _touch(db: Database, tok: Token) -> None:
    """Record use at most once a minute (a write per request would make every request a writer)."""
    now = utcnow()
    if tok.last_used_at is None or now - tok.last_used_at > dt.timedelta(minutes=1):
        with db.write() as s:
            s.query(Token).filter(Token.id == tok.id).update({Token.last_used_at: now})


def token_principal(db: Database, secret: str) -> Principal | None:
    with db.read() as s:
        tok = s.scalars(select(Token).where(Token.secret_hash == hash_secret(secret))).first()
    if tok is None or tok.revoked_at is not None:
        return None
    _touch(db, tok)
    return Principal(tok.id, tok.name, tok.role, "bearer")


def session_principal(db: Database, session_id: str) -> Principal | None:
    with db.read() as s:
        row = s.execute(select(BrowserSession, Token).join(Token, Token.id == BrowserSession.token_id)
                        .where(BrowserSession.session_hash == hash_secret(session_id))).first()
    if row is None:
        return None
    sess, tok = row
    if tok.revoked_at is not None or sess.expires_at < utcnow():
        return None
    return Principal(tok.id, tok.name, tok.role, "session", sess.csrf)


def _db(request: Request) -> Database:
    return request.app.state.studio.db


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the Authorization header must be 'Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


def optional_user(request: Request) -> Principal | None:
    """The caller, or None when no (valid) credentials came; never checks CSRF."""
    secret = _bearer(request)
    if secret is not None:
        return token_principal(_db(request), secret)
    sid = request.cookies.get(SESSION_COOKIE)
    return session_principal(_db(request), sid) if sid else None


async def _csrf_value(request: Request) -> str | None:
    value = request.headers.get(CSRF_HEADER)
    if value:
        return value
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: the endpoint reads the same parsed form
        field = form.get(CSRF_FIELD)
        return field if isinstance(field, str) else None
    return None


async def current_user(request: Request) -> Principal:
    """The authenticated caller (401 without valid credentials); cookie sessions must carry the CSRF value on
    state-changing requests (403)."""
    had_bearer = bool(request.headers.get("authorization"))
    principal = await run_in_threadpool(optional_user, request)  # database work off the event loop
    if principal is None:
        what = "the token is unknown or revoked" if had_bearer else (
            "the session has expired; log in again" if request.cookies.get(SESSION_COOKIE) else
            "send 'Authorization: Bearer <token>' or log in at /login")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"not authenticated: {what}", headers={"WWW-Authenticate": "Bearer"})
    if principal.via == "session" and request.method not in SAFE_METHODS:
        sent = await _csrf_value(request)
        if not sent or not principal.csrf or not hmac.compare_digest(sent, principal.csrf):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"CSRF check failed: send the {CSRF_COOKIE} cookie's value in the "
                                                           f"{CSRF_HEADER} header or a '{CSRF_FIELD}' form field")
    request.state.principal = principal
    return principal


def require(role: str):
    """A dependency: the caller must hold ``role`` or a higher one (403 otherwise)."""
    check_role(role)

    async def dependency(principal: Principal = Depends(current_user)) -> Principal:
        if not principal.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role; {principal.name!r} is a "
                                                           f"{principal.role}. "
                                                           "Ask an admin for a token with that role.")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


# -- browser sessions --------------------------------------------------------------------------------------------
def start_session(db: Database, token_id: int, hours: float = SESSION_HOURS,
                  who: Principal | None = None) -> tuple[str, str]:
    """A new browser session (its id and CSRF value); audited as a login when ``who`` is given."""
    sid, csrf = "pgs_" + secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    with db.write() as s:
        s.query(BrowserSession).filter(BrowserSession.expires_at < now).delete()  # tidy expired ones
        s.add(BrowserSession(token_id=token_id, session_hash=hash_secret(sid), csrf=csrf, created_at=now,
                             expires_at=now + dt.timedelta(hours=hours)))
        if who is not None:
            audit(s, who.name, who.role, "login", f"token:{token_id}")
    return sid, csrf


def end_session(db: Database, session_id: str) -> None:
    with db.write() as s:
        s.query(BrowserSession).filter(BrowserSession.session_hash == hash_secret(session_id)).delete()


def _safe_next(target: str | None) -> str:
    """Only a local path (``/jobs``), never another site (``//evil``, ``https://...``)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


router = APIRouter(tags=["auth"], max_body_size=1024 * 1024)  # bodies past 1 MB: 413 as they stream in


@router.post("/login", summary="Log in with a token (form field 'token'); sets the session and CSRF cookies")
async def login(request: Request) -> Response:
    form = await request.form()
    secret = form.get("token")
    target = _safe_next(form.get("next") if isinstance(form.get("next"), str) else None)
    db = _db(request)
    principal = None
    if isinstance(secret, str) and secret.strip():
        principal = await run_in_threadpool(token_principal, db, secret.strip())
    if principal is None:
        log.info("login refused (unknown or revoked token) from %s", request.client.host if request.client else "?")
        if _wants_html(request):
            return RedirectResponse("/login?error=invalid", status.HTTP_303_SEE_OTHER)
        return JSONResponse({"detail": "unknown or revoked token; ask an admin for one (prodgen serve token create)"}, 401)
    sid, csrf = await run_in_threadpool(start_session, db, principal.token_id, SESSION_HOURS, principal)
    log.info("login: %s (%s)", principal.name, principal.role)
    resp: Response = RedirectResponse(target, status.HTTP_303_SEE_OTHER) if _wants_html(request) else \
        JSONResponse({"name": principal.name, "role": principal.role, "csrf": csrf})
    secure = request.url.scheme == "https"
    max_age = SESSION_HOURS * 3600
    resp.set_cookie(SESSION_COOKIE, sid, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/")
    resp.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure, path="/")
    return resp


@router.post("/logout", summary="End the browser session (needs the CSRF value)")
async def logout(request: Request, principal: Principal = Depends(current_user)) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and sid:
        await run_in_threadpool(end_session, _db(request), sid)
    resp: Response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER) if _wants_html(request) else JSONResponse({"ok": True})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


class RedactSecrets(logging.Filter):
    """Belt and braces: a token or session id that reaches a log record anyway is replaced by its prefix."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if _SECRET_RE.search(msg):
            record.msg, record.args = _SECRET_RE.sub(lambda m: m.group(1) + "***", msg), None
        return True


def install_log_redaction() -> None:
    for name in ("prodgen.studio", "uvicorn", "uvicorn.access", "uvicorn.error", "huey"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in lg.filters):
            lg.addFilter(RedactSecrets())


__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CSRF_HEADER", "Principal", "RedactSecrets", "SESSION_COOKIE", "TOKEN_PREFIX",
           "check_role", "create_token", "current_user", "hash_secret", "install_log_redaction", "list_tokens", "optional_user",
           "require", "revoke_token", "role_at_least", "router", "session_principal", "start_session", "end_session",
           "token_principal"]
