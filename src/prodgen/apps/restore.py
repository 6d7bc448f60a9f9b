"""Image restoration trained by prodgen on the catalog: super-resolution x2/x4, denoising, deblurring,
JPEG-artefact removal and inpainting of a masked region, with one network.

No pretrained restoration weights exist offline, so ``train_restorer`` makes training
pairs from the catalog's own photos with synthetic degradations (apps/degrade.py).
The network is a small residual U-Net (three levels, no normalisation layers, so a
pixel depends only on its neighbourhood, as in EDSR, Lim et al. 2017) told the task
by one-hot input planes and, for inpainting, the mask; it predicts a correction
added to its input. Super-resolution runs on the bicubic re-upscale (VDSR-style).

``restore`` processes any size in overlapping tiles: each tile is computed with a
context margin wider than the network's receptive field and only its centre is kept,
so a tiled result equals the whole-image result (tested), with memory bounded by
the tile size. Run folder: ``config.json``, ``restore.safetensors``,
``metrics.jsonl``, ``eval.json`` (held-out PSNR/SSIM next to the best baseline).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn

from ..atomic import write_json
from ..errors import UserError
from .degrade import TASKS, classical_candidates, degrade, upscale_input

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "restore.safetensors"
ALIGN = 4  # two stride-2 stages: tiles start on multiples of 4 so tiled == untiled
MARGIN = 64  # context around each tile: more than the receptive radius (about 50 px)


@dataclass
class RestoreConfig:
    width: int = 32
    blocks: tuple[int, int, int] = (2, 2, 2)  # residual blocks at full, 1/2 and 1/4 resolution
    tasks: tuple[str, ...] = TASKS
    crop: int = 64
    batch_size: int = 16
    lr: float = 1e-3
    resolution: int = 128  # catalog photos are letterboxed to this size, then cropped
    seed: int = 0
    catalog: str = ""

    def __post_init__(self) -> None:
        self.blocks = tuple(self.blocks)
        self.tasks = tuple(self.tasks)
        bad = [t for t in self.tasks if t not in TASKS]
        if bad:
            raise UserError(f"unknown restoration tasks {bad}; choose from {', '.join(TASKS)}")


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.b(F.silu(self.a(x)))  # residual scaling keeps the plain stack stable (EDSR)


class RestoreNet(nn.Module):
    def __init__(self, cfg: RestoreConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        cin = 3 + 1 + len(cfg.tasks)
        self.head = nn.Conv2d(cin, w, 3, padding=1)
        self.enc0 = nn.Sequential(*[ResBlock(w) for _ in range(cfg.blocks[0])])
        self.down1 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.enc1 = nn.Sequential(*[ResBlock(2 * w) for _ in range(cfg.blocks[1])])
        self.down2 = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)
        self.mid = nn.Sequential(*[ResBlock(2 * w) for _ in range(cfg.blocks[2])])
        self.up2 = nn.Conv2d(2 * w, 2 * w, 3, padding=1)
        self.dec1 = nn.Sequential(*[ResBlock(2 * w) for _ in range(cfg.blocks[1])])
        self.up1 = nn.Conv2d(2 * w, w, 3, padding=1)
        self.dec0 = nn.Sequential(*[ResBlock(w) for _ in range(cfg.blocks[0])])
        self.tail = nn.Conv2d(w, 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, task: int) -> torch.Tensor:
        """``x`` (B, 3, H, W) degraded in [0, 1], H and W multiples of 4; ``mask`` (B, 1, H, W); task index."""
        onehot = torch.zeros(x.shape[0], len(self.cfg.tasks), *x.shape[2:], device=x.device, dtype=x.dtype)
        onehot[:, task] = 1
        h0 = self.enc0(self.head(torch.cat([x * 2 - 1, mask, onehot], 1)))
        h1 = self.enc1(self.down1(F.silu(h0)))
        h2 = self.mid(self.down2(F.silu(h1)))
        u1 = self.dec1(h1 + self.up2(F.interpolate(h2, scale_factor=2, mode="nearest")))
        u0 = self.dec0(h0 + self.up1(F.interpolate(u1, scale_factor=2, mode="nearest")))
        return (x + self.tail(F.silu(u0))).clamp(0, 1)


# -- persistence ---------------------------------------------------------------
def save_restorer(net: RestoreNet, out: Path) -> None:
    from ..models.base import save_state

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / CONFIG_NAME, {"kind": "prodgen-restore", **dataclasses.asdict(net.cfg)})
    save_state(out / WEIGHTS_NAME, net.state_dict())


def load_restorer(folder: str | Path) -> RestoreNet:
    from ..models.base import load_state

    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file():
        raise UserError(f"{folder} is not a restoration run (no config.json); train one with `prodgen enhance-train`.")
    d = json.loads((folder / CONFIG_NAME).read_text())
    if d.pop("kind", None) != "prodgen-restore":
        raise UserError(f"{folder} holds a generative run, not a restoration model; use `prodgen enhance-train --out ...`")
    net = RestoreNet(RestoreConfig(**d))
    net.load_state_dict(load_state(folder / WEIGHTS_NAME))
    return net.eval().requires_grad_(False)


# -- inference -----------------------------------------------------------------
@torch.no_grad()
def tiled(fn, x: torch.Tensor, mask: torch.Tensor, tile: int = 256, margin: int = MARGIN) -> torch.Tensor:
    """Apply ``fn(x, mask)`` to (1, C, H, W) in tiles with context ``margin``; equals ``fn`` on the whole image."""
    if tile % ALIGN or margin % ALIGN:
        raise ValueError(f"tile and margin must be multiples of {ALIGN}")
    _, _, h, w = x.shape
    ph, pw = (-h) % ALIGN, (-w) % ALIGN
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        mask = F.pad(mask, (0, pw, 0, ph))
    H, W = x.shape[-2:]
    out = torch.empty_like(x)
    for y0 in range(0, H, tile):
        for x0 in range(0, W, tile):
            y1, x1 = min(y0 + tile, H), min(x0 + tile, W)
            cy0, cx0 = max(0, y0 - margin), max(0, x0 - margin)
            cy1, cx1 = min(H, y1 + margin), min(W, x1 + margin)
            res = fn(x[:, :, cy0:cy1, cx0:cx1], mask[:, :, cy0:cy1, cx0:cx1])
            out[:, :, y0:y1, x0:x1] = res[:, :, y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    return out[:, :, :h, :w]


def task_index(net: RestoreNet, task: str) -> int:
    if task not in net.cfg.tasks:
        raise UserError(f"this restoration model was trained for {', '.join(net.cfg.tasks)}, not {task!r}")
    return net.cfg.tasks.index(task)


@torch.no_grad()
def restore(net: RestoreNet | None, img: torch.Tensor, task: str, mask: torch.Tensor | None = None,
            tile: int = 256) -> tuple[torch.Tensor, str]:
    """Restore a (3, H, W) photo in [0, 1]; ``net`` None uses the classical baseline. Returns (image, method used).

    ``task``: upscale2, upscale4, denoise, deblur, jpeg or inpaint (needs ``mask``, (H, W), 1 = fill).
    """
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose upscale (--scale 2/4), denoise, deblur, jpeg or inpaint")
    x = img[None].float()
    if task.startswith("upscale"):
        x = upscale_input(x, int(task[-1]))
    m = torch.zeros(1, 1, *x.shape[2:])
    if task == "inpaint":
        if mask is None:
            raise UserError("inpaint needs --mask MASK.png (white where the photo should be filled in)")
        if mask.shape != img.shape[1:]:
            raise UserError(f"the mask is {tuple(mask.shape)[::-1]} px but the photo is {tuple(img.shape[1:])[::-1]} px; "
                            "they must be the same size")
        m = (mask > 0.5).float()[None, None]
    if net is None:
        cands = classical_candidates(task, x, m)
        name = {"upscale2": "bicubic", "upscale4": "bicubic", "denoise": "median3", "deblur": "unsharp",
                "jpeg": "gaussian", "inpaint": "harmonic"}[task]
        return cands[name][0].clamp(0, 1), f"classical baseline ({name}); train a model with `prodgen enhance-train` to do better"
    k = task_index(net, task)
    return tiled(lambda a, b: net(a, b, k), x, m, tile=tile)[0], "prodgen restoration network"


# -- training and evaluation ---------------------------------------------------
def _catalog_splits(data_cfg, resolution: int, progress: bool):
    from ..data import load_catalog, make_split, prepare_images

    catalog = load_catalog(data_cfg)
    tensors = prepare_images(catalog, resolution, progress=progress)
    split = make_split(tensors.ids, data_cfg.split_fractions)
    return catalog, tensors, split


def random_crops(images: torch.Tensor, n: int, crop: int, g: torch.Generator) -> torch.Tensor:
    """``n`` random crops (float [0, 1]) from uint8 (N, 3, R, R), preferring crops that are not all backdrop."""
    idx = torch.randint(len(images), (n * 2,), generator=g)
    r = images.shape[-1]
    ys = torch.randint(0, r - crop + 1, (n * 2,), generator=g)
    xs = torch.randint(0, r - crop + 1, (n * 2,), generator=g)
    crops = torch.stack([images[i, :, y : y + crop, x : x + crop] for i, y, x in zip(idx.tolist(), ys.tolist(), xs.tolist())])
    crops = crops.float() / 255
    busy = crops.std(dim=(1, 2, 3))
    return crops[busy.argsort(descending=True)[:n]]


@dataclass
class EvalRow:
    task: str
    n: int
    network: dict
    baseline: dict
    baseline_name: str
    beats_baseline: bool
    ms_per_image: float
    candidates: dict = field(default_factory=dict)


@torch.no_grad()
def evaluate_restorer(net: RestoreNet | None, clean: torch.Tensor, tasks: tuple[str, ...], seed: int = 123) -> list[EvalRow]:
    """PSNR/SSIM on held-out (N, 3, R, R) photos in [0, 1] per task, next to the best classical baseline."""
    from ..evaluate.metrics.restoration import restoration_scores

    rows = []
    for task in tasks:
        g = torch.Generator().manual_seed(seed + TASKS.index(task))
        degraded, mask = degrade(clean, task, g)
        cands = classical_candidates(task, degraded, mask)
        scores = {name: restoration_scores(c.clamp(0, 1), clean) for name, c in cands.items()}
        best = max(scores, key=lambda k: scores[k]["psnr"])
        if net is None:
            rows.append(EvalRow(task, len(clean), {}, scores[best], best, False, 0.0, scores))
            continue
        t = time.perf_counter()
        out = torch.cat([net(degraded[i : i + 32], mask[i : i + 32], task_index(net, task)) for i in range(0, len(clean), 32)])
        ms = (time.perf_counter() - t) / len(clean) * 1000
        ns = restoration_scores(out, clean)
        rows.append(EvalRow(task, len(clean), ns, scores[best], best, ns["psnr"] > scores[best]["psnr"], round(ms, 2), scores))
    return rows


def train_restorer(data_cfg, out: str | Path, minutes: float | None = 30, steps: int | None = None,
                   cfg: RestoreConfig | None = None, progress: bool = True, console=None, eval_n: int = 200) -> dict:
    """Train on the catalog's train split within the budget; evaluate on its test split; save the run folder."""
    from ..train.metrics_log import MetricsLog

    if minutes is None and steps is None:
        raise UserError("give a budget: --minutes M and/or --steps N")
    cfg = cfg or RestoreConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    catalog, tensors, split = _catalog_splits(data_cfg, cfg.resolution, progress)
    cfg.catalog = catalog.name
    train_imgs = tensors.images[tensors.index_of([i for i in split["train"] if i in set(tensors.ids)])]
    test_ids = [i for i in split["test"] if i in set(tensors.ids)][:eval_n]
    torch.manual_seed(cfg.seed)
    net = RestoreNet(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed)
    log = MetricsLog(out / "metrics.jsonl")
    t0, step, window = time.monotonic(), 0, {}
    budget = minutes * 60 if minutes is not None else None
    bar = Progress(TextColumn("train restorer"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=not progress)
    try:
        with bar:
            task_bar = bar.add_task("t", total=budget if budget is not None else steps, info="")
            while (steps is None or step < steps) and (budget is None or time.monotonic() - t0 < budget):
                task = cfg.tasks[step % len(cfg.tasks)]
                clean = random_crops(train_imgs, cfg.batch_size, cfg.crop, g)
                degraded, mask = degrade(clean, task, g)
                pred = net(degraded, mask, cfg.tasks.index(task))
                loss = (pred - clean).abs().mean()
                if task == "inpaint":  # the hole is a small share of the pixels: weight it up
                    loss = loss + 4 * ((pred - clean).abs() * mask).sum() / (mask.sum() * 3).clamp_min(1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                window[task] = window.get(task, 0.0) * 0.9 + float(loss.detach()) * 0.1
                if step % 60 == 0:
                    log.write({"step": step, "elapsed_s": round(time.monotonic() - t0, 1),
                               **{f"l1/{k}": round(v, 5) for k, v in window.items()}})
                done = time.monotonic() - t0 if budget is not None else step
                bar.update(task_bar, completed=done, info=f"step {step} " + " ".join(f"{k}={v:.3f}" for k, v in window.items()))
    except KeyboardInterrupt:
        if console is not None:
            console.print("[yellow]interrupted: saving the network trained so far[/]")
    net.eval()
    save_restorer(net, out)
    clean = tensors.images[tensors.index_of(test_ids)].float() / 255
    rows = evaluate_restorer(net, clean, cfg.tasks)
    result = {"steps": step, "train_seconds": round(time.monotonic() - t0, 1), "n_test": len(clean),
              "resolution": cfg.resolution, "rows": [dataclasses.asdict(r) for r in rows]}
    write_json(out / "eval.json", result)
    return result


__all__ = ["RestoreConfig", "RestoreNet", "evaluate_restorer", "load_restorer", "restore", "save_restorer", "tiled",
           "train_restorer"]
