"""The served sampler, smaller and faster: PyTorch vs ONNX Runtime fp32 vs ONNX int8, speed and quality side by side.

    python bench/export_bench.py                                   # runs/gan64, runs/productnet64 (the headline run)
    python bench/export_bench.py --run runs/fam-diffusion --steps 10 --guidance 3 --out bench/results/export_diffusion.json

Exports ``--run`` with ``prodgen.export.export_onnx(quantize="int8")`` into a temporary folder, then for each of
PyTorch (the run folder), ONNX fp32 and ONNX int8: images/s at batch 64 with 2 threads (median of 5 timed batches
after a warm-up) and, on the test split at the floor's n (the val photos, as ``prodgen evaluate``), FID-P with its
bootstrap 95% interval, coverage and conditional accuracy per attribute, all from the same seeds and conditions
(``evaluate.generate_matching``). Also the largest pixel difference from PyTorch's images. Writes
``bench/results/export.json`` (command and machine inside) and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

from prodgen.config import RunConfig  # noqa: E402
from prodgen.evaluate.evaluate import (conditional_accuracy, generate_matching, image_metrics,  # noqa: E402
                                       load_catalog_images, split_images)
from prodgen.evaluate.metrics import bootstrap_fid  # noqa: E402
from prodgen.evaluate.productnet import ProductNet  # noqa: E402
from prodgen.evaluate.realstats import cached_features  # noqa: E402
from prodgen.export import OnnxPipeline, export_onnx  # noqa: E402
from prodgen.sample import Pipeline  # noqa: E402


def speed(pipe, cond: torch.Tensor, batch: int = 64, repeats: int = 5, sampling: dict | None = None) -> float:
    c = cond[:batch]
    pipe.generate_batch(c, list(range(batch)), **(sampling or {}))  # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        pipe.generate_batch(c, list(range(r * batch, (r + 1) * batch)), **(sampling or {}))
        times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


@dataclass
class Reference:
    """What a sampler is scored against: the run's pipeline, the held-out photos of ``split`` and their ProductNet
    features, and n = the val split's size (the floor's n) unless given."""

    pipe: Pipeline
    data: object
    real: object
    n: int
    net: ProductNet
    pn_vocab: object
    real_f: torch.Tensor
    first: int

    @classmethod
    def load(cls, run: Path, features: Path, split: str = "test", n: int | None = None) -> Reference:
        cfg = RunConfig.load(run / "config.json")
        net, pn_vocab, _ = ProductNet.from_pretrained(features)
        data = load_catalog_images(cfg, run, progress=False)
        pipe = Pipeline.from_pretrained(run, device="cpu")
        real = split_images(data, pipe.vocab, split)
        n = n or len(split_images(data, pipe.vocab, "val").images)
        real_f, _ = cached_features(net, real.images, data.catalog.fingerprint, real.ids, split)
        first = pn_vocab.names.index(pipe.vocab.names[0]) if pipe.vocab.names[0] in pn_vocab.names else 0
        return cls(pipe, data, real, n, net, pn_vocab, real_f, first)


def score(pipe, real, real_f, n: int, net, pn_vocab, first: int, seed: int = 0, sampling: dict | None = None):
    """({images_per_s, fid_p, fid_ci95, coverage, cond_acc, n}, the generated images) of one sampler: ``n`` images
    for the test photos' conditions (``generate_matching``), scored by ProductNet ``net`` against ``real_f``."""
    rate = speed(pipe, real.cond, sampling=sampling)
    fake = generate_matching(pipe, real.cond, n, seed, sampling=sampling)
    f, logits = net.extract(fake.images)
    m = image_metrics(f, logits, real_f, pn_vocab, first, seed=0)
    lo, hi = bootstrap_fid(real_f, f)
    acc = conditional_accuracy(pipe.vocab, pn_vocab, logits, fake.cond)
    return ({"images_per_s": round(rate, 1), "fid_p": m["fid"], "fid_ci95": [lo, hi], "coverage": m.get("coverage"),
             "cond_acc": acc.compute(), "n": n}, fake.images)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=Path("runs/gan64"))
    ap.add_argument("--features", type=Path, default=Path("runs/productnet64"))
    ap.add_argument("--name", default="gan64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="diffusion: sampler steps")
    ap.add_argument("--guidance", type=float, default=None, help="diffusion: classifier-free guidance")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "export.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sampling = {k: v for k, v in (("steps", args.steps), ("guidance", args.guidance)) if v is not None}
    machine = machine_info()
    ref = Reference.load(args.run, args.features)
    torch_pipe, real, n, net, pn_vocab, real_f, first = ref.pipe, ref.real, ref.n, ref.net, ref.pn_vocab, ref.real_f, ref.first
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        record = export_onnx(args.run, Path(tmp) / "export", quantize="int8")
        export_s = time.perf_counter() - t0
        sizes = record["bytes"]  # model files with their external weights
        weights = args.run / "ema.safetensors"
        pipes = [("PyTorch (run folder)", torch_pipe, weights.stat().st_size if weights.exists() else None),
                 ("ONNX Runtime fp32", OnnxPipeline.from_pretrained(Path(tmp) / "export", "fp32", args.threads), sizes["fp32"]),
                 ("ONNX Runtime int8", OnnxPipeline.from_pretrained(Path(tmp) / "export", "int8", args.threads), sizes["int8"])]
        for name, pipe, size in pipes:
            row, images = score(pipe, real, real_f, n, net, pn_vocab, first, args.seed, sampling)
            if reference is None:
                reference = images
            row = {"sampler": name, **row, "file_bytes": size,
                   "max_pixel_diff_vs_torch": int((images.int() - reference.int()).abs().max())}
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
    out = {"command": command_line(), "machine": machine, "run": str(args.run), "features": str(args.features),
           "threads": args.threads, "batch": 64, "split": "test", "sampling": sampling, "export_seconds": round(export_s, 1),
           "max_abs_error_vs_torch": record["max_abs_error_vs_torch"], "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    attrs = list(rows[0]["cond_acc"])
    md = ["| sampler | images/s | file MB | FID-P (95% CI) | coverage | " + " | ".join(f"acc. {a.split('/')[-1]}" for a in attrs)
          + " | max pixel diff |", "|---" * (5 + len(attrs) + 1) + "|"]
    for r in rows:
        md.append(f"| {r['sampler']} | {r['images_per_s']} | {r['file_bytes'] / 1e6:.1f} | {r['fid_p']:.1f} "
                  f"({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f}) | {r['coverage']:.2f} | "
                  + " | ".join(f"{r['cond_acc'][a]:.2f}" for a in attrs) + f" | {r['max_pixel_diff_vs_torch']} |")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
