"""Distilled diffusion (or flow-matching) samplers vs their teacher: speed and quality side by side (issues 12, 13).

    python bench/distill_bench.py --teacher runs/fam-diffusion --guidance 3 \
        --students runs/fam-diffusion-d8 runs/fam-diffusion-d4 runs/fam-diffusion-d2     # test split, the final table
    python bench/distill_bench.py ... --split val --n 250 --no-teacher --out bench/results/distill_val.json   # choices

Rows: the teacher with DPM-Solver++ at 10 steps (its served sampler) and with DDIM at each student's step count
(the undistilled few-step baseline; a flow-matching teacher: Euler at 10 and at each student's steps), all guided
at ``--guidance`` (two network calls a step); then each distilled student at its own saved default (DDIM or Euler,
guidance inside: one call a step). The flow run (issue 13), on val, choices only; its students (round 1 distils
guidance 3 into a 4-step Euler student, round 2 halves that; a fixed number of iterations, not minutes, so the load
of the shared machine does not change them):
    prodgen distill runs/fam-flow --steps 4 --start-steps 8 --guidance 3 --iterations 150 --batch-size 32 --lr 2e-4 \
        --threads 1 --out runs/fam-flow-d4
    prodgen distill runs/fam-flow-d4 --steps 2 --start-steps 4 --iterations 150 --batch-size 32 --lr 2e-4 \
        --threads 1 --out runs/fam-flow-d2
    python bench/distill_bench.py --teacher runs/fam-flow --guidance 3 --students runs/fam-flow-d4 runs/fam-flow-d2 \
        --split val --n 250 --out bench/results/distill_flow_val.json For each: images/s and ms per image
at batch ``--speed-batch`` with 2 threads (median of 3 timed batches after a warm-up; every row timed in this
process, round-robin, one batch of each row in turn, before any quality work), and on ``--split`` at ``--n``
(default: the floor's n, the val photos, as ``prodgen evaluate`` and bench/export_bench.py) FID-P with its
bootstrap 95% interval, coverage and conditional accuracy per attribute, all from the same seeds and conditions
(``evaluate.generate_matching``). Writes the JSON (command, machine, load averages inside), a Markdown table
beside it, and a PNG grid of every row on the same seeds and conditions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from export_bench import Reference  # noqa: E402
from machine import command_line, machine_info  # noqa: E402

from prodgen.evaluate.evaluate import conditional_accuracy, generate_matching, image_metrics  # noqa: E402
from prodgen.evaluate.metrics import bootstrap_fid  # noqa: E402
from prodgen.grid import save_grid  # noqa: E402
from prodgen.sample import Pipeline  # noqa: E402


def speeds(rows: list, cond: torch.Tensor, batch: int = 32, repeats: int = 3) -> dict[str, float]:
    """images/s of each row: a warm-up batch each, then ``repeats`` rounds timing one batch of every row in turn
    (round-robin, so a burst of load on the shared machine hits every row alike); the median per row."""
    c = cond[:batch]
    for _, pipe, sampling, _ in rows:
        pipe.generate_batch(c[:4], list(range(4)), **sampling)  # warm-up
    times: dict[str, list[float]] = {name: [] for name, *_ in rows}
    for r in range(repeats):
        for name, pipe, sampling, _ in rows:
            t0 = time.perf_counter()
            pipe.generate_batch(c, list(range(r * batch, (r + 1) * batch)), **sampling)
            times[name].append(time.perf_counter() - t0)
    return {name: batch / statistics.median(t) for name, t in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", type=Path, default=Path("runs/fam-diffusion"))
    ap.add_argument("--students", type=Path, nargs="*", default=[])
    ap.add_argument("--features", type=Path, default=Path("runs/productnet64"))
    ap.add_argument("--guidance", type=float, default=3.0, help="the teacher's guidance (as distilled into the students)")
    ap.add_argument("--split", default="test", choices=["val", "test"])
    ap.add_argument("--n", type=int, default=None, help="generated images (default: the val split's size, as export_bench)")
    ap.add_argument("--no-teacher", action="store_true", help="student rows only (a validation sweep)")
    ap.add_argument("--speed-batch", type=int, default=32, help="images per timed batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "distill.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info()
    ref = Reference.load(args.teacher, args.features, args.split, args.n)
    teacher, real, n, net, pn_vocab, real_f, first = ref.pipe, ref.real, ref.n, ref.net, ref.pn_vocab, ref.real_f, ref.first

    students = [(p, Pipeline.from_pretrained(p, device="cpu")) for p in args.students]
    w = args.guidance
    # the teacher's served sampler and its few-step one: a diffusion run's DPM++ 10 and DDIM; a flow run's Euler
    flow = teacher.model.config.objective == "flow"
    served, few = ("euler", "euler") if flow else ("dpm++", "ddim")
    names = {"euler": "Euler", "dpm++": "DPM++", "ddim": "DDIM"}
    rows: list[tuple[str, Pipeline, dict, int]] = []  # name, pipeline, sampling, network calls per image
    if not args.no_teacher:
        rows.append((f"teacher {names[served]} 10 steps, guidance {w:g}", teacher,
                     {"sampler": served, "steps": 10, "guidance": w}, 20))
    for path, s in sorted(students, key=lambda ps: ps[1].model.config.steps):  # cheapest pairs first
        k = s.model.config.steps
        if not args.no_teacher and not any(r[2].get("steps") == k and r[2].get("sampler") == few for r in rows):
            rows.append((f"teacher {names[few]} {k} steps, guidance {w:g}", teacher,
                         {"sampler": few, "steps": k, "guidance": w}, 2 * k))
        rows.append((f"student {path.name} ({names[few]} {k} steps, guidance distilled)", s, {}, k))

    load_before = os.getloadavg()[0]
    rates = speeds(rows, real.cond, args.speed_batch)  # every row in this process, round-robin
    results, grid_imgs, labels = [], [], []
    for name, pipe, sampling, calls in rows:
        fake = generate_matching(pipe, real.cond, n, args.seed, sampling=sampling)
        f, logits = net.extract(fake.images)
        m = image_metrics(f, logits, real_f, pn_vocab, first, seed=0)
        lo, hi = bootstrap_fid(real_f, f)
        acc = conditional_accuracy(teacher.vocab, pn_vocab, logits, fake.cond)
        rec = {"sampler": name, "network_calls_per_image": calls, "images_per_s": round(rates[name], 1),
               "ms_per_image": round(1000 / rates[name], 1), "fid_p": m["fid"], "fid_ci95": [lo, hi],
               "coverage": m.get("coverage"), "cond_acc": acc.compute(), "n": n, "sampling": sampling or "saved defaults"}
        if pipe is not teacher:
            rec["distill"] = json.loads((pipe.run_dir / "distill.json").read_text())
        results.append(rec)
        print(json.dumps({k: v for k, v in rec.items() if k != "distill"}), flush=True)
        grid_imgs.append(fake.images[:8].float() / 127.5 - 1)
        labels.append(name.split(",")[0].replace("guidance distilled", "").replace("student ", "")[:34])
    load_after = os.getloadavg()[0]
    machine["load_average_1min_before_timing"] = round(load_before, 2)
    machine["load_average_1min_at_end"] = round(load_after, 2)
    out = {"command": command_line(), "machine": machine, "teacher": str(args.teacher), "features": str(args.features),
           "threads": args.threads, "batch": args.speed_batch, "timed_batches": 3, "split": args.split, "guidance": w,
           "rows": results,
           "note": "images/s of all rows measured in this process, round-robin (one batch of each row in turn); "
                   "the 2-core machine was shared with "
                   "other jobs (load averages above), so absolute rates are lower than on an idle machine."}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    save_grid(torch.cat(grid_imgs), args.out.with_suffix(".png"), 8, row_labels=labels)
    attrs = list(results[0]["cond_acc"])
    md = ["| sampler | net calls/image | images/s | ms/image | FID-P (95% CI) | coverage | "
          + " | ".join(f"acc. {a.split('/')[-1]}" for a in attrs) + " |", "|---" * (6 + len(attrs)) + "|"]
    for r in results:
        md.append(f"| {r['sampler']} | {r['network_calls_per_image']} | {r['images_per_s']} | {r['ms_per_image']} | "
                  f"{r['fid_p']:.1f} ({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f}) | {r['coverage']:.2f} | "
                  + " | ".join(f"{r['cond_acc'][a]:.2f}" for a in attrs) + " |")
    md.append("")
    md.append(f"{args.split} split, n={n}; `{out['command']}`; {machine['cpu']}, {machine['cores']} cores, "
              f"{args.threads} threads; load average {load_before:.2f} before timing, {load_after:.2f} at the end "
              "(shared machine: compare rows with each other, not with other tables).")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
