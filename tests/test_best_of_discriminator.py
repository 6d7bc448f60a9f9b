"""Candidates picked by a GAN's own discriminator: `generate --best-of K --score-with discriminator` and
`evaluate --best-of K`, against values computed by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from tiny import train_tiny_run
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.errors import UserError
from prodgen.sample import Pipeline
from prodgen.sample.best_of import BestOfPipeline, DiscriminatorScorer, best_of_batch, discriminator_scorer, scorer_for

runner = CliRunner()


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("dpick") / "run", "gan", steps=4)


@pytest.fixture(scope="module")
def pipe(gan_run):
    return Pipeline.from_pretrained(gan_run, device="cpu")


def conds(pipe, n=4):
    g = torch.Generator().manual_seed(0)
    return torch.stack([torch.randint(1, s, (n,), generator=g) for s in pipe.vocab.sizes], 1)


def test_discriminator_scorer_gives_ds_logit_under_the_asked_condition(pipe):
    cond = conds(pipe)
    x = pipe.generate_batch(cond, [1, 2, 3, 4])
    sc = DiscriminatorScorer(pipe.model.discriminator).score(x, cond)
    d = pipe.model.discriminator.eval()
    with torch.no_grad():
        want = d(x, cond, None).float().flatten()
    assert torch.allclose(sc["score"], want) and torch.equal(sc["score"], sc["discriminator"])
    # the condition is read: the same images under other attributes score otherwise (projection terms)
    other = DiscriminatorScorer(pipe.model.discriminator).score(x, cond.flip(0))["score"]
    assert not torch.allclose(other, sc["score"])


def test_best_of_batch_keeps_per_row_the_candidate_d_rates_highest(pipe):
    cond, seeds, k = conds(pipe), [5, 6, 7, 8], 3
    scorer = discriminator_scorer(pipe)
    kept, best, parts, scores = best_of_batch(pipe, cond, seeds, k, scorer)
    cands = [pipe.generate_batch(cond, [s * k + c for s in seeds]) for c in range(k)]  # candidate c: seed s * k + c
    by_hand = torch.stack([scorer.score(x, cond)["score"] for x in cands])
    assert torch.allclose(scores, by_hand) and torch.equal(best, by_hand.argmax(0))
    for i in range(len(seeds)):
        assert torch.equal(kept[i], cands[int(best[i])][i])
    assert len(set(best.tolist())) > 1 or not torch.allclose(by_hand[0], by_hand[1])  # the pick is not always 0
    # K = 1 is plain generation; the wrapping pipeline picks the same and is the pipeline otherwise
    assert torch.equal(best_of_batch(pipe, cond, seeds, 1, scorer)[0], pipe.generate_batch(cond, seeds))
    wrapped = BestOfPipeline(pipe, k, scorer)
    assert torch.equal(wrapped.generate_batch(cond, seeds), kept) and wrapped.vocab is pipe.vocab


def test_generate_best_of_by_discriminator_records_the_scores(gan_run, tmp_path):
    res = runner.invoke(app, ["generate", str(gan_run), "-n", "4", "--best-of", "3", "--score-with", "discriminator",
                              "--out", str(tmp_path / "o"), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "o" / "generation.json").read_text())
    assert side["best_of"] == 3 and side["request"]["score_with"] == "discriminator"
    for img in side["images"]:
        b = img["best_of"]
        assert b["score"] == b["discriminator"] == max(b["candidate_scores"])
        assert b["kept_seed"] == img["seed"] * 3 + b["kept_candidate"]


@pytest.mark.parametrize("args,words", [
    (["--score-with", "discriminator"], "add --best-of"),  # nothing to pick from
    (["--best-of", "2", "--score-with", "discriminator", "--features", "pn"], "drop --features"),
])
def test_generate_refuses_a_discriminator_score_it_would_not_use(gan_run, tmp_path, args, words):
    res = runner.invoke(app, ["generate", str(gan_run), "-n", "2", *args, "--out", str(tmp_path / "o"), "--quiet"])
    assert isinstance(res.exception, UserError) and words in str(res.exception)


def test_picking_by_discriminator_needs_a_gan_run(tmp_path):
    vae = Pipeline.from_pretrained(train_tiny_run(tmp_path / "vae", "vae", steps=2), device="cpu")
    with pytest.raises(UserError, match="needs a GAN run folder"):
        scorer_for(vae, by="discriminator")
    from prodgen.evaluate.evaluate import evaluate_run

    with pytest.raises(UserError, match="needs a GAN run folder"):
        evaluate_run(tmp_path / "vae", split="val", progress=False, best_of=2)


def test_evaluate_best_of_records_it_and_plain_lookups_skip_it(gan_run, tmp_path):
    from prodgen.evaluate.features import FitSettings, fit_productnet
    from prodgen.config import DataConfig

    fit_productnet(DataConfig(catalog="synthetic", resolution=32, synthetic_size=120), tmp_path / "pn",
                   FitSettings(epochs=1, width=8), progress=False)
    picked = runner.invoke(app, ["evaluate", str(gan_run), "--split", "val", "--features", str(tmp_path / "pn"),
                                 "--best-of", "2", "--quiet"], catch_exceptions=False)
    assert picked.exit_code == 0, picked.output
    evals = sorted((gan_run / "eval").glob("*/metrics.json"))
    got = json.loads(evals[-1].read_text())
    assert got["best_of"] == 2 and got["score_with"] == "discriminator"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from eval_table import find_metrics

    with pytest.raises(SystemExit, match="no evaluation"):  # a plain lookup never returns picked images
        find_metrics(gan_run, {"split": "val"})
    assert find_metrics(gan_run, {"split": "val", "best_of": "2"}) == evals[-1]


def test_csv_rows_picked_by_discriminator_record_the_scorer_in_the_request(gan_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("id,category,colour,productDisplayName\nA1,dress,green,Green dress\nB2,shoe,,Some shoe\n")
    out = tmp_path / "o"
    res = runner.invoke(app, ["generate", str(gan_run), "--from-csv", str(rows), "--best-of", "2", "--score-with",
                              "discriminator", "--out", str(out), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    side = json.loads((out / "generation.json").read_text())
    assert '"scoring": "discriminator"' in json.dumps(side) and '"best_of": 2' in json.dumps(side)
    lines = [json.loads(line) for p in out.rglob("*.jsonl") for line in p.read_text().splitlines() if line.strip()]
    picked = [line["best_of"] for line in lines if "best_of" in line]
    assert len(picked) == 2 and all(b["score"] == b["discriminator"] == max(b["candidate_scores"]) for b in picked)
