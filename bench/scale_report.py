"""bench/results/scale.md: issue 12's figures in one place, rendered from the results files (nothing measured here).

    python bench/scale_report.py            # rewrite bench/results/scale.md
    python bench/scale_report.py --check    # exit 1 if it differs from what the results files give

Each section is the README's table of the same name (``render_readme.TABLES``), so the two never disagree.
Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import render_readme as rr  # noqa: E402

OUT = HERE / "results" / "scale.md"
SECTIONS = [
    ("Data-parallel training and precision on this CPU (DDP over gloo, 1 vs 2 processes; bf16/fp16; compile)",
     ["scale-speed"]),
    ("256 px: training and sampling speed", ["res256-speed"]),
    ("A million rows: 100,000-row generation, one process and two shards, and the plan for 1M rows on N GPUs",
     ["generate-stream"]),
    ("Smaller and faster models to serve: ONNX export and int8 quantisation", ["export", "export-diffusion",
                                                                             "export-restore"]),
    ("Distillation of the diffusion sampler to fewer steps", ["distill"]),
    ("Channel pruning of the GAN generator", ["prune"]),
]


def gpu_section() -> list[str]:
    lines = ["## On a GPU", ""]
    path = rr.RESULTS / "gpu" / "gpu_check.json"
    if not path.exists():
        return lines + ["Not run: no GPU was lent since `bench/gpu_check.sh` gained issue 12's steps."]
    res = rr.R("gpu/gpu_check.json")
    steps = {r["step"] for r in res["steps"]}
    new = [s for s in ("train-bf16-gan-64", "train-gan-256", "train-ddp-2gpu", "test-distributed") if s in steps]
    if not new:
        lines += ["Issue 12's steps (bf16 and 256 px on CUDA, DDP over NCCL, the distributed tests) have **not run** on a "
                  "GPU: no GPU was lent since they were written. The last GPU check predates them:", ""]
    return lines + rr.TABLES["gpu-check"][1]()


def render() -> str:
    lines = ["# Past one CPU: the figures (issue 12)", "",
             "Rendered by `python bench/scale_report.py` from the results files in bench/results/; every table names "
             "the command and the machine that produced it. README.md's \"Past one CPU\" section shows the same tables "
             "with the commands to use.", ""]
    for title, names in SECTIONS:
        lines += [f"## {title}", ""]
        for name in names:
            files, fn = rr.TABLES.get(name, ([], None))
            if fn is None or not all((rr.RESULTS / f).exists() for f in files):
                lines += [f"(`{name}`: no results file yet)", ""]
                continue
            lines += fn() + [""]
    lines += gpu_section()
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} differs from the results files; run python bench/scale_report.py")
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
