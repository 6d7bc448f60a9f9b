"""Distil a diffusion run's sampler to fewer steps: progressive distillation, guidance included.

Progressive distillation (Salimans & Ho 2022, https://arxiv.org/abs/2202.00512): in
rounds ``start -> start/2 -> ... -> steps``, a student initialised from its teacher
learns to match two of the teacher's DDIM steps in one (a flow-matching run: two Euler
steps; algebra in ``distill_target.py``); each round's student is the next round's teacher. Round 1's
teacher is the run's EMA network, guided at scale ``guidance`` (Meng et al. 2023,
https://arxiv.org/abs/2210.03142, with the scale fixed): the student then needs one
network call per step, no unconditional pass. The condition is dropped with the
model's ``uncond_p`` as in training, so the student keeps an unconditional mode.

Data: the teacher's own train split (its config.json, split.json and vocab.json,
from the same image cache). Each round is a :class:`TrainLoop` (progress bar with
ETA, Ctrl-C finishes the step and stops), trained in memory; the output folder is
written only when a round finishes, one atomic file at a time, weights first:

  model.safetensors   the student; its spec's sampling defaults are DDIM (flow: Euler) at the round's steps, guidance 1
  config.json         the teacher's RunConfig with those defaults in model_args
  vocab.json, split.json   the teacher's
  distill.json        DistillConfig, the teacher, and one record per finished round
  samples/round-K.png the student's grid after round K

so ``prodgen generate OUT`` samples with the distilled sampler, and a Ctrl-C in
round K leaves rounds 1..K-1 (or nothing, in round 1). With ``overwrite``, an old run in ``out`` is moved aside
when round 1 finishes and deleted once the new folder is written (a Ctrl-C before that leaves it as it was).
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_bytes, write_json
from ..conditioning import condition_grid
from ..errors import UserError
from ..grid import save_grid
from ..models.base import WEIGHTS_NAME, save_state
from .dataset import TrainingData
from .distill_target import (flow_student_grid, flow_student_target, flow_velocity, predict_x0, student_grid,
                             student_target, teacher_two_euler_steps, teacher_two_steps, truncated_snr_weight)
from .loop import TrainLoop

DISTILL_NAME = "distill.json"
GRID_SEED = 1234


@dataclass
class DistillConfig:
    steps: int = 4  # the student's sampling steps after the last round
    start_steps: int = 16  # the teacher's DDIM steps in round 1 (its student takes half); steps * 2^k
    guidance: float | None = None  # guidance scale distilled into the student (None: the teacher's default)
    minutes: float | None = None  # training time of all rounds together, split evenly
    iterations: int | None = None  # optimisation steps per round
    batch_size: int = 32
    lr: float = 5e-5  # Adam, decayed linearly to 0 over each round
    warmup: int = 10  # steps of linear learning-rate warm-up at the start of each round
    seed: int = 0
    hflip: bool = True
    device: str = "auto"

    def rounds(self) -> list[int]:
        """The student step counts, one per round: start/2, start/4, ..., steps."""
        if self.steps < 1:
            raise UserError(f"--steps {self.steps} must be at least 1")
        out, n = [], self.start_steps
        while n > self.steps and n % 2 == 0:
            n //= 2
            out.append(n)
        if not out or out[-1] != self.steps:
            raise UserError(f"--start-steps {self.start_steps} does not halve down to --steps {self.steps}; use a "
                            f"start of --steps times a power of two (e.g. {self.steps * 4}).")
        return out

    def __post_init__(self) -> None:
        if self.minutes is None and self.iterations is None:
            raise UserError("give a distillation budget: --minutes M (all rounds) and/or --iterations N (per round).")
        if self.batch_size < 1 or self.lr <= 0:
            raise UserError("--batch-size must be >= 1 and --lr > 0")
        if self.guidance is not None and self.guidance < 0:
            raise UserError(f"--guidance {self.guidance} must be >= 0 (1: no guidance)")


class DistillRound(TrainLoop):
    """One round: the student learns in one DDIM (flow: Euler) step what the teacher does in two (``student_steps``
    grid)."""

    resume_hint = "prodgen distill ... (a new run; finished rounds are in --out)"
    divergence_fix = "lower --lr"

    def __init__(self, model, teacher_net, data: TrainingData, student_steps: int, guidance: float,
                 cfg: DistillConfig, minutes: float | None, label: str, console=None) -> None:
        super().__init__(None, steps=cfg.iterations, minutes=minutes, checkpoint_every=None, checkpoint_minutes=None,
                         log_every=None, console=console, device=next(teacher_net.parameters()).device)
        self.label = label
        self.images_per_step = cfg.batch_size
        self.model, self.cfg, self.data, self.guidance = model, cfg, data, guidance
        self.teacher = teacher_net.eval().requires_grad_(False)
        self.student = copy.deepcopy(teacher_net).train().requires_grad_(True)
        self.opt = torch.optim.Adam(self.student.parameters(), lr=cfg.lr)
        T = model.config.train_timesteps
        self.flow = model.config.objective == "flow"  # the Euler path of a flow run, else the DDIM path
        if self.flow:
            self.t, self.end = flow_student_grid(T, student_steps)
        else:
            self.t, self.end = student_grid(T, student_steps)
            self.mid = self.t - T // (2 * student_steps)
        self.gen = torch.Generator().manual_seed(cfg.seed * 1009 + student_steps)
        self.losses: list[float] = []

    def state(self) -> dict[str, Any]:  # rounds are not resumed: a Ctrl-C drops the unfinished one
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def train_step(self) -> dict[str, float]:
        m, dev, b = self.model, self.device, self.cfg.batch_size
        x, cond, text = self.data.batch(self.step, b, self.cfg.seed)
        x = x.to(dev).contiguous()
        if self.cfg.hflip:
            flip = torch.rand(b, generator=self.gen) < 0.5
            x = torch.where(flip.to(dev)[:, None, None, None], x.flip(3), x)
        drop = (torch.rand(b, generator=self.gen) < m.config.uncond_p).to(dev)  # keep an unconditional mode
        cond = cond * (~drop)[:, None]
        text = text * (~drop)[:, None].to(text.dtype) if text is not None else None
        i = torch.randint(len(self.t), (b,), generator=self.gen)
        eps = torch.randn(x.shape, generator=self.gen).to(dev)
        with torch.no_grad():
            emb_t = self.teacher.embed(cond, m.check_text(text, b, dev))
            null = _null_embedding(m, self.teacher, b, dev) if self.guidance != 1.0 else None
        emb_s = self.student.embed(cond, m.check_text(text, b, dev))
        loss = self._flow_loss(x, eps, i, emb_t, null, emb_s) if self.flow else self._ddim_loss(x, eps, i, emb_t, null, emb_s)
        self.check_finite(loss, "distillation loss")
        for g in self.opt.param_groups:
            g["lr"] = self.cfg.lr * min(1.0, (self.step + 1) / max(1, self.cfg.warmup)) * max(0.0, 1.0 - self.fraction_done())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.losses.append(float(loss.detach()))
        return {"loss": self.losses[-1]}

    def _ddim_loss(self, x, eps, i, emb_t, null, emb_s) -> torch.Tensor:
        """The paper's loss: the student's clean estimate against the one that makes its DDIM step land where the
        teacher's two land, weighted by the truncated SNR."""
        dev, ac = x.device, self.model.alphas_cumprod
        t, mid, end = self.t[i].to(dev), self.mid[i].to(dev), self.end[i].to(dev)
        a = ac.to(dev)[t].float()[:, None, None, None]
        z = a.sqrt() * x + (1 - a).sqrt() * eps
        with torch.no_grad():
            z_end = teacher_two_steps(self.teacher, z, t, mid, end, emb_t, ac, self.guidance, null)
            target = student_target(z, z_end, t, end, ac)
        per = (predict_x0(self.student, z, t, emb_s, ac) - target).pow(2).flatten(1).mean(1)
        return (truncated_snr_weight(ac, t) * per).mean()

    def _flow_loss(self, x, eps, i, emb_t, null, emb_s) -> torch.Tensor:
        """A flow run's: the student's velocity against the one whose Euler step lands where the teacher's two do."""
        dev, T = x.device, self.model.config.train_timesteps
        sigma, end = self.t[i].to(dev), self.end[i].to(dev)
        s = sigma[:, None, None, None]
        xt = (1 - s) * x + s * eps
        with torch.no_grad():
            x_end = teacher_two_euler_steps(self.teacher, xt, sigma, end, emb_t, T, self.guidance, null)
            target = flow_student_target(xt, x_end, sigma, end)
        return (flow_velocity(self.student, xt, sigma, emb_s, T) - target).pow(2).mean()


def _null_embedding(model, net, b: int, dev: torch.device) -> torch.Tensor:
    """The unconditional embedding (every attribute unspecified, no text) that guidance mixes in."""
    cond = torch.zeros(b, len(model.cond_sizes), dtype=torch.long, device=dev)
    return net.embed(cond, torch.zeros(b, model.text_dim, device=dev) if model.text_dim else None)


def student_model(model, net, steps: int):
    """A model whose sampling net is ``net`` and whose saved defaults are DDIM (a flow run: Euler) at ``steps``,
    guidance 1."""
    sampler = "euler" if model.config.objective == "flow" else "ddim"
    config = dataclasses.replace(model.config, sampler=sampler, steps=steps, guidance=1.0)
    out = type(model)(config, model.cond_sizes, model.resolution)
    out.net.load_state_dict(net.state_dict())
    return out.to(next(net.parameters()).device).eval()


def distill(run: str | Path, out: str | Path, cfg: DistillConfig, overwrite: bool = False, progress: bool = True,
            console=None) -> dict:
    """Distil ``run`` (a diffusion run folder) into the run folder ``out``; returns what distill.json records."""
    from ..config import RunConfig
    from ..device import resolve_device
    from ..sample import Pipeline
    from .run import CONFIG_NAME, check_new_run_dir, load_run_data

    run, out = Path(run), Path(out)
    pipe = Pipeline.from_pretrained(run, device=cfg.device)
    model = pipe.model
    if model.family != "diffusion":
        raise UserError(f"{run} is a {model.family} run; only diffusion samplers have steps to distil.")
    if model.config.latent:  # the rounds below train on pixels and rebuild the net without the autoencoder
        raise UserError(f"{run} is a latent diffusion run; distillation covers pixel diffusion runs (up to 128 px) "
                        "so far. Sample it with fewer --steps instead.")
    if model.config.image_condition:
        raise UserError(f"{run} draws from {model.config.image_condition} maps; distillation covers diffusion runs "
                        "without an image condition so far. Sample it with fewer --steps instead.")
    if model.config.objective == "edm":
        raise UserError(f"{run} is an EDM run; progressive distillation here follows the DDIM path of a diffusion "
                        "run or the Euler path of a flow run. Sample it with fewer --steps instead (its solvers take "
                        "any number).")
    if model.config.objective == "diffusion" and model.config.prediction_type != "v_prediction":
        raise UserError(f"{run} predicts {model.config.prediction_type}; progressive distillation here needs a "
                        "v-prediction run (the default of `prodgen train --model diffusion`).")
    if out.resolve() == run.resolve():
        raise UserError(f"--out {out} is the teacher's folder; give a new folder for the distilled run.")
    rounds = cfg.rounds()
    check_new_run_dir(out, overwrite)
    guidance = float(model.config.guidance if cfg.guidance is None else cfg.guidance)
    data = load_run_data(run, progress=progress).train.to(resolve_device(cfg.device))
    run_cfg = RunConfig.load(run / CONFIG_NAME)
    torch.manual_seed(cfg.seed)
    record: dict[str, Any] = {"teacher": str(run.resolve()), "teacher_weights_sha256": pipe.weights_hash,
                              "objective": model.config.objective,
                              "teacher_sampling": {"sampler": model.config.sampler, "steps": model.config.steps,
                                                   "guidance": model.config.guidance},
                              "config": dataclasses.asdict(cfg), "guidance_distilled": guidance, "rounds": [],
                              "status": "running"}
    teacher_net, teacher_steps = pipe.net, cfg.start_steps
    minutes = cfg.minutes / len(rounds) if cfg.minutes is not None else None
    for k, n in enumerate(rounds, 1):
        w = guidance if k == 1 else 1.0  # later teachers have the guidance inside
        loop = DistillRound(model, teacher_net, data, n, w, cfg, minutes,
                            label=f"distil round {k}/{len(rounds)} ({teacher_steps}->{n} steps)", console=console)
        t0 = time.monotonic()
        reason = loop.run(progress=progress)
        if reason.kind == "interrupted":
            record["status"] = f"interrupted in round {k}"
            break
        tail = loop.losses[-max(1, len(loop.losses) // 10):]
        record["rounds"].append({"round": k, "teacher_steps": teacher_steps, "student_steps": n,
                                 "teacher_guidance": w, "iterations": loop.step,
                                 "train_seconds": round(loop.elapsed, 1), "wall_seconds": round(time.monotonic() - t0, 1),
                                 "loss_first": round(loop.losses[0], 6), "loss_last_10pct": round(sum(tail) / len(tail), 6)})
        record["status"] = "complete" if k == len(rounds) else f"round {k} of {len(rounds)} done"
        _write_round(out, run, student_model(model, loop.student, n), run_cfg, record, k, pipe.vocab, loop.step)
        teacher_net, teacher_steps = loop.student.eval().requires_grad_(False), n
    if not record["rounds"]:
        return record
    if record["status"].startswith("interrupted"):
        write_json(out / DISTILL_NAME, record)
    return record


def _write_round(out: Path, run: Path, student, run_cfg, record: dict, k: int, vocab, iterations: int) -> None:
    """Write the finished round's run folder: weights first (they carry the sampling defaults), distill.json last."""
    from .run import CONFIG_NAME, SPLIT_NAME, VOCAB_NAME, _move_aside

    aside = _move_aside(out) if k == 1 and out.is_dir() and any(out.iterdir()) else None  # --overwrite: a stale
    out.mkdir(parents=True, exist_ok=True)  # ema.safetensors or samples of the old run must not outlive it
    save_state(out / WEIGHTS_NAME, student.state_dict(), student.spec, step=iterations, distill_round=k)
    cfg = copy.deepcopy(run_cfg)
    cfg.model_args = dataclasses.asdict(student.config)
    cfg.save(out / CONFIG_NAME)
    for name in (VOCAB_NAME, SPLIT_NAME):
        write_bytes(out / name, (run / name).read_bytes())
    grid = condition_grid(vocab, rows=8, cols=8)
    with torch.random.fork_rng():
        imgs = student.sample(len(grid.cond), grid.cond, generator=torch.Generator().manual_seed(GRID_SEED))
    save_grid(imgs, out / "samples" / f"round-{k}-{student.config.steps}-steps.png", grid.cols,
              row_labels=grid.row_labels, col_labels=grid.col_labels)
    write_json(out / DISTILL_NAME, record)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


__all__ = ["DISTILL_NAME", "DistillConfig", "DistillRound", "distill", "student_model"]
