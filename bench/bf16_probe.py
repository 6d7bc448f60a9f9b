"""The bf16 timing probe that `--precision auto` asks on a CPU with bf16 kernels but no AMX (prodgen.precision_probe),
read several times afresh (not from the cache) beside the whole GAN step's measured bf16 / fp32 ratio on the same
machine, so the threshold (device.BF16_PROBE_MIN) can be checked against what it stands for.

    python bench/bf16_probe.py --step-result bench/results/quality/bf16_speed_avx512.json \
        --out bench/results/quality/bf16_probe_avx512.json

The step result is a bench/pair_speed.py file of fp32 (variant a) against bf16 (variant b), measured on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=5, help="fresh probe readings")
    ap.add_argument("--step-result", type=Path, help="pair_speed.py results file: fp32 (a) against bf16 (b), this machine")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    import torch

    from prodgen import device
    from prodgen.atomic import write_json
    from prodgen.precision_probe import cpu_identity, measure_bf16_speedup

    info = machine_info()
    reads = [round(measure_bf16_speedup(), 3) for _ in range(args.reads)]
    result = {
        "command": command_line(),
        "machine": info,
        "cpu_identity": cpu_identity(),
        "amx": device.cpu_has_amx_bf16(),
        "bf16_kernels": device.cpu_has_fast_bf16(),
        "torch_threads_probe": 1,
        "probe_reads": reads,
        "probe_median": statistics.median(reads),
        "threshold": device.BF16_PROBE_MIN,
        "auto_picks_bf16": bool(device.cpu_has_amx_bf16() or (device.cpu_has_fast_bf16()
                                                                and statistics.median(reads) >= device.BF16_PROBE_MIN)),
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
    }
    if args.step_result:
        step = json.loads(args.step_result.read_text())
        result["step_result"] = str(args.step_result)
        result["step_images_per_s"] = {row["variant"]: row["images_per_s"] for row in step["rows"]}
        result["step_ratio"] = step["b_over_a"]
        result["step_machine"] = step["machine"]
    write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("probe_reads", "threshold", "auto_picks_bf16", "step_ratio")}))


if __name__ == "__main__":
    main()
