"""Pictures to look at from short 256-px runs on the real catalog (issue 12 part 3).

    python bench/res256_grids.py autoencoder runs/ae256 --out bench/results/res256-ae-reconstructions.png
    python bench/res256_grids.py generator runs/gan256 --out bench/results/res256-gan-samples.png

``autoencoder``: 8 photos of the run's *validation* split (never trained on), each beside its reconstruction
(EMA weights), and the mean absolute error over 256 validation photos in [-1, 1] units, written to
``<out>.json`` with the run's steps and training minutes. ``generator``: 16 images from the run (seeds 0-15, the
catalog's commonest conditions) through the normal ``Pipeline``, so it works for any family, latent diffusion
included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from machine import command_line, machine_info  # noqa: E402

from prodgen.grid import save_grid  # noqa: E402


def run_facts(run: Path) -> dict:
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    last = [r for r in recs if "elapsed_s" in r][-1]
    return {"run": str(run), "steps": last["step"], "training_minutes": round(last["elapsed_s"] / 60, 1),
            "last_logged": {k: v for k, v in last.items() if k not in ("step", "elapsed_s")}}


@torch.no_grad()
def autoencoder_grid(run: Path, out: Path) -> dict:
    from prodgen.models import EMA_NAME, GenerativeModel
    from prodgen.models.base import load_state
    from prodgen.train.run import load_run_data

    model = GenerativeModel.from_pretrained(run).eval()
    model.sampling_net().load_state_dict(load_state(run / EMA_NAME))
    data = load_run_data(run, progress=False)
    images, _ = data.heldout("val")
    x = images[:256].float() / 127.5 - 1
    recon = torch.cat([model.reconstruct(x[i:i + 16]) for i in range(0, len(x), 16)])
    pairs = torch.stack([x[:8], recon[:8]], 1).flatten(0, 1)  # photo, reconstruction, photo, ...
    save_grid(pairs, out, 4)
    return {"val_images": len(x), "val_l1": round(float((recon - x).abs().mean()), 4),
            "grid": "validation photo | reconstruction, 8 pairs", **run_facts(run)}


def generator_grid(run: Path, out: Path) -> dict:
    from prodgen.sample import Pipeline

    pipe = Pipeline.from_pretrained(run, device="cpu")
    imgs = pipe.generate(n=16, seed=0)
    save_grid(imgs, out, 4)
    return {"grid": "16 samples, seeds 0-15, no condition given (all attributes unspecified)", **run_facts(run)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["autoencoder", "generator"])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    facts = (autoencoder_grid if args.kind == "autoencoder" else generator_grid)(args.run, args.out)
    result = {"command": command_line(), "machine": machine_info(), **facts}
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(facts, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
