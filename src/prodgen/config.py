"""One config object per run, saved as ``config.json`` beside the weights.

The CLI builds a ``RunConfig``, the Trainer reads it, ``Pipeline.from_pretrained``
rebuilds the model from it. Nested dataclasses, plain JSON, no hidden globals.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import write_json
from .errors import UserError
from .resolution import check_resolution
from .runfolder import require_kind


@dataclass
class DataConfig:
    catalog: str = "synthetic"  # a folder, a CSV, an IDX file/folder, or "synthetic"
    images: str | None = None  # image folder when ``catalog`` is a CSV file
    id_column: str = "id"
    title_column: str = "productDisplayName"
    attribute_columns: list[str] | None = None  # None: every column but id and title
    image_column: str | None = None  # CSV column holding image file names (default <id>.jpg)
    resolution: int = 64
    synthetic_size: int = 3000
    synthetic_seed: int = 0
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, val, test

    def __post_init__(self) -> None:
        check_resolution(self.resolution)
        self.split_fractions = tuple(float(x) for x in self.split_fractions)
        if len(self.split_fractions) != 3 or abs(sum(self.split_fractions) - 1) > 1e-6:
            raise UserError(f"split fractions {self.split_fractions} must be three numbers summing to 1.")


@dataclass
class ConditionConfig:
    attributes: list[str] | None = None  # None: the catalog's default (e.g. articleType,baseColour)
    min_count: int = 20  # values seen fewer times are merged into "other"
    dropout: float = 0.1  # per-attribute (and title) probability of training with it unspecified
    text: bool = False  # also condition on the product title (prompts at generate time)
    title_only: float = 0.25  # text runs: share of training rows with every attribute unspecified, title kept
    text_encoder: str = "auto"  # "minilm" | "hashing" | "auto" (resolved and recorded when training starts)

    def __post_init__(self) -> None:
        for name in ("dropout", "title_only"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"condition {name} = {getattr(self, name)} must lie in [0, 1)")


@dataclass
class TrainConfig:
    steps: int | None = None  # total steps of the run (a resumed run stops at this number)
    minutes: float | None = None  # training-time budget of this invocation (periodic evaluation excluded)
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    threads: int | None = None  # torch intra-op threads on CPU (None: torch default)
    ema_decay: float = 0.999
    ema_start: int = 0  # steps before the EMA starts tracking
    ema_sigma_rel: float | None = None  # EDM2's power-function EMA of this relative width instead of ema_decay's
    #   warm-up profile (which, as min(decay, (1+t)/(10+t)), is about a power profile of width 0.09 until t ~ 9,000)
    snapshot_every: int = 0  # steps between raw (not averaged) copies of the sampling net in snapshots/, from which
    #   `prodgen ema` rebuilds the EMA of any length after training (post-hoc EMA, Karras et al. 2024); 0: off
    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 1000  # steps between checkpoints (0: only by time, on Ctrl-C and at the end)
    checkpoint_minutes: float = 5.0  # wall-clock minutes between checkpoints too (0: off)
    sample_grid: int = 64  # fixed-noise images in each samples/step-XXXXXX.png
    hflip: bool = True  # random horizontal flips of real images
    eval_every: int = 0  # steps between cheap FID/KID on the val split (0: off); its time is not budget time
    eval_n: int = 500  # generated images per periodic evaluation
    eval_features: str | None = None  # ProductNet run folder (None: the catalog's cached one, fit if absent)
    precision: str = "auto"  # "fp32" | "bf16" | "fp16": autocast of the training step (fp16 with a gradient scaler);
    #   "auto": bf16 where measured to gain (the GAN on a CPU where bf16 runs faster: AMX, or AVX-512 bf16 where a
    #   cached timing probe says so; device.resolve_precision), else fp32; a run
    #   records the precision it resolved to
    compile: bool = False  # torch.compile the networks' forward (measured, not assumed: bench/precision_speed.py)
    lr_decay: float = 0.0  # share of the run's --steps at its end over which every learning rate falls linearly toward
    #   0 (budgeted training, Li et al. 2020); 0: constant rates. Follows --steps: a run resumed to more steps rises again

    def __post_init__(self) -> None:
        if not 0 <= self.lr_decay <= 1:
            raise UserError(f"--lr-decay {self.lr_decay}: the share of the run's steps over which the learning rates fall "
                            "must lie in [0, 1] (0: constant rates)")
        if self.lr_decay and self.steps is None:
            raise UserError("--lr-decay lowers the learning rates toward the run's last step: give --steps N (the run's "
                            "total)")
        if self.precision not in PRECISIONS:
            raise UserError(f"--precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")


PRECISIONS = ("fp32", "bf16", "fp16", "auto")


def saved_model_args(model: str, args: dict[str, Any]) -> dict[str, Any]:
    """Model arguments resolved and saved by an older prodgen (in config.json or in the weights' spec), completed so
    that today's prodgen builds the network they describe.

    - gan: resolved before skip-layer excitation existed (now on by default for dcgan): they had none; resolved
      before the mode-seeking term existed (weight 0.1 by default since session 28): they trained without it.
    """
    if model == "gan" and "z_dim" in args:  # resolved args always hold z_dim
        return {"sle": False, "mode_seeking": 0.0, **args}
    return args


@dataclass
class RunConfig:
    kind: str = "generator"  # run-folder kind (runfolder.py); config.json files without it are generator runs
    model: str = "gan"
    model_args: dict[str, Any] = field(default_factory=dict)  # validated by the model's own config class
    data: DataConfig = field(default_factory=DataConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    prodgen_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        if isinstance(d, dict) and d.get("kind", "generator") != "generator":
            raise UserError(f"config: kind {d['kind']!r} is not a generator run; RunConfig holds generator runs only.")
        if isinstance(d, dict) and isinstance(d.get("condition"), dict) and "title_only" not in d["condition"]:
            # written before --title-only existed: such runs trained without title-only rows, and a resume must too
            d = {**d, "condition": {**d["condition"], "title_only": 0.0}}
        if isinstance(d, dict) and isinstance(d.get("train"), dict) and "precision" not in d["train"]:
            # written before --precision existed: such runs trained in fp32, and a resume must too
            d = {**d, "train": {**d["train"], "precision": "fp32"}}
        ma = d.get("model_args") if isinstance(d, dict) else None
        if isinstance(ma, dict):
            d = {**d, "model_args": saved_model_args(d.get("model", "gan"), ma)}
        return _build(cls, d, "config")

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            if path.name == "config.json" and (path.parent / "productnet.json").is_file():
                require_kind(path.parent, "generator")  # an older ProductNet folder: say so
            raise UserError(f"{path} not found: is this a prodgen run folder (it holds config.json)?")
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{path} is not valid JSON ({e}); restore it from the run's backup or retrain.") from e
        if isinstance(d, dict) and d.get("kind", "generator") != "generator" and path.name == "config.json":
            require_kind(path.parent, "generator")  # names what the folder holds and what it is for
        return cls.from_dict(d)


def _build(cls: type, d: dict[str, Any], where: str) -> Any:
    """Rebuild a (nested) dataclass from a dict, rejecting unknown keys by name."""
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected an object, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise UserError(f"{where}: unknown keys {unknown}; valid keys are {sorted(fields)}")
    kwargs = {}
    for name, value in d.items():
        sub = _NESTED.get((cls, name))
        kwargs[name] = _build(sub, value, f"{where}.{name}") if sub is not None else value
    return cls(**kwargs)


_NESTED = {
    (RunConfig, "data"): DataConfig,
    (RunConfig, "condition"): ConditionConfig,
    (RunConfig, "train"): TrainConfig,
}


def build_dataclass(cls: type, d: dict[str, Any], where: str) -> Any:
    """Public helper for model configs: ``build_dataclass(GANConfig, args, "model_args")``."""
    return _build(cls, d, where)
