"""Generate images from the DCGAN peer's last checkpoint, for evaluation next to prodgen.

The peer's ``Generator`` class is taken from its own ``dcgan/main.py`` (parsed with
``ast``, executed alone: the training script itself is not run) and its
``netG_epoch_N.pth`` state dict is loaded with ``weights_only=True``.

    .venv/bin/python bench/peers/dcgan_peer_samples.py --examples /tmp/pytorch-examples \
        --peer-out /tmp/dcgan-peer --n 2000 --out /tmp/dcgan-peer/samples.safetensors
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn


def peer_generator(examples: Path) -> type[nn.Module]:
    tree = ast.parse((examples / "dcgan" / "main.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Generator")
    ns = {"nn": nn, "torch": torch, "nz": 100, "ngf": 64, "nc": 3}
    exec(compile(ast.Module(body=[cls], type_ignores=[]), "dcgan/main.py", "exec"), ns)  # noqa: S102  (the peer's class only)
    return ns["Generator"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=Path, required=True)
    ap.add_argument("--peer-out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    ckpts = sorted(args.peer_out.glob("netG_epoch_*.pth"), key=lambda p: int(p.stem.split("_")[-1]))
    if not ckpts:
        raise SystemExit(f"no netG_epoch_*.pth in {args.peer_out}")
    G = peer_generator(args.examples)(1)
    G.load_state_dict(torch.load(ckpts[-1], map_location="cpu", weights_only=True))
    G.train()  # batch statistics, as the peer's own script makes its sample grids (netG(fixed_noise) in train mode)
    g = torch.Generator().manual_seed(args.seed)
    out = []
    with torch.no_grad():
        for i in range(0, args.n, 250):
            z = torch.randn(min(250, args.n - i), 100, 1, 1, generator=g)
            out.append(((G(z).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    save_file({"images": torch.cat(out).contiguous()}, str(args.out), metadata={"checkpoint": ckpts[-1].name})
    print(f"{args.n} images from {ckpts[-1].name} -> {args.out}")


if __name__ == "__main__":
    main()
