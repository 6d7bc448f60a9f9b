"""The studio's REST API end to end (FastAPI TestClient, a tiny trained run, jobs run in-process through huey)."""

from __future__ import annotations

import csv
import io
import logging
import zipfile

import numpy as np
import pytest
from PIL import Image
from server_kit import ROLES, jpeg_with_gps, make_kit, png, png_header_only, product_photo, small_ingest

from prodgen.studio.db import Asset, Job


@pytest.fixture
def kit(runs, tmp_path):
    return make_kit(runs, tmp_path / "data", queue_limit=50, ingest=small_ingest())


@pytest.fixture
def done(kit):
    """A finished generate job of 3 images: (job id, its asset ids)."""
    job_id = kit.generate(3, attributes={"colour": "Red"}, seed=5)
    kit.drain()
    j = kit.job(job_id)
    assert j["status"] == "done", j
    return job_id, j["outputs"]


# -- authentication and roles ------------------------------------------------------------------------------------
def test_health_is_the_only_open_route(kit):
    r = kit.client.get("/health")
    assert r.status_code == 200 and r.json() == {"ok": True, "schema": 2}
    assert r.headers["x-content-type-options"] == "nosniff" and "default-src 'self'" in r.headers["content-security-policy"]
    for path in ("/api/me", "/api/models", "/api/jobs", "/api/review", "/api/audit", "/api/tokens", "/api/exports",
                 "/api/jobs/x", "/api/assets/x", "/api/assets/x/image", "/openapi.json", "/docs"):
        assert kit.client.get(path).status_code == 401, path
        bad = kit.client.get(path, headers={"Authorization": "Bearer pgt_not-a-real-token"})
        assert bad.status_code == 401 and "unknown or revoked" in bad.json()["detail"], path
    assert kit.client.get("/api/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert kit.client.post("/api/jobs", json={"kind": "generate", "model": "gan"}).status_code == 401


def _calls(job_id, asset_id, token_id):
    """(method, path, json body, the lowest role allowed) for every protected route."""
    gen = {"kind": "generate", "model": "gan", "n": 1}
    return [
        ("GET", "/api/me", None, "viewer"), ("GET", "/api/models", None, "viewer"), ("GET", "/api/jobs", None, "viewer"),
        ("GET", f"/api/jobs/{job_id}", None, "viewer"), ("GET", f"/api/assets/{asset_id}", None, "viewer"),
        ("GET", f"/api/assets/{asset_id}/image", None, "viewer"), ("GET", "/api/review", None, "viewer"),
        ("POST", "/api/jobs", gen, "editor"), ("POST", f"/api/jobs/{job_id}/cancel", None, "editor"),
        ("POST", "/api/review", {"asset_ids": [asset_id], "decision": "approve"}, "reviewer"),
        ("GET", f"/api/assets/{asset_id}/download", None, "reviewer"),
        ("POST", "/api/exports", {"profile": "generic"}, "reviewer"), ("GET", "/api/exports", None, "reviewer"),
        ("GET", "/api/audit", None, "admin"), ("GET", "/api/tokens", None, "admin"),
        ("POST", "/api/tokens", {"name": "x", "role": "viewer"}, "admin"), ("DELETE", f"/api/tokens/{token_id}", None, "admin"),
    ]


def test_each_role_is_refused_what_it_may_not_do(kit, done):
    job_id, assets = done
    for method, path, body, lowest in _calls(job_id, assets[0], 9999):  # token 9999: refused before any lookup
        for role in ROLES:
            r = kit.client.request(method, path, headers=kit.h(role), json=body)
            if ROLES.index(role) < ROLES.index(lowest):
                assert r.status_code == 403, (method, path, role, r.status_code)
                assert f"needs the {lowest} role" in r.json()["detail"]
            else:  # allowed by role (a reviewer may still not cancel an editor's job: that 403 is about ownership)
                assert r.status_code != 401 and "needs the" not in r.text, (method, path, role, r.status_code, r.text)
    up = kit.upload(png(), role="viewer")
    assert up.status_code == 403


def test_me_and_models(kit):
    assert kit.client.get("/api/me", headers=kit.h("reviewer")).json() == {"name": "reviewer-user", "role": "reviewer"}
    models = kit.client.get("/api/models", headers=kit.h("viewer")).json()
    assert [m["id"] for m in models] == ["gan"]
    m = models[0]
    assert m["family"] == "gan" and m["resolution"] == 32 and m["text"] is False
    assert set(m["attributes"]) == {"category", "colour"} and "red" in m["attributes"]["colour"]
    assert "<unspecified>" not in m["attributes"]["colour"]


def test_openapi_lists_the_contract(kit):
    spec = kit.client.get("/openapi.json", headers=kit.h("viewer")).json()
    want = {"/api/me", "/api/models", "/api/uploads", "/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/cancel",
            "/api/assets/{asset_id}", "/api/assets/{asset_id}/image", "/api/assets/{asset_id}/download", "/api/review",
            "/api/exports", "/api/exports/{export_id}/zip", "/api/audit", "/api/tokens", "/api/tokens/{token_id}", "/health"}
    assert want <= set(spec["paths"])
    assert "JobOut" in spec["components"]["schemas"] and "ReviewDecision" in spec["components"]["schemas"]
    docs = kit.client.get("/docs", headers=kit.h("viewer"))
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# -- jobs ----------------------------------------------------------------------------------------------------------
def test_generate_job_makes_signed_images_that_wait_for_review(kit, done):
    from prodgen.provenance import verify_file

    job_id, assets = done
    j = kit.job(job_id)
    assert j["progress"] == 1.0 and j["attempts"] == 1 and j["created_by"] == "editor-user"
    assert j["request"]["attributes"] == {"colour": "red"}  # stored as the model spells it
    for k, aid in enumerate(assets):
        a = kit.client.get(f"/api/assets/{aid}", headers=kit.h("viewer")).json()
        assert a["kind"] == "generated" and a["review"] == "pending" and a["job_id"] == job_id
        assert a["meta"]["seed"] == 5 + k and a["meta"]["condition"] == {"colour": "red"}
        assert a["provenance"]["signed"] and a["provenance"]["source_type"].endswith("trainedAlgorithmicMedia")
        assert a["fidelity"]["attributes"][0]["requested"] == "red"
        img = kit.client.get(f"/api/assets/{aid}/image", headers=kit.h("viewer"))
        assert img.status_code == 200 and img.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(img.content)).size == (32, 32)
        with kit.st.db.read() as s:
            stored = kit.st.storage.path(s.get(Asset, aid).sha256, "image/png")
        v = verify_file(stored)
        assert v["valid"] and v["kind"] == "generated" and v["seed"] == 5 + k and v["run"] == "gan"
    # Same seed, same pixels: image k of seed 5 is image 0 of seed 5 + k.
    again = kit.generate(1, attributes={"colour": "red"}, seed=6)
    kit.drain()
    a1 = kit.client.get(f"/api/assets/{assets[1]}/image", headers=kit.h("viewer")).content
    b0 = kit.client.get(f"/api/assets/{kit.job(again)['outputs'][0]}/image", headers=kit.h("viewer")).content
    assert (Image.open(io.BytesIO(a1)).tobytes() == Image.open(io.BytesIO(b0)).tobytes())


def test_jobs_list_and_unknown_ids(kit, done):
    job_id, assets = done
    listed = kit.client.get("/api/jobs", headers=kit.h("viewer")).json()
    assert [x["id"] for x in listed] == [job_id] and listed[0]["outputs"] == assets
    assert kit.client.get("/api/jobs?status=queued", headers=kit.h("viewer")).json() == []
    assert kit.client.get("/api/jobs/nope", headers=kit.h("viewer")).status_code == 404
    assert kit.client.get("/api/assets/nope", headers=kit.h("viewer")).status_code == 404
    assert kit.client.post("/api/jobs/nope/cancel", headers=kit.h("editor")).status_code == 404


@pytest.mark.parametrize("body, says", [
    ({"kind": "generate", "model": "nope", "n": 1}, "unknown model 'nope'"),
    ({"kind": "generate", "model": "../gan", "n": 1}, "unknown model"),
    ({"kind": "generate", "model": "gan", "attributes": {"colour": "blurple"}}, "unknown value colour='blurple'"),
    ({"kind": "generate", "model": "gan", "attributes": {"size": "L"}}, "no attribute 'size'"),
    ({"kind": "generate", "model": "gan", "n": 65}, "at most 64"),
    ({"kind": "generate", "model": "gan", "n": 0}, "greater than or equal to 1"),
    ({"kind": "generate", "model": "gan", "prompt": "a red bag"}, "not trained on text"),
    ({"kind": "generate", "model": "gan", "colour": "red"}, "Extra inputs"),
    ({"kind": "paint", "model": "gan"}, "kind"),
    ({"kind": "edit", "asset_id": "nope", "operation": "restage"}, "not an uploaded photo"),
    ({"kind": "fill", "model": "gan", "csv_asset_id": "nope"}, "not an uploaded CSV"),
])
def test_bad_job_requests_are_refused_with_the_fix(kit, body, says):
    r = kit.client.post("/api/jobs", headers=kit.h("editor"), json=body)
    assert r.status_code == 422 and says in str(r.json()["detail"]), r.text
    with kit.st.db.read() as s:
        assert s.query(Job).count() == 0  # nothing queued


def test_edit_params_are_checked_before_queueing(kit):
    photo = kit.upload(product_photo()).json()["asset_id"]
    small = kit.upload(png(20, 20)).json()["asset_id"]
    cases = [({"operation": "restage", "params": {"background": "image:/etc/passwd"}}, "background"),
             ({"operation": "restage", "params": {"brightness": 9}}, "brightness"),
             ({"operation": "restage", "params": {"colour": "red"}}, "colour"),
             ({"operation": "restage", "params": {"recolour": "blurple"}}, "no RGB known for colour 'blurple'"),
             ({"operation": "restore", "params": {"task": "sharpen"}}, "task"),
             ({"operation": "restore", "params": {"task": "inpaint"}}, "needs mask_asset_id"),
             ({"operation": "restore", "params": {"task": "inpaint"}, "mask_asset_id": small},
              "paint the mask at the photo's size"),
             ({"operation": "restage", "params": {}, "mask_asset_id": small}, "only used by restore"),
             ({"operation": "restore", "params": {"task": "upscale4"}}, "pixel limit")]
    big = kit.upload(png(400, 400)).json()["asset_id"]  # x4 would be 2.56 MP, over the 1 MP cap of this kit
    for extra, says in cases:
        asset = big if extra["params"].get("task") == "upscale4" else photo
        r = kit.client.post("/api/jobs", headers=kit.h("editor"), json={"kind": "edit", "asset_id": asset, **extra})
        assert r.status_code == 422 and says in r.json()["detail"], (extra, r.text)


def test_edits_restage_and_restore_keep_the_product_and_are_marked_edited(kit):
    from prodgen.provenance import verify_file

    photo = kit.upload(product_photo(3)).json()["asset_id"]
    mask = Image.new("L", (128, 128), 0)
    mask.paste(255, (10, 10, 30, 30))
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    mask_id = kit.upload(buf.getvalue()).json()["asset_id"]
    jobs = [kit.client.post("/api/jobs", headers=kit.h("editor"), json={"kind": "edit", "asset_id": photo, **x}).json()["id"]
            for x in ({"operation": "restage", "params": {"background": "studio:#e0e8f0", "shadow": True, "mirror": True}},
                      {"operation": "restore", "params": {"task": "upscale2"}},
                      {"operation": "restore", "params": {"task": "inpaint"}, "mask_asset_id": mask_id})]
    kit.drain()
    sizes = []
    for job_id in jobs:
        j = kit.job(job_id)
        assert j["status"] == "done" and len(j["outputs"]) == 1, j
        a = kit.client.get(f"/api/assets/{j['outputs'][0]}", headers=kit.h("viewer")).json()
        assert a["kind"] == "edited" and a["review"] == "pending" and a["meta"]["source_asset"] == photo
        assert a["provenance"]["source_type"].endswith("compositeWithTrainedAlgorithmicMedia")
        sizes.append((a["width"], a["height"]))
        with kit.st.db.read() as s:
            v = verify_file(kit.st.storage.path(s.get(Asset, a["id"]).sha256, "image/png"))
        assert v["valid"] and v["kind"] == "edited" and v["edits"][0]["operation"] == a["meta"]["operation"]
        if a["meta"]["operation"] == "restage":  # new backdrop, mirrored: the product itself unchanged
            assert a["fidelity"]["flagged"] is False and a["fidelity"]["pixel_mad"] < 1
    assert sizes == [(128, 128), (256, 256), (128, 128)]


def test_recolour_turns_a_red_product_blue_and_the_fidelity_check_flags_it(kit):
    from prodgen.apps.background import product_mask

    photo = product_photo(5, colour="red")
    asset = kit.upload(photo).json()["asset_id"]
    r = kit.client.post("/api/jobs", headers=kit.h("editor"), json={
        "kind": "edit", "asset_id": asset, "operation": "restage", "params": {"recolour": "#2040c0", "stated_colour": "Red"}})
    assert r.status_code == 202, r.text
    kit.drain()
    j = kit.job(r.json()["id"])
    assert j["status"] == "done", j
    a = kit.client.get(f"/api/assets/{j['outputs'][0]}", headers=kit.h("viewer")).json()
    assert a["meta"]["params"]["recolour"] == "#2040c0"
    before = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"), dtype=np.float32) / 255
    after = np.asarray(Image.open(io.BytesIO(kit.client.get(f"/api/assets/{a['id']}/image", headers=kit.h("viewer")).content))
                       .convert("RGB"), dtype=np.float32) / 255
    inside = product_mask(before.transpose(2, 0, 1)).core
    r0, b0 = before[inside].mean(0)[[0, 2]]
    r1, b1 = after[inside].mean(0)[[0, 2]]
    assert r0 > b0 + 0.2 and b1 > r1 + 0.2, ((r0, b0), (r1, b1))  # red product -> blue product
    assert np.abs(after[~inside] - before[~inside]).mean() < 0.02  # backdrop untouched
    assert a["fidelity"]["flagged"] is True  # the product no longer matches its stated colour: a reviewer must see it


def test_fill_makes_one_image_per_row_without_a_photo(kit):
    rows = [["id", "category", "colour", "productDisplayName", "image"],
            ["a1", "handbag", "red", "Red bag", ""], ["a2", "cap", "blue", "Blue cap", "a2.jpg"],
            ["a/3", "watch", "black", "Black watch", ""]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    up = kit.upload(buf.getvalue().encode(), "text/csv", "catalog.csv")
    assert up.status_code == 201 and up.json()["kind"] == "csv" and up.json()["rows"] == 3
    r = kit.client.post("/api/jobs", headers=kit.h("editor"),
                        json={"kind": "fill", "model": "gan", "csv_asset_id": up.json()["asset_id"]})
    assert r.status_code == 202
    kit.drain()
    j = kit.job(r.json()["id"])
    assert j["status"] == "done" and len(j["outputs"]) == 2, j
    assert any("already have a photo" in n for n in j["notes"])
    metas = [kit.client.get(f"/api/assets/{a}", headers=kit.h("viewer")).json()["meta"] for a in j["outputs"]]
    assert [m["catalog_id"] for m in metas] == ["a1", "a/3"]
    assert metas[0]["attributes"] == {"category": "handbag", "colour": "red"}


def test_a_failing_job_shows_its_error(kit, monkeypatch):
    buf = io.StringIO()
    csv.writer(buf).writerows([["sku", "size"], ["x1", "L"]])
    up = kit.upload(buf.getvalue().encode(), "text/csv", "c.csv").json()["asset_id"]
    bad_csv = kit.client.post("/api/jobs", headers=kit.h("editor"), json={"kind": "fill", "model": "gan", "csv_asset_id": up,
                                                                          "id_column": "sku"}).json()["id"]
    from prodgen.studio import kinds

    def broken(run):
        raise RuntimeError("the GPU caught fire")

    kit.drain()
    monkeypatch.setitem(kinds.KINDS, "generate", broken)
    crash = kit.generate(1)
    kit.drain()
    j = kit.job(bad_csv)
    assert j["status"] == "failed" and "none of the columns the model is conditioned on" in j["error"]
    assert "the uploaded CSV" in j["error"] and str(kit.settings.data) not in j["error"]  # no server paths leak
    j = kit.job(crash)
    assert j["status"] == "failed" and j["error"].startswith("internal error (RuntimeError: the GPU caught fire)")
    assert j["outputs"] == []


def test_cancel_a_queued_and_a_running_job(kit, monkeypatch):
    queued = kit.generate(2)
    other = kit.generate(1, role="reviewer")
    assert kit.client.post(f"/api/jobs/{other}/cancel", headers=kit.h("editor")).status_code == 403  # not theirs
    r = kit.client.post(f"/api/jobs/{queued}/cancel", headers=kit.h("editor"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert kit.client.post(f"/api/jobs/{other}/cancel", headers=kit.h("admin")).json()["status"] == "cancelled"
    # A running job stops at its next image: cancel while image 2 of 6 is being made.
    from prodgen.studio.worker import JobRun

    running = kit.generate(6)
    step = JobRun.step

    def step_and_cancel(self, done, total):
        if done == 2:
            r = kit.client.post(f"/api/jobs/{running}/cancel", headers=kit.h("editor"))
            assert r.json() == {"status": "running", "cancel_requested": True}
        step(self, done, total)

    monkeypatch.setattr(JobRun, "step", step_and_cancel)
    kit.drain()
    for job_id in (queued, other, running):
        j = kit.job(job_id)
        assert j["status"] == "cancelled" and j["outputs"] == [], j
    assert kit.job(running)["progress"] == pytest.approx(2 / 6, abs=0.01) and kit.job(queued)["attempts"] == 0
    assert kit.client.post(f"/api/jobs/{running}/cancel", headers=kit.h("editor")).json()["status"] == "cancelled"


def test_a_full_queue_answers_429_with_retry_after(runs, tmp_path):
    kit = make_kit(runs, tmp_path / "data", queue_limit=2, retry_after_s=7)
    first, _ = kit.generate(1), kit.generate(1)
    r = kit.client.post("/api/jobs", headers=kit.h("editor"), json={"kind": "generate", "model": "gan", "n": 1})
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and "queue is full" in r.json()["detail"]
    with kit.st.db.read() as s:
        assert s.query(Job).count() == 2  # the refused job was not stored
    kit.client.post(f"/api/jobs/{first}/cancel", headers=kit.h("editor"))
    assert kit.generate(1)  # room again


# -- uploads ---------------------------------------------------------------------------------------------------------
def test_upload_strips_exif_and_gps(kit):
    r = kit.upload(jpeg_with_gps(), "image/jpeg", "IMG_0001.jpg")
    assert r.status_code == 201 and r.json()["kind"] == "upload" and (r.json()["width"], r.json()["height"]) == (80, 60)
    aid = r.json()["asset_id"]
    with kit.st.db.read() as s:
        a = s.get(Asset, aid)
    path = kit.st.storage.path(a.sha256, "image/png")
    assert path.parent.parent == kit.st.storage.root and path.name == f"{a.sha256}.png"  # named by content, not upload
    stored = Image.open(path)
    assert stored.format == "PNG" and not stored.getexif() and "exif" not in stored.info
    raw = path.read_bytes()
    assert b"PhoneMaker" not in raw and b"GPS" not in raw and b"eXIf" not in raw
    assert kit.client.get(f"/api/assets/{aid}", headers=kit.h("viewer")).json()["review"] is None


@pytest.mark.parametrize("name, data, ctype, status, says", [
    ("too many bytes", b"\x89PNG" + b"0" * 300_001, "image/png", 413, "upload limit"),
    ("too many pixels", png(1200, 1000), "image/png", 413, "1,200,000 pixels"),
    ("decompression bomb", png_header_only(100_000, 100_000), "image/png", 413, "pixels"),
    ("not an image", b"%PDF-1.4 this is a document" * 10, "image/png", 415, "not a PNG, JPEG or WebP"),
    ("wrong content type", png(), "application/pdf", 415, "not an image type"),
    ("type does not match", png(), "image/jpeg", 415, "is a PNG image"),
    ("corrupt", png(64, 64, (1, 2, 3))[:60], "image/png", 422, "corrupt"),
    ("empty", b"", "image/png", 422, "empty"),
    ("binary csv", b"id,colour\n\x00\x01", "text/csv", 415, "binary"),
    ("csv not utf-8", "id,colour\nä,rot\n".encode("latin-1"), "text/csv", 422, "UTF-8"),
    ("csv without rows", b"id,colour\n", "text/csv", 422, "at least one product row"),
])
def test_bad_uploads_are_refused(kit, name, data, ctype, status, says):
    r = kit.upload(data, ctype, "x.csv" if "csv" in ctype else "x.png")
    assert r.status_code == status and says in r.json()["detail"], (name, r.status_code, r.text)
    with kit.st.db.read() as s:
        assert s.query(Asset).count() == 0


def test_oversized_bodies_are_refused_before_they_are_stored(kit):
    big = kit.upload(b"\x89PNG" + b"0" * 1_000_000)  # declares 1 MB against this kit's 300,000-byte cap
    assert big.status_code == 413 and "293 KB upload limit" in big.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(12):
            yield b" " * 100_000

    r = kit.client.post("/api/jobs", headers={**kit.h("editor"), "content-type": "application/json"}, content=chunks())
    assert r.status_code == 413 and "larger than 1024 KB" in r.json()["detail"]
    r = kit.client.post("/api/jobs", headers=kit.h("editor"),
                        json={"kind": "generate", "model": "gan", "prompt": "x" * 1_100_000})
    assert r.status_code == 413
    with kit.st.db.read() as s:
        assert s.query(Asset).count() == 0 and s.query(Job).count() == 0


def test_truncated_photo_is_refused_after_its_header(kit):
    from server_kit import product_photo as photo

    data = photo(1)
    r = kit.upload(data[: len(data) * 2 // 3])
    assert r.status_code == 422 and "corrupt or truncated" in r.json()["detail"]


# -- review, download, export, audit --------------------------------------------------------------------------------
def test_review_in_bulk_and_only_approved_images_leave(kit, done):
    _, (a, b, c) = done
    for aid in (a, b, c):
        r = kit.client.get(f"/api/assets/{aid}/download", headers=kit.h("reviewer"))
        assert r.status_code == 403 and "only approved images leave" in r.json()["detail"]
    queue = kit.client.get("/api/review", headers=kit.h("viewer")).json()
    assert [q["id"] for q in queue] == [a, b, c]
    assert queue[0]["model"] == "gan" and queue[0]["seed"] == 5 and queue[0]["request"]["n"] == 3
    near = queue[0]["nearest"]  # the training photos closest to the image, so a copy of a real product is caught
    assert len(near) == 3 and [n["distance"] for n in near] == sorted(n["distance"] for n in near)
    assert near[0]["space"] == "pixels" and near[0]["id"].startswith("syn")
    photo = kit.client.get(near[0]["image"], headers=kit.h("viewer"))
    assert photo.status_code == 200 and Image.open(io.BytesIO(photo.content)).size == (32, 32)
    assert kit.client.get(f"/api/assets/{a}/nearest/3", headers=kit.h("viewer")).status_code == 404
    r = kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [c], "decision": "reject"})
    assert r.status_code == 422 and "needs a reason" in r.json()["detail"]
    r = kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [c], "decision": "reject", "reason": "  "})
    assert r.status_code == 422
    upload = kit.upload(png()).json()["asset_id"]
    r = kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [a, upload], "decision": "approve"})
    assert r.status_code == 422 and upload in r.json()["detail"]
    assert kit.client.get(f"/api/assets/{a}", headers=kit.h("viewer")).json()["review"] == "pending"  # all or nothing
    assert kit.client.post("/api/review", headers=kit.h("reviewer"),
                           json={"asset_ids": [a, b], "decision": "approve"}).json() == {"decision": "approved",
                                                                                         "updated": [a, b]}
    kit.client.post("/api/review", headers=kit.h("reviewer"),
                    json={"asset_ids": [c], "decision": "reject", "reason": "logo blurred"})
    rej = kit.client.get(f"/api/assets/{c}", headers=kit.h("viewer")).json()
    assert rej["review"] == "rejected" and rej["reason"] == "logo blurred"
    assert [q["id"] for q in kit.client.get("/api/review?state=approved", headers=kit.h("viewer")).json()] == [a, b]
    assert kit.client.get("/api/review", headers=kit.h("viewer")).json() == []
    got = kit.client.get(f"/api/assets/{a}/download", headers=kit.h("reviewer"))
    assert got.status_code == 200 and got.content == kit.client.get(f"/api/assets/{a}/image", headers=kit.h("viewer")).content
    assert f'filename="{a}.png"' in got.headers["content-disposition"]
    assert kit.client.get(f"/api/assets/{c}/download", headers=kit.h("reviewer")).status_code == 403
    assert kit.client.get(f"/api/assets/{upload}/download", headers=kit.h("admin")).status_code == 403


def test_export_holds_exactly_the_approved_files(kit, done):
    from prodgen.provenance import verify_file

    _, (a, b, c) = done
    r = kit.client.post("/api/exports", headers=kit.h("reviewer"), json={"profile": "generic"})
    assert r.status_code == 422 and "nothing approved" in r.json()["detail"]
    kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [a, b], "decision": "approve"})
    kit.client.post("/api/review", headers=kit.h("reviewer"),
                    json={"asset_ids": [c], "decision": "reject", "reason": "wrong colour"})
    r = kit.client.post("/api/exports", headers=kit.h("reviewer"), json={"profile": "generic", "asset_ids": [a, c]})
    assert r.status_code == 422 and c in r.json()["detail"]
    r = kit.client.post("/api/exports", headers=kit.h("reviewer"), json={"profile": "generic"})
    assert r.status_code == 201, r.text
    ex = r.json()
    assert sorted(ex["files"]) == sorted([f"images/{a}.png", f"images/{b}.png"]) and ex["refused"] == []
    z = kit.client.get(f"/api/exports/{ex['id']}/zip", headers=kit.h("reviewer"))
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        images = sorted(n for n in zf.namelist() if n.startswith("images/"))
        assert images == sorted(ex["files"])
        labels = list(csv.DictReader(io.StringIO(zf.read("labels.csv").decode())))
        assert {row["asset_id"] for row in labels} == {a, b} and {row["generated_or_edited"] for row in labels} == {"generated"}
        tmp = kit.settings.data / "check.png"
        tmp.write_bytes(zf.read(f"images/{a}.png"))
        assert verify_file(tmp)["valid"]
    main = kit.client.post("/api/exports", headers=kit.h("reviewer"), json={"profile": "main-image"}).json()
    assert main["files"] == [] and {x["asset_id"] for x in main["refused"]} == {a, b}
    assert len(kit.client.get("/api/exports", headers=kit.h("reviewer")).json()) == 2
    assert kit.client.get("/api/exports/nope/zip", headers=kit.h("reviewer")).status_code == 404


def test_audit_log_records_who_did_what(kit, done):
    job_id, (a, b, c) = done
    kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [a], "decision": "approve"})
    kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [b], "decision": "reject", "reason": "blurry"})
    ex = kit.client.post("/api/exports", headers=kit.h("reviewer"), json={"profile": "generic"}).json()
    made = kit.client.post("/api/tokens", headers=kit.h("admin"), json={"name": "bo", "role": "viewer"}).json()
    kit.client.delete(f"/api/tokens/{made['id']}", headers=kit.h("admin"))
    log = kit.client.get("/api/audit", headers=kit.h("admin")).json()
    got = {(e["actor"], e["action"], e["target"]) for e in log}
    assert {("editor-user", "job.request", f"job:{job_id}"), ("reviewer-user", "review.approve", f"asset:{a}"),
            ("reviewer-user", "review.reject", f"asset:{b}"), ("reviewer-user", "export", f"export:{ex['id']}"),
            ("admin-user", "token.create", f"token:{made['id']}"), ("admin-user", "token.revoke", f"token:{made['id']}")} <= got
    reject = next(e for e in log if e["action"] == "review.reject")
    assert reject["detail"]["reason"] == "blurry" and reject["role"] == "reviewer" and reject["at"].endswith("Z")
    assert log == sorted(log, key=lambda e: -e["id"])  # newest first
    only = kit.client.get("/api/audit?action=export", headers=kit.h("admin")).json()
    assert [e["action"] for e in only] == ["export"]


def test_tokens_are_shown_once_and_revocable(kit):
    r = kit.client.post("/api/tokens", headers=kit.h("admin"), json={"name": "ana", "role": "reviewer"})
    assert r.status_code == 201
    made = r.json()
    secret = made["token"]
    assert secret.startswith("pgt_") and len(secret) >= 40
    listed = kit.client.get("/api/tokens", headers=kit.h("admin")).json()
    assert all("token" not in t and "secret_hash" not in t for t in listed) and secret not in str(listed)
    assert kit.client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).json() == {"name": "ana", "role": "reviewer"}
    import hashlib

    wal = kit.st.db.path.with_name(kit.st.db.path.name + "-wal")
    raw = kit.st.db.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert secret.encode() not in raw and hashlib.sha256(secret.encode()).hexdigest().encode() in raw
    assert kit.client.post("/api/tokens", headers=kit.h("admin"), json={"name": "x", "role": "god"}).status_code == 422
    assert kit.client.delete(f"/api/tokens/{made['id']}", headers=kit.h("admin")).json()["revoked_at"]
    assert kit.client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert kit.client.delete("/api/tokens/9999", headers=kit.h("admin")).status_code == 404


# -- browser sessions, CSRF, logs ------------------------------------------------------------------------------------
def _login(kit, role="editor"):
    from fastapi.testclient import TestClient

    c = TestClient(kit.app)
    r = c.post("/login", data={"token": kit.tokens[role], "next": "/jobs"}, headers={"accept": "text/html"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/jobs"
    return c, r


def test_login_sets_httponly_strict_cookies_and_csrf_guards_changes(kit):
    c, r = _login(kit)
    cookies = r.headers.get_list("set-cookie")
    session = next(x for x in cookies if x.startswith("prodgen_session="))
    csrf_cookie = next(x for x in cookies if x.startswith("prodgen_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
    assert "HttpOnly" not in csrf_cookie and "SameSite=strict" in csrf_cookie.replace("Strict", "strict")
    csrf = c.cookies["prodgen_csrf"]
    assert c.get("/api/me").json()["role"] == "editor"  # reads need no CSRF value
    body = {"kind": "generate", "model": "gan", "n": 1}
    r = c.post("/api/jobs", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert c.post("/api/jobs", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert c.post("/api/jobs", json=body, headers={"X-CSRF-Token": csrf}).status_code == 202
    up = c.post("/api/uploads", files={"file": ("p.png", png(), "image/png")})
    assert up.status_code == 403
    up = c.post("/api/uploads", files={"file": ("p.png", png(), "image/png")}, data={"csrf": csrf})
    assert up.status_code == 201  # a form field works as well as the header
    assert c.post("/logout").status_code == 403
    out = c.post("/logout", headers={"X-CSRF-Token": csrf, "accept": "text/html"}, follow_redirects=False)
    assert out.status_code == 303
    c.cookies.set("prodgen_session", r.cookies.get("prodgen_session") or "")
    assert c.get("/api/me").status_code == 401


def test_login_refuses_bad_tokens_and_foreign_redirects(kit):
    from fastapi.testclient import TestClient

    c = TestClient(kit.app)
    r = c.post("/login", data={"token": "pgt_wrong"}, headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?error=invalid" and "prodgen_session" not in c.cookies
    assert c.post("/login", data={"token": "pgt_wrong"}).status_code == 401
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = c.post("/login", data={"token": kit.tokens["viewer"], "next": evil}, headers={"accept": "text/html"},
                   follow_redirects=False)
        assert r.headers["location"] == "/"
    assert c.post("/login", data={"token": kit.tokens["viewer"]}).json()["role"] == "viewer"  # JSON clients


def test_revoking_a_token_ends_its_browser_sessions(kit):
    c, _ = _login(kit, "reviewer")
    me = kit.client.get("/api/tokens", headers=kit.h("admin")).json()
    tid = next(t["id"] for t in me if t["name"] == "reviewer-user")
    kit.client.delete(f"/api/tokens/{tid}", headers=kit.h("admin"))
    assert c.get("/api/me").status_code == 401


def test_logs_never_contain_tokens(kit, caplog):
    from typer.testing import CliRunner

    from prodgen.cli import app as cli

    caplog.set_level(logging.DEBUG)
    secrets = list(kit.tokens.values())
    _login(kit, "admin")
    kit.client.post("/login", data={"token": "pgt_guessed-but-wrong-123456"})
    for role in ROLES:
        kit.client.get("/api/me", headers=kit.h(role))
    made = kit.client.post("/api/tokens", headers=kit.h("admin"), json={"name": "cy", "role": "editor"}).json()["token"]
    res = CliRunner().invoke(cli, ["serve", "token", "create", "--role", "viewer", "--name", "dee",
                                   "--data", str(kit.settings.data)])
    assert res.exit_code == 0
    cli_secret = res.stdout.strip().splitlines()[-1]
    secrets += [made, cli_secret, "pgt_guessed-but-wrong-123456"]
    assert caplog.records  # something was logged (login lines at least)
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert not [s for s in secrets if s in text]
    # And a token that reaches a log line by mistake is masked.
    logging.getLogger("prodgen.studio").warning("oops %s", made)
    assert made not in caplog.records[-1].getMessage() and "pgt_***" in caplog.records[-1].getMessage()


def test_restore_uses_a_restoration_run_under_runs_when_there_is_one(runs, tmp_path):
    """No restoration run: the classical method. With one: the network, named in the request or chosen for the task."""
    import shutil

    import torch

    from prodgen.apps.restore import WEIGHTS_NAME, RestoreConfig, RestoreNet, save_restorer
    from prodgen.studio.models import RESTORATION_WEIGHTS

    assert RESTORATION_WEIGHTS == WEIGHTS_NAME

    local = tmp_path / "runs"
    shutil.copytree(runs, local)
    kit = make_kit(local, tmp_path / "data")
    photo = kit.upload(product_photo(2)).json()["asset_id"]

    def restore(**params):
        r = kit.client.post("/api/jobs", headers=kit.h("editor"),
                            json={"kind": "edit", "asset_id": photo, "operation": "restore", "params": params})
        if r.status_code != 202:
            return r
        kit.drain()
        j = kit.job(r.json()["id"])
        assert j["status"] == "done", j
        a = kit.client.get(f"/api/assets/{j['outputs'][0]}", headers=kit.h("viewer")).json()
        return a["meta"]["params"], kit.client.get(f"/api/assets/{a['id']}/image", headers=kit.h("viewer")).content

    assert kit.client.get("/api/restorers", headers=kit.h("viewer")).json() == []
    params, classical = restore(task="denoise")
    assert params["model"] == "classical" and params["method"].startswith("classical baseline")

    torch.manual_seed(0)
    net = RestoreNet(RestoreConfig(width=8, blocks=(1, 1, 1), tasks=("denoise", "upscale2")))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # untrained but not the identity correction: its output must differ
    save_restorer(net, local / "restore")
    assert kit.client.get("/api/restorers", headers=kit.h("viewer")).json() == [{"id": "restore", "tasks": ["denoise", "upscale2"]}]
    params, learned = restore(task="denoise")
    assert params["model"] == "restore" and params["method"] == "prodgen restoration network"
    a = np.asarray(Image.open(io.BytesIO(classical)), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(learned)), dtype=np.int16)
    assert a.shape == b.shape and np.abs(a - b).mean() > 0.5
    params, again = restore(task="denoise", model="classical")
    assert params["model"] == "classical" and np.array_equal(np.asarray(Image.open(io.BytesIO(again))), a.astype(np.uint8))
    bad = restore(task="deblur", model="restore")
    assert bad.status_code == 422 and "not trained for deblur" in bad.json()["detail"]
    bad = restore(task="denoise", model="../restore")
    assert bad.status_code == 422 and "unknown restoration model" in bad.json()["detail"]
    params, _ = restore(task="deblur")  # no run knows deblur: classical
    assert params["model"] == "classical"

    from prodgen.export import export_restorer  # its ONNX export under --runs serves the same restorations

    export_restorer(local / "restore", local / "restore-onnx")
    assert [r["id"] for r in kit.client.get("/api/restorers", headers=kit.h("viewer")).json()] == ["restore", "restore-onnx"]
    params, served = restore(task="denoise", model="restore-onnx")
    assert params["method"] == "prodgen restoration network (ONNX fp32)"
    c = np.asarray(Image.open(io.BytesIO(served)), dtype=np.int16)
    assert np.abs(c - b).max() <= 1  # the 8-bit result of the same network


def test_a_productnet_under_runs_reads_generated_images_and_ranks_neighbours(runs, tmp_path):
    """A `prodgen features fit` folder under --runs fitted on the run's catalog (same fingerprint and resolution) is
    what reads the generated image and measures its nearest training photos; one fitted on another catalog is not."""
    import shutil

    from prodgen.config import RunConfig
    from prodgen.data.load import load_catalog
    from prodgen.evaluate.productnet import ProductNet, ProductNetConfig
    from prodgen.conditioning.vocab import Vocabulary

    local = tmp_path / "runs"
    shutil.copytree(runs, local)
    cfg = RunConfig.load(local / "gan" / "config.json")
    vocab = Vocabulary.load(local / "gan" / "vocab.json")
    catalog = load_catalog(cfg.data)

    def fit_folder(name: str, fingerprint: str) -> None:
        net = ProductNet(ProductNetConfig(cfg.data.resolution, vocab.names, vocab.sizes, 8, 32, catalog.name, fingerprint))
        net.save_pretrained(local / name, vocab, {})

    fit_folder("pn-other", "0" * 16)  # another catalog's: must be ignored
    kit = make_kit(local, tmp_path / "data")

    def generated():
        r = kit.client.post("/api/jobs", headers=kit.h("editor"),
                            json={"kind": "generate", "model": "gan", "attributes": {"category": "handbag"}, "n": 1})
        kit.drain()
        return kit.client.get(f"/api/assets/{kit.job(r.json()['id'])['outputs'][0]}", headers=kit.h("viewer")).json()

    a = generated()
    assert a["meta"]["nearest_space"] == "pixels" and "no ProductNet" in a["fidelity"]["note"]
    fit_folder("pn", catalog.fingerprint)
    kit = make_kit(local, tmp_path / "data2")  # a fresh worker process state: ProductNets are looked up once per run
    a = generated()
    assert a["meta"]["nearest_space"] == "productnet" and a["fidelity"]["note"] is None, a["fidelity"]
    assert len(a["meta"]["nearest"]) == 3
    # the same catalog folder with another fingerprint (its files were copied again: new times) is the same catalog
    from prodgen.studio.kinds import _same_folder

    assert _same_folder(str(local / "gan"), str(local / "x" / ".." / "gan")) and not _same_folder(str(local), str(local / "gan"))
    assert not _same_folder(None, str(local))
