"""Text encoders: milliseconds per product title (all-MiniLM-L6-v2 and the built-in hashing encoder).

    .venv/bin/python bench/text_speed.py [--catalog ../shared/data/fashion-products] [--threads 1]

Embeds every title of the catalog once per encoder, in batches of 256 as
training's title cache does, after a warm-up batch; the one-off model load is
reported separately. Timed by wall clock and by the process's CPU time (with
one torch thread the CPU time barely depends on other jobs on the machine).
Writes bench/results/text_speed.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", default="../shared/data/fashion-products")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=str(HERE / "results" / "text_speed.json"))
    ap.add_argument("--note")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    machine = machine_info(args.note)
    from prodgen.conditioning.text import encode_texts, minilm_available, text_encoder
    from prodgen.config import DataConfig
    from prodgen.data import load_catalog

    titles = [r.title for r in load_catalog(DataConfig(catalog=args.catalog)).records if r.title]
    encoders = {}
    for name in (["minilm"] if minilm_available() else []) + ["hashing"]:
        t = time.perf_counter()
        text_encoder(name)
        load_s = time.perf_counter() - t
        encode_texts(name, titles[:256])  # warm-up
        t, c = time.perf_counter(), time.process_time()
        emb = encode_texts(name, titles)
        secs, cpu = time.perf_counter() - t, time.process_time() - c
        encoders[name] = {"load_s": round(load_s, 2), "titles": len(titles), "seconds": round(secs, 2),
                          "ms_per_title": round(1000 * secs / len(titles), 3),
                          "cpu_ms_per_title": round(1000 * cpu / len(titles), 3), "dim": int(emb.shape[1])}
        print(name, encoders[name], flush=True)
    result = {"command": command_line(), "machine": machine, "catalog": args.catalog, "batch": 256, "threads": args.threads,
              "encoders": encoders, "ms_per_title": encoders.get("minilm", {}).get("ms_per_title"),
              "cpu_ms_per_title": encoders.get("minilm", {}).get("cpu_ms_per_title")}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
