"""The studio's pages: login redirect, role gates, the AI banner on every page, CSRF in the logout form, no inline script."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from prodgen.studio import auth, pages
from prodgen.studio.db import Database, Token, utcnow

BANNER = "Images made here are generated or edited by AI"


@pytest.fixture
def app(tmp_path):
    """Just the pages, the login routes and the static files over a real database (no API, no workers)."""
    a = FastAPI()
    a.state.studio = SimpleNamespace(db=Database(tmp_path / "data"))
    a.include_router(auth.router)
    a.include_router(pages.router)
    a.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return a


def token(app, role: str) -> str:
    secret = auth.new_token()
    with app.state.studio.db.write() as s:
        s.add(Token(name=f"{role}-user", role=role, secret_hash=auth.hash_secret(secret), created_by="test", created_at=utcnow()))
    return secret


def logged_in(app, role: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/login", data={"token": token(app, role)}, headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and "prodgen_session" in c.cookies and "prodgen_csrf" in c.cookies
    return c


class Labels(HTMLParser):
    """Every form control (input/select/textarea, not hidden/submit) must have a <label for=...> or an aria-label."""

    def __init__(self) -> None:
        super().__init__()
        self.ids, self.fors, self.unlabelled, self.controls, self.scripts, self.styles = set(), set(), [], [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label" and "for" in a:
            self.fors.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "radio", "checkbox"):
            self.controls.append(a)
        if tag == "script":
            self.scripts.append(a)
        if "style" in a:
            self.styles += 1

    def check(self) -> list[str]:
        return [c.get("id") or str(c) for c in self.controls if c.get("id") not in self.fors and "aria-label" not in c]


def test_pages_need_a_login(app):
    c = TestClient(app)
    for path, *_ in pages.PAGES:
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=" + path.replace("/", "/"))
    r = c.get("/login?next=/review")
    assert r.status_code == 200 and 'name="next" value="/review"' in r.text and BANNER in r.text


def test_login_page_never_redirects_elsewhere(app):
    r = TestClient(app).get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in r.text


def test_bad_token_shows_an_error(app):
    c = TestClient(app)
    r = c.post("/login", data={"token": "pgt_nope"}, headers={"accept": "text/html"})
    assert r.status_code == 200 and "unknown or was revoked" in r.text


@pytest.mark.parametrize("role", ["viewer", "editor", "reviewer", "admin"])
def test_every_page_for_every_role(app, role):
    c = logged_in(app, role)
    order = pages.ROLE_ORDER
    for path, template, title, needed in pages.PAGES:
        r = c.get(path)
        allowed = order.index(role) >= order.index(needed)
        assert r.status_code == (200 if allowed else 403), (role, path)
        html = r.text
        assert BANNER in html, path  # the AI-content banner is on every page
        assert f"{role}-user" in html
        assert 'name="csrf" value="' + c.cookies["prodgen_csrf"] + '"' in html  # the logout form carries the CSRF value
        if not allowed:
            assert f"needs the <strong>{needed}</strong> role" in html
            continue
        assert f"<h1>{title}</h1>" in html
        p = Labels()
        p.feed(html)
        assert p.check() == [], (path, p.check())
        assert all(s.get("src", "").startswith("/static/") for s in p.scripts), "no inline scripts (CSP-friendly)"
        assert p.styles == 0, "no inline styles"
        nav = re.findall(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)[0]
        for other_path, _, other_title, other_needed in pages.PAGES:  # the navigation only offers what the role may open
            shown = f'href="{other_path}"' in nav
            assert shown == (order.index(role) >= order.index(other_needed)), (role, other_path)


def test_viewer_sees_disabled_forms(app):
    html = logged_in(app, "viewer").get("/").text
    assert "requesting images needs the editor role" in html and "<fieldset disabled>" in html
    assert "<fieldset >" in logged_in(app, "editor").get("/").text.replace("<fieldset  >", "<fieldset >")


def test_logout_needs_csrf_and_ends_the_session(app):
    c = logged_in(app, "editor")
    assert c.post("/logout", headers={"accept": "text/html"}, follow_redirects=False).status_code == 403
    r = c.post("/logout", data={"csrf": c.cookies["prodgen_csrf"]}, headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/jobs", follow_redirects=False).status_code == 303


def test_static_files_are_served(app):
    c = TestClient(app)
    js = c.get("/static/studio.js")
    assert js.status_code == 200 and "X-CSRF-Token" in js.text and "prodgen_csrf" in js.text
    assert ".innerHTML" not in js.text and "insertAdjacentHTML" not in js.text  # the DOM is built with textContent only
    assert c.get("/static/studio.css").status_code == 200


def test_edit_page_offers_the_catalog_colours(app):
    html = logged_in(app, "editor").get("/edit").text
    assert '<option value="Navy Blue">Navy Blue</option>' in html and '<option value="Multi">' not in html


def test_generate_page_sketch_canvas_is_hidden_until_a_sketch_model_is_chosen(app):
    """The drawing canvas starts hidden (studio.js shows it only for a model with an image_condition), has its tools,
    a label and a help text that says the drawing replaces an upload; test_sketch_canvas.py drives it in Chromium."""
    html = logged_in(app, "editor").get("/").text
    box = re.search(r'<div id="sketch-draw"[^>]*>', html)
    assert box and " hidden" in box.group(0)
    canvas = re.search(r"<canvas [^>]*>", html).group(0)
    assert 'id="sketch-canvas"' in canvas and 'aria-label="Sketch drawing area"' in canvas
    assert 'aria-describedby="sketch-draw-help"' in canvas
    for control in ('id="sketch-undo"', 'id="sketch-clear"', 'id="sketch-width"', 'name="sketch-tool" value="fill"',
                    'name="sketch-tool" value="eraser"'):
        assert control in html, control
    assert "instead of an uploaded file" in html and "filled dark shape on white" in html
    css = TestClient(app).get("/static/studio.css").text
    assert re.search(r"\.sketch-canvas \{[^}]*touch-action: none", css)
