"""Device selection shared by training and sampling."""

from __future__ import annotations

import os

import torch

from .errors import UserError


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when torch sees a GPU, else CPU; "cuda" without a GPU is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise UserError(f"--device {name!r} is not a device name; use auto, cpu, cuda or cuda:N.") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for CUDA but torch sees no GPU here; use --device cpu or auto.")
    return dev


def module_device(net: torch.nn.Module) -> torch.device:
    """The device a network's parameters live on (CPU for a network without parameters)."""
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


# Families whose bf16 training was measured to keep its quality at equal CPU time on a CPU with AMX
# (bench/bf16_cpu.sh: the GAN; session 25 trained the recipe in bf16 on an AVX-512 bf16 CPU too: val FID-P 42.1 / 42.2
# at seeds 1 and 2 against the Xeon's continued runs' 35.0-41.9, bench/recipe_variants25.sh recipe25). The VAE and diffusion models train faster in bf16 too (README, precision
# table), but their quality at equal time is not measured, so "auto" keeps them in fp32.
AUTO_BF16_FAMILIES = ("gan",)
AUTO_PRECISION_ENV = "PRODGEN_AUTO_PRECISION"  # set to fp32 (or bf16/fp16): what "auto" means, on any machine


def cpu_has_amx_bf16() -> bool:
    """True on a CPU with Intel AMX (bf16 matrix tiles): there bf16 autocast trains the GAN 1.5-1.8x faster than fp32
    (bench/bf16_cpu.sh speed). Without AMX it depends on the CPU (``cpu_bf16_gains``)."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN has bf16 kernels on this CPU (AVX-512 or AMX). Without them (AVX2 only) bf16 autocast is
    emulated: the GAN recipe trained at 2.6 images/s against fp32's 60.9 on a 2-core AMD EPYC with AVX2 only
    (session 21, bench/results/quality/bf16_emulated_speed.json)."""
    probe = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else True
    except RuntimeError:
        return True


# The probe ratio (precision_probe: fp32 time / bf16 time of a D and a G convolution stage) above which "auto" picks
# bf16 on a CPU with bf16 kernels but no AMX. On the session-25 AMD EPYC (Zen 5) the probe read 1.44-1.74 idle and
# 1.39-1.75 beside two trainings (bench/results/quality/bf16_probe_avx512.json) where the whole recipe step ran 1.56x
# faster. The margin keeps a CPU where bf16 barely pays (the precision table's 0.90x) on fp32.
BF16_PROBE_MIN = 1.2


def cpu_bf16_gains() -> bool:
    """Whether bf16 autocast trains faster than fp32 on this CPU: yes with AMX (1.76x, measured), no without bf16
    kernels (emulated, ~20x slower), and in between (AVX-512 bf16, no AMX) what the cached timing probe says."""
    if cpu_has_amx_bf16():
        return True
    if not cpu_has_fast_bf16():
        return False
    from .precision_probe import cached_bf16_speedup

    return cached_bf16_speedup() >= BF16_PROBE_MIN


def precision_warning(precision: str, device: torch.device) -> str | None:
    """A line for the user when the precision asked for is far slower on this device than fp32, else None."""
    if device.type == "cpu" and precision == "bf16" and not cpu_has_fast_bf16():
        return ("--precision bf16: this CPU has no bf16 kernels (no AVX-512 or AMX), so bf16 is emulated and trains "
                "about 20x slower than fp32 (the GAN: 2.6 against 61 images/s on a 2-core AVX2 CPU); use --precision "
                "fp32 or auto here")
    return None


def resolve_precision(precision: str, device: torch.device, family: str) -> str:
    """``--precision auto``: bf16 autocast for the families measured to gain from it on this device (the GAN on a CPU
    where bf16 runs faster: ``cpu_bf16_gains``), fp32 otherwise; any other value is returned as given."""
    if precision != "auto":
        return precision
    forced = os.environ.get(AUTO_PRECISION_ENV, "")
    if forced:  # e.g. the test suite and the bench scripts of fp32 rows: the same precision on every machine
        if forced not in ("fp32", "bf16", "fp16"):
            raise UserError(f"{AUTO_PRECISION_ENV}={forced!r} is not fp32, bf16 or fp16; unset it or pick one.")
        return forced
    if device.type == "cpu" and family in AUTO_BF16_FAMILIES and cpu_bf16_gains():
        return "bf16"
    return "fp32"
