"""Seconds per GAN training step, arch=dcgan against arch=r3gan (R3GAN's networks), each with hinge and rpgan.

    .venv/bin/python bench/gan_arch_speed.py [--resolution 64] [--batch 64] [--steps 20] [--threads 1]
        [--model-arg r3_group=8 ...]   # extra settings for the r3gan configurations (explore widths)

One step is what the trainer does per phase (train/trainer.py): ``model.loss(phase, ...)``, backward, Adam step,
for D then G, on random images in channels_last like the trainer, with the default DiffAugment. rpgan runs with
``r1_gamma = r2_gamma = 1, reg_every = 4``, so a D step carries the R1/R2 penalties one step in four: the figure
to compare is the mean over whole periods of 4 steps (``--steps`` is rounded up to a multiple of 4); the median is
reported too. The configurations take turns step by step, so a change of background load falls on all of them.
Times are the process's CPU time (with one torch thread it barely depends on other jobs on the machine) and wall
clock. Writes bench/results/gan_arch_speed.json (command and machine inside).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402

REG_EVERY = 4
LOSSES = {"hinge": {"loss": "hinge"},
          "rpgan": {"loss": "rpgan", "r1_gamma": 1.0, "r2_gamma": 1.0, "reg_every": REG_EVERY}}


def parse_args(items: list[str]) -> dict:
    out = {}
    for item in items:
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per configuration (rounded up to a multiple of 4)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--text-dim", type=int, default=384, help="title-vector size (0: no text), as in text runs")
    ap.add_argument("--archs", default="dcgan,r3gan", help="comma-separated; dcgan+sle: with skip-layer excitation")
    ap.add_argument("--model-arg", action="append", default=[], help="name=value for the r3gan configurations")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "gan_arch_speed.json")
    ap.add_argument("--note")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    machine = machine_info(args.note)
    from prodgen.models.gan import ConditionalGAN, GANConfig, r3_blocks, r3_widths
    from prodgen.models.r3gan_nets import conv_groups

    steps = -(-args.steps // REG_EVERY) * REG_EVERY
    cond_sizes = (100, 40)  # about articleType and baseColour of the fashion catalog
    extra = parse_args(args.model_arg)
    torch.manual_seed(0)
    b, r = args.batch, args.resolution
    x = (torch.rand(b, 3, r, r) * 2 - 1).contiguous(memory_format=torch.channels_last)
    cond = torch.stack([torch.randint(0, s, (b,)) for s in cond_sizes], dim=1)
    text = None
    if args.text_dim:
        text = torch.nn.functional.normalize(torch.randn(b, args.text_dim), dim=1)

    configs = {}
    for token in args.archs.split(","):
        arch, _, plus = token.partition("+")  # "dcgan+sle": the dcgan generator with skip-layer excitation
        for lname, largs in LOSSES.items():
            cfg = GANConfig(arch=arch, text_dim=args.text_dim, **largs, **(extra if arch == "r3gan" else {}),
                            sle=plus == "sle",  # explicit: plain "dcgan" is without SLE, as its recorded rows
                            diffaugment=["color", "translation", "cutout"])  # as recorded (the default before session 17)
            model = ConditionalGAN(cfg, cond_sizes, r).to(memory_format=torch.channels_last).train()
            optims = {p: torch.optim.Adam(model.phase_parameters(p), **model.optimizer_settings(p)) for p in model.phases}
            info = {"arch": token, "loss": lname, "model_args": {k: v for k, v in vars(cfg).items()
                                                               if k in {"arch", *largs, *extra}},
                    "params_g": sum(p.numel() for p in model.generator.parameters()),
                    "params_d": sum(p.numel() for p in model.discriminator.parameters())}
            if arch == "r3gan":
                gw, dw = r3_widths(cfg, r)
                info.update(widths_g=gw, widths_d=dw, blocks_g=r3_blocks(cfg, r),
                            groups_g=[conv_groups(w * cfg.r3_expansion, cfg.r3_group) for w in gw])
            configs[f"{token}/{lname}"] = (model, optims, info, {p: {"cpu": [], "wall": []} for p in model.phases})

    def step(model, optims, times=None):
        for phase in model.phases:
            t, c = time.perf_counter(), time.process_time()
            loss = model.loss(phase, x, cond, text)["loss"]
            optims[phase].zero_grad(set_to_none=True)
            loss.backward()
            optims[phase].step()
            if times is not None:
                times[phase]["cpu"].append(time.process_time() - c)
                times[phase]["wall"].append(time.perf_counter() - t)

    t0 = time.perf_counter()
    for name, (model, optims, _, _) in configs.items():
        for _ in range(args.warmup):
            step(model, optims)
        model._d_steps = 0  # timed D steps start a lazy-regularisation period
    for i in range(steps):
        for name, (model, optims, _, times) in configs.items():
            step(model, optims, times)
        print(f"step {i + 1}/{steps} ({time.perf_counter() - t0:.0f} s)", flush=True)

    results = {}
    for name, (_, _, info, times) in configs.items():
        row = dict(info)
        for phase, tt in times.items():
            for kind, v in tt.items():
                row[f"{phase}_{kind}_mean_s"] = round(statistics.mean(v), 4)
                row[f"{phase}_{kind}_median_s"] = round(statistics.median(v), 4)
        row["step_cpu_s"] = round(row["d_cpu_mean_s"] + row["g_cpu_mean_s"], 4)
        row["step_wall_s"] = round(row["d_wall_mean_s"] + row["g_wall_mean_s"], 4)
        results[name] = row
        print(name, {k: v for k, v in row.items() if k.endswith("_s")}, flush=True)
    ratios = {}
    for lname in LOSSES:
        a = results.get(f"dcgan/{lname}")
        for other in ("r3gan", "dcgan+sle"):
            bb = results.get(f"{other}/{lname}")
            if a and bb:
                ratios[f"{other}_over_dcgan_{lname}_cpu"] = round(bb["step_cpu_s"] / a["step_cpu_s"], 3)
                ratios[f"{other}_over_dcgan_{lname}_wall"] = round(bb["step_wall_s"] / a["step_wall_s"], 3)
    print(ratios)
    result = {"command": command_line(), "machine": machine, "resolution": r, "batch": b, "threads": args.threads,
              "text_dim": args.text_dim, "cond_sizes": list(cond_sizes), "timed_steps": steps, "warmup": args.warmup,
              "step": "per phase (d, then g): model.loss + backward + Adam step; channels_last; default DiffAugment",
              "figure": "step_*_s: mean D + mean G seconds over whole reg_every=4 periods (cpu: process CPU time)",
              "total_wall_s": round(time.perf_counter() - t0, 1), "results": results, "ratios": ratios}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
