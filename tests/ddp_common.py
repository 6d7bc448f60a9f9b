"""The tiny data-parallel training both tests/test_distributed.py (one process) and tests/ddp_script.py (torchrun)
run: the same models, data, seed and global batch."""

from __future__ import annotations

import torch
from tiny import TINY_ARGS, shapes_data

from prodgen.config import TrainConfig
from prodgen.models import model_class
from prodgen.train.trainer import Trainer

FAMILIES = ("vae", "diffusion", "gan")
STEPS = 6
BATCH = 8  # global


def train_in_memory(family: str, world=None) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
    """(final weights + the initial ones under "start.<name>", per-step logs) of ``STEPS`` steps at global batch ``BATCH`` (hflip and condition dropout on)."""
    data, vocab = shapes_data(n=48, res=32)
    torch.manual_seed(0)
    args = dict(TINY_ARGS[family])
    if family == "gan":
        args["r1_gamma"] = 1.0  # the R1 penalty (autograd.grad with create_graph) must survive gradient averaging
        # mode seeking (on by default) pairs rows within each process's share of the batch, and its 1 / ratio is
        # taken per process, so W processes are a different (equally valid) draw of pairs than one process, not the
        # same computation: off here, where the data-parallel machinery itself is checked (distributed.py)
        args["mode_seeking"] = 0.0
    model = model_class(family).from_args(args, vocab.sizes, 32)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=STEPS, batch_size=BATCH, seed=3, device="cpu", sample_every=10_000, checkpoint_every=0,
                      checkpoint_minutes=0, log_every=0, hflip=True)
    trainer = Trainer(model, data, vocab, None, cfg, cond_dropout=0.2, world=world)
    logs = []
    for _ in range(STEPS):
        logs.append(trainer.train_step())
        trainer.step += 1
    end = {k: v.detach().clone().contiguous() for k, v in trainer.model.state_dict().items()}
    return {**end, **{f"start.{k}": v.contiguous() for k, v in start.items()}}, logs
