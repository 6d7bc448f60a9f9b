"""Start or resume a training run in a run folder (what ``prodgen train`` calls).

Run folder (save_pretrained style):
  config.json         RunConfig (model_args resolved to every value used)
  vocab.json          attribute vocabularies
  split.json          train/val/test ids (deterministic by id hash)
  model.safetensors   all networks; ema.safetensors: EMA sampling net
  training_state.pt   resume state (weights_only-loadable)
  metrics.jsonl, samples/step-XXXXXX.png
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch

from ..atomic import write_json
from ..conditioning import Vocabulary
from ..config import RunConfig
from ..conditioning.text import TEXT_DIM, resolve_encoder_name
from ..data import Catalog, ImageTensors, load_catalog, make_split, prepare_images, prepare_title_embeddings
from ..device import resolve_device
from ..errors import UserError
from ..models import model_class
from ..runfiles import check_run_folder, damaged, folder_kind, read_split, read_vocab_dict
from .checkpoint import STATE_NAME
from .dataset import TrainingData
from .distributed import World
from .trainer import StopReason, Trainer, agreed_precision

CONFIG_NAME = "config.json"
VOCAB_NAME = "vocab.json"
SPLIT_NAME = "split.json"


@dataclass
class PreparedData:
    catalog: Catalog
    attributes: list[str]
    split: dict[str, list[str]]
    train: TrainingData
    vocab: Vocabulary
    tensors: ImageTensors

    titles: dict[str, torch.Tensor] | None = None  # id -> title vector, for text-conditioned runs

    def heldout_ids(self, name: str) -> list[str]:
        """Ids of a held-out split whose image decoded and whose catalog row exists: the rows of ``heldout(name)``."""
        usable = set(self.tensors.ids) & {r.id for r in self.catalog.records}
        return [i for i in self.split[name] if i in usable]

    def heldout(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images and condition ids of a held-out split ("val" or "test")."""
        by_id = {r.id: r for r in self.catalog.records}
        ids = self.heldout_ids(name)
        return self.tensors.images[self.tensors.index_of(ids)], self.vocab.encode_records(by_id[i].attributes for i in ids)

    def heldout_text(self, name: str) -> torch.Tensor | None:
        """The title vectors of ``heldout(name)``'s rows (None for runs without text)."""
        if self.titles is None:
            return None
        return torch.stack([self.titles[i] for i in self.heldout_ids(name)])


def condition_attributes(cfg: RunConfig, catalog: Catalog) -> list[str]:
    names = list(cfg.condition.attributes or catalog.default_condition)
    if not names:
        raise UserError(f"{catalog.name} has no default condition; pass --condition with some of: {', '.join(catalog.attribute_columns)}")
    for n in names:
        if n not in catalog.attribute_columns:
            close = difflib.get_close_matches(n, catalog.attribute_columns, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UserError(f"--condition names {n!r}, which is not a column of {catalog.name}.{hint} Columns: {', '.join(catalog.attribute_columns)}")
    return names


def prepare_data(cfg: RunConfig, vocab: Vocabulary | None = None, split: dict | None = None, progress: bool = True) -> PreparedData:
    """Catalog -> cached tensors -> split -> vocabulary (fit on train only) -> training tensors."""
    catalog = load_catalog(cfg.data)
    attributes = condition_attributes(cfg, catalog)
    tensors = prepare_images(catalog, cfg.data.resolution, progress=progress)
    if split is None:
        split = make_split(tensors.ids, cfg.data.split_fractions)
    by_id = {r.id: r for r in catalog.records}
    train_ids = [i for i in split["train"] if i in by_id]
    if not train_ids:
        raise UserError(f"the training split of {catalog.name} is empty: the catalog needs more usable images.")
    rows = [by_id[i].attributes for i in train_ids]
    if vocab is None:
        vocab = Vocabulary.fit(attributes, rows, cfg.condition.min_count)
    known = set(tensors.ids)
    kept = [i for i in train_ids if i in known]  # ids whose image decoded
    images = tensors.images[tensors.index_of(kept)]
    cond = vocab.encode_records(by_id[i].attributes for i in kept)
    text = titles = None
    if cfg.condition.text:
        titles = prepare_title_embeddings(catalog, cfg.condition.text_encoder)
        text = torch.stack([titles[i] for i in kept])
    return PreparedData(catalog, attributes, split, TrainingData(images, cond, kept, text), vocab, tensors, titles)


def load_vocab(run_dir: str | Path) -> Vocabulary:
    """The run's vocab.json as a Vocabulary; missing or damaged files raise a UserError naming the fix."""
    run_dir = Path(run_dir)
    try:
        return Vocabulary.from_dict(read_vocab_dict(run_dir))
    except ValueError as e:  # e.g. a value list not starting with <unspecified>
        raise damaged(run_dir / VOCAB_NAME, str(e)) from e


def load_run_data(run_dir: str | Path, cfg: RunConfig | None = None, progress: bool = True) -> PreparedData:
    """A trained run's data exactly as it was split and encoded (its vocab.json and split.json), e.g. for augment.

    ``cfg``: the run's config, possibly with another catalog (default: config.json as saved).
    """
    run_dir = check_run_folder(run_dir, split=True)
    cfg = cfg or RunConfig.load(run_dir / CONFIG_NAME)
    return prepare_data(cfg, vocab=load_vocab(run_dir), split=read_split(run_dir), progress=progress)


def _evaluator(cfg: RunConfig, data: PreparedData, progress: bool, console):
    """Periodic cheap evaluation on the val split when ``train.eval_every`` > 0 (built before the clock starts)."""
    if not cfg.train.eval_every:
        return None
    if not model_class(cfg.model).generates:
        raise UserError(f"--eval-every measures generated images, and a {cfg.model} run makes none; drop --eval-every "
                        "(its sample grids show photos beside their reconstructions).")
    from ..evaluate.during_training import training_evaluator

    images, cond = data.heldout("val")
    if len(images) < 2:
        raise UserError(f"--eval-every needs held-out images, but the val split of {data.catalog.name} has {len(images)}; "
                        "use a bigger catalog or --eval-every 0.")
    return training_evaluator(cfg.data, cfg.train.eval_features, data.vocab, images, cond, cfg.train.eval_n,
                              progress=progress, console=console, val_text=data.heldout_text("val"))


def check_new_run_dir(out: str | Path, overwrite: bool = False) -> None:
    """Fail before any work unless ``out`` may receive a new run.

    An empty or new folder may; a prodgen run folder only with ``overwrite`` (it is then replaced whole);
    anything else never: --overwrite must not delete files prodgen did not make.
    """
    out = Path(out)
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"--out {out}: {parent} is a file, not a folder; choose another --out path.")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give the path of a new or empty folder for the run.")
    if not out.exists() or not any(out.iterdir()):
        return
    kind = folder_kind(out)
    if kind == "generator":
        if not overwrite:
            raise UserError(f"{out} already holds a run. Continue it with `prodgen train --resume {out}`, "
                            "pick another --out, or pass --overwrite to replace it (the whole folder: weights, "
                            "samples and evaluations).")
        return
    what = {"restoration": "it holds a restoration model", "productnet": "it holds a ProductNet"}.get(
        kind, "it holds no config.json of a `prodgen train` run")
    if overwrite:
        raise UserError(f"{out} is not a prodgen training run ({what}); --overwrite only replaces run folders and never "
                        f"deletes other files. Choose a new or empty --out folder, or empty {out} yourself.")
    raise UserError(f"{out} exists and is not empty ({what}); choose a new or empty --out folder.")


def _move_aside(out: Path) -> Path:
    """Rename an old run folder to a hidden name beside it (same file system: atomic); returns the new name."""
    aside = out.with_name(f".{out.name}.replaced-{uuid.uuid4().hex[:8]}")
    os.replace(out, aside)
    return aside


def train(cfg: RunConfig, out: str | Path, overwrite: bool = False, progress: bool = True, console=None) -> StopReason:
    """Start a new run in ``out`` and train it within ``cfg.train``'s budget.

    Under ``torchrun`` every process runs this: rank 0 checks and writes the run folder, all train their share of
    each global batch (train/distributed.py)."""
    out = Path(out)
    world = World.from_env(cfg.train.device)
    try:
        return _train(cfg, out, overwrite, progress, console, world)
    finally:
        world.shutdown()


def _train(cfg: RunConfig, out: Path, overwrite: bool, progress: bool, console, world: World) -> StopReason:
    main = world.is_main
    if main:
        check_new_run_dir(out, overwrite)
    if cfg.train.steps is None and cfg.train.minutes is None:
        raise UserError("give a training budget: --steps N and/or --minutes M.")
    world.local_batch(cfg.train.batch_size)  # fails early when the batch does not divide over the processes
    klass = model_class(cfg.model)
    if cfg.condition.text:
        cfg.condition.text_encoder = resolve_encoder_name(cfg.condition.text_encoder)  # recorded in config.json
        cfg.model_args = {**cfg.model_args, "text_dim": TEXT_DIM}
    if not main:
        world.barrier()  # rank 0 prepares (and caches) the data first; the others then read its cache
    data = prepare_data(cfg, progress=progress and main)
    if main:
        world.barrier()
    torch.manual_seed(cfg.train.seed)
    model = klass.from_args(cfg.model_args, data.vocab.sizes, cfg.data.resolution)
    cfg.model_args = dataclasses.asdict(model.config)  # record every value used
    if cfg.data.catalog != "synthetic":
        cfg.data.catalog = str(Path(cfg.data.catalog).resolve())  # a resume from another folder finds it
        if cfg.data.images:
            cfg.data.images = str(Path(cfg.data.images).resolve())
    cfg.condition.attributes = data.attributes
    # "auto" is resolved once, here, and recorded: a resume (on any machine) trains in the precision it began with
    cfg.train.precision = agreed_precision(cfg.train.precision, resolve_device(world.device(cfg.train.device)),
                                           klass.family, world)
    evaluator = _evaluator(cfg, data, progress, console) if main else None
    if not main:
        return Trainer(model, data.train, data.vocab, out, cfg.train, cfg.condition.dropout, console=console,
                       title_only=cfg.condition.title_only, world=world).run(progress=False)
    # Everything is validated; an old run (--overwrite) is replaced whole: moved aside now, deleted once the new
    # run has its own checkpoint, put back if the new one fails before saving anything.
    aside = _move_aside(out) if overwrite and out.is_dir() and any(out.iterdir()) else None
    try:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / CONFIG_NAME)
        data.vocab.save(out / VOCAB_NAME)
        write_json(out / SPLIT_NAME, data.split)
        if cfg.condition.text and data.vocab.attributes:  # title -> attributes, for generating from a title alone
            from ..conditioning.title_prior import fit_prepared_title_prior

            try:
                fit_prepared_title_prior(data, cfg.condition.text_encoder).save(out)
            except UserError as e:  # e.g. no titles in the train split: the run trains, without a prior
                if console is not None:
                    console.print(f"[yellow]no title prior: {e}[/]", soft_wrap=True)
        trainer = Trainer(model, data.train, data.vocab, out, cfg.train, cfg.condition.dropout, console=console,
                          title_only=cfg.condition.title_only, evaluator=evaluator, world=world)
        reason = trainer.run(progress=progress)
    except BaseException:
        if aside is not None:
            if (out / STATE_NAME).exists():  # the new run saved a checkpoint: it is the run now
                shutil.rmtree(aside, ignore_errors=True)
            else:
                shutil.rmtree(out, ignore_errors=True)
                os.replace(aside, out)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return reason


def resume(run_dir: str | Path, minutes: float | None = None, steps: int | None = None,
           progress: bool = True, console=None, threads: int | None = None,
           lr_decay: float | None = None) -> StopReason:
    """Continue a run exactly where its last checkpoint stopped (under torchrun: with any number of processes, the
    global batch kept). ``threads`` replaces the run's CPU thread count (e.g. on a bigger machine); a step computes the
    same thing with any count (up to the order of floating-point sums). ``lr_decay`` replaces the run's learning-rate
    decay share (of the new ``steps``): a constant-rate run extended with a decay that starts after its last step is
    the run that had the decay from its start."""
    run_dir = check_run_folder(run_dir, split=True)
    cfg = RunConfig.load(run_dir / CONFIG_NAME)
    if not (run_dir / STATE_NAME).is_file():
        raise UserError(f"{run_dir / STATE_NAME} is missing, so the run cannot continue where it stopped; start it "
                        f"again with `prodgen train ... --out {run_dir} --overwrite`, or restore the file from a copy.")
    world = World.from_env(cfg.train.device)
    try:
        world.local_batch(cfg.train.batch_size)
        cfg.train.minutes = minutes
        if steps is not None:
            cfg.train.steps = steps  # the run's new total
        if threads is not None:
            cfg.train.threads = threads
        if lr_decay is not None:
            cfg.train = dataclasses.replace(cfg.train, lr_decay=lr_decay)  # validated again (it needs steps)
        data = load_run_data(run_dir, cfg, progress=progress and world.is_main)
        vocab = data.vocab
        model = model_class(cfg.model).from_args(cfg.model_args, vocab.sizes, cfg.data.resolution)
        if world.is_main:
            cfg.save(run_dir / CONFIG_NAME)
        trainer = Trainer(model, data.train, vocab, run_dir, cfg.train, cfg.condition.dropout, console=console,
                          title_only=cfg.condition.title_only,
                          evaluator=_evaluator(cfg, data, progress, console) if world.is_main else None, world=world)
        trainer.resume()
        return trainer.run(progress=progress and world.is_main)
    finally:
        world.shutdown()
