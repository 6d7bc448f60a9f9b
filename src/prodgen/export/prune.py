"""Channel pruning of a GAN's generator, then a short distillation from the full generator.

``prune_gan(run, out, keep=0.5, minutes=5)`` writes a new run folder whose generator keeps ``keep`` of the channels of
every layer (the output layer's 3 colours excepted), so it is an ordinary GAN run with narrower widths (``g_base`` and
``g_cap`` scaled by ``keep``): ``prodgen generate``/``evaluate``/``export`` use it unchanged.

1. *Which channels*: a channel's importance is what it passes on (Molchanov et al. 2019, "Importance estimation for
   neural network pruning", first-order view): the mean absolute activation after its batch norm and ReLU, over
   samples of the run's own training conditions, times the L1 norm of the next layer's weights that read it. The
   producing filter's own norm (Li et al. 2017) means nothing here: conditional batch norm rescales every channel.
2. *Recovering quality*: the pruned generator learns to reproduce the full one (the teacher, the run's EMA generator)
   for the same noise and condition, by L1 between their images (the reconstruction part of GAN Compression's
   distillation, Li et al. 2020, https://arxiv.org/abs/2003.08936); then its batch-norm statistics are recomputed
   (``train.ema.recalibrate_bn``). Measured: adding the run's discriminator, frozen, as an adversarial term (weight
   0.05) let the student exploit it: L1 to the teacher rose from 0.20 to 0.59 in 400 steps and FID-P went from 75 to
   2,059 (bench/results/prune_frozen_d.json, runs/gan64), so there is none; GAN Compression trains its
   discriminator alongside, which costs a second network.

Written by hand rather than with torch-pruning (DepGraph): the decoder's channel map is four tensors per layer
(conv, the two halves of the FiLM layer, the batch-norm statistics), and the whole mapping is ``_select`` below.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import write_json
from ..conditioning.title_prior import PRIOR_FILES
from ..errors import UserError

COPIED = ("vocab.json", "split.json")
PRUNED_NAME = "pruned.json"  # what was pruned from which run, and how the student was distilled


def _decoder_layers(dec) -> list[tuple[nn.Module, nn.Module]]:
    """(producer, conditional BN) of each hidden stage: the fc layer for 4x4, then each UpBlock's conv."""
    return [(dec.fc, dec.norm0)] + [(up.conv, up.norm) for up in dec.ups]


@torch.no_grad()
def channel_importance(model, cond_pool: torch.Tensor, text_pool: torch.Tensor | None = None, n: int = 256,
                       seed: int = 0) -> list[torch.Tensor]:
    """Per hidden stage, (C,) importance of each channel: mean |activation| times the next layer's L1 weight norm."""
    dec = model.generator.decoder
    acts: list[torch.Tensor] = []
    hooks = [norm.register_forward_hook(lambda m, i, o: acts.append(F.relu(o).abs().mean(dim=(0, 2, 3))))
             for _, norm in _decoder_layers(dec)]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(cond_pool), (n,), generator=g)
    try:
        model.generator.eval()
        model.sample(n, cond_pool[idx], generator=g, net=model.generator,
                     text=text_pool[idx] if text_pool is not None else None)
    finally:
        for h in hooks:
            h.remove()
    readers = [up.conv.weight.abs().sum(dim=(1, 2, 3)) for up in dec.ups] + [dec.to_rgb.weight.abs().sum(dim=(0, 2, 3))]
    return [a * r for a, r in zip(acts, readers)]


def _keep_widths(cfg, resolution: int, keep: float):
    from ..models.blocks import decoder_widths, default_decoder_base

    base = cfg.g_base or default_decoder_base(resolution)
    nb, ncap = base * keep, cfg.g_cap * keep
    if abs(nb - round(nb)) > 1e-6 or abs(ncap - round(ncap)) > 1e-6 or round(nb) < 1:
        raise UserError(f"--keep {keep} does not divide the generator's widths (base {base}, cap {cfg.g_cap}) into "
                        "whole channels; try 0.5 or 0.75")
    old = decoder_widths(resolution, cfg.g_base, cfg.g_cap)
    new = decoder_widths(resolution, int(round(nb)), int(round(ncap)))
    return dataclasses.replace(cfg, g_base=int(round(nb)), g_cap=int(round(ncap))), old, new


@torch.no_grad()
def _select(student, teacher, kept: list[torch.Tensor]) -> None:
    """Copy the teacher's weights into the narrower student, keeping channels ``kept[i]`` of hidden stage i."""
    sd, td = student.generator.decoder, teacher.generator.decoder
    student.generator.embed.load_state_dict(teacher.generator.embed.state_dict())
    student.discriminator.load_state_dict(teacher.discriminator.state_dict())
    for i, ((sp, sn), (tp, tn)) in enumerate(zip(_decoder_layers(sd), _decoder_layers(td))):
        k = kept[i]
        if i == 0:  # fc: output row = channel * 16 + position of the 4x4 map
            rows = (k[:, None] * 16 + torch.arange(16)).reshape(-1)
            sp.weight.copy_(tp.weight[rows])
            sp.bias.copy_(tp.bias[rows])
        else:  # ConvTranspose2d weight: (in, out, kh, kw)
            sp.weight.copy_(tp.weight[kept[i - 1]][:, k])
        c = tn.bn.num_features
        sn.film.weight.copy_(tn.film.weight[torch.cat([k, k + c])])
        sn.film.bias.copy_(tn.film.bias[torch.cat([k, k + c])])
        sn.bn.running_mean.copy_(tn.bn.running_mean[k])
        sn.bn.running_var.copy_(tn.bn.running_var[k])
    sd.to_rgb.weight.copy_(td.to_rgb.weight[:, kept[-1]])
    sd.to_rgb.bias.copy_(td.to_rgb.bias)
    for key, sg in sd.sle.items():  # skip-layer excitation: stage i's gate reads stage i - gap, one number per channel
        tg, i = td.sle[key], int(key)
        hi, lo = kept[i], kept[i - td.sle_gap]
        sg.gate[1].weight.copy_(tg.gate[1].weight[hi][:, lo])  # conv 4x4: (C_high, C_low, 4, 4)
        sg.gate[1].bias.copy_(tg.gate[1].bias[hi])
        sg.gate[3].weight.copy_(tg.gate[3].weight[hi][:, hi])  # conv 1x1: (C_high, C_high, 1, 1)
        sg.gate[3].bias.copy_(tg.gate[3].bias[hi])


def prune_gan(run_dir: str | Path, out: str | Path, keep: float = 0.5, minutes: float | None = 5.0,
              steps: int | None = None, batch_size: int = 64, lr: float = 2e-4, seed: int = 0,
              overwrite: bool = False, progress: bool = True) -> dict:
    """Prune ``run_dir``'s generator to ``keep`` of its channels, distil it for ``minutes`` (or ``steps``) and write a
    new run folder ``out``; returns what its ``pruned.json`` records."""
    from ..config import RunConfig
    from ..models import model_class
    from ..progress import progress_bar
    from ..runfiles import folder_kind
    from ..sample import Pipeline
    from ..train.ema import recalibrate_bn
    from ..train.run import load_run_data

    if not 0 < keep < 1:
        raise UserError(f"--keep {keep} must lie in (0, 1): the fraction of each layer's channels that stays")
    if minutes is None and steps is None:
        raise UserError("give --minutes or --steps for the distillation")
    run_dir, out = Path(run_dir), Path(out)
    teacher_pipe = Pipeline.from_pretrained(run_dir, device="cpu")  # the EMA generator: what users sample today
    teacher = teacher_pipe.model
    if teacher.family != "gan":
        raise UserError(f"{run_dir} is a {teacher.family} run; channel pruning covers GAN generators")
    if getattr(teacher.config, "arch", "dcgan") != "dcgan":
        raise UserError(f"{run_dir} uses arch={teacher.config.arch} (R3GAN's residual networks); channel pruning covers "
                        "the dcgan generator only; export it unpruned (`prodgen export`)")
    replace = out.exists() and any(out.iterdir())
    if replace and not overwrite:
        raise UserError(f"{out} exists and is not empty; choose another --out or add --overwrite")
    if replace and folder_kind(out) != "generator":  # --overwrite replaces a run, never other files
        raise UserError(f"{out} is not a prodgen run folder; --overwrite only replaces runs. Choose a new or empty --out.")
    cfg = RunConfig.load(run_dir / "config.json")
    new_cfg, old_w, new_w = _keep_widths(teacher.config, teacher.resolution, keep)
    student = model_class("gan")(new_cfg, teacher.cond_sizes, teacher.resolution)
    train = load_run_data(run_dir, cfg, progress=progress).train  # its split, ids and encoded titles, as trained
    text_pool = train.text if teacher.text_dim else None
    scores = channel_importance(teacher, train.cond, text_pool, seed=seed)
    kept = [s.argsort(descending=True)[:w].sort().values for s, w in zip(scores, new_w)]
    _select(student, teacher, kept)
    kept_share = [float(s[k].sum() / s.sum()) for s, k in zip(scores, kept)]

    teacher.requires_grad_(False).eval()
    g_s = student.generator.train()
    opt = torch.optim.Adam(g_s.parameters(), lr=lr, betas=(0.0, 0.99))
    gen = torch.Generator().manual_seed(seed)
    t0, step, losses = time.perf_counter(), 0, []
    limit = steps if steps is not None else 10**9
    with progress_bar("distilling the pruned generator", steps, unit="step", enabled=progress) as bar:
        try:
            while step < limit and (minutes is None or time.perf_counter() - t0 < minutes * 60):
                idx = torch.randint(len(train.cond), (batch_size,), generator=gen)
                cond = train.cond[idx]
                text = text_pool[idx] if text_pool is not None else None
                z = teacher.latent_noise(batch_size, gen)
                with torch.no_grad():
                    target = teacher.generator(z, cond, text)
                fake = g_s(z, cond, text)
                l1 = (fake - target).abs().mean()
                if not torch.isfinite(l1):
                    raise UserError(f"the distillation loss became {float(l1)} at step {step}; lower --lr")
                opt.zero_grad(set_to_none=True)
                l1.backward()
                opt.step()
                step += 1
                losses.append(float(l1.detach()))
                frac = step / steps if steps else (time.perf_counter() - t0) / (minutes * 60)
                bar.update(step, fraction=frac, info=f"L1 {losses[-1]:.3f}")
        except KeyboardInterrupt:  # keep what was learnt so far: the pruned run is still written
            if step == 0:
                raise
    recalibrate_bn(student, g_s, train.cond, text_pool=text_pool)
    record = {"from": str(run_dir.resolve()), "keep": keep, "widths_before": old_w, "widths_after": new_w,
              "importance_kept": [round(x, 4) for x in kept_share], "distil_steps": step,
              "distil_seconds": round(time.perf_counter() - t0, 1), "batch_size": batch_size, "lr": lr,
              "l1_first": round(losses[0], 4) if losses else None,
              "l1_last": round(sum(losses[-20:]) / max(len(losses[-20:]), 1), 4) if losses else None}
    if replace:  # only now: a failed or interrupted distillation leaves the old run as it was
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED + PRIOR_FILES:
        if name in COPIED or (run_dir / name).exists():  # the title prior is optional
            shutil.copy2(run_dir / name, out / name)
    d = cfg.to_dict()
    d["model_args"] = dataclasses.asdict(new_cfg)
    student.save_pretrained(out)
    from ..models.base import EMA_NAME, save_state

    save_state(out / EMA_NAME, g_s.state_dict())
    write_json(out / "config.json", d)
    write_json(out / PRUNED_NAME, record)
    return record


__all__ = ["channel_importance", "prune_gan"]
