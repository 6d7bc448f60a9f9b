"""How much of each attribute a product title's text vector carries: a linear probe (issue 13, text steering).

    python bench/title_probe.py --run runs/fam-gan

Reads the run's catalog, split and vocabulary (``train.run.load_run_data``) and the title vectors of its text
encoder, fits one multinomial logistic regression per conditioned attribute on the TRAIN split's titles (full-batch
Adam, 300 steps, no tuning: ``conditioning.title_prior.fit_linear_probe``) and reports accuracy on the VAL split next to the majority class. A probe near 1 says the
vector holds the attribute linearly, so a generator that ignores the title has a training problem, not an encoder
problem. Also reports the share of training rows that are title-only (every attribute unspecified, title kept)
under the run's condition dropout, computed from ``conditioning.drop_for_training`` on 100,000 draws.
Writes bench/results/title_probe.json (command and machine inside).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

from prodgen.atomic import write_json  # noqa: E402
from prodgen.conditioning import drop_for_training  # noqa: E402
from prodgen.conditioning.title_prior import fit_linear_probe  # noqa: E402
from prodgen.data import prepare_title_embeddings  # noqa: E402
from prodgen.train.run import load_run_data  # noqa: E402


def probe(xtr, ytr, xva, yva, k: int) -> float:
    lin = fit_linear_probe(xtr, ytr, k)  # the title prior's fit (300 full-batch Adam steps, no L2)
    with torch.no_grad():
        return (lin(xva).argmax(1) == yva).float().mean().item()


def title_geometry(x: torch.Tensor, y: torch.Tensor) -> dict:
    """How much of a unit title vector is shared by all titles, and how much of the rest separates the classes.

    ``mean_norm``: length of the mean title vector (1 would be one vector for every title); ``mean_cosine``: mean
    pairwise cosine of titles; ``between_class_share``: share of the total variance (around the mean) that lies
    between class means -- what a generator must amplify to read the class from the title.
    """
    mean = x.mean(0)
    centred = x - mean
    total = centred.pow(2).sum(1).mean()
    between = torch.zeros(())
    for c in y.unique():
        m = y == c
        between = between + m.float().mean() * (x[m].mean(0) - mean).pow(2).sum()
    gram = x @ x.T
    n = len(x)
    return {"mean_norm": round(mean.norm().item(), 4),
            "mean_cosine": round(((gram.sum() - gram.diagonal().sum()) / (n * (n - 1))).item(), 4),
            "between_class_share": round((between / total).item(), 4)}


def title_only_share(n_attr: int, p: float, title_only: float, n: int = 100_000) -> float:
    cond = torch.ones(n, n_attr, dtype=torch.long)
    text = torch.ones(n, 4)
    c, t = drop_for_training(cond, text, p, title_only, torch.Generator().manual_seed(0))
    return ((c == 0).all(1) & (t.abs().sum(1) > 0)).float().mean().item()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=Path("runs/fam-gan"))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "title_probe.json")
    args = ap.parse_args()
    data = load_run_data(args.run, progress=False)
    cfg = json.loads((args.run / "config.json").read_text())
    encoder = cfg["condition"]["text_encoder"]
    titles = prepare_title_embeddings(data.catalog, encoder)
    by_id = {r.id: r for r in data.catalog.records}

    def xy(split):
        ids = [i for i in data.split[split] if i in titles and i in by_id]
        return torch.stack([titles[i] for i in ids]), data.vocab.encode_records(by_id[i].attributes for i in ids)

    (xtr, ytr), (xva, yva) = xy("train"), xy("val")
    rows = {}
    for a, name in enumerate(data.attributes):
        k = len(data.vocab[name].values)
        majority = int(torch.bincount(ytr[:, a], minlength=k).argmax())
        rows[name] = {"probe_val_accuracy": round(probe(xtr, ytr[:, a], xva, yva[:, a], k), 4),
                      "majority_val_accuracy": round((yva[:, a] == majority).float().mean().item(), 4),
                      "classes": k}
    geometry = title_geometry(xtr, ytr[:, 0])
    p = cfg["condition"]["dropout"]
    n_attr = len(data.attributes)
    shares = {f"title_only={t}": round(title_only_share(n_attr, p, t), 4) for t in (0.0, 0.25)}
    result = {"command": command_line(), "machine": machine_info(), "run": str(args.run), "text_encoder": encoder,
              "n_train": len(xtr), "n_val": len(xva), "attributes": rows, "condition_dropout": p,
              "title_only_row_share": shares, f"geometry (classes: {data.attributes[0]})": geometry}
    write_json(args.out, result)
    print(json.dumps({"attributes": rows, "title_only_row_share": shares, "geometry": geometry}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
