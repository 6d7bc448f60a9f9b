"""Training and sampling speed by resolution (issue 12 part 3): GAN at 64/128/256 px, latent diffusion at 256 px.

    python bench/res256_speed.py                     # every row (about 10 minutes on an idle 2-core machine)
    python bench/res256_speed.py --only gan-floor    # just the GAN width-floor rows at 256 px

Rows, all fp32 on the CPU with the default model sizes unless the row says otherwise:
- ``gan``: training images/s (the Trainer's own ``train_step``: both phases, EMA, data batching) and sampling
  images/s (EMA generator, eval mode) at 64, 128 and 256 px;
- ``gan-floor``: the 256-px GAN with the output-side widths the default rule would give without a floor
  (1024 / 256 = 4 generator channels, 2048 / 256 = 8 discriminator channels) against the chosen floor (8 / 16)
  and twice it (16 / 32): what the floor costs;
- ``latent``: at 256 px the autoencoder's training images/s, the latent U-Net's training images/s (frozen encoder
  included) and latent-diffusion sampling images/s at the default 10 DPM-Solver++ steps (decoder included), next
  to the 64-px pixel diffusion model (the cost the latent model is meant to stay near).

Data: the built-in synthetic catalog's pictures resized to each resolution (speed does not depend on content).
Writes ``bench/results/res256_speed.json`` (command, machine and load average inside) and a Markdown table beside it.
Timings on a shared machine are lower than on an idle one: the load average before and after each row is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from machine import command_line, machine_info, machine_line  # noqa: E402

from prodgen.config import DataConfig, TrainConfig  # noqa: E402
from prodgen.data import load_catalog, prepare_images  # noqa: E402
from prodgen.conditioning import Vocabulary  # noqa: E402
from prodgen.models import model_class  # noqa: E402
from prodgen.train import Trainer  # noqa: E402
from prodgen.train.dataset import TrainingData  # noqa: E402


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def synthetic(res: int, n: int = 256) -> tuple[TrainingData, Vocabulary]:
    cat = load_catalog(DataConfig(catalog="synthetic", resolution=res, synthetic_size=n))
    tensors = prepare_images(cat, res, progress=False)
    by_id = {r.id: r for r in cat.records}
    vocab = Vocabulary.fit(list(cat.default_condition), [by_id[i].attributes for i in tensors.ids], 1)
    cond = vocab.encode_records(by_id[i].attributes for i in tensors.ids)
    return TrainingData(tensors.images, cond, tensors.ids), vocab


def train_speed(model, data, vocab, batch: int, steps: int, warmup: int = 2) -> float:
    """Images/s of the Trainer's ``train_step`` (after ``warmup`` steps)."""
    cfg = TrainConfig(steps=10**9, batch_size=batch, device="cpu", log_every=10**9, sample_every=10**9,
                      checkpoint_every=0, checkpoint_minutes=0)
    with tempfile.TemporaryDirectory() as tmp:
        t = Trainer(model, data, vocab, tmp, cfg, cond_dropout=0.1)
        for _ in range(warmup):
            t.train_step()
            t.step += 1
        t0 = time.perf_counter()
        for _ in range(steps):
            t.train_step()
            t.step += 1
        return steps * batch / (time.perf_counter() - t0)


@torch.no_grad()
def sample_speed(model, vocab, batch: int, reps: int, **sampling) -> float:
    model.eval()
    cond = torch.zeros(batch, len(vocab.sizes), dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    model.sample(min(batch, 4), cond[:4], g, **sampling)  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        model.sample(batch, cond, g, **sampling)
    return reps * batch / (time.perf_counter() - t0)


def row(name: str, res: int, **fields) -> dict:
    return {"row": name, "resolution": res, **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in fields.items()}}


def gan_rows(quick: bool) -> list[dict]:
    out = []
    for res, batch in ((64, 64), (128, 32), (256, 16)):
        data, vocab = synthetic(res)
        torch.manual_seed(0)
        model = model_class("gan").from_args({}, vocab.sizes, res)
        before = load1()
        tr = train_speed(model, data, vocab, batch, steps=3 if quick else 6)
        sm = sample_speed(model, vocab, 64, reps=2 if quick else 4)
        g = model.config
        out.append(row("gan", res, train_images_per_s=tr, sample_images_per_s=sm, batch=batch,
                       g_widths=model.generator.decoder.ups[-1].conv.out_channels, d_first=_d_first(model),
                       params_m=sum(p.numel() for p in model.parameters()) / 1e6, g_base=g.g_base, d_base=g.d_base,
                       load_before=before, load_after=load1()))
        print(out[-1], flush=True)
    return out


def _d_first(model) -> int:
    return next(m for m in model.discriminator.features.modules() if isinstance(m, torch.nn.Conv2d)).out_channels


def floor_rows(quick: bool) -> list[dict]:
    out = []
    data, vocab = synthetic(256)
    for g_base, d_base, label in ((4, 8, "no floor: 1024/R, 2048/R"), (8, 16, "chosen floor (default)"),
                                  (16, 32, "twice the floor")):
        torch.manual_seed(0)
        model = model_class("gan").from_args({"g_base": g_base, "d_base": d_base}, vocab.sizes, 256)
        before = load1()
        tr = train_speed(model, data, vocab, 16, steps=3 if quick else 6)
        sm = sample_speed(model, vocab, 64, reps=2 if quick else 3)
        out.append(row("gan-floor", 256, variant=label, g_base=g_base, d_base=d_base, train_images_per_s=tr,
                       sample_images_per_s=sm, load_before=before, load_after=load1()))
        print(out[-1], flush=True)
    return out


def latent_rows(quick: bool) -> list[dict]:
    out = []
    data, vocab = synthetic(256)
    torch.manual_seed(0)
    ae = model_class("autoencoder").from_args({}, vocab.sizes, 256)
    before = load1()
    tr = train_speed(ae, data, vocab, 8, steps=3 if quick else 6)
    out.append(row("autoencoder", 256, train_images_per_s=tr, batch=8, latent="32x32x4",
                   params_m=sum(p.numel() for p in ae.parameters()) / 1e6, load_before=before, load_after=load1()))
    print(out[-1], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ae.save_pretrained(tmp)
        from prodgen.models.base import EMA_NAME, save_state

        save_state(Path(tmp) / EMA_NAME, ae.ae.state_dict())
        model = model_class("diffusion").from_args({"autoencoder": tmp}, vocab.sizes, 256)
    before = load1()
    tr = train_speed(model, data, vocab, 32, steps=3 if quick else 6)
    sm = sample_speed(model, vocab, 32, reps=1 if quick else 2)
    out.append(row("latent diffusion", 256, train_images_per_s=tr, sample_images_per_s=sm, batch=32,
                   sample_steps=model.config.steps, unet_input="16x16x16",
                   latent_scale=float(model.latent_scale), load_before=before, load_after=load1()))
    print(out[-1], flush=True)
    data64, vocab64 = synthetic(64)
    torch.manual_seed(0)
    pix = model_class("diffusion").from_args({}, vocab64.sizes, 64)
    before = load1()
    tr = train_speed(pix, data64, vocab64, 32, steps=3 if quick else 6)
    sm = sample_speed(pix, vocab64, 32, reps=1 if quick else 2)
    out.append(row("pixel diffusion (reference)", 64, train_images_per_s=tr, sample_images_per_s=sm, batch=32,
                   sample_steps=pix.config.steps, unet_input="16x16x48", load_before=before, load_after=load1()))
    print(out[-1], flush=True)
    return out


CACHE_SCRIPT = """
import resource, sys, time
import torch
from prodgen.config import DataConfig
from prodgen.data import load_catalog, prepare_images
cat = load_catalog(DataConfig(catalog=sys.argv[1], resolution=256))
t = time.perf_counter()
x = prepare_images(cat, 256, cache_dir=sys.argv[2], progress=False)
cold = time.perf_counter() - t
del x
t = time.perf_counter()
x = prepare_images(cat, 256, cache_dir=sys.argv[2], progress=False)
s = sum(int(c.sum(dtype=torch.int64)) for c in x.images.split(64))  # touch every byte, 64 images at a time
print(cold, time.perf_counter() - t, tuple(x.images.shape), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def cache_rows(quick: bool) -> list[dict]:
    """The 256-px image cache of the real catalog, built cold into a temporary folder in a fresh process."""
    import subprocess

    catalog = ROOT.parent / "shared" / "data" / "fashion-products"
    if not (catalog / "styles.csv").is_file():
        print(f"cache: {catalog} not found, row skipped")
        return []
    with tempfile.TemporaryDirectory() as tmp:
        before = load1()
        r = subprocess.run([sys.executable, "-c", CACHE_SCRIPT, str(catalog), tmp], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True)
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
    parts = r.stdout.strip().splitlines()[-1].split(" ", 2)
    cold, warm = float(parts[0]), float(parts[1])
    shape, rss_kb = parts[2].rsplit(" ", 1)
    out = [row("cache", 256, catalog=str(catalog.name), images_shape=shape, file_gb=size / 1e9, cold_build_s=cold,
               warm_load_and_read_s=warm, peak_rss_gb=int(rss_kb) / 1e6, load_before=before, load_after=load1())]
    print(out[-1], flush=True)
    return out


SECTIONS = {"gan": gan_rows, "gan-floor": floor_rows, "latent": latent_rows, "cache": cache_rows}
SECTION_ROWS = {"gan": {"gan"}, "gan-floor": {"gan-floor"}, "cache": {"cache"},
                "latent": {"autoencoder", "latent diffusion", "pixel diffusion (reference)"}}


def markdown(result: dict) -> str:
    lines = ["# Speed by resolution (issue 12 part 3)", "",
             "Commands: " + "; ".join(f"`{c}`" for c in result.get("commands", [result["command"]])) + "  ",
             f"Machine: {machine_line(result['machine'])}  ",
             "fp32, CPU, default model sizes unless noted; training images/s = the Trainer's train_step (all phases, "
             "EMA, batching); sampling images/s in eval mode. `load` = 1-minute load average before/after the row: "
             "above 2 the 2 cores were shared and the figure is lower than on an idle machine.", "",
             "| row | px | variant | train images/s | sample images/s | batch | load before/after |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in [r for r in result["rows"] if r["row"] != "cache"]:
        variant = r.get("variant", "") or (f"{r['sample_steps']} steps" if "sample_steps" in r else "")
        if r["row"] == "autoencoder":
            variant = f"latent {r['latent']}"
        elif "unet_input" in r:
            variant = f"U-Net input {r['unet_input']}, {r['sample_steps']} sampling steps"
        lines.append(f"| {r['row']} | {r['resolution']} | {variant} | {r.get('train_images_per_s', '')} | "
                     f"{r.get('sample_images_per_s', '')} | {r.get('batch', 16)} | {r['load_before']} / {r['load_after']} |")
    extra = [r for r in result["rows"] if "latent_scale" in r]
    if extra:
        lines += ["", f"Latent scale factor measured on the first batch (synthetic catalog, untrained autoencoder): "
                      f"{extra[0]['latent_scale']}."]
    for r in [r for r in result["rows"] if r["row"] == "cache"]:
        lines += ["", f"Image cache of the real catalog at 256 px ({r['images_shape']} uint8): {r['file_gb']:.2f} GB on "
                      f"disk, built cold in {r['cold_build_s']:.1f} s (two decoding processes), read back in "
                      f"{r['warm_load_and_read_s']:.1f} s, peak resident memory {r['peak_rss_gb']:.2f} GB "
                      f"(load {r['load_before']} / {r['load_after']})."]
    return "\n".join(lines) + "\n"


def load_note(machine: dict, rows: list[dict], threads: int) -> str:
    """The machine note with the load seen across the rows (the benchmark's own threads add about ``threads``)."""
    base = machine.get("base_note") or machine["note"]
    machine["base_note"] = base
    loads = [x for r in rows for x in (r["load_before"], r["load_after"])]
    shared = " (more than this benchmark's own threads: other jobs shared the cores)" if max(loads) > threads + 0.5 else ""
    return f"{base}; 1-minute load average {min(loads)}-{max(loads)} across the rows{shared}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--quick", action="store_true", help="fewer timed steps (a smoke run)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch threads (1 is steadier on a machine shared with other jobs)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "res256_speed.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info()
    names = args.only.split(",")
    rows, commands = [], [command_line()]
    if args.out.is_file() and set(names) != set(SECTIONS):  # a partial rerun replaces only its own rows
        old = json.loads(args.out.read_text())
        redo = set().union(*(SECTION_ROWS[n] for n in names))
        rows = [r for r in old["rows"] if r["row"] not in redo]
        commands = [c for c in old.get("commands", [old["command"]]) if c != command_line()] + commands
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in names:  # the files are rewritten after each section, so a stopped run keeps what it measured
        rows += SECTIONS[name](args.quick)
        machine["note"] = load_note(machine, rows, args.threads)
        result = {"command": commands[-1], "commands": commands, "machine": machine,
                  "load_average_1min_at_end": load1(), "rows": rows}
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
