"""From approved asset rows to a stored export zip: the server's side of ``studio.export.build_export``.

The zip is built in ``<data>/tmp`` (atomically, by ``build_export``), then moved into the content-addressed
store; only its sha256 is recorded. When ``studio/export.py`` is absent (a tree without the pages part), a
minimal ``generic`` zip is written here instead: the files as stored, ``labels.csv`` and ``provenance.json``.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

from .db import Asset, Job, new_id


def _labels(a: Asset, job: Job | None) -> dict:
    meta = a.meta or {}
    labels = dict(meta.get("attributes") or meta.get("condition") or {})
    for k in ("catalog_id", "title", "seed", "model", "operation"):
        if meta.get(k) not in (None, ""):
            labels[k] = meta[k]
    return labels


def _provenance(a: Asset, job: Job | None) -> dict:
    return {**(a.provenance or {}), "asset_id": a.id, "job_id": a.job_id, "requested_by": job.created_by if job else None,
            "reviewed": a.review, "fidelity_flagged": bool((a.fidelity or {}).get("flagged")) if isinstance(a.fidelity, dict)
            else None}


def export_assets(st, assets: list[Asset], jobs: dict[str, Job], profile: str) -> tuple[list[str], list[dict], str]:
    """(files in the zip, refused {asset_id, reason}, the zip's sha256 in storage)."""
    tmp = st.settings.tmp_dir
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        from .export import ExportItem, build_export
    except ImportError:  # TODO(pages): studio/export.py absent: the minimal generic export below
        data, files = _minimal_zip(st, assets, jobs)
        return files, [], st.storage.put(data, "application/zip")
    items = [ExportItem(path=st.storage.path(a.sha256, a.media_type), asset_id=a.id, kind=a.kind,
                        labels=_labels(a, jobs.get(a.job_id)), provenance=_provenance(a, jobs.get(a.job_id)), review=a.review)
             for a in assets]
    out = tmp / f"export-{new_id()}.zip"
    try:
        result = build_export(items, profile, out)
        data = out.read_bytes()
    finally:
        out.unlink(missing_ok=True)
    return list(result.files), list(result.refused), st.storage.put(data, "application/zip")


def _minimal_zip(st, assets: list[Asset], jobs: dict[str, Job]) -> tuple[bytes, list[str]]:
    buf, rows, manifest, files = io.BytesIO(), [], {}, []
    with zipfile.ZipFile(buf, "w") as z:
        for a in assets:
            name = f"images/{a.id}.png"
            z.writestr(name, st.storage.get(a.sha256, a.media_type), compress_type=zipfile.ZIP_STORED)
            files.append(name)
            rows.append((name, a.id, a.kind, _labels(a, jobs.get(a.job_id))))
            manifest[name] = {"sha256": a.sha256, "kind": a.kind, "provenance": _provenance(a, jobs.get(a.job_id))}
        attrs = sorted({k for *_, lab in rows for k in lab})
        text = io.StringIO()
        w = csv.writer(text, lineterminator="\n")
        w.writerow(["file", "asset_id", "generated_or_edited", *attrs])
        for name, aid, kind, lab in rows:
            w.writerow([name, aid, kind, *(lab.get(k, "") for k in attrs)])
        z.writestr("labels.csv", text.getvalue())
        z.writestr("provenance.json", json.dumps({"profile": "generic", "files": manifest}, indent=2, default=str))
    return buf.getvalue(), files


__all__ = ["export_assets"]
