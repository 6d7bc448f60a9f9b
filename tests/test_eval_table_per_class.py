"""bench/eval_table.py --per-class: each row keeps its evaluation's per-class (right, asked) counts."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from eval_table import collect  # noqa: E402


def _metrics(tmp_path: Path, name: str, black: list[int], seen_as: dict | None = None) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**({"seen_as": seen_as} if seen_as else {}),
        "run": f"runs/{name}", "model": "gan", "n_generated": 10, "split": "val",
        "rows": {"model": {"fid": 30.0, "acc/baseColour": black[0] / black[1]}},
        "per_class_accuracy": {"baseColour": {"Black": black, "White": [1, 2]}, "articleType": {"Shirts": [3, 4]}}}))
    return path


def test_per_class_counts_are_kept_for_the_asked_attributes_only(tmp_path):
    a, b = _metrics(tmp_path, "a", [143, 196]), _metrics(tmp_path, "b", [170, 196])
    out = collect([("a", str(a), "A"), ("b", str(b), "B")], [], [], ["baseColour"])
    got = {r["name"]: r["per_class_accuracy"] for r in out["rows"]}
    assert got == {"a": {"baseColour": {"Black": [143, 196], "White": [1, 2]}},
                   "b": {"baseColour": {"Black": [170, 196], "White": [1, 2]}}}
    assert "per_class_accuracy" not in collect([("a", str(a), "A")], [], [])["rows"][0]  # only when asked


def test_per_class_of_an_attribute_the_evaluation_lacks_names_it(tmp_path):
    a = _metrics(tmp_path, "a", [1, 2])
    with pytest.raises(SystemExit, match="no per-class accuracy for season"):
        collect([("a", str(a), "A")], [], [], ["season"])


def test_per_class_keeps_what_each_class_was_taken_for_where_the_evaluation_has_it(tmp_path):
    seen = {"model": {"baseColour": {"Black": {"Black": 1, "Brown": 1}}, "articleType": {"Shirts": {"Shirts": 4}}},
            "real_floor": {"baseColour": {"Black": {"Black": 2}}}}
    a = _metrics(tmp_path, "a", [1, 2], seen)
    row = collect([("a", str(a), "A")], [], [], ["baseColour"])["rows"][0]
    assert row["seen_as"] == {"model": {"baseColour": {"Black": {"Black": 1, "Brown": 1}}},
                              "real_floor": {"baseColour": {"Black": {"Black": 2}}}}
    assert "seen_as" not in collect([("b", str(_metrics(tmp_path, "b", [1, 2])), "B")], [], [], ["baseColour"])["rows"][0]
