"""Is the colour mode seeking loses laid out as patterns? High-frequency energy inside the products (session 31).

Session 29's reading of the grids was that mode seeking (weight 0.1, today's default) paints items printed or checked
where the recipe without it draws them plain, and session 30 measured that the products' mean colour is not where the
baseColour accuracy is lost (bench/colour_gap_real.py). This script measures the patterns: for each image, the mean
absolute difference between the grey level and its 3x3 box mean (a Laplacian-like high-pass) over the product's
interior pixels (``data.mask.backdrop_masks`` eroded by 2 px, so the outline does not count). Real training photos of
``--rows`` uniformly drawn rows (every attribute specified), and each run's EMA generator given those rows' conditions
(one image a row, seeded), overall and per baseColour (the colours with at least ``--min-rows`` rows).

    python bench/texture_energy.py runs/gan64-sle-ms01-s1 --generated runs/gan64-sle-ms01-s{1,2} \
        runs/gan64-sle-noms-s{1,2} runs/gan64-sle-ms01-s1-decay-100m
    -> bench/results/quality/texture_energy.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from colour_gap_real import photos  # noqa: E402
from machine import command_line, machine_info  # noqa: E402

from prodgen.atomic import write_json  # noqa: E402
from prodgen.data.mask import backdrop_masks  # noqa: E402
from prodgen.train.run import load_run_data  # noqa: E402

MIN_INTERIOR = 50  # interior pixels an image needs for its energy to count (a white item on white has none)


def interior_energy(images: torch.Tensor, erode: int = 2) -> torch.Tensor:
    """(B, 3, H, W) images in [-1, 1] -> (B,) high-frequency energy inside each product, NaN where the product's
    interior has fewer than MIN_INTERIOR pixels."""
    x = (images.float() + 1) / 2
    w = backdrop_masks(x)
    w = -F.max_pool2d(-w, 2 * erode + 1, 1, erode)  # erosion: a pixel stays if its whole neighbourhood is product
    grey = x.mean(dim=1, keepdim=True)
    high = (grey - F.avg_pool2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), 3, 1)).abs()
    area = w.sum(dim=(1, 2, 3))
    energy = (high * w).sum(dim=(1, 2, 3)) / area.clamp_min(1)
    return torch.where(area >= MIN_INTERIOR, energy, torch.full_like(energy, float("nan")))


def summary(energy: torch.Tensor, colours: torch.Tensor, names: dict[int, str], min_rows: int) -> dict:
    """Mean and median over the images with an interior, and the mean per colour."""
    ok = ~energy.isnan()
    out = {"images": int(ok.sum()), "mean": energy[ok].mean().item(), "median": energy[ok].median().item(), "per_colour": {}}
    for c, name in names.items():
        pick = ok & (colours == c)
        if int(pick.sum()) >= min_rows:
            out["per_colour"][name] = {"images": int(pick.sum()), "mean": energy[pick].mean().item()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a trained run folder (its training split and conditions)")
    ap.add_argument("--generated", type=Path, nargs="*", default=[])
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--min-rows", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("bench/results/quality/texture_energy.json"))
    args = ap.parse_args()
    data = load_run_data(args.run, progress=False)
    train = data.train
    colour = data.attributes.index("baseColour")
    full = torch.nonzero((train.cond > 0).all(dim=1)).flatten()
    g = torch.Generator().manual_seed(args.seed)
    rows = full[torch.randint(len(full), (args.rows,), generator=g)]
    colours = train.cond[rows, colour]
    names = {int(c): data.vocab[data.attributes[colour]].decode(int(c)) for c in colours.unique()}
    result = {"command": command_line(), "machine": machine_info(), "run": str(args.run), "rows": args.rows,
              "seed": args.seed, "min_interior_pixels": MIN_INTERIOR,
              "real": summary(torch.cat([interior_energy(photos(train.images, rows[k:k + 500]))
                                         for k in range(0, len(rows), 500)]), colours, names, args.min_rows),
              "generated": {}}
    for run in args.generated:
        from prodgen.sample.pipeline import Pipeline

        pipe = Pipeline.from_pretrained(run, device="cpu")
        if tuple(pipe.vocab.sizes) != tuple(data.vocab.sizes):
            raise SystemExit(f"{run}: another vocabulary than {args.run}'s")
        with torch.no_grad():
            energy = torch.cat([interior_energy(pipe.generate_batch(train.cond[part], list(range(k, k + len(part)))))
                                for k in range(0, len(rows), 250) for part in [rows[k:k + 250]]])
        result["generated"][str(run)] = summary(energy, colours, names, args.min_rows)
    write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
