"""The model interface, tested once over the registry on tiny configs."""

from __future__ import annotations

import pytest
import torch
from tiny import COND_SIZES, TINY_ARGS

from prodgen.errors import UserError
from prodgen.models import GenerativeModel, list_models, model_class, read_spec

FAMILIES = [n for n in list_models() if model_class(n).generates]  # the autoencoder: tests/test_latent_diffusion.py


def test_registry_lists_families_and_rejects_unknown():
    assert {"gan", "vae", "diffusion"} <= set(FAMILIES)
    with pytest.raises(UserError, match="choose one of"):
        model_class("stylegan9")


def make(name: str, res: int = 32, seed: int = 0, text_dim: int = 0) -> GenerativeModel:
    torch.manual_seed(seed)
    return model_class(name).from_args({**TINY_ARGS[name], "text_dim": text_dim}, COND_SIZES, res)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("res", [32, 64])
def test_sample_shape_range_and_condition_effect(name, res):
    m = make(name, res).eval()
    cond = torch.tensor([[1, 2], [3, 4]])
    x = m.sample(2, cond, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, res, res)
    assert x.min() >= -1 and x.max() <= 1
    # Same noise, different condition -> different image (the condition reaches the output), by at least 5% of what
    # other noise changes: an untrained 64-px GAN's output barely varies at all (~1e-4, less with SLE's half-open gates)
    a = m.sample(1, torch.tensor([[1, 1]]), generator=torch.Generator().manual_seed(5))
    b = m.sample(1, torch.tensor([[2, 3]]), generator=torch.Generator().manual_seed(5))
    c = m.sample(1, torch.tensor([[1, 1]]), generator=torch.Generator().manual_seed(6))
    assert (a - b).abs().mean() > max(1e-6, 0.05 * float((a - c).abs().mean()))


@pytest.mark.parametrize("name", FAMILIES)
def test_every_phase_backpropagates_into_its_parameters(name):
    m = make(name).train()
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    cond = torch.tensor([[1, 2], [0, 0], [3, 4], [2, 1]])
    for phase in m.phases:
        m.zero_grad(set_to_none=True)
        losses = m.loss(phase, x, cond)
        assert losses["loss"].dim() == 0 and torch.isfinite(losses["loss"])
        losses["loss"].backward()
        params = m.phase_parameters(phase)
        with_grad = [p for p in params if p.grad is not None and p.grad.abs().sum() > 0]
        assert len(with_grad) >= 0.8 * len(params), f"{phase}: only {len(with_grad)}/{len(params)} params got gradients"


@pytest.mark.parametrize("name", FAMILIES)
def test_save_load_round_trip_gives_identical_samples(name, tmp_path):
    m = make(name).eval()
    m.save_pretrained(tmp_path)
    spec = read_spec(tmp_path / "model.safetensors")
    assert spec.family == name and spec.cond_sizes == tuple(COND_SIZES) and spec.resolution == 32
    m2 = GenerativeModel.from_pretrained(tmp_path).eval()
    assert type(m2) is type(m)
    cond = torch.tensor([[1, 2], [3, 0]])
    a = m.sample(2, cond, generator=torch.Generator().manual_seed(3))
    b = m2.sample(2, cond, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", FAMILIES)
def test_seeded_construction_and_sampling_are_deterministic(name):
    a = make(name, seed=11).eval().sample(3, torch.tensor([[1, 1]] * 3), generator=torch.Generator().manual_seed(1))
    b = make(name, seed=11).eval().sample(3, torch.tensor([[1, 1]] * 3), generator=torch.Generator().manual_seed(1))
    c = make(name, seed=11).eval().sample(3, torch.tensor([[1, 1]] * 3), generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_condition_ids_are_rejected(name):
    m = make(name).eval()
    with pytest.raises(ValueError, match="lie in"):
        m.sample(1, torch.tensor([[4, 0]]))  # attribute 0 has 4 values: ids 0..3
    with pytest.raises(ValueError, match="long ids"):
        m.sample(1, torch.tensor([[1.0, 0.0]]))


def test_unknown_model_arg_is_a_user_error():
    with pytest.raises(UserError, match="unknown keys"):
        model_class("gan").from_args({"z_dimm": 3}, COND_SIZES, 32)


def test_gan_truncation_shrinks_noise_and_vae_reconstructs():
    gan = make("gan")
    z1 = gan.latent_noise(2000, torch.Generator().manual_seed(0), 1.0)
    z5 = gan.latent_noise(2000, torch.Generator().manual_seed(0), 0.5)
    assert z5.abs().max() <= 1.0 + 1e-6 and z1.abs().max() > 2.5
    vae = make("vae").eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    cond = torch.tensor([[1, 1], [2, 2]])
    r = vae.reconstruct(x, cond)
    assert r.shape == x.shape and torch.equal(r, vae.reconstruct(x, cond))  # the posterior mean: no sampling noise
    assert not torch.equal(r, vae.reconstruct(-x, cond))  # the input image reaches the output (weakly, untrained)


@pytest.mark.parametrize("name", FAMILIES)
def test_text_reaches_the_output_and_zero_text_means_no_text(name):
    m = make(name, text_dim=8).eval()
    cond = torch.tensor([[1, 1]])
    t1, t2 = torch.nn.functional.normalize(torch.randn(2, 8, generator=torch.Generator().manual_seed(0)), dim=1).chunk(2)
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    a, b = m.sample(1, cond, generator=g(), text=t1), m.sample(1, cond, generator=g(), text=t2)
    assert (a - b).abs().mean() > 1e-4
    assert torch.equal(m.sample(1, cond, generator=g(), text=torch.zeros(1, 8)), m.sample(1, cond, generator=g()))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for phase in m.phases:
        assert torch.isfinite(m.train().loss(phase, x, torch.tensor([[1, 2], [0, 0]]), torch.cat([t1, t2]))["loss"])


@pytest.mark.parametrize("name", FAMILIES)
def test_model_without_text_refuses_a_prompt(name):
    with pytest.raises(UserError, match="not trained on text"):
        make(name).eval().sample(1, torch.tensor([[1, 1]]), text=torch.ones(1, 8))
