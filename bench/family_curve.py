"""FID-P of the periodic evaluations against the training budget, one line per family run.

The runs train for the fixed step counts that 25 idle minutes of one core reached (bench/family_runs.sh),
so the x axis is the share of that budget in idle-equivalent minutes: 25 * step / total steps (wall
time is not used: on a shared machine it measures the load, not the model).

    .venv/bin/python bench/family_curve.py runs/fam-gan runs/fam-vae runs/fam-diffusion
writes bench/results/families/quality-vs-minutes.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "families" / "quality-vs-minutes.png"


def main() -> None:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for run in map(Path, sys.argv[1:]):
        recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
        total = max(r["step"] for r in recs if "step" in r)
        pts = [(25 * r["step"] / total, r["eval/fid"]) for r in recs if "eval/fid" in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=run.name)
    ax.set_yscale("log")
    ax.set_xlabel("budget used, idle-equivalent minutes of 1 core")
    ax.set_ylabel("FID-P, val split (n=500/250)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=100)
    print(OUT)


if __name__ == "__main__":
    main()
