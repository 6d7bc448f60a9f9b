"""The studio's generate form with a sketch upload (issue 13): a sketch model draws from the uploaded drawing."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_kit import make_kit
from tiny import train_tiny_run

SKETCH = Path(__file__).resolve().parents[1] / "data" / "sketches" / "handbag.png"


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    root = tmp_path_factory.mktemp("sketch-runs")
    train_tiny_run(root / "p2p", "pix2pix", steps=2)
    train_tiny_run(root / "sil", "pix2pix", steps=2, image_condition="silhouette")
    train_tiny_run(root / "gan", "gan", steps=1)
    return make_kit(root, tmp_path_factory.mktemp("sketch-data"))


def test_generate_from_an_uploaded_sketch(kit):
    from prodgen.studio.db import Asset

    models = {m["id"]: m for m in kit.client.get("/api/models", headers=kit.h("viewer")).json()}
    assert models["p2p"]["image_condition"] == "edges" and models["gan"]["image_condition"] is None
    up = kit.upload(SKETCH.read_bytes(), name="handbag.png")
    assert up.status_code == 201, up.text
    sketch_id = up.json()["asset_id"]
    job = kit.client.post("/api/jobs", headers=kit.h("editor"), json={
        "kind": "generate", "model": "p2p", "n": 2, "attributes": {"colour": "red"}, "sketch_asset_id": sketch_id})
    assert job.status_code == 202, job.text
    kit.drain()
    j = kit.job(job.json()["id"])
    assert j["status"] == "done" and len(j["outputs"]) == 2, j
    with kit.st.db.read() as s:
        stored = s.get(Asset, sketch_id).sha256
    a = kit.client.get(f"/api/assets/{j['outputs'][0]}", headers=kit.h("viewer")).json()
    assert a["kind"] == "generated" and a["review"] == "pending" and a["provenance"]["signed"]
    from prodgen.provenance import verify_file

    with kit.st.db.read() as s:
        path = kit.st.storage.path(s.get(Asset, j["outputs"][0]).sha256, "image/png")
    sketch = verify_file(path)["request"]["sketch"]
    assert sketch["sha256"] == stored and sketch["condition"] == "edges" and sketch["asset"] == sketch_id


def test_sketch_requests_that_cannot_run_are_refused(kit):
    up = kit.upload(SKETCH.read_bytes(), name="handbag.png").json()["asset_id"]
    no_sketch = kit.client.post("/api/jobs", headers=kit.h("editor"), json={"kind": "generate", "model": "p2p", "n": 1})
    assert no_sketch.status_code == 422 and "upload a sketch" in no_sketch.text
    on_gan = kit.client.post("/api/jobs", headers=kit.h("editor"),
                             json={"kind": "generate", "model": "gan", "n": 1, "sketch_asset_id": up})
    assert on_gan.status_code == 422 and "takes no sketch" in on_gan.text
    bogus = kit.client.post("/api/jobs", headers=kit.h("editor"),
                            json={"kind": "generate", "model": "p2p", "n": 1, "sketch_asset_id": "nope"})
    assert bogus.status_code == 422 and "sketch_asset_id" in bogus.text


def test_snap_an_uploaded_sketch_to_catalog_shapes(kit):
    """`sketch_snap`: refused until the model has a shape index, then each image names the catalog photo whose shape
    it took, in its review record and in its signed provenance."""
    from prodgen.conditioning.shape_index import build_shape_index
    from prodgen.provenance import verify_file
    from prodgen.studio.db import Asset

    up = kit.upload(SKETCH.read_bytes(), name="handbag.png").json()["asset_id"]
    body = {"kind": "generate", "model": "p2p", "n": 2, "attributes": {"colour": "red"}, "sketch_asset_id": up,
            "sketch_snap": True}
    refused = kit.client.post("/api/jobs", headers=kit.h("editor"), json=body)
    assert refused.status_code == 422 and "prodgen shape-index" in refused.text
    no_sketch = kit.client.post("/api/jobs", headers=kit.h("editor"), json={**body, "sketch_asset_id": None})
    assert no_sketch.status_code == 422
    index = build_shape_index(kit.settings.runs / "p2p")
    models = {m["id"]: m for m in kit.client.get("/api/models", headers=kit.h("viewer")).json()}
    assert models["p2p"]["shape_index"] and not models["gan"]["shape_index"]
    job = kit.client.post("/api/jobs", headers=kit.h("editor"), json=body)
    assert job.status_code == 202, job.text
    kit.drain()
    j = kit.job(job.json()["id"])
    assert j["status"] == "done" and len(j["outputs"]) == 2, j
    shapes = []
    for out in j["outputs"]:
        with kit.st.db.read() as s:
            path = kit.st.storage.path(s.get(Asset, out).sha256, "image/png")
        info = verify_file(path)
        assert info["valid"] and info["shape_of"]["id"] in index.ids
        shapes.append(info["shape_of"])
    assert shapes[0]["id"] != shapes[1]["id"] and shapes[0]["chamfer_px"] <= shapes[1]["chamfer_px"]
    # the reviewer sees that photo: GET /api/assets/{id}/shape is the training photo, as the run's catalog holds it
    import io

    import numpy as np
    from PIL import Image

    from prodgen.config import RunConfig
    from prodgen.evaluate.evaluate import load_catalog_images, split_images
    from prodgen.sample import Pipeline

    run = kit.settings.runs / "p2p"
    train = split_images(load_catalog_images(RunConfig.load(run / "config.json"), run, progress=False),
                         Pipeline.from_pretrained(run).vocab, "train")
    for out, shape in zip(j["outputs"], shapes):
        got = kit.client.get(f"/api/assets/{out}/shape", headers=kit.h("viewer"))
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        want = train.images[train.ids.index(shape["id"])].permute(1, 2, 0).numpy()
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(got.content)).convert("RGB")), want)
    plain = kit.client.post("/api/jobs", headers=kit.h("editor"), json={**body, "sketch_snap": False, "n": 1})
    kit.drain()
    out = kit.job(plain.json()["id"])["outputs"][0]
    missing = kit.client.get(f"/api/assets/{out}/shape", headers=kit.h("viewer"))
    assert missing.status_code == 404 and "sketch_snap" in missing.text


def test_pull_an_uploaded_sketch_towards_the_types_shapes(kit):
    """`sketch_shape` K (silhouette models): refused without a shape index, on an edges model and with sketch_snap;
    then every image is drawn from the sketch's mask projected onto the type's shape model, and says so."""
    from prodgen.conditioning.shape_index import build_shape_index
    from prodgen.provenance import verify_file
    from prodgen.sample import Pipeline
    from prodgen.studio.db import Asset

    up = kit.upload(SKETCH.read_bytes(), name="handbag.png").json()["asset_id"]
    body = {"kind": "generate", "model": "sil", "n": 2, "attributes": {"category": "handbag", "colour": "red"},
            "sketch_asset_id": up, "sketch_shape": 1}
    refused = kit.client.post("/api/jobs", headers=kit.h("editor"), json=body)
    assert refused.status_code == 422 and "prodgen shape-index" in refused.text
    index = build_shape_index(kit.settings.runs / "sil")
    build_shape_index(kit.settings.runs / "p2p")
    on_edges = kit.client.post("/api/jobs", headers=kit.h("editor"), json={**body, "model": "p2p"})
    assert on_edges.status_code == 422 and "edge maps" in on_edges.text
    both = kit.client.post("/api/jobs", headers=kit.h("editor"), json={**body, "sketch_snap": True})
    assert both.status_code == 422 and "choose one" in both.text
    job = kit.client.post("/api/jobs", headers=kit.h("editor"), json=body)
    assert job.status_code == 202, job.text
    kit.drain()
    j = kit.job(job.json()["id"])
    assert j["status"] == "done" and len(j["outputs"]) == 2, j
    pipe = Pipeline.from_pretrained(kit.settings.runs / "sil")
    want = index.project(pipe.sketch_map(SKETCH), int(pipe.condition({"category": "handbag"})[0]), 1)
    with kit.st.db.read() as s:
        path = kit.st.storage.path(s.get(Asset, j["outputs"][0]).sha256, "image/png")
    info = verify_file(path)
    shape = info["request"]["sketch"]["shape_model"]
    assert info["valid"] and shape["components"] == 1 and shape["map_pixels"] == int(want.sum())
    queue = {a["id"]: a for a in kit.client.get("/api/review", headers=kit.h("viewer")).json()}
    a = queue[j["outputs"][0]]  # the reviewer's card reads K from the job's request
    assert a["review"] == "pending" and a["request"]["sketch_shape"] == 1


def test_close_the_outline_of_an_uploaded_sketch(kit):
    """`sketch_close` (silhouette models): refused on an edges model; then the images are drawn from the closed mask,
    and their provenance and the review card say so."""
    import io

    import numpy as np
    from PIL import Image

    from prodgen.provenance import verify_file
    from prodgen.sample import Pipeline
    from prodgen.studio.db import Asset

    canvas = np.full((200, 200, 3), 255, np.uint8)
    canvas[20:180, 20:24] = canvas[20:180, 176:180] = canvas[176:180, 20:180] = 0  # a U, open at the top
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG")
    up = kit.upload(buf.getvalue(), name="u.png").json()["asset_id"]
    body = {"kind": "generate", "model": "sil", "n": 1, "attributes": {"colour": "red"}, "sketch_asset_id": up,
            "sketch_close": True}
    on_edges = kit.client.post("/api/jobs", headers=kit.h("editor"), json={**body, "model": "p2p"})
    assert on_edges.status_code == 422 and "edge maps" in on_edges.text
    job = kit.client.post("/api/jobs", headers=kit.h("editor"), json=body)
    assert job.status_code == 202, job.text
    kit.drain()
    j = kit.job(job.json()["id"])
    assert j["status"] == "done", j
    closed = Pipeline.from_pretrained(kit.settings.runs / "sil").sketch_map(canvas, close=True)
    with kit.st.db.read() as s:
        path = kit.st.storage.path(s.get(Asset, j["outputs"][0]).sha256, "image/png")
    sketch = verify_file(path)["request"]["sketch"]
    assert sketch["close"] is True and sketch["map_pixels"] == int(closed.sum())
    queue = {a["id"]: a for a in kit.client.get("/api/review", headers=kit.h("viewer")).json()}
    assert queue[j["outputs"][0]]["request"]["sketch_close"] is True
