"""What evaluation costs on this machine: wall time and peak memory.

1. ``prodgen evaluate RUN --features PN --n N`` for each run, as a fresh process
   (GNU time for peak RSS): first with an empty real-feature cache ("cold": real
   features of the train/val/test splits are extracted), then again ("warm").
   The image-tensor cache is shared and warm in both (it is training's cost).
2. The periodic evaluation during training (``--eval-every``): one call of the
   TrainingEvaluator at n=500 on the run's EMA net, median of 5, plus its one-off
   set-up (real val features).

    .venv/bin/python bench/eval_cost.py --runs runs/gan64 runs/vae64 --features runs/productnet64
writes bench/results/eval_cost.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info, machine_line  # noqa: E402


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a command, via GNU time."""
    t = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return wall, rss_kb / 1024


def periodic_cost(run: Path, features: str, n: int = 500) -> dict:
    import torch

    from prodgen.conditioning import Vocabulary
    from prodgen.config import RunConfig
    from prodgen.evaluate.during_training import training_evaluator
    from prodgen.sample import Pipeline
    from prodgen.train.run import prepare_data

    cfg = RunConfig.load(run / "config.json")
    data = prepare_data(cfg, vocab=Vocabulary.load(run / "vocab.json"), split=json.loads((run / "split.json").read_text()),
                        progress=False)
    images, cond = data.heldout("val")
    t = time.monotonic()
    ev = training_evaluator(cfg.data, features, data.vocab, images, cond, n, progress=False)
    setup = time.monotonic() - t
    pipe = Pipeline.from_pretrained(run, device="cpu")
    times = []
    for _ in range(5):
        t = time.monotonic()
        rec = ev(pipe.model, pipe.net)
        times.append(time.monotonic() - t)
    return {"n": n, "n_real": len(images), "setup_s": round(setup, 2), "seconds": round(statistics.median(times), 3),
            "fid": rec["eval/fid"], "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", default=["runs/gan64", "runs/vae64"])
    ap.add_argument("--features", default="runs/productnet64")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--out", default=str(HERE / "results" / "eval_cost"))
    ap.add_argument("--note", help="machine note (default: the detected background load)")
    args = ap.parse_args()
    info = machine_info(args.note)
    prodgen = str(ROOT / ".venv" / "bin" / "prodgen")
    base_cache = Path(os.environ.get("PRODGEN_CACHE", Path.home() / ".cache" / "prodgen"))
    rows = []
    for run in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"
            cache.mkdir()
            for f in base_cache.glob("*.*"):  # image tensors warm (cache root), feature cache empty
                os.symlink(f, cache / f.name)
            env = {**os.environ, "PRODGEN_CACHE": str(cache)}
            cmd = [prodgen, "evaluate", run, "--features", args.features, "--n", str(args.n), "--quiet"]
            cold = timed(cmd, env)
            warm = timed(cmd, env)
        periodic = periodic_cost(Path(run), args.features)
        rows.append({"run": run, "n": args.n, "cold_s": round(cold[0], 1), "cold_rss_mib": round(cold[1]),
                     "warm_s": round(warm[0], 1), "warm_rss_mib": round(warm[1]), "periodic": periodic})
        print(json.dumps(rows[-1]), flush=True)
    machine = machine_line(info)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.with_suffix(".json")).write_text(json.dumps({"command": command_line(), "machine": info, "rows": rows}, indent=2) + "\n")
    lines = [f"# Evaluation cost\n\nCommand: `{command_line()}`  \nMachine: {machine}.\n",
             "| run | `prodgen evaluate` n | cold (empty feature cache) | warm | peak RSS cold / warm | "
             "periodic eval (n=500) | its set-up |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        p = r["periodic"]
        lines.append(f"| {r['run']} | {r['n']} | {r['cold_s']} s | {r['warm_s']} s | {r['cold_rss_mib']} / {r['warm_rss_mib']} MiB "
                     f"| {p['seconds']} s | {p['setup_s']} s ({p['n_real']} val images) |")
    lines.append("\nCold includes extracting ProductNet features of the train, val and test photos (cached afterwards "
                 "under a hash of catalog, split, extractor and resolution); both include process start, loading the "
                 "catalog, generating n images, every metric with a 100-resample FID bootstrap and the HTML report. "
                 "The periodic evaluation is what `--eval-every` adds per evaluation; it is not counted in `--minutes`.")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
