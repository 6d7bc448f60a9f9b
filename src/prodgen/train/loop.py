"""The one training loop: budgets, Ctrl-C, progress, NaN stop, metrics, checkpoints, resume.

Every network prodgen trains (generators in ``trainer.py``, ProductNet in
``evaluate/features.py``, the restorers) subclasses :class:`TrainLoop`, so these
exist once:

- **Budget**: ``steps`` is the run's total (a resumed run stops there),
  ``minutes`` is this invocation's training time; whichever comes first stops it.
  Time spent ``with self.paused():`` (periodic evaluation, validation) is not
  training time.
- **Ctrl-C**: the first finishes the current step, saves a checkpoint and stops
  with reason ``"interrupted"``; a second one aborts at once (KeyboardInterrupt).
- **Progress**: ``prodgen.progress`` (a bar with ETA on a terminal, a plain
  line every few seconds otherwise), showing the step, the losses and
  ``set_status`` text.
- **NaN/Inf**: ``self.check_finite(loss, "what")`` in ``train_step`` raises
  ``TrainingDiverged`` naming the run folder and the fix; nothing is saved, so
  the last good checkpoint stays intact.
- **Metrics**: every ``log_every`` steps one JSON line in ``metrics.jsonl`` with
  ``step``, ``elapsed_s``, the mean of each ``train_step`` log over the window
  and, with ``images_per_step`` set, ``images_per_s`` (training time only).
- **Checkpoints**: every ``checkpoint_every`` steps AND every
  ``checkpoint_minutes`` of wall time, on Ctrl-C and at the end; atomic
  (``training_state.pt`` holds ``step``, ``elapsed``, ``rng`` and ``state()``).
- **Resume**: ``resume()`` loads the last checkpoint (step, training seconds,
  RNG, ``load_state``) and drops metrics records written after it.

Subclass API (all a subclass writes)::

    class MyTrainer(TrainLoop):
        label = "train restorer"            # progress label
        images_per_step = None              # batch size, for images_per_s in metrics.jsonl
        resume_hint = "prodgen ... --resume {run_dir}"   # said when a loss diverges (a bare command, or a phrase with `...`)
        divergence_fix = "lower the learning rate"

        def __init__(self, ...):
            super().__init__(run_dir, steps=..., minutes=..., checkpoint_every=1000, checkpoint_minutes=5.0,
                             log_every=25, console=console, device=device)

        def train_step(self) -> dict[str, float]:   # ONE optimisation step; self.step = steps done before it.
            ...                                      # the loop adds 1 to self.step afterwards
            self.check_finite(loss, "L1 loss")       # before optimiser.step()
            return {"loss": float(loss)}
        def state(self) -> dict: ...                 # tensors and plain containers only (weights_only load)
        def load_state(self, state: dict) -> None: ...
        def save_checkpoint(self) -> None:           # optional: export weights, then
            super().save_checkpoint()                # write training_state.pt (do this last)
        def after_step(self, step, logs) -> None: ...   # optional: samples, validation (inside self.paused())
        def on_stop(self, reason) -> None: ...          # optional: after the final checkpoint

    reason = MyTrainer(...).run(progress=True)        # StopReason(kind="steps"|"minutes"|"interrupted", step)
    t = MyTrainer(...); t.resume(); t.run()           # continue a run

Helpers for subclasses: ``paused()``, ``train_seconds()``, ``fraction_done()``,
``request_stop()``, ``set_status(text)``, ``check_finite(value, what)``;
attributes ``step``, ``elapsed`` (training seconds over all invocations),
``run_dir``, ``log`` (MetricsLog), ``console``, ``device``, ``steps``, ``minutes``.
``run_dir=None`` trains in memory (no checkpoints, no metrics file).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import TrainingDiverged, UserError
from ..progress import progress_bar
from .checkpoint import load_training_state, rng_state, save_training_state, set_rng_state
from .distributed import World
from .metrics_log import MetricsLog

METRICS_NAME = "metrics.jsonl"
DEFAULT_CHECKPOINT_MINUTES = 5.0


@dataclass
class StopReason:
    kind: str  # "steps" | "minutes" | "interrupted"
    step: int


class TrainLoop:
    """Base class of every training loop; see the module docstring for the contract."""

    label = "train"
    images_per_step: int | None = None
    resume_hint = "prodgen train --resume {run_dir}"
    divergence_fix = "lower the learning rate or the batch size"
    clock = staticmethod(time.monotonic)  # tests replace it with a fake clock
    world = World()  # one process; a data-parallel trainer sets its torchrun world (train/distributed.py)

    def __init__(self, run_dir: str | Path | None, *, steps: int | None = None, minutes: float | None = None,
                 checkpoint_every: int | None = None, checkpoint_minutes: float | None = DEFAULT_CHECKPOINT_MINUTES,
                 log_every: int | None = 25, console=None, device: torch.device | str = "cpu") -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.steps = steps
        self.minutes = minutes
        self.checkpoint_every = checkpoint_every
        self.checkpoint_minutes = checkpoint_minutes
        self.log_every = log_every
        self.console = console
        self.device = torch.device(device)
        self.log = MetricsLog(self.run_dir / METRICS_NAME) if self.run_dir is not None else None
        self.step = 0
        self.elapsed = 0.0  # training seconds over all invocations
        self._stop_requested = False
        self._paused = 0.0  # seconds of this invocation inside paused()
        self._t0: float | None = None
        self._elapsed0 = 0.0
        self._status = ""

    # -- to implement ----------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One optimisation step; returns the values to log (floats). The loop increments ``self.step``."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """Everything a resume needs beyond step/elapsed/RNG (tensors and plain containers)."""
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``state()`` returned (``state`` also holds "step", "elapsed", "rng")."""
        raise NotImplementedError

    def after_step(self, step: int, logs: dict[str, float]) -> None:
        """Called after each step (after its metrics line, before a due checkpoint)."""

    def on_stop(self, reason: StopReason) -> None:
        """Called once when the run stops normally (budget or Ctrl-C), after the final checkpoint."""

    def save_checkpoint(self) -> None:
        """Write ``training_state.pt`` atomically; subclasses export their weights first, then call this."""
        if self.run_dir is None or not self.world.is_main:
            return
        save_training_state(self.run_dir, {"step": self.step, "elapsed": self.elapsed, "rng": rng_state(self.device),
                                           **self.state()})

    # -- helpers -----------------------------------------------------------------
    def resume(self) -> None:
        """Load the last checkpoint of ``run_dir`` and drop metrics records written after it."""
        if self.run_dir is None:
            raise ValueError("a loop without run_dir has nothing to resume")
        state = load_training_state(self.run_dir)
        self.load_state(state)
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        set_rng_state(state["rng"], self.device)
        if self.log is not None:
            self.log.truncate_after(self.step)

    def check_finite(self, value: torch.Tensor | float, what: str = "loss") -> None:
        """Raise TrainingDiverged when ``value`` is NaN/Inf (call it before the optimiser step)."""
        v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
        if math.isfinite(v):
            return
        where = self.run_dir if self.run_dir is not None else "memory"
        if self.run_dir is not None:
            hint = self.resume_hint.format(run_dir=where)
            hint = hint if "`" in hint else f"resume with `{hint}`"  # a bare command is wrapped
            keep = (f"The last good checkpoint in {where} is intact ({hint}), "
                    f"but the run is unstable: {self.divergence_fix}.")
        else:
            keep = f"The run is unstable: {self.divergence_fix}."
        raise TrainingDiverged(f"{what} became {v} at step {self.step + 1}; training stopped. {keep}")

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside is not training time (not in ``minutes``, ``elapsed`` or images/s)."""
        t = self.clock()
        try:
            yield
        finally:
            self._paused += self.clock() - t

    def train_seconds(self) -> float:
        """Seconds of this invocation spent training (paused time excluded)."""
        if self._t0 is None:
            return 0.0
        return self.clock() - self._t0 - self._paused

    def fraction_done(self) -> float:
        """How much of the budget is used, 0..1 (the binding one of steps and minutes)."""
        f = 0.0
        if self.steps:
            f = max(f, self.step / self.steps)
        if self.minutes:
            f = max(f, self.train_seconds() / (self.minutes * 60))
        return min(f, 1.0)

    def request_stop(self) -> None:
        """Stop after the current step, as the first Ctrl-C does."""
        self._stop_requested = True

    def set_status(self, text: str) -> None:
        """Extra text on the progress line (e.g. the latest FID)."""
        self._status = text

    # -- the loop ------------------------------------------------------------------
    def run(self, progress: bool = True) -> StopReason:
        if self.steps is None and self.minutes is None:
            raise UserError("give a training budget: --steps N (the run's total) and/or --minutes M (this invocation).")
        if self.steps is not None and self.step >= self.steps:
            return StopReason("steps", self.step)
        old_handler = signal.getsignal(signal.SIGINT)
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            signal.signal(signal.SIGINT, self._on_sigint)
        self._stop_requested = False
        self._t0, self._paused, self._elapsed0 = self.clock(), 0.0, self.elapsed
        last_checkpoint = self.clock()
        window: dict[str, float] = {}
        n_window, t_window = 0, 0.0
        try:
            with progress_bar(self.label, self.steps, unit="step", console=self.console,
                              enabled=progress and self.world.is_main, clock=self.clock) as bar:
                while (reason := self._want_stop()) is None:
                    try:
                        logs = self.train_step()
                    except TrainingDiverged:
                        if self.log is not None:
                            self.log.write({"step": self.step, "elapsed_s": round(self.elapsed, 2), "event": "stop:diverged"})
                        raise
                    self.step += 1
                    self.elapsed = self._elapsed0 + self.train_seconds()
                    for k, v in logs.items():
                        window[k] = window.get(k, 0.0) + v
                    n_window += 1
                    bar.update(self.step, fraction=self.fraction_done(), info=self._info(window, n_window))
                    if self.log_every and self.step % self.log_every == 0:
                        now = self.train_seconds()
                        rec: dict[str, Any] = {"step": self.step, "elapsed_s": round(self.elapsed, 2)}
                        if self.images_per_step:
                            rec["images_per_s"] = round(n_window * self.images_per_step / max(now - t_window, 1e-9), 2)
                        rec.update({k: round(v / n_window, 5) for k, v in window.items()})
                        if self.log is not None:
                            self.log.write(rec)
                        window, n_window, t_window = {}, 0, now
                    self.after_step(self.step, logs)
                    due_steps = bool(self.checkpoint_every) and self.step % self.checkpoint_every == 0
                    due_time = bool(self.checkpoint_minutes) and self.clock() - last_checkpoint >= self.checkpoint_minutes * 60
                    if due_steps or due_time:
                        self.save_checkpoint()
                        last_checkpoint = self.clock()
            # Budget reached or Ctrl-C: always leave a checkpoint (a first Ctrl-C now does not cut it short).
            self.save_checkpoint()
            self.on_stop(reason)
            if self.log is not None:
                self.log.write({"step": self.step, "elapsed_s": round(self.elapsed, 2), "event": f"stop:{reason.kind}"})
        finally:
            if in_main:
                signal.signal(signal.SIGINT, old_handler)
        return reason

    def _want_stop(self) -> StopReason | None:
        """Why to stop before the next step, or None; with several processes, all agree (see train/distributed.py)."""
        local = self._local_stop()
        if not self.world.active:
            return local
        codes = {"steps": 1, "minutes": 2}
        main_code = codes.get(local.kind, 0) if local is not None else 0
        interrupted, code = self.world.agree_stop(self._stop_requested, main_code, self.device)
        if interrupted:
            return StopReason("interrupted", self.step)
        return StopReason({1: "steps", 2: "minutes"}[code], self.step) if code else None

    def _local_stop(self) -> StopReason | None:
        if self._stop_requested:
            return StopReason("interrupted", self.step)
        if self.steps is not None and self.step >= self.steps:
            return StopReason("steps", self.step)
        if self.minutes is not None and self.train_seconds() >= self.minutes * 60:
            return StopReason("minutes", self.step)
        return None

    def _info(self, window: dict[str, float], n: int) -> str:
        keys = [k for k in window if "loss" in k] or list(window)[:4]
        parts = [f"{k.split('/')[0] if '/loss' in k else k}={window[k] / n:.3f}" for k in keys]
        if self._status:
            parts.append(self._status)
        return " ".join(parts)

    def _on_sigint(self, signum, frame) -> None:
        if self._stop_requested:  # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self._stop_requested = True
        if self.console is not None:
            self.console.print("[yellow]Ctrl-C: finishing this step and saving a checkpoint (Ctrl-C again to abort)[/]")


__all__ = ["DEFAULT_CHECKPOINT_MINUTES", "METRICS_NAME", "StopReason", "TrainLoop"]
