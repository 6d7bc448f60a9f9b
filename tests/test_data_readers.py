"""Catalog readers and image validation on fixture catalogs the tests write themselves."""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from prodgen.config import DataConfig
from prodgen.data import ImageError, load_catalog, prepare_images, read_csv_rows
from prodgen.data.idx_catalog import read_idx
from prodgen.data.images import letterbox, open_image
from prodgen.errors import UserError

HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n"


def _jpeg(path, colour=(200, 30, 30), size=(60, 80), mode="RGB"):
    Image.new(mode, size, colour).save(path, format="JPEG")


def _bomb_png(path, w=20000, h=20000):
    """A valid PNG header claiming w x h pixels; tiny on disk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = zlib.compress(b"\x00" * (w // 8 + 1) * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


@pytest.fixture
def bad_catalog(tmp_path):
    img = tmp_path / "images"
    img.mkdir()
    _jpeg(img / "1.jpg")
    Image.new("RGBA", (40, 40), (0, 0, 255, 0)).save(img / "2.png")  # fully transparent -> white
    _jpeg(img / "3.jpg", (0, 128, 255, 0), mode="CMYK")
    Image.fromarray(np.full((30, 30), 65535, dtype=np.uint16)).save(img / "4.png")  # 16-bit white
    Image.new("L", (30, 30), 90).save(img / "5.png")
    Image.new("P", (30, 30), 3).save(img / "6.png")
    (img / "7.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, format="JPEG")
    (img / "8.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])  # truncated
    (img / "9.jpg").write_bytes(b"")
    _bomb_png(img / "10.png")
    # 11: missing file; 12: duplicate of 1; 13: NA values; 14: comma in the (last) title column
    _jpeg(img / "13.jpg")
    _jpeg(img / "14.jpg")
    rows = [f"{i},Men,Apparel,Topwear,Tshirts,Red,Fall,2011,Casual,Item {i}" for i in range(1, 12)]
    rows += ["1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,Duplicate",
             "13,Women,Apparel,Topwear,NA,,Fall,2011,Casual,No type",
             "14,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,Shirt, with a comma",
             "15,Men,Apparel"]
    (tmp_path / "styles.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return tmp_path


def test_csv_reader_counts_every_bad_input(bad_catalog):
    cat = load_catalog(DataConfig(catalog=str(bad_catalog)))
    assert cat.kind == "csv" and cat.default_condition == ("articleType", "baseColour")
    assert cat.skip_counts() == {"missing-file": 1, "duplicate-id": 1, "malformed-row": 1}
    by_id = {r.id: r for r in cat.records}
    assert by_id["13"].attributes["articleType"] is None and by_id["13"].attributes["baseColour"] is None
    assert by_id["14"].title == "Shirt, with a comma"
    t = prepare_images(cat, 32, progress=False)
    reasons = {s.id: s.reason for s in t.skipped}
    assert reasons == {"7": "corrupt", "8": "truncated", "9": "empty-file", "10": "too-large"}
    assert set(t.ids) == {"1", "2", "3", "4", "5", "6", "13", "14"}
    img = dict(zip(t.ids, t.images))
    assert img["2"].min() == 255  # transparent PNG composited onto white, not black
    assert img["4"].min() == 255  # 16-bit 65535 scaled to 255
    assert int(img["5"][0, 16, 16]) == 90 and int(img["5"][2, 16, 16]) == 90  # grayscale -> RGB
    assert img["3"].shape == (3, 32, 32)
    assert (img["3"][:, 16, 16].int() - torch.tensor([255, 127, 0])).abs().max() <= 3  # CMYK (0, 128, 255, 0) -> orange
    assert img["3"][:, :, :2].min() >= 250  # 60x80 letterboxed: white bars left and right
    assert (img["1"][:, 16, 16].int() - torch.tensor([200, 30, 30])).abs().max() <= 3  # the JPEG's own colour


def test_huge_image_is_refused_without_decoding(tmp_path):
    _bomb_png(tmp_path / "bomb.png")
    with pytest.raises(ImageError) as e:
        open_image(tmp_path / "bomb.png")
    assert e.value.reason == "too-large" and "pixel limit" in str(e.value)


def test_misspelt_and_missing_columns_are_user_errors(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "styles.csv").write_text("idd,articleType,productDisplayName\n1,Shirts,A shirt\n")
    with pytest.raises(UserError, match=r"no id column 'id'.*Did you mean 'idd'.*Columns found: idd, articleType"):
        load_catalog(DataConfig(catalog=str(tmp_path)))
    with pytest.raises(UserError, match="Did you mean 'articleType'"):
        load_catalog(DataConfig(catalog=str(tmp_path / "styles.csv"), id_column="idd", attribute_columns=["articletype"]))


def test_missing_catalog_and_empty_csv(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_catalog(DataConfig(catalog=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="found no catalog"):
        load_catalog(DataConfig(catalog=str(tmp_path / "empty")))
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(UserError, match="is empty"):
        read_csv_rows(tmp_path / "e.csv")


def test_all_images_missing_is_a_clear_error(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "styles.csv").write_text(HEADER + "1,Men,Apparel,Topwear,Tshirts,Red,Fall,2011,Casual,T\n")
    with pytest.raises(UserError, match="none of the 1 rows has an image"):
        load_catalog(DataConfig(catalog=str(tmp_path)))


def test_letterbox_centres_on_white():
    img = Image.new("RGB", (20, 40), (0, 0, 0))
    out = np.asarray(letterbox(img, 40))
    assert out.shape == (40, 40, 3)
    assert out[:, :8].min() == 255 and out[:, -8:].min() == 255  # white side bars
    assert out[:, 12:28].max() == 0  # the product, centred


def _write_idx(path, arr, gz=False):
    code = {np.uint8: 0x08}[arr.dtype.type]
    data = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    (gzip.open(path, "wb") if gz else open(path, "wb")).write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_catalog_round_trip_and_inversion(tmp_path, gz):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    x = np.zeros((12, 28, 28), dtype=np.uint8)
    x[:, 8:20, 8:20] = 255  # white product on black
    y = np.arange(12, dtype=np.uint8) % 10
    ext = ".gz" if gz else ""
    _write_idx(folder / f"train-images-idx3-ubyte{ext}", x, gz)
    _write_idx(folder / f"train-labels-idx1-ubyte{ext}", y, gz)
    assert np.array_equal(read_idx(folder / f"train-images-idx3-ubyte{ext}"), x)
    cat = load_catalog(DataConfig(catalog=str(folder)))
    assert cat.kind == "idx" and len(cat) == 12 and cat.default_condition == ("label",)
    assert cat.records[1].attributes["label"] == "Trouser"  # Fashion-MNIST names
    rgb = np.asarray(cat.load_image(cat.records[0]))
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[14, 14].tolist() == [0, 0, 0]  # inverted onto white


def test_idx_bad_magic_and_truncation(tmp_path):
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    with pytest.raises(UserError, match="bad magic"):
        read_idx(tmp_path / "bad-images-idx3-ubyte")
    _write_idx(tmp_path / "t-images-idx3-ubyte", np.zeros((4, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "t-images-idx3-ubyte").read_bytes()
    (tmp_path / "t-images-idx3-ubyte").write_bytes(raw[:-10])
    with pytest.raises(UserError, match="truncated"):
        read_idx(tmp_path / "t-images-idx3-ubyte")


def test_class_folders(tmp_path):
    for cls, colour in (("bags", (10, 10, 10)), ("shoes", (200, 0, 0))):
        (tmp_path / cls).mkdir()
        for i in range(3):
            _jpeg(tmp_path / cls / f"{i}.jpg", colour)
    (tmp_path / "notes.txt").write_text("ignored")
    cat = load_catalog(DataConfig(catalog=str(tmp_path)))
    assert cat.kind == "folder" and len(cat) == 6
    assert cat.values("class") == {"bags": 3, "shoes": 3}
    assert cat.records[0].id == "bags/0"


def test_real_catalog_reads(real_catalog):
    cat = load_catalog(DataConfig(catalog=str(real_catalog)))
    assert len(cat) == 8521 and not cat.skipped
    assert cat.default_condition == ("articleType", "baseColour")
    assert cat.values("articleType")["Tshirts"] == 1464
