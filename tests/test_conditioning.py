"""Attribute vocabularies, condition dropout and condition grids."""

from __future__ import annotations

import pytest
import torch

from prodgen.conditioning import OTHER, UNKNOWN, UNSPECIFIED, Vocabulary, condition_grid, drop_conditions, drop_for_training
from prodgen.errors import UserError

ROWS = ([{"type": "Shirts", "colour": "Blue"}] * 30 + [{"type": "Shoes", "colour": "Red"}] * 25
        + [{"type": "Caps", "colour": None}] * 3 + [{"type": "Shoes", "colour": "Navy Blue"}] * 21)


def test_fit_orders_by_frequency_merges_rare_and_maps_na():
    v = Vocabulary.fit(["type", "colour"], ROWS, min_count=20)
    assert v["type"].values == (UNSPECIFIED, "Shoes", "Shirts", OTHER)
    assert v["type"].merged == ("Caps",)
    assert v["colour"].values == (UNSPECIFIED, "Blue", "Red", "Navy Blue", UNKNOWN)
    ids = v.encode_records([{"type": "Caps", "colour": None}, {"type": "Shirts", "colour": "Red"}, {"type": "Hats", "colour": "Blue"}])
    assert ids.tolist() == [[3, 4], [2, 2], [3, 1]]


def test_user_values_case_insensitive_and_unspecified_when_missing():
    v = Vocabulary.fit(["type", "colour"], ROWS, min_count=20)
    assert v.encode_user({"colour": "navy blue"}).tolist() == [0, 3]
    assert v.encode_user({}).tolist() == [0, 0]


def test_unknown_user_values_raise_with_suggestions_and_valid_list():
    v = Vocabulary.fit(["type", "colour"], ROWS, min_count=20)
    with pytest.raises(UserError, match=r"unknown value colour='Blu'.*Did you mean Blue.*Valid values: Blue, Red, Navy Blue"):
        v.encode_user({"colour": "Blu"})
    with pytest.raises(UserError, match="too rare.*merged into 'other'"):
        v.encode_user({"type": "Caps"})
    with pytest.raises(UserError, match="not conditioned on 'brand'"):
        v.encode_user({"brand": "Nike"})
    with pytest.raises(UserError):
        v.encode_user({"type": UNSPECIFIED})


def test_save_load_round_trip(tmp_path):
    v = Vocabulary.fit(["type", "colour"], ROWS, min_count=20)
    v.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == v


def test_dropout_rate_and_determinism():
    cond = torch.ones(20000, 2, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    out = drop_conditions(cond, 0.25, g)
    assert abs((out == 0).float().mean().item() - 0.25) < 0.01
    assert torch.equal(out, drop_conditions(cond, 0.25, torch.Generator().manual_seed(0)))
    assert drop_conditions(cond, 0.0) is cond


def test_training_dropout_makes_title_only_rows_at_the_asked_rate():
    n = 40000
    cond = torch.randint(1, 5, (n, 2))
    text = torch.nn.functional.normalize(torch.randn(n, 8), dim=1)
    c, t = drop_for_training(cond, text, 0.1, 0.25, torch.Generator().manual_seed(0))
    has_text = t.abs().sum(1) > 0
    no_attr = (c == 0).all(1)
    title_only = (no_attr & has_text).float().mean().item()
    # 0.25 chosen + 0.75 x (0.1^2 both attributes dropped x 0.9 title kept) by independent dropout
    assert abs(title_only - (0.25 + 0.75 * 0.01 * 0.9)) < 0.01
    assert torch.equal(t[has_text], text[has_text])  # a kept title is the title, untouched
    kept_attr = c != 0
    assert torch.equal(c[kept_attr], cond[kept_attr])
    # without the title-only mode only independent dropout remains (title-only rows under 1%)
    c0, t0 = drop_for_training(cond, text, 0.1, 0.0, torch.Generator().manual_seed(0))
    assert ((c0 == 0).all(1) & (t0.abs().sum(1) > 0)).float().mean().item() < 0.012
    # no text: the title-only share does not apply (no row loses its attributes for it)
    c1, t1 = drop_for_training(cond, None, 0.1, 0.25, torch.Generator().manual_seed(0))
    assert t1 is None and abs((c1 == 0).float().mean().item() - 0.1) < 0.01


def test_condition_grid_rows_and_columns_are_most_frequent_values():
    v = Vocabulary.fit(["type", "colour"], ROWS, min_count=20)
    g = condition_grid(v, rows=8, cols=2)
    assert g.row_labels == ["Shoes", "Shirts"] and g.col_labels == ["Blue", "Red"]
    assert g.cond.tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]


def test_runs_written_before_title_only_resume_without_it(tmp_path):
    from prodgen.config import RunConfig

    cfg = RunConfig()
    d = cfg.to_dict()
    assert d["condition"]["title_only"] == 0.25  # new runs: the default
    del d["condition"]["title_only"]  # a config.json written before the option existed
    assert RunConfig.from_dict(d).condition.title_only == 0.0
