"""Peak memory (RSS) of `prodgen enhance` on large synthetic photos: the tiled path's bound, measured.

    .venv/bin/python bench/restore_memory.py                # all cases, ~10 minutes on a 2-core CPU
    .venv/bin/python bench/restore_memory.py --cases tiles   # one group

writes bench/results/restore-memory.{json,md}. Each case runs ``apps.restore.enhance_file`` (what
``prodgen enhance`` calls) in a fresh child process on a synthetic photo written beforehand (smooth
colour fields with edges and text-like strokes, so JPEG and PNG coders work as on a real photo), and
reports the child's peak resident memory (``ru_maxrss``) and wall time. The restoration network is
the default configuration (width 48) with random weights: it costs what a trained one costs.

Groups:
- ``big``: the worst case the input limit allows, a 50-megapixel photo upscaled x4 (800-megapixel
  result) by the classical path, tile 1024;
- ``network``: the network path on an 8-megapixel photo at x2 (32-megapixel result), tile 1024;
- ``tiles``: a 2-megapixel photo at x2 with the network, tile 512 / 1024 / 4096 (one tile: the whole photo,
  what building the planes for the whole photo costs).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def synthetic_photo(path: Path, w: int, h: int, seed: int = 0) -> None:
    """A photo-like test image: smooth colour fields, hard edges, thin strokes (written as quality-92 JPEG)."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    small = Image.fromarray((rng.random((max(2, h // 256), max(2, w // 256), 3)) * 255).astype(np.uint8))
    img = small.resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(200):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(20, max(21, w // 8)), y0 + rng.integers(20, max(21, h // 8))
        draw.rectangle([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    for _ in range(400):
        pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(3)]
        draw.line(pts, fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(1, 6)))
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    img.save(path, quality=92)


def child(args) -> None:
    """Run one enhance in this (fresh) process; print a JSON line with peak RSS and time."""
    import torch

    from prodgen.apps.restore import RestoreConfig, RestoreNet, enhance_file
    from prodgen.apps.restore.inference import read_photo_uint8

    net = None
    if args.network:
        torch.manual_seed(0)
        net = RestoreNet(RestoreConfig()).eval().requires_grad_(False)
        for p in net.parameters():  # the tail starts at zero: give it weights so the network does real work
            torch.nn.init.normal_(p, std=0.02)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    info = enhance_file(args.photo, args.out, net, args.task, None, args.tile)
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    print(json.dumps({"in_size": info["in_size"], "out_size": info["out_size"], "seconds": round(secs, 1),
                      "peak_rss_mb": round(peak / 1024), "rss_before_mb": round(before / 1024)}))
    del read_photo_uint8


def run_case(name: str, photo: Path, task: str, tile: int, network: bool, tmp: Path) -> dict:
    out = tmp / f"{name}.jpg"
    cmd = [sys.executable, __file__, "--child", "--photo", str(photo), "--out", str(out), "--task", task, "--tile", str(tile)]
    if network:
        cmd.append("--network")
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{name} failed:\n{res.stderr[-3000:]}")
    r = json.loads(res.stdout.strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    (w, h), (ow, oh) = r["in_size"], r["out_size"]
    s = ow // w
    bound = r["rss_before_mb"] + bound_mb(w, h, s, tile)
    row = {"case": name, "task": task, "tile": tile, "network": network, "input_mp": round(w * h / 1e6, 1),
           "output_mp": round(ow * oh / 1e6, 1), **r, "bound_mb": bound,
           "whole_image_planes_mb": round((7 + 3) * 4 * ow * oh / 2**20)}
    print(json.dumps(row), flush=True)
    return row


def bound_mb(w: int, h: int, s: int, tile: int) -> int:
    """The docstring's bound above the process's own memory (Python, torch: ``rss_before_mb``): photo (3 h w, plus
    PIL's decode copy 4 h w), result (4 H W), one tile's work."""
    from prodgen.apps.restore.inference import MARGIN

    ctx = (tile + 2 * MARGIN) ** 2
    tile_work = ctx * (7 * 4 + 48 * 4 * 4 // 4 * 3)  # planes + about three live 48-channel maps at half resolution
    return round((7 * w * h + 4 * w * h * s * s + tile_work) / 2**20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--photo")
    ap.add_argument("--out")
    ap.add_argument("--task", default="upscale4")
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--network", action="store_true")
    ap.add_argument("--cases", default="big,network,tiles")
    ap.add_argument("--tmp", default="/tmp/prodgen-restore-memory")
    ap.add_argument("--results", default=str(HERE / "results" / "restore-memory"))
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    out = Path(args.results)
    if args.render:
        render(json.loads(out.with_suffix(".json").read_text()), out)
        return
    from machine import command_line, machine_info

    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    cases = set(args.cases.split(","))
    rows = []
    if "big" in cases:
        photo = tmp / "50mp.jpg"
        if not photo.exists():
            synthetic_photo(photo, 8660, 5773)
        rows.append(run_case("50 MP photo, x4, classical", photo, "upscale4", 1024, False, tmp))
    if "network" in cases:
        photo = tmp / "8mp.jpg"
        if not photo.exists():
            synthetic_photo(photo, 3464, 2309)
        rows.append(run_case("8 MP photo, x2, network", photo, "upscale2", 1024, True, tmp))
    if "tiles" in cases:
        photo = tmp / "2mp.jpg"
        if not photo.exists():
            synthetic_photo(photo, 1732, 1155)
        for tile in (512, 1024, 4096):
            rows.append(run_case(f"2 MP photo, x2, network, tile {tile}", photo, "upscale2", tile, True, tmp))
    res = {"command": command_line(), "machine": machine_info(), "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    render(res, out)


def render(res: dict, out: Path) -> None:
    from machine import machine_line

    for r in res["rows"]:  # the bound as the docstring states it now
        (w, h), (ow, _) = r["in_size"], r["out_size"]
        r["bound_mb"] = r["rss_before_mb"] + bound_mb(w, h, ow // w, r["tile"])
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["# `prodgen enhance` on large photos: peak memory\n", f"`{res['command']}`\n",
             f"Machine: {machine_line(res['machine'])}\n",
             "Peak resident memory of a fresh process running `enhance_file` (what `prodgen enhance` runs); the bound is "
             "the one stated in `apps/restore/inference.py`: the process itself (Python and torch, measured before the "
             "photo is read) + photo + 8-bit result + one tile's work; the last column is "
             "what the input planes and the classical result alone took when they were built for the whole photo "
             "(float32, 10 planes).\n",
             "| case | input MP | output MP | tile | seconds | peak RSS (MB) | stated bound (MB) | whole-photo planes (MB) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['case']} | {r['input_mp']} | {r['output_mp']} | {r['tile']} | {r['seconds']} | {r['peak_rss_mb']} | "
              f"{r['bound_mb']} | {r['whole_image_planes_mb']} |" for r in res["rows"]]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
