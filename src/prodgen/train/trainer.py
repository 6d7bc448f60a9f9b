"""The one training loop for every model family (see models/base.py).

Budget by total steps and/or wall-clock minutes of this invocation; fixed-noise
sample grids; JSONL metrics; atomic checkpoints every N steps, on Ctrl-C and at
the end; exact resume (N steps + resume N steps == 2N steps on CPU); a NaN/Inf
loss stops the run with the last good checkpoint intact.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..conditioning import Vocabulary, condition_grid, drop_conditions, drop_text
from ..config import TrainConfig
from ..device import resolve_device
from ..errors import TrainingDiverged, UserError
from ..grid import save_grid
from .checkpoint import export_weights, load_training_state, rng_state, save_training_state, set_rng_state
from .dataset import TrainingData
from .ema import EMA, recalibrate_bn
from .metrics_log import MetricsLog

GRID_SEED = 1234  # fixed noise of the samples/ grids


@dataclass
class StopReason:
    kind: str  # "steps" | "minutes" | "interrupted"
    step: int


class Trainer:
    def __init__(
        self,
        model,
        data: TrainingData,
        vocab: Vocabulary,
        run_dir: str | Path,
        cfg: TrainConfig,
        cond_dropout: float,
        console=None,
        evaluator=None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.model = model.to(self.device).to(memory_format=torch.channels_last)
        self.data = data.to(self.device)
        self.vocab = vocab
        self.cond_dropout = cond_dropout
        self.console = console
        self.optims = {
            p: torch.optim.Adam(model.phase_parameters(p), **model.optimizer_settings(p)) for p in model.phases
        }
        self.ema = EMA(model.sampling_net(), cfg.ema_decay, cfg.ema_start)
        self.step = 0
        self.elapsed = 0.0  # training seconds over all invocations
        self.log = MetricsLog(self.run_dir / "metrics.jsonl")
        self.grid = condition_grid(vocab, rows=8, cols=max(1, cfg.sample_grid // 8))
        self._stop_requested = False
        self.evaluator = evaluator  # periodic cheap FID/KID (evaluate/during_training.py), or None
        self._paused = 0.0  # seconds of this invocation spent in periodic evaluation (not training time)

    # -- state ---------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optim": {p: o.state_dict() for p, o in self.optims.items()},
            "rng": rng_state(self.device),
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        for p, o in self.optims.items():
            o.load_state_dict(state["optim"][p])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        set_rng_state(state["rng"], self.device)

    def resume(self) -> None:
        self.load_state(load_training_state(self.run_dir))
        self.log.truncate_after(self.step)

    def checkpoint(self) -> None:
        recalibrate_bn(self.model, self.ema.net, self.data.cond, text_pool=self.data.text)
        export_weights(self.run_dir, self.model, self.ema.state_dict(), self.step)
        save_training_state(self.run_dir, self.state())  # last: a resume sees weights at least this new

    def save_samples(self) -> Path:
        recalibrate_bn(self.model, self.ema.net, self.data.cond, text_pool=self.data.text)
        g = torch.Generator().manual_seed(GRID_SEED)
        imgs = self.model.sample(len(self.grid.cond), self.grid.cond, generator=g, net=self.ema.net)
        path = self.run_dir / "samples" / f"step-{self.step:06d}.png"
        save_grid(imgs, path, self.grid.cols, row_labels=self.grid.row_labels, col_labels=self.grid.col_labels)
        return path

    def evaluate(self) -> dict[str, float]:
        """One periodic evaluation of the EMA net, appended to metrics.jsonl; its time is not training time."""
        t = time.monotonic()
        recalibrate_bn(self.model, self.ema.net, self.data.cond, text_pool=self.data.text)
        rec = {"step": self.step, "elapsed_s": round(self.elapsed, 2), **self.evaluator(self.model, self.ema.net)}
        self.log.write(rec)
        self._paused += time.monotonic() - t
        return rec

    # -- loop ----------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        x, cond, text = self.data.batch(self.step, self.cfg.batch_size, self.cfg.seed)
        if self.cfg.hflip:
            flip = torch.rand(x.shape[0]).to(x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        cond = drop_conditions(cond, self.cond_dropout)
        text = drop_text(text, self.cond_dropout)
        self.model.train()
        logs: dict[str, float] = {}
        for phase in self.model.phases:
            losses = self.model.loss(phase, x, cond, text)
            loss = losses["loss"]
            if not torch.isfinite(loss).item():
                raise TrainingDiverged(
                    f"loss of phase {phase!r} became {loss.item()} at step {self.step + 1}; training stopped. "
                    f"The last good checkpoint in {self.run_dir} is intact (resume with `prodgen train --resume "
                    f"{self.run_dir}`), but the run is unstable: lower the learning rate (--model-arg lr=...) or the batch size."
                )
            opt = self.optims[phase]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in losses.items():
                logs[f"{phase}/{k}" if k == "loss" else k] = float(v.detach())
        self.step += 1
        self.ema.update(self.model.sampling_net(), self.step)
        return logs

    def _want_stop(self, t0: float) -> StopReason | None:
        if self._stop_requested:
            return StopReason("interrupted", self.step)
        if self.cfg.steps is not None and self.step >= self.cfg.steps:
            return StopReason("steps", self.step)
        if self.cfg.minutes is not None and self._train_seconds(t0) >= self.cfg.minutes * 60:
            return StopReason("minutes", self.step)
        return None

    def _train_seconds(self, t0: float) -> float:
        """Seconds of this invocation spent training (periodic evaluation excluded)."""
        return time.monotonic() - t0 - self._paused

    def _on_sigint(self, signum, frame) -> None:
        if self._stop_requested:  # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self._stop_requested = True
        if self.console is not None:
            self.console.print("[yellow]Ctrl-C: finishing this step and saving a checkpoint (Ctrl-C again to abort)[/]")

    def run(self, progress: bool = True) -> StopReason:
        if self.cfg.steps is None and self.cfg.minutes is None:
            raise UserError("give a training budget: --steps N (the run's total) and/or --minutes M (this invocation).")
        if self.cfg.steps is not None and self.step >= self.cfg.steps:
            return StopReason("steps", self.step)
        old_handler = signal.getsignal(signal.SIGINT)
        in_main = _in_main_thread()
        if in_main:
            signal.signal(signal.SIGINT, self._on_sigint)
        t0 = time.monotonic()
        self._paused = 0.0
        elapsed0 = self.elapsed
        window: dict[str, float] = {}
        n_window, t_window = 0, time.monotonic()
        bar = _progress_bar(self.console, disable=not progress)
        total_steps = self.cfg.steps
        budget_s = self.cfg.minutes * 60 if self.cfg.minutes is not None else None
        task = bar.add_task("train", total=float(total_steps) if budget_s is None else budget_s, losses="", steps="")
        try:
            with bar:
                while (reason := self._want_stop(t0)) is None:
                    logs = self.train_step()
                    self.elapsed = elapsed0 + self._train_seconds(t0)
                    for k, v in logs.items():
                        window[k] = window.get(k, 0.0) + v
                    n_window += 1
                    done = self.step if budget_s is None else self._train_seconds(t0)
                    if total_steps is not None and budget_s is not None:  # whichever budget binds first
                        done = max(done / budget_s, self.step / total_steps) * budget_s
                    short = " ".join(f"{k.split('/')[0]}={v / n_window:.3f}" for k, v in window.items() if "loss" in k)
                    bar.update(task, completed=done, losses=short, steps=f"step {self.step}")
                    if self.step % self.cfg.log_every == 0:
                        now = time.monotonic()
                        rec = {"step": self.step, "elapsed_s": round(self.elapsed, 2),
                               "images_per_s": round(n_window * self.cfg.batch_size / max(now - t_window, 1e-9), 2)}
                        rec.update({k: round(v / n_window, 5) for k, v in window.items()})
                        self.log.write(rec)
                        window, n_window, t_window = {}, 0, now
                    if self.step % self.cfg.sample_every == 0:
                        self.save_samples()
                    if self.step % self.cfg.checkpoint_every == 0:
                        self.checkpoint()
                    if self.evaluator is not None and self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
                        paused = self._paused
                        rec = self.evaluate()
                        t_window += self._paused - paused  # images/s counts training time only
                        bar.update(task, steps=f"step {self.step} FID {rec['eval/fid']:.1f}")
        finally:
            if in_main:
                signal.signal(signal.SIGINT, old_handler)
        # Normal end, budget reached or Ctrl-C: always leave a checkpoint and a final grid.
        self.save_samples()
        self.checkpoint()
        if self.evaluator is not None and self.cfg.eval_every and self.step % self.cfg.eval_every != 0:
            self.evaluate()  # the curve always ends at the final weights
        self.log.write({"step": self.step, "elapsed_s": round(self.elapsed, 2), "event": f"stop:{reason.kind}"})
        return reason


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _progress_bar(console, disable: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[steps]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        console=console,
        disable=disable,
        transient=False,
    )


__all__ = ["StopReason", "Trainer"]
