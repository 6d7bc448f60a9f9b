"""Export profiles: only approved images, bytes kept, labels.csv generated/edited column, channel refusals."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from prodgen.errors import UserError
from prodgen.provenance.marks import EDITED, GENERATED, mark_bytes, read_marks
from prodgen.studio.export import ExportItem, NotApprovedError, build_export


def image_bytes(fmt: str = "PNG", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def files(tmp_path):
    """Two generated PNGs, an edited PNG, an edited JPEG, and a generated PNG whose marks were stripped."""
    out = {}
    specs = {"gen1": ("PNG", GENERATED), "gen2": ("PNG", GENERATED), "edit1": ("PNG", EDITED), "editjpg": ("JPEG", EDITED),
             "bare": ("PNG", None)}
    for i, (aid, (fmt, st)) in enumerate(specs.items()):
        data = image_bytes(fmt, seed=i)
        if st:
            data = mark_bytes(data, st, {"run": "demo", "seed": i})
        p = tmp_path / "store" / f"{hashlib.sha256(data).hexdigest()}.{fmt.lower()}"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        out[aid] = p
    return out


def item(files, aid, kind, review="approved", **labels):
    return ExportItem(path=files[aid], asset_id=aid, kind=kind, labels=labels or {"colour": "red"},
                      provenance={"job": f"job-{aid}", "seed": 1}, review=review)


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        labels = list(csv.DictReader(io.StringIO(z.read("labels.csv").decode())))
        prov = json.loads(z.read("provenance.json"))
        blobs = {n: z.read(n) for n in names if n.startswith("images/")}
        infos = {i.filename: i for i in z.infolist()}
    return names, labels, prov, blobs, infos


def test_generic_keeps_bytes_and_writes_labels(files, tmp_path):
    items = [item(files, "gen1", "generated", colour="red", category="dress"),
             item(files, "edit1", "edited", colour="blue"), item(files, "editjpg", "edited", colour="black")]
    res = build_export(items, "generic", tmp_path / "out.zip")
    assert res.files == ["images/gen1.png", "images/edit1.png", "images/editjpg.jpg"] and res.refused == []
    names, labels, prov, blobs, infos = read_zip(tmp_path / "out.zip")
    assert sorted(names) == sorted(res.files + ["labels.csv", "provenance.json", "README.txt"])
    for it in items:  # byte-for-byte the stored files, stored uncompressed
        name = f"images/{it.asset_id}.{'jpg' if it.asset_id == 'editjpg' else 'png'}"
        assert blobs[name] == it.path.read_bytes()
        assert infos[name].compress_type == zipfile.ZIP_STORED
        assert prov["files"][name]["sha256"] == hashlib.sha256(it.path.read_bytes()).hexdigest()
        assert prov["files"][name]["provenance"] == it.provenance
    assert read_marks(blobs["images/editjpg.jpg"])["source_type"] == EDITED
    assert [r["generated_or_edited"] for r in labels] == ["generated", "edited", "edited"]
    assert [r["digital_source_type"] for r in labels] == [GENERATED, EDITED, EDITED]
    assert labels[0]["category"] == "dress" and labels[1]["category"] == "" and labels[2]["colour"] == "black"
    assert list(labels[0]) == ["file", "asset_id", "generated_or_edited", "digital_source_type", "category", "colour"]


def test_main_image_refuses_generated(files, tmp_path):
    items = [item(files, "gen1", "generated"), item(files, "edit1", "edited"), item(files, "gen2", "generated")]
    res = build_export(items, "main-image", tmp_path / "main.zip")
    assert res.exported == ["edit1"]
    assert [r["asset_id"] for r in res.refused] == ["gen1", "gen2"]
    assert all("photograph of the real item" in r["reason"] for r in res.refused)
    names, labels, prov, blobs, _ = read_zip(tmp_path / "main.zip")
    assert list(blobs) == ["images/edit1.png"] and len(labels) == 1
    assert [r["asset_id"] for r in prov["refused"]] == ["gen1", "gen2"]


def test_main_image_trusts_the_files_own_mark(files, tmp_path):
    """An 'edited' asset whose file says trainedAlgorithmicMedia is a generated image: refused."""
    res = build_export([item(files, "gen1", "edited")], "main-image", tmp_path / "m.zip")
    assert res.exported == [] and "fully generated" in res.refused[0]["reason"]


def test_google_merchant_requires_the_iptc_tag(files, tmp_path):
    items = [item(files, "gen1", "generated"), item(files, "bare", "generated"), item(files, "edit1", "generated")]
    res = build_export(items, "google-merchant", tmp_path / "g.zip")
    assert res.exported == ["gen1"]
    reasons = {r["asset_id"]: r["reason"] for r in res.refused}
    assert "no IPTC digital source type" in reasons["bare"]
    assert "compositeWithTrainedAlgorithmicMedia" in reasons["edit1"] and "does not match" in reasons["edit1"]
    assert read_zip(tmp_path / "g.zip")[3]["images/gen1.png"] == files["gen1"].read_bytes()


def test_generic_exports_unmarked_files_too(files, tmp_path):
    assert build_export([item(files, "bare", "generated")], "generic", tmp_path / "b.zip").exported == ["bare"]


@pytest.mark.parametrize("state", ["pending", "rejected"])
def test_not_approved_raises_and_writes_nothing(files, tmp_path, state):
    out = tmp_path / "x.zip"
    out.write_bytes(b"previous export")
    with pytest.raises(NotApprovedError, match="not approved"):
        build_export([item(files, "gen1", "generated"), item(files, "gen2", "generated", review=state)], "generic", out)
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store", "x.zip"]  # no temp file left


def test_bad_requests_name_the_problem(files, tmp_path):
    with pytest.raises(UserError, match="unknown export profile 'amazon'.*generic, google-merchant, main-image"):
        build_export([], "amazon", tmp_path / "a.zip")
    with pytest.raises(ValueError, match="not a safe file name"):
        build_export([ExportItem(files["gen1"], "../etc", "generated", review="approved")], "generic", tmp_path / "a.zip")
    with pytest.raises(ValueError, match="listed twice"):
        build_export([item(files, "gen1", "generated")] * 2, "generic", tmp_path / "a.zip")
    with pytest.raises(ValueError, match="kind 'upload'"):
        build_export([ExportItem(files["gen1"], "u1", "upload", review="approved")], "generic", tmp_path / "a.zip")
    files["gen2"].unlink()
    with pytest.raises(FileNotFoundError, match="gen2"):
        build_export([item(files, "gen1", "generated"), item(files, "gen2", "generated")], "generic", tmp_path / "a.zip")
    assert not (tmp_path / "a.zip").exists()


def test_not_an_image_is_refused(files, tmp_path):
    p = tmp_path / "store" / "junk"
    p.write_bytes(b"not an image at all")
    res = build_export([ExportItem(p, "junk", "generated", review="approved")], "generic", tmp_path / "j.zip")
    assert res.exported == [] and "not a PNG" in res.refused[0]["reason"]


def test_labels_cannot_inject_spreadsheet_formulas(files, tmp_path):
    build_export([item(files, "gen1", "generated", colour="=HYPERLINK(\"x\")")], "generic", tmp_path / "f.zip")
    assert read_zip(tmp_path / "f.zip")[1][0]["colour"] == "'=HYPERLINK(\"x\")"
