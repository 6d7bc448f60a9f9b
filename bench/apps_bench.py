"""Figures for the shop's jobs (issue 5): cut-out mask quality, recolour success, restoration quality and speed.

    .venv/bin/python bench/apps_bench.py --restore runs/restore --runs runs/fam-vae runs/fam-gan runs/fam-diffusion \
        --features runs/productnet64 --catalog ../shared/data/fashion-products
writes bench/results/apps.{json,md} (and restore-examples.png); ``--parts`` picks what to remeasure, the rest of
the existing results is kept. Parts:
1. mask IoU of ``product_mask`` against the exact masks of 700 synthetic products (all categories x colours);
2. recolour on 200 held-out real photos x 4 target colours: ProductNet's baseColour prediction equals the target,
   and its articleType prediction equals the one on the original photo; masked recolour (no model) and each run's
   attribute edit (VAE encode/decode, diffusion SDEdit, GAN inversion);
3. restoration: the run's eval.json (held-out PSNR/SSIM of the networks and of every classical method tuned on
   validation photos, for the training degradations and for unseen ones), plus wall time per image for a 224x224
   photo per task (whole path: bicubic pre-upscale, classical start, tiles, network) and for the cheap classical start;
4. presentation: ms per 224x224 photo of the model-free ``vary`` operations (cut-out + background, shadow, relight,
   mirror, masked recolour).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
TARGETS = ["Red", "Blue", "Green", "Black"]


def mask_quality(n: int = 700) -> dict:
    from prodgen.apps.background import mask_iou, product_mask
    from prodgen.data.synthetic import CATEGORIES, COLOURS, PATTERNS, render

    ious: dict[str, list[float]] = {}
    for i in range(n):
        c, k, p = CATEGORIES[i % 7], list(COLOURS)[(i // 7) % 12], PATTERNS[i % 4]
        img, truth = render(c, k, p, np.random.default_rng(10_000 + i), with_mask=True)
        a = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255
        ious.setdefault(k, []).append(mask_iou(product_mask(a).alpha, truth))
    allv = [v for vs in ious.values() for v in vs]
    return {"n": n, "mean_iou": float(np.mean(allv)), "min_iou": float(np.min(allv)),
            "per_colour": {k: round(float(np.mean(v)), 4) for k, v in ious.items()}}


def recolour_rates(runs: list[str], features: str, catalog: str | None, n: int = 200) -> list[dict]:
    from prodgen.apps.variations import colour_palette, colour_rgb, edit_attributes, masked_recolour, to_model_input
    from prodgen.evaluate.evaluate import load_catalog_images, split_images
    from prodgen.evaluate.productnet import ProductNet
    from prodgen.sample import Pipeline

    net, pn_vocab, _ = ProductNet.from_pretrained(features)
    first = Pipeline.from_pretrained(runs[0], device="cpu")
    if catalog:
        first.config.data.catalog = catalog
    data = load_catalog_images(first.config, first.run_dir, progress=False)
    test = split_images(data, first.vocab, "test")
    train = split_images(data, first.vocab, "train")
    by_id = {r.id: r for r in data.catalog.records}
    palette = colour_palette(train.images[:3000], [by_id[i].attributes.get("baseColour") for i in train.ids[:3000]])
    photos = [np.asarray(data.catalog.load_image(by_id[i]), dtype=np.float32).transpose(2, 0, 1) / 255 for i in test.ids[:n]]
    src64 = torch.cat([to_model_input(p, net.cfg.resolution) for p in photos])
    _, lg = net.extract(src64)
    art_h, col_h = pn_vocab.names.index("articleType"), pn_vocab.names.index("baseColour")
    src_art = lg[art_h].argmax(1)

    def rates(images: torch.Tensor, target: str) -> tuple[float, float]:
        _, lg2 = net.extract(images.clamp(-1, 1))
        tgt = pn_vocab["baseColour"].values.index(target)
        return float((lg2[col_h].argmax(1) == tgt).float().mean()), float((lg2[art_h].argmax(1) == src_art).float().mean())

    out = []
    for method in ["masked recolour"] + runs:
        colour_ok, kept, secs = [], [], 0.0
        pipe = None if method == "masked recolour" else Pipeline.from_pretrained(method, device="cpu")
        for target in TARGETS:
            t = time.perf_counter()
            if pipe is None:
                rgb = colour_rgb(target, palette)
                imgs = torch.cat([to_model_input(masked_recolour(p, rgb), net.cfg.resolution) for p in photos])
            else:
                keep_art = [pn_vocab["articleType"].values[int(k)] for k in src_art]
                imgs = []
                for i, p in enumerate(photos):
                    keep = {"articleType": keep_art[i]} if keep_art[i] in pipe.vocab["articleType"].values else {}
                    imgs.append(edit_attributes(pipe, to_model_input(p, pipe.model.resolution), {"baseColour": target}, keep,
                                                seed=i))
                imgs = torch.cat(imgs)
            secs += time.perf_counter() - t
            c, k = rates(imgs, target)
            colour_ok.append(c)
            kept.append(k)
        out.append({"method": method if pipe is None else f"{pipe.model.family} edit ({method})",
                    "new_colour_rate": round(float(np.mean(colour_ok)), 4), "category_kept_rate": round(float(np.mean(kept)), 4),
                    "per_target": dict(zip(TARGETS, [round(c, 3) for c in colour_ok])),
                    "ms_per_image": round(secs / (len(photos) * len(TARGETS)) * 1000, 1)})
        print(json.dumps(out[-1]), flush=True)
    return out


def restore_speed(restore_run: str, catalog: str | None) -> dict:
    """Wall time of ``restore`` on one 224x224 catalog photo per task (whole path: pre-upscale, classical start,
    tiles, network), with the network and with the classical method alone."""
    from prodgen.apps.restore import load_restorer, restore

    net = load_restorer(restore_run)
    img = torch.rand(3, 224, 224)
    if catalog:
        from prodgen.data.images import read_photo

        photo = sorted(Path(catalog, "images").glob("*.jpg"))[0]
        img = torch.from_numpy(read_photo(photo))
    mask = torch.zeros(img.shape[1:])
    mask[80:120, 60:160] = 1
    out: dict[str, dict[str, float]] = {"network": {}, "classical": {}}
    for kind, model in (("network", net), ("classical", None)):
        for task in net.cfg.tasks:
            restore(model, img, task, mask if task == "inpaint" else None)  # warm-up
            t = time.perf_counter()
            for _ in range(3):
                restore(model, img, task, mask if task == "inpaint" else None)
            out[kind][task] = round((time.perf_counter() - t) / 3 * 1000, 1)
    return {"photo_size": list(img.shape[1:]), "ms_per_photo": out["network"], "ms_per_photo_classical": out["classical"]}


def restore_curve(restore_run: str, out_png: Path) -> Path | None:
    """Validation PSNR gain over each task's classical start against training minutes (from metrics.jsonl)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from prodgen.evaluate.run_report import save_figure

    rows = [json.loads(x) for x in Path(restore_run, "metrics.jsonl").read_text().splitlines() if '"val/psnr/' in x]
    if len(rows) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for key in [k for k in rows[0] if k.startswith("val/psnr/")]:
        ax.plot([r["elapsed_s"] / 60 for r in rows], [r[key] - rows[0][key] for r in rows], marker="o", ms=3,
                label=key.split("/")[-1])
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("training minutes (2-core CPU)")
    ax.set_ylabel("PSNR gain over classical (dB)")
    ax.set_title("restoration, validation photos")
    ax.legend(fontsize=8, ncol=3)
    return save_figure(fig, out_png)


def presentation_speed(catalog: str, n: int = 20) -> dict:
    """ms per 224x224 catalog photo for the model-free ``prodgen vary PHOTO`` operations."""
    from prodgen.apps.background import restage
    from prodgen.apps.variations import colour_rgb, masked_recolour
    from prodgen.data.images import read_photo

    photos = [read_photo(p) for p in sorted(Path(catalog, "images").glob("*.jpg"))[:n]]
    ops = {
        "background gradient + shadow": lambda p: restage(p, "gradient:#ffffff:#c8d4e0", shadow=True),
        "background studio (generated)": lambda p: restage(p, "studio:#eeeeee"),
        "relight (brightness, temperature)": lambda p: restage(p, brightness=1.1, temperature=0.2),
        "mirror": lambda p: restage(p, mirror=True),
        "masked recolour": lambda p: masked_recolour(p, colour_rgb("Green")),
    }
    out = {}
    for name, fn in ops.items():
        fn(photos[0])
        t = time.perf_counter()
        for p in photos:
            fn(p)
        out[name] = round((time.perf_counter() - t) / len(photos) * 1000, 1)
    return {"n": len(photos), "ms_per_photo": out}


def _fmt_params(p: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in p.items()) or "-"


def restore_markdown(r: dict, sp: dict) -> list[str]:
    """The restoration section: seen and unseen degradations against the best tuned classical method, the tuning."""
    lines = [f"## Restoration (held-out test photos, {r['n_test']} at {r['resolution']} px; {r['steps']} training steps "
             f"in {r['train_seconds'] / 60:.1f} min)\n", f"`{r.get('command', '')}` ({r.get('machine', '')})\n",
             "Every choice on validation photos (each task's weights; each classical method's parameters and which "
             f"method is the baseline, on {r.get('baselines', {}).get('n_val', '?')} validation photos); the test photos "
             "are scored once. *Unseen*: a degradation no network saw in training; its classical methods are tuned "
             "on validation photos with that degradation.\n"]
    for cond, title in (("seen", "the training degradations"), ("unseen", "degradations the networks never saw")):
        rows = [x for x in r["rows"] if x.get("condition", "seen") == cond]
        if not rows:
            continue
        lines += [f"### {title.capitalize()}\n",
                  "| task | degradation | network PSNR / SSIM | best tuned classical (chosen on validation) | its PSNR / SSIM "
                  "| gain (dB) | beats it? | network's cheap start PSNR | weights from step "
                  "| ms per 224x224 photo: network / classical start |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            sel = r.get("selected", {}).get(row["task"], {})
            gain = row["network"]["psnr"] - row["baseline"]["psnr"]
            start = row.get("candidates", {})
            start_psnr = next((c["psnr"] for name, c in start.items() if name == _start_method(row)), None)
            net = row["network"]
            lines.append(f"| {row['task']} | {row.get('degradation', '')} | {net['psnr']:.2f} / {net['ssim']:.4f} "
                         f"| {row['baseline_name']} ({_fmt_params(row.get('baseline_params', {}))}) | "
                         f"{row['baseline']['psnr']:.2f} / {row['baseline']['ssim']:.4f} | {gain:+.2f} | "
                         f"{'yes' if row['beats_baseline'] else '**no**'} | "
                         f"{'' if start_psnr is None else f'{start_psnr:.2f}'} | {sel.get('step', '')} | "
                         f"{sp.get('ms_per_photo', {}).get(row['task'], '')} / "
                         f"{sp.get('ms_per_photo_classical', {}).get(row['task'], '')} |")
        lines.append("")
    tuned = r.get("baselines", {})
    if tuned:
        lines += ["### Classical methods tuned on validation photos\n",
                  "Each method's best grid point (validation PSNR, dB), its test PSNR and ms per 128-px photo; **bold**: "
                  "the task's baseline. Full grids in `eval.json` (\"baselines\").\n",
                  "| task / degradation | method | tuned parameters | grid points | validation PSNR | test PSNR | ms per photo |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        test = {(x["task"], x.get("condition", "seen")): x.get("candidates", {}) for x in r["rows"]}
        for key, t in tuned.items():
            if not isinstance(t, dict) or "methods" not in t:
                continue
            task, cond = key.split("/")
            for name, m in t["methods"].items():
                c = test.get((task, cond), {}).get(name, {})
                label = f"**{name}**" if name == t["best"] else name
                lines.append(f"| {key} | {label} | {_fmt_params(m['params'])} | {len(m['grid'])} | {m['val_psnr']:.2f} | "
                             f"{c.get('psnr', float('nan')):.2f} | {c.get('ms_per_image', '')} |")
        lines.append("")
    return lines


def _start_method(row: dict) -> str:
    from prodgen.apps.restore.baselines import START_METHOD

    return START_METHOD[row["task"]][0]


def markdown(res: dict) -> str:
    lines = ["# Shop jobs: measured\n", "Each section names the command and the machine that produced it; "
             "`bench/apps_bench.py` reruns only the parts asked for and keeps the others.\n"]
    if "mask" in res:
        m = res["mask"]
        lines += ["## Cut-out masks\n", f"`{m.get('command', '')}` ({m.get('machine', '')})\n",
                  f"IoU against the exact masks of {m['n']} synthetic products: mean {m['mean_iou']:.4f}, worst "
                  f"{m['min_iou']:.4f}; per colour: " + ", ".join(f"{k} {v:.3f}" for k, v in m["per_colour"].items()) + "\n"]
    if "presentation" in res:
        pr = res["presentation"]
        lines += ["## Presentation (no model), ms per 224x224 catalog photo\n", f"`{pr.get('command', '')}` ({pr.get('machine', '')}), "
                  f"{pr['n']} photos\n", "| operation | ms per photo |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in pr["ms_per_photo"].items()]
        lines.append("")
    if "restore" in res:
        lines += restore_markdown(res["restore"], res.get("restore_speed", {}))
    if "recolour" in res:
        rc = res["recolour"]
        rows = rc["rows"] if isinstance(rc, dict) else rc
        lines += ["## Recolour (held-out real photos x targets " + ", ".join(TARGETS) + "; ProductNet judges)\n"]
        if isinstance(rc, dict):
            lines.append(f"`{rc.get('command', '')}` ({rc.get('machine', '')})\n")
        lines += ["| method | new colour seen | category unchanged | ms per image |", "| --- | --- | --- | --- |"]
        lines += [f"| {x['method']} | {x['new_colour_rate']:.3f} | {x['category_kept_rate']:.3f} | {x['ms_per_image']} |" for x in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    import shlex
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="mask,presentation,restore,recolour", help="comma-separated parts to (re)measure")
    ap.add_argument("--restore", default="runs/restore")
    ap.add_argument("--reevaluate", action="store_true", help="score the restoration run again before reading eval.json "
                    "(the classical methods' tuned parameters are kept; add --retune to tune them again on validation photos)")
    ap.add_argument("--retune", action="store_true", help="with --reevaluate: tune the classical methods again")
    ap.add_argument("--runs", nargs="*", default=[])
    ap.add_argument("--features", default="runs/productnet64")
    ap.add_argument("--catalog", default="../shared/data/fashion-products")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--out", default=str(HERE / "results" / "apps"))
    ap.add_argument("--note", default="", help="added to the machine line, e.g. 'idle' or 'shared with a 1-thread job'")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    out = Path(args.out)
    res = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {}
    if isinstance(res.get("recolour"), list):  # older layout: one machine line for the whole file
        res["recolour"] = {"rows": res["recolour"], "machine": res.get("machine", ""),
                           "command": "bench/apps_bench.py --runs runs/fam-vae runs/fam-diffusion runs/fam-gan --n 50"}
    res.pop("machine", None)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads" + (
        f", {args.note}" if args.note else "")
    command = ".venv/bin/python bench/apps_bench.py " + shlex.join(sys.argv[1:])
    stamp = {"command": command, "machine": machine}
    if "mask" in parts:
        res["mask"] = {**mask_quality(), **stamp}
        print(json.dumps(res["mask"]), flush=True)
    if "presentation" in parts and Path(args.catalog).exists():
        res["presentation"] = {**presentation_speed(args.catalog), **stamp}
        print(json.dumps(res["presentation"]), flush=True)
    if "restore" in parts and args.reevaluate:
        from prodgen.apps.restore import reevaluate
        from prodgen.config import DataConfig

        reevaluate(args.restore, DataConfig(catalog=args.catalog, resolution=128), retune=args.retune)
    if "restore" in parts and Path(args.restore, "eval.json").exists():
        res["restore"] = {**json.loads(Path(args.restore, "eval.json").read_text()), **stamp}
        res["restore_speed"] = restore_speed(args.restore, args.catalog)
        if Path(args.restore, "examples.png").exists():
            from PIL import Image

            # a 256-colour copy for the README: half the bytes, no visible change at this zoom
            img = Image.open(Path(args.restore, "examples.png")).convert("RGB")
            img.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
                out.parent / "restore-examples.png", optimize=True)
        restore_curve(args.restore, out.parent / "restore-curve.png")
        print(json.dumps(res["restore_speed"]), flush=True)
    if "recolour" in parts and args.runs:
        res["recolour"] = {"rows": recolour_rates(args.runs, args.features, args.catalog, args.n), **stamp}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
