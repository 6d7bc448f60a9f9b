"""``prodgen evaluate``: quality figures of a run against held-out real images.

Generated images get the condition distribution of the evaluated held-out split (each
held-out item's attributes, cycled to ``n``); every figure uses the same ProductNet
features. Every row of the table is a set of ``n_gen`` images judged against the same
``n_real`` photos of the evaluated split:

- ``model``: ``n`` generated images;
- ``real_floor``: ``n`` real photos of the other held-out split (test -> val, val -> test):
  what real photos score against each other, a model cannot be expected to beat it;
- ``class_mean_baseline``: for each of the model's ``n`` conditions, the mean training
  image of its first attribute's class (a trivial baseline).

FID depends on n (it falls as n grows; KID is unbiased but noisier), so rows are only comparable at the same
n: by default ``n`` is the number of floor photos (875 val photos when evaluating on the
6,850/875/796 split of the fashion catalog), and a smaller ``n`` subsamples the floor photos
to match. A larger ``n`` cannot be matched (the floor then uses all its photos, and the
result's warnings and each row's ``n_gen`` say so). The val split is for sweeps and model
selection, so that test stays untouched; its floor is the test split (the only other
held-out photos: train photos are what the model saw).
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
from ..data import Catalog, ImageTensors, load_catalog, prepare_images, prepare_title_embeddings
from ..device import resolve_device
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

FLOOR_REFERENCE = {"test": "val", "val": "test"}  # evaluated split -> the held-out photos of the floor row
SMALL_N = 500  # below this, FID/KID are dominated by small-sample bias and noise; say so


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
                      truncation: float = 1.0, text: torch.Tensor | None = None, sampling: dict | None = None,
                      maps: torch.Tensor | None = None) -> Images:
    """``n`` generated images whose conditions (and titles, and for image-conditioned runs the ``maps``: edge maps
    or silhouettes of the same held-out photos) cycle through ``cond`` (the held-out distribution)."""
    rows = torch.arange(n) % len(cond)
    reps = cond[rows]
    texts = text[rows] if text is not None else None
    out = []
    for i in range(0, n, batch_size):
        c = reps[i : i + batch_size]
        t = texts[i : i + batch_size] if texts is not None else None
        extra = {"image_map": maps[rows[i : i + batch_size]]} if maps is not None else {}
        x = pipe.generate_batch(c, list(range(seed + i, seed + i + len(c))), truncation, t, **extra, **(sampling or {}))
        out.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    return Images(torch.cat(out), reps)


def held_out_titles(pipe: Pipeline, data: CatalogImages, ids: list[str]) -> torch.Tensor | None:
    """Title vectors of held-out items with the run's encoder (None for runs without text)."""
    if not pipe.model.text_dim:
        return None
    titles = prepare_title_embeddings(data.catalog, pipe.config.condition.text_encoder)
    return torch.stack([titles[i] for i in ids])


def text_only_accuracy(pipe: Pipeline, net, pn_vocab: Vocabulary, real: Images, titles: torch.Tensor, n: int, seed: int,
                       sampling: dict | None, maps: torch.Tensor | None = None) -> dict[str, float]:
    """Conditional accuracy of images generated from held-out titles alone (attributes unspecified)."""
    gen = generate_matching(pipe, torch.zeros_like(real.cond), n, seed, text=titles, sampling=sampling, maps=maps)
    _, logits = net.extract(gen.images)
    acc = conditional_accuracy(pipe.vocab, pn_vocab, logits, real.cond[torch.arange(n) % len(real.cond)])
    return {f"text_{k}": v for k, v in acc.compute().items()}


def title_prior_accuracy(pipe: Pipeline, data: CatalogImages, net, pn_vocab: Vocabulary, real: Images,
                         titles: torch.Tensor | None, n: int, seed: int, sampling: dict | None,
                         maps: torch.Tensor | None = None) -> tuple[dict[str, float], dict]:
    """Title-only generation through the run's title prior (conditioning/title_prior.py): held-out titles ->
    attributes the prior reads -> images (with the title vector too in text runs), judged against the photos' own
    attributes. Also the prior's own accuracy on the split (what the generator can reach at best)."""
    prior = pipe.title_prior
    vectors = prepare_title_embeddings(data.catalog, prior.encoder)
    vecs = torch.stack([vectors[i] for i in real.ids])
    pred, _ = prior.predict(vecs, pipe.vocab)
    gen = generate_matching(pipe, pred, n, seed, text=titles, sampling=sampling, maps=maps)
    _, logits = net.extract(gen.images)
    acc = conditional_accuracy(pipe.vocab, pn_vocab, logits, real.cond[torch.arange(n) % len(real.cond)])
    own = {}
    for j, a in enumerate(pipe.vocab.attributes):
        known = (real.cond[:, j] != 0) & (real.cond[:, j] != (a.values.index(UNKNOWN) if UNKNOWN in a.values else -1))
        if a.name in prior.weight and known.any():
            own[a.name] = round((pred[known, j] == real.cond[known, j]).float().mean().item(), 4)
    return ({f"prior_text_{k}": v for k, v in acc.compute().items()},
            {"encoder": prior.encoder, "n": len(real.ids), "accuracy": own,
             "unspecified_share": round((pred == 0).float().mean().item(), 4)})


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


def subsample_index(count: int, n: int, seed: int) -> torch.Tensor:
    """Sorted indices of a seeded random ``n`` of ``count`` items (all of them when n >= count)."""
    if n >= count:
        return torch.arange(count)
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n].sort().values


def image_metrics(fake_f, fake_logits, real_f, pn_vocab: Vocabulary, first_head: int, seed: int) -> dict[str, float]:
    fid = FrechetDistance()
    fid.update(real_f, real=True)
    fid.update(fake_f, real=False)
    kid = KernelInceptionDistance(seed=seed)  # subsets of min(1000, n_real, n_gen) on both sides
    kid.update(real_f, real=True)
    kid.update(fake_f, real=False)
    prdc = PrecisionRecallDensityCoverage()
    prdc.update(real_f, real=True)
    prdc.update(fake_f, real=False)
    score = ClassifierScore()
    score.update(fake_logits[first_head])
    out = {**fid.compute(), **kid.compute(), **prdc.compute(), **score.compute()}
    return {k: float(v) for k, v in out.items()}


def conditional_accuracy(run_vocab: Vocabulary, pn_vocab: Vocabulary, logits, cond: torch.Tensor) -> ConditionalAccuracy:
    """ProductNet's agreement with the conditions ``cond`` (run vocabulary) of the images it saw."""
    targets = map_to_productnet(run_vocab, pn_vocab, cond)
    acc = ConditionalAccuracy()
    acc.update({a: logits[pn_vocab.names.index(a)].argmax(1) for a in targets}, targets)
    return acc


def evaluate_run(run_dir: str | Path, catalog: str | None = None, split: str = "test", n: int | None = None,
                 features: str | Path | None = None, seed: int = 0, truncation: float = 1.0, progress: bool = True,
                 console=None, sampling: dict | None = None, n_text: int = 1000, n_boot: int = 100,
                 device: str = "auto", best_of: int = 1) -> dict:
    """All figures for one run; writes ``eval/<timestamp>/metrics.json`` and ``report.html`` in the run folder.

    ``split``: ``test`` (the default; floor from val photos) or ``val`` (for sweeps; floor from test photos).
    ``n``: generated images, default the number of floor photos so that every row has the same n.
    ``n_boot``: bootstrap replicates of the FID intervals. ``device``: ``auto`` (CUDA when present), ``cpu``, ``cuda``.
    ``best_of``: > 1 judges, for a GAN run, the best of that many candidates per image by the run's own discriminator
    (``prodgen generate --best-of K --score-with discriminator``); ProductNet never picks what it judges.
    """
    from .features import productnet_for
    from .report import write_eval_report

    if split not in FLOOR_REFERENCE:
        raise UserError(f"--split {split!r}: evaluate on a held-out split, one of {', '.join(FLOOR_REFERENCE)} "
                        "(val for sweeps and model selection, test for the final figures).")
    if n is not None and n < 2:
        raise UserError(f"--n {n}: FID and KID need at least 2 generated images (the default matches the floor's n).")
    run_dir = Path(run_dir)
    t0 = time.monotonic()
    dev = resolve_device(device)
    pipe = Pipeline.from_pretrained(run_dir, device=str(dev))
    if sampling and pipe.model.family != "diffusion":
        raise UserError(f"{', '.join(sorted(sampling))}: sampling options of diffusion models; {run_dir} is a "
                        f"{pipe.model.family} run (use --truncation to trade variety for fidelity)")
    if best_of < 1:
        raise UserError(f"--best-of {best_of}: candidates per image, at least 1")
    if best_of > 1:  # every generated image of every row below is the best of K by the run's own discriminator
        from ..sample.best_of import BestOfPipeline, discriminator_scorer

        pipe = BestOfPipeline(pipe, best_of, discriminator_scorer(pipe))
    cfg = RunConfig.load(run_dir / "config.json")
    if catalog is not None:
        cfg.data.catalog = catalog
    net, pn_vocab, pn_acc = productnet_for(cfg.data, features, progress=progress, console=console)
    net = net.to(dev)  # extract() returns CPU features, so the figures below are computed on the CPU
    data = load_catalog_images(cfg, run_dir, progress)
    fp = data.catalog.fingerprint
    real = split_images(data, pipe.vocab, split)
    train = split_images(data, pipe.vocab, "train")
    floor_split = FLOOR_REFERENCE[split]
    floor_all = split_images(data, pipe.vocab, floor_split)
    n = len(floor_all.images) if n is None else n
    floor_keep = subsample_index(len(floor_all.images), n, seed)  # the floor at the model's n where there are enough
    floor = Images(floor_all.images[floor_keep], floor_all.cond[floor_keep], [floor_all.ids[i] for i in floor_keep.tolist()])
    real_f, real_logits = cached_features(net, real.images, fp, real.ids, split)
    train_f, _ = cached_features(net, train.images, fp, train.ids, "train")
    floor_all_f, floor_all_logits = cached_features(net, floor_all.images, fp, floor_all.ids, floor_split)
    floor_f, floor_logits = floor_all_f[floor_keep], [lg[floor_keep] for lg in floor_all_logits]
    titles = held_out_titles(pipe, data, real.ids)
    t_gen = time.monotonic()
    maps = None
    if pipe.image_condition:  # drawn from the evaluated photos' own edge maps / silhouettes
        from ..conditioning.maps import derive_maps

        maps = derive_maps(pipe.image_condition, real.images.float() / 127.5 - 1)
    fake = generate_matching(pipe, real.cond, n, seed, truncation=truncation, text=titles, sampling=sampling, maps=maps)
    gen_seconds = time.monotonic() - t_gen
    fake_f, fake_logits = net.extract(fake.images)
    base = class_mean_baseline(train, fake.cond)
    base_f, base_logits = net.extract(base.images)
    first_head = pn_vocab.names.index(pipe.vocab.names[0]) if pipe.vocab.names[0] in pn_vocab.names else 0

    judged = {"model": (fake, fake_f, fake_logits), "real_floor": (floor, floor_f, floor_logits),
              "class_mean_baseline": (base, base_f, base_logits)}
    rows, accs = {}, {}
    for key, (imgs, f, logits) in judged.items():
        rows[key] = {"n_gen": len(f), "n_real": len(real_f), **image_metrics(f, logits, real_f, pn_vocab, first_head, seed)}
        # Conditional accuracy: does ProductNet see the intended attributes (for real photos: their own)?
        accs[key] = conditional_accuracy(pipe.vocab, pn_vocab, logits, imgs.cond)
        rows[key].update(accs[key].compute())
    for key in ("model", "real_floor"):  # the two rows a reader compares; the trivial baseline is far off
        rows[key]["fid_ci95_low"], rows[key]["fid_ci95_high"] = bootstrap_fid(real_f, judged[key][1], n_boot, seed)
    rows["model"]["images_per_s"] = round(n / max(gen_seconds, 1e-9), 1)
    if titles is not None and n_text > 0:  # from the title alone: does the text steer the image?
        rows["model"]["n_text"] = min(n, n_text)
        rows["model"].update(text_only_accuracy(pipe, net, pn_vocab, real, titles, min(n, n_text), seed + 10**6, sampling,
                                                        maps))
    prior_info = None
    if pipe.title_prior is not None and n_text > 0:  # from the title alone, through the title prior
        rows["model"]["n_prior_text"] = min(n, n_text)
        accs_prior, prior_info = title_prior_accuracy(pipe, data, net, pn_vocab, real, titles, min(n, n_text),
                                                      seed + 10**6, sampling, maps)
        rows["model"].update(accs_prior)
    # Diversity within conditions (first attribute): generated images next to the floor's real photos of the same classes.
    div_fake = diversity_by_condition(fake_f, fake.cond[:, 0])
    div_floor = diversity_by_condition(floor_f, floor.cond[:, 0])
    shared = [c for c in div_fake if c in div_floor]
    rows["model"]["diversity_within_condition"] = sum(div_fake[c] for c in shared) / max(1, len(shared))
    rows["real_floor"]["diversity_within_condition"] = sum(div_floor[c] for c in shared) / max(1, len(shared))
    # ... and within one whole condition (every conditioned attribute equal, as the issue defines it): images that
    # differ only by their noise (and title), next to real photos sharing all those attributes. Groups of 2 or more.
    same_fake = diversity_by_condition(fake_f, fake.cond)
    same_floor = diversity_by_condition(floor_f, floor.cond)
    same = [c for c in same_fake if c in same_floor]
    if same:
        rows["model"]["diversity_same_condition"] = sum(same_fake[c] for c in same) / len(same)
        rows["real_floor"]["diversity_same_condition"] = sum(same_floor[c] for c in same) / len(same)
        rows["model"]["n_same_condition_groups"] = len(same)
    # Memorisation: nearest training photo of each judged image, against held-out (evaluated split) photos.
    memo = {}
    for key in ("model", "real_floor"):
        memo[key] = memorisation_ratio(judged[key][1], train_f, real_f)
        rows[key]["memorisation_ratio"] = memo[key]["ratio"]
        rows[key]["near_copy_share"] = memo[key]["near_copy_share"]
    nn_dist, nn_idx = nearest_neighbours(fake_f[:16], train_f)
    result = {
        "run": str(run_dir), "model": pipe.model.family, "split": split, "floor_split": floor_split,
        "n_generated": n, "n_real": len(real.images), "n_floor": len(floor.images), "n_floor_available": len(floor_all.images),
        "n_train": len(train.images), "sampling": sampling or {}, "text_encoder": pipe.text_encoder,
        "seed": seed, "truncation": truncation, "device": str(dev), "n_boot": n_boot,
        **({"best_of": best_of, "score_with": "discriminator"} if best_of > 1 else {}),
        "extractor": {"name": "ProductNet", "resolution": net.cfg.resolution, "heldout_accuracy": pn_acc},
        "rows": rows,
        "per_class_accuracy": {a: {pn_vocab[a].decode(int(i)): list(v) for i, v in d.items()}
                               for a, d in accs["model"].per_class().items()},
        # what ProductNet took each class for (the right class included), for the generated images and the floor's photos
        "seen_as": {key: {a: {pn_vocab[a].decode(int(t)): {pn_vocab[a].decode(int(q)): k for q, k in seen.items()}
                              for t, seen in d.items()} for a, d in accs[key].confusion().items()}
                    for key in ("model", "real_floor")},
        # per value of the first attribute: generated vs the floor's real photos of that value (issue 13 asks >= 0.8x)
        "diversity_per_condition": {pipe.vocab[pipe.vocab.names[0]].decode(int(c)): {
            "model": round(div_fake[c], 4), "real": round(div_floor[c], 4),
            "ratio": round(div_fake[c] / div_floor[c], 4) if div_floor[c] > 0 else None} for c in shared},
        **({"title_prior": prior_info} if prior_info else {}),
        "near_copy_threshold": memo["model"]["near_copy_threshold"],
        "closest_pairs": [{**c, "train_id": train.ids[c["train"]]} for c in memo["model"]["closest"]],
        "sampling_images_per_s": round(n / max(gen_seconds, 1e-9), 1),  # includes title conditioning, excludes encoding
        "seconds": round(time.monotonic() - t0, 1),
        "warnings": [],
    }
    if n > len(floor_all.images):
        result["warnings"].append(
            f"n={n} generated images but only {len(floor_all.images)} {floor_split} photos for the floor: the floor row "
            f"uses all {len(floor_all.images)}, so the model and floor rows are not at the same n (FID falls as n grows). "
            f"Evaluate with --n {len(floor_all.images)} (the default) to compare like with like.")
    if maps is not None:
        result["warnings"].append(f"{pipe.image_condition} run: generated image i is drawn from the {pipe.image_condition} "
                                  f"of {split} photo i (cycled), so it is judged against photos it was given the outline of.")
    if n < SMALL_N:
        result["warnings"].append(f"n={n} generated images: at fewer than {SMALL_N}, FID/KID are dominated by small-sample "
                                  "bias and noise and differences between runs are unreliable; read the intervals, and "
                                  "compare runs only at the same n.")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = run_dir / "eval" / stamp
    for k in range(2, 1000):  # two evaluations within a second get two folders
        if not out.exists():
            break
        out = run_dir / "eval" / f"{stamp}-{k}"
    write_json(out / "metrics.json", result)
    write_eval_report(out, result, fake, real, train, nn_idx, nn_dist, pn_vocab, pipe.vocab, run_dir=run_dir)
    result["out"] = str(out)
    return result
