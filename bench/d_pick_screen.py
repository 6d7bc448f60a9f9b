"""Does picking among a GAN's samples by its own discriminator move FID-P, accuracy and variety?

``prodgen evaluate RUN --best-of m``: for every requested image the run's EMA generator draws m candidates (candidate
c of seed s uses seed s * m + c, as ``prodgen generate --best-of m --score-with discriminator`` numbers them) and the
run's final discriminator (projection terms included, so it judges the asked condition too) keeps the one it rates
most real: "best of m by D", the simplest form of discriminator rejection sampling (Azadi et al. 2019). m = 1 is the
plain evaluation. Every figure is prodgen's own evaluation on the chosen split (val for choosing).

    .venv/bin/python bench/d_pick_screen.py runs/gan64-sle-topk-s1 runs/gan64-sle-topk-s2 --picks 1 2 4 \
        --split val --out bench/results/quality/d_pick_val.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

from prodgen.atomic import write_json  # noqa: E402
from prodgen.evaluate.evaluate import evaluate_run  # noqa: E402

KEEP = ("fid", "fid_ci95_low", "fid_ci95_high", "precision", "recall", "density", "coverage", "acc/articleType",
        "acc/baseColour", "diversity_within_condition", "diversity_same_condition", "near_copy_share",
        "memorisation_ratio", "kid_mean", "images_per_s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--picks", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--split", default="val")
    ap.add_argument("--features", default="runs/productnet64")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows, floor = [], None
    for run in args.runs:
        for m in args.picks:
            res = evaluate_run(run, split=args.split, features=args.features, progress=False, best_of=m)
            met = res["rows"]["model"]
            floor = {k: res["rows"]["real_floor"].get(k) for k in KEEP}
            row = {"run": run, "m": m, "eval": res["out"], "n": res["n_generated"], **{k: met.get(k) for k in KEEP}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    write_json(args.out, {"command": command_line(), "machine": machine_info(), "split": args.split,
                          "features": args.features, "candidate_seeds": "seed * m + c", "real_floor": floor,
                          "rows": rows})


if __name__ == "__main__":
    main()
