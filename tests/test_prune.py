"""Channel pruning of a GAN generator: the channel map is exact, unimportant channels are the ones dropped, and the
pruned run is an ordinary, narrower GAN run that learns to imitate the full one."""

from __future__ import annotations

import json

import pytest
import torch

from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.errors import UserError
from prodgen.export.prune import _keep_widths, _select, channel_importance, prune_gan
from prodgen.models import model_class
from prodgen.models.gan import GANConfig
from prodgen.sample import Pipeline
from tiny import train_tiny_run

SIZES = (5, 4)


def gan(cfg: GANConfig, seed: int = 0):
    torch.manual_seed(seed)
    m = model_class("gan")(cfg, SIZES, 32)
    with torch.no_grad():  # non-trivial BN statistics and FiLM layers (a fresh model has zeros and ones)
        for mod in m.generator.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
            if isinstance(mod, torch.nn.Linear) and mod.out_features % 2 == 0:
                mod.weight.normal_(0, 0.1)
    return m.eval()


def out(m, z, c):
    with torch.no_grad():
        return m.generator(z, c)


@pytest.mark.parametrize("sle", [False, True])
def test_the_channel_map_is_exact_a_permutation_gives_the_same_images(sle):
    """With skip-layer excitation too: the 32-px stage's gate reads the 4x4 stage, both permuted."""
    cfg = GANConfig(z_dim=8, cond_dim=8, g_base=4, g_cap=16, sle=sle)
    teacher, student = gan(cfg), gan(cfg, seed=1)
    widths = [s.numel() for s in channel_importance(teacher, torch.zeros(4, 2, dtype=torch.long), n=4)]
    g = torch.Generator().manual_seed(0)
    _select(student, teacher, [torch.randperm(w, generator=g) for w in widths])  # reorder every layer's channels
    z, c = torch.randn(6, 8, generator=g), torch.stack([torch.randint(0, s, (6,), generator=g) for s in SIZES], 1)
    assert (out(student, z, c) - out(teacher, z, c)).abs().max() < 1e-5
    kept = [torch.randperm(w, generator=g) for w in widths]
    kept[2][1] = kept[2][0]  # one channel copied twice, one lost: the comparison can fail
    bad = gan(cfg, seed=1)
    _select(bad, teacher, kept)
    assert (out(bad, z, c) - out(teacher, z, c)).abs().max() > 1e-3


def test_dead_channels_score_zero_and_pruning_them_changes_nothing():
    cfg = GANConfig(z_dim=8, cond_dim=8, g_base=4, g_cap=16, sle=False)  # a gate would read the "dead" channels
    teacher = gan(cfg)
    dec = teacher.generator.decoder
    readers = [up.conv for up in dec.ups] + [dec.to_rgb]
    g = torch.Generator().manual_seed(3)
    dead = []
    with torch.no_grad():
        for r in readers:  # the next layer ignores half of each stage's channels
            w = r.weight.shape[0] if isinstance(r, torch.nn.ConvTranspose2d) else r.weight.shape[1]
            d = torch.randperm(w, generator=g)[: w // 2]
            if isinstance(r, torch.nn.ConvTranspose2d):
                r.weight[d] = 0
            else:
                r.weight[:, d] = 0
            dead.append(d)
    cond = torch.stack([torch.randint(0, s, (32,), generator=g) for s in SIZES], 1)
    scores = channel_importance(teacher, cond, n=32)
    for s, d in zip(scores, dead):
        assert float(s[d].abs().max()) == 0 and int((s > 0).sum()) == s.numel() - len(d)
    small_cfg, old, new = _keep_widths(cfg, 32, 0.5)
    assert new == [w // 2 for w in old] and (small_cfg.g_base, small_cfg.g_cap) == (2, 8)
    student = model_class("gan")(small_cfg, SIZES, 32).eval()
    _select(student, teacher, [s.argsort(descending=True)[:w].sort().values for s, w in zip(scores, new)])
    z = torch.randn(6, 8, generator=g)
    assert (out(student, z, cond[:6]) - out(teacher, z, cond[:6])).abs().max() < 1e-5


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("prune") / "gan")


def test_prune_gan_writes_a_narrower_run_that_learns_to_imitate(tiny_run, tmp_path):
    rec = prune_gan(tiny_run, tmp_path / "p", keep=0.5, minutes=None, steps=40, batch_size=16, lr=1e-3, progress=False)
    assert rec["widths_before"] == [32, 32, 16, 8] and rec["widths_after"] == [16, 16, 8, 4]
    assert rec["distil_steps"] == 40 and rec["l1_last"] < 0.8 * rec["l1_first"]
    assert json.loads((tmp_path / "p" / "pruned.json").read_text())["keep"] == 0.5
    pruned, full = Pipeline.from_pretrained(tmp_path / "p", device="cpu"), Pipeline.from_pretrained(tiny_run, device="cpu")
    assert sum(p.numel() for p in pruned.net.parameters()) < 0.6 * sum(p.numel() for p in full.net.parameters())
    a = pruned.generate({"category": "handbag"}, n=4, seed=3)
    b = pruned.generate({"category": "handbag"}, n=4, seed=3)
    assert a.shape == (4, 3, 32, 32) and torch.equal(a, b)
    with pytest.raises(UserError, match="not empty"):
        prune_gan(tiny_run, tmp_path / "p", keep=0.5, steps=1, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not prodgen's")
    with pytest.raises(UserError, match="only replaces runs"):  # --overwrite never deletes other files
        prune_gan(tiny_run, tmp_path / "mine", keep=0.5, steps=1, overwrite=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").exists()
    with pytest.raises(UserError, match="whole channels"):
        prune_gan(tiny_run, tmp_path / "q", keep=0.3, steps=1, progress=False)


def test_prune_command(tiny_run, tmp_path):
    res = CliRunner().invoke(app, ["prune", str(tiny_run), "--out", str(tmp_path / "c"), "--keep", "0.75", "--steps", "2"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "[32, 32, 16, 8] -> [24, 24, 12, 6]" in res.output
    assert Pipeline.from_pretrained(tmp_path / "c", device="cpu").model.config.g_base == 6
