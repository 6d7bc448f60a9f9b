"""Tiny model configs and in-memory data shared by the tests."""

from __future__ import annotations

import torch

from prodgen.conditioning import Vocabulary
from prodgen.train.dataset import TrainingData

TINY_ARGS = {
    "gan": {"z_dim": 16, "cond_dim": 16, "g_base": 8, "g_cap": 32, "d_base": 8, "d_cap": 16},
    "vae": {"z_dim": 16, "cond_dim": 16, "dec_base": 8, "dec_cap": 32, "enc_base": 8, "enc_cap": 16},
    "diffusion": {"widths": [32, 64], "attention": [False, True], "steps": 3},
    "pix2pix": {"cond_dim": 16, "z_dim": 8, "g_base": 8, "g_cap": 32, "d_base": 8, "d_layers": 2},
}
COND_SIZES = [4, 5]


def shapes_data(n: int = 96, res: int = 32, seed: int = 0) -> tuple[TrainingData, Vocabulary]:
    """Two attributes: shape (square/disc/bar) and colour (red/green/blue/black), white background."""
    g = torch.Generator().manual_seed(seed)
    shapes, colours = ["square", "disc", "bar"], ["red", "green", "blue", "black"]
    rgb = {"red": (220, 30, 30), "green": (30, 180, 30), "blue": (30, 30, 220), "black": (10, 10, 10)}
    images = torch.full((n, 3, res, res), 255, dtype=torch.uint8)
    rows = []
    yy, xx = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    for i in range(n):
        s = shapes[int(torch.randint(3, (1,), generator=g))]
        c = colours[int(torch.randint(4, (1,), generator=g))]
        cy, cx = res // 2 + int(torch.randint(-2, 3, (1,), generator=g)), res // 2 + int(torch.randint(-2, 3, (1,), generator=g))
        if s == "square":
            m = ((yy - cy).abs() < res // 4) & ((xx - cx).abs() < res // 4)
        elif s == "disc":
            m = (yy - cy) ** 2 + (xx - cx) ** 2 < (res // 4) ** 2
        else:
            m = ((yy - cy).abs() < res // 10) & ((xx - cx).abs() < res * 3 // 8)
        for ch in range(3):
            images[i, ch][m] = rgb[c][ch]
        rows.append({"shape": s, "colour": c})
    vocab = Vocabulary.fit(["shape", "colour"], rows, min_count=1)
    return TrainingData(images, vocab.encode_records(rows), [f"x{i}" for i in range(n)]), vocab

# Large enough to learn shape and colour of shapes_data in ~300 steps (about 25 s on 2 cores).
SMALL_ARGS = {
    "gan": {"z_dim": 64, "cond_dim": 64, "g_base": 32, "g_cap": 128, "d_base": 32, "d_cap": 128},
    "vae": {"z_dim": 32, "cond_dim": 32, "dec_base": 16, "dec_cap": 64, "enc_base": 16, "enc_cap": 64},
    "diffusion": {"widths": [64, 128], "attention": [False, True], "patch": 2, "lr": 1e-3, "steps": 10},
}


def train_tiny_run(out, family: str = "gan", steps: int = 3, train_args: dict | None = None, **model_args):
    """A tiny run folder trained ``steps`` steps on the synthetic catalog at 32 px (category, colour); ``model_args``
    override the family's tiny ones, ``train_args`` the TrainConfig's settings."""
    from prodgen.config import ConditionConfig, DataConfig, RunConfig, TrainConfig
    from prodgen.train import train

    cfg = RunConfig(model=family, model_args={**TINY_ARGS[family], **model_args},
                    condition=ConditionConfig(attributes=["category", "colour"], min_count=1),
                    data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=120),
                    train=TrainConfig(**{"steps": steps, "batch_size": 8, "sample_every": 1000, "checkpoint_every": 0,
                                         "log_every": 1, **(train_args or {})}))
    train(cfg, out, progress=False)
    return out
