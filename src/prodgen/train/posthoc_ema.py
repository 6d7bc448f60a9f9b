"""Post-hoc EMA: the average of a finished run's weights over any length, rebuilt from its snapshots.

How long to average a generator's weights is a choice made before training (``ema_decay``), yet the best length
depends on the budget: an average over the last 700 steps suits a long run and blurs a short one. Karras et al.
2024 (EDM2, https://arxiv.org/abs/2312.02696) keep snapshots during training and choose the average afterwards.
Here a run trained with ``--snapshot-every K`` keeps the live (not averaged) sampling net every K steps in
``snapshots/``; :func:`ema_coefficients` replays the EMA recursion ``e <- d_t e + (1 - d_t) w_t`` over the
training steps, taking the weights of step t from the first snapshot at or after t. With K = 1 this is the EMA the
trainer keeps, exactly (a test checks it); with K > 1 each block of K steps is represented by its last weights,
which moves an average whose half-life is many blocks long very little.

The trainer's own profile (``--decay``, with its warm-up) rebuilds the run's average at an earlier step
(``--steps``), e.g. to compare runs at equal CPU time. Two more profiles: an exponential one with a half-life in steps (the trainer's, with its warm-up), and EDM2's power
function ``d_t = (1 - 1/t)^(gamma + 1)``, whose length grows with the run and is given as ``sigma_rel`` (the
averaging window's standard deviation relative to the training time).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_text
from ..errors import UserError
from ..models.base import EMA_NAME, load_state, save_state

SNAPSHOT_DIR = "snapshots"
POSTHOC_NAME = "posthoc_ema.json"
_SNAPSHOT = re.compile(r"step-(\d{6,})\.safetensors")


def snapshot_path(run_dir: str | Path, step: int) -> Path:
    path = Path(run_dir) / SNAPSHOT_DIR / f"step-{step:06d}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def list_snapshots(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every snapshot of the run, by step."""
    folder = Path(run_dir) / SNAPSHOT_DIR
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.safetensors") if (m := _SNAPSHOT.fullmatch(p.name))]
    return sorted(found)


def trainer_decay(decay: float) -> Callable[[int], float]:
    """The trainer's EMA (train/ema.py): ``min(decay, (1 + t) / (10 + t))``."""
    return lambda t: min(decay, (1 + t) / (10 + t))


def half_life_decay(steps: float) -> Callable[[int], float]:
    """Exponential average whose weights halve every ``steps`` steps; early on, the plain mean of the steps so far
    (``min(beta, 1 - 1/t)``), so the start's weights do not linger. (The trainer's warm-up ``(1 + t) / (10 + t)``
    is about ``1 - 9/t``: over a 3,166-step run it keeps the average below ``ema_decay`` 0.999 throughout, a
    half-life of about t/6 steps rather than 693.)"""
    if steps <= 0:
        raise ValueError("the half-life must be positive")
    beta = 0.5 ** (1.0 / steps)
    return lambda t: min(beta, 1.0 - 1.0 / t) if t > 0 else 0.0


def gamma_from_sigma_rel(sigma_rel: float) -> float:
    """EDM2's power exponent for a relative width (their eq. 3): sigma_rel^2 = (g+1) / ((g+2)^2 (g+3)).

    The largest real root of g^3 + 7g^2 + (16 - s^-2) g + 12 - s^-2 = 0, as in EDM2's code."""
    if not 0 < sigma_rel < 0.28:
        raise UserError(f"sigma_rel {sigma_rel} is outside (0, 0.28): EDM2 uses 0.01-0.2 (0.05-0.1 typical)")
    t = sigma_rel ** -2
    roots = np.roots([1.0, 7.0, 16.0 - t, 12.0 - t])
    return float(roots[np.abs(roots.imag) < 1e-9].real.max())


def power_decay(sigma_rel: float) -> Callable[[int], float]:
    """EDM2's power-function EMA, ``(1 - 1/t)^(gamma + 1)``: its window is a fixed share of the run so far."""
    gamma = gamma_from_sigma_rel(sigma_rel)
    return lambda t: (1.0 - 1.0 / t) ** (gamma + 1) if t > 0 else 0.0


def ema_coefficients(snapshot_steps: list[int], total: int, decay: Callable[[int], float]) -> torch.Tensor:
    """Weights of each snapshot in the EMA after ``total`` steps (they sum to 1).

    The average starts at the first snapshot (taken at step 0); step t's weights are those of the first snapshot at
    or after t (the last one past the end)."""
    if not snapshot_steps or snapshot_steps[0] != 0:
        raise UserError("post-hoc EMA needs the snapshot of step 0 (train with --snapshot-every from the start)")
    steps = torch.tensor(snapshot_steps)
    coef = torch.zeros(len(steps), dtype=torch.float64)
    coef[0] = 1.0
    for t in range(1, total + 1):
        d = float(decay(t))
        coef *= d
        j = min(int(torch.searchsorted(steps, t)), len(steps) - 1)
        coef[j] += 1.0 - d
    return coef


def average_snapshots(run_dir: str | Path, decay: Callable[[int], float], total: int | None = None) -> tuple[dict, dict]:
    """The EMA of the run's snapshots after ``total`` steps (default: the last snapshot's step), and a summary."""
    snaps = list_snapshots(run_dir)
    if not snaps:
        raise UserError(f"{run_dir} has no {SNAPSHOT_DIR}/: train it with --snapshot-every K to rebuild its EMA afterwards")
    steps = [s for s, _ in snaps]
    total = steps[-1] if total is None else total
    if total > steps[-1]:
        raise UserError(f"{run_dir}: its last snapshot is at step {steps[-1]}, not {total}")
    keep = [i for i, s in enumerate(steps) if s <= total]
    steps = [steps[i] for i in keep]
    coef = ema_coefficients(steps, total, decay)
    avg: dict[str, torch.Tensor] = {}
    for c, i in zip(coef.tolist(), keep):
        if c < 1e-12:
            continue
        for k, v in load_state(snaps[i][1]).items():
            if v.is_floating_point():
                avg[k] = avg.get(k, torch.zeros_like(v, dtype=torch.float64)) + c * v.double()
            else:
                avg.setdefault(k, v)  # counters (BN's num_batches_tracked) are recomputed by recalibration
    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in avg.items()}
    grid = torch.tensor(steps, dtype=torch.float64)
    mean_step = float((coef * grid).sum())
    info = {"snapshots": len(steps), "snapshot_every": steps[1] - steps[0] if len(steps) > 1 else None,
            "total_steps": total, "mean_step": round(mean_step, 1),
            "std_steps": round(float((coef * (grid - mean_step) ** 2).sum().sqrt()), 1)}
    return state, info


def rebuild_ema(run: str | Path, out: str | Path, *, half_life: float | None = None, sigma_rel: float | None = None,
                decay: float | None = None, steps: int | None = None, overwrite: bool = False) -> dict:
    """Write ``out``: a copy of run folder ``run`` whose ema.safetensors is the post-hoc average of one profile.

    The copy has no training state (it cannot be resumed: its EMA is not the one training kept) and no snapshots;
    its BN statistics are recomputed from the new weights as the trainer does. Returns the summary it writes to
    ``posthoc_ema.json``."""
    from .ema import recalibrate_bn
    from .run import check_new_run_dir, load_run_data

    run, out = Path(run), Path(out)
    if sum(v is not None for v in (half_life, sigma_rel, decay)) != 1:
        raise UserError("give one averaging profile: --half-life STEPS, --sigma-rel X or --decay D (the trainer's)")
    if decay is not None and not 0 <= decay < 1:
        raise UserError(f"--decay {decay} must lie in [0, 1)")
    if out.resolve() == run.resolve():
        raise UserError("--out must be a new folder: the run's own EMA and snapshots stay as they are")
    check_new_run_dir(out, overwrite)  # before the averaging work
    if half_life is not None:
        profile, fn = {"half_life_steps": half_life}, half_life_decay(half_life)
    elif sigma_rel is not None:
        profile, fn = {"sigma_rel": sigma_rel}, power_decay(sigma_rel)
    else:
        profile, fn = {"trainer_decay": decay}, trainer_decay(decay)
    state, info = average_snapshots(run, fn, steps)
    from ..sample import Pipeline

    pipe = Pipeline.from_pretrained(run, device="cpu")
    net = pipe.model.sampling_net()
    missing = set(net.state_dict()) - set(state)
    if missing:
        raise UserError(f"{run}/{SNAPSHOT_DIR} does not match the run's network (missing {sorted(missing)[:3]})")
    net.load_state_dict(state)
    data = load_run_data(run, progress=False)
    recalibrate_bn(pipe.model, net, data.train.cond, text_pool=data.train.text)  # as the trainer does
    if out.exists():
        shutil.rmtree(out)
    ignore = shutil.ignore_patterns(SNAPSHOT_DIR, "training_state.pt", EMA_NAME, "eval", "samples")
    shutil.copytree(run, out, ignore=ignore)
    save_state(out / EMA_NAME, net.state_dict(), None, step=info["total_steps"])
    record = {"source": str(run), "profile": profile, **info}
    write_text(out / POSTHOC_NAME, json.dumps(record, indent=2) + "\n")
    return record
