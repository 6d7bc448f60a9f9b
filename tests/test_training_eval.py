"""Periodic cheap evaluation during training: FID/KID in metrics.jsonl, not counted as training time, plotted."""

from __future__ import annotations

import json
import time

import pytest
import torch
from tiny import TINY_ARGS, shapes_data

from prodgen.config import TrainConfig
from prodgen.evaluate import plot_quality, write_run_report
from prodgen.evaluate.during_training import EVAL_SEED, TrainingEvaluator
from prodgen.evaluate.metrics import frechet_distance_of_samples
from prodgen.evaluate.productnet import ProductNet, ProductNetConfig
from prodgen.models import model_class
from prodgen.train import Trainer


def random_productnet() -> ProductNet:
    torch.manual_seed(0)
    return ProductNet(ProductNetConfig(resolution=32, attributes=["shape"], head_sizes=[4], width=8, feature_dim=64))


class FixedImages:
    """A stand-in model whose 'samples' are given images (to check the evaluator's ordering)."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def sample(self, n, cond, generator=None, net=None, text=None):
        idx = torch.randint(len(self.images), (n,), generator=generator)
        return self.images[idx].float() / 127.5 - 1


class TitleEcho:
    """A stand-in text-conditioned model: its 'title vector' holds the index of the held-out photo it returns;
    without a title it returns noise."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def sample(self, n, cond, generator=None, net=None, text=None):
        if text is None:
            return torch.rand(n, *self.images.shape[1:], generator=generator) * 2 - 1
        return self.images[text[:, 0].long()].float() / 127.5 - 1


def test_evaluator_draws_text_runs_from_the_heldout_titles():
    held, _ = shapes_data(n=64, seed=1)
    titles = torch.arange(64, dtype=torch.float32)[:, None].repeat(1, 3)  # row i's "title" names photo i
    net = torch.nn.Linear(1, 1)
    with_titles = TrainingEvaluator(random_productnet(), held.images, held.cond, n=64, real_text=titles)(
        TitleEcho(held.images), net)
    without = TrainingEvaluator(random_productnet(), held.images, held.cond, n=64)(TitleEcho(held.images), net)
    # each held-out photo drawn from its own title: the real set itself, so FID 0 up to rounding (this random
    # extractor's features are small, so noise scores only ~1e-4: compare relative to it)
    assert without["eval/fid"] > 0 and abs(with_titles["eval/fid"]) < 1e-3 * without["eval/fid"]


def test_evaluator_orders_real_below_noise_and_is_deterministic():
    data, _ = shapes_data(n=160, seed=0)
    held, _ = shapes_data(n=160, seed=1)  # same distribution, other images
    ev = TrainingEvaluator(random_productnet(), held.images, held.cond, n=120)
    net = torch.nn.Linear(1, 1)
    real_like = ev(FixedImages(data.images), net)
    noise = ev(FixedImages(torch.randint(0, 256, data.images.shape, dtype=torch.uint8)), net)
    assert real_like["eval/fid"] < noise["eval/fid"] / 5
    assert real_like["eval/kid_mean"] < noise["eval/kid_mean"]
    assert ev(FixedImages(data.images), net) | {"eval/seconds": 0} == real_like | {"eval/seconds": 0}  # fixed seed
    assert real_like["eval/n"] == 120 and real_like["eval/n_real"] == 160
    # Known answer: the same FID recomputed by hand from the same images (fixed noise EVAL_SEED) and features.
    pn = random_productnet()
    g = torch.Generator().manual_seed(EVAL_SEED)
    fake = torch.cat([FixedImages(data.images).sample(len(c), c, generator=g) for c in ev.cond.split(ev.batch_size)])
    a, b = pn.extract(held.images)[0].double().numpy(), pn.extract(fake)[0].double().numpy()
    assert real_like["eval/fid"] == pytest.approx(frechet_distance_of_samples(a, b), rel=1e-5)
    assert 0 < real_like["eval/kid_std"] < noise["eval/kid_mean"] / 5


def test_trainer_appends_eval_records_and_excludes_their_time(tmp_path):
    data, vocab = shapes_data(n=48)
    held, _ = shapes_data(n=40, seed=1)
    inner = TrainingEvaluator(random_productnet(), held.images, held.cond, n=32)

    def slow_evaluator(model, net):  # an evaluation that takes visibly long
        time.sleep(0.6)
        return inner(model, net)

    torch.manual_seed(0)
    model = model_class("gan").from_args(TINY_ARGS["gan"], vocab.sizes, 32)
    cfg = TrainConfig(steps=5, batch_size=8, device="cpu", log_every=1, sample_every=100, checkpoint_every=100,
                      sample_grid=16, eval_every=2)
    trainer = Trainer(model, data, vocab, tmp_path, cfg, cond_dropout=0.2, evaluator=slow_evaluator)
    t0 = time.monotonic()
    trainer.run(progress=False)
    wall = time.monotonic() - t0
    records = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval/fid" in r]
    assert [r["step"] for r in evals] == [2, 4, 5]  # every 2 steps, and the final weights
    assert all(r["eval/fid"] > 0 and r["eval/n"] == 32 for r in evals)
    final = inner(model, trainer.ema.net)  # the last record is the evaluation of the final EMA weights
    assert {k: v for k, v in final.items() if k != "eval/seconds"} == {k: v for k, v in evals[-1].items()
                                                                        if k.startswith("eval/") and k != "eval/seconds"}
    assert evals[0]["eval/fid"] != evals[-1]["eval/fid"]  # the weights changed between the evaluations
    assert wall > 1.8 and trainer.elapsed < wall - 1.7  # three 0.6 s evaluations are not training time
    step_seconds = sum(8 / r["images_per_s"] for r in records if "images_per_s" in r)  # 1 step of 8 images per record
    assert step_seconds < wall - 1.7  # the throughput is of training time too
    assert plot_quality(records, tmp_path / "q.png").stat().st_size > 1000
    page = write_run_report(tmp_path).read_text()
    assert "Quality against training time" in page and "quality.png" in page


def test_no_quality_plot_without_eval_records(tmp_path):
    assert plot_quality([{"step": 1, "elapsed_s": 1.0, "g/loss": 0.5}], tmp_path / "q.png") is None


def test_a_text_runs_periodic_evaluation_gets_the_val_titles():
    from prodgen.config import ConditionConfig, DataConfig, RunConfig
    from prodgen.data import load_catalog
    from prodgen.data.cache import prepare_title_embeddings
    from prodgen.train.run import prepare_data

    data_cfg = DataConfig(catalog="synthetic", resolution=32, synthetic_size=120)
    cfg = RunConfig(model="gan", model_args=dict(TINY_ARGS["gan"]), data=data_cfg,
                    condition=ConditionConfig(attributes=["category", "colour"], min_count=1, text=True,
                                              text_encoder="hashing"))
    data = prepare_data(cfg, progress=False)
    images, cond = data.heldout("val")
    text = data.heldout_text("val")
    titles = prepare_title_embeddings(load_catalog(data_cfg), "hashing")
    ids = data.heldout_ids("val")
    assert text.shape == (len(images), 384) and len(ids) == len(cond) > 0
    assert all(torch.equal(text[k], titles[i]) for k, i in enumerate(ids))  # row k: the title of photo k
    assert prepare_data(RunConfig(model="gan", model_args=dict(TINY_ARGS["gan"]), data=data_cfg,
                                  condition=ConditionConfig(attributes=["category"], min_count=1)),
                        progress=False).heldout_text("val") is None
