"""Fit ProductNet on a catalog's train split, or load the cached one.

``prodgen features fit`` calls ``fit_productnet``; ``prodgen evaluate`` calls
``productnet_for`` which reuses a fitted network cached under
``$PRODGEN_CACHE/productnet/<hash of catalog content, resolution, settings>``.

Training runs on the shared loop (``train/loop.py``): progress, Ctrl-C (saves and
stops), NaN stop, ``metrics.jsonl`` and an atomic ``training_state.pt`` every
epoch and every 5 minutes. The output folder's ``config.json`` records
``"kind": "productnet"``, the data and the fit settings; running the same fit
again into the same folder continues an interrupted one exactly where it stopped
(bit-identical on CPU to an uninterrupted fit).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__
from ..atomic import write_json
from ..conditioning import Vocabulary
from ..config import DataConfig
from ..data import default_cache_dir, load_catalog, make_split, prepare_images
from ..device import resolve_device
from ..errors import UserError
from ..runfolder import read_kind
from ..train.checkpoint import STATE_NAME
from ..train.loop import METRICS_NAME, TrainLoop
from .productnet import CONFIG_NAME, ProductNet, ProductNetConfig

RUN_CONFIG_NAME = "config.json"  # {"kind": "productnet", "data": ..., "fit": ...}


class FitStopped(UserError):
    """A ProductNet fit stopped before its last step (Ctrl-C or the minutes budget); its checkpoint is kept."""

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
    """Random horizontal flip and +-1/16 translation on white padding (random numbers from the CPU generator ``g``)."""
    flip = (torch.rand(x.shape[0], generator=g) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    r = x.shape[-1]
    p = r // 16
    padded = torch.nn.functional.pad(x, (p, p, p, p), value=1.0)
    dy, dx = (int(v) for v in torch.randint(0, 2 * p + 1, (2,), generator=g))
    return padded[:, :, dy : dy + r, dx : dx + r]


def fit_productnet(data: DataConfig, out: str | Path, settings: FitSettings | None = None, progress: bool = True,
                   console=None, minutes: float | None = None, device: str = "auto") -> dict:
    """Train ProductNet on the train split; report and save held-out (test split) accuracy per head.

    ``out`` becomes a ProductNet run folder. If it holds an unfinished fit of the same catalog and settings,
    that fit continues; ``minutes`` bounds this invocation (stopping early raises a UserError saying how to
    continue, as does Ctrl-C). ``device``: "auto" (CUDA when present), "cpu", "cuda", ...
    """
    s = settings or FitSettings()
    out = Path(out)
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
    run_config = {"kind": "productnet", "data": dataclasses.asdict(data), "fit": dataclasses.asdict(s),
                  "catalog_fingerprint": catalog.fingerprint, "prodgen_version": __version__}
    resume = _prepare_folder(out, run_config)
    trainer = ProductNetTrainer(xtr, ytr, cfg, s, out, progress_label="fit ProductNet", console=console,
                                minutes=minutes, device=device)
    if resume:
        trainer.resume()
    reason = trainer.run(progress=progress)
    if reason.kind != "steps":
        how = "interrupted" if reason.kind == "interrupted" else f"its {minutes}-minute budget was used"
        raise FitStopped(f"ProductNet fit stopped at step {reason.step} of {trainer.steps} ({how}); its checkpoint in {out} "
                        "is kept: run the same fit again with the same --out to continue it.")
    net = trainer.finished_net()
    accuracy = heldout_accuracy(net, xte, yte, vocab)
    accuracy["_fit_seconds"] = round(trainer.elapsed, 1)
    accuracy["_n_train"], accuracy["_n_test"] = len(xtr), len(xte)
    net.save_pretrained(out, vocab, accuracy)
    return accuracy


def _run_config_matches(out: Path, run_config: dict) -> bool:
    try:
        old = json.loads((out / RUN_CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    keys = ("kind", "data", "fit", "catalog_fingerprint")
    return isinstance(old, dict) and all(old.get(k) == json.loads(json.dumps(run_config[k])) for k in keys)


def _prepare_folder(out: Path, run_config: dict) -> bool:
    """Write the folder's config.json; True when an unfinished fit with the same settings is there to continue."""
    if (out / RUN_CONFIG_NAME).is_file() and read_kind(out) != "productnet":
        raise UserError(f"{out} holds another kind of prodgen run ({read_kind(out)}); fit ProductNet into a new or "
                        "ProductNet folder (--out).")
    resume = (out / STATE_NAME).is_file() and _run_config_matches(out, run_config)
    if not resume:  # a fresh fit: nothing of an older one may be mistaken for it
        for name in (STATE_NAME, METRICS_NAME, CONFIG_NAME):
            (out / name).unlink(missing_ok=True)
    write_json(out / RUN_CONFIG_NAME, run_config)
    return resume


class ProductNetTrainer(TrainLoop):
    """ProductNet's training on the shared loop: AdamW, one-cycle LR over ``epochs``, flips and shifts.

    The batch order and augmentation come from one CPU generator seeded with ``settings.seed`` (its state is
    in the checkpoint), so a resumed fit is the uninterrupted one. ``run_dir=None`` trains in memory.
    """

    resume_hint = "the same `prodgen features fit ... --out {run_dir}` continues from it"
    divergence_fix = "lower the learning rate or raise the batch size"

    def __init__(self, xtr: torch.Tensor, ytr: torch.Tensor, cfg: ProductNetConfig, settings: FitSettings,
                 run_dir: str | Path | None = None, progress_label: str = "fit ProductNet", console=None,
                 minutes: float | None = None, device: str = "auto", checkpoint_minutes: float | None = 5.0) -> None:
        s = settings
        self.steps_per_epoch = max(1, len(xtr) // s.batch_size)
        super().__init__(run_dir, steps=s.epochs * self.steps_per_epoch, minutes=minutes,
                         checkpoint_every=self.steps_per_epoch, checkpoint_minutes=checkpoint_minutes,
                         log_every=max(1, min(25, self.steps_per_epoch)), console=console, device=resolve_device(device))
        self.label = progress_label
        self.images_per_step = s.batch_size
        self.settings = s
        self.xtr, self.ytr = xtr, ytr
        torch.manual_seed(s.seed)
        self.net = ProductNet(cfg).to(self.device).to(memory_format=torch.channels_last)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=s.lr, weight_decay=1e-4)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=s.lr, total_steps=self.steps)
        self.gen = torch.Generator().manual_seed(s.seed)
        self.perm = torch.zeros(0, dtype=torch.long)

    def train_step(self) -> dict[str, float]:
        s = self.settings
        epoch, b = divmod(self.step, self.steps_per_epoch)
        if b == 0:
            self.perm = torch.randperm(len(self.xtr), generator=self.gen)
        idx = self.perm[b * s.batch_size : (b + 1) * s.batch_size]
        x = self.xtr[idx].to(self.device).float() / 127.5 - 1
        x = _augment(x, self.gen).contiguous(memory_format=torch.channels_last)
        self.net.train()
        loss, parts = self.net.loss(x, self.ytr[idx].to(self.device))
        self.check_finite(loss, "ProductNet loss")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.set_status(f"epoch {epoch + 1}/{s.epochs}")
        return {"loss": float(loss.detach()), **{f"ce/{k}": v for k, v in parts.items()}}

    def state(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "sched": self.sched.state_dict(),
                "gen": self.gen.get_state(), "perm": self.perm}

    def load_state(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.gen.set_state(state["gen"])
        self.perm = state["perm"]

    def finished_net(self) -> ProductNet:
        """The trained network, on the CPU and in eval mode."""
        return self.net.cpu().eval()


def train_productnet(xtr: torch.Tensor, ytr: torch.Tensor, cfg: ProductNetConfig, s: FitSettings, progress: bool = True,
                     console=None, label: str = "fit ProductNet", device: str = "auto") -> ProductNet:
    """Train a ProductNet in memory on uint8 images ``xtr`` and (N, heads) label ids ``ytr`` (0 = unlabelled).

    Ctrl-C stops it and raises KeyboardInterrupt (a half-trained classifier is never returned).
    """
    trainer = ProductNetTrainer(xtr, ytr, cfg, s, None, progress_label=label, console=console, device=device)
    reason = trainer.run(progress=progress)
    if reason.kind != "steps":
        raise KeyboardInterrupt
    return trainer.finished_net()


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
        if not (folder / CONFIG_NAME).exists():  # absent, or an interrupted fit to continue
            try:
                fit_productnet(data, folder, settings, progress=progress, console=console)
            except FitStopped as e:
                raise FitStopped(f"fitting this catalog's ProductNet (cached in {folder}) was interrupted; it continues "
                                 "where it stopped the next time a command needs it.") from e
        net, vocab, acc = ProductNet.from_pretrained(folder)
    if net.cfg.resolution != data.resolution:
        raise UserError(f"the ProductNet in {features} works at {net.cfg.resolution}px but the run is {data.resolution}px; "
                        "fit one at the run's resolution (`prodgen features fit --resolution ...`).")
    return net, vocab, acc
