"""Within-condition diversity: pixel std across seeds, per condition (mode collapse shows as ~0).

For each condition, the per-pixel standard deviation across S seeds (images in
[-1, 1], averaged over pixels and channels). Two sources:

  from run folders (generates S seeds per condition, colour unspecified):
    .venv/bin/python bench/mode_collapse.py --run runs/gan64 --seeds 16
  from checked-in category grids (rows: conditions, columns: seeds; bench/sample_grids.py layout):
    .venv/bin/python bench/mode_collapse.py \\
        --grid collapsed=bench/results/real-catalog/v1-collapsed/gan64-categories.png \\
        --grid current=bench/results/real-catalog/gan64-categories.png

Writes bench/results/mode_collapse.json (one entry per source; --out to change).
The grids are 8-bit PNGs, so a measurement from them carries the PNG rounding
(at most 1/255 per pixel; negligible next to the differences measured).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402

# bench/sample_grids.py's <run>-categories.png: 16 rows (article types, in vocabulary order), 8 seeds, 64-px tiles, 2-px pad
GRID_ROWS = ["Tshirts", "Shirts", "Casual Shoes", "Kurtas", "Sports Shoes", "Watches", "Tops", "Handbags", "Heels",
             "Sunglasses", "Sweaters", "Flip Flops", "Sandals", "Wallets", "Belts", "Sweatshirts"]


def pixel_std(images: np.ndarray) -> float:
    """images: (S, H, W, C) in [-1, 1] -> mean over pixels of the std across S (population std)."""
    return float(images.std(axis=0).mean())


def from_grid(path: Path, rows: list[str], cols: int = 8, tile: int = 64, pad: int = 2) -> dict:
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB")).astype(np.float64) / 127.5 - 1
    h, w, _ = img.shape
    left = w - cols * (tile + pad) - pad  # row labels sit left of the tiles
    if h != len(rows) * (tile + pad) + pad or left < 0:
        sys.exit(f"{path}: {w}x{h} is not a {len(rows)}x{cols} grid of {tile}-px tiles")
    out = []
    for r, name in enumerate(rows):
        y = pad + r * (tile + pad)
        xs = [left + pad + c * (tile + pad) for c in range(cols)]
        tiles = np.stack([img[y : y + tile, x : x + tile] for x in xs])
        out.append({"condition": name, "pixel_std": round(pixel_std(tiles), 4)})
    return {"source": str(path), "seeds": cols, "condition": "articleType, colour unspecified", "rows": out,
            "mean": round(float(np.mean([r["pixel_std"] for r in out])), 4)}


def from_run(run: Path, seeds: int, n_conditions: int = 16, attrs: list[str] | None = None) -> dict:
    import torch

    from prodgen.conditioning import UNSPECIFIED
    from prodgen.sample import Pipeline

    pipe = Pipeline.from_pretrained(run, device="cpu")
    first = pipe.vocab.attributes[0]
    conds = [{first.name: v} for v in first.values if v not in (UNSPECIFIED, "other", "unknown")][:n_conditions]
    for a in attrs or []:  # extra conditions, e.g. "articleType=Tshirts,baseColour=Blue"
        conds.append(dict(kv.split("=", 1) for kv in a.split(",")))
    out = []
    for c in conds:
        cond = torch.stack([pipe.condition(c)] * seeds)
        x = pipe.generate_batch(cond, list(range(seeds)))
        out.append({"condition": ",".join(c.values()) if len(c) > 1 else next(iter(c.values())),
                    "pixel_std": round(pixel_std(x.permute(0, 2, 3, 1).numpy().astype(np.float64)), 4)})
    return {"source": str(run), "seeds": seeds, "condition": f"{first.name}, other attributes unspecified", "rows": out,
            "mean": round(float(np.mean([r["pixel_std"] for r in out[:n_conditions]])), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", action="append", default=[], metavar="NAME=PNG")
    ap.add_argument("--run", action="append", default=[], metavar="[NAME=]RUN")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--attr", action="append", help="extra condition for --run, e.g. articleType=Tshirts,baseColour=Blue")
    ap.add_argument("--out", default=str(HERE / "results" / "mode_collapse.json"))
    ap.add_argument("--note")
    args = ap.parse_args()
    result = {"command": command_line(), "machine": machine_info(args.note),
              "measure": "per-pixel std across seeds within one condition, images in [-1, 1], mean over pixels"}
    for g in args.grid:
        name, path = g.split("=", 1)
        result[name] = from_grid(Path(path), GRID_ROWS)
    for r in args.run:
        name, path = r.split("=", 1) if "=" in r else (Path(r).name, r)
        result[name] = from_run(Path(path), args.seeds, attrs=args.attr)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for k, v in result.items():
        if isinstance(v, dict) and "rows" in v:
            print(k, v["mean"], " ".join(f"{r['condition']}={r['pixel_std']}" for r in v["rows"]))


if __name__ == "__main__":
    main()
