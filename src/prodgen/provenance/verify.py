"""What an image file says about itself: its C2PA manifest (checked by c2pa-python), IPTC source type, prodgen's notes.

``verify_file(path)`` returns a dict:

- ``valid``: the file carries a C2PA manifest whose signature and hashes check out (c2pa's validation
  state "Valid" or "Trusted"); any change to the file's bytes after signing (pixels, metadata) makes it
  ``False`` with the reasons (e.g. ``assertion.dataHash.mismatch``);
- ``state``: ``"trusted"`` (signed by a certificate that chains to ``trust_anchor``, e.g. the key folder's
  local CA), ``"valid"``, ``"invalid"`` or ``"no manifest"``; ``reasons``: why not valid;
- ``kind`` (generated / edited), ``source_type`` (the IPTC digital source type the manifest's action
  declares) and ``iptc_source_type`` (the XMP mark), ``generator``, ``signer`` (name, issuer, alg),
  ``run``, ``family``, ``seed``, ``request``, ``edits``, ``parent`` (the photo an edit started from).

The manifest's notes are signed; where a file has no manifest the unsigned marks are reported
(``valid`` stays ``False``). Reading is offline: no OCSP, no remote manifests.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from ..errors import UserError
from .c2pa_sign import INFO_LABEL, MIME
from .marks import SOURCE_TYPES, image_format, read_marks

UNTRUSTED = "signingCredential.untrusted"  # reported as a failure by c2pa even when the state is "Valid"
# shape_of: the catalog photo a --sketch-snap image took its shape from
NOTES = ("run", "family", "seed", "request", "edits", "shape_of")


def verify_file(path: str | os.PathLike, trust_anchor: bytes | None = None) -> dict:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read {path} ({e.strerror}); give an image file prodgen wrote.") from e
    marks = read_marks(data)
    out = {"file": str(path), "valid": False, "state": "no manifest", "reasons": [], "kind": None,
           "source_type": None, "iptc_source_type": marks["source_type"], "generator": marks["generator"],
           "signer": None, "parent": None, **{k: None for k in NOTES}}
    notes = marks["info"] if isinstance(marks["info"], dict) else {}
    try:
        fmt = image_format(data)
    except UserError as e:
        out["reasons"].append(str(e))
        return _finish(out, notes)
    manifest, results, state, error = _read_manifest(data, MIME[fmt], trust_anchor)
    if error is not None:
        out["reasons"].append(error)
        if manifest is None and state is None:
            return _finish(out, notes)
    if manifest is not None:
        out.update(_from_manifest(manifest))
        signed = next((a["data"] for a in manifest.get("assertions", []) if a.get("label") == INFO_LABEL), None)
        if isinstance(signed, dict):
            notes = signed
        failures = (results or {}).get("activeManifest", {}).get("failure", [])
        out["reasons"] += [f"{f.get('code')}: {f.get('explanation')}" for f in failures if f.get("code") != UNTRUSTED]
    if out["source_type"] and out["iptc_source_type"] and out["source_type"] != out["iptc_source_type"]:
        out["reasons"].append(f"the XMP source type {out['iptc_source_type']} differs from the manifest's {out['source_type']}")
    out["state"] = (state or "invalid").lower()
    out["valid"] = out["state"] in ("valid", "trusted") and not out["reasons"]
    if not out["valid"]:
        out["state"] = "invalid"
    return _finish(out, notes)


def _finish(out: dict, notes: dict) -> dict:
    for k in NOTES:
        out[k] = notes.get(k)
    out["kind"] = out["kind"] or notes.get("kind") or next(
        (k for k, v in SOURCE_TYPES.items() if v == (out["source_type"] or out["iptc_source_type"])), None)
    return out


def _read_manifest(data: bytes, mime: str, trust_anchor: bytes | None):
    """(active manifest, validation results, validation state, error): Nones where absent."""
    import c2pa

    settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchor:
        settings["trust"] = {"user_anchors": trust_anchor.decode("ascii", "replace")}
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=c2pa.Context.from_dict(settings)) as reader:
            return reader.get_active_manifest(), reader.get_validation_results(), reader.get_validation_state(), None
    except c2pa.C2paError as e:
        if type(e).__name__.endswith("ManifestNotFound"):
            return None, None, None, "no C2PA manifest (Content Credentials) in the file"
        return None, None, "invalid", f"the C2PA manifest cannot be read: {e}"


def _from_manifest(m: dict) -> dict:
    gen = (m.get("claim_generator_info") or [{}])[0]
    sig = m.get("signature_info") or {}
    actions = next((a["data"].get("actions", []) for a in m.get("assertions", [])
                    if str(a.get("label", "")).startswith("c2pa.actions")), [])
    source = next((a.get("digitalSourceType") for a in actions if a.get("digitalSourceType")), None)
    parent = next((i.get("title") for i in m.get("ingredients", []) if i.get("relationship") == "parentOf"), None)
    return {"generator": " ".join(str(x) for x in (gen.get("name"), gen.get("version")) if x) or None,
            "signer": {"name": sig.get("common_name"), "issuer": sig.get("issuer"), "alg": sig.get("alg"),
                       "time": sig.get("time")} if sig else None,
            "source_type": source, "parent": parent,
            "kind": next((k for k, v in SOURCE_TYPES.items() if v == source), None),
            "actions": [a.get("action") for a in actions]}


__all__ = ["verify_file"]
