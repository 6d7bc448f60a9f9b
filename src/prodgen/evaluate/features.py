"""Fit ProductNet on a catalog's train split, or load the cached one.

``prodgen features fit`` calls ``fit_productnet``; ``prodgen evaluate`` calls
``productnet_for`` which reuses a fitted network cached under
``$PRODGEN_CACHE/productnet/<hash of catalog content, resolution, settings>``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..conditioning import Vocabulary
from ..config import DataConfig
from ..data import default_cache_dir, load_catalog, make_split, prepare_images
from ..errors import UserError
from .productnet import CONFIG_NAME, ProductNet, ProductNetConfig

FIT_VERSION = 1


@dataclass
class FitSettings:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    width: int = 16
    min_count: int = 20
    max_values: int = 200  # attributes with more distinct values (ids, free text) get no head
    seed: int = 0


def head_attributes(catalog, min_count: int, max_values: int) -> list[str]:
    """Attributes with at least two values of ``min_count`` examples and not too many values."""
    out = []
    for a in catalog.attribute_columns:
        counts = catalog.values(a)
        frequent = [v for v, c in counts.items() if v is not None and c >= min_count]
        if len(frequent) >= 2 and len(counts) <= max_values:
            out.append(a)
    return out


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and +-1/16 translation on white padding."""
    flip = torch.rand(x.shape[0], generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    r = x.shape[-1]
    p = r // 16
    padded = torch.nn.functional.pad(x, (p, p, p, p), value=1.0)
    dy, dx = (int(v) for v in torch.randint(0, 2 * p + 1, (2,), generator=g))
    return padded[:, :, dy : dy + r, dx : dx + r]


def fit_productnet(data: DataConfig, out: str | Path, settings: FitSettings | None = None, progress: bool = True,
                   console=None) -> dict:
    """Train ProductNet on the train split; report and save held-out (test split) accuracy per head."""
    s = settings or FitSettings()
    catalog = load_catalog(data)
    tensors = prepare_images(catalog, data.resolution, progress=progress)
    split = make_split(tensors.ids, data.split_fractions)
    attrs = head_attributes(catalog, s.min_count, s.max_values)
    if not attrs:
        raise UserError(f"{catalog.name}: no attribute has two values with {s.min_count}+ images; ProductNet needs labels to learn from.")
    by_id = {r.id: r for r in catalog.records}
    vocab = Vocabulary.fit(attrs, [by_id[i].attributes for i in split["train"]], s.min_count)
    def subset(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        ids = split[name]
        return tensors.images[tensors.index_of(ids)], vocab.encode_records(by_id[i].attributes for i in ids)

    xtr, ytr = subset("train")
    xte, yte = subset("test")
    cfg = ProductNetConfig(data.resolution, attrs, vocab.sizes, s.width, 256, catalog.name, catalog.fingerprint)
    t0 = time.monotonic()
    net = train_productnet(xtr, ytr, cfg, s, progress=progress, console=console)
    accuracy = heldout_accuracy(net, xte, yte, vocab)
    accuracy["_fit_seconds"] = round(time.monotonic() - t0, 1)
    accuracy["_n_train"], accuracy["_n_test"] = len(xtr), len(xte)
    net.save_pretrained(out, vocab, accuracy)
    return accuracy


def train_productnet(xtr: torch.Tensor, ytr: torch.Tensor, cfg: ProductNetConfig, s: FitSettings, progress: bool = True,
                     console=None, label: str = "fit ProductNet") -> ProductNet:
    """Train a ProductNet on uint8 images ``xtr`` and (N, heads) label ids ``ytr`` (0 = unlabelled); AdamW, one-cycle."""
    torch.manual_seed(s.seed)
    net = ProductNet(cfg).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(xtr) // s.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=s.epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(s.seed)
    bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=not progress)
    with bar:
        task = bar.add_task("fit", total=s.epochs * steps_per_epoch, info="")
        for epoch in range(s.epochs):
            perm = torch.randperm(len(xtr), generator=g)
            net.train()
            for b in range(steps_per_epoch):
                idx = perm[b * s.batch_size : (b + 1) * s.batch_size]
                x = _augment(xtr[idx].float() / 127.5 - 1, g).contiguous(memory_format=torch.channels_last)
                loss, _ = net.loss(x, ytr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{s.epochs} loss {float(loss.detach()):.3f}")
    return net.eval()


@torch.no_grad()
def heldout_accuracy(net: ProductNet, x: torch.Tensor, y: torch.Tensor, vocab: Vocabulary) -> dict:
    """Per head: accuracy on labelled held-out images, and the majority-class baseline."""
    _, logits = net.extract(x)
    out = {}
    for k, a in enumerate(vocab.attributes):
        t = y[:, k]
        mask = t > 0
        if not mask.any():
            continue
        pred = logits[k][mask].argmax(1)
        majority = torch.bincount(t[mask]).max().item() / int(mask.sum())
        out[a.name] = {"accuracy": round(float((pred == t[mask]).float().mean()), 4),
                       "majority_baseline": round(majority, 4), "classes": len(a.values) - 1, "n": int(mask.sum())}
    return out


def productnet_key(data: DataConfig, settings: FitSettings) -> str:
    catalog = load_catalog(data)
    raw = f"{catalog.fingerprint}:{data.resolution}:{FIT_VERSION}:{settings}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def productnet_for(data: DataConfig, features: str | Path | None = None, progress: bool = True,
                   console=None) -> tuple[ProductNet, Vocabulary, dict]:
    """The ProductNet to measure with: ``features`` if given, else the cached one for this catalog (fit if absent)."""
    if features is not None:
        net, vocab, acc = ProductNet.from_pretrained(features)
    else:
        settings = FitSettings()
        folder = default_cache_dir() / "productnet" / productnet_key(data, settings)
        if not (folder / CONFIG_NAME).exists():
            fit_productnet(data, folder, settings, progress=progress, console=console)
        net, vocab, acc = ProductNet.from_pretrained(folder)
    if net.cfg.resolution != data.resolution:
        raise UserError(f"the ProductNet in {features} works at {net.cfg.resolution}px but the run is {data.resolution}px; "
                        "fit one at the run's resolution (`prodgen features fit --resolution ...`).")
    return net, vocab, acc
