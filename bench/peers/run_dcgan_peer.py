"""Run the pytorch/examples DCGAN, unmodified, on a catalog's train split for a time budget.

torchvision does not install beside this torch, so this runner puts a minimal
stand-in for the four torchvision pieces the script uses (datasets.ImageFolder,
transforms Resize/CenterCrop/ToTensor/Normalize, utils.save_image) into
``sys.modules`` and then executes the peer's ``dcgan/main.py`` as is. The peer is
fetched at benchmark time, outside this repository:

    git clone https://github.com/pytorch/examples /tmp/pytorch-examples   # or any checkout
    .venv/bin/python bench/peers/run_dcgan_peer.py --examples /tmp/pytorch-examples \
        --catalog ../shared/data/fashion-products --minutes 25 --out /tmp/dcgan-peer

The train split is the same id-hash split prodgen uses (80/10/10), presented as a
one-class image folder of symlinks (nothing is copied). The peer saves
``fake_samples_epoch_NNN.png`` and ``netG_epoch_N.pth`` after every epoch; the
runner stops it when the budget is spent and reports the last finished epoch.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import runpy
import signal
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def _install_torchvision_standin() -> None:
    tv = types.ModuleType("torchvision")
    datasets = types.ModuleType("torchvision.datasets")
    transforms = types.ModuleType("torchvision.transforms")
    utils = types.ModuleType("torchvision.utils")

    class Compose:
        def __init__(self, ts):
            self.ts = ts

        def __call__(self, x):
            for t in self.ts:
                x = t(x)
            return x

    class Resize:  # shorter side to `size`, bilinear (torchvision's default for PIL input)
        def __init__(self, size):
            self.size = size

        def __call__(self, img):
            w, h = img.size
            s = self.size / min(w, h)
            return img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)

    class CenterCrop:
        def __init__(self, size):
            self.size = size

        def __call__(self, img):
            w, h = img.size
            left, top = int(round((w - self.size) / 2)), int(round((h - self.size) / 2))
            return img.crop((left, top, left + self.size, top + self.size))

    class ToTensor:
        def __call__(self, img):
            return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()

    class Normalize:
        def __init__(self, mean, std):
            self.mean = torch.tensor(mean)[:, None, None]
            self.std = torch.tensor(std)[:, None, None]

        def __call__(self, x):
            return (x - self.mean) / self.std

    class ImageFolder(torch.utils.data.Dataset):
        def __init__(self, root, transform=None):
            classes = sorted(d.name for d in Path(root).iterdir() if d.is_dir())
            self.samples = [(p, i) for i, c in enumerate(classes) for p in sorted((Path(root) / c).iterdir())]
            self.transform = transform

        def __len__(self):
            return len(self.samples)

        def __getitem__(self, i):
            p, y = self.samples[i]
            img = Image.open(p).convert("RGB")
            return (self.transform(img) if self.transform else img), y

    def save_image(t, path, normalize=False, nrow=8, padding=2):
        t = t.detach().cpu().float()
        if normalize:
            t = (t - t.min()) / (t.max() - t.min() + 1e-5)
        n, c, h, w = t.shape
        ncol = min(nrow, n)
        rows = math.ceil(n / ncol)
        grid = torch.zeros(c, rows * (h + padding) + padding, ncol * (w + padding) + padding)
        for k in range(n):
            r, cc = divmod(k, ncol)
            grid[:, padding + r * (h + padding): padding + r * (h + padding) + h, padding + cc * (w + padding): padding + cc * (w + padding) + w] = t[k]
        arr = (grid.clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0).numpy()
        Image.fromarray(arr).save(path)

    datasets.ImageFolder = ImageFolder
    transforms.Compose, transforms.Resize, transforms.CenterCrop = Compose, Resize, CenterCrop
    transforms.ToTensor, transforms.Normalize = ToTensor, Normalize
    utils.save_image = save_image
    tv.datasets, tv.transforms, tv.utils = datasets, transforms, utils
    sys.modules.update({"torchvision": tv, "torchvision.datasets": datasets, "torchvision.transforms": transforms, "torchvision.utils": utils})


def _train_split_folder(catalog: Path, out: Path) -> int:
    from prodgen.data.split import assign_split

    folder = out / "train-split" / "all"
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(catalog / "styles.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            src = catalog / "images" / f"{row['id']}.jpg"
            if src.exists() and assign_split(row["id"]) == "train":
                dst = folder / src.name
                if not dst.exists():
                    os.symlink(src.resolve(), dst)
                n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", required=True, help="checkout of github.com/pytorch/examples")
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--minutes", type=float, default=25, help="wall-clock budget (ignored with --epochs)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="train exactly this many epochs instead of a time budget (reproducible on a loaded machine)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    n = _train_split_folder(Path(args.catalog), out)
    _install_torchvision_standin()
    script = Path(args.examples) / "dcgan" / "main.py"
    sys.argv = [str(script), "--dataset", "folder", "--dataroot", str(out / "train-split"), "--imageSize", "64",
                "--niter", str(args.epochs or 100000), "--outf", str(out), "--manualSeed", str(args.seed), "--workers", str(args.workers)]

    def stop(signum, frame):
        raise TimeoutError("time budget spent")

    signal.signal(signal.SIGALRM, stop)
    if args.epochs is None:
        signal.alarm(int(args.minutes * 60))
    t0 = time.time()
    try:
        runpy.run_path(str(script), run_name="__main__")
    except TimeoutError:
        pass
    epochs = sorted(int(p.stem.split("_")[-1]) for p in out.glob("netG_epoch_*.pth"))
    summary = {"peer": "pytorch/examples dcgan/main.py", "train_images": n, "minutes": round((time.time() - t0) / 60, 2),
               "budget": f"{args.epochs} epochs" if args.epochs else f"{args.minutes} minutes",
               "epochs_finished": (epochs[-1] + 1) if epochs else 0,
               "last_grid": f"fake_samples_epoch_{epochs[-1]:03d}.png" if epochs else None}
    (out / "peer_summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
