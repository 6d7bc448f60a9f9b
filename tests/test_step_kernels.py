"""The training step's faster kernels compute what the plain ones do: minibatch std, SLE's pool skip and Adam's
fused kernel (bench/results/quality/step_kernels.json has their speed)."""

from __future__ import annotations

import copy

import torch

from prodgen.models.blocks import SkipExcitation
from prodgen.models.gan import minibatch_stddev


def test_minibatch_stddev_known_answer_and_torch_var():
    h = torch.zeros(4, 1, 1, 1)
    h[:, 0, 0, 0] = torch.tensor([1.0, 3.0, 10.0, 10.0])  # groups of 2: std 1 and 0
    out = minibatch_stddev(h, 2)
    assert out.shape == (4, 2, 1, 1)
    assert torch.allclose(out[:, 1, 0, 0], torch.tensor([1.0, 1.0, 1e-4, 1e-4]), atol=1e-6)  # sqrt(0 + 1e-8) = 1e-4
    x = torch.randn(16, 8, 4, 4, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    y = x.reshape(4, 4, 8, 4, 4)
    ref = (y.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3)).repeat_interleave(4)
    assert torch.allclose(minibatch_stddev(x, 4)[:, 8].mean(dim=(1, 2)), ref, rtol=1e-12)
    wrong = (y.var(dim=1, unbiased=True) + 1e-8).sqrt().mean(dim=(1, 2, 3)).repeat_interleave(4)
    assert not torch.allclose(minibatch_stddev(x, 4)[:, 8].mean(dim=(1, 2)), wrong, rtol=1e-3)  # the check can fail


def test_skip_excitation_skips_only_an_identity_pool():
    torch.manual_seed(0)
    sle = SkipExcitation(5, 3)
    high = torch.randn(2, 3, 32, 32)
    for size in (4, 8):
        low = torch.randn(2, 5, size, size)
        assert torch.allclose(sle(low, high), high * sle.gate(low), atol=1e-6)


def test_trainer_adam_is_fused_and_steps_like_the_plain_one(tmp_path):
    from test_trainer import make_trainer

    tr = make_trainer(tmp_path)
    assert all(o.defaults["fused"] for o in tr.optims.values())
    state = tr.state()
    for o in state["optim"].values():  # as saved before the fused kernel
        for group in o["param_groups"]:
            group["fused"] = None
    again = make_trainer(tmp_path / "again")
    again.load_state(state)
    assert all(g["fused"] for o in again.optims.values() for g in o.param_groups)
    torch.manual_seed(0)
    a = torch.nn.Linear(6, 3)
    b = copy.deepcopy(a)
    oa = torch.optim.Adam(a.parameters(), lr=1e-2, betas=(0.0, 0.99), fused=True)
    ob = torch.optim.Adam(b.parameters(), lr=1e-2, betas=(0.0, 0.99))
    for _ in range(5):
        x = torch.randn(8, 6)
        for net, opt in ((a, oa), (b, ob)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
