"""Sketch -> product on the real catalog: pix2pix vs the diffusion U-Net vs the plain L1 U-Net vs the flood-fill
baseline, per image condition.

    python bench/sketch_bench.py --train        # trains the runs that are missing (fixed steps, 1 thread), then scores
    python bench/sketch_bench.py                # scores existing runs/sketch-{edges,silhouette}-{p2p,l1,diff}

Runs (``--train``; each a fixed number of steps so any machine reproduces it, one torch thread)::

    prodgen train --catalog ../shared/data/fashion-products --condition edges,articleType,baseColour --resolution 64 \\
        --steps 500 --threads 1 --out runs/sketch-edges-p2p                   # + --model-arg adv_weight=0: ...-l1
    (the same with --condition silhouette,... for runs/sketch-silhouette-{p2p,l1})
    ... --model diffusion --model-arg guidance=3 --out runs/sketch-edges-diff   # the diffusion U-Net with the map as
    extra input channels (issue 13's alternative); guidance 3 as chosen on val for the 64-px diffusion family

Scoring, on the held-out TEST split (796 photos; nothing was tuned on it: no setting was chosen after looking at
any figure, and the validation split was not needed): for every test photo, its map (Canny edges or product mask,
derived exactly as in training, without the training jitter) and its own attributes; one image per photo (seed
``--seed`` + i) from each model; the flood-fill baseline fills the map's enclosed area with the condition's mean
training-product colour (``prodgen.evaluate.sketch``). Figures: FID-P against the test photos with the project's
bootstrap interval (``bootstrap_fid``), conditional accuracy (ProductNet ``--features``), faithfulness to the input
map (edges: edge F1 within 1 px and symmetric Chamfer distance between the input edges and the output's Canny
edges; silhouettes: IoU of the output's product mask with the input), each a mean with a 95% bootstrap interval
over the photos, and sampling images/s. The floor row: the val photos (subsampled to n) against the test photos.

Grids (``bench/results/sketch/``): test photos as input map | flood-fill | L1 U-Net | pix2pix | the real photo, and
the hand-drawn-style sketches of tests/data/sketches/ (not Canny output) drawn as three colours by each model.
Writes ``bench/results/sketch.json`` (command, machine, load averages) and ``sketch.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

from prodgen.conditioning.maps import derive_maps, sketch_map  # noqa: E402
from prodgen.config import RunConfig  # noqa: E402
from prodgen.evaluate.evaluate import (  # noqa: E402
    conditional_accuracy,
    image_metrics,
    load_catalog_images,
    split_images,
    subsample_index,
)
from prodgen.evaluate.metrics import bootstrap_fid  # noqa: E402
from prodgen.evaluate.metrics.faithfulness import mean_with_interval  # noqa: E402
from prodgen.evaluate.productnet import ProductNet  # noqa: E402
from prodgen.evaluate.realstats import cached_features  # noqa: E402
from prodgen.evaluate.sketch import MeanColours, faithfulness, flood_fill_baseline  # noqa: E402
from prodgen.grid import save_grid  # noqa: E402
from prodgen.sample import Pipeline  # noqa: E402

CATALOG = ROOT.parent / "shared" / "data" / "fashion-products"
KINDS = ("edges", "silhouette")
SKETCHES = ROOT / "tests" / "data" / "sketches"
SKETCH_TYPES = {"tshirt": "Tshirts", "shoe": "Casual Shoes", "handbag": "Handbags", "watch": "Watches",
                "dress": "Dresses", "sunglasses": "Sunglasses"}
SKETCH_COLOURS = ("Red", "Blue", "Black")
MODELS = {"l1": "L1 U-Net", "p2p": "pix2pix", "diff": "diffusion U-Net"}  # run suffix -> row label
DIFF_ARGS = ["--model", "diffusion", "--model-arg", "guidance=3"]


def train_command(kind: str, model: str, steps: int, out: Path) -> list[str]:
    cmd = [str(ROOT / ".venv" / "bin" / "prodgen"), "train", "--catalog", str(CATALOG), "--condition",
           f"{kind},articleType,baseColour", "--resolution", "64", "--steps", str(steps), "--threads", "1",
           "--sample-every", "250", "--out", str(out), "--quiet"]
    return cmd + {"l1": ["--model-arg", "adv_weight=0"], "diff": DIFF_ARGS}.get(model, [])


def training_record(run: Path) -> dict:
    """Steps, training seconds and median images/s from the run's metrics.jsonl."""
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    speeds = sorted(r["images_per_s"] for r in recs if "images_per_s" in r)
    last = recs[-1]
    cfg = RunConfig.load(run / "config.json")
    return {"run": str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run), "steps": last["step"],
            "batch": cfg.train.batch_size, "threads": cfg.train.threads, "training_s": last["elapsed_s"],
            "median_images_per_s": speeds[len(speeds) // 2] if speeds else None, "model_args": cfg.model_args}


@torch.no_grad()
def generate_from_maps(pipe: Pipeline, cond: torch.Tensor, maps: torch.Tensor, seed: int, batch: int = 128):
    """uint8 images, one per (condition, map) pair, image i with seed ``seed + i``; and images/s."""
    out, t0 = [], time.perf_counter()
    for i in range(0, len(cond), batch):
        x = pipe.generate_batch(cond[i : i + batch], list(range(seed + i, seed + i + len(cond[i : i + batch]))),
                                image_map=maps[i : i + batch])
        out.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    return torch.cat(out), len(cond) / (time.perf_counter() - t0)


def score_row(images, cond, maps, kind, real_f, net, pn_vocab, run_vocab, first, seed) -> dict:
    f, logits = net.extract(images)
    m = image_metrics(f, logits, real_f, pn_vocab, first, seed)
    lo, hi = bootstrap_fid(real_f, f, 100, seed)
    row = {"n": len(images), "fid_p": m["fid"], "fid_ci95": [lo, hi], "kid": m["kid_mean"], "coverage": m["coverage"],
           "cond_acc": conditional_accuracy(run_vocab, pn_vocab, logits, cond).compute()}
    if maps is not None:
        row["faithfulness"] = {k: mean_with_interval(v, seed=seed) for k, v in faithfulness(images, maps, kind).items()}
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, default=ROOT / "runs", help="folder of runs/sketch-<kind>-<p2p|l1>")
    ap.add_argument("--features", type=Path, default=ROOT / "runs" / "productnet64")
    ap.add_argument("--train", action="store_true", help="train the runs that are missing first")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                    help="which trained models to score (pix2pix is needed: its run gives the data and vocabulary)")
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "sketch.json")
    ap.add_argument("--training-note", default=None, help="how the machine was loaded while the runs trained")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info()
    load_start = os.getloadavg()
    grids = args.out.parent / "sketch"
    grids.mkdir(parents=True, exist_ok=True)
    net, pn_vocab, _ = ProductNet.from_pretrained(args.features)
    result = {"command": command_line(), "machine": machine, "load_avg_start": [round(x, 2) for x in load_start],
              "split": args.split, "seed": args.seed, "threads": args.threads, "features": str(args.features.name),
              "edge_tolerance_px": 1.0, "training_note": args.training_note, "kinds": {}}
    for kind in args.kinds:
        runs = {m: args.runs / f"sketch-{kind}-{m}" for m in MODELS if m in args.models or m == "p2p"}
        left_out = []
        for m, run in list(runs.items()):
            if not (run / "ema.safetensors").exists():
                if m == "diff" and not args.train:  # the later row: scored where it was trained
                    left_out.append(str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run))
                    del runs[m]
                    continue
                if not args.train:
                    raise SystemExit(f"{run} is missing; rerun with --train (or train it: {' '.join(train_command(kind, m, args.steps, run))})")
                subprocess.run(train_command(kind, m, args.steps, run), check=True)
        pipes = {m: Pipeline.from_pretrained(run, device="cpu") for m, run in runs.items()}
        vocab = pipes["p2p"].vocab
        cfg = RunConfig.load(runs["p2p"] / "config.json")
        data = load_catalog_images(cfg, runs["p2p"], progress=False)
        real = split_images(data, vocab, args.split)
        train = split_images(data, vocab, "train")
        floor_split = "val" if args.split == "test" else "test"
        floor_all = split_images(data, vocab, floor_split)
        fp = data.catalog.fingerprint
        real_f, _ = cached_features(net, real.images, fp, real.ids, args.split)
        floor_f_all, floor_logits_all = cached_features(net, floor_all.images, fp, floor_all.ids, floor_split)
        n = len(real.images)
        keep = subsample_index(len(floor_all.images), n, args.seed)
        first = pn_vocab.names.index(vocab.names[0]) if vocab.names[0] in pn_vocab.names else 0
        maps = derive_maps(kind, real.images.float() / 127.5 - 1)  # (n, 1, 64, 64), no training jitter
        t0 = time.perf_counter()
        colours = MeanColours.fit(train.images, train.cond)
        fit_s = time.perf_counter() - t0
        made = {"flood-fill baseline": flood_fill_baseline(maps, real.cond, colours, kind)}
        speeds = {}
        for m in pipes:
            made[MODELS[m]], speeds[MODELS[m]] = generate_from_maps(pipes[m], real.cond, maps, args.seed)
        rows = {}
        for label, imgs in made.items():
            rows[label] = score_row(imgs, real.cond, maps, kind, real_f, net, pn_vocab, vocab, first, args.seed)
            if label in speeds:
                rows[label]["images_per_s"] = round(speeds[label], 1)
        floor_f, floor_logits = floor_f_all[keep], [lg[keep] for lg in floor_logits_all]
        fm = image_metrics(floor_f, floor_logits, real_f, pn_vocab, first, args.seed)
        rows["real photos (floor)"] = {"n": len(keep), "fid_p": fm["fid"],
                                       "fid_ci95": list(bootstrap_fid(real_f, floor_f, 100, args.seed)), "kid": fm["kid_mean"],
                                       "coverage": fm["coverage"],
                                       "cond_acc": conditional_accuracy(vocab, pn_vocab, floor_logits,
                                                                        floor_all.cond[keep]).compute()}
        # The photos' own maps scored like the generated ones: what a perfect copy of the photo would get.
        rows["real photos (floor)"]["faithfulness"] = {
            k: mean_with_interval(v, seed=args.seed) for k, v in faithfulness(real.images, maps, kind).items()}
        # Grid 1: test photos, 12 of distinct article types where possible.
        pick, seen = [], set()
        for i, c in enumerate(real.cond[:, 0].tolist()):
            if c not in seen and c != 0:
                pick.append(i)
                seen.add(c)
            if len(pick) == 12:
                break
        cells = []
        for i in pick:
            cells += [(maps[i].expand(3, -1, -1) * -255 + 255).to(torch.uint8), made["flood-fill baseline"][i],
                      *(made[MODELS[m]][i] for m in pipes), real.images[i]]
        grid1 = grids / f"{kind}-test.png"
        cols = ["input map", "flood-fill", *(MODELS[m] for m in pipes), "real photo"]
        save_grid(torch.stack(cells).permute(0, 2, 3, 1).numpy(), grid1, len(cols), col_labels=cols, scale=2,
                  row_labels=[vocab.attributes[0].decode(int(real.cond[i, 0])) + " / " +
                              vocab.attributes[1].decode(int(real.cond[i, 1])) for i in pick])
        # Grid 2: hand-drawn-style sketches, three colours each, every model.
        cells, row_labels = [], []
        for name, article in SKETCH_TYPES.items():
            mp = sketch_map(SKETCHES / f"{name}.png", kind, 64)[None]  # (1, 1, 64, 64)
            row = [(mp[0].expand(3, -1, -1) * -255 + 255).to(torch.uint8)]
            for m in pipes:
                for colour in SKETCH_COLOURS:
                    attrs = {"articleType": article, "baseColour": colour}
                    if article not in vocab.attributes[0].values:
                        attrs.pop("articleType")
                    x = pipes[m].generate(attrs, n=1, seed=args.seed, sketch=mp[0])
                    row.append(((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
            cells += row
            row_labels.append(f"{name}.png ({article})")
        grid2 = grids / f"{kind}-hand-sketches.png"
        save_grid(torch.stack(cells).permute(0, 2, 3, 1).numpy(), grid2, 1 + len(pipes) * len(SKETCH_COLOURS), scale=2,
                  row_labels=row_labels,
                  col_labels=["sketch map", *(f"{MODELS[m].split()[0]} {c}" for m in pipes for c in SKETCH_COLOURS)])
        result["kinds"][kind] = {
            "runs": {m: training_record(run) for m, run in runs.items()},
            "n": n, "n_train_for_colours": len(train.images), "colour_table_fit_s": round(fit_s, 1), "rows": rows,
            "not_trained": left_out,
            "grids": [str(g.relative_to(ROOT)) if g.is_relative_to(ROOT) else str(g) for g in (grid1, grid2)],
        }
        print(json.dumps({kind: {k: {"fid_p": round(r["fid_p"], 1), "cond_acc": r["cond_acc"],
                                     **{f: round(v["mean"], 3) for f, v in r.get("faithfulness", {}).items()}}
                                 for k, r in rows.items()}}, indent=1))
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    import render_readme as rr

    rr._cache["sketch.json"] = json.loads(args.out.read_text())  # this run's file, wherever --out put it
    args.out.with_suffix(".md").write_text("\n".join(["# Sketch -> product", "", *rr.t_sketch()]) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
