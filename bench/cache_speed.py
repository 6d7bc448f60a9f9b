"""The preprocessing cache: time to build it (cold) and to load it (warm).

    .venv/bin/python bench/cache_speed.py [--catalog ../shared/data/fashion-products] [--resolution 64]

Uses an empty temporary PRODGEN_CACHE, so nothing already cached is reused and
the user's cache is left alone:
  - catalog: reading styles.csv, validating rows and fingerprinting the catalog (every run pays it);
  - cold: decoding, letterboxing and resizing every photo (2 decoding threads), writing the
    uint8 tensor file; wall time, and CPU time of the process (its threads included);
  - warm: the same call once the tensor file exists (median of 5).
Writes bench/results/cache_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402


def _cpu() -> float:
    """CPU seconds of this process (all its threads, the decoding ones too) and of any finished children."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", default="../shared/data/fashion-products")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--out", default=str(HERE / "results" / "cache_speed.json"))
    ap.add_argument("--note")
    args = ap.parse_args()
    machine = machine_info(args.note)
    with tempfile.TemporaryDirectory(prefix="prodgen-cache-") as tmp:
        os.environ["PRODGEN_CACHE"] = tmp
        from prodgen.config import DataConfig
        from prodgen.data import load_catalog, prepare_images

        t = time.perf_counter()
        cat = load_catalog(DataConfig(catalog=args.catalog, resolution=args.resolution))
        t_catalog = time.perf_counter() - t
        t, c = time.perf_counter(), _cpu()
        tensors = prepare_images(cat, args.resolution, progress=False)
        cold, cold_cpu = time.perf_counter() - t, _cpu() - c
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            again = prepare_images(cat, args.resolution, progress=False)
            warm.append(time.perf_counter() - t)
        assert again.key == tensors.key and len(again.ids) == len(tensors.ids)
        size = sum(f.stat().st_size for f in Path(tmp).glob("*.safetensors"))
    result = {"command": command_line(), "machine": machine, "catalog": args.catalog, "resolution": args.resolution,
              "images": len(tensors.ids), "skipped": len(tensors.skipped), "catalog_s": round(t_catalog, 2),
              "cold_s": round(cold, 2), "cold_cpu_s": round(cold_cpu, 2), "warm_ms": round(1000 * statistics.median(warm), 1),
              "warm_ms_all": [round(1000 * w, 1) for w in warm], "tensor_file_MiB": round(size / 2**20, 1)}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
