"""From approved asset rows to a stored export zip: the server's side of ``studio.export.build_export``.

The zip is built in ``<data>/tmp`` (atomically, by ``build_export``), then moved into the content-addressed
store; only its sha256 is recorded.
"""

from __future__ import annotations

from .db import Asset, Job, new_id
from .export import ExportItem, build_export


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


__all__ = ["export_assets"]
