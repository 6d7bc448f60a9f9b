"""Training the restoration networks on a catalog's own photos, on the one training loop (``train/loop.py``).

No pretrained restoration weights exist offline, so training pairs are made from the
catalog's train photos with synthetic degradations (``apps/degrade.py``), one task per step
in turn. The loop gives budgets (``--steps``, the run's total, and/or ``--minutes`` of this
invocation), Ctrl-C, progress, a NaN stop, metrics.jsonl, atomic checkpoints every
``checkpoint_every`` steps and every ``checkpoint_minutes``, and exact resume.

The learning rate warms up, then follows a cosine over the run's *recorded* horizon (config.json
``schedule``: its total steps, or its minutes of training time when no step count was given), so
a resumed run continues the same schedule instead of starting a new one. Every tenth of the
horizon each task's network is scored on validation photos and the best weights per task are
kept (``BestPerTask``); validation time is not training time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from ...device import resolve_device
from ...errors import UserError
from ...train.loop import StopReason, TrainLoop
from ..degrade import TASKS, degrade
from .baselines import psnr_per_image
from .evaluation import VAL_SEED, catalog_splits, final_evaluation, network_input, split_photos
from .network import (RestoreConfig, RestoreNet, check_new_run_folder, input_planes, load_restorer, read_config, run_network,
                      save_config, save_weights)

EVAL_NAME = "eval.json"


def learning_rate(cfg: RestoreConfig, progress: float, step: int, warmup: int = 100) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 2% of the peak as ``progress`` goes 0 -> 1."""
    cos = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * min(1.0, (step + 1) / warmup) * cos


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


class BestPerTask:
    """Keeps, per task, the weights with the best validation PSNR seen so far.

    Checked at step 0 too, where every network equals its classical start, so a task whose network never
    beats its start on validation photos ends with the start's result (no correction), not with a network
    that makes photos worse. Validation photos come from the split's val part; the test part stays untouched
    until the final evaluation.
    """

    def __init__(self, val_clean: torch.Tensor, tasks: tuple[str, ...], seed: int = VAL_SEED,
                 device: torch.device | str = "cpu") -> None:
        self.clean = val_clean.to(device)
        # degraded once, classical start computed once: every check reuses the same input planes
        self.planes = {t: input_planes(t, *degrade(val_clean, t, torch.Generator().manual_seed(seed + TASKS.index(t)))).to(device)
                       for t in tasks}
        self.best: dict[str, dict] = {}

    @torch.no_grad()
    def check(self, net: RestoreNet, step: int) -> dict[str, float]:
        was_training = net.training
        net.eval()
        scores = {}
        for task, planes in self.planes.items():
            psnr = float(psnr_per_image(run_network(net, task, planes), self.clean).mean())
            scores[task] = round(psnr, 4)
            if task not in self.best or psnr > self.best[task]["val_psnr"]:
                state = {k: v.detach().clone() for k, v in net.nets[task].state_dict().items()}
                self.best[task] = {"val_psnr": psnr, "step": step, "state": state}
        net.train(was_training)
        return scores

    def weights(self, net: RestoreNet) -> dict[str, torch.Tensor]:
        """``net``'s state dict with each task's best weights where one was recorded."""
        state = dict(net.state_dict())
        for task, b in self.best.items():
            state.update({f"nets.{task}.{k}": v for k, v in b["state"].items()})
        return state

    def summary(self) -> dict[str, dict]:
        return {t: {"step": b["step"], "val_psnr": round(b["val_psnr"], 4)} for t, b in self.best.items()}

    def state_dict(self) -> dict:
        return self.best

    def load_state_dict(self, best: dict) -> None:
        self.best = {t: {"val_psnr": float(b["val_psnr"]), "step": int(b["step"]), "state": b["state"]} for t, b in best.items()}


class RestoreTrainer(TrainLoop):
    """Trains a ``RestoreNet`` in a run folder; ``run()`` / ``resume()`` as in ``TrainLoop``."""

    label = "train restorer"
    resume_hint = "prodgen enhance-train --resume {run_dir}"
    divergence_fix = "lower the learning rate or the batch size"

    def __init__(self, run_dir: Path, cfg: RestoreConfig, train_imgs: torch.Tensor, val_photos: torch.Tensor,
                 schedule: dict, steps: int | None, minutes: float | None, device: torch.device, console=None,
                 checkpoint_every: int | None = 1000, checkpoint_minutes: float | None = 5.0, log_every: int = 60) -> None:
        total = schedule.get("steps") or steps
        log_every = log_every if total is None else max(1, min(log_every, total // 10))  # short runs log too
        super().__init__(run_dir, steps=steps, minutes=minutes, checkpoint_every=checkpoint_every,
                         checkpoint_minutes=checkpoint_minutes, log_every=log_every, console=console, device=device)
        self.cfg = cfg
        self.images_per_step = cfg.batch_size
        self.train_imgs = train_imgs
        self.schedule = schedule
        torch.manual_seed(cfg.seed)
        self.net = RestoreNet(cfg).to(device).train()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)  # one task per step: Adam skips the others
        self.gen = torch.Generator().manual_seed(cfg.seed)  # crops and degradations (CPU: JPEG goes through PIL)
        self.selector = BestPerTask(val_photos, cfg.tasks, device=device) if len(val_photos) else None
        self.window: dict[str, float] = {}  # per-task running L1 (one task per step)
        self.last_check = -1.0  # schedule progress of the last validation check
        self.last_check_step = -1
        self.validation_seconds = 0.0

    # -- schedule ------------------------------------------------------------
    def progress_of_schedule(self) -> float:
        """0 -> 1 over the run's recorded horizon (total steps, or training minutes over all invocations)."""
        if self.schedule.get("steps"):
            return min(1.0, self.step / self.schedule["steps"])
        return min(1.0, self.elapsed / (60 * self.schedule["minutes"]))  # the loop updates ``elapsed`` every step

    # -- the loop's hooks ------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        cfg, net = self.cfg, self.net
        lr = learning_rate(cfg, self.progress_of_schedule(), self.step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        k = self.step % len(cfg.tasks)
        task = cfg.tasks[k]
        clean = random_crops(self.train_imgs, cfg.batch_size, cfg.crop, self.gen)
        degraded, mask = degrade(clean, task, self.gen)
        clean, degraded, mask = clean.to(self.device), degraded.to(self.device), mask.to(self.device)
        pred = net(input_planes(task, degraded, mask), k)
        if task == "inpaint":  # pixels outside the mask are exact: score the hole alone
            loss = ((pred - clean).abs() * mask).sum() / (mask.sum() * 3).clamp_min(1)
        else:
            loss = (pred - clean).abs().mean()
        self.check_finite(loss, f"the {task} L1 loss")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        self.opt.step()
        lv = float(loss.detach())
        self.window[task] = self.window.get(task, lv) * 0.9 + lv * 0.1
        return {"loss": lv, "lr": lr, **{f"l1/{t}": v for t, v in self.window.items()}}

    def validate(self) -> None:
        if self.selector is None:
            return
        t = time.monotonic()
        with self.paused():
            scores = self.selector.check(self.net, self.step)
        self.validation_seconds += time.monotonic() - t
        self.last_check, self.last_check_step = self.progress_of_schedule(), self.step
        if self.log is not None:
            self.log.write({"step": self.step, "elapsed_s": round(self.elapsed, 1),
                            **{f"val/psnr/{k}": v for k, v in scores.items()}})
        self.set_status("val " + " ".join(f"{k}={v:.2f}" for k, v in scores.items()))

    def after_step(self, step: int, logs: dict[str, float]) -> None:
        if self.progress_of_schedule() - self.last_check >= 0.1 - 1e-9:
            self.validate()

    def save_checkpoint(self) -> None:
        """restore.safetensors (each task's best weights so far), then training_state.pt (last)."""
        if self.run_dir is None:
            return
        save_weights(self.net, self.run_dir, self.selector.weights(self.net) if self.selector else None)
        super().save_checkpoint()

    def on_stop(self, reason: StopReason) -> None:
        if self.selector is not None and self.last_check_step != self.step:
            self.validate()  # the final weights get their chance too
            self.save_checkpoint()

    def state(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "gen": self.gen.get_state(),
                "best": self.selector.state_dict() if self.selector else {}, "window": dict(self.window),
                "last_check": self.last_check, "last_check_step": self.last_check_step,
                "validation_seconds": self.validation_seconds}

    def load_state(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        if self.selector is not None:
            self.selector.load_state_dict(state["best"])
        self.window = {k: float(v) for k, v in state["window"].items()}
        self.last_check, self.last_check_step = float(state["last_check"]), int(state["last_check_step"])
        self.validation_seconds = float(state["validation_seconds"])


def _photos(data_cfg, cfg: RestoreConfig, progress: bool, val_n: int):
    catalog, tensors, split = catalog_splits(data_cfg, cfg.resolution, progress)
    if cfg.crop > cfg.resolution:
        raise UserError(f"crop {cfg.crop} is larger than the {cfg.resolution}-px photos; use a smaller --crop")
    have = set(tensors.ids)
    if not any(i in have for i in split["test"]):
        raise UserError(f"{catalog.name} has no photos in its test split to score the restorer on; use a larger catalog")
    train_ids = [i for i in split["train"] if i in have]
    if not train_ids:
        raise UserError(f"{catalog.name} has no photos in its train split; use a larger catalog")
    return catalog, tensors, split, tensors.images[tensors.index_of(train_ids)], split_photos(tensors, split, "val", val_n)


def train_restorer(data_cfg, out: str | Path, minutes: float | None = 30, steps: int | None = None,
                   cfg: RestoreConfig | None = None, progress: bool = True, console=None, eval_n: int = 200,
                   val_n: int = 100, tune_n: int = 50, device: str = "auto", checkpoint_minutes: float | None = 5.0,
                   slow_baselines: bool = True, evaluate: bool = True) -> dict:
    """Train in a new run folder (or replace a restoration run) within the budget (``steps``: the run's total;
    ``minutes``: this invocation's training time; whichever ends first; the learning-rate horizon is ``steps`` when given, else ``minutes``),
    then tune the classical methods on validation photos and score everything once on the test photos
    (``eval.json``, ``examples.png``; ``evaluate=False`` skips this). ``out`` must be new, empty or a restoration run."""
    if minutes is None and steps is None:
        raise UserError("give a budget: --steps N (the run's total) and/or --minutes M")
    if steps is not None and steps <= 0 or minutes is not None and minutes <= 0:
        raise UserError("--steps and --minutes must be positive")
    out = Path(out)
    check_new_run_folder(out)
    cfg = cfg or RestoreConfig()
    catalog, tensors, split, train_imgs, val = _photos(data_cfg, cfg, progress, val_n)
    check_new_run_folder(out, clear=True)  # a restoration run there is replaced: its old files go
    cfg.catalog = catalog.name
    dev = resolve_device(device)
    schedule = {"steps": steps} if steps is not None else {"minutes": minutes}
    save_config(out, cfg, {"data": dataclasses.asdict(data_cfg), "schedule": schedule, "device": device,
                           "eval": {"eval_n": eval_n, "val_n": val_n, "tune_n": tune_n, "slow_baselines": slow_baselines}})
    trainer = RestoreTrainer(out, cfg, train_imgs, val, schedule, steps, minutes, dev, console,
                             checkpoint_minutes=checkpoint_minutes)
    return _train_and_evaluate(trainer, tensors, split, eval_n, tune_n, slow_baselines, progress, console, evaluate)


def resume_restorer(folder: str | Path, minutes: float | None = None, steps: int | None = None, progress: bool = True,
                    console=None, device: str | None = None, checkpoint_minutes: float | None = 5.0,
                    evaluate: bool = True) -> dict:
    """Continue a restoration run where its last checkpoint stopped, on the same learning-rate schedule, then
    evaluate as ``train_restorer`` does. Without a budget it trains to the run's recorded total (its steps, or
    what is left of its minutes)."""
    from ...config import DataConfig
    from ...train.checkpoint import load_training_state

    folder = Path(folder)
    cfg, extra = read_config(folder)
    if "data" not in extra or "schedule" not in extra:
        raise UserError(f"{folder} was trained by an older prodgen without a resumable state; train a new run.")
    data_cfg = DataConfig(**extra["data"])
    schedule, ev = extra["schedule"], extra.get("eval", {})
    if steps is None and minutes is None:
        steps = schedule.get("steps")
        if steps is None:
            done = float(load_training_state(folder)["elapsed"]) / 60
            minutes = schedule["minutes"] - done
            if minutes <= 0.01:
                raise UserError(f"{folder} has trained its {schedule['minutes']} minutes; give --minutes M or --steps N "
                                "to train it further (the learning rate stays at the end of its schedule).")
    _, tensors, split, train_imgs, val = _photos(data_cfg, cfg, progress, ev.get("val_n", 100))
    dev = resolve_device(device or extra.get("device", "auto"))
    trainer = RestoreTrainer(folder, cfg, train_imgs, val, schedule, steps, minutes, dev, console,
                             checkpoint_minutes=checkpoint_minutes)
    trainer.resume()
    return _train_and_evaluate(trainer, tensors, split, ev.get("eval_n", 200), ev.get("tune_n", 50),
                               ev.get("slow_baselines", True), progress, console, evaluate)


def _train_and_evaluate(trainer: RestoreTrainer, tensors, split, eval_n: int, tune_n: int, slow: bool, progress: bool,
                        console, evaluate: bool = True) -> dict:
    from ...atomic import write_json

    if trainer.step == 0 and trainer.selector is not None:
        trainer.validate()  # step 0: every network equals its classical start
    reason = trainer.run(progress=progress)
    out = trainer.run_dir
    net = load_restorer(out, trainer.device)  # exactly what was saved: each task's best weights
    result = {"steps": trainer.step, "train_seconds": round(trainer.elapsed, 1), "stopped": reason.kind,
              "validation_seconds": round(trainer.validation_seconds, 1), "device": str(trainer.device),
              "selected": trainer.selector.summary() if trainer.selector else {}}
    if not evaluate:  # training only (tests); eval.json is left as it was
        return result
    old = json.loads((out / EVAL_NAME).read_text()) if (out / EVAL_NAME).exists() else {}
    t = time.monotonic()
    result.update(final_evaluation(net, out, tensors, split, eval_n, tune_n, old.get("baselines"), slow, console))
    result["evaluation_seconds"] = round(time.monotonic() - t, 1)
    write_json(out / EVAL_NAME, result)
    return result


__all__ = ["BestPerTask", "RestoreTrainer", "learning_rate", "network_input", "random_crops", "resume_restorer",
           "train_restorer"]
