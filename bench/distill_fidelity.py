"""How closely each distilled student reproduces its target sampler: the teacher's 16-step guided DDIM.

    python bench/distill_fidelity.py --teacher runs/fam-diffusion --guidance 3 \
        --students runs/fam-diffusion-d8 runs/fam-diffusion-d4 runs/fam-diffusion-d2
    python bench/distill_fidelity.py --teacher runs/fam-flow --guidance 3 --ref-steps 8 --split val \
        --students runs/fam-flow-d4 runs/fam-flow-d2 --out bench/results/distill_flow_fidelity.json

A flow-matching teacher's sampler is Euler (its round 1 distilled 8 steps: --ref-steps 8).

For ``--n`` test-split conditions and seeds: the mean absolute pixel difference ([-1, 1] scale) from the teacher's
16-step DDIM images (what round 1 distilled; later rounds distil the previous student) of (a) the teacher's own DDIM at
the student's step count and (b) the student at its saved defaults. Progressive distillation works when (b) < (a):
the student reaches the many-step sampler's images in fewer steps than the teacher can. Writes a JSON beside the
distill table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

from prodgen.config import RunConfig  # noqa: E402
from prodgen.evaluate.evaluate import load_catalog_images, split_images  # noqa: E402
from prodgen.sample import Pipeline  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", type=Path, default=Path("runs/fam-diffusion"))
    ap.add_argument("--students", type=Path, nargs="+")
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--ref-steps", type=int, default=16, help="the teacher's steps that round 1 distilled")
    ap.add_argument("--split", default="test", choices=["val", "test"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "distill_fidelity.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info()
    teacher = Pipeline.from_pretrained(args.teacher, device="cpu")
    data = load_catalog_images(RunConfig.load(args.teacher / "config.json"), args.teacher, progress=False)
    cond = split_images(data, teacher.vocab, args.split).cond[: args.n]
    seeds = list(range(len(cond)))
    solver = "euler" if teacher.model.config.objective == "flow" else "ddim"
    sampling = lambda k: {"sampler": solver, "steps": k, "guidance": args.guidance}  # noqa: E731
    ref = teacher.generate_batch(cond, seeds, **sampling(args.ref_steps))
    rows = []
    for path in args.students:
        s = Pipeline.from_pretrained(path, device="cpu")
        k = s.model.config.steps
        t_k = (teacher.generate_batch(cond, seeds, **sampling(k)) - ref).abs().mean().item()
        s_k = (s.generate_batch(cond, seeds) - ref).abs().mean().item()
        rows.append({"steps": k, f"teacher_{solver}_vs_teacher_{args.ref_steps}": round(t_k, 4),
                     f"student_vs_teacher_{args.ref_steps}": round(s_k, 4),
                     "student": str(path)})
        print(json.dumps(rows[-1]), flush=True)
    out = {"command": command_line(), "machine": machine, "n": len(cond), "split": args.split, "guidance": args.guidance,
           "reference": f"teacher {solver} {args.ref_steps} steps, guided", "metric": "mean |pixel difference| on the [-1, 1] scale",
           "rows": rows}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
