"""Why diffusion loses to the GAN on this CPU, measured: quality against training images seen and against compute.

    python bench/images_seen.py runs/fam-gan runs/fam-diffusion runs/fam-flow

Reads each run's periodic evaluations (``metrics.jsonl``: cheap FID-P on the validation split at n=500 for the GAN,
250 for diffusion/flow, as bench/family_runs.sh trained them) and its config (batch size), and the measured training
cost per image from bench/results/train_speed.json (GAN) and bench/results/diffusion_speed.json (the U-Net's forward
GFLOP x 3 for forward + backward). Plots FID-P against training images seen and against training GFLOP, and writes
bench/results/quality/images-seen.{png,json}: for each run, each evaluation's (step, images seen, GFLOP, FID-P).

Reading it: if the diffusion line lies above the GAN's at the same images seen, the gap is sample efficiency (the
objective learns slower per image), not the per-image cost; the compute axis adds the cost on top.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402

from prodgen.atomic import write_json  # noqa: E402

OUT = HERE / "results" / "quality"


def gflop_per_training_image(model: str) -> float:
    """Measured forward+backward GFLOP of one training image at 64 px."""
    if model == "gan":
        rows = json.loads((HERE / "results" / "train_speed.json").read_text())["rows"]
        return next(r["train_gflop_per_image"] for r in rows if r["model"] == "gan" and r["resolution"] == 64)
    if model == "diffusion":
        return 3 * json.loads((HERE / "results" / "diffusion_speed.json").read_text())["unet_gflop_per_eval"]
    raise ValueError(model)


def main() -> int:
    runs = [Path(a) for a in sys.argv[1:]] or [Path("runs/fam-gan"), Path("runs/fam-diffusion")]
    OUT.mkdir(parents=True, exist_ok=True)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    result = {"command": command_line(), "machine": machine_info(), "runs": {}}
    for run in runs:
        cfg = json.loads((run / "config.json").read_text())
        batch, model = cfg["train"]["batch_size"], cfg["model"]
        per_image = gflop_per_training_image(model)
        recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]
        pts = [{"step": r["step"], "images_seen": r["step"] * batch, "gflop": round(r["step"] * batch * per_image),
                "fid": r["eval/fid"], "n": r["eval/n"]} for r in recs if "eval/fid" in r]
        label = f"{run.name} ({cfg['model_args'].get('objective', model)})" if model == "diffusion" else run.name
        result["runs"][run.name] = {"model": model, "objective": cfg["model_args"].get("objective"),
                                    "gflop_per_training_image": round(per_image, 3), "batch": batch, "evals": pts}
        a1.plot([p["images_seen"] / 1000 for p in pts], [p["fid"] for p in pts], marker="o", ms=3, label=label)
        a2.plot([p["gflop"] / 1e3 for p in pts], [p["fid"] for p in pts], marker="o", ms=3, label=label)
    for ax, x in ((a1, "training images seen (thousands)"), (a2, "training compute (TFLOP)")):
        ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel("FID-P, val (periodic, n=500/250)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "images-seen.png", dpi=100)
    write_json(OUT / "images-seen.json", result)
    print(OUT / "images-seen.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
