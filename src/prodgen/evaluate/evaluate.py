"""``prodgen evaluate``: quality figures of a run against held-out real images.

Generated images get the condition distribution of the held-out split (each
held-out item's attributes, cycled to ``n``); every figure uses the same
ProductNet features. Next to the model: the real-vs-real floor (validation vs
test photos), a trivial baseline (per-category mean training image), the
sample counts and a bootstrap interval for FID.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from ..atomic import write_json
from ..conditioning import OTHER, UNKNOWN, UNSPECIFIED, Vocabulary
from ..config import RunConfig
from ..data import Catalog, ImageTensors, load_catalog, prepare_images
from ..errors import UserError
from ..sample import Pipeline
from .metrics import (
    ClassifierScore,
    ConditionalAccuracy,
    FrechetDistance,
    KernelInceptionDistance,
    PrecisionRecallDensityCoverage,
    bootstrap_fid,
    diversity_by_condition,
    memorisation_ratio,
    nearest_neighbours,
)
from .productnet import ProductNet
from .realstats import cached_features

MIN_N_TO_COMPARE = 1000  # below this, FID differences of a few points are noise (see the bootstrap interval)


@dataclass
class Images:
    """uint8 (N, 3, R, R) images with their condition ids in the run's vocabulary."""

    images: torch.Tensor
    cond: torch.Tensor
    ids: list[str] = field(default_factory=list)


@dataclass
class CatalogImages:
    """A run's catalog, its cached tensors and its saved split, loaded once per evaluation."""

    catalog: Catalog
    tensors: ImageTensors
    splits: dict[str, list[str]]


def load_catalog_images(cfg: RunConfig, run_dir: Path, progress: bool = True) -> CatalogImages:
    catalog = load_catalog(cfg.data)
    tensors = prepare_images(catalog, cfg.data.resolution, progress=progress)
    return CatalogImages(catalog, tensors, json.loads((run_dir / "split.json").read_text()))


def split_images(data: CatalogImages, vocab: Vocabulary, split: str) -> Images:
    if split not in data.splits:
        raise UserError(f"--split {split!r} is not one of {', '.join(data.splits)}")
    known = set(data.tensors.ids)
    ids = [i for i in data.splits[split] if i in known]
    if not ids:
        raise UserError(f"the {split} split has no images in {data.catalog.name}; is this the catalog the run was trained on?")
    by_id = {r.id: r for r in data.catalog.records}
    return Images(data.tensors.images[data.tensors.index_of(ids)], vocab.encode_records(by_id[i].attributes for i in ids), ids)


def generate_matching(pipe: Pipeline, cond: torch.Tensor, n: int, seed: int, batch_size: int = 128,
                      truncation: float = 1.0, text: torch.Tensor | None = None, sampling: dict | None = None) -> Images:
    """``n`` generated images whose conditions (and titles) cycle through ``cond`` (the held-out distribution)."""
    rows = torch.arange(n) % len(cond)
    reps = cond[rows]
    texts = text[rows] if text is not None else None
    out = []
    for i in range(0, n, batch_size):
        c = reps[i : i + batch_size]
        t = texts[i : i + batch_size] if texts is not None else None
        x = pipe.generate_batch(c, list(range(seed + i, seed + i + len(c))), truncation, t, **(sampling or {}))
        out.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    return Images(torch.cat(out), reps)


def held_out_titles(pipe: Pipeline, data: CatalogImages, ids: list[str]) -> torch.Tensor | None:
    """Title vectors of held-out items with the run's encoder (None for runs without text)."""
    if not pipe.model.text_dim:
        return None
    from ..data import prepare_title_embeddings

    titles = prepare_title_embeddings(data.catalog, pipe.config.condition.text_encoder)
    return torch.stack([titles[i] for i in ids])


def text_only_accuracy(pipe: Pipeline, net, pn_vocab: Vocabulary, real: Images, titles: torch.Tensor, n: int, seed: int,
                       sampling: dict | None) -> dict[str, float]:
    """Conditional accuracy of images generated from held-out titles alone (attributes unspecified)."""
    gen = generate_matching(pipe, torch.zeros_like(real.cond), n, seed, text=titles, sampling=sampling)
    targets = map_to_productnet(pipe.vocab, pn_vocab, real.cond[torch.arange(n) % len(real.cond)])
    _, logits = net.extract(gen.images)
    acc = ConditionalAccuracy()
    acc.update({a: logits[pn_vocab.names.index(a)].argmax(1) for a in targets}, targets)
    return {f"text_{k}": v for k, v in acc.compute().items()}


def class_mean_baseline(train: Images, cond: torch.Tensor) -> Images:
    """Trivial baseline: for each requested condition, the mean training image of its first attribute's class."""
    means = {}
    for c in cond[:, 0].unique().tolist():
        sel = train.cond[:, 0] == c
        means[c] = (train.images[sel] if sel.any() else train.images).float().mean(0)
    return Images(torch.stack([means[c] for c in cond[:, 0].tolist()]).round().to(torch.uint8), cond)


def map_to_productnet(run_vocab: Vocabulary, pn_vocab: Vocabulary, cond: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run-vocabulary condition ids -> ProductNet ids per shared attribute (0 where not comparable)."""
    out = {}
    for a, run_attr in enumerate(run_vocab.attributes):
        if run_attr.name not in pn_vocab.names:
            continue
        pn_attr = pn_vocab[run_attr.name]
        table = []
        for v in run_attr.values:
            table.append(pn_attr.values.index(v) if v in pn_attr.values and v not in (UNSPECIFIED, OTHER, UNKNOWN) else 0)
        out[run_attr.name] = torch.tensor(table)[cond[:, a]]
    return out


def image_metrics(fake_f, fake_logits, real_f, pn_vocab: Vocabulary, first_head: int, seed: int) -> dict[str, float]:
    fid = FrechetDistance()
    fid.update(real_f, real=True)
    fid.update(fake_f, real=False)
    kid = KernelInceptionDistance(seed=seed)
    kid.update(real_f, real=True)
    kid.update(fake_f, real=False)
    prdc = PrecisionRecallDensityCoverage()
    prdc.update(real_f, real=True)
    prdc.update(fake_f, real=False)
    score = ClassifierScore()
    score.update(fake_logits[first_head])
    out = {**fid.compute(), **kid.compute(), **prdc.compute(), **score.compute()}
    return {k: float(v) for k, v in out.items()}


def evaluate_run(run_dir: str | Path, catalog: str | None = None, split: str = "test", n: int = 2000,
                 features: str | Path | None = None, seed: int = 0, truncation: float = 1.0, progress: bool = True,
                 console=None, sampling: dict | None = None, n_text: int = 1000) -> dict:
    """All figures for one run; writes ``eval/<timestamp>/metrics.json`` and ``report.html`` in the run folder."""
    from .features import productnet_for
    from .report import write_eval_report

    run_dir = Path(run_dir)
    t0 = time.monotonic()
    pipe = Pipeline.from_pretrained(run_dir, device="cpu")
    cfg = RunConfig.load(run_dir / "config.json")
    if catalog is not None:
        cfg.data.catalog = catalog
    net, pn_vocab, pn_acc = productnet_for(cfg.data, features, progress=progress, console=console)
    data = load_catalog_images(cfg, run_dir, progress)
    fp = data.catalog.fingerprint
    real = split_images(data, pipe.vocab, split)
    train = split_images(data, pipe.vocab, "train")
    floor_ref = split_images(data, pipe.vocab, "val" if split != "val" else "test")
    real_f, real_logits = cached_features(net, real.images, fp, real.ids, split)
    train_f, _ = cached_features(net, train.images, fp, train.ids, "train")
    floor_f, floor_logits = cached_features(net, floor_ref.images, fp, floor_ref.ids, "floor")
    titles = held_out_titles(pipe, data, real.ids)
    t_gen = time.monotonic()
    fake = generate_matching(pipe, real.cond, n, seed, truncation=truncation, text=titles, sampling=sampling)
    gen_seconds = time.monotonic() - t_gen
    fake_f, fake_logits = net.extract(fake.images)
    base = class_mean_baseline(train, real.cond)
    base_f, base_logits = net.extract(base.images)
    first_head = pn_vocab.names.index(pipe.vocab.names[0]) if pipe.vocab.names[0] in pn_vocab.names else 0

    rows = {
        "model": image_metrics(fake_f, fake_logits, real_f, pn_vocab, first_head, seed),
        "real_floor": image_metrics(floor_f, floor_logits, real_f, pn_vocab, first_head, seed),
        "class_mean_baseline": image_metrics(base_f, base_logits, real_f, pn_vocab, first_head, seed),
    }
    rows["model"]["fid_ci95_low"], rows["model"]["fid_ci95_high"] = bootstrap_fid(real_f, fake_f, seed=seed)
    rows["model"]["images_per_s"] = round(n / max(gen_seconds, 1e-9), 1)
    # Conditional accuracy: does ProductNet see the intended attributes in generated images?
    targets = map_to_productnet(pipe.vocab, pn_vocab, fake.cond)
    preds = {a: fake_logits[pn_vocab.names.index(a)].argmax(1) for a in targets}
    cacc = ConditionalAccuracy()
    cacc.update(preds, targets)
    real_targets = map_to_productnet(pipe.vocab, pn_vocab, real.cond)
    racc = ConditionalAccuracy()
    racc.update({a: real_logits[pn_vocab.names.index(a)].argmax(1) for a in real_targets}, real_targets)
    rows["model"].update(cacc.compute())
    rows["real_floor"].update(racc.compute())
    if titles is not None and n_text > 0:  # from the title alone: does the text steer the image?
        rows["model"].update(text_only_accuracy(pipe, net, pn_vocab, real, titles, min(n, n_text), seed + 10**6, sampling))
    # Diversity within conditions (first attribute), next to real images of the same conditions.
    div_fake = diversity_by_condition(fake_f, fake.cond[:, 0])
    div_real = diversity_by_condition(real_f, real.cond[:, 0])
    shared = [c for c in div_fake if c in div_real]
    rows["model"]["diversity_within_condition"] = sum(div_fake[c] for c in shared) / max(1, len(shared))
    rows["real_floor"]["diversity_within_condition"] = sum(div_real[c] for c in shared) / max(1, len(shared))
    memo = memorisation_ratio(fake_f, train_f, real_f)
    rows["model"]["memorisation_ratio"] = float(memo["ratio"])
    nn_dist, nn_idx = nearest_neighbours(fake_f[:16], train_f)
    result = {
        "run": str(run_dir), "model": pipe.model.family, "split": split, "n_generated": n, "n_real": len(real.images),
        "sampling": sampling or {}, "text_encoder": pipe.text_encoder,
        "n_floor": len(floor_ref.images), "seed": seed, "truncation": truncation,
        "extractor": {"name": "ProductNet", "resolution": net.cfg.resolution, "heldout_accuracy": pn_acc},
        "rows": rows,
        "per_class_accuracy": {a: {pn_vocab[a].decode(int(i)): list(v) for i, v in d.items()}
                               for a, d in cacc.per_class().items()},
        "sampling_images_per_s": round(n / max(gen_seconds, 1e-9), 1),  # includes title conditioning, excludes encoding
        "seconds": round(time.monotonic() - t0, 1),
        "warnings": [],
    }
    if n < MIN_N_TO_COMPARE:
        result["warnings"].append(f"n={n} generated images: FID/KID differences between runs are unreliable below "
                                  f"{MIN_N_TO_COMPARE}; see the bootstrap interval.")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = run_dir / "eval" / stamp
    write_json(out / "metrics.json", result)
    write_eval_report(out, result, fake, real, train, nn_idx, nn_dist, pn_vocab, pipe.vocab, run_dir=run_dir)
    result["out"] = str(out)
    return result
