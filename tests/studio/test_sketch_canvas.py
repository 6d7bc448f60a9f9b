"""The Generate page's drawing canvas (issue 13), in a real browser: Debian's Chromium driven by Playwright against
``prodgen serve`` with a worker, as in test_browser.py (skips cleanly without Playwright or Chromium).

Two tiny runs are served: ``p2p`` (a 2-step pix2pix trained with ``edges``, as in test_sketch_upload.py) and ``gan``
(no image condition). The canvas is hidden for ``gan`` and shown for ``p2p``; a stroke drawn with the mouse, an outline
drawn with (synthetic) pen events and filled, and an eraser cut are uploaded through ``POST /api/uploads`` when Generate
is pressed, and the job carries that upload as ``sketch_asset_id``: the stored PNG is read back through the API and has
dark pixels where the strokes were, white where the eraser went and in the far corners. A chosen file wins over a
drawing (the page says so), and a drawing is never sent to a model that takes no sketch.

The screenshot of the page with a drawing goes to the test's tmp folder, or ``$PRODGEN_SCREENSHOTS``; the README's is
``PRODGEN_SCREENSHOTS=docs/studio pytest tests/studio/test_sketch_canvas.py`` (``docs/studio/generate-sketch.png``, and
``review-sketch-snap.png``: a review card of a snapped image; ``generate-sketch-shape.png``: the form with "Pull towards
the type's shapes" for a silhouette model).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from live import make_token, require_chromium, serving, tiny_run, until, watched_page

pytestmark = pytest.mark.timeout(int(os.environ.get("PRODGEN_BROWSER_TIMEOUT_S", "600")))

SKETCH = Path(__file__).resolve().parents[1] / "data" / "sketches" / "handbag.png"
TIMEOUT_MS = 120_000


require_chromium()  # skips this module without playwright or Chromium


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from tiny import train_tiny_run

    root = tmp_path_factory.mktemp("sketch-canvas")
    runs = root / "runs"
    train_tiny_run(runs / "p2p", "pix2pix", steps=2)
    from prodgen.conditioning.shape_index import build_shape_index

    build_shape_index(runs / "p2p")  # so the page offers "Snap to catalog shapes" for p2p
    train_tiny_run(runs / "sil", "pix2pix", steps=2, image_condition="silhouette")
    build_shape_index(runs / "sil")  # ... and "Pull towards the type's shapes" for sil
    tiny_run(runs, "gan")
    data = root / "data"
    editor = make_token(data, "editor", "eve")
    with serving(runs, data, workers=1) as url:
        yield {"url": url, "editor": editor, "root": root}


def pixel(canvas, x: int, y: int) -> list[int]:
    """The canvas bitmap's RGB at (x, y)."""
    return canvas.evaluate("(c, [x, y]) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data).slice(0, 3)", [x, y])


def dark(rgb) -> bool:
    return max(rgb) < 80


def white(rgb) -> bool:
    return min(rgb) > 245


class Sheet:
    """Page coordinates of points given in the canvas bitmap's 256 x 256 pixels."""

    def __init__(self, canvas):
        box = canvas.bounding_box()
        self.x, self.y, self.scale = box["x"], box["y"], box["width"] / 256

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        return self.x + x * self.scale, self.y + y * self.scale


def mouse_stroke(page, sheet: Sheet, points) -> None:
    """A real mouse drag (Chromium turns it into pointer events) through ``points``."""
    page.mouse.move(*sheet(*points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*sheet(*p), steps=12)
    page.mouse.up()


def pen_stroke(canvas, sheet: Sheet, points, step: float = 4.0) -> None:
    """Pointer events with pointerType "pen", dispatched on the canvas (a stylus the test machine does not have)."""
    def event(kind, x, y, buttons):
        cx, cy = sheet(x, y)
        canvas.dispatch_event(kind, {"pointerId": 7, "pointerType": "pen", "isPrimary": True, "button": 0,
                                     "buttons": buttons, "clientX": cx, "clientY": cy, "bubbles": True})

    event("pointerdown", *points[0], 1)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) / step))
        for i in range(1, n + 1):
            event("pointermove", x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, 1)
    event("pointerup", *points[-1], 0)


def open_generate_page(browser, studio, images: int):
    """A logged-in editor's Generate page with the models loaded and "Number of images" set; the POSTs the page makes
    are recorded: (ctx, page, errors, uploads (responses), created (job responses), jobs (job request bodies))."""
    url = studio["url"]
    ctx, page, errors = watched_page(browser, TIMEOUT_MS)
    uploads, created, jobs = [], [], []
    posted = lambda r, path: r.request.method == "POST" and r.url.endswith(path)  # noqa: E731
    page.on("response", lambda r: uploads.append(r) if posted(r, "/api/uploads") else None)
    page.on("response", lambda r: created.append(r) if posted(r, "/api/jobs") else None)
    page.on("request", lambda r: jobs.append(r.post_data_json) if r.method == "POST" and r.url.endswith("/api/jobs") else None)
    page.goto(url + "/login")
    page.get_by_label("Access token").fill(studio["editor"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + "/")
    page.wait_for_selector("#model option[value='p2p']", state="attached")
    page.get_by_label("Number of images").fill(str(images))
    return ctx, page, errors, uploads, created, jobs


def wait_done(page, created, n: int) -> None:
    """Until the page shows the n-th job it requested (1-based) as done."""
    until(lambda: len(created) >= n, page=page)
    job_id = created[n - 1].json()["id"]
    until(lambda: page.locator("#job-line").inner_text().startswith(f"Job {job_id}:")
          and page.locator("#job-line .state.done").count() == 1, timeout=TIMEOUT_MS / 1000)


def test_draw_a_sketch_on_the_canvas_and_generate_from_it(studio, browser, tmp_path):
    url = studio["url"]
    shots = Path(os.environ.get("PRODGEN_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    ctx, page, errors, uploads, created, jobs = open_generate_page(browser, studio, 1)
    draw_box = page.locator("#sketch-draw")
    canvas = page.get_by_role("img", name="Sketch drawing area")
    generate = page.get_by_role("button", name="Generate", exact=True)

    # -- a model without an image condition: no canvas
    page.select_option("#model", "gan")
    assert draw_box.is_hidden() and canvas.is_hidden()

    # -- the sketch model: the canvas, its tools and a help text that says the drawing replaces an upload
    page.select_option("#model", "p2p")
    assert draw_box.is_visible() and canvas.is_visible()
    help_text = page.locator("#sketch-draw-help").inner_text()
    assert "instead of an uploaded file" in help_text and "filled dark shape on white" in help_text
    assert "edges" in help_text
    assert canvas.evaluate("c => getComputedStyle(c).touchAction") == "none"
    assert page.locator("#sketch-draw-state").inner_text() == "Nothing drawn yet."
    assert page.get_by_role("button", name="Undo").is_disabled() and page.get_by_role("button", name="Clear").is_disabled()
    generate.click()  # nothing drawn, no file: refused on the page, nothing uploaded
    assert "draws from a sketch" in page.locator("#status").inner_text()
    assert uploads == [] and jobs == []

    # -- a mouse stroke, undone, then drawn again
    sheet = Sheet(canvas)
    mouse_stroke(page, sheet, [(40, 180), (216, 180)])
    assert dark(pixel(canvas, 128, 180)) and white(pixel(canvas, 128, 120))
    assert "used as the sketch" in page.locator("#sketch-draw-state").inner_text()
    forget = page.get_by_role("button", name="Use the drawing, not the chosen file")
    assert forget.is_hidden()  # no file chosen
    page.get_by_role("button", name="Undo").click()
    assert white(pixel(canvas, 128, 180)) and page.get_by_role("button", name="Undo").is_disabled()
    assert page.locator("#sketch-draw-state").inner_text() == "Nothing drawn yet."
    page.get_by_label("Line width", exact=True).select_option(label="thick")
    mouse_stroke(page, sheet, [(40, 180), (216, 180)])
    assert dark(pixel(canvas, 128, 186))  # thick: 16 px wide

    # -- a square outline with the pen, filled inside (a silhouette), the fill undone and done again
    page.get_by_label("Line width", exact=True).select_option(label="medium")
    pen_stroke(canvas, sheet, [(30, 30), (100, 30), (100, 100), (30, 100), (30, 30)])
    assert dark(pixel(canvas, 30, 65)) and white(pixel(canvas, 65, 65))
    page.get_by_label("Fill", exact=True).check()
    mouse_stroke(page, sheet, [(65, 65)])
    assert dark(pixel(canvas, 65, 65)) and white(pixel(canvas, 150, 65)) and white(pixel(canvas, 250, 5))
    page.get_by_role("button", name="Undo").click()
    assert white(pixel(canvas, 65, 65)) and dark(pixel(canvas, 30, 65))
    mouse_stroke(page, sheet, [(65, 65)])
    assert dark(pixel(canvas, 65, 65))

    # -- the eraser cuts the line
    page.get_by_label("Eraser", exact=True).check()
    mouse_stroke(page, sheet, [(128, 150), (128, 210)])
    assert white(pixel(canvas, 128, 180)) and dark(pixel(canvas, 100, 180))
    page.get_by_label("Pen", exact=True).check()

    # -- Generate: the drawing is uploaded like a file and sent as the job's sketch
    generate.click()
    wait_done(page, created, 1)
    until(lambda: page.locator("#job-outputs img").evaluate_all(
        "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"))
    assert "from your drawing" in page.locator("#status").inner_text()
    assert len(uploads) == 1 and uploads[0].status == 201
    sketch_id = uploads[0].json()["asset_id"]
    assert len(jobs) == 1 and jobs[0]["model"] == "p2p" and jobs[0]["sketch_asset_id"] == sketch_id
    stored = ctx.request.get(f"{url}/api/assets/{sketch_id}/image")
    assert stored.status == 200 and stored.headers["content-type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(stored.body())).convert("RGB")).astype(int)
    assert img.shape == (256, 256, 3)
    for x in [*range(50, 115, 4), *range(142, 207, 4)]:  # along the stroke, both sides of the eraser's cut
        assert img[180, x].max() < 80, (x, img[180, x])
    assert img[180, 128].min() > 245  # the eraser's cut
    assert img[65, 65].max() < 80 and img[30, 65].max() < 80  # the filled square and its outline
    for y, x in [(5, 250), (250, 250), (250, 5), (65, 150), (120, 128)]:  # far corners, beside the shapes: white paper
        assert img[y, x].min() > 245, (y, x, img[y, x])
    meta = ctx.request.get(f"{url}/api/assets/{sketch_id}").json()
    assert meta["kind"] == "upload"
    page.screenshot(path=str(shots / "generate-sketch.png"), full_page=True)

    # -- a chosen file and a drawing: the file wins, and the page says so; one click makes the drawing win again
    page.set_input_files("#sketch", str(SKETCH))
    assert "the file is used and this drawing is not" in page.locator("#sketch-draw-state").inner_text()
    assert forget.is_visible()
    generate.click()
    wait_done(page, created, 2)
    assert "from the sketch file handbag.png" in page.locator("#status").inner_text()
    assert len(uploads) == 2 and jobs[1]["sketch_asset_id"] == uploads[1].json()["asset_id"]
    assert uploads[1].json()["width"] == Image.open(SKETCH).width  # the file (400 x 440), not the 256 x 256 drawing
    forget.click()
    assert page.locator("#sketch").evaluate("i => i.files.length") == 0 and forget.is_hidden()
    assert "used as the sketch" in page.locator("#sketch-draw-state").inner_text()

    # -- a model that takes no sketch: the canvas hides and the drawing is not sent
    page.select_option("#model", "gan")
    assert draw_box.is_hidden()
    generate.click()
    wait_done(page, created, 3)
    assert len(jobs) == 3 and "sketch_asset_id" not in jobs[2] and len(uploads) == 2
    assert errors == []
    ctx.close()


def test_snap_to_catalog_shapes_is_offered_for_a_sketch_model_with_a_shape_index(studio, browser, tmp_path):
    url = studio["url"]
    ctx, page, errors, _, created, jobs = open_generate_page(browser, studio, 2)
    snap = page.get_by_label("Snap to catalog shapes")
    page.select_option("#model", "gan")
    assert snap.is_hidden()
    page.select_option("#model", "p2p")
    assert snap.is_visible() and not snap.is_checked()
    assert "names the photo it took its shape from" in page.locator("#sketch-snap-help").inner_text()
    snap.check()
    page.set_input_files("#sketch", str(SKETCH))
    page.get_by_role("button", name="Generate", exact=True).click()
    wait_done(page, created, 1)
    job_id = created[0].json()["id"]
    assert jobs[0]["sketch_snap"] is True and jobs[0]["sketch_asset_id"]
    job = ctx.request.get(f"{url}/api/jobs/{job_id}").json()
    assert job["status"] == "done" and len(job["outputs"]) == 2
    # choosing a model without a shape index clears the box, so a later job does not ask for a snap
    page.select_option("#model", "gan")
    page.select_option("#model", "p2p")
    assert not snap.is_checked()
    # the review queue says which catalog photo each snapped image took its shape from
    page.goto(url + "/review")
    for out in job["outputs"]:
        card = page.locator(f"article[data-asset='{out}']")
        card.wait_for(timeout=TIMEOUT_MS)
        shape = ctx.request.get(f"{url}/api/assets/{out}").json()["meta"]["shape_of"]
        assert f"catalog photo {shape['id']}" in card.inner_text() and "snapped from the sketch" in card.inner_text()
        img = card.locator(".shape-source img")
        img.scroll_into_view_if_needed()  # it loads lazily
        until(lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"), page=page)  # the photo itself, served
    card = page.locator(f"article[data-asset='{job['outputs'][0]}']")
    card.screenshot(path=str(Path(os.environ.get("PRODGEN_SCREENSHOTS") or tmp_path) / "review-sketch-snap.png"))
    assert errors == []
    ctx.close()


def test_pull_towards_the_types_shapes_is_offered_for_a_silhouette_model(studio, browser, tmp_path):
    url = studio["url"]
    ctx, page, errors, uploads, created, jobs = open_generate_page(browser, studio, 2)
    field = page.get_by_label("Pull towards the type's shapes")
    close = page.get_by_label("Close open outlines")
    for model in ("gan", "p2p"):  # no mask model: the fields are hidden
        page.select_option("#model", model)
        assert field.is_hidden() and close.is_hidden()
    page.select_option("#model", "sil")
    assert field.is_visible() and field.input_value() == "0"
    assert close.is_visible() and not close.is_checked()  # off unless asked
    assert "1 follows the type most" in page.locator("#sketch-shape-help").inner_text()
    field.fill("1")
    page.select_option("#attr-category", "handbag")
    page.set_input_files("#sketch", str(SKETCH))
    page.get_by_role("button", name="Generate", exact=True).click()
    wait_done(page, created, 1)
    job_id = created[0].json()["id"]
    assert jobs[0]["sketch_shape"] == 1 and jobs[0]["sketch_asset_id"] and "sketch_snap" not in jobs[0]
    job = ctx.request.get(f"{url}/api/jobs/{job_id}").json()
    assert job["status"] == "done" and len(job["outputs"]) == 2
    # (after the click: a full-page screenshot taken before it left the click on nothing)
    page.screenshot(path=str(Path(os.environ.get("PRODGEN_SCREENSHOTS") or tmp_path) / "generate-sketch-shape.png"),
                    full_page=True)
    page.select_option("#model", "p2p")  # leaving for a model without it resets the field
    page.select_option("#model", "sil")
    assert field.input_value() == "0"
    page.goto(url + "/review")
    card = page.locator(f"article[data-asset='{job['outputs'][0]}']")
    card.wait_for(timeout=TIMEOUT_MS)
    assert "pulled towards the type's catalog shapes (K=1)" in card.inner_text()
    assert errors == []
    ctx.close()
