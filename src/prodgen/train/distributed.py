"""Data-parallel training over several processes and machines, launched by ``torchrun``.

``torchrun --nproc-per-node N -m prodgen train ...`` (and ``--nnodes M --rdzv-backend c10d --rdzv-endpoint
host:port`` across machines) runs ``prodgen train`` unchanged in N x M processes; ``World.from_env`` reads the
variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK) and joins the process group: gloo on the CPU, NCCL on
CUDA (each process on GPU LOCAL_RANK). Without them (a plain ``prodgen train``) the world is one process and
nothing here costs anything.

What each process does (``train/trainer.py`` and ``train/loop.py`` use this):

- **Data**: ``--batch-size`` stays the *global* batch B. Every step, every rank computes the same global batch
  indices (a function of seed and step) and takes its B/W rows of the cached tensors.
- **Randomness**: all ranks start from the same seed and share one RNG stream: each random draw of a step is made
  for the global batch and sliced (``prodgen.noise``). Hence W processes x B/W reproduce one process x B, up to
  floating-point summation order (``tests/test_distributed.py`` checks VAE, diffusion and GAN). One exception:
  the GAN's mode-seeking term (on by default) pairs the two halves of each process's own rows and takes its
  1 / ratio per process, so a W-process run draws other pairs than one process (the same term in distribution, not
  the same numbers); the test checks the GAN with it off.
- **Gradients**: after each backward, one all-reduce averages the gradients of the phase's parameters
  (``average_gradients``). Why not ``torch.nn.parallel.DistributedDataParallel``: the GAN's discriminator phase
  calls the discriminator twice per step and its R1 penalty differentiates through ``torch.autograd.grad`` with
  ``create_graph=True``, which DDP's reducer does not support; StyleGAN2-ADA's training loop (NVIDIA) averages
  gradients the same way. The collectives are torch.distributed's (gloo/NCCL).
- **Batch norm**: with several processes, batch-norm layers compute their batch statistics over the global
  batch (``SyncBatchNorm2d`` below: sums all-reduced with the differentiable
  ``torch.distributed.nn.functional.all_reduce``, on CPU and CUDA). Not ``torch.nn.SyncBatchNorm``: it refuses
  CPU tensors (torch 2.13), and it synchronises in every training-mode forward, so rank 0's BN recalibration
  before a checkpoint (the other ranks are not there) would hang; ours synchronises only inside a training step
  (``syncing``).
- **Writing**: only rank 0 writes checkpoints, samples, metrics and the run page, and only it shows progress.
- **Stopping**: ranks agree every step (``agree_stop``): Ctrl-C on any rank stops all; the ``--minutes`` budget is
  rank 0's clock; a NaN loss on any rank stops all with the same error. A rank that dies (killed, out of memory)
  makes torchrun stop the others; a rank stuck in a collective gives up after ``PRODGEN_DIST_TIMEOUT_S``
  (default 1800: rank 0 may first fit a ProductNet for --eval-every) seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UserError

_SYNC_BN = False  # True inside a training step of a multi-process world


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto") -> World:
        """The torchrun world (joining its process group on first use), or a one-process world."""
        size = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if size <= 1:
            return cls()
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
            if cuda:
                torch.cuda.set_device(local)
            timeout = dt.timedelta(seconds=float(os.environ.get("PRODGEN_DIST_TIMEOUT_S", "1800")))
            dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
        return cls(rank, size, local)

    def device(self, name: str) -> str:
        """The torch device of this rank: cuda -> cuda:LOCAL_RANK."""
        if self.active and (name == "cuda" or (name == "auto" and torch.cuda.is_available())):
            return f"cuda:{self.local_rank}"
        return name

    def local_batch(self, global_batch: int) -> int:
        if global_batch % self.size:
            raise UserError(f"--batch-size {global_batch} is the global batch and must divide evenly over the "
                            f"{self.size} processes; use a multiple of {self.size}")
        return global_batch // self.size

    # -- collectives (no-ops in a one-process world) --------------------------------------------------------------
    def average_gradients(self, params: Iterable[nn.Parameter]) -> None:
        """Average the gradients of ``params`` over the ranks: one all-reduce of one flat buffer."""
        if not self.active:
            return
        import torch.distributed as dist

        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.size
        i = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[i:i + n].view_as(g))
            i += n

    def sum_tensor(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` summed over the ranks (a new tensor; not differentiable)."""
        import torch.distributed as dist

        out = t.detach().clone()
        dist.all_reduce(out)
        return out

    def mean_floats(self, values: dict[str, float], device: torch.device) -> dict[str, float]:
        """The mean over ranks of each logged value (every rank logs the same keys)."""
        if not self.active or not values:
            return values
        import torch.distributed as dist

        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return {k: float(v) / self.size for k, v in zip(keys, t.tolist())}

    def any(self, flag: bool, device: torch.device) -> bool:
        if not self.active:
            return flag
        import torch.distributed as dist

        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def agree_stop(self, interrupted: bool, main_code: int, device: torch.device) -> tuple[bool, int]:
        """(any rank interrupted, rank 0's code): the budget is rank 0's decision, a Ctrl-C anyone's."""
        if not self.active:
            return interrupted, main_code
        import torch.distributed as dist

        t = torch.tensor([int(interrupted), main_code if self.is_main else 0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t[0].item()), int(t[1].item())

    def broadcast_module(self, module: nn.Module) -> None:
        """Rank 0's parameters and buffers everywhere (they already agree when every rank seeded alike)."""
        if not self.active:
            return
        import torch.distributed as dist

        with torch.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, 0)

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def shutdown(self) -> None:
        """Leave the process group. On a clean exit (no exception propagating: call it from ``finally``) every rank
        first waits for the others, so none tears gloo down while a peer still writes its results: a fresh-clone
        `make test` once saw rank 1 abort ("terminate called without an active exception") at the end of a
        successful run (session 12); 24 stress runs could not reproduce it, so the cause is not proven."""
        if self.active:
            import torch.distributed as dist

            if dist.is_initialized():
                if sys.exc_info()[0] is None:
                    dist.barrier()
                dist.destroy_process_group()


@contextlib.contextmanager
def syncing(world: World) -> Iterator[None]:
    """Batch-norm statistics over the global batch inside (a training step)."""
    global _SYNC_BN
    saved, _SYNC_BN = _SYNC_BN, world.active
    try:
        yield
    finally:
        _SYNC_BN = saved


class SyncBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training statistics cover every rank's rows (inside ``syncing``); CPU and CUDA.

    Forward: the global mean (all-reduced sums and counts), then the global biased variance (all-reduced sums of
    squared deviations; both all-reduces differentiable) normalise; the running variance gets the unbiased one,
    as ``nn.BatchNorm2d`` does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _SYNC_BN):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        n_local = torch.tensor([float(x.shape[0] * x.shape[2] * x.shape[3])], dtype=x.dtype, device=x.device)
        with warnings.catch_warnings():  # "deprecated, use the private _functional_collectives": still the public one
            warnings.simplefilter("ignore", FutureWarning)
            s1 = all_reduce(torch.cat([x.sum(dim=(0, 2, 3)), n_local]))
            n = s1[c]
            mean = s1[:c] / n
            # two passes, as nn.BatchNorm2d: E[x^2] - E[x]^2 loses digits when the mean dwarfs the spread
            # (a white catalog background), which measurably changed the VAE's step (1.7e-5 relative loss error)
            var = all_reduce(((x - mean[None, :, None, None]) ** 2).sum(dim=(0, 2, 3))) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach() * m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)).detach() * m)
        y = (x - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def convert_sync_batchnorm(module: nn.Module, world: World) -> nn.Module:
    """Every ``nn.BatchNorm2d`` in ``module`` made batch-synchronised for ``world`` (same names and state dict)."""
    if not world.active:
        return module
    for name, child in list(module.named_children()):
        if type(child) is nn.BatchNorm2d:
            new = SyncBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats,
                                  device=child.running_mean.device if child.running_mean is not None else None)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_sync_batchnorm(child, world)
    return module


def is_main_process() -> bool:
    """False on every torchrun rank but 0 (for the CLI's printing and report writing)."""
    return int(os.environ.get("RANK", "0") or 0) == 0


__all__ = ["SyncBatchNorm2d", "World", "convert_sync_batchnorm", "is_main_process", "syncing"]
