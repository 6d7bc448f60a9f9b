"""--precision auto on a CPU with bf16 kernels but no AMX: a timed probe decides, once per machine (cached)."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

from prodgen import device as dev
from prodgen import precision_probe as probe


def test_fastest_ratio_reads_a_known_ratio():
    # two sleeps, 2:1 -- the minimum of interleaved repeats recovers it (contention only adds time)
    ratio = probe.fastest_ratio(lambda: time.sleep(0.02), lambda: time.sleep(0.01), repeats=3)
    assert 1.7 < ratio < 2.3
    assert 0.43 < probe.fastest_ratio(lambda: time.sleep(0.01), lambda: time.sleep(0.02), repeats=3) < 0.59


@pytest.mark.parametrize(("amx", "kernels", "ratio", "want"), [
    (True, True, None, True),  # AMX: measured 1.76x, no probe
    (False, False, None, False),  # no bf16 kernels: emulated, ~20x slower, no probe
    (False, True, 1.56, True),  # AVX-512 bf16 where the probe says bf16 is faster (the session-25 EPYC)
    (False, True, 1.05, False),  # ... and where it barely pays
])
def test_cpu_bf16_gains_asks_the_probe_only_between_the_known_cases(monkeypatch, amx, kernels, ratio, want):
    asked = []

    def fake_probe():
        asked.append(1)
        return ratio

    monkeypatch.setattr(dev, "cpu_has_amx_bf16", lambda: amx)
    monkeypatch.setattr(dev, "cpu_has_fast_bf16", lambda: kernels)
    monkeypatch.setattr(probe, "cached_bf16_speedup", fake_probe)
    assert dev.cpu_bf16_gains() is want
    assert len(asked) == (ratio is not None)


def test_the_probe_is_measured_once_and_cached_per_cpu(tmp_path):
    calls = []

    def measure():
        calls.append(1)
        return 1.4567

    assert probe.cached_bf16_speedup(tmp_path, measure) == 1.4567
    saved = json.loads((tmp_path / probe.CACHE_NAME).read_text())
    assert saved == {probe.cpu_identity(): 1.457}

    def must_not_measure():
        raise AssertionError("measured again")

    assert probe.cached_bf16_speedup(tmp_path, must_not_measure) == 1.457
    assert len(calls) == 1
    # another machine's entry is kept beside this one's; a damaged value or file is measured again
    (tmp_path / probe.CACHE_NAME).write_text(json.dumps({"other cpu": 0.9, probe.cpu_identity(): float("nan")}))
    assert probe.cached_bf16_speedup(tmp_path, measure) == 1.4567
    assert json.loads((tmp_path / probe.CACHE_NAME).read_text()) == {"other cpu": 0.9, probe.cpu_identity(): 1.457}
    (tmp_path / probe.CACHE_NAME).write_text("{not json")
    assert probe.cached_bf16_speedup(tmp_path, measure) == 1.4567
    assert len(calls) == 3


def test_an_unwritable_cache_only_means_measuring_again(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert probe.cached_bf16_speedup(blocker / "cache", lambda: 1.3) == 1.3
    assert probe.cached_bf16_speedup(blocker / "cache", lambda: 0.8) == 0.8


def test_auto_resolves_through_the_cached_probe(monkeypatch, tmp_path):
    monkeypatch.delenv("PRODGEN_AUTO_PRECISION")
    monkeypatch.setenv("PRODGEN_CACHE", str(tmp_path))
    monkeypatch.setattr(dev, "cpu_has_amx_bf16", lambda: False)
    monkeypatch.setattr(dev, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(probe, "measure_bf16_speedup", lambda repeats=7: 1.6)
    assert dev.resolve_precision("auto", torch.device("cpu"), "gan") == "bf16"
    assert json.loads((tmp_path / probe.CACHE_NAME).read_text()) == {probe.cpu_identity(): 1.6}
    (tmp_path / probe.CACHE_NAME).write_text(json.dumps({probe.cpu_identity(): 1.1}))
    assert dev.resolve_precision("auto", torch.device("cpu"), "gan") == "fp32"
    assert dev.resolve_precision("auto", torch.device("cpu"), "vae") == "fp32"


@pytest.mark.skipif(not dev.cpu_has_fast_bf16(), reason="bf16 is emulated on this CPU (AVX2 only): the probe is not asked")
def test_the_real_probe_measures_and_restores_the_thread_count():
    threads = torch.get_num_threads()
    ratio = probe.measure_bf16_speedup(repeats=2)
    assert math.isfinite(ratio) and 0.01 < ratio < 100
    assert torch.get_num_threads() == threads


def test_the_cpu_identity_names_the_cpu_and_torch():
    ident = probe.cpu_identity()
    assert torch.__version__ in ident and torch.backends.cpu.get_cpu_capability() in ident
    assert ident == probe.cpu_identity()


class _Ranks:
    """A stand-in for torchrun's World: `any` answers for every rank, this one's flag among the others'."""

    def __init__(self, others_fp32: bool):
        self.others_fp32 = others_fp32

    def any(self, flag, device):
        return flag or self.others_fp32


@pytest.mark.parametrize(("mine", "others_fp32", "want"), [
    (True, False, "bf16"),  # every rank's CPU gains
    (True, True, "fp32"),  # another rank's CPU does not: all train in fp32
    (False, False, "fp32"),
])
def test_ranks_agree_on_what_auto_means(monkeypatch, mine, others_fp32, want):
    from prodgen.train.trainer import agreed_precision

    monkeypatch.delenv("PRODGEN_AUTO_PRECISION")
    monkeypatch.setattr(dev, "cpu_bf16_gains", lambda: mine)
    assert agreed_precision("auto", torch.device("cpu"), "gan", _Ranks(others_fp32)) == want
    assert agreed_precision("bf16", torch.device("cpu"), "gan", _Ranks(True)) == "bf16"  # asked for: kept
