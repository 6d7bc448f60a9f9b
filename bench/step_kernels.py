"""Kernel timings behind three changes to the training step (session 20), one thread, batch 64 / 128 as in the
25-minute GAN recipe. Each row times the old and the new way of the same computation on this CPU:

- minibatch std: ``var(dim=1)`` over the 5-d group view (batch 128, 256 x 4 x 4) against the variance written out;
- SLE's pool on a map that is already 4x4 (batch 64, 256 channels, bf16) against skipping it;
- Adam's step for the GAN's G and D parameters: the per-tensor loop (torch's CPU default) against ``fused=True``.
(The EMA update as one ``torch._foreach_lerp_`` was 0.61 against 0.68 ms: not worth a private API; not kept.)

    .venv/bin/python bench/step_kernels.py     # -> bench/results/quality/step_kernels.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from machine import command_line, machine_info  # noqa: E402

from prodgen.models.gan import ConditionalGAN, GANConfig  # noqa: E402

OUT = HERE / "results" / "quality" / "step_kernels.json"


def ms(f, n: int = 40) -> float:
    for _ in range(3):
        f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return round((time.perf_counter() - t) / n * 1e3, 3)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    h = torch.randn(128, 256, 4, 4).contiguous(memory_format=torch.channels_last).reshape(32, 4, 256, 4, 4)
    rows.append({"what": "minibatch std, batch 128, 256 x 4 x 4, fp32", "old": "var(dim=1)", "new": "written out",
                 "old_ms": ms(lambda: h.var(dim=1, unbiased=False)),
                 "new_ms": ms(lambda: (h - h.mean(dim=1, keepdim=True)).square().mean(dim=1))})
    low = torch.randn(64, 256, 4, 4, dtype=torch.bfloat16)  # G's 4x4 map is NCHW-contiguous (a linear's output)
    rows.append({"what": "SLE pool of a 4x4 map, batch 64, 256 channels, bf16, NCHW", "old": "adaptive_avg_pool2d(4)",
                 "new": "skipped (identity)", "old_ms": ms(lambda: F.adaptive_avg_pool2d(low, 4)), "new_ms": 0.0})
    model = ConditionalGAN(GANConfig(sle=True), (20, 20), 64)  # the recipe's widths at 64 px
    params = [p for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    loop = torch.optim.Adam(params, lr=1e-4, betas=(0.0, 0.99))
    fused = torch.optim.Adam(params, lr=1e-4, betas=(0.0, 0.99), fused=True)
    rows.append({"what": f"Adam step, G + D ({sum(p.numel() for p in params) / 1e6:.2f} M parameters, "
                         f"{len(params)} tensors)", "old": "per-tensor loop (CPU default)", "new": "fused=True",
                 "old_ms": ms(loop.step), "new_ms": ms(fused.step)})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"command": command_line(), "machine": machine_info(), "threads": 1, "rows": rows},
                              indent=2) + "\n")
    for r in rows:
        print(f"{r['what']}: {r['old_ms']} -> {r['new_ms']} ms")


if __name__ == "__main__":
    main()
