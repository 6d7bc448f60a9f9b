"""Channel-aware export of approved images: a zip with the files, ``labels.csv`` and their provenance.

Profiles (``PROFILES``):

- ``generic``: every approved item.
- ``google-merchant``: Google Merchant Center asks for the IPTC digital source type of AI images
  to be present and kept, so a file whose own metadata lacks it (or names a type that does not
  match the item's kind) is refused.
- ``main-image``: a marketplace's main product image must be a photograph of the real item, so a
  fully generated image (kind ``generated``, or a file that says ``trainedAlgorithmicMedia``) is
  refused; edits of real photos pass.

The zip holds ``images/<asset_id>.<ext>`` (the stored bytes, never decoded or re-encoded, so the
XMP/PNG marks and C2PA manifest stay valid), ``labels.csv`` (file, asset id, a ``generated_or_edited``
column, the IPTC source type, the labels), ``provenance.json`` (one manifest: per file its sha256,
kind and provenance) and ``README.txt``. It is written atomically: a crash leaves no half zip.

Only approved items may be exported. The server passes only those; ``build_export`` checks it
again and raises ``NotApprovedError`` (a bug, not a user mistake) for any other.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import atomic_open
from ..errors import UserError
from ..provenance.marks import EDITED, GENERATED, read_marks

KINDS = ("generated", "edited")
SOURCE_TYPE_OF_KIND = {"generated": GENERATED, "edited": EDITED}
ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
EXTENSIONS = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"GIF87a": "gif", b"GIF89a": "gif"}

PROFILES = {
    "generic": "every approved image, metadata kept",
    "google-merchant": "approved images that carry the IPTC digital source type Google Merchant Center asks for",
    "main-image": "approved edits of real photos only: a main product image must show the real item",
}


class NotApprovedError(RuntimeError):
    """An item that is not approved reached the export: a bug in the caller, never exported."""


@dataclass(frozen=True)
class ExportItem:
    path: Path  # the stored file (content-addressed by the server)
    asset_id: str
    kind: str  # generated | edited
    labels: dict = field(default_factory=dict)  # attribute -> value (the request's attributes, the catalog's row)
    provenance: dict = field(default_factory=dict)  # what the server knows: job, run, seed, signer, edits, reviewer
    review: str = "pending"  # pending | approved | rejected: only approved items may be exported


@dataclass
class ExportResult:
    out_zip: Path
    profile: str
    files: list[str]  # names inside the zip, one per exported item
    exported: list[str]  # asset ids exported, in order
    refused: list[dict]  # {asset_id, reason}

    def to_dict(self) -> dict:
        return {"zip": str(self.out_zip), "profile": self.profile, "files": self.files, "exported": self.exported,
                "refused": self.refused}


def _extension(data: bytes) -> str | None:
    for magic, ext in EXTENSIONS.items():
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _check_items(items: list[ExportItem]) -> None:
    seen = set()
    for it in items:
        if not isinstance(it, ExportItem):
            raise TypeError(f"build_export takes ExportItem objects, got {type(it).__name__}")
        if it.review != "approved":
            raise NotApprovedError(f"asset {it.asset_id} is {it.review!r}, not approved: only approved images may be exported "
                                   "(the review rule); approve it first or leave it out")
        if not ASSET_ID.match(str(it.asset_id)):
            raise ValueError(f"asset id {it.asset_id!r} is not a safe file name (letters, digits, _ and -, up to 128)")
        if it.asset_id in seen:
            raise ValueError(f"asset {it.asset_id} is listed twice; pass each approved asset once")
        seen.add(it.asset_id)
        if it.kind not in KINDS:
            raise ValueError(f"asset {it.asset_id} has kind {it.kind!r}; only {' and '.join(KINDS)} images are exported")


def refusal(profile: str, item: ExportItem, source_type: str | None) -> str | None:
    """Why ``profile`` refuses ``item`` whose file says ``source_type`` (None: it is accepted)."""
    if profile == "main-image":
        if item.kind == "generated" or source_type == GENERATED:
            return ("fully generated image: a marketplace's main image must be a photograph of the real item; "
                    "use an edit of a real photo, or export this image with the generic profile")
    elif profile == "google-merchant":
        want = SOURCE_TYPE_OF_KIND[item.kind]
        if source_type is None:
            return ("the file carries no IPTC digital source type, which Google Merchant Center asks AI images to keep; "
                    "regenerate or re-edit it with prodgen (every file it writes is marked)")
        if source_type != want:
            return (f"the file says {source_type.rsplit('/', 1)[-1]} but the asset is {item.kind} "
                    f"({want.rsplit('/', 1)[-1]} expected); its metadata does not match what it is")
    return None


def build_export(assets: list[ExportItem], profile: str, out_zip: Path) -> ExportResult:
    """Write the ``profile`` export of the approved ``assets`` to ``out_zip`` (atomically); see the module doc."""
    if profile not in PROFILES:
        raise UserError(f"unknown export profile {profile!r}; use one of: {', '.join(PROFILES)}")
    _check_items(list(assets))
    out_zip = Path(out_zip)
    rows, manifest, files, exported, refused = [], {}, [], [], []
    payloads: list[tuple[str, bytes]] = []
    for it in assets:
        path = Path(it.path)
        if not path.is_file():
            raise FileNotFoundError(f"asset {it.asset_id}: its stored file {path} is missing; the store is damaged "
                                    "(restore it from backup) or the asset was deleted")
        data = path.read_bytes()
        ext = _extension(data)
        if ext is None:
            refused.append({"asset_id": it.asset_id, "reason": "the stored file is not a PNG, JPEG, WebP or GIF image"})
            continue
        source_type = read_marks(data)["source_type"]
        why = refusal(profile, it, source_type)
        if why:
            refused.append({"asset_id": it.asset_id, "reason": why})
            continue
        name = f"images/{it.asset_id}.{ext}"
        payloads.append((name, data))
        files.append(name)
        exported.append(it.asset_id)
        rows.append({"file": name, "asset_id": it.asset_id, "generated_or_edited": it.kind,
                     "digital_source_type": source_type or "", "labels": it.labels})
        manifest[name] = {"asset_id": it.asset_id, "kind": it.kind, "sha256": hashlib.sha256(data).hexdigest(),
                          "bytes": len(data), "digital_source_type": source_type, "provenance": it.provenance}
    now = datetime.now(timezone.utc)
    stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    with atomic_open(out_zip, "wb") as fh, zipfile.ZipFile(fh, "w") as z:
        for name, data in payloads:  # stored, not deflated: the bytes in the zip are the file's bytes
            z.writestr(zipfile.ZipInfo(name, stamp), data, compress_type=zipfile.ZIP_STORED)
        z.writestr(zipfile.ZipInfo("labels.csv", stamp), labels_csv(rows), compress_type=zipfile.ZIP_DEFLATED)
        doc = {"profile": profile, "rule": PROFILES[profile], "created": now.isoformat(timespec="seconds"),
               "files": manifest, "refused": refused}
        z.writestr(zipfile.ZipInfo("provenance.json", stamp), json.dumps(doc, indent=2, default=str) + "\n",
                   compress_type=zipfile.ZIP_DEFLATED)
        z.writestr(zipfile.ZipInfo("README.txt", stamp), readme(profile, len(files), refused),
                   compress_type=zipfile.ZIP_DEFLATED)
    return ExportResult(out_zip, profile, files, exported, refused)


def labels_csv(rows: list[dict]) -> str:
    attrs = sorted({k for r in rows for k in r["labels"]})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "asset_id", "generated_or_edited", "digital_source_type", *attrs])
    for r in rows:
        w.writerow([r["file"], r["asset_id"], r["generated_or_edited"], r["digital_source_type"],
                    *(_cell(r["labels"].get(a, "")) for a in attrs)])
    return buf.getvalue()


def _cell(v) -> str:
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@") else s  # no spreadsheet formulas from labels


def readme(profile: str, n: int, refused: list[dict]) -> str:
    lines = [f"prodgen studio export, profile {profile}: {PROFILES[profile]}.", "",
             f"{n} image(s) in images/. Every image here was generated or edited with AI (prodgen) and approved by a",
             "reviewer. labels.csv says which (generated_or_edited) and the IPTC digital source type; provenance.json",
             "gives each file's sha256 and provenance. The files are byte-for-byte the approved ones: their IPTC/XMP",
             "marks and C2PA Content Credentials are intact (check one with `prodgen verify FILE`). Keep the marks when",
             "publishing: shops and marketplaces use them to label AI images."]
    if refused:
        lines += ["", f"{len(refused)} approved image(s) were refused by this profile:"]
        lines += [f"  {r['asset_id']}: {r['reason']}" for r in refused]
    return "\n".join(lines) + "\n"


__all__ = ["ExportItem", "ExportResult", "NotApprovedError", "PROFILES", "build_export", "labels_csv", "refusal"]
