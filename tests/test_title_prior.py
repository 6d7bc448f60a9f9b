"""Title prior (title -> attribute values): fit on a known answer, files, prompts, CLI, evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.conditioning import OTHER, UNKNOWN, UNSPECIFIED, AttributeVocab, Vocabulary
from prodgen.conditioning.title_prior import PRIOR_INFO, PRIOR_WEIGHTS, TitlePrior
from prodgen.errors import UserError
from prodgen.sample.prompt import prompt_condition
from tiny import train_tiny_run

runner = CliRunner()
VALUES = (UNSPECIFIED, "shirt", "shoe", "bag", OTHER, UNKNOWN)
VOCAB = Vocabulary((AttributeVocab("type", VALUES),))


def _directions(dim: int = 16) -> torch.Tensor:
    return torch.eye(dim)[: len(VALUES)]  # class id k <-> unit direction k


def _data(n: int, seed: int, dim: int = 16):
    """Title vectors that point at their class's direction (plus noise); labels drawn over shirt/shoe/bag/other."""
    g = torch.Generator().manual_seed(seed)
    y = torch.tensor([1, 2, 3, 4])[torch.randint(4, (n,), generator=g)]
    y[: n // 10] = 1  # shirt is the majority class
    x = _directions(dim)[y] + 0.15 * torch.randn(n, dim, generator=g)
    return torch.nn.functional.normalize(x, dim=1), y[:, None]


def test_fit_recovers_a_known_mapping_and_never_predicts_placeholders():
    xtr, ytr = _data(400, 0)
    xva, yva = _data(200, 1)
    prior = TitlePrior.fit(VOCAB, "hashing", xtr, ytr, xva, yva)
    info = prior.info["per_attribute"]["type"]
    real = yva[:, 0] != 4
    # the val rows of a real value are all right; "other" rows can never be (the prior does not predict "other")
    assert info["val_accuracy"] == pytest.approx(real.float().mean().item(), abs=1e-4)
    majority = (yva[:, 0] == 1).float().mean().item()
    assert info["majority_val_accuracy"] == pytest.approx(majority, abs=1e-4)
    assert set(info["val_accuracy_by_weight_decay"]) == {"0.0", "1e-05", "0.0001"}
    ids, probs = prior.predict(xva, VOCAB)
    assert torch.equal(ids[real, 0], yva[real, 0])
    assert set(ids[:, 0].tolist()) <= {1, 2, 3}  # never <unspecified>, other or unknown
    assert (probs[real, 0] > 0.5).all()


def test_empty_titles_and_unsure_predictions_stay_unspecified():
    xtr, ytr = _data(400, 0)
    prior = TitlePrior.fit(VOCAB, "hashing", xtr, ytr, *_data(100, 1))
    d = _directions()
    between = torch.nn.functional.normalize(d[2] + d[3], dim=0)  # half shoe, half bag
    x = torch.stack([d[2], torch.zeros(16), between])
    ids, probs = prior.predict(x, VOCAB)
    assert ids[:, 0].tolist()[:2] == [2, 0] and probs[1, 0] == 0
    assert ids[2, 0] in (2, 3) and 0.3 < probs[2, 0] < 0.8
    ids, _ = prior.predict(x, VOCAB, min_confidence=0.9)
    assert ids[:, 0].tolist() == [2, 0, 0]


def test_files_round_trip_and_a_mismatched_vocabulary_is_refused(tmp_path):
    xtr, ytr = _data(200, 0)
    prior = TitlePrior.fit(VOCAB, "hashing", xtr, ytr, *_data(100, 1))
    prior.save(tmp_path)
    again = TitlePrior.load(tmp_path)
    x, _ = _data(50, 2)
    assert torch.equal(prior.predict(x, VOCAB)[0], again.predict(x, VOCAB)[0])
    assert again.encoder == "hashing" and json.loads((tmp_path / PRIOR_INFO).read_text())["attributes"] == ["type"]
    smaller = Vocabulary((AttributeVocab("type", VALUES[:4]),))
    with pytest.raises(UserError, match="refit it"):
        again.check_vocab(smaller, tmp_path / PRIOR_WEIGHTS)
    (tmp_path / PRIOR_WEIGHTS).write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="cannot be read"):
        TitlePrior.load(tmp_path)
    assert TitlePrior.load(tmp_path / "nowhere") is None


def test_prompt_words_and_attrs_win_over_the_prior():
    v = Vocabulary((AttributeVocab("articleType", (UNSPECIFIED, "Shirts", "Handbags")),
                    AttributeVocab("baseColour", (UNSPECIFIED, "Red", "Blue"))))
    guess = {"articleType": ("Handbags", 0.8), "baseColour": ("Blue", 0.7)}
    pc = prompt_condition("red tote", {}, v, None, infer=lambda p: guess)
    assert pc.cond.tolist() == [2, 1]  # Handbags from the prior, Red from the prompt's word
    assert any("articleType='Handbags' inferred" in n for n in pc.notes)
    assert not any("baseColour" in n and "inferred" in n for n in pc.notes)
    pc = prompt_condition("red tote", {"articleType": "Shirts"}, v, None, infer=lambda p: guess)
    assert pc.cond.tolist() == [1, 1] and not any("inferred" in n for n in pc.notes)
    with pytest.raises(UserError, match="title-prior"):  # a model without text and no prior: nothing to go on
        prompt_condition("a tote", {}, v, None, infer=None)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """A tiny GAN without text on the synthetic catalog, given a hashing-encoder title prior by the CLI."""
    out = tmp_path_factory.mktemp("prior") / "run"
    train_tiny_run(out, "gan", steps=2)
    assert not (out / PRIOR_WEIGHTS).exists()  # runs without text get no prior unless asked
    res = runner.invoke(app, ["title-prior", str(out), "--text-encoder", "hashing"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


def test_cli_fits_a_prior_that_reads_the_synthetic_titles(plain_run):
    info = json.loads((plain_run / PRIOR_INFO).read_text())
    assert info["encoder"] == "hashing"
    for name in ("category", "colour"):  # the synthetic titles name both ("Red striped handbag"); ~100 train titles
        d = info["per_attribute"][name]
        assert d["val_accuracy"] >= 0.85 and d["val_accuracy"] > d["majority_val_accuracy"] + 0.4, d


def test_generate_from_a_title_through_the_prior(plain_run, tmp_path):
    from prodgen.sample import Pipeline

    pipe = Pipeline.from_pretrained(plain_run, device="cpu")
    guess = pipe.infer_attributes("Blue striped cap")
    assert {k: v for k, (v, _) in guess.items()} == {"category": "cap", "colour": "blue"}
    # "striped thing" names no category or colour, so without the prior a model without text refuses it
    res = runner.invoke(app, ["generate", str(plain_run), "--prompt", "striped thing", "--no-title-prior", "-n", "1",
                              "--out", str(tmp_path / "a")])
    assert res.exit_code != 0 and "title-prior" in str(res.exception)
    res = runner.invoke(app, ["generate", str(plain_run), "--prompt", "striped thing", "-n", "1", "--out", str(tmp_path / "b"),
                              "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "b" / "generation.json").read_text())
    assert set(side["request"]["understood"]) == {"category", "colour"}
    assert any("inferred from the prompt by the title prior" in n for n in side["request"]["notes"])


def test_evaluate_reports_title_only_accuracy_through_the_prior(plain_run, tmp_path):
    from prodgen.config import DataConfig
    from prodgen.data import prepare_title_embeddings
    from prodgen.evaluate.evaluate import evaluate_run
    from prodgen.evaluate.features import FitSettings, fit_productnet
    from prodgen.sample import Pipeline
    from prodgen.train.run import load_run_data

    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=120)
    fit_productnet(data, tmp_path / "pn", FitSettings(epochs=1, width=8, min_count=2), progress=False)
    res = evaluate_run(plain_run, split="val", features=tmp_path / "pn", progress=False, n_boot=2)
    row = res["rows"]["model"]
    assert {"prior_text_acc/category", "prior_text_acc/colour"} <= set(row) and "text_acc/category" not in row
    assert row["n_prior_text"] == res["n_generated"]
    # the prior's own accuracy on the val titles, recomputed here from the files
    pipe, run = Pipeline.from_pretrained(plain_run, device="cpu"), load_run_data(plain_run, progress=False)
    vectors = prepare_title_embeddings(run.catalog, "hashing")
    by_id = {r.id: r for r in run.catalog.records}
    ids = run.split["val"]
    pred, _ = pipe.title_prior.predict(torch.stack([vectors[i] for i in ids]), pipe.vocab)
    truth = pipe.vocab.encode_records(by_id[i].attributes for i in ids)
    for j, name in enumerate(pipe.vocab.names):
        assert res["title_prior"]["accuracy"][name] == pytest.approx((pred[:, j] == truth[:, j]).float().mean().item(), abs=1e-4)
    none = evaluate_run(plain_run, split="val", features=tmp_path / "pn", progress=False, n_boot=2, n_text=0)
    assert "prior_text_acc/category" not in none["rows"]["model"] and "title_prior" not in none


def test_the_studio_offers_prompts_for_a_model_with_a_prior(plain_run):
    from prodgen.studio.models import list_models

    listed = {m["id"]: m for m in list_models(plain_run.parent)}
    assert listed["run"]["text"] is False and listed["run"]["title_prior"] is True


def test_from_csv_rows_fill_their_empty_attributes_from_their_titles(plain_run, tmp_path):
    """A --from-csv row that leaves attributes empty gets them from its title through the prior; a value the row
    gives is kept; a row without a title stays unspecified; --no-title-prior leaves every empty value open."""
    import csv

    rows = tmp_path / "rows.csv"
    rows.write_text("id,category,colour,productDisplayName\n"
                    "a,,,Blue striped cap\n"        # both from the title
                    "b,handbag,,Red striped cap\n"  # category kept, colour from the title
                    "c,shoe,green,Blue striped cap\n"  # nothing to fill
                    "d,,,\n")                        # no title: nothing to read
    for flag, out in (("--title-prior", tmp_path / "with"), ("--no-title-prior", tmp_path / "without")):
        res = runner.invoke(app, ["generate", str(plain_run), "--from-csv", str(rows), "--out", str(out), flag,
                                  "--quiet"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
    labels = {r["id"]: (r["category"], r["colour"]) for r in csv.DictReader(open(tmp_path / "with" / "labels.csv"))}
    assert labels == {"a": ("cap", "blue"), "b": ("handbag", "red"), "c": ("shoe", "green"), "d": ("", "")}
    bare = {r["id"]: (r["category"], r["colour"]) for r in csv.DictReader(open(tmp_path / "without" / "labels.csv"))}
    assert bare == {"a": ("", ""), "b": ("handbag", ""), "c": ("shoe", "green"), "d": ("", "")}
    entries = {}
    for m in (tmp_path / "with").glob("manifest-*.jsonl"):
        for line in m.read_text().splitlines():
            e = json.loads(line)
            if "id" in e:  # an image's line (not the manifest's header)
                entries[e["id"]] = e
    assert set(entries["a"]["inferred"]) == {"category", "colour"}
    assert [v for v, _ in entries["b"]["inferred"].values()] == ["red"] and 0.5 < entries["b"]["inferred"]["colour"][1] <= 1
    assert "inferred" not in entries["c"] and "inferred" not in entries["d"]
    assert entries["a"]["condition"] == {"category": "cap", "colour": "blue"}
    # the same seed per row, another condition: another image
    a1 = np.asarray(Image.open(tmp_path / "with" / "a.png")).astype(int)
    assert np.abs(a1 - np.asarray(Image.open(tmp_path / "without" / "a.png"))).mean() > 1
    from prodgen.sample import Pipeline
    from prodgen.sample.stream import generate_from_csv

    res = generate_from_csv(Pipeline.from_pretrained(plain_run, device="cpu"), rows, tmp_path / "api", progress=False)
    assert any(n.startswith("2 rows left attributes empty: the run's title prior read them") for n in res.notes), res.notes
