"""Rows per second of ``prodgen generate RUN --from-csv`` on a big CSV: one process, and two shards in two processes.

    .venv/bin/python bench/generate_stream.py [--rows 100000] [--run RUN] [--batch-size 64] [--keep DIR]

- The CSV: ``--rows`` synthetic rows, ids ``S0000000``.., attribute values cycling through the run's vocabulary,
  titles ``item k``.
- The run: ``--run``, or by default a tiny GAN trained here in seconds (``prodgen train``: synthetic catalog,
  category and colour, 32 px, 2 steps, the tests' tiny widths). Its images are noise, but each costs what a small
  32 px generator costs, so the figures show the pipeline around the model: CSV, PNG, provenance stamp, atomic write.
- (a) one process: ``prodgen generate RUN --from-csv rows.csv --out one --threads 1``;
  (b) two processes at once, ``--shard 1/2`` and ``--shard 2/2``, each ``--threads 1``, into one folder.
  Wall clock from the start to the last exit: Python start-up, model load, the index pass, generation and the
  merged labels.csv included. A sample of rows is checked to have the same pixels in (a) and (b).
- Stages, in this process, per row: the index pass, one more read of every row (each shard reads them all), the
  model, PNG + provenance stamp, the atomic write (fsync) alone and with the writer threads, labels.csv.
- A projection for 1,000,000 rows on N GPUs from these figures, labelled as a projection, with its formula.

Keys are a temporary key folder (the user's are not touched). Writes bench/results/generate_stream.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info, machine_line  # noqa: E402

TINY = ["--model-arg", "z_dim=16", "--model-arg", "cond_dim=16", "--model-arg", "g_base=8", "--model-arg", "g_cap=32",
        "--model-arg", "d_base=8", "--model-arg", "d_cap=16"]
STAGE_ROWS = 512  # rows of the in-process stage timings
CHECK_ROWS = 50  # rows whose pixels are compared between (a) and (b)
PROJECT_ROWS = 1_000_000
PROJECT_GPUS = (1, 2, 4, 8)


def prodgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "prodgen.cli", *args]


def train_tiny(folder: Path, env: dict) -> Path:
    run = folder / "tiny-gan"
    subprocess.run(prodgen("train", "--model", "gan", "--catalog", "synthetic", "--resolution", "32", "--steps", "2",
                           "--batch-size", "4", "--min-count", "1", "--sample-every", "1000", "--checkpoint-every", "0",
                           "--out", str(run), "--quiet", *TINY), env=env, check=True, stdout=subprocess.DEVNULL)
    return run


def write_csv(path: Path, rows: int, run: Path) -> list[str]:
    """``rows`` rows whose attribute values cycle through the run's vocabulary (<unspecified> left out)."""
    vocab = json.loads((run / "vocab.json").read_text())
    attrs = [(a["name"], [v for v in a["values"] if not v.startswith("<")] or [""]) for a in vocab["attributes"]]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *(n for n, _ in attrs), "productDisplayName"])
        for k in range(rows):
            w.writerow([f"S{k:07d}", *(vals[(k // (i + 1)) % len(vals)] for i, (_, vals) in enumerate(attrs)), f"item {k}"])
    return [n for n, _ in attrs]


def timed_processes(commands: list[list[str]], env: dict) -> tuple[float, list[str], float]:
    """Start every command at once: seconds until the last exits, what each printed, and the CPU cores they used
    on average (user + system seconds of all of them / wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for c in commands]
    outs = [p.communicate()[0] for p in procs]
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for c, p, o in zip(commands, procs, outs):
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(c)} failed ({p.returncode}):\n{o}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, outs, round(cpu / seconds, 2)


def generation_rate(output: str) -> float:
    """The images/s a ``generate --from-csv`` printed: images made / seconds of its generation phase."""
    m = re.search(r"\(([\d.]+)\s+images/s\)", output)
    return float(m.group(1)) if m else float("nan")


def same_pixels(a: Path, b: Path, n: int) -> bool:
    import numpy as np
    from PIL import Image

    rows = list(csv.DictReader(open(a / "labels.csv")))
    step = max(1, len(rows) // n)
    return all(np.array_equal(np.asarray(Image.open(a / r["file"])), np.asarray(Image.open(b / r["file"])))
               for r in rows[::step])


def stage_costs(run: Path, rows_csv: Path, folder: Path, batch_size: int) -> dict:
    """Per-row seconds of each stage, measured here on up to STAGE_ROWS rows (model and stamps) or every row (CSV)."""
    import torch

    from prodgen.atomic import write_bytes
    from prodgen.data.csv_catalog import csv_layout
    from prodgen.provenance import default_keys
    from prodgen.sample import Pipeline
    from prodgen.sample.jobs import row_jobs
    from prodgen.sample.stream import IO_THREADS, StreamSettings, finish_generation, index_rows, stamp_about
    from prodgen.sample.writer import render_batch, stamped_png

    torch.set_num_threads(1)
    pipe = Pipeline.from_pretrained(run, device="cpu")
    keys = default_keys()
    t = time.perf_counter()
    index = index_rows(csv_layout(rows_csv))
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    for _ in index.records(lambda k: False):  # what every shard pays to find its rows
        pass
    scan_s = time.perf_counter() - t
    sample = [(r, stem) for k, r, stem in index.records(lambda k: k < STAGE_ROWS)]
    jobs = row_jobs(pipe, [r for r, _ in sample], [s for _, s in sample], seeds=list(range(len(sample))))
    t = time.perf_counter()
    imgs = [img for i in range(0, len(jobs), batch_size) for img in render_batch(pipe, jobs[i:i + batch_size])]
    model_s = time.perf_counter() - t
    about = stamp_about(pipe, {"bench": "generate_stream"})
    t = time.perf_counter()
    files = [stamped_png(pipe, j, img, about, keys, f"{j.name}.png") for j, img in zip(jobs, imgs)]
    stamp_s = time.perf_counter() - t
    out = folder / "stages"
    out.mkdir()
    t = time.perf_counter()
    for j, data in zip(jobs, files):
        write_bytes(out / f"{j.name}.png", data)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    with ThreadPoolExecutor(IO_THREADS) as pool:
        list(pool.map(lambda jd: write_bytes(out / f"{jd[0].name}.b.png", jd[1]), zip(jobs, files)))
    threads_s = time.perf_counter() - t
    t = time.perf_counter()
    finish_generation(pipe, index, folder / "one", {"bench": "labels"}, StreamSettings(batch_size=batch_size), keys)
    finish_s = time.perf_counter() - t
    n, rows = len(jobs), index.rows
    return {"rows_sampled": n, "index_pass_s_per_row": index_s / rows, "read_rows_again_s_per_row": scan_s / rows,
            "model_s_per_row": model_s / n, "png_and_stamp_s_per_row": stamp_s / n,
            "atomic_write_s_per_row": write_s / n, "writes_per_s_with_io_threads": n / threads_s, "io_threads": IO_THREADS,
            "labels_csv_s_per_row": finish_s / rows}


def projection(stages: dict, rate_one: float) -> dict:
    """1,000,000 rows on N GPUs, one process each: from the measured per-row costs, not a measurement."""
    t_row_cpu = 1 / rate_one  # one process's generation phase per image, model on this CPU
    t_row_gpu = max(t_row_cpu - stages["model_s_per_row"] - stages["read_rows_again_s_per_row"], 1e-9)
    per_csv_row = stages["index_pass_s_per_row"] + stages["read_rows_again_s_per_row"] + stages["labels_csv_s_per_row"]
    r_write = stages["writes_per_s_with_io_threads"]
    rows = []
    for n in PROJECT_GPUS:
        rate = min(n / t_row_gpu, r_write)
        seconds = PROJECT_ROWS * per_csv_row + PROJECT_ROWS / rate
        rows.append({"gpus": n, "rows_per_s": round(rate, 1), "hours": round(seconds / 3600, 2),
                     "bound": "disk writes" if rate == r_write else "CPU work per process"})
    return {
        "label": "PROJECTION from the figures above, not a measurement (no GPU was used)",
        "formula": "T(R, N) = R * (t_index + t_read + t_labels) + R / min(N / t_row_gpu, r_write); "
                   "t_row_gpu = 1 / rate_one_process - t_model_cpu - t_read",
        "assumptions": ["the model's time on a GPU is taken as 0: the per-row work left is the CPU's (CSV, jobs, PNG, "
                        "provenance stamp, manifest), so the figures are an upper bound on throughput",
                        "one free CPU core per GPU process (the stamping is serial in each process)",
                        "the disk takes N processes' writes at the rate measured here for one process with its writer "
                        "threads (r_write); on a faster disk that cap rises",
                        "every shard reads the whole CSV twice (index, then its rows); the last one writes labels.csv"],
        "inputs": {"R": PROJECT_ROWS, "rate_one_process": round(rate_one, 2), "t_model_cpu": stages["model_s_per_row"],
                   "t_index": stages["index_pass_s_per_row"], "t_read": stages["read_rows_again_s_per_row"],
                   "t_labels": stages["labels_csv_s_per_row"], "t_row_gpu": t_row_gpu, "r_write": r_write},
        "rows": rows,
    }


def write_markdown(path: Path, res: dict) -> None:
    a, b = res["one_process"], res["two_shards"]
    st, pj = res["stages"], res["projection_1M_rows_on_N_gpus"]
    lines = [
        "# `prodgen generate --from-csv`: rows per second, one process and two shards", "",
        f"`{res['command']}`", "",
        f"Machine: {machine_line(res['machine'])}", "",
        f"{res['rows']:,} CSV rows, run: {res['run']}, batch size {res['batch_size']}, torch threads 1 per process. "
        "Wall clock from start to the last exit (start-up, model load, index pass, generation, labels.csv).", "",
        "| case | processes | wall s | rows/s | speed-up | generation phase images/s (each) | together | CPU cores used |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| one process | 1 | {a['wall_s']} | {a['rows_per_s']} | 1.00 | {a['generation_images_per_s']} | "
        f"{a['generation_images_per_s']} | {a['cpu_cores_used']} of {res['machine']['cores']} |",
        f"| two shards, `--shard 1/2` + `2/2` at once | 2 | {b['wall_s']} | {b['rows_per_s']} | {b['speedup']} | "
        f"{', '.join(map(str, b['generation_images_per_s']))} | {b['generation_images_per_s_together']} | "
        f"{b['cpu_cores_used']} of {res['machine']['cores']} |", "",
        f"Each process also spends about {a['fixed_s']} s outside the generation phase (Python and torch start-up, "
        "model load, the index pass, labels.csv): with few rows that fixed part dominates the wall clock, and two "
        "processes pay it at once on the same cores; the generation-phase rates show the per-row throughput. Two shards "
        "can only be faster when there are free cores for them: compare the CPU cores used with the machine's.", "",
        f"Same pixels in both folders on {CHECK_ROWS} sampled rows: {res['same_pixels_sampled']}.", "",
        f"Per-row stage costs in one process (model and stamps on {st['rows_sampled']} rows): index pass "
        f"{st['index_pass_s_per_row'] * 1e6:.1f} us, reading the rows again {st['read_rows_again_s_per_row'] * 1e6:.1f} us, "
        f"model {st['model_s_per_row'] * 1e3:.2f} ms, PNG + provenance stamp {st['png_and_stamp_s_per_row'] * 1e3:.2f} ms, "
        f"atomic write {st['atomic_write_s_per_row'] * 1e3:.2f} ms ({st['writes_per_s_with_io_threads']:.0f} writes/s "
        f"with {st['io_threads']} writer threads), labels.csv {st['labels_csv_s_per_row'] * 1e6:.1f} us.", "",
        f"**{pj['label']}.** `{pj['formula']}`", "",
        "| GPUs | rows/s | hours for 1M rows | bound by |", "| --- | --- | --- | --- |",
        *[f"| {r['gpus']} | {r['rows_per_s']} | {r['hours']} | {r['bound']} |" for r in pj["rows"]], "",
        *[f"- {x}" for x in pj["assumptions"]], "",
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="CSV rows (try 2000 first)")
    ap.add_argument("--run", type=Path, help="a run folder (default: a tiny GAN trained here)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--keep", type=Path, help="keep the CSV and output folders here (default: a temporary folder)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "generate_stream.json")
    args = ap.parse_args()

    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="generate-stream-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PRODGEN_SIGNING_DIR": str(work / "keys"), "PRODGEN_CACHE": str(work / "cache"),
           "PYTHONPATH": str(ROOT / "src")}
    os.environ.update({k: env[k] for k in ("PRODGEN_SIGNING_DIR", "PRODGEN_CACHE")})
    try:
        run = args.run or train_tiny(work, env)
        rows_csv = work / "rows.csv"
        attributes = write_csv(rows_csv, args.rows, run)
        common = ["--from-csv", str(rows_csv), "--threads", "1", "--batch-size", str(args.batch_size), "--quiet"]
        one_s, (one_out,), one_cpu = timed_processes([prodgen("generate", str(run), *common, "--out", str(work / "one"))],
                                                     env)
        two_s, two_out, two_cpu = timed_processes([prodgen("generate", str(run), *common, "--out", str(work / "two"), "--shard", s)
                                          for s in ("1/2", "2/2")], env)
        if not (work / "two" / "labels.csv").exists():  # both shards ended at once and neither saw the other done
            subprocess.run(prodgen("generate", str(run), *common, "--out", str(work / "two")), env=env, check=True,
                           stdout=subprocess.DEVNULL)
        same = same_pixels(work / "one", work / "two", CHECK_ROWS)
        stages = stage_costs(run, rows_csv, work, args.batch_size)
        rate_one = generation_rate(one_out)
        res = {
            "command": command_line(), "machine": machine, "rows": args.rows, "batch_size": args.batch_size,
            "run": str(args.run) if args.run else "tiny GAN trained here (synthetic catalog, 32 px, 2 steps, tests' widths)",
            "csv": f"synthetic ids S0000000.., {', '.join(attributes)} cycling through the run's values, title 'item k'",
            "one_process": {"wall_s": round(one_s, 2), "rows_per_s": round(args.rows / one_s, 1),
                            "generation_images_per_s": rate_one,
                            "fixed_s": round(one_s - args.rows / rate_one, 2),  # start-up, model, index, labels.csv
                            "cpu_cores_used": one_cpu},
            "two_shards": {"wall_s": round(two_s, 2), "rows_per_s": round(args.rows / two_s, 1),
                           "speedup": round(one_s / two_s, 2),
                           "generation_images_per_s": [generation_rate(o) for o in two_out],
                           "generation_images_per_s_together": round(sum(generation_rate(o) for o in two_out), 1),
                           "cpu_cores_used": two_cpu},
            "same_pixels_sampled": same,
            "stages": stages,
        }
        res["projection_1M_rows_on_N_gpus"] = projection(stages, rate_one)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    write_markdown(args.out.with_suffix(".md"), res)
    print(json.dumps({k: res[k] for k in ("one_process", "two_shards", "same_pixels_sampled")}, indent=1))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
