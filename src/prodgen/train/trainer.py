"""The generator trainer: one :class:`TrainLoop` for every model family (see models/base.py).

Budget by total steps and/or wall-clock minutes of this invocation; fixed-noise
sample grids; JSONL metrics; atomic checkpoints every N steps and every M
minutes, on Ctrl-C and at the end; exact resume (N steps + resume N steps == 2N
steps on CPU); a NaN/Inf loss stops the run with the last good checkpoint intact.
The loop itself (budgets, Ctrl-C, progress, checkpoint timing) is ``loop.py``.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import torch

from .. import batchwide, noise
from ..conditioning import Vocabulary, condition_grid, drop_for_training
from ..config import TrainConfig
from ..device import precision_warning, resolve_device, resolve_precision
from ..grid import save_grid
from ..models.base import save_state
from .checkpoint import export_weights
from .dataset import TrainingData
from .distributed import World, convert_sync_batchnorm, syncing
from .ema import EMA, recalibrate_bn
from .loop import StopReason, TrainLoop
from .posthoc_ema import snapshot_path

GRID_SEED = 1234  # fixed noise of the samples/ grids


def other_phase_parameters(model) -> dict[str, list[torch.nn.Parameter]]:
    """Per phase, the trainable parameters that only other phases update (the GAN's G phase: all of D's), less those
    the phase runs with their graph kept for a later one (``model.graph_parameters``)."""
    own = {ph: {id(p) for p in model.phase_parameters(ph) + model.graph_parameters(ph)} for ph in model.phases}
    every = {id(p): p for ph in model.phases for p in model.phase_parameters(ph) if p.requires_grad}
    return {ph: [p for i, p in every.items() if i not in own[ph]] for ph in model.phases}


@contextlib.contextmanager
def frozen(params: list[torch.nn.Parameter]):
    """``params`` need no gradient inside: their weight gradients are not computed (the gradient still flows
    through them to the phase's own parameters). The GAN's G step skipped D's weight gradients this way: 167 -> 134 ms
    a G phase (bf16, one thread, 64 px, batch 64), and the step's results are unchanged (tests/test_trainer.py)."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _fused(device: torch.device) -> bool | None:
    """Adam's fused kernel where torch has one: on the CPU the default per-tensor loop took 8.7 ms a step for the GAN's
    two optimisers against 2.2 ms fused (one thread; bench/results/quality/step_kernels.json)."""
    return True if device.type in ("cpu", "cuda") else None


def agreed_precision(asked: str, device: torch.device, family: str, world: World) -> str:
    """``resolve_precision`` on every rank, then one answer for all: under torchrun an "auto" that resolves to fp32 on
    any rank (a CPU where bf16 does not gain) is fp32 on every rank, so the ranks' steps are the same computation."""
    precision = resolve_precision(asked, device, family)
    if asked == "auto" and world.any(precision == "fp32", device):
        return "fp32"
    return precision


class Trainer(TrainLoop):
    """Trains a generator model (GAN/VAE/diffusion) in a run folder; ``run()`` / ``resume()`` as in TrainLoop."""

    label = "train"
    resume_hint = "prodgen train --resume {run_dir}"
    divergence_fix = "lower the learning rate (--model-arg lr=...) or the batch size"

    def __init__(
        self,
        model,
        data: TrainingData,
        vocab: Vocabulary,
        run_dir: str | Path,
        cfg: TrainConfig,
        cond_dropout: float,
        console=None,
        title_only: float = 0.0,
        evaluator=None,
        world: World | None = None,
    ) -> None:
        self.cfg = cfg  # before super().__init__: ``steps`` and ``minutes`` live in cfg
        self.world = world or World()
        super().__init__(run_dir, steps=cfg.steps, minutes=cfg.minutes, checkpoint_every=cfg.checkpoint_every,
                         checkpoint_minutes=cfg.checkpoint_minutes, log_every=cfg.log_every, console=console,
                         device=resolve_device(self.world.device(cfg.device)))
        if not self.world.is_main:
            self.log = None  # rank 0 writes metrics.jsonl
        self.images_per_step = cfg.batch_size  # the global batch
        self.local_batch = self.world.local_batch(cfg.batch_size)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.model = convert_sync_batchnorm(model.to(self.device), self.world).to(memory_format=torch.channels_last)
        self.world.broadcast_module(self.model)
        # --precision: autocast of the training step; fp16 adds a gradient scaler (bf16 keeps fp32's range)
        precision = agreed_precision(cfg.precision, self.device, getattr(model, "family", ""), self.world)
        if (slow := precision_warning(precision, self.device)) is not None:
            if console is not None:  # the CLI: one yellow line, as its other notes
                console.print(f"[yellow]warning: {slow}[/]", soft_wrap=True)
            else:
                warnings.warn(slow, RuntimeWarning, stacklevel=2)
        self.amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=precision == "fp16")
        if cfg.compile:
            for net in self.model.children():
                net.compile()  # in place: the state dict keeps its names
        self.data = data.to(self.device)
        self.vocab = vocab
        self.cond_dropout = cond_dropout
        self.title_only = title_only  # share of title-only rows in text runs (conditioning/dropout.py)
        self.optims = {
            p: torch.optim.Adam(model.phase_parameters(p), **model.optimizer_settings(p), fused=_fused(self.device))
            for p in model.phases
        }
        for o in self.optims.values():
            for group in o.param_groups:
                group.setdefault("initial_lr", group["lr"])  # kept in the optimizer's state: --lr-decay scales it
        self.others = other_phase_parameters(model)
        self.ema = EMA(model.sampling_net(), cfg.ema_decay, cfg.ema_start, cfg.ema_sigma_rel)
        self.grid = condition_grid(vocab, rows=8, cols=max(1, cfg.sample_grid // 8))
        self.evaluator = evaluator  # periodic cheap FID/KID (evaluate/during_training.py), or None

    steps = property(lambda self: self.cfg.steps, lambda self, v: setattr(self.cfg, "steps", v))
    minutes = property(lambda self: self.cfg.minutes, lambda self, v: setattr(self.cfg, "minutes", v))

    # -- state ---------------------------------------------------------------
    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optim": {p: o.state_dict() for p, o in self.optims.items()},
            **({"scaler": self.scaler.state_dict()} if self.scaler.is_enabled() else {}),
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        for p, o in self.optims.items():
            o.load_state_dict(state["optim"][p])
            for group in o.param_groups:  # a state saved before the fused kernel (or on another device) says its own
                group["fused"] = o.defaults["fused"]
        if self.scaler.is_enabled() and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])

    def _rank0_only(self):
        """Rank 0's side work (checkpoints, grids, evaluation) must not move the RNG stream all ranks share."""
        devices = [self.device] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)

    def save_checkpoint(self) -> None:
        if not self.world.is_main:
            return
        with self._rank0_only():
            recalibrate_bn(self.model, self.ema.net, self.data.cond, text_pool=self.data.text)
            export_weights(self.run_dir, self.model, self.ema.state_dict(), self.step)
            super().save_checkpoint()  # last: a resume sees weights at least this new

    def save_snapshot(self) -> None:
        """The live sampling net's weights at this step (post-hoc EMA, train/posthoc_ema.py); rank 0 only."""
        if self.world.is_main:
            save_state(snapshot_path(self.run_dir, self.step), self.model.sampling_net().state_dict(), None, step=self.step)

    def save_samples(self) -> Path | None:
        if not self.world.is_main:
            return None
        path = self.run_dir / "samples" / f"step-{self.step:06d}.png"
        if not self.model.generates:  # a first stage (autoencoder): fixed training photos, each beside its reconstruction
            real = self.data.images[: min(len(self.data), max(1, self.cfg.sample_grid // 2))].float().div(127.5).sub(1)
            with self._rank0_only():
                recon = self.model.reconstruct(real, net=self.ema.net).to(real.device)
            save_grid(torch.stack([real, recon], 1).flatten(0, 1), path, 8)
            return path
        with self._rank0_only():
            recalibrate_bn(self.model, self.ema.net, self.data.cond, text_pool=self.data.text)
            g = torch.Generator().manual_seed(GRID_SEED)
            imgs = self.model.sample(len(self.grid.cond), self.grid.cond, generator=g, net=self.ema.net)
        save_grid(imgs, path, self.grid.cols, row_labels=self.grid.row_labels, col_labels=self.grid.col_labels)
        return path

    def evaluate(self) -> dict[str, float]:
        """One periodic evaluation of the EMA net, appended to metrics.jsonl; its time is not training time."""
        with self.paused(), self._rank0_only():
            recalibrate_bn(self.model, self.ema.net, self.data.cond, text_pool=self.data.text)
            rec = {"step": self.step, "elapsed_s": round(self.elapsed, 2), **self.evaluator(self.model, self.ema.net)}
            self.log.write(rec)
        return rec

    # -- loop ----------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One step on this process's rows of the global batch (all of it with one process); see distributed.py."""
        w, big = self.world, self.cfg.batch_size
        rows = slice(w.rank * self.local_batch, (w.rank + 1) * self.local_batch) if w.active else None
        x, cond, text = self.data.batch(self.step, big, self.cfg.seed, rows)
        shared = noise.batch_slice(big, rows.start) if w.active else contextlib.nullcontext()
        logs: dict[str, float] = {}
        if self.cfg.snapshot_every and self.step == 0:
            self.save_snapshot()  # the weights the EMA starts from
        with shared, syncing(w), batchwide.across(w.sum_tensor if w.active else None):
            if self.cfg.hflip:
                flip = noise.rand(x.shape[0]).to(x.device) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            cond, text = drop_for_training(cond, text, self.cond_dropout, self.title_only)
            if self.cfg.lr_decay:
                scale = lr_scale(self.step, self.cfg.steps, self.cfg.lr_decay)
                for o in self.optims.values():
                    for group in o.param_groups:
                        group["lr"] = group["initial_lr"] * scale
            self.model.train()
            for phase in self.model.phases:
                with frozen(self.others[phase]):
                    with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                        losses = self.model.loss(phase, x, cond, text)
                    loss = losses["loss"].float()
                    finite = bool(torch.isfinite(loss.detach()))
                    if w.any(not finite, self.device):  # every process stops with the same error
                        self.check_finite(loss if not finite else float("nan"),
                                          f"loss of phase {phase!r}" + ("" if not finite else " (on another process)"))
                    opt = self.optims[phase]
                    opt.zero_grad(set_to_none=True)
                    self.scaler.scale(loss).backward()
                self.scaler.unscale_(opt)  # (no-op without fp16) average true gradients; a step with inf is skipped
                w.average_gradients(self.model.phase_parameters(phase))
                self.scaler.step(opt)
                for k, v in losses.items():
                    logs[f"{phase}/{k}" if k == "loss" else k] = float(v.detach())
            self.scaler.update()
        self.ema.update(self.model.sampling_net(), self.step + 1)
        return w.mean_floats(logs, self.device)

    def after_step(self, step: int, logs: dict[str, float]) -> None:
        if self.cfg.snapshot_every and step % self.cfg.snapshot_every == 0:
            self.save_snapshot()
        if step % self.cfg.sample_every == 0:
            self.save_samples()
        if self.evaluator is not None and self.cfg.eval_every and step % self.cfg.eval_every == 0:
            rec = self.evaluate()
            self.set_status(f"FID {rec['eval/fid']:.1f}")

    def on_stop(self, reason: StopReason) -> None:
        if self.cfg.snapshot_every and self.step % self.cfg.snapshot_every != 0:
            self.save_snapshot()  # the last weights the EMA saw
        self.save_samples()  # a final grid
        if self.evaluator is not None and self.cfg.eval_every and self.step % self.cfg.eval_every != 0:
            self.evaluate()  # the curve always ends at the final weights


def lr_scale(step: int, steps: int | None, decay: float) -> float:
    """The learning rates' factor at 0-based ``step`` of ``steps``: 1, then over the last ``decay`` share of the run a
    straight line that would reach 0 one step after the last (so the last step still learns)."""
    if not decay or not steps:
        return 1.0
    span = decay * steps
    return max(0.0, min(1.0, (steps - step) / span))


__all__ = ["StopReason", "Trainer", "lr_scale"]
