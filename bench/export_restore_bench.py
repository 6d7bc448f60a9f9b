"""The restoration networks served smaller and faster: PyTorch vs ONNX Runtime fp32 vs ONNX int8, per task.

    python bench/export_restore_bench.py                    # runs/restore (prodgen enhance-train on the real catalog)

Exports ``--run`` with ``prodgen.export.export_restorer(quantize="int8")`` (int8 calibrated on 64 validation photos)
into a temporary folder. For each task and each of PyTorch (the run folder), ONNX fp32 and ONNX int8, on the run
catalog's test photos (``--n``, the same photos and degradation seeds as the run's own eval.json, seen condition):
mean PSNR / SSIM of the 8-bit result, and the change against PyTorch as the mean paired per-photo PSNR difference
with a bootstrap 95% interval (2,000 resamples of photos); ms per 128-px photo (the network on batches of 16, the
classical start excluded, median of 3 passes after a warm-up); and for upscale2 the seconds for one 1024 x 1024 photo
through ``prodgen enhance``'s tiled path (2048 x 2048 result, tile 1024; median of 3). Writes
``bench/results/export_restore.json`` (command and machine inside) and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

from prodgen.apps.restore import catalog_splits, load_restorer, read_config, restore, run_network, split_photos  # noqa: E402
from prodgen.apps.restore.baselines import observe_set, to_8bit  # noqa: E402
from prodgen.apps.restore.evaluation import TEST_SEED, network_input  # noqa: E402
from prodgen.config import DataConfig  # noqa: E402
from prodgen.evaluate.metrics.restoration import restoration_scores  # noqa: E402
from prodgen.export import OnnxRestorer, export_restorer  # noqa: E402


def per_photo_psnr(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    mse = (restored - clean).pow(2).flatten(1).mean(1).clamp(min=1e-10)
    return (10 * torch.log10(1 / mse)).clamp(max=100.0)


def paired_interval(diff: torch.Tensor, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(diff), (resamples, len(diff)), generator=g)
    means = diff[idx].mean(1)
    return float(means.quantile(0.025)), float(means.quantile(0.975))


def timed(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=Path("runs/restore"))
    ap.add_argument("--n", type=int, default=200, help="test photos (the run's eval.json uses 200)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "export_restore.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info()
    cfg, extra = read_config(args.run)
    _, tensors, split = catalog_splits(DataConfig(**extra["data"]), cfg.resolution, progress=False)
    clean = split_photos(tensors, split, "test", args.n)
    big = torch.nn.functional.interpolate(clean[:1], size=(1024, 1024), mode="bicubic").clamp(0, 1)[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        record = export_restorer(args.run, Path(tmp) / "export", quantize="int8")
        export_s = time.perf_counter() - t0
        backends = {"PyTorch (run folder)": load_restorer(args.run),
                    "ONNX Runtime fp32": OnnxRestorer(Path(tmp) / "export", "fp32", threads=args.threads),
                    "ONNX Runtime int8": OnnxRestorer(Path(tmp) / "export", "int8", threads=args.threads)}
        sizes = {"PyTorch (run folder)": (args.run / "restore.safetensors").stat().st_size,
                 "ONNX Runtime fp32": record["bytes"]["fp32"], "ONNX Runtime int8": record["bytes"]["int8"]}
        for task in cfg.tasks:
            obs, mask = observe_set(clean, task, "seen", TEST_SEED)
            planes = network_input(task, obs, mask)
            ref = None
            for name, net in backends.items():
                out = to_8bit(run_network(net, task, planes))
                psnr = per_photo_psnr(out, clean)
                scores = restoration_scores(out, clean)
                ms = timed(lambda: run_network(net, task, planes[:64])) / 64 * 1000
                row = {"task": task, "backend": name, "n": len(clean), "psnr": round(scores["psnr"], 3),
                       "ssim": round(scores["ssim"], 4), "ms_per_photo_128px": round(ms, 2),
                       "model_mb": round(sizes[name] / 1e6, 2)}
                if ref is None:
                    ref = psnr
                else:
                    d = psnr - ref
                    lo, hi = paired_interval(d)
                    row.update(psnr_change=round(float(d.mean()), 3), psnr_change_ci95=[round(lo, 3), round(hi, 3)],
                               max_pixel_diff_8bit=int(((out - to_8bit(run_network(backends['PyTorch (run folder)'], task, planes))) * 255).abs().max().round()))
                if task == "upscale2":
                    row["s_per_1024px_photo_x2"] = round(timed(lambda: restore(net, big, "upscale2")), 2)
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {"command": command_line(), "machine": machine, "run": str(args.run), "n_test": len(clean),
              "export_seconds": round(export_s, 1), "calibration_n": record.get("calibration_n"),
              "max_abs_error_vs_torch_random": record["max_abs_error_vs_torch"], "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(table(result)) + "\n")
    print("\n".join(table(result)))
    return 0


def table(result: dict) -> list[str]:
    lines = ["| task | model | PSNR dB | change vs PyTorch (95% CI) | SSIM | ms / 128-px photo | s / 1024-px photo x2 | MB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        change = (f"{r['psnr_change']:+.3f} ({r['psnr_change_ci95'][0]:+.3f} to {r['psnr_change_ci95'][1]:+.3f})"
                  if "psnr_change" in r else "")
        big = f"{r['s_per_1024px_photo_x2']:.2f}" if "s_per_1024px_photo_x2" in r else ""
        lines.append(f"| {r['task']} | {r['backend']} | {r['psnr']:.2f} | {change} | {r['ssim']:.4f} | "
                     f"{r['ms_per_photo_128px']:.1f} | {big} | {r['model_mb']:.1f} |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
