"""Training speed of two variants side by side, one thread each: the condition the quality runs are trained in.

    python bench/pair_speed.py --a fp32 "" --b bf16 "--precision bf16" --out bench/results/quality/bf16_speed.json
    python bench/pair_speed.py --a before "" --a-src /tmp/before/src --b after "" --out ...   # two versions of the code

With ``--a-src`` / ``--b-src`` a variant runs another checkout's ``src`` (e.g. ``git worktree add /tmp/before HEAD~1``):
the same recipe side by side, to time a change of the code itself.

Both variants are real ``prodgen train`` runs of the 25-minute GAN recipe on the catalog (gan64-sle, batch 32, G's
learning rate 2e-4 unless the extra arguments say otherwise), started together on one core each, for ``--steps``
steps. Images/s is training time only (metrics.jsonl), averaged over the logged windows after the first (warm-up).
The ratio of the two rates turns one variant's step count at a CPU budget into the other's at the same budget
(session 13 did the same for batch 32: 59.0 against 65.3 images/s). Writes the JSON results file (command and
machine inside).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

RECIPE = ["--model", "gan", "--resolution", "64", "--batch-size", "32", "--threads", "1", "--model-arg", "sle=true",
          "--model-arg", "lr_g=2e-4",
          "--seed", "0", "--quiet", "--sample-every", "100000", "--checkpoint-every",
          "100000"]


def recipe(args) -> list[str]:
    """Both variants' shared training arguments: RECIPE and the DiffAugment policies asked for."""
    return [*RECIPE, "--model-arg", f"diffaugment={args.diffaugment}"]


def source_of(src: Path) -> str:
    """The source tree a variant ran, with its git commit (and "+changes" when its tree differs from it)."""
    git = lambda *a: subprocess.run(["git", "-C", str(src), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    commit = git("rev-parse", "--short", "HEAD")
    dirty = "+changes" if git("status", "--porcelain", "--", ".") else ""
    where = "this checkout" if src.resolve() == (ROOT / "src").resolve() else str(src)
    return f"{where} at {commit}{dirty}" if commit else where


def rates(metrics: Path) -> list[float]:
    return [m["images_per_s"] for m in map(json.loads, metrics.read_text().splitlines()) if "images_per_s" in m]


def pair(args, env: dict[str, str]) -> list[dict]:
    """One side-by-side run of the two variants: a row each."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for (label, extra), src in ((args.a, args.a_src), (args.b, args.b_src)):
            out = Path(tmp) / label.replace(" ", "_")
            cmd = [sys.executable, "-m", "prodgen", "train", "--catalog", args.catalog, *recipe(args), "--steps",
                   str(args.steps), "--log-every", str(max(1, args.steps // 10)), "--out", str(out), *shlex.split(extra)]
            procs.append((label, extra, src, out, subprocess.Popen(cmd, env={**env, "PYTHONPATH": str(src.resolve())},
                                                              stdout=subprocess.DEVNULL,
                                                              stderr=subprocess.PIPE, text=True)))
        for label, extra, src, out, p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                raise SystemExit(f"{label} failed: {err[-800:]}")
            r = rates(out / "metrics.jsonl")
            rows.append({"variant": label, "extra_args": extra, "source": source_of(src),
                         "images_per_s": round(sum(r[1:]) / len(r[1:]), 1),
                         "windows": r})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", nargs=2, metavar=("LABEL", "ARGS"), required=True)
    ap.add_argument("--b", nargs=2, metavar=("LABEL", "ARGS"), required=True)
    ap.add_argument("--a-src", type=Path, default=ROOT / "src", help="the source tree variant a runs (default: this one)")
    ap.add_argument("--b-src", type=Path, default=ROOT / "src", help="the source tree variant b runs (default: this one)")
    ap.add_argument("--catalog", default=str(ROOT.parent / "shared" / "data" / "fashion-products"))
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--diffaugment", default="color,translation,cutout",
                    help="both variants' DiffAugment policies (default: the three the earlier speed files were "
                    "measured with, the default before session 17; today's recipe: translation,cutout)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=1, help="run the pair this many times (the machine's speed drifts "
                    "between minutes; the ratio is the mean of the repeats' ratios)")
    args = ap.parse_args()
    machine = machine_info()
    others = machine["background_jobs"]
    machine["note"] = "2 one-thread trainings side by side, " + (
        f"beside {others} other job(s): a contended reading" if others else "nothing else running")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    repeats = [pair(args, env) for _ in range(args.repeats)]
    rows = repeats[0] if args.repeats == 1 else [
        {**r, "images_per_s": round(sum(rep[i]["images_per_s"] for rep in repeats) / len(repeats), 1),
         "windows": [w for rep in repeats for w in rep[i]["windows"]],
         "per_repeat": [rep[i]["images_per_s"] for rep in repeats]} for i, r in enumerate(repeats[0])]
    ratios = [rep[1]["images_per_s"] / rep[0]["images_per_s"] for rep in repeats]
    ratio = sum(ratios) / len(ratios)
    result = {"command": command_line(), "machine": machine, "steps": args.steps,
              "recipe": " ".join(recipe(args)),
              "rows": rows, "b_over_a": round(ratio, 3),
              **({"b_over_a_per_repeat": [round(r, 3) for r in ratios]} if args.repeats > 1 else {})}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({r["variant"]: r["images_per_s"] for r in rows}), "ratio", round(ratio, 3))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
