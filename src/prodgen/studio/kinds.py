"""What each job kind does, through prodgen's Python API; called by ``worker.execute`` in a worker process.

- ``generate``: ``sample.jobs.request_jobs`` (attributes and/or a prompt, ``n`` images, image i seeded
  ``seed + i``), one image at a time through the run's ``Pipeline``.
- ``fill``: the uploaded catalog CSV (``data.csv_catalog.parse_csv`` + ``sample.jobs.row_jobs``): one image
  per row without a photo (a row whose image column is filled has one).
- ``edit``: ``restage`` (``apps.variations.masked_recolour`` when ``recolour`` is given, then
  ``apps.background.restage``: background, shadow, relight, mirror) or ``restore``
  (``apps.restore.inference.restore_image``: with the restoration run the request names, or chose at request
  time, else the classical path, as ``prodgen enhance`` without a model).

Every output is stamped (``prodgen.provenance``: IPTC source type + signed C2PA manifest; ``generated`` or
``edited``), gets its fidelity check (``studio.fidelity``) and lands in review as ``pending``.
Between images the run reports progress and stops if cancelled (``JobRun.step``).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import UserError
from .db import Asset

GENERATOR = "prodgen studio"


# -- shared: provenance, fidelity, reading stored assets -------------------------------------------------------------
def stamp_png(run, rgb: np.ndarray, kind: str, info: dict, parent: Path | None = None) -> tuple[bytes, dict]:
    """PNG bytes of ``rgb`` with provenance, and what the studio records about it."""
    from ..grid import png_bytes

    png = png_bytes(Image.fromarray(rgb))
    record = {"kind": kind, "generator": GENERATOR, **info}
    from ..provenance import stamp_bytes
    from ..provenance.marks import SOURCE_TYPES

    keys = run.proc.keys()
    data = stamp_bytes(png, kind, {"generator": GENERATOR, **info}, keys=keys, title=f"{run.job.id}.png", parent=parent)
    return data, {**record, "signed": True, "source_type": SOURCE_TYPES[kind], "signer": keys.signer_name if keys else None}


def read_asset(run, asset_id: str, kinds: tuple[str, ...]) -> tuple[Asset, bytes]:
    with run.db.read() as s:
        asset = s.get(Asset, asset_id)
    if asset is None or asset.kind not in kinds:
        raise UserError(f"asset {asset_id} is not an uploaded {' or '.join(kinds)} (it may have been removed); upload it again")
    return asset, run.storage.get(asset.sha256, asset.media_type)


def decode_rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)


def _fidelity(fn_name: str, *args, **kwargs) -> dict | None:
    """Call ``studio.fidelity.<fn_name>`` if present; a failure is reported in the result, never fails the job."""
    from . import fidelity

    try:
        return getattr(fidelity, fn_name)(*args, **kwargs)
    except Exception as e:  # noqa: BLE001  (a fidelity check must not lose the image; the reviewer sees why)
        return {"error": f"fidelity check failed: {e}"}


def _productnet(run, pipe):
    """The ProductNet of the run's catalog, or None: a ``prodgen features fit`` folder under ``--runs`` fitted on the
    same catalog at the run's resolution, else the one ``prodgen evaluate`` cached. Never fitted here (that can take
    minutes). "Same catalog": the same content fingerprint, or the same catalog folder (the fingerprint includes file
    times, which change when a catalog is copied or checked out again; reading attributes does not need more)."""
    cache = run.proc.__dict__.setdefault("productnets", {})
    key = str(pipe.run_dir)
    if key not in cache:
        cache[key] = None
        try:
            from ..data.cache import default_cache_dir
            from ..data.load import load_catalog
            from ..evaluate.features import FitSettings, productnet_key
            from ..evaluate.productnet import CONFIG_NAME, ProductNet

            data = pipe.config.data
            fingerprint = load_catalog(data).fingerprint
            candidates = [p for p in sorted(run.settings.runs.iterdir()) if (p / CONFIG_NAME).is_file()]
            candidates.append(default_cache_dir() / "productnet" / productnet_key(data, FitSettings()))
            for folder in candidates:
                try:
                    cfg = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))["config"]
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                if int(cfg.get("resolution", -1)) == data.resolution and (
                        cfg.get("catalog_fingerprint") == fingerprint or _same_folder(cfg.get("catalog"), data.catalog)):
                    net, vocab, _ = ProductNet.from_pretrained(folder)
                    cache[key] = (net.eval(), vocab)
                    break
        except Exception:  # noqa: BLE001  (no catalog here, an old cache: simply no reading)
            cache[key] = None
    return cache[key]


def _same_folder(a, b) -> bool:
    try:
        return bool(a) and bool(b) and Path(a).is_dir() and Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return False


def generated_check(run, pipe, requested: dict, rgb: np.ndarray) -> dict | None:
    pn = _productnet(run, pipe)
    read = {}
    if pn is not None:
        read = _fidelity("read_attributes", pn[0], pn[1], rgb) or {}
        if "error" in read:
            read = {}
    rows = _fidelity("generated_fidelity", requested, read)
    if rows is None:
        return None
    note = None if pn is not None else ("no ProductNet is fitted for this run's catalog, so nothing reads the image; "
                                        "fit one with `prodgen features fit` to see what it shows")
    return {"attributes": rows, "note": note} if isinstance(rows, list) else rows


NEAREST_K = 3
PIXEL_SIDE = 16  # without a ProductNet, images are compared as 16 x 16 colour thumbnails


def _references(run, pipe):
    """The run's training photos (uint8 (N, 3, R, R)), their ids and features, loaded once per process; or a note."""
    cache = run.proc.__dict__.setdefault("references", {})
    key = str(pipe.run_dir)
    if key not in cache:
        try:
            from ..config import RunConfig
            from ..evaluate.evaluate import load_catalog_images, split_images

            cfg = RunConfig.load(pipe.run_dir / "config.json")
            train = split_images(load_catalog_images(cfg, pipe.run_dir, progress=False), pipe.vocab, "train")
            pn = _productnet(run, pipe)
            cache[key] = (train.ids, train.images, _features(pn, train.images), "productnet" if pn else "pixels")
        except Exception as e:  # noqa: BLE001  (the catalog moved, a damaged split: review without neighbours)
            cache[key] = f"the run's training photos could not be loaded ({type(e).__name__}: {str(e)[:200]})"
    return cache[key]


def _features(pn, images_u8):
    import torch.nn.functional as F

    if pn is not None:
        return pn[0].extract(images_u8)[0]
    return F.interpolate(images_u8.float() / 255.0, size=(PIXEL_SIDE, PIXEL_SIDE), mode="area").flatten(1)


def nearest_training(run, pipe, rgb: np.ndarray) -> dict:
    """The ``NEAREST_K`` training photos closest to a generated image (so a reviewer catches a copy of a real product).

    Distances are L2 in ProductNet feature space when the catalog's ProductNet is cached, else between 16 x 16
    thumbnails; the photos are stored (content-addressed) for ``GET /api/assets/{id}/nearest/{k}``."""
    import torch

    from ..grid import png_bytes

    refs = _references(run, pipe)
    if isinstance(refs, str):
        return {"items": [], "note": refs}
    ids, images, feats, space = refs
    q = _features(_productnet(run, pipe), torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None])
    d = torch.cdist(q.float(), feats.float())[0]
    k = min(NEAREST_K, len(ids))
    dist, idx = d.topk(k, largest=False)
    items = []
    for v, i in zip(dist.tolist(), idx.tolist()):
        photo = images[i].permute(1, 2, 0).contiguous().numpy()
        sha = run.storage.put(png_bytes(Image.fromarray(photo)), "image/png")
        items.append({"id": ids[i], "distance": round(float(v), 4), "sha256": sha})
    return {"items": items, "space": space, "note": None}


def shape_source(run, pipe, shape_of: dict) -> dict:
    """``--sketch-snap``'s record of the training photo a generated image took its shape from, with that photo stored
    (content-addressed; ``sha256``) for ``GET /api/assets/{id}/shape`` when the run's training photos can be loaded."""
    from ..grid import png_bytes

    refs = _references(run, pipe)
    if isinstance(refs, str) or shape_of["id"] not in refs[0]:
        return shape_of
    photo = refs[1][refs[0].index(shape_of["id"])].permute(1, 2, 0).contiguous().numpy()
    return {**shape_of, "sha256": run.storage.put(png_bytes(Image.fromarray(photo)), "image/png")}


def _shape_of(job) -> dict:
    """The ``shape_of`` record of a ``--sketch-snap`` job, for its provenance and its review record; {} otherwise."""
    return {"shape_of": job.meta["shape_of"]} if "shape_of" in job.meta else {}


# -- generate and fill -----------------------------------------------------------------------------------------------
def _sampling(req: dict) -> dict:
    return {k: req[k] for k in ("steps", "guidance") if req.get(k) is not None}


def _generate_images(run, pipe, model_id: str, jobs, requested_of, info_of, meta_of, truncation: float, sampling: dict) -> None:
    from ..grid import to_uint8

    total = len(jobs)
    for i, j in enumerate(jobs):
        run.step(i, total)
        text = j.text[None] if j.text is not None else None
        maps = {"image_map": j.image_map[None]} if j.image_map is not None else {}
        x = pipe.generate_batch(j.cond[None], [j.seed], truncation, text, **maps, **sampling)
        rgb = to_uint8(x)[0]
        condition = pipe.vocab.describe(j.cond)
        info = {"run": model_id, "family": pipe.model.family, "seed": j.seed, "condition": condition,
                "weights_sha256": pipe.weights_hash, "job": run.job.id, **info_of(j)}
        data, prov = stamp_png(run, rgb, "generated", info)
        fid = generated_check(run, pipe, requested_of(j, condition), rgb)
        near = nearest_training(run, pipe, rgb)
        run.add_output(data, "generated", rgb.shape[1], rgb.shape[0],
                       {"model": model_id, "seed": j.seed, "condition": condition, "position": i, "nearest": near["items"],
                        "nearest_space": near.get("space"), "nearest_note": near["note"], **meta_of(j)}, prov, fid)
    run.step(total, total)


def generate(run) -> None:
    from ..sample.jobs import request_jobs

    req = run.job.request
    pipe = run.pipeline(req["model"])
    sketch, sketch_info = None, None
    if req.get("sketch_asset_id"):
        asset, data = read_asset(run, req["sketch_asset_id"], ("upload",))
        sketch, sketch_info = decode_rgb(data), {"asset": asset.id, "sha256": asset.sha256}
    plan = request_jobs(pipe, req.get("attributes") or {}, req.get("prompt") or None, int(req["n"]), int(req.get("seed", 0)),
                        sketch=sketch, sketch_info=sketch_info, sketch_snap=bool(req.get("sketch_snap")),
                        sketch_shape=int(req.get("sketch_shape") or 0), sketch_close=bool(req.get("sketch_close")))
    run.notes.extend(plan.notes)
    for j in plan.jobs:
        if "shape_of" in j.meta:
            j.meta["shape_of"] = shape_source(run, pipe, j.meta["shape_of"])
    asked = {"attributes": req.get("attributes") or {}, "prompt": req.get("prompt"), "n": req["n"], "seed": req.get("seed", 0),
             **({"sketch": plan.request["sketch"]} if "sketch" in plan.request else {})}
    _generate_images(run, pipe, req["model"], plan.jobs,
                     requested_of=lambda j, cond: dict(req.get("attributes") or {}),
                     info_of=lambda j: {"request": asked, **_shape_of(j)},
                     meta_of=lambda j: {"attributes": req.get("attributes") or {}, "prompt": req.get("prompt"), **_shape_of(j)},
                     truncation=float(req.get("truncation", 1.0)), sampling=_sampling(req))


def fill(run) -> None:
    from ..data.csv_catalog import parse_csv
    from ..sample.jobs import check_row_columns, row_jobs
    from ..sample.writer import unique_names

    req = run.job.request
    pipe = run.pipeline(req["model"])
    _, data = read_asset(run, req["csv_asset_id"], ("csv",))
    tmp = run.settings.tmp_dir / f"{run.job.id}-{run.attempt}"
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "catalog.csv"
    path.write_bytes(data)
    id_col, title_col = req.get("id_column") or "id", req.get("title_column") or "productDisplayName"
    try:
        header = next(iter(csv.reader(io.StringIO(data.decode("utf-8")))), [])
        image_col = req.get("image_column") or ("image" if "image" in header else None)
        if title_col not in header:
            title_col = None
        parsed = parse_csv(path, id_column=id_col, title_column=title_col, attribute_columns=None, image_column=image_col)
        check_row_columns(pipe, path, parsed.header, title_col)
    except UserError as e:
        raise UserError(str(e).replace(str(path), "the uploaded CSV")) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    missing = [r for r in parsed.records if r.image is None]
    had_photo = len(parsed.records) - len(missing)
    if not missing:
        raise UserError(f"every one of the CSV's {len(parsed.records)} rows already has a photo (its {image_col!r} column); "
                        "nothing to fill")
    if len(missing) > run.settings.max_fill_rows:
        raise UserError(f"{len(missing)} rows to fill is more than one job may make ({run.settings.max_fill_rows}); "
                        "split the CSV")
    if parsed.skipped:
        run.notes.append(f"{len(parsed.skipped)} rows skipped (e.g. {parsed.skipped[0].id}: {parsed.skipped[0].reason})")
    if had_photo:
        run.notes.append(f"{had_photo} rows already have a photo and were left alone")
    names = unique_names([r.id for r in missing])
    jobs = row_jobs(pipe, missing, names, int(req.get("seed", 0)), {"generated": True})
    for j in jobs:
        if j.meta.get("notes"):
            run.notes.extend(f"{j.meta['id']}: {n}" for n in j.meta["notes"])
    _generate_images(run, pipe, req["model"], jobs,
                     requested_of=lambda j, cond: dict(j.meta.get("understood") or {}),
                     info_of=lambda j: {"request": {"fill": req["csv_asset_id"], "row": j.meta["id"]}},
                     meta_of=lambda j: {"catalog_id": j.meta["id"], "title": j.meta.get("title"),
                                        "attributes": j.meta.get("understood") or {}},
                     truncation=1.0, sampling=_sampling(req))


# -- edit ------------------------------------------------------------------------------------------------------------
def edit(run) -> None:
    req = run.job.request
    params = dict(req.get("params") or {})
    source, src_bytes = read_asset(run, req["asset_id"], ("upload",))
    src = decode_rgb(src_bytes)
    run.step(0, 1)
    ignore = None
    if req["operation"] == "restage":
        from ..apps.background import restage

        keep = {k: params[k] for k in ("background", "shadow", "brightness", "temperature", "mirror", "seed", "threshold")
                if k in params}
        img = src.transpose(2, 0, 1).astype(np.float32) / 255.0
        if params.get("recolour"):
            from ..apps.variations import colour_rgb, masked_recolour

            img = masked_recolour(img, colour_rgb(params["recolour"]), params.get("threshold", 0.08)).astype(np.float32)
        out, _ = restage(img, **keep)
        edited = (np.clip(out, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)
        compare = edited[:, ::-1] if keep.get("mirror") else edited  # a mirror is not a change of the product
    else:
        import torch

        from ..apps.restore.inference import restore_image

        mask = None
        if req.get("mask_asset_id"):
            _, mbytes = read_asset(run, req["mask_asset_id"], ("upload",))
            m = np.asarray(Image.open(io.BytesIO(mbytes)).convert("L"), dtype=np.uint8) > 127
            if m.shape != src.shape[:2]:
                raise UserError(f"the mask is {m.shape[1]}x{m.shape[0]} but the photo {src.shape[1]}x{src.shape[0]}; "
                                "paint the mask on the photo itself")
            if not m.any():
                raise UserError("the mask is empty: paint the part to fill in white")
            mask, ignore = torch.from_numpy(m.astype(np.float32)), m
        model = params.get("model", "classical")
        net = None if model == "classical" else run.restorer(model)
        img, method = restore_image(net, torch.from_numpy(np.ascontiguousarray(src.transpose(2, 0, 1))), params["task"], mask)
        edited = np.asarray(img, dtype=np.uint8)
        compare = edited
        params["method"] = method
    run.step(1, 1)
    info = {"edits": [{"operation": req["operation"], **params}], "source_asset": source.id, "job": run.job.id}
    data, prov = stamp_png(run, edited, "edited", info, parent=run.storage.path(source.sha256, source.media_type))
    fid = _fidelity("edit_fidelity", src, compare, stated_colour=params.get("stated_colour"),
                    **({"ignore": ignore} if ignore is not None else {}))
    run.add_output(data, "edited", edited.shape[1], edited.shape[0],
                   {"source_asset": source.id, "operation": req["operation"], "params": params, "position": 0}, prov, fid)


KINDS = {"generate": generate, "fill": fill, "edit": edit}


def run(job_run) -> None:
    KINDS[job_run.job.kind](job_run)


__all__ = ["KINDS", "decode_rgb", "edit", "fill", "generate", "nearest_training", "run", "stamp_png"]
