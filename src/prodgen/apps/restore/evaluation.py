"""Scoring restoration on held-out catalog photos, next to the best tuned classical method.

Protocol (no choice is made on test photos):

1. validation photos (the split's ``val`` part) choose everything: each task's network
   weights (``training.BestPerTask``), each classical method's parameters and which method
   is the task's baseline (``baselines.tune``);
2. the test photos (the split's ``test`` part) are degraded with fixed seeds and scored once
   (every result as the 8-bit photo a user would save: ``baselines.to_8bit``),
   for the network and for every tuned classical method, in two conditions: ``seen`` (the
   training degradation) and ``unseen`` (``degrade.UNSEEN``: one no network saw in
   training; its classical methods are tuned on validation photos with that degradation,
   which the network never gets).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...atomic import write_json
from ..degrade import CONDITIONS, SEEN, TASKS, UNSEEN, observe, task_scale, upscale_input
from . import baselines
from .network import RestoreNet, input_planes, run_network

TEST_SEED = 123  # degradations of the test photos (per task and condition: baselines.condition_seed)
VAL_SEED = 7  # degradations of the validation photos (weight selection and baseline tuning)


def catalog_splits(data_cfg, resolution: int, progress: bool):
    """(catalog, prepared tensors, split ids) of a catalog at ``resolution``."""
    from ...data import load_catalog, make_split, prepare_images

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


@dataclass
class EvalRow:
    task: str
    n: int
    network: dict  # test scores of the network ({} without one)
    baseline: dict  # test scores of the best tuned classical method (chosen on validation photos)
    baseline_name: str
    beats_baseline: bool
    ms_per_image: float  # network, whole path (classical start included)
    candidates: dict = field(default_factory=dict)  # every tuned classical method: test scores, params, ms per image
    condition: str = "seen"  # "seen" (training degradation) or "unseen" (degrade.UNSEEN)
    degradation: str = ""
    baseline_params: dict = field(default_factory=dict)
    baseline_val_psnr: float | None = None
    start: str = ""  # the network's cheap classical start (degrade.START)


def network_input(task: str, observed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The network's input planes for observed photos (the small ones for upscaling)."""
    deg = upscale_input(observed, task_scale(task)) if task.startswith("upscale") else observed
    return input_planes(task, deg, mask)


@torch.no_grad()
def evaluate_restorer(net: RestoreNet | None, clean: torch.Tensor, tasks: tuple[str, ...], tuned: dict,
                      conditions: tuple[str, ...] = CONDITIONS, seed: int = TEST_SEED) -> list[EvalRow]:
    """PSNR/SSIM on held-out (N, 3, R, R) photos in [0, 1], per task and condition, for the network and for every
    classical method with the parameters ``tuned`` (``baselines.tune`` on validation photos) chose; the row's
    baseline is the method that was best on validation photos, whatever it scores here."""
    from ...evaluate.metrics.restoration import restoration_scores

    rows = []
    for task in tasks:
        for cond in conditions:
            key = f"{task}/{cond}"
            if key not in tuned:
                continue
            obs, mask = baselines.observe_set(clean, task, cond, seed)
            cands = {}
            for name, m in tuned[key]["methods"].items():
                t = time.perf_counter()
                out = baselines.apply(task, name, m["params"], obs, mask)
                ms = (time.perf_counter() - t) / len(clean) * 1000
                cands[name] = {**restoration_scores(baselines.to_8bit(out), clean), "params": m["params"], "val_psnr": m["val_psnr"],
                               "ms_per_image": round(ms, 2)}
            best = tuned[key]["best"]
            base = {k: v for k, v in cands[best].items() if k in ("psnr", "ssim", "ms_ssim", "ms_ssim_scales")}
            ns, ms = {}, 0.0
            if net is not None:
                t = time.perf_counter()
                out = run_network(net, task, network_input(task, obs, mask))
                ms = (time.perf_counter() - t) / len(clean) * 1000
                ns = restoration_scores(baselines.to_8bit(out), clean)
            rows.append(EvalRow(task, len(clean), ns, base, best, bool(ns) and ns["psnr"] > base["psnr"], round(ms, 2),
                                cands, cond, (UNSEEN if cond == "unseen" else SEEN)[task], cands[best]["params"],
                                cands[best]["val_psnr"], baselines.START[task]))
    return rows


@torch.no_grad()
def before_after(net: RestoreNet, clean: torch.Tensor, tasks: tuple[str, ...], out_png: str | Path, tuned: dict | None = None,
                 seed: int = 321) -> Path:
    """A PNG grid, one row per task: for each photo, degraded | best tuned classical method (the network's cheap
    start without ``tuned``) | network | clean (2x zoom)."""
    from ...grid import save_grid

    tiles, cols = [], []
    for task in tasks:
        g = torch.Generator().manual_seed(seed + TASKS.index(task))
        obs, mask = observe(clean, task, g)
        planes = network_input(task, obs, mask)
        if tuned and f"{task}/seen" in tuned:
            b = tuned[f"{task}/seen"]
            base = baselines.apply(task, b["best"], b["methods"][b["best"]]["params"], obs, mask)
        else:
            base = planes[:, 3:6].clamp(0, 1)
        mine = run_network(net, task, planes.to(net.device)).cpu()
        deg = upscale_input(obs, task_scale(task)) if task.startswith("upscale") else obs  # the sticker still on
        for i in range(len(clean)):
            tiles += [deg[i], base[i], mine[i], clean[i]]
    for _ in range(len(clean)):
        cols += ["degraded", "best classical" if tuned else "classical", "prodgen", "clean"]
    out_png = Path(out_png)
    save_grid(torch.stack(tiles) * 2 - 1, out_png, ncol=4 * len(clean), row_labels=list(tasks), col_labels=cols, scale=2)
    return out_png


def final_evaluation(net: RestoreNet, out: Path, tensors, split, eval_n: int, tune_n: int, tuned: dict | None = None,
                     slow: bool = True, console=None) -> dict:
    """Tune the classical methods on validation photos (unless ``tuned`` is given), score everything on the test
    photos once, write examples.png; returns the eval.json fields this adds."""
    tasks = net.cfg.tasks
    if tuned is None:
        val = split_photos(tensors, split, "val", tune_n)
        log = (lambda s: console.log(s)) if console is not None else None
        tuned = baselines.tune(val, tasks, seed=VAL_SEED, slow=slow, log=log)
    clean = split_photos(tensors, split, "test", eval_n)
    rows = evaluate_restorer(net, clean, tasks, tuned)
    before_after(net, clean[:3], tasks, out / "examples.png", tuned)
    return {"n_test": len(clean), "resolution": net.cfg.resolution, "rows": [dataclasses.asdict(r) for r in rows],
            "baselines": tuned, "unseen": {t: UNSEEN[t] for t in tasks}}


def reevaluate(folder: str | Path, data_cfg, eval_n: int = 200, progress: bool = False, retune: bool = False,
               tune_n: int = 50) -> dict:
    """Score a saved restoration run again on its catalog's test split (same photos and seeds as at the end of
    training; the classical methods' parameters from its eval.json unless ``retune``) and rewrite ``eval.json``
    and ``examples.png``; training fields are kept."""
    from .network import load_restorer

    folder = Path(folder)
    net = load_restorer(folder)
    _, tensors, split = catalog_splits(data_cfg, net.cfg.resolution, progress)
    old = json.loads((folder / "eval.json").read_text()) if (folder / "eval.json").exists() else {}
    tuned = None if retune else old.get("baselines")
    result = {**old, **final_evaluation(net, folder, tensors, split, eval_n, tune_n, tuned)}
    write_json(folder / "eval.json", result)
    return result


__all__ = ["TEST_SEED", "VAL_SEED", "EvalRow", "before_after", "catalog_splits", "evaluate_restorer", "final_evaluation",
           "network_input", "reevaluate", "split_photos"]
