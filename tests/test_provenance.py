"""Provenance: IPTC source type in XMP + PNG text, a C2PA manifest signed with the key folder, read back by c2pa-python."""

from __future__ import annotations

import datetime
import io
import json
import stat
import struct
import xml.etree.ElementTree as ET

import c2pa
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.errors import UserError
from prodgen.provenance import ensure_keys, load_keys, stamp, stamp_bytes, verify_file
from prodgen.provenance.c2pa_sign import sign_bytes
from prodgen.provenance.keys import SigningKeys
from prodgen.provenance.marks import EDITED, GENERATED, mark_bytes, read_marks

runner = CliRunner()
TINY = ["--model-arg", "z_dim=16", "--model-arg", "cond_dim=16", "--model-arg", "g_base=8", "--model-arg", "g_cap=32",
        "--model-arg", "d_base=8", "--model-arg", "d_cap=16"]
INFO = {"run": "runs/00001-gan", "family": "gan", "seed": 7, "request": {"prompt": "women's \"red\" bag"}}


@pytest.fixture(autouse=True)
def signing_dir(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.getbasetemp() / "signing"  # one key folder for the module: created once
    monkeypatch.setenv("PRODGEN_SIGNING_DIR", str(folder))
    return folder


def noise_image(size: int = 48, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole chunk) of every chunk."""
    out, i = [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        out.append((data[i + 4:i + 8], data[i:i + 12 + n]))
        i += 12 + n
    return out


# -- keys --------------------------------------------------------------------------------------------------------------
def test_keys_are_created_once_private_and_reused(tmp_path):
    folder = tmp_path / "keys"
    keys = ensure_keys(folder)
    assert {p.name for p in folder.iterdir()} >= {"ca.pem", "ca.key", "chain.pem", "signer.key"}
    for name in ("ca.key", "signer.key"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    again = ensure_keys(folder)
    assert again.chain_pem == keys.chain_pem and again.key_pem == keys.key_pem
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before  # nothing rewritten
    assert keys.alg == "es256" and keys.signer_name == "prodgen signer" and keys.anchor_pem == (folder / "ca.pem").read_bytes()
    from cryptography import x509

    leaf, ca = x509.load_pem_x509_certificates(keys.chain_pem)
    assert leaf.issuer == ca.subject and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_bad_key_folders_are_refused_with_the_fix(tmp_path):
    a, b = ensure_keys(tmp_path / "a"), ensure_keys(tmp_path / "b")
    with pytest.raises(UserError, match="not the private key"):
        load_keys(tmp_path / "a" / "chain.pem", tmp_path / "b" / "signer.key")
    assert a.chain_pem != b.chain_pem
    (tmp_path / "b" / "signer.key").unlink()
    with pytest.raises(UserError, match="has chain.pem but no signer.key"):
        ensure_keys(tmp_path / "b")
    (tmp_path / "a" / "signer.key").write_text("not a key")
    with pytest.raises(UserError, match="not a readable PEM private key"):
        ensure_keys(tmp_path / "a")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "chain.pem").write_text("garbage")
    (tmp_path / "c" / "signer.key").write_bytes(b.key_pem)
    with pytest.raises(UserError, match="no readable PEM certificate"):
        ensure_keys(tmp_path / "c")


def self_signed_keys() -> SigningKeys:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .sign(key, hashes.SHA256()))
    return SigningKeys(cert.public_bytes(serialization.Encoding.PEM),
                       key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()), "es256")


def test_a_self_signed_leaf_is_refused_by_us_and_by_c2pa(tmp_path):
    keys = self_signed_keys()
    (tmp_path / "chain.pem").write_bytes(keys.chain_pem)
    (tmp_path / "signer.key").write_bytes(keys.key_pem)
    with pytest.raises(UserError, match="self-signed"):
        load_keys(tmp_path / "chain.pem", tmp_path / "signer.key")
    with pytest.raises(UserError, match="C2PA signing failed"):  # c2pa-python itself refuses it too
        sign_bytes(encoded(noise_image(), "PNG"), "generated", INFO, keys)


# -- marks ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_marks_are_spliced_in_without_touching_the_pixels(fmt):
    img = noise_image(40)
    data = encoded(img, fmt)
    marked = mark_bytes(mark_bytes(data, EDITED, {"seed": 1}), GENERATED, INFO)  # marking again replaces
    assert read_marks(marked) == {"source_type": GENERATED, "generator": "prodgen 0.1.0",
                                  "info": {"generator": "prodgen 0.1.0", **INFO}}
    assert marked.count(b"Iptc4xmpExt:DigitalSourceType") == 1
    a, b = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(marked))
    assert np.array_equal(np.asarray(a), np.asarray(b))  # the image data is the same bytes, decoded the same
    xmp = b.info.get("xmp") or b.info.get("XML:com.adobe.xmp")  # Pillow, an independent reader, finds the packet
    if fmt != "GIF":  # Pillow does not read GIF XMP; read_marks does
        xmp = xmp.decode() if isinstance(xmp, bytes) else xmp
        desc = ET.fromstring(xmp[xmp.index("<x:xmpmeta"):xmp.index("</x:xmpmeta>") + 12]).find(".//{*}Description")
        assert desc.get("{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}DigitalSourceType") == GENERATED
    if fmt == "PNG":
        assert b.info["Software"] == "prodgen 0.1.0" and json.loads(b.info["prodgen"])["seed"] == 7


# -- C2PA ------------------------------------------------------------------------------------------------------------------
def test_a_generated_png_carries_a_manifest_c2pa_verifies_and_the_iptc_type(signing_dir):
    img = noise_image()
    signed = stamp_bytes(encoded(img, "PNG"), "generated", INFO, title="x.png")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(signed))), np.asarray(img))
    ctx = c2pa.Context.from_dict({"trust": {"user_anchors": (signing_dir / "ca.pem").read_text()}})
    with c2pa.Reader("image/png", io.BytesIO(signed), context=ctx) as reader:  # c2pa-python's own verdict
        assert reader.get_validation_state() == "Trusted"
        m = reader.get_active_manifest()
    actions = next(a for a in m["assertions"] if a["label"] == "c2pa.actions.v2")["data"]["actions"]
    assert actions == [{"action": "c2pa.created", "digitalSourceType": GENERATED,
                        "softwareAgent": {"name": "prodgen", "version": "0.1.0"}}]
    assert next(a for a in m["assertions"] if a["label"] == "org.prodgen.info")["data"] == {"kind": "generated", **INFO}
    path = signing_dir.parent / "x.png"
    path.write_bytes(signed)
    r = verify_file(path)
    assert r["valid"] and r["state"] == "valid" and r["reasons"] == []  # not in the trust list unless asked
    assert r["source_type"] == r["iptc_source_type"] == GENERATED and r["kind"] == "generated"
    assert (r["generator"], r["run"], r["family"], r["seed"], r["request"]) == ("prodgen 0.1.0", *INFO.values())
    assert r["signer"]["name"] == "prodgen signer"
    assert verify_file(path, trust_anchor=(signing_dir / "ca.pem").read_bytes())["state"] == "trusted"


def test_changing_one_pixel_after_signing_fails_verification(tmp_path):
    img = noise_image()
    signed = stamp_bytes(encoded(img, "PNG"), "generated", INFO)
    img.putpixel((5, 5), (0, 0, 0))
    (tmp_path / "resaved.png").write_bytes(encoded(img, "PNG"))  # an editor re-saves: the manifest is gone
    r = verify_file(tmp_path / "resaved.png")
    assert not r["valid"] and r["state"] == "no manifest" and r["source_type"] is None
    # A forger keeps the manifest (and the marks) and changes the pixels: the data hash no longer matches.
    keep = [chunk for ctype, chunk in png_chunks(signed) if ctype in (b"caBX", b"iTXt", b"tEXt")]
    new = png_chunks(encoded(img, "PNG"))
    forged = b"\x89PNG\r\n\x1a\n" + new[0][1] + b"".join(keep) + b"".join(chunk for _, chunk in new[1:])
    (tmp_path / "forged.png").write_bytes(forged)
    r = verify_file(tmp_path / "forged.png")
    assert not r["valid"] and r["state"] == "invalid"
    assert any(reason.startswith("assertion.dataHash.mismatch") for reason in r["reasons"])
    assert r["iptc_source_type"] == GENERATED  # the marks still say what it was


def test_an_edited_photo_is_composite_with_its_parent_named(tmp_path):
    photo = tmp_path / "photo.jpg"
    noise_image(seed=1).save(photo, quality=90)
    out = tmp_path / "edited.jpg"
    out.write_bytes(encoded(noise_image(seed=1).transpose(Image.Transpose.FLIP_LEFT_RIGHT), "JPEG"))
    stamp(out, "edited", {"edits": ["mirror", "background solid:#ffffff"]}, parent=photo)
    r = verify_file(out)
    assert r["valid"] and r["kind"] == "edited"
    assert r["source_type"] == r["iptc_source_type"] == EDITED
    assert Image.open(out).info["xmp"].count(EDITED.encode()) == 1
    assert r["actions"] == ["c2pa.opened", "c2pa.edited"] and r["parent"] == "photo.jpg"
    assert r["edits"] == ["mirror", "background solid:#ffffff"]
    with pytest.raises(ValueError, match="parent"):
        stamp(out, "edited", {"edits": ["mirror"]})


def test_an_animated_gif_keeps_its_frames(tmp_path):
    frames = [noise_image(24, s).convert("P") for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    path = tmp_path / "m.gif"
    path.write_bytes(buf.getvalue())
    stamp(path, "generated", INFO)
    assert Image.open(path).n_frames == 3 and verify_file(path)["valid"]


# -- the command line --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "gan"
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run before conftest's per-test cache isolation
        mp.setenv("PRODGEN_CACHE", str(tmp_path_factory.getbasetemp() / "prodgen-cache"))
        res = runner.invoke(app, ["train", "--model", "gan", "--catalog", "synthetic", "--resolution", "32", "--steps", "2",
                                  "--batch-size", "8", "--out", str(out), "--sample-every", "2", "--checkpoint-every", "2",
                                  "--quiet", *TINY], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


def test_generate_and_vary_write_files_prodgen_verify_accepts(tiny_run, tmp_path):
    out = tmp_path / "g"
    res = runner.invoke(app, ["generate", str(tiny_run), "-n", "3", "--attr", "colour=red", "--seed", "5", "--out", str(out),
                              "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == ["000000.png", "000001.png", "000002.png", "grid.png"]
    res = runner.invoke(app, ["verify", "--json", *map(str, files)])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert all(r["valid"] and r["source_type"] == GENERATED and r["run"] == str(tiny_run) and r["family"] == "gan"
               for r in got)
    assert [r["seed"] for r in got[:3]] == [5, 6, 7] and got[0]["request"]["attributes"] == {"colour": "red"}
    res = runner.invoke(app, ["verify", str(files[1])])
    assert res.exit_code == 0 and "trainedAlgorithmicMedia" in res.output and "seed:         6" in res.output
    assert "valid, signer trusted" in res.output  # the default key folder's CA signed it

    photo = tmp_path / "photo.png"
    noise_image(64).save(photo)
    res = runner.invoke(app, ["vary", str(photo), "--mirror", "--out", str(tmp_path / "v.webp")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    r = verify_file(tmp_path / "v.webp")
    assert r["valid"] and r["source_type"] == EDITED and r["edits"] == ["background solid:#ffffff", "mirror"]
    res = runner.invoke(app, ["enhance", str(photo), "--task", "denoise", "--out", str(tmp_path / "e.png")],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    r = verify_file(tmp_path / "e.png")
    assert r["valid"] and r["source_type"] == EDITED and r["edits"] == ["denoise"] and r["parent"] == "photo.png"

    bad = tmp_path / "bad.png"
    bad.write_bytes(files[0].read_bytes() + b"tail")
    res = runner.invoke(app, ["verify", str(files[0]), str(bad)])
    assert res.exit_code == 1 and "INVALID" in res.output and "dataHash.mismatch" in res.output
    noise_image().save(tmp_path / "plain.png")
    res = runner.invoke(app, ["verify", str(tmp_path / "plain.png")])
    assert res.exit_code == 1 and "NO C2PA MANIFEST" in res.output
