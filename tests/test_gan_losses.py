"""The GAN's losses against values computed by hand: hinge, relativistic pairing (RpGAN), R1/R2, lazy regularisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny import COND_SIZES, TINY_ARGS

from prodgen.models import model_class


def make(**args):  # the hand-computed G losses below are of one noise per image: mode seeking is off unless asked
    torch.manual_seed(0)
    base = {**TINY_ARGS["gan"], "diffaugment": [], "mbstd_group": 0, "mode_seeking": 0.0}
    return model_class("gan").from_args({**base, **args}, COND_SIZES, 32).eval()  # eval: spectral norm stops its power iteration, so D is one function


def batch():
    g = torch.Generator().manual_seed(1)
    return torch.rand(6, 3, 32, 32, generator=g) * 2 - 1, torch.randint(1, 4, (6, 2), generator=g)


def fakes(m, x, cond, seed):
    torch.manual_seed(seed)
    z = torch.randn(x.shape[0], m.config.z_dim)
    with torch.no_grad():
        return m.generator(z, cond)


def test_rpgan_losses_are_softplus_of_logit_differences():
    m = make(loss="rpgan")
    x, cond = batch()
    torch.manual_seed(3)
    out = m.loss("d", x, cond)
    fake = fakes(m, x, cond, 3)
    with torch.no_grad():
        d_real, d_fake = m.discriminator(x, cond), m.discriminator(fake, cond)
    assert out["loss"].item() == pytest.approx(F.softplus(d_fake - d_real).mean().item(), rel=1e-5)
    torch.manual_seed(4)
    g = m.loss("g", x, cond)
    torch.manual_seed(4)
    z = torch.randn(6, m.config.z_dim)
    with torch.no_grad():
        want = F.softplus(d_real - m.discriminator(m.generator(z, cond), cond)).mean()
    assert g["loss"].item() == pytest.approx(want.item(), rel=1e-5)
    # the hinge loss of the same model differs (the option is read)
    m.config.loss = "hinge"
    torch.manual_seed(3)
    hinge = m.loss("d", x, cond)["loss"].item()
    assert hinge == pytest.approx((F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()).item(), rel=1e-5)
    assert abs(hinge - out["loss"].item()) > 1e-3


def test_r1_r2_are_squared_input_gradients_and_lazy_steps_weight_them():
    m = make(loss="rpgan", r1_gamma=0.5, r2_gamma=0.25, reg_every=3)
    x, cond = batch()
    # R2 by hand: E |d D(fake) / d fake|^2
    fake = fakes(m, x, cond, 7).requires_grad_(True)
    (grad,) = torch.autograd.grad(m.discriminator(fake, cond).sum(), fake)
    r2 = grad.pow(2).flatten(1).sum(1).mean().item()
    seen = []
    for step in range(5):
        torch.manual_seed(7)
        out = m.loss("d", x, cond)
        seen.append("r1" in out and "r2" in out)
        if step == 0:
            assert out["r2"].item() == pytest.approx(r2, rel=1e-4)
            assert out["r1"].item() > 0
            # penalties weighted by reg_every on the steps that carry them
            want = out["loss_d_pair"] + 0.5 * 3 * (0.5 * out["r1"] + 0.25 * out["r2"])
            assert out["loss"].item() == pytest.approx(want.item(), rel=1e-5)
        elif step % 3:
            assert "r1" not in out and out["loss"].item() == pytest.approx(out["loss_d_pair"].item())
    assert seen == [True, False, False, True, False]


def test_unknown_loss_is_refused():
    with pytest.raises(Exception, match="loss must be one of"):
        make(loss="wasserstein")


def test_adaptive_augmentation_probability_follows_the_overfitting_heuristic():
    m = make(ada_target=0.6, ada_images=60, diffaugment=["color", "translation", "cutout"]).train()
    x, cond = batch()  # 6 images a step: p moves by 6 / 60 = 0.1 per D step
    assert float(m.ada_p) == 0.0
    # p = 0: nothing is augmented; the images reach D unchanged
    assert torch.equal(m._augment(x), x)
    # a D that calls every real image real (r_t = 1 > 0.6) is overfitting: p rises 0.1 a step
    m.discriminator.forward = lambda img, c, t=None: torch.ones(img.shape[0])
    for k in range(1, 4):
        out = m.loss("d", x, cond)
        assert out["ada_r"].item() == 1.0 and float(m.ada_p) == pytest.approx(0.1 * k)
    # p = 1 augments every image exactly as DiffAugment does with the same random numbers
    m.ada_p.fill_(1.0)
    torch.manual_seed(5)
    a = m._augment(x)
    torch.manual_seed(5)
    torch.rand(6)  # the keep/augment draw
    from prodgen.models.diffaugment import diff_augment
    assert torch.equal(a, diff_augment(x, ("color", "translation", "cutout")))
    # a D that calls every real image fake (r_t = -1 < 0.6): p falls, and stops at 0
    m.discriminator.forward = lambda img, c, t=None: -torch.ones(img.shape[0])
    for _ in range(15):
        m.loss("d", x, cond)
    assert float(m.ada_p) == 0.0
    # p is part of the saved state (a resumed run goes on with it); without ADA there is no such buffer
    assert "ada_p" in m.state_dict() and "ada_p" not in make().state_dict()


def test_text_projection_of_d_is_spectrally_normalised_unless_asked():
    sn = make(text_dim=8).discriminator.text_proj
    free = make(text_dim=8, text_sn=False).discriminator.text_proj
    assert torch.nn.utils.parametrize.is_parametrized(sn) and not torch.nn.utils.parametrize.is_parametrized(free)
    with torch.no_grad():
        free.weight.mul_(1000)  # a large free projection keeps its size; the normalised one is bounded by 1
        assert torch.linalg.matrix_norm(free.weight, 2) > 10  # std 0.02 x 1000, 16 x 8: about 100
        sn.parametrizations.weight.original.mul_(1000)
        sn.train()
        for _ in range(20):  # power iterations
            sn.weight
        assert torch.linalg.matrix_norm(sn.weight, 2) <= 1.01


def test_diffaugment_policies_from_a_comma_separated_string():
    """`--model-arg diffaugment=translation,cutout` arrives as a string; it must mean those two policies, and an unknown
    name must be refused by name (it once failed letter by letter: '[', 't', 'r', ...)."""
    from prodgen.errors import UserError
    from prodgen.models.gan import GANConfig

    assert GANConfig(diffaugment="translation, cutout").diffaugment == ["translation", "cutout"]
    assert GANConfig(diffaugment="").diffaugment == []
    assert GANConfig(diffaugment=["color"]).diffaugment == ["color"]
    with pytest.raises(UserError, match=r"\['colour'\]"):
        GANConfig(diffaugment="translation,colour")


def test_lecam_pulls_each_side_towards_the_other_sides_moving_average():
    m = make(lecam=0.5, lecam_decay=0.9)
    x, cond = batch()
    m.train()
    m.discriminator.eval()  # one D function (spectral norm's power iteration paused); the GAN itself trains
    outs, logits = [], []
    for seed in (3, 4):
        torch.manual_seed(seed)
        outs.append(m.loss("d", x, cond))
        with torch.no_grad():
            logits.append((m.discriminator(x, cond), m.discriminator(fakes(m, x, cond, seed), cond)))
    # the first step's averages are its own means; the second's move 10% towards the second batch's
    (r0, f0), (r1, f1) = logits
    a_real, a_fake = 0.9 * r0.mean() + 0.1 * r1.mean(), 0.9 * f0.mean() + 0.1 * f1.mean()
    assert m.lecam_avg.tolist() == pytest.approx([a_real.item(), a_fake.item()], rel=1e-4)
    want = F.relu(r1 - a_fake).pow(2).mean() + F.relu(a_real - f1).pow(2).mean()
    assert outs[1]["lecam"].item() == pytest.approx(want.item(), rel=1e-4)
    assert outs[1]["loss"].item() == pytest.approx((outs[1]["loss_d_real"] + outs[1]["loss_d_fake"]
                                                    + 0.5 * outs[1]["lecam"]).item(), rel=1e-5)
    assert "lecam_avg" in m.state_dict() and "lecam_avg" not in make().state_dict()
    with pytest.raises(Exception, match="LeCam weight"):
        make(lecam=-1.0)


@pytest.mark.parametrize("group", [2, 4])
def test_d_step_in_one_pass_gives_the_logits_of_two_passes(group):
    # batch 6: groups of 2 stay inside each half, so real and fake go through D together; groups of 4 would mix
    # them (6 is no multiple of 4), so D sees each half on its own. Both must give the two-pass hinge loss.
    m = make(mbstd_group=group)
    x, cond = batch()
    assert m._one_d_pass(6, penalties=False) == (group == 2)
    assert not m._one_d_pass(6, penalties=True)
    torch.manual_seed(5)
    out = m.loss("d", x, cond)
    fake = fakes(m, x, cond, 5)
    with torch.no_grad():
        d_real, d_fake = m.discriminator(x, cond), m.discriminator(fake, cond)
    assert out["loss_d_real"].item() == pytest.approx(F.relu(1 - d_real).mean().item(), rel=1e-5)
    assert out["loss_d_fake"].item() == pytest.approx(F.relu(1 + d_fake).mean().item(), rel=1e-5)
    if group == 4:  # the check can fail: a std grouped across the halves gives other logits
        with torch.no_grad():
            mixed = m.discriminator(torch.cat([x, fake]), torch.cat([cond, cond]))
        assert abs(F.relu(1 - mixed[:6]).mean().item() - out["loss_d_real"].item()) > 1e-4


def test_shared_fake_runs_g_once_a_step_and_g_learns_from_ds_fakes():
    m = make(shared_fake=True).train()
    m.discriminator.eval()  # spectral norm's power iteration stays put: D is one function
    calls = []
    m.generator.register_forward_hook(lambda mod, i, o: calls.append(o))
    x, cond = batch()
    torch.manual_seed(5)
    m.loss("d", x, cond)
    g = m.loss("g", x, cond)
    assert len(calls) == 1  # one forward a step, with its graph
    with torch.no_grad():
        want = -m.discriminator(calls[0], cond).mean()
    assert g["loss"].item() == pytest.approx(want.item(), rel=1e-5)
    g["loss"].backward()
    assert all(p.grad is not None for p in m.generator.parameters() if p.requires_grad)
    assert m.graph_parameters("d") == m.phase_parameters("g") and m.graph_parameters("g") == []
    m.loss("g", x, cond)  # nothing kept now: G runs again
    assert len(calls) == 2
    plain = make().train()
    assert plain.graph_parameters("d") == []


def test_trainer_keeps_g_trainable_in_ds_phase_only_with_shared_fake():
    from prodgen.train.trainer import other_phase_parameters

    for shared in (False, True):
        m = make(shared_fake=shared)
        frozen = {id(p) for p in other_phase_parameters(m)["d"]}
        assert bool(frozen & {id(p) for p in m.generator.parameters()}) is not shared
        assert {id(p) for p in m.discriminator.parameters()} <= {id(p) for p in other_phase_parameters(m)["g"]}


@pytest.mark.parametrize("group", [0, 4])
def test_bcr_is_the_squared_logit_gap_between_two_augmentations_of_the_same_images(group):
    """Balanced consistency regularisation (Zhao et al. 2021) against a known answer: the augmentation is replaced by
    a shift that differs between D's inputs, so each logit is a plain D call. group 0: one D pass of batch 4B (real,
    fake, real again, fake again); group 4 (batch 6): separate passes, one augmentation call each."""
    m = make(bcr_real=2.0, bcr_fake=3.0, diffaugment=["translation"], mbstd_group=group)
    x, cond = batch()
    assert m._one_d_pass(6, penalties=False) == (group == 0)
    calls = []

    def shift(t):  # one pass: block k of 6 rows shifted by 0.1 k; separate passes: call k shifted by 0.1 k
        if t.shape[0] == 24:
            return t + 0.1 * (torch.arange(24) // 6).view(-1, 1, 1, 1)
        calls.append(t.shape[0])
        return t + 0.1 * (len(calls) - 1)

    m._augment = shift
    torch.manual_seed(5)
    out = m.loss("d", x, cond)
    fake = fakes(m, x, cond, 5)
    with torch.no_grad():
        d = [m.discriminator(v + 0.1 * k, cond) for k, v in enumerate((x, fake, x, fake))]
    assert calls == ([] if group == 0 else [6, 6, 6, 6])
    assert out["bcr_real"].item() == pytest.approx((d[0] - d[2]).pow(2).mean().item(), rel=1e-5)
    assert out["bcr_fake"].item() == pytest.approx((d[1] - d[3]).pow(2).mean().item(), rel=1e-5)
    assert out["bcr_real"].item() > 1e-6 and out["bcr_fake"].item() > 1e-6
    hinge = F.relu(1 - d[0]).mean() + F.relu(1 + d[1]).mean()
    assert out["loss"].item() == pytest.approx((hinge + 2 * out["bcr_real"] + 3 * out["bcr_fake"]).item(), rel=1e-5)
    # the same augmentation twice: no gap, no penalty; and the penalty trains D
    m._augment = lambda t: t
    out = m.loss("d", x, cond)
    assert out["bcr_real"].item() == 0 and out["bcr_fake"].item() == 0
    m._augment = shift
    calls.clear()
    out = m.loss("d", x, cond)
    (out["bcr_real"] + out["bcr_fake"]).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.discriminator.parameters())
    only_real = make(bcr_real=1.0, diffaugment=["translation"])
    assert "bcr_fake" not in only_real.loss("d", x, cond) and "bcr_real" not in make().loss("d", x, cond)
    with pytest.raises(Exception, match="consistency weights"):
        make(bcr_real=-1.0, diffaugment=["translation"])
    with pytest.raises(Exception, match="DiffAugment"):
        make(bcr_fake=1.0)


def test_topk_count_falls_geometrically_from_the_batch_to_its_floor():
    m = make(topk_keep=0.5, topk_steps=100)
    assert [m.topk_count(64, t) for t in (0, 50, 100, 500)] == [64, 45, 32, 32]  # 64 * 0.5 ** 0.5 = 45.25
    assert make(topk_keep=0.5).topk_count(64, 0) == 32  # no decay: at the floor at once
    assert make(topk_keep=0.75).topk_count(6, 0) == 5  # ceil(4.5)
    assert make().topk_count(64, 0) == 64 and "topk_step" not in make().state_dict()
    with pytest.raises(Exception, match="top-k training"):
        make(topk_keep=0.0)


@pytest.mark.parametrize("loss", ["hinge", "rpgan"])
def test_topk_g_loss_averages_over_the_fakes_d_rates_most_real(loss):
    """Top-k training (Sinha et al. 2020) against a known answer: G's loss is the mean over the k generated images
    with the highest D logits, and only those pass a gradient to G's output."""
    m = make(topk_keep=0.5, topk_steps=0, loss=loss).train()
    m.discriminator.eval()  # one D function; G trains
    seen = []

    def keep(mod, inputs, output):
        if output.requires_grad:
            output.retain_grad()
        seen.append(output)

    m.generator.register_forward_hook(keep)
    x, cond = batch()
    torch.manual_seed(4)
    out = m.loss("g", x, cond)
    with torch.no_grad():
        d_fake = m.discriminator(seen[0], cond).flatten()
        d_real = m.discriminator(x, cond).flatten()
    top = d_fake.topk(3).indices
    if loss == "hinge":
        want, every = -d_fake[top].mean(), -d_fake.mean()
    else:
        want, every = F.softplus(d_real[top] - d_fake[top]).mean(), F.softplus(d_real - d_fake).mean()
    assert out["loss"].item() == pytest.approx(want.item(), rel=1e-5)
    assert abs(out["loss"].item() - every.item()) > 1e-4  # the check can fail: all six give another mean
    assert out["topk_k"].item() == 3 and int(m.topk_step) == 1
    out["loss"].backward()
    moved = seen[0].grad.flatten(1).abs().sum(1) > 0
    assert moved.tolist() == [i in top.tolist() for i in range(6)]
    m.eval()
    with torch.no_grad():
        m.loss("g", x, cond)
    assert int(m.topk_step) == 1  # evaluation does not move the schedule


def test_mode_seeking_pairs_two_noises_of_each_condition_and_adds_msgans_term():
    """MSGAN (Mao et al. 2019) against a known answer: G's second half repeats the first half's conditions, and the
    weight over (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5) joins the hinge term."""
    m = make(mode_seeking=0.5).train()
    m.discriminator.eval()
    seen = []
    m.generator.register_forward_hook(lambda mod, inputs, output: seen.append((inputs[1].clone(), output.detach())))
    x, cond = batch()
    torch.manual_seed(4)
    out = m.loss("g", x, cond)
    torch.manual_seed(4)
    z = torch.randn(6, m.config.z_dim)
    (g_cond, fake), = seen
    assert torch.equal(g_cond, torch.cat([cond[:3], cond[:3]]))  # batch 6: two halves of 3, one set of conditions
    with torch.no_grad():
        hinge = -m.discriminator(fake, g_cond).mean()
    ratio = (fake[3:] - fake[:3]).abs().mean() / (z[3:] - z[:3]).abs().mean()
    assert out["mode_seeking"].item() == pytest.approx(ratio.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx((hinge + 0.5 / (ratio + 1e-5)).item(), rel=1e-5)
    assert abs(out["loss"].item() - hinge.item()) > 1e-3  # the check can fail: the term is there
    with pytest.raises(Exception, match="mode_seeking"):
        make(mode_seeking=1.0, loss="rpgan")


def test_mode_seeking_is_on_at_0_1_for_plain_hinge_dcgan_runs_and_off_where_it_does_not_apply():
    from prodgen.config import RunConfig
    from prodgen.models.gan import GANConfig

    assert GANConfig().mode_seeking == 0.1  # the default since session 28 (README "Mode seeking at 25 minutes")
    assert GANConfig(mode_seeking=0).mode_seeking == 0.0  # off when asked
    for off in ({"loss": "rpgan"}, {"shared_fake": True}, {"feature_d": 0.5}, {"arch": "r3gan", "sle": False}):
        assert GANConfig(**off).mode_seeking == 0.0, off  # not measured there, or refused there: off, no error
    # a run resolved before the field existed trained without it, and a resume must too
    new = RunConfig(model="gan").to_dict()
    before = {k: v for k, v in vars(GANConfig()).items() if k != "mode_seeking"}
    assert RunConfig.from_dict({**new, "model_args": before}).model_args["mode_seeking"] == 0.0
    assert RunConfig.from_dict({**new, "model_args": vars(GANConfig())}).model_args["mode_seeking"] == 0.1
    assert RunConfig.from_dict(new).model_args == {}  # nothing resolved yet: the default applies when the run trains


def test_default_g_step_is_mode_seeking_at_0_1():
    """The default G step pairs two noises of each condition: the loss equals the explicit mode_seeking=0.1 one."""
    x, cond = batch()
    default, explicit = make(mode_seeking=None).train(), make(mode_seeking=0.1).train()
    torch.manual_seed(4)
    a = default.loss("g", x, cond)
    torch.manual_seed(4)
    b = explicit.loss("g", x, cond)
    torch.manual_seed(4)
    c = make(mode_seeking=0).train().loss("g", x, cond)
    assert "mode_seeking" in a and a["loss"].item() == pytest.approx(b["loss"].item(), rel=1e-6)
    assert "mode_seeking" not in c and abs(a["loss"].item() - c["loss"].item()) > 1e-3


def _mode_seeking_step(**args):
    """One G step at mode-seeking weight 0.5 with ``args``: its loss dict, G's images and the noise it drew."""
    m = make(mode_seeking=0.5, **args).train()
    m.discriminator.eval()
    seen = []
    m.generator.register_forward_hook(lambda mod, inputs, output: seen.append(output.detach()))
    x, cond = batch()
    torch.manual_seed(4)
    out = m.loss("g", x, cond)
    torch.manual_seed(4)
    z = torch.randn(6, m.config.z_dim)
    (fake,) = seen
    return out, fake, z


def test_mode_seeking_centred_takes_each_images_mean_colour_away():
    """mode_seeking_centred: the two halves' distance after each image's per-channel mean is taken away (known
    answer), so a global shade shift is worth nothing."""
    out, fake, z = _mode_seeking_step(mode_seeking_centred=True)
    c = fake - fake.mean(dim=(2, 3), keepdim=True)
    want = (c[3:] - c[:3]).abs().mean() / (z[3:] - z[:3]).abs().mean()
    plain = (fake[3:] - fake[:3]).abs().mean() / (z[3:] - z[:3]).abs().mean()
    assert out["mode_seeking"].item() == pytest.approx(want.item(), rel=1e-5)
    assert abs(want.item() - plain.item()) > 1e-4  # the check can fail: centring changes the distance
    shifted = torch.rand(1, 3, 8, 8)
    two = torch.cat([shifted, shifted + torch.tensor([0.3, -0.2, 0.1]).view(1, 3, 1, 1)])
    centred = two - two.mean(dim=(2, 3), keepdim=True)
    assert (centred[1] - centred[0]).abs().max() < 1e-6  # a pure shade shift: no distance left


def test_mode_seeking_pool_measures_the_distance_on_the_pooled_halves():
    """mode_seeking_pool: the two halves' distance after a P x P average pool (known answer), so a pattern finer
    than P pixels that averages out is worth nothing."""
    out, fake, z = _mode_seeking_step(mode_seeking_pool=4)
    p = F.avg_pool2d(fake, 4)
    want = (p[3:] - p[:3]).abs().mean() / (z[3:] - z[:3]).abs().mean()
    plain = (fake[3:] - fake[:3]).abs().mean() / (z[3:] - z[:3]).abs().mean()
    assert p.shape[-1] == fake.shape[-1] // 4
    assert out["mode_seeking"].item() == pytest.approx(want.item(), rel=1e-5)
    assert abs(want.item() - plain.item()) > 1e-4  # the check can fail: pooling changes the distance
    checker = (torch.arange(8).view(1, 8) + torch.arange(8).view(8, 1)) % 2 * 2.0 - 1  # a 1-px pattern
    two = torch.stack([checker.expand(3, 8, 8), -checker.expand(3, 8, 8)])
    assert (two[1] - two[0]).abs().mean() == 2  # far apart pixel by pixel ...
    assert F.avg_pool2d(two, 4).abs().max() == 0  # ... and nothing left after pooling
    with pytest.raises(Exception, match="mode_seeking_pool"):
        make(mode_seeking=0.1, mode_seeking_pool=0)
    with pytest.raises(Exception, match="at most 32"):  # make() builds 32-px models
        make(mode_seeking=0.1, mode_seeking_pool=64)


def _square(colour, at=(4, 4), size=10, res=32):
    """A (3, res, res) image in [-1, 1]: a square of ``colour`` (in [0, 1]) on white."""
    img = torch.ones(3, res, res)
    img[:, at[0]:at[0] + size, at[1]:at[1] + size] = torch.tensor(colour).view(3, 1, 1)
    return img * 2 - 1


def test_colour_gap_is_the_l1_distance_of_the_product_pixels_mean_colours():
    from prodgen.models.gan import colour_gap

    red, red_moved, blue = _square((1.0, 0, 0)), _square((1.0, 0, 0), at=(15, 12), size=14), _square((0, 0, 1.0))
    white = torch.ones(3, 32, 32)
    rows = torch.tensor([True, True, True])
    gap, used = colour_gap(torch.stack([red, red, white]), torch.stack([red_moved, blue, red]), rows)
    # red vs red elsewhere and larger: 0; red vs blue: (1 + 0 + 1) / 3; the white image has no product pixels: left out
    assert used == 2 and gap.item() == pytest.approx((0 + 2 / 3) / 2, abs=1e-6)
    gap, used = colour_gap(torch.stack([red, red, white]), torch.stack([red_moved, blue, red]),
                           torch.tensor([True, False, True]))
    assert used == 1 and gap.item() == pytest.approx(0, abs=1e-6)  # a row left out (an attribute unspecified)
    gap, used = colour_gap(white[None], red[None], torch.tensor([True]))
    assert used == 0 and gap.item() == 0
    dark = _square((0.5, 0.5, 0.5)).requires_grad_()
    gap, _ = colour_gap(dark[None], blue[None], torch.tensor([True]))
    gap.backward()
    inside = dark.grad[:, 4:14, 4:14]
    assert (inside != 0).all() and dark.grad.abs().sum() == inside.abs().sum()  # only the product pixels move


def test_colour_keep_joins_gs_loss_against_the_real_image_of_each_rows_condition():
    """colour_keep: G's loss gains the weight times colour_gap between each fake and the real image whose condition it
    carries (under mode seeking, the repeated half against the first half's real images), on fully specified rows."""
    from prodgen.models.gan import colour_gap

    x, cond = batch()
    x = torch.stack([_square((i / 6, 1 - i / 6, 0.3)) for i in range(6)])
    cond[5, 1] = 0  # one row with an attribute unspecified
    for ms in (0.0, 0.5):
        m = make(mode_seeking=ms, colour_keep=2.0).train()
        m.discriminator.eval()
        seen = []
        m.generator.register_forward_hook(lambda mod, inputs, output: seen.append(output.detach()))
        torch.manual_seed(4)
        out = m.loss("g", x, cond)
        (fake,) = seen
        source = torch.tensor([0, 1, 2, 0, 1, 2]) if ms else torch.arange(6)
        given = cond[source] if ms else cond
        want, used = colour_gap(fake, x[source], (given > 0).all(dim=1))
        assert used >= 3 and out["colour_gap"].item() == pytest.approx(want.item(), rel=1e-5)
        assert out["colour_rows"] == used
        wrong, _ = colour_gap(fake, x, (cond > 0).all(dim=1))
        if ms:
            assert abs(wrong.item() - want.item()) > 1e-4  # the check can fail: the pairing matters
        m2 = make(mode_seeking=ms).train()
        m2.discriminator.eval()
        torch.manual_seed(4)
        plain = m2.loss("g", x, cond)["loss"]
        assert out["loss"].item() == pytest.approx(plain.item() + 2.0 * want.item(), rel=1e-5)
    with pytest.raises(Exception, match="colour_keep"):
        make(colour_keep=-1)
    with pytest.raises(Exception, match="colour_keep"):
        make(colour_keep=1, loss="rpgan")


def test_mode_seeking_fade_lowers_the_weight_linearly_then_trains_the_plain_g_step():
    """mode_seeking_fade=N: the weight falls linearly from mode_seeking to 0 over N G steps (known values), counted in
    a buffer saved with the weights; after them G's step is the plain one, loss for loss."""
    m = make(mode_seeking=0.4, mode_seeking_fade=4).train()
    m.discriminator.eval()
    x, cond = batch()
    weights = []
    for _ in range(6):
        torch.manual_seed(4)
        out = m.loss("g", x, cond)
        weights.append(out.get("mode_seeking_weight", torch.tensor(0.0)).item())
    assert weights == pytest.approx([0.4, 0.3, 0.2, 0.1, 0, 0])
    assert int(m.state_dict()["mode_seeking_step"]) == 6
    plain = make(mode_seeking=0.0).train()
    plain.discriminator.eval()
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if k != "mode_seeking_step"})
    torch.manual_seed(4)
    after = m.loss("g", x, cond)["loss"]
    torch.manual_seed(4)
    assert after.item() == pytest.approx(plain.loss("g", x, cond)["loss"].item(), rel=1e-6)
    with torch.no_grad():  # sampling or evaluation does not move the fade
        m.loss("g", x, cond)
    assert int(m.state_dict()["mode_seeking_step"]) == 7
    with pytest.raises(Exception, match="mode_seeking_fade"):
        make(mode_seeking=0.1, mode_seeking_fade=-1)


def test_aux_cls_cross_entropy_has_the_known_value_of_a_blank_head_and_leaves_unspecified_rows_out():
    """AC-GAN (aux_cls): with a head whose weights are all zero every class is equally likely, so the cross-entropy is
    log(vocabulary size) per specified row, times the weight; rows with the attribute unspecified add nothing."""
    from prodgen.models.gan import aux_cross_entropy

    m = make(aux_cls=[0, 2.0])
    assert list(m.discriminator.aux) == ["1"]  # a head for the weighted attribute only
    head = m.discriminator.aux["1"]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
    h = torch.randn(6, head.in_features)
    cond = torch.tensor([[1, 2], [2, 0], [3, 4], [1, 0], [2, 1], [3, 3]])
    want = 2.0 * torch.log(torch.tensor(float(COND_SIZES[1])))
    assert aux_cross_entropy(m.discriminator.aux, m.aux_weights, h, cond).item() == pytest.approx(want.item(), rel=1e-6)
    with torch.no_grad():  # a head that is sure of class 2: rows asking 2 cost ~0, the others ~20 each
        head.bias.copy_(torch.tensor([0.0, 0, 20, 0, 0]))
    ce = aux_cross_entropy(m.discriminator.aux, m.aux_weights, h, cond).item()
    assert ce == pytest.approx(2.0 * 20 * 3 / 4, rel=1e-3)  # 4 specified rows, 3 of them not 2; the 2 unspecified out
    cond[:, 1] = 0
    assert aux_cross_entropy(m.discriminator.aux, m.aux_weights, h, cond).item() == 0  # nothing to learn, and no NaN


def test_aux_cls_joins_ds_loss_on_real_images_and_gs_on_the_asked_values():
    """D's term is the heads' cross-entropy on the real images' pooled features (the fakes do not move it); G's is the
    same on its own images against the values it was asked for, and it reaches G's weights."""
    from prodgen.models.gan import aux_cross_entropy

    x, cond = batch()
    m = make(aux_cls=1.0).train()
    m.discriminator.eval()  # one function: spectral norm's power iteration stops
    assert sorted(m.discriminator.aux) == ["0", "1"]
    torch.manual_seed(4)
    out = m.loss("d", x, cond)
    feats = []
    with torch.no_grad():
        m.discriminator(x, cond, feats=feats)
        want = aux_cross_entropy(m.discriminator.aux, m.aux_weights, feats[0], cond)
    assert out["aux_d"].item() == pytest.approx(want.item(), rel=1e-5)
    torch.manual_seed(5)  # another noise draw: other fakes, the same term
    assert m.loss("d", x, cond)["aux_d"].item() == pytest.approx(want.item(), rel=1e-5)
    plain = make().train()
    plain.discriminator.eval()
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if ".aux." not in k})
    torch.manual_seed(4)
    assert out["loss"].item() == pytest.approx(plain.loss("d", x, cond)["loss"].item() + want.item(), rel=1e-5)

    torch.manual_seed(4)
    g = m.loss("g", x, cond)
    torch.manual_seed(4)
    z = torch.randn(6, m.config.z_dim)
    with torch.no_grad():
        fake = m.generator(z, cond)
        feats = []
        m.discriminator(fake, cond, feats=feats)
        asked = aux_cross_entropy(m.discriminator.aux, m.aux_weights, feats[0], cond)
        other = aux_cross_entropy(m.discriminator.aux, m.aux_weights, feats[0], cond.roll(1, dims=0))
    assert g["aux_g"].item() == pytest.approx(asked.item(), rel=1e-5)
    assert abs(asked.item() - other.item()) > 1e-4  # the check can fail: the asked values matter
    g["aux_g"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.generator.parameters())


def test_aux_cls_is_off_by_default_and_checked():
    from prodgen.models.gan import GANConfig

    assert GANConfig().aux_cls == 0.0
    assert make().discriminator.aux is None  # no head: runs saved before it existed load strictly
    assert not any(".aux." in k for k in make().state_dict())
    assert GANConfig(aux_cls="0,1.5").aux_cls == [0.0, 1.5]  # the CLI's spelling
    for bad in ({"aux_cls": -1}, {"aux_cls": "a,b"}, {"aux_cls": 1, "loss": "rpgan"}, {"aux_cls": 1, "feature_d": 0.5},
                {"aux_cls": [1, 2, 3]}):  # three weights, two attributes
        with pytest.raises(Exception, match="aux_cls"):
            make(**bad)


def test_aux_cls_heads_save_and_load_with_the_run(tmp_path):
    m = make(aux_cls=[0, 1.0])
    with torch.no_grad():
        m.discriminator.aux["1"].bias.fill_(0.25)
    m.save_pretrained(tmp_path / "run")
    back = type(m).from_pretrained(tmp_path / "run")
    assert back.config.aux_cls == [0, 1.0]
    assert torch.equal(back.discriminator.aux["1"].bias, m.discriminator.aux["1"].bias)
