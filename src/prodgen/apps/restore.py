"""Image restoration trained by prodgen on the catalog: super-resolution x2/x4, denoising, deblurring,
JPEG-artefact removal and inpainting of a masked region, one small network per task in one run folder.

No pretrained restoration weights exist offline, so ``train_restorer`` makes training
pairs from the catalog's own photos with synthetic degradations (apps/degrade.py).

The network corrects a classical restoration instead of starting from nothing: its
input is the degraded photo, the task's classical result (``degrade.START``: bicubic,
median, unsharp masking, harmonic filling) and the mask; its output is that classical
result plus a learned correction whose last layer starts at zero. An untrained network
therefore equals the baseline it is measured against, and training only has to learn
what the classical method gets wrong (residual learning over an interpolated input as
in VDSR, Kim et al. 2016). Measured reason (bench/results/apps.md): the first design,
which corrected the degraded input itself, trailed every baseline after 400 steps,
most of all inpainting (16.8 dB against the harmonic fill's 26.5).

Each is a residual U-Net without normalisation layers (a pixel depends only on its
neighbourhood, as in EDSR, Lim et al. 2017) that works on 2x2 pixel blocks
(``pixel_unshuffle``, as in the diffusion model): a quarter of the positions for the
same receptive field, so a 448x448 x2 result costs one pass of a few hundred ms.
Each task has its own network (see ``RestoreNet``); for inpainting, pixels
outside the mask are the input's, exactly.

``restore`` computes the classical start on the whole photo (harmonic filling is not
local), then runs the network in overlapping tiles: each tile carries a context
margin wider than the receptive field and only its centre is kept, so a tiled result
equals the whole-image result (tested), with memory bounded by the tile size. Run
folder: ``config.json``, ``restore.safetensors``, ``metrics.jsonl``, ``eval.json``
(held-out PSNR/SSIM next to the best baseline), ``examples.png`` (held-out before/after).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn

from ..atomic import write_json
from ..errors import UserError
from .degrade import START, TASKS, classical_candidates, classical_start, degrade, upscale_input

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "restore.safetensors"
ALIGN = 16  # 2x2 blocks, then two stride-2 stages: tiles start on multiples of 16 so tiled == untiled
MARGIN = 128  # context around each tile: more than the receptive radius (about 110 px)
VERSION = 2  # 2: one network per task correcting the classical start on 2x2 blocks; 1 (no longer loadable)
IN_PLANES = 7  # degraded RGB, classical start RGB, mask


@dataclass
class RestoreConfig:
    width: int = 48
    blocks: tuple[int, int, int] = (2, 2, 2)  # residual blocks at 1/2, 1/4 and 1/8 resolution
    tasks: tuple[str, ...] = TASKS
    crop: int = 96
    batch_size: int = 12
    lr: float = 7e-4  # peak; warm-up then cosine decay over the budget
    resolution: int = 128  # catalog photos are letterboxed to this size, then cropped
    seed: int = 0
    catalog: str = ""
    version: int = VERSION

    def __post_init__(self) -> None:
        self.blocks = tuple(self.blocks)
        self.tasks = tuple(self.tasks)
        bad = [t for t in self.tasks if t not in TASKS]
        if bad:
            raise UserError(f"unknown restoration tasks {bad}; choose from {', '.join(TASKS)}")
        if self.crop % ALIGN:
            raise UserError(f"crop must be a multiple of {ALIGN}, got {self.crop}")


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.b(F.silu(self.a(x)))  # residual scaling keeps the plain stack stable (EDSR)


class TaskNet(nn.Module):
    """The restorer of one task. Input planes: degraded (3), classical start (3), mask (1); (B, 7, H, W) in [0, 1]."""

    def __init__(self, width: int, blocks: tuple[int, int, int], inpaint: bool) -> None:
        super().__init__()
        w = width
        self.inpaint = inpaint
        self.head = nn.Conv2d(4 * IN_PLANES, w, 3, padding=1)
        self.enc0 = nn.Sequential(*[ResBlock(w) for _ in range(blocks[0])])
        self.down1 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.enc1 = nn.Sequential(*[ResBlock(2 * w) for _ in range(blocks[1])])
        self.down2 = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)
        self.mid = nn.Sequential(*[ResBlock(2 * w) for _ in range(blocks[2])])
        self.up2 = nn.Conv2d(2 * w, 2 * w, 3, padding=1)
        self.dec1 = nn.Sequential(*[ResBlock(2 * w) for _ in range(blocks[1])])
        self.up1 = nn.Conv2d(2 * w, w, 3, padding=1)
        self.dec0 = nn.Sequential(*[ResBlock(w) for _ in range(blocks[0])])
        self.tail = nn.Conv2d(w, 12, 3, padding=1)  # 2x2 blocks of RGB corrections
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        x, start, mask = planes[:, :3], planes[:, 3:6], planes[:, 6:7]
        h0 = self.enc0(self.head(F.pixel_unshuffle(planes * 2 - 1, 2)))  # (B, w, H/2, W/2)
        h1 = self.enc1(self.down1(F.silu(h0)))  # (B, 2w, H/4, W/4)
        h2 = self.mid(self.down2(F.silu(h1)))  # (B, 2w, H/8, W/8)
        u1 = self.dec1(h1 + self.up2(F.interpolate(h2, scale_factor=2, mode="nearest")))
        u0 = self.dec0(h0 + self.up1(F.interpolate(u1, scale_factor=2, mode="nearest")))
        out = start + F.pixel_shuffle(self.tail(F.silu(u0)), 2)
        if not self.training:  # clamping in training would stop the gradient of a saturated pixel for good
            out = out.clamp(0, 1)
        if self.inpaint:  # only the masked pixels are unknown
            out = x * (1 - mask) + out * mask
        return out


class RestoreNet(nn.Module):
    """One ``TaskNet`` per task, saved together. Measured reason for not sharing one network across tasks: in a
    3-minute run a shared network told the task by one-hot planes gained 0.0 dB over bicubic at x2, where the same
    network trained on x2 alone for 200 steps gained 2.2 dB (the tasks pull a shared network in opposite directions:
    denoising smooths, deblurring sharpens). Separate networks cost no more per step or per photo."""

    def __init__(self, cfg: RestoreConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.nets = nn.ModuleDict({t: TaskNet(cfg.width, cfg.blocks, t == "inpaint") for t in cfg.tasks})

    def forward(self, planes: torch.Tensor, task: int) -> torch.Tensor:
        """``planes`` (B, 7, H, W) = degraded, start, mask (see ``input_planes``); returns (B, 3, H, W) in [0, 1]."""
        return self.nets[self.cfg.tasks[task]](planes)


def input_planes(task: str, degraded: torch.Tensor, mask: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 7, H, W): the degraded photo, the task's classical start (computed on the whole image unless given)
    and the mask.

    For inpainting the masked pixels are blanked (0): what covers the hole (a sticker, a price, a watermark) is by
    definition not the product, and a network that sees it lets it through (seen: the text of a "SALE" sticker
    ghosting into the fill)."""
    if task == "inpaint":
        degraded = degraded * (1 - mask)
    if start is None:
        start = classical_start(task, degraded, mask)
    return torch.cat([degraded, start, mask], 1)


def run_network(net: "RestoreNet", task: str, planes: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """The network's restoration of ``input_planes`` whose H and W are multiples of ``ALIGN``, in batches."""
    k = task_index(net, task)
    return torch.cat([net(planes[i : i + batch], k) for i in range(0, len(planes), batch)]).clamp(0, 1)


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
    if d.get("version", 1) != VERSION:
        raise UserError(f"{folder} holds a restoration model of an older prodgen design (version {d.get('version', 1)}); "
                        "retrain it with `prodgen enhance-train`.")
    net = RestoreNet(RestoreConfig(**d))
    net.load_state_dict(load_state(folder / WEIGHTS_NAME))
    return net.eval().requires_grad_(False)


# -- inference -----------------------------------------------------------------
@torch.no_grad()
def tiled(fn, planes: torch.Tensor, tile: int = 1024, margin: int = MARGIN) -> torch.Tensor:
    """Apply ``fn`` to (1, C, H, W) ``planes`` in tiles with context ``margin``; equals ``fn`` on the whole image.

    ``fn`` maps (1, C, h, w) to (1, 3, h, w) for h, w multiples of ``ALIGN``. Sizes that are not are padded
    (replicate) and cropped back.
    """
    if tile % ALIGN or margin % ALIGN:
        raise UserError(f"tile and margin must be multiples of {ALIGN} (got --tile {tile})")
    _, _, h, w = planes.shape
    ph, pw = (-h) % ALIGN, (-w) % ALIGN
    if ph or pw:
        planes = F.pad(planes, (0, pw, 0, ph), mode="replicate")
    H, W = planes.shape[-2:]
    out = torch.empty(1, 3, H, W, dtype=planes.dtype)
    for y0 in range(0, H, tile):
        for x0 in range(0, W, tile):
            y1, x1 = min(y0 + tile, H), min(x0 + tile, W)
            cy0, cx0 = max(0, y0 - margin), max(0, x0 - margin)
            cy1, cx1 = min(H, y1 + margin), min(W, x1 + margin)
            res = fn(planes[:, :, cy0:cy1, cx0:cx1])
            out[:, :, y0:y1, x0:x1] = res[:, :, y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    return out[:, :, :h, :w]


def task_index(net: RestoreNet, task: str) -> int:
    if task not in net.cfg.tasks:
        raise UserError(f"this restoration model was trained for {', '.join(net.cfg.tasks)}, not {task!r}")
    return net.cfg.tasks.index(task)


@torch.no_grad()
def restore(net: RestoreNet | None, img: torch.Tensor, task: str, mask: torch.Tensor | None = None,
            tile: int = 1024) -> tuple[torch.Tensor, str]:
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
        note = " (no classical filter beat leaving JPEG artefacts alone)" if task == "jpeg" else ""
        return (classical_start(task, x, m)[0].clamp(0, 1),
                f"classical baseline ({START[task]}){note}; train a model with `prodgen enhance-train` to do better")
    k = task_index(net, task)
    return tiled(lambda p: net(p, k), input_planes(task, x, m), tile=tile)[0], "prodgen restoration network"


# -- training and evaluation ---------------------------------------------------
def _catalog_splits(data_cfg, resolution: int, progress: bool):
    from ..data import load_catalog, make_split, prepare_images

    catalog = load_catalog(data_cfg)
    tensors = prepare_images(catalog, resolution, progress=progress)
    split = make_split(tensors.ids, data_cfg.split_fractions)
    return catalog, tensors, split


def split_photos(tensors, split: dict, part: str, n: int) -> torch.Tensor:
    """The first ``n`` photos of one split part as float (N, 3, R, R) in [0, 1]."""
    have = set(tensors.ids)
    ids = [i for i in split[part] if i in have][:n]
    if not ids:
        return torch.zeros(0, 3, tensors.images.shape[-2], tensors.images.shape[-1])
    return tensors.images[tensors.index_of(ids)].float() / 255


def random_crops(images: torch.Tensor, n: int, crop: int, g: torch.Generator) -> torch.Tensor:
    """``n`` uniformly placed random crops (float [0, 1], randomly mirrored) of uint8 (N, 3, R, R) photos.

    Crops that are plain backdrop (nothing to restore) are skipped while there are others; crops are not
    biased towards busy regions, because held-out photos are scored whole, backdrop included.
    """
    idx = torch.randint(len(images), (n * 2,), generator=g)
    r = images.shape[-1]
    ys = torch.randint(0, r - crop + 1, (n * 2,), generator=g)
    xs = torch.randint(0, r - crop + 1, (n * 2,), generator=g)
    flip = torch.rand(n * 2, generator=g) < 0.5
    crops = torch.stack([images[i, :, y : y + crop, x : x + crop] for i, y, x in zip(idx.tolist(), ys.tolist(), xs.tolist())])
    crops = torch.where(flip[:, None, None, None], crops.flip(-1), crops).float() / 255
    flat = crops.amax(dim=(1, 2, 3)) - crops.amin(dim=(1, 2, 3)) < 0.02
    order = torch.cat([torch.nonzero(~flat).flatten(), torch.nonzero(flat).flatten()])
    return crops[order[:n]]


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
        t = time.perf_counter()  # network time: the classical start comes from the candidates above
        out = run_network(net, task, input_planes(task, degraded, mask, start=cands[START[task]]))
        ms = (time.perf_counter() - t) / len(clean) * 1000
        ns = restoration_scores(out, clean)
        rows.append(EvalRow(task, len(clean), ns, scores[best], best, ns["psnr"] > scores[best]["psnr"], round(ms, 2), scores))
    return rows


@torch.no_grad()
def before_after(net: RestoreNet, clean: torch.Tensor, tasks: tuple[str, ...], out_png: str | Path, seed: int = 321) -> Path:
    """A PNG grid, one row per task: for each photo, degraded | classical baseline | network | clean (2x zoom)."""
    from ..grid import save_grid

    tiles, cols = [], []
    for task in tasks:
        degraded, mask = degrade(clean, task, torch.Generator().manual_seed(seed + TASKS.index(task)))
        planes = input_planes(task, degraded, mask)
        base = planes[:, 3:6].clamp(0, 1)
        mine = run_network(net, task, planes)
        for i in range(len(clean)):
            tiles += [degraded[i], base[i], mine[i], clean[i]]
    for _ in range(len(clean)):
        cols += ["degraded", "classical", "prodgen", "clean"]
    out_png = Path(out_png)
    save_grid(torch.stack(tiles) * 2 - 1, out_png, ncol=4 * len(clean), row_labels=list(tasks), col_labels=cols, scale=2)
    return out_png


def learning_rate(cfg: RestoreConfig, progress: float, step: int, warmup: int = 100) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 2% of the peak as ``progress`` goes 0 -> 1."""
    cos = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * min(1.0, (step + 1) / warmup) * cos


class BestPerTask:
    """Keeps, per task, the weights with the best validation PSNR seen so far.

    Checked at step 0 too, where every network equals its classical start, so a task whose network never
    beats the classical method on validation photos ends with the classical method's result (no correction),
    not with a network that makes photos worse. Validation photos come from the split's val part; the test
    part stays untouched for ``eval.json``.
    """

    def __init__(self, val_clean: torch.Tensor, tasks: tuple[str, ...], seed: int = 7) -> None:
        from ..evaluate.metrics.restoration import restoration_scores

        self._score = lambda out: restoration_scores(out, val_clean)["psnr"]
        # degraded once, classical start computed once: every check reuses the same input planes
        self.planes = {t: input_planes(t, *degrade(val_clean, t, torch.Generator().manual_seed(seed + TASKS.index(t))))
                       for t in tasks}
        self.best: dict[str, dict] = {}

    @torch.no_grad()
    def check(self, net: RestoreNet, step: int) -> dict[str, float]:
        was_training = net.training
        net.eval()
        scores = {}
        for task, planes in self.planes.items():
            psnr = self._score(run_network(net, task, planes))
            scores[task] = round(psnr, 4)
            if task not in self.best or psnr > self.best[task]["val_psnr"]:
                state = {k: v.clone() for k, v in net.nets[task].state_dict().items()}
                self.best[task] = {"val_psnr": psnr, "step": step, "state": state}
        net.train(was_training)
        return scores

    def apply(self, net: RestoreNet) -> dict[str, dict]:
        """Load each task's best weights into ``net``; returns {task: {step, val_psnr}}."""
        for task, b in self.best.items():
            net.nets[task].load_state_dict(b["state"])
        return {t: {"step": b["step"], "val_psnr": round(b["val_psnr"], 4)} for t, b in self.best.items()}


def train_restorer(data_cfg, out: str | Path, minutes: float | None = 30, steps: int | None = None,
                   cfg: RestoreConfig | None = None, progress: bool = True, console=None, eval_n: int = 200,
                   save_every_s: float = 300.0, val_n: int = 100) -> dict:
    """Train on the catalog's train split within the budget; evaluate on its test split; save the run folder.

    The learning rate follows the budget (``--minutes`` or ``--steps``, whichever ends first), so a longer budget
    is a different schedule, not a continuation. The network is saved every ``save_every_s`` seconds and on
    Ctrl-C; a non-finite loss stops training and keeps the last saved network. Every tenth of the budget each
    task's network is scored on ``val_n`` validation photos and the best weights per task are kept
    (``BestPerTask``); validation time is not counted in the budget.
    """
    from ..train.metrics_log import MetricsLog

    if minutes is None and steps is None:
        raise UserError("give a budget: --minutes M and/or --steps N")
    cfg = cfg or RestoreConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    catalog, tensors, split = _catalog_splits(data_cfg, cfg.resolution, progress)
    if cfg.crop > cfg.resolution:
        raise UserError(f"crop {cfg.crop} is larger than the {cfg.resolution}-px photos; use a smaller --crop")
    cfg.catalog = catalog.name
    have = set(tensors.ids)
    train_imgs = tensors.images[tensors.index_of([i for i in split["train"] if i in have])]
    torch.manual_seed(cfg.seed)
    net = RestoreNet(cfg).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)  # one task per step: Adam skips the others (grads None)
    g = torch.Generator().manual_seed(cfg.seed)
    log = MetricsLog(out / "metrics.jsonl")
    if not any(i in have for i in split["test"]):
        raise UserError(f"{catalog.name} has no photos in its test split to score the restorer on; use a larger catalog")
    val_photos = split_photos(tensors, split, "val", val_n)
    selector = BestPerTask(val_photos, cfg.tasks) if len(val_photos) else None
    budget = minutes * 60 if minutes is not None else None
    check_every = max(60.0, budget / 10) if budget is not None else None
    check_steps = max(1, steps // 10) if steps is not None else None
    paused = 0.0  # seconds spent on validation, not counted in the budget

    def validate(step: int) -> None:
        nonlocal paused
        if selector is None:
            return
        t = time.monotonic()
        scores = selector.check(net, step)
        paused += time.monotonic() - t
        log.write({"step": step, "elapsed_s": round(time.monotonic() - t0 - paused, 1),
                   **{f"val/psnr/{k}": v for k, v in scores.items()}})

    t0, step, window, last_save, last_check = time.monotonic(), 0, {}, time.monotonic(), 0.0
    validate(0)
    stopped = ""
    bar = Progress(TextColumn("train restorer"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=not progress)
    try:
        with bar:
            task_bar = bar.add_task("t", total=budget if budget is not None else steps, info="")
            while (steps is None or step < steps) and (budget is None or time.monotonic() - t0 - paused < budget):
                trained = time.monotonic() - t0 - paused
                frac = max(trained / budget if budget else 0.0, step / steps if steps else 0.0)
                if (check_every and trained - last_check >= check_every) or (check_steps and step and step % check_steps == 0):
                    validate(step)
                    last_check = trained
                for group in opt.param_groups:
                    group["lr"] = learning_rate(cfg, frac, step)
                task = cfg.tasks[step % len(cfg.tasks)]
                clean = random_crops(train_imgs, cfg.batch_size, cfg.crop, g)
                degraded, mask = degrade(clean, task, g)
                pred = net(input_planes(task, degraded, mask), cfg.tasks.index(task))
                if task == "inpaint":  # pixels outside the mask are exact: score the hole alone
                    loss = ((pred - clean).abs() * mask).sum() / (mask.sum() * 3).clamp_min(1)
                else:
                    loss = (pred - clean).abs().mean()
                if not torch.isfinite(loss):
                    stopped = f"non-finite loss at step {step} ({task}); kept the network saved last"
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                step += 1
                lv = float(loss.detach())
                window[task] = window.get(task, lv) * 0.9 + lv * 0.1
                if step % 60 == 0:
                    log.write({"step": step, "elapsed_s": round(time.monotonic() - t0 - paused, 1), "lr": opt.param_groups[0]["lr"],
                               **{f"l1/{k}": round(v, 5) for k, v in window.items()}})
                if time.monotonic() - last_save > save_every_s:
                    save_restorer(net, out)
                    last_save = time.monotonic()
                done = time.monotonic() - t0 - paused if budget is not None else step
                bar.update(task_bar, completed=done, info=f"step {step} " + " ".join(f"{k}={v:.3f}" for k, v in window.items()))
    except KeyboardInterrupt:
        stopped = f"interrupted at step {step}: saved the network trained so far"
    train_seconds = round(time.monotonic() - t0 - paused, 1)
    if stopped.startswith("non-finite"):
        net = load_restorer(out) if (out / WEIGHTS_NAME).exists() else RestoreNet(cfg)
    elif selector is not None:
        validate(step)
    selected = selector.apply(net) if selector is not None else {}
    save_restorer(net, out)
    if stopped and console is not None:
        console.print(f"[yellow]{stopped}[/]")
    net.eval()
    clean = split_photos(tensors, split, "test", eval_n)
    rows = evaluate_restorer(net, clean, cfg.tasks)
    before_after(net, clean[:3], cfg.tasks, out / "examples.png")
    result = {"steps": step, "train_seconds": train_seconds, "n_test": len(clean),
              "resolution": cfg.resolution, "stopped": stopped, "validation_seconds": round(paused, 1),
              "selected": selected, "rows": [dataclasses.asdict(r) for r in rows]}
    write_json(out / "eval.json", result)
    return result


def reevaluate(folder: str | Path, data_cfg, eval_n: int = 200, progress: bool = False) -> dict:
    """Score a saved restoration run again on its catalog's test split (same photos, seeds and baselines as at
    the end of training) and rewrite ``eval.json`` and ``examples.png``; training fields are kept."""
    folder = Path(folder)
    net = load_restorer(folder)
    _, tensors, split = _catalog_splits(data_cfg, net.cfg.resolution, progress)
    clean = split_photos(tensors, split, "test", eval_n)
    rows = evaluate_restorer(net, clean, net.cfg.tasks)
    before_after(net, clean[:3], net.cfg.tasks, folder / "examples.png")
    old = json.loads((folder / "eval.json").read_text()) if (folder / "eval.json").exists() else {}
    result = {**old, "n_test": len(clean), "resolution": net.cfg.resolution, "rows": [dataclasses.asdict(r) for r in rows]}
    write_json(folder / "eval.json", result)
    return result


__all__ = ["BestPerTask", "RestoreConfig", "RestoreNet", "TaskNet", "before_after", "evaluate_restorer", "input_planes",
           "learning_rate", "load_restorer", "reevaluate", "restore", "run_network", "save_restorer", "split_photos", "tiled",
           "train_restorer"]
