"""Run by tests/test_distributed.py under ``torchrun``: train tiny GAN/VAE/diffusion models data-parallel in memory
and write rank 0's final weights and per-step losses (safetensors + JSON), for comparison with one process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ddp_common import FAMILIES, train_in_memory  # noqa: E402

from prodgen.train.distributed import World  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1])
    families = sys.argv[2].split(",") if len(sys.argv) > 2 else list(FAMILIES)
    torch.set_num_threads(1)
    world = World.from_env("cpu")
    try:
        for fam in families:
            weights, losses = train_in_memory(fam, world)
            if world.is_main:
                from safetensors.torch import save_file

                save_file(weights, str(out / f"{fam}-w{world.size}.safetensors"))
                (out / f"{fam}-w{world.size}.json").write_text(json.dumps(losses))
    finally:
        world.shutdown()


if __name__ == "__main__":
    main()
