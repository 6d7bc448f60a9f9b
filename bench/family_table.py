"""Markdown table of the latest `prodgen evaluate` of each run (bench/family_eval.sh final).

    .venv/bin/python bench/family_table.py runs/fam-gan runs/fam-vae runs/fam-diffusion
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLS = [("fid", "FID-P", "{:.1f}"), ("kid_mean", "KID", "{:.2f}"), ("precision", "precision", "{:.3f}"),
        ("recall", "recall", "{:.3f}"), ("coverage", "coverage", "{:.3f}"), ("acc/articleType", "cond. acc. articleType", "{:.3f}"),
        ("acc/baseColour", "cond. acc. baseColour", "{:.3f}"), ("text_acc/articleType", "title-only articleType", "{:.3f}"),
        ("text_acc/baseColour", "title-only baseColour", "{:.3f}"), ("memorisation_ratio", "memorisation", "{:.2f}"),
        ("images_per_s", "sampling img/s", "{:.0f}")]


def latest(run: Path) -> dict:
    evals = sorted((run / "eval").glob("*/metrics.json"))
    if not evals:
        sys.exit(f"{run} has no evaluation; run bench/family_eval.sh final")
    return json.loads(evals[-1].read_text())


def steps_and_minutes(run: Path) -> tuple[int, float]:
    recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    last = max(recs, key=lambda r: r["step"])
    return last["step"], last.get("elapsed_s", 0) / 60


def main() -> None:
    runs = [Path(a) for a in sys.argv[1:]]
    results = [(r, latest(r)) for r in runs]
    print("| run | steps (minutes) | " + " | ".join(c[1] for c in COLS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in COLS) + " |")
    floor = results[0][1]["rows"]["real_floor"]
    print("| real vs real (floor) | | " + " | ".join(c[2].format(floor[c[0]]) if c[0] in floor else "" for c in COLS) + " |")
    for run, res in results:
        m = res["rows"]["model"]
        steps, minutes = steps_and_minutes(run)
        name = f"{res['model']} ({run.name})" + (f", {res['sampling']}" if res.get("sampling") else "")
        cells = []
        for key, _, fmt in COLS:
            v = m.get(key)
            cell = "" if v is None else fmt.format(v)
            if key == "fid" and "fid_ci95_low" in m:
                cell += f" ({m['fid_ci95_low']:.1f}-{m['fid_ci95_high']:.1f})"
            cells.append(cell)
        print(f"| {name} | {steps} ({minutes:.0f}) | " + " | ".join(cells) + " |")
    base = results[0][1]["rows"]["class_mean_baseline"]
    print("| per-category mean image (trivial) | | " + " | ".join(c[2].format(base[c[0]]) if c[0] in base else "" for c in COLS) + " |")


if __name__ == "__main__":
    main()
