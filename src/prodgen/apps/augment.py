"""``prodgen augment``: labelled generated images for a catalog's rare classes, and whether they help.

Rare classes: values of the run's first conditioning attribute (e.g. articleType) with
fewer than ``rare_below`` training photos (default: the median count). For each,
``per_class`` images are generated with that value, the other attributes drawn from
the class's own training photos, and written to ``<out>/images/`` with ``labels.csv``.

The experiment (``--evaluate``): the same classifier (a ProductNet with one head for
the attribute, same settings) is trained on the real training photos alone and on
real + generated, for several seeds, and tested on the held-out *real* test photos:
overall accuracy and mean per-class accuracy over the rare classes, with the spread
over seeds. If the generated data does not help, the report says so.
"""

from __future__ import annotations

import html
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_json, write_text
from ..conditioning import OTHER, UNKNOWN, UNSPECIFIED, Vocabulary
from ..errors import UserError
from ..sample.writer import Job, unique_names, write_generation


@dataclass
class RareClasses:
    attribute: str
    counts: dict[str, int]  # training photos per value
    rare: list[str]


def rare_classes(pipe, train_cond: torch.Tensor, rare_below: int | None = None) -> RareClasses:
    a = pipe.vocab.attributes[0]
    ids = train_cond[:, 0].tolist()
    counts = {v: ids.count(k) for k, v in enumerate(a.values) if v not in (UNSPECIFIED, OTHER, UNKNOWN)}
    counts = {v: c for v, c in counts.items() if c > 0}
    if not counts:
        raise UserError(f"no training photo has a known {a.name} value, so no class can be found rare; "
                        "check the run's catalog (--catalog)")
    if rare_below is not None and rare_below < 1:
        raise UserError(f"--rare-below {rare_below} must be at least 1")
    thr = rare_below if rare_below is not None else int(statistics.median(counts.values()))
    rare = sorted((v for v, c in counts.items() if c < thr), key=lambda v: counts[v])
    if not rare:
        raise UserError(f"no {a.name} value has fewer than {thr} training photos; nothing is rare (set --rare-below)")
    return RareClasses(a.name, counts, rare)


def generate_rare(pipe, train_cond: torch.Tensor, rare: RareClasses, per_class: int, out: Path, seed: int = 0,
                  sampling: dict | None = None, progress: bool = True, console=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Write ``per_class`` images per rare class; returns them as uint8 (N, 3, R, R) with their (N, A) conditions."""
    a = pipe.vocab.attributes[0]
    g = np.random.default_rng(seed)
    jobs = []
    stems = dict(zip(rare.rare, unique_names(rare.rare)))  # values such as "a/b" and "a_b" get distinct names
    for v in rare.rare:
        k = a.values.index(v)
        pool = train_cond[train_cond[:, 0] == k]
        picks = pool[g.integers(len(pool), size=per_class)]  # other attributes as the class's own photos have them
        for j in range(per_class):
            jobs.append(Job(f"{stems[v]}-{j:05d}", picks[j], seed + len(jobs), {"generated": True}))
    res = write_generation(pipe, jobs, out / "images", request={"augment": rare.attribute, "per_class": per_class,
                           "classes": rare.rare}, progress=progress, console=console, sampling=sampling)
    from PIL import Image

    imgs = torch.stack([torch.from_numpy(np.asarray(Image.open(f), dtype=np.uint8).transpose(2, 0, 1).copy())
                        for f in res.files])
    return imgs, torch.stack([j.cond for j in jobs])



def run_experiment(pipe, data, rare: RareClasses, gen_images: torch.Tensor, gen_cond: torch.Tensor, seeds: list[int],
                   epochs: int = 6, progress: bool = True, console=None) -> dict:
    """Train the classifier with and without the generated images per seed; held-out real accuracy."""
    from ..evaluate.features import FitSettings, train_productnet
    from ..evaluate.productnet import ProductNetConfig

    attr = pipe.vocab.attributes[0]
    head = Vocabulary((attr,))
    xtr, ytr = data.train.images, data.train.cond[:, :1]
    xte, yte = data.heldout("test")
    yte = yte[:, :1]
    cfg = ProductNetConfig(pipe.model.resolution, [attr.name], head.sizes, 16, 256, data.catalog.name, data.catalog.fingerprint)
    rare_ids = [attr.values.index(v) for v in rare.rare]
    arms = {"real only": (xtr, ytr), "real + generated": (torch.cat([xtr, gen_images]), torch.cat([ytr, gen_cond[:, :1]]))}
    results: dict[str, list[dict]] = {k: [] for k in arms}
    for seed in seeds:
        for arm, (x, y) in arms.items():
            s = FitSettings(epochs=epochs, seed=seed)
            net = train_productnet(x, y, cfg, s, progress=progress, console=console, label=f"{arm}, seed {seed}")
            _, logits = net.extract(xte)
            pred = logits[0].argmax(1)
            t = yte[:, 0]
            lab = t > 0
            per_class = {k: float((pred[t == k] == k).float().mean()) for k in rare_ids if (t == k).any()}
            results[arm].append({"seed": seed, "accuracy": float((pred[lab] == t[lab]).float().mean()),
                                 "rare_accuracy": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
                                 "rare_per_class": {attr.values[k]: round(v, 4) for k, v in per_class.items()}})
    summary = {}
    for arm, rs in results.items():
        acc = [r["accuracy"] for r in rs]
        rare_acc = [r["rare_accuracy"] for r in rs]
        summary[arm] = {"accuracy_mean": float(np.mean(acc)), "accuracy_std": float(np.std(acc)),
                        "rare_accuracy_mean": float(np.mean(rare_acc)), "rare_accuracy_std": float(np.std(rare_acc))}
    base, aug = summary["real only"], summary["real + generated"]
    gain = aug["rare_accuracy_mean"] - base["rare_accuracy_mean"]
    spread = max(base["rare_accuracy_std"], aug["rare_accuracy_std"])
    verdict = ("helps" if gain > 2 * spread and gain > 0.01 else "hurts" if gain < -2 * spread and gain < -0.01
               else "makes no clear difference")
    return {"attribute": attr.name, "rare_classes": rare.rare, "train_counts": {v: rare.counts[v] for v in rare.rare},
            "n_generated": len(gen_images), "n_real_train": len(xtr), "n_test": len(xte), "seeds": seeds, "epochs": epochs,
            "runs": results, "summary": summary, "rare_gain": gain, "verdict": verdict}


@dataclass
class AugmentResult:
    rare: RareClasses
    images_dir: Path  # generated images + labels.csv
    n_generated: int
    experiment: dict | None  # run_experiment's result with --evaluate
    report: Path | None  # augment.html with --evaluate


def augment(run_dir: str | Path, out: str | Path, catalog: str | None = None, per_class: int = 200,
            rare_below: int | None = None, evaluate: bool = False, seeds: list[int] | tuple[int, ...] = (0, 1, 2),
            epochs: int = 6, seed: int = 0, sampling: dict | None = None, progress: bool = True, console=None) -> AugmentResult:
    """The whole ``prodgen augment``: find the rare classes of a run's training split, generate ``per_class`` images of
    each into ``out/images``, and with ``evaluate`` train the classifier with and without them (``out/augment.html``).

    Everything is checked before the first image is written.
    """
    from ..sample import Pipeline
    from ..sample.writer import check_out_folder
    from ..train.run import load_run_data

    out = check_out_folder(out)
    if per_class < 1:
        raise UserError(f"--per-class {per_class} must be at least 1")
    if evaluate and (not seeds or epochs < 1):
        raise UserError("--evaluate needs at least one classifier seed (--seeds 0,1,2) and --epochs of at least 1")
    pipe = Pipeline.from_pretrained(run_dir)
    if sampling and pipe.model.family != "diffusion":
        raise UserError(f"--steps and --guidance are for diffusion models; {run_dir} is a {pipe.model.family}")
    cfg = pipe.config
    if catalog is not None:
        cfg.data.catalog = catalog
    data = load_run_data(run_dir, cfg, progress=progress)
    rare = rare_classes(pipe, data.train.cond, rare_below)
    if evaluate and len(data.heldout("test")[0]) == 0:
        raise UserError(f"--evaluate scores the classifier on the run's test photos, and {data.catalog.name} has none "
                        "in the run's test split; is --catalog the catalog the run was trained on?")
    imgs, cond = generate_rare(pipe, data.train.cond, rare, per_class, out, seed, sampling, progress=progress, console=console)
    result = page = None
    if evaluate:
        result = run_experiment(pipe, data, rare, imgs, cond, list(seeds), epochs, progress=progress, console=console)
        page = write_augment_report(out, result)
    return AugmentResult(rare, out / "images", len(imgs), result, page)


def write_augment_report(out: Path, result: dict) -> Path:
    rows = "".join(f"<tr><td>{html.escape(arm)}</td><td>{s['accuracy_mean']:.4f} &plusmn; {s['accuracy_std']:.4f}</td>"
                   f"<td>{s['rare_accuracy_mean']:.4f} &plusmn; {s['rare_accuracy_std']:.4f}</td></tr>"
                   for arm, s in result["summary"].items())
    page = (f"<!doctype html><meta charset='utf-8'><title>prodgen augment</title><body style='font-family:sans-serif;"
            f"max-width:900px;margin:2em auto'><h1>Does generated data help?</h1><p>Classifier of <b>{html.escape(result['attribute'])}</b> "
            f"trained on {result['n_real_train']} real photos, with and without {result['n_generated']} generated images of "
            f"{len(result['rare_classes'])} rare classes; tested on {result['n_test']} held-out real photos; seeds {result['seeds']} "
            f"(mean &plusmn; std).</p><table border=1 cellpadding=4><tr><th></th><th>accuracy</th><th>rare-class accuracy</th></tr>"
            f"{rows}</table><p><b>Verdict: generated data {html.escape(result['verdict'])}</b> (rare-class gain "
            f"{result['rare_gain']:+.4f}).</p><h2>Rare classes (training photos)</h2><p>"
            + ", ".join(f"{html.escape(k)} ({v})" for k, v in result["train_counts"].items())
            + "</p><img src='images/grid.png'></body>")
    write_text(out / "augment.html", page)
    write_json(out / "augment.json", result)
    return out / "augment.html"


__all__ = ["AugmentResult", "RareClasses", "augment", "generate_rare", "rare_classes", "run_experiment",
           "write_augment_report"]
