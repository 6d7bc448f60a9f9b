"""How much faster bf16 autocast runs a GAN-like convolution step than fp32 on this CPU: a short timed probe, cached.

Why measure: whether bf16 pays on a CPU is not written in its flags. With AMX (Intel's bf16 matrix tiles) the GAN
recipe trains 1.76x faster in bf16 (bench/results/quality/bf16_speed.json); with AVX2 only, oneDNN emulates bf16 and
the step is ~20x slower (bf16_emulated_speed.json). Between them lie the CPUs with AVX-512 bf16 instructions but no
AMX: on a 2-core AMD EPYC of family 26 (Zen 5) the recipe trains 1.56x faster in bf16
(bf16_speed_avx512.json), while the README's precision table saw 0.90x on an AMD EPYC (model not recorded; a 32-px GAN). So for that middle
class ``device.cpu_bf16_gains`` asks this probe: one strided convolution and one transposed convolution (the shapes
of the GAN's D and G stages), forward and backward, one thread, fp32 and bf16 interleaved, the fastest of several
repeats each (contention from other processes only adds time, so the minimum is the stable reading). About a second,
once per machine: the ratio is cached under the cache folder (``PRODGEN_CACHE``, default ~/.cache/prodgen) keyed by
the CPU model, torch's CPU capability and torch's version, so every later run on the machine resolves the same way.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from .atomic import write_json

CACHE_NAME = "bf16_probe.json"


def cpu_identity() -> str:
    """The CPU model, torch's CPU capability (AVX2, AVX512, ...) and torch's version: what the probe's answer depends on."""
    model = ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            fields = {}
            for line in fh:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
            model = " ".join(fields.get(k, "") for k in ("vendor_id", "cpu family", "model", "model name")).strip()
    model = model or platform.processor() or platform.machine()
    return f"{model} | {torch.backends.cpu.get_cpu_capability()} | torch {torch.__version__}"


def fastest_ratio(slow: Callable[[], object], fast: Callable[[], object], repeats: int = 7) -> float:
    """min time of ``slow`` / min time of ``fast``, the two run interleaved ``repeats`` times after one warm-up each."""
    slow()
    fast()
    t_slow = t_fast = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        slow()
        t1 = time.perf_counter()
        fast()
        t2 = time.perf_counter()
        t_slow, t_fast = min(t_slow, t1 - t0), min(t_fast, t2 - t1)
    return t_slow / max(t_fast, 1e-9)


def _conv_step(bf16: bool) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 64, 32, 32, generator=gen).contiguous(memory_format=torch.channels_last)
    w_down = torch.randn(128, 64, 4, 4, generator=gen).mul_(0.02).requires_grad_()
    w_up = torch.randn(128, 64, 4, 4, generator=gen).mul_(0.02).requires_grad_()

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            h = F.conv2d(x, w_down, stride=2, padding=1)  # a D stage: 32 -> 16 px
            y = F.conv_transpose2d(h, w_up, stride=2, padding=1)  # a G stage: 16 -> 32 px
            loss = y.float().square().mean()
        loss.backward()
        w_down.grad = w_up.grad = None

    return step


def measure_bf16_speedup(repeats: int = 7) -> float:
    """fp32 time / bf16 time of the probe step on this CPU, one thread (> 1: bf16 is faster)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fastest_ratio(_conv_step(False), _conv_step(True), repeats)
    finally:
        torch.set_num_threads(threads)


def cached_bf16_speedup(cache_dir: str | Path | None = None,
                        measure: Callable[[], float] | None = None) -> float:
    """This CPU's probe ratio, measured once and kept in the cache folder (a damaged or unwritable cache only means the
    probe runs again)."""
    if cache_dir is None:
        from .data.cache import default_cache_dir

        cache_dir = default_cache_dir()
    path = Path(cache_dir) / CACHE_NAME
    key = cpu_identity()
    known: dict = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(path.read_text())
        if isinstance(loaded, dict):
            known = loaded
    value = known.get(key)
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    ratio = float((measure or measure_bf16_speedup)())
    known[key] = round(ratio, 3)
    with contextlib.suppress(OSError):
        write_json(path, known)
    return ratio

