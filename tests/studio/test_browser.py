"""The studio in a real browser: Debian's Chromium driven by Playwright against ``prodgen serve`` with a worker.

Log in with a token, generate 4 images on the synthetic catalog's demo run, approve 2 (one by one) and
reject 2 (in bulk, with a reason), export, and check the zip holds exactly the 2 approved files, byte-for-
byte, each with a valid C2PA manifest (``prodgen.provenance.verify.verify_file``). Then edit a photo
(background swap: before/after and a fidelity check that is not flagged), and open the audit log and the
tokens page. A screenshot of each page is saved under the test's tmp folder, or under
``$PRODGEN_SCREENSHOTS`` (``bench/studio_screenshots.py`` writes the README's to docs/studio/).

Needs the ``playwright`` Python package and a Chromium binary (``$PRODGEN_CHROMIUM``, else
``/usr/bin/chromium`` or ``chromium`` on PATH: Debian's ``chromium`` package); skips cleanly without them.
``$PRODGEN_STUDIO_RUNS`` (+ ``$PRODGEN_STUDIO_MODEL``, default ``demo``) serves an existing runs folder
instead of training the tiny one.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from live import make_token, require_chromium, serving, tiny_run, until, watched_page

pytestmark = pytest.mark.timeout(int(os.environ.get("PRODGEN_BROWSER_TIMEOUT_S", "600")))


require_chromium()  # skips this module without playwright or Chromium

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio")
    if os.environ.get("PRODGEN_STUDIO_RUNS"):
        runs, model = Path(os.environ["PRODGEN_STUDIO_RUNS"]), os.environ.get("PRODGEN_STUDIO_MODEL", "demo")
    else:
        runs, model = root / "runs", "demo"
        tiny_run(runs, model)
    data = root / "data"
    admin = make_token(data, "admin", "ana")
    with serving(runs, data, workers=1) as url:
        yield {"url": url, "data": data, "admin": admin, "model": model, "root": root}


@pytest.fixture(scope="module")
def shots(studio):
    folder = Path(os.environ.get("PRODGEN_SCREENSHOTS") or studio["root"] / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def nav(page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state()


def snap(page, shots: Path, name: str) -> None:
    """A full-page screenshot once every image on the page has loaded (lazy ones are made eager first)."""
    images = page.locator("main img:visible")
    until(lambda: images.evaluate_all("imgs => { imgs.forEach(i => { i.loading = 'eager'; }); "
                                      "return imgs.every(i => i.complete); }"))
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def product_photo(path: Path) -> Path:
    from prodgen.data.synthetic import render

    render("handbag", "red", "striped", np.random.default_rng(3)).save(path)
    return path


def test_generate_review_export_in_chromium(studio, browser, shots, tmp_path):
    from prodgen.provenance.verify import verify_file

    url = studio["url"]
    ctx, page, errors = watched_page(browser, TIMEOUT_MS, accept_downloads=True)

    # -- log in: the start page sends us to /login first
    page.goto(url + "/")
    assert page.url.startswith(url + "/login")
    assert page.get_by_role("note").filter(has_text="generated or edited by AI").is_visible()
    snap(page, shots, "login")
    page.get_by_label("Access token").fill(studio["admin"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + "/")
    assert "ana" in page.locator(".who").inner_text()

    # -- generate 4 images on the demo run, with attribute values chosen from the run's vocabulary
    page.wait_for_selector(f"#model option[value='{studio['model']}']", state="attached")
    page.select_option("#model", studio["model"])
    page.wait_for_selector("select[data-attribute]")
    attr = page.locator("select[data-attribute]").first
    first_value = attr.locator("option").nth(1).get_attribute("value")
    attr.select_option(first_value)
    page.get_by_label("Number of images").fill("4")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_selector("#job-line .state.done", timeout=TIMEOUT_MS)
    assert page.locator("#job-outputs img").count() == 4
    until(lambda: page.locator("#job-outputs img").evaluate_all("imgs => imgs.every(i => i.complete && i.naturalWidth > 0)"))
    snap(page, shots, "generate")

    # -- jobs: the job is listed as done with its 4 results
    nav(page, "Jobs")
    page.wait_for_selector("#jobs-table tbody tr[data-job] .state.done")
    assert page.locator("#jobs-table tbody tr[data-job]").first.locator("img").count() == 4
    snap(page, shots, "jobs")

    # -- review: approve 2 one by one, reject 2 in bulk with a reason
    nav(page, "Review")
    page.wait_for_selector("article.review-item")
    items = page.locator("article.review-item")
    assert items.count() == 4
    ids = [items.nth(i).get_attribute("data-asset") for i in range(4)]
    assert "Requested vs what the image shows" in items.first.inner_text()
    snap(page, shots, "review")
    for aid in ids[:2]:
        page.get_by_role("button", name=f"Approve image {aid}").click()
        page.wait_for_selector(f"article[data-asset='{aid}']", state="detached")
    for aid in ids[2:]:
        page.get_by_label(f"Select image {aid}").check()
    page.get_by_role("button", name="Reject selected").click()  # no reason yet: refused with a message
    assert "reason" in page.locator("#status").inner_text().lower()
    assert page.locator("article.review-item").count() == 2
    page.get_by_label("Reason for rejecting the selected images").fill("colour does not match the request")
    page.get_by_role("button", name="Reject selected").click()
    page.wait_for_selector("text=Nothing is waiting for review.")
    page.select_option("#review-state", "rejected")
    page.wait_for_selector("article.review-item")
    assert page.locator("article.review-item").count() == 2
    assert "colour does not match the request" in page.locator("article.review-item").first.inner_text()

    # -- export: exactly the 2 approved files, bytes kept, provenance valid
    nav(page, "Export")
    page.get_by_label("Generic").check()
    page.get_by_role("button", name="Export approved images").click()
    page.wait_for_selector("#export-result:not([hidden])")
    assert "2 file(s) exported, 0 refused" in page.locator("#export-summary").inner_text()
    snap(page, shots, "exports")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download zip").click()
    zpath = tmp_path / "export.zip"
    dl.value.save_as(zpath)
    with zipfile.ZipFile(zpath) as z:
        images = sorted(n for n in z.namelist() if n.startswith("images/"))
        assert images == sorted(f"images/{aid}.png" for aid in ids[:2])
        labels = z.read("labels.csv").decode().splitlines()
        manifest = json.loads(z.read("provenance.json"))
        z.extractall(tmp_path / "unzipped")
    assert len(labels) == 3 and labels[0].startswith("file,asset_id,generated_or_edited")
    assert all(",generated," in row for row in labels[1:])
    for name in images:
        v = verify_file(tmp_path / "unzipped" / name)
        assert v["valid"], (name, v["reasons"])
        assert v["kind"] == "generated" and v["source_type"].endswith("/trainedAlgorithmicMedia")
        assert manifest["files"][name]["provenance"]["reviewed"] == "approved"

    # -- the main-image profile refuses fully generated images
    page.get_by_label("Marketplace main image").check()
    page.get_by_role("button", name="Export approved images").click()
    page.wait_for_selector("text=0 file(s) exported, 2 refused")
    assert "photograph of the real item" in page.locator("#export-refused").inner_text()
    until(lambda: page.locator("#exports-table tbody tr").count() == 2)
    assert page.locator("#exports-table tbody tr").nth(0).inner_text().split("\t")[1:4] == ["main-image", "0", "2"]
    assert page.locator("#exports-table a", has_text="Download").count() == 1  # the empty main-image export has none

    # -- edit a photo: background swap, before/after, fidelity not flagged
    nav(page, "Edit a photo")
    page.get_by_label("Product photo").set_input_files(str(product_photo(tmp_path / "bag.png")))
    page.wait_for_selector("#before:not([hidden])")
    page.select_option("#stated-colour", "Red")
    page.select_option("#background-kind", "gradient")
    page.get_by_label("Drop shadow").check()
    page.get_by_role("button", name="Edit", exact=True).click()
    page.wait_for_selector("#after:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_selector("#edit-fidelity .fine")
    assert "Product unchanged within thresholds" in page.locator("#edit-fidelity").inner_text()
    until(lambda: page.locator("#after").evaluate("i => i.complete && i.naturalWidth > 0"))
    snap(page, shots, "edit")

    # -- inpainting: paint a mask on the canvas with the keyboard, the job runs with it
    page.get_by_label("Restore (upscale, denoise, deblur, JPEG, inpaint)").check()
    page.select_option("#task", "inpaint")
    canvas = page.get_by_label("Inpainting mask: paint over the part to remove")
    canvas.focus()
    for key in ["Space", "ArrowRight", "Space", "ArrowDown", "Space"]:
        page.keyboard.press(key)
    page.get_by_role("button", name="Edit", exact=True).click()
    page.wait_for_selector("#after-state .state.done", timeout=TIMEOUT_MS)
    page.wait_for_selector("text=/^Done \\((classical baseline|prodgen restoration network)/")
    if not os.environ.get("PRODGEN_STUDIO_RUNS"):  # the tiny runs folder has no restoration run: the classical method
        assert "Done (classical baseline" in page.locator("#status").inner_text()
    assert "Product unchanged within thresholds" in page.locator("#edit-fidelity").inner_text()  # the mask is excluded
    snap(page, shots, "edit-inpaint")

    # -- recolour: the product re-tinted, the fidelity check says the colour no longer matches the stated one
    page.get_by_label("Restage (background, shadow, light, colour)").check()
    page.get_by_label("Recolour the product").check()
    page.locator("#recolour").fill("#2040c0")
    page.get_by_role("button", name="Edit", exact=True).click()
    page.wait_for_selector("#edit-fidelity p.flag", timeout=TIMEOUT_MS)
    assert "Flagged" in page.locator("#edit-fidelity").inner_text()
    snap(page, shots, "edit-recolour")

    # -- audit: who requested, approved, rejected, exported
    nav(page, "Audit log")
    page.wait_for_selector("#audit-table tbody tr td:nth-child(4)")
    actions = set(page.locator("#audit-table tbody td:nth-child(4)").all_inner_texts())
    assert {"login", "job.request", "review.approve", "review.reject", "export", "export.download"} <= actions, actions
    snap(page, shots, "audit")

    # -- tokens: make one; it is shown once
    nav(page, "Tokens")
    page.get_by_label("Who it is for").fill("ben")
    page.get_by_label("Role", exact=True).select_option("reviewer")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#token-secret:not([hidden])")
    assert page.locator("#token-value").inner_text().startswith("pgt_")
    page.wait_for_selector("#tokens-table td:text('ben')")
    snap(page, shots, "tokens")

    # -- the approved view of the review queue, for the README
    nav(page, "Review")
    page.select_option("#review-state", "approved")
    page.wait_for_selector("article.review-item")
    snap(page, shots, "review-approved")

    assert errors == []
    ctx.close()


def test_api_docs_render_offline(studio, browser):
    """/docs is Swagger UI served from the package (no CDN): in a browser with every outside request blocked, it lists
    the API's operations, and only the studio's own origin was asked for anything."""
    ctx = browser.new_context(extra_http_headers={"Authorization": f"Bearer {studio['admin']}"})
    page = ctx.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.route(lambda u: not u.startswith(studio["url"]), lambda route: route.abort())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(studio["url"] + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=TIMEOUT_MS)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/api/jobs", "/api/review", "/api/exports"} <= {p.replace("\u200b", "") for p in paths}, paths
    assert all(u.startswith(studio["url"]) for u in asked), [u for u in asked if not u.startswith(studio["url"])]
    assert errors == []
    ctx.close()


def test_viewer_cannot_request_or_approve(studio, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.goto(studio["url"] + "/login")
    page.get_by_label("Access token").fill(make_token(studio["data"], "viewer", "vic"))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(studio["url"] + "/")
    assert page.get_by_role("button", name="Generate", exact=True).is_disabled()
    assert page.get_by_role("link", name="Tokens").count() == 0
    page.goto(studio["url"] + "/tokens")
    assert "needs the admin role" in page.locator("main").inner_text()
    page.goto(studio["url"] + "/review")
    assert page.get_by_role("button", name="Reject selected").count() == 0
    ctx.close()
