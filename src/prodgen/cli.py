"""The ``prodgen`` command line: a thin layer over the Python API, one command per task."""

from __future__ import annotations

import contextlib
import errno
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .errors import TrainingDiverged, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False, help="prodgen: conditional generative models for product catalogs.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect and validate catalogs.")
app.add_typer(data_app, name="data")
features_app = typer.Typer(no_args_is_help=True, help="The ProductNet feature extractor behind every quality figure.")
app.add_typer(features_app, name="features")
console = Console(stderr=True)
out_console = Console()

CatalogOpt = Annotated[str, typer.Option("--catalog", help="folder with styles.csv + images/, a CSV, class folders, IDX files, or 'synthetic'")]


def _parse_kv(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"{flag} {item!r} must look like name=value, e.g. {flag} baseColour=Red")
        k, v = (x.strip() for x in item.split("=", 1))
        if not k or not v:
            raise UserError(f"{flag} {item!r} needs both a name and a value, e.g. {flag} baseColour=Red "
                            "(leave an attribute out to let the model choose it)")
        if k in out:
            raise UserError(f"{flag} gives {k!r} twice ({k}={out[k]} and {k}={v}); keep one")
        out[k] = v
    return out


# -- validation at the boundary: every numeric option is checked before any work --------------------------------
MAX_IMAGES = 100_000  # images one command may be asked for: more is a typo (and the job list alone would fill memory)
MAX_SEED = 2**32 - 1
MAX_SAMPLING_STEPS = 1000
TILE_ALIGN = 16  # the restoration network works on 2x2 blocks then two stride-2 stages (apps/restore.py ALIGN)


def _check(ok, must: str):
    """A typer callback: the value (when given) must satisfy ``ok``; the message says what it must be."""
    def callback(value):
        if value is not None and not ok(value):
            raise typer.BadParameter(f"{value} {must}")
        return value
    return callback


_positive = _check(lambda v: v > 0, "must be above 0")
_unit_open = _check(lambda v: 0 < v <= 1, "must lie in (0, 1]: 1 keeps every variation, lower trades variety for fidelity")


def _multiple_of(k: int, lo: int, hi: int | None = None):
    rng = f"between {lo} and {hi}" if hi else f"at least {lo}"
    return _check(lambda v: v % k == 0 and v >= lo and (hi is None or v <= hi), f"must be a multiple of {k}, {rng}")


def _parse_seeds(value: str) -> str:
    """``--seeds 0,1,2``: a non-empty comma-separated list of distinct seeds (callback; the string is kept)."""
    parts = [p.strip() for p in value.split(",")]
    if not value.strip() or not all(parts):
        raise typer.BadParameter(f"{value!r} must be comma-separated seeds, e.g. 0,1,2")
    try:
        seeds = [int(p) for p in parts]
    except ValueError:
        raise typer.BadParameter(f"{value!r} must be comma-separated whole numbers, e.g. 0,1,2") from None
    if any(not 0 <= x <= MAX_SEED for x in seeds) or len(set(seeds)) != len(seeds):
        raise typer.BadParameter(f"{value!r}: seeds must be distinct whole numbers from 0 to {MAX_SEED}")
    return value


def _image_out(*suffixes: str):
    """An output image path: a supported suffix, not an existing folder, no file where a parent folder should be."""
    def callback(value: Path | None):
        if value is None:
            return value
        if value.is_dir():
            raise typer.BadParameter(f"{value} is a folder; give a file name such as {value / 'out.png'}")
        if value.suffix.lower() not in suffixes:
            raise typer.BadParameter(f"{value}: the file type comes from the name; end it in {', '.join(suffixes)}")
        for parent in value.parents:
            if parent.exists() and not parent.is_dir():
                raise typer.BadParameter(f"{value}: {parent} is a file, not a folder")
        return value
    return callback


def _out_folder(value: Path | None):
    """An output folder: not an existing file, no file where a parent folder should be (callback)."""
    if value is None:
        return value
    if value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file; give a folder (it is created if needed)")
    for parent in value.parents:
        if parent.exists() and not parent.is_dir():
            raise typer.BadParameter(f"{value}: {parent} is a file, not a folder")
    return value


def _existing_file(flag: str, what: str):
    def callback(value: Path | None):
        if value is None:
            return value
        if value.is_dir():
            raise typer.BadParameter(f"{value} is a folder; give {what}")
        if not value.exists():
            raise typer.BadParameter(f"{value} not found; give {what}")
        return value
    return callback


def _one_of(choices: tuple[str, ...]):
    def callback(value: str):
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value
    return callback


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MIN_EVAL_N = 10  # precision/recall and density/coverage need more generated images than their k neighbours
SPLITS = ("val", "test")  # evaluation splits: never the photos the model trained on


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"--split {split!r} is not an evaluation split; use test (the default, for the final table) "
                        "or val (for sweeps and choices); a model is never judged on its training photos")
SeedOpt = Annotated[int, typer.Option(min=0, max=MAX_SEED, help="random seed (0 .. 2^32-1)")]
SamplingStepsOpt = Annotated[int | None, typer.Option(min=1, max=MAX_SAMPLING_STEPS, help="sampling steps (diffusion)")]
GuidanceOpt = Annotated[float | None, typer.Option(min=0.0, help="classifier-free guidance scale (diffusion; 1: off, 0: unconditional)")]
SamplerOpt = Annotated[str | None, typer.Option(help="diffusion solver: dpm++ or ddim (flow-matching runs: euler or heun; EDM runs: "
                                                   "dpm++ or euler); "
                                                   "default: the run's")]
BatchOpt = Annotated[int, typer.Option(min=1, help="images per batch")]
ScoreWithOpt = Annotated[str, typer.Option(help="what scores --best-of candidates: 'productnet' (the catalog's ProductNet: "
                                                "faithfulness + realism) or 'discriminator' (a GAN run's own "
                                                "discriminator; needs no catalog)",
                                           callback=_one_of(("productnet", "discriminator")))]


@contextlib.contextmanager
def _remove_if_left_empty(folder: Path):
    """A folder the command creates is removed again if the command fails before writing anything into it."""
    existed = folder.exists()
    try:
        yield
    except BaseException:
        if not existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise


def _typed(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was typed on the command line (not its default)."""
    source = ctx.get_parameter_source(name)
    return getattr(source, "name", None) == "COMMANDLINE"  # by name: typer may bring its own copy of click's enum


def _refuse_ignored_options(ctx: typer.Context, used: set[str], why: str) -> None:
    """Options typed on the command line that this way of running the command would silently ignore: an error."""
    given = [f"--{name.replace('_', '-')}" for name in ctx.params if name not in used and _typed(ctx, name)]
    if given:
        raise UserError(f"{', '.join(given)} would be ignored: {why}.")


def _check_score_with(score_with: str, best_of: int) -> None:
    """--score-with chooses what scores --best-of candidates: an error without candidates to score."""
    if score_with != "productnet" and best_of == 1:
        raise UserError(f"--score-with {score_with} scores the candidates of --best-of K; add --best-of (e.g. 4)")


def _scoring(score_with: str, features: Path | None) -> str | None:
    """What scored --best-of candidates, as a request records it: "discriminator", the ProductNet folder, or None (the
    catalog's cached ProductNet)."""
    return "discriminator" if score_with == "discriminator" else (str(features) if features else None)


def _sampling(steps: int | None, guidance: float | None, sampler: str | None = None) -> dict:
    """Diffusion sampling options the user set (``--steps``, ``--guidance``, ``--sampler``)."""
    return {k: v for k, v in {"steps": steps, "guidance": guidance, "sampler": sampler}.items() if v is not None}


def _parse_model_args(items: list[str]) -> dict:
    out = {}
    for k, v in _parse_kv(items, "--model-arg").items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _next_run_dir(root: Path, name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    nums = [int(p.name[:5]) for p in root.iterdir() if p.name[:5].isdigit()]
    return root / f"{max(nums, default=0) + 1:05d}-{name}"


def _data_config(catalog: str, images: str | None, resolution: int, id_column: str, title_column: str,
                 attribute_columns: str | None):
    from .config import DataConfig

    return DataConfig(catalog=catalog, images=images, resolution=resolution, id_column=id_column, title_column=title_column,
                      attribute_columns=[c.strip() for c in attribute_columns.split(",")] if attribute_columns else None)


@data_app.command("inspect")
def data_inspect(
    catalog: Annotated[str, typer.Argument(help="catalog folder, CSV, IDX files, class folders, or 'synthetic'")],
    images: Annotated[str | None, typer.Option(help="image folder when CATALOG is a CSV file")] = None,
    resolution: Annotated[int, typer.Option(help="32, 64, 128 or 256")] = 64,
    sheet: Annotated[Path | None, typer.Option(help="contact-sheet PNG path (default: ./inspect-<name>.png)",
                                               callback=_image_out(".png"))] = None,
    id_column: str = "id",
    title_column: str = "productDisplayName",
    attribute_columns: Annotated[str | None, typer.Option(help="comma-separated attribute columns (default: all others)")] = None,
) -> None:
    """Count values per attribute, list what was skipped and why, write a contact sheet."""
    from .data import inspect_catalog, load_catalog

    cfg = _data_config(catalog, images, resolution, id_column, title_column, attribute_columns)
    cat = load_catalog(cfg)
    sheet = sheet or Path(f"inspect-{Path(cat.name).name or 'catalog'}.png")
    report = inspect_catalog(cat, resolution=resolution, contact_sheet=sheet)
    out_console.print(report.to_text())
    out_console.print(f"contact sheet: {sheet}")


@app.command()
def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="model family: gan, vae, diffusion, autoencoder (for latent diffusion), "
                                            "pix2pix (from an edge map or silhouette)")] = "gan",
    catalog: CatalogOpt = "synthetic",
    images: Annotated[str | None, typer.Option(help="image folder when --catalog is a CSV file")] = None,
    resolution: Annotated[int, typer.Option(help="32, 64, 128 or 256")] = 64,
    out: Annotated[Path | None, typer.Option(help="run folder (default: runs/NNNNN-<model>-<catalog>-<res>)",
                                             callback=_out_folder)] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="the run's total number of steps")] = None,
    minutes: Annotated[float | None, typer.Option(help="training-time budget of this invocation (periodic evaluation excluded)",
                                                  callback=_positive)] = None,
    resume: Annotated[Path | None, typer.Option(help="continue the run in this folder exactly where it stopped")] = None,
    seed: SeedOpt = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="images per training step")] = 64,
    condition: Annotated[str | None, typer.Option(help="comma-separated attributes to condition on (default: the catalog's); "
                                                       "add 'text' for the product title, e.g. text,articleType,baseColour; "
                                                       "'edges' or 'silhouette' for a photo drawn from a sketch (pix2pix)")] = None,
    text_encoder: Annotated[str, typer.Option(help="title/prompt encoder: auto, minilm (all-MiniLM-L6-v2) or hashing (built-in)")] = "auto",
    min_count: Annotated[int, typer.Option(min=1, help="merge attribute values rarer than this into 'other'")] = 20,
    cond_dropout: Annotated[float, typer.Option(help="probability of training with an attribute unspecified, in [0, 1)",
                                                callback=_check(lambda v: 0 <= v < 1, "must lie in [0, 1)"))] = 0.1,
    title_only: Annotated[float, typer.Option(help="text runs: share of training rows with all attributes unspecified and "
                                                   "the title kept (what --prompt without --attr asks), in [0, 1)",
                                              callback=_check(lambda v: 0 <= v < 1, "must lie in [0, 1)"))] = 0.25,
    model_arg: Annotated[list[str], typer.Option(help="model setting name=value (repeatable), e.g. lr_g=1e-4")] = [],  # noqa: B006
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch")] = None,
    precision: Annotated[str, typer.Option(help="fp32, bf16, fp16 (autocast; fp16 with a gradient scaler) or auto (bf16 for the GAN on a CPU where bf16 trains faster: AMX, or AVX-512 bf16 as a one-off timing probe finds; else fp32)")] = "auto",
    compile_nets: Annotated[bool, typer.Option("--compile", help="torch.compile the networks (slow first steps)")] = False,
    sample_every: Annotated[int, typer.Option(min=1, help="steps between sample grids")] = 500,
    checkpoint_every: Annotated[int, typer.Option(min=0, help="steps between checkpoints (0: by time, Ctrl-C and the end)")] = 1000,
    checkpoint_minutes: Annotated[float, typer.Option(min=0, help="wall-clock minutes between checkpoints as well (0: off)")] = 5.0,
    log_every: Annotated[int, typer.Option(min=1, help="steps between metrics lines")] = 25,
    ema_sigma_rel: Annotated[float | None, typer.Option(help="average the weights with EDM2's power profile of this "
                                                             "relative width (default: the decay-0.999 warm-up profile)",
                                                        callback=_positive)] = None,
    lr_decay: Annotated[float, typer.Option(min=0, max=1, help="share of --steps at the run's end over which the learning "
                                                              "rates fall linearly toward 0 (0: constant)")] = 0.0,
    snapshot_every: Annotated[int, typer.Option(min=0, help="steps between raw weight snapshots, so that `prodgen ema` "
                                                            "can rebuild the average of any length afterwards (0: off)")] = 0,
    eval_every: Annotated[int, typer.Option(min=0, help="steps between cheap FID/KID on the val split (0: off); not counted in --minutes")] = 0,
    eval_n: Annotated[int, typer.Option(min=2, max=MAX_IMAGES, help="generated images per periodic evaluation")] = 500,
    features: Annotated[Path | None, typer.Option(help="ProductNet run for --eval-every (default: the catalog's cached one)")] = None,
    id_column: str = "id",
    title_column: str = "productDisplayName",
    attribute_columns: Annotated[str | None, typer.Option(help="comma-separated attribute columns of the CSV")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace the run in --out, whole (weights, samples, evaluations); "
                                                 "refused for a folder that is not a prodgen run")] = False,
    dry_run: Annotated[bool, typer.Option(help="validate everything, print the config, train nothing")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Train a conditional model on a catalog (or continue one with --resume)."""
    from . import train as _train_pkg  # noqa: F401  (import errors surface early)
    from .config import RunConfig, TrainConfig
    from .train import resume as resume_run
    from .train import train as train_run

    if resume is not None:
        _refuse_ignored_options(ctx, {"resume", "minutes", "steps", "threads", "lr_decay", "quiet", "dry_run"},
                                f"--resume continues with the settings in {resume / 'config.json'}; drop them, "
                                "or start a new run with --out")
        if dry_run:
            out_console.print(json.dumps(RunConfig.load(resume / "config.json").to_dict(), indent=2))
            return
        reason = resume_run(resume, minutes=minutes, steps=steps, threads=threads, progress=not quiet, console=console,
                            lr_decay=lr_decay if _typed(ctx, "lr_decay") else None)
        _finish(resume, reason)
        return
    condition, model, model_arg = _image_condition(ctx, condition, model, model_arg)
    cfg = RunConfig(
        model=model,
        model_args=_parse_model_args(model_arg),
        data=_data_config(catalog, images, resolution, id_column, title_column, attribute_columns),
        condition=_condition_config(condition, min_count, cond_dropout, text_encoder, title_only),
        train=TrainConfig(steps=steps, minutes=minutes, batch_size=batch_size, seed=seed, device=device, threads=threads,
                          precision=precision, compile=compile_nets,
                          sample_every=sample_every, checkpoint_every=checkpoint_every, log_every=log_every,
                          checkpoint_minutes=checkpoint_minutes, snapshot_every=snapshot_every, ema_sigma_rel=ema_sigma_rel,
                          lr_decay=lr_decay, eval_every=eval_every, eval_n=eval_n, eval_features=str(features) if features else None),
    )
    if steps is None and minutes is None:
        raise UserError("give a training budget: --steps N (the run's total) and/or --minutes M (this invocation).")
    if out is None:
        out = _next_run_dir(Path("runs"), f"{model}-{Path(catalog).name or 'catalog'}-{resolution}")
    if dry_run:
        from .data import load_catalog
        from .models import model_class
        from .train.run import check_new_run_dir, condition_attributes

        check_new_run_dir(out, overwrite)
        cat = load_catalog(cfg.data)
        cfg.condition.attributes = condition_attributes(cfg, cat)
        model_class(model).from_args(cfg.model_args, [2] * len(cfg.condition.attributes), resolution)  # validates model args
        out_console.print(json.dumps(cfg.to_dict(), indent=2))
        out_console.print(f"dry run: {len(cat)} catalog rows, would write {out}")
        return
    reason = train_run(cfg, out, overwrite=overwrite, progress=not quiet, console=console)
    _finish(out, reason)


def _condition_config(condition: str | None, min_count: int, dropout: float, text_encoder: str, title_only: float = 0.25):
    from .conditioning.text import resolve_encoder_name
    from .config import ConditionConfig

    names = [c.strip() for c in condition.split(",") if c.strip()] if condition else None
    text = bool(names) and "text" in names
    if text:
        names = [n for n in names if n != "text"]
        if not names:
            raise UserError("--condition text needs at least one attribute beside it (the attributes are what "
                            "evaluation checks and guidance steers), e.g. --condition text,articleType,baseColour")
        resolve_encoder_name(text_encoder)  # an unknown name fails before any work
    return ConditionConfig(attributes=names, min_count=min_count, dropout=dropout, text=text, text_encoder=text_encoder,
                           title_only=title_only)


def _image_condition(ctx: typer.Context, condition: str | None, model: str, model_arg: list[str]):
    """``--condition edges,...`` / ``silhouette,...``: the image condition leaves the attribute list and becomes the
    model's ``image_condition``: pix2pix when --model was not typed; a typed diffusion model takes the map as extra
    input channels; other families refuse it."""
    from .conditioning.maps import IMAGE_CONDITIONS

    names = [c.strip() for c in condition.split(",") if c.strip()] if condition else []
    images = [n for n in names if n in IMAGE_CONDITIONS]
    if not images:
        return condition, model, model_arg
    if len(images) > 1:
        raise UserError(f"--condition names {' and '.join(images)}; a run draws from one image condition, pick one")
    typed = getattr(ctx.get_parameter_source("model"), "name", None) == "COMMANDLINE"
    if typed and model not in ("pix2pix", "diffusion"):
        raise UserError(f"--condition {images[0]} needs --model pix2pix or diffusion (a {model} model takes no image "
                        "condition); drop --model or use one of those")
    rest = [n for n in names if n not in IMAGE_CONDITIONS]
    return ",".join(rest) or None, model if typed else "pix2pix", [*model_arg, f"image_condition={images[0]}"]


def _finish(run_dir: Path, reason) -> None:
    from .evaluate import write_run_report
    from .train.distributed import is_main_process

    if not is_main_process():  # under torchrun, rank 0 writes the run page and speaks for the job
        if reason.kind == "interrupted":
            raise typer.Exit(130)
        return
    page = write_run_report(run_dir)
    msg = {"steps": "reached its total steps", "minutes": "used its time budget", "interrupted": "was interrupted"}[reason.kind]
    out_console.print(f"run {run_dir} {msg} at step {reason.step}; checkpoint saved. Report: {page}")
    if reason.kind == "interrupted":
        raise typer.Exit(130)


@app.command()
def generate(
    ctx: typer.Context,
    run: Annotated[Path, typer.Argument(help="run folder")],
    n: Annotated[int, typer.Option("-n", "--n", min=1, max=MAX_IMAGES, help="number of images")] = 16,
    attr: Annotated[list[str], typer.Option(help="condition name=value (repeatable), e.g. --attr baseColour=Red")] = [],  # noqa: B006
    prompt: Annotated[str | None, typer.Option(help="product description, e.g. \"red leather handbag for women\"")] = None,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="image i uses seed+i")] = 0,
    truncation: Annotated[float, typer.Option(help="(0, 1]: lower trades variety for fidelity (GAN, VAE)",
                                              callback=_unit_open)] = 1.0,
    guidance: GuidanceOpt = None,
    steps: SamplingStepsOpt = None,
    sampler: SamplerOpt = None,
    best_of: Annotated[int, typer.Option(min=1, max=64, help="generate K candidates per image, keep the best-scoring")] = 1,
    score_with: ScoreWithOpt = "productnet",
    features: Annotated[Path | None, typer.Option(help="ProductNet run scoring --best-of (default: the catalog's cached one)")] = None,
    from_csv: Annotated[Path | None, typer.Option(help="one image per row of this CSV (catalog layout), named <id>.png",
                                                  callback=_existing_file("--from-csv", "a CSV file with one row per item"))] = None,
    id_column: str = "id",
    title_column: str = "productDisplayName",
    out: Annotated[Path, typer.Option(help="output folder", callback=_out_folder)] = Path("out/generated"),
    title_prior: Annotated[bool, typer.Option(help="fill the attributes that --attr and the prompt's words (with --prompt), "
                                                   "or a --from-csv row, leave open from the run's title prior "
                                                   "(`prodgen title-prior`), reading the prompt or the row's title")] = True,
    sketch: Annotated[Path | None, typer.Option(help="a drawing (dark lines on white, any size) or a silhouette PNG, for a "
                                                     "run trained with --condition edges,... or silhouette,...",
                                                callback=_existing_file("--sketch", "a PNG/JPEG/WebP drawing"))] = None,
    sketch_fit: Annotated[str, typer.Option(help="with --sketch: 'lines' crops the drawing to its lines and frames it as "
                                                 "the catalog frames a product; 'canvas' uses the whole canvas as drawn",
                                            callback=_one_of(("lines", "canvas")))] = "lines",
    sketch_snap: Annotated[bool, typer.Option(help="with --sketch: draw image i from the shape of the i-th nearest "
                                                   "training photo of the asked type (Chamfer distance to the drawing), "
                                                   "not from the drawing's lines; each file names that photo. Needs "
                                                   "`prodgen shape-index RUN` once")] = False,
    sketch_shape: Annotated[int, typer.Option(min=0, help="with --sketch and a silhouette run: pull the filled drawing "
                                                          "towards the asked type's shapes, its projection onto a linear "
                                                          "model of K components of that type's training masks (0: off; "
                                                          "1 followed the asked type best on people's doodles). Needs "
                                                          "`prodgen shape-index RUN` once")] = 0,
    sketch_close: Annotated[bool, typer.Option(help="with --sketch and a silhouette run: when the drawing's strokes do "
                                                    "not meet, so that filling it leaves only the line, join the "
                                                    "stroke ends and fill the shape they enclose")] = False,
    shard: Annotated[str | None, typer.Option(help="with --from-csv: generate shard i of N (numbered from 1, e.g. 2/4); run "
                                                   "one process per shard, same --out: each resumes where it stopped")] = None,
    batch_size: BatchOpt = 64,
    device: str = "auto",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (e.g. 1 per shard process)")] = None,
    quiet: bool = False,
) -> None:
    """Generate product images for chosen attributes or a prompt, or one per row of a CSV (streamed, resumable)."""
    from .runfiles import check_run_folder
    from .sample import Pipeline
    from .sample.jobs import request_jobs
    from .sample.stream import Shard
    from .sample.writer import write_generation

    if from_csv is not None and (attr or prompt):
        raise UserError("--from-csv takes each row's attributes and title; drop --attr/--prompt or generate without --from-csv")
    if from_csv is not None and sketch is not None:
        raise UserError("--sketch gives one drawing for -n images; --from-csv has no drawing per row. Drop one of them")
    if from_csv is not None:
        _refuse_ignored_options(ctx, {"n"} ^ set(ctx.params), "with --from-csv there is one image per CSV row")
    elif shard is not None:
        raise UserError("--shard splits the rows of --from-csv between processes; add --from-csv ROWS.csv or drop --shard")
    part = Shard.parse(shard)
    if features is not None and best_of == 1:
        raise UserError("--features scores the candidates of --best-of K; add --best-of (e.g. 4) or drop --features")
    _check_score_with(score_with, best_of)
    attrs = _parse_kv(attr, "--attr")
    _set_threads(threads)
    if _is_export(run):  # `prodgen export` output: ONNX Runtime, no PyTorch weights
        from .export import OnnxPipeline

        if best_of > 1:
            raise UserError(f"{run} is an ONNX export; --best-of scores candidates with the run's own networks: "
                            "generate from the run folder")
        pipe = OnnxPipeline.from_pretrained(run, threads=threads)
        if sketch is not None:
            raise UserError(f"{run} is an ONNX export of a model without an image condition; --sketch needs a run "
                            "trained with --condition edges,... or silhouette,...")
    else:
        check_run_folder(run)
        pipe = Pipeline.from_pretrained(run, device=device)
    sampling = _sampling(steps, guidance, sampler)
    if sampling and pipe.model.family != "diffusion":
        raise UserError(f"--steps, --guidance and --sampler are for diffusion models; {run} is a {pipe.model.family} "
                        "(use --truncation to trade variety for fidelity)")
    scorer, scoring_notes = None, None
    if best_of > 1:
        from .sample.best_of import scorer_for

        scorer, scoring_notes = scorer_for(pipe, features, progress=not quiet, console=console, by=score_with)
    if from_csv is not None:
        from .sample.stream import StreamSettings, generate_from_csv

        settings = StreamSettings(seed=seed, truncation=truncation, sampling=sampling, best_of=best_of,
                                  scoring=_scoring(score_with, features), batch_size=batch_size,
                                  title_prior=title_prior)
        _report_rows(generate_from_csv(pipe, from_csv, out, part, settings, id_column, title_column, scorer,
                                       progress=not quiet, console=console))
        return
    plan = request_jobs(pipe, attrs, prompt, n, seed, sketch=sketch, title_prior=title_prior, sketch_fit=sketch_fit,
                        sketch_snap=sketch_snap, sketch_shape=sketch_shape,
                        sketch_close=sketch_close)
    for note in plan.notes:
        console.print(f"[yellow]{note}[/]", soft_wrap=True)
    if scoring_notes is not None:
        plan.request["scoring_notes"] = scoring_notes
        plan.request["score_with"] = score_with
    res = write_generation(pipe, plan.jobs, out, truncation=truncation, batch_size=batch_size, request=plan.request,
                           progress=not quiet, console=console, sampling=sampling, best_of=best_of, scorer=scorer,
                           replace_previous=True)
    if res.removed:
        console.print(f"[yellow]removed {len(res.removed)} images an earlier `prodgen generate` left in {out} "
                      f"(e.g. {res.removed[0]}); the folder now holds this request's images only[/]", soft_wrap=True)
    out_console.print(f"wrote {len(res.files)} images to {out} ({len(res.files) / max(res.seconds, 1e-9):.1f} images/s); "
                      f"grid: {res.grid}, labels: {out / 'labels.csv'}")


def _is_export(folder: Path) -> bool:
    from .export import is_export

    return is_export(folder)


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="run folder (gan, vae, diffusion, or a restoration run)")],
    out: Annotated[Path, typer.Option(help="export folder to write")],
    format: Annotated[str, typer.Option("--format", help="onnx")] = "onnx",  # noqa: A002
    quantize: Annotated[str | None, typer.Option(help="int8: also an int8-quantised model (ONNX Runtime, static QDQ)")] = None,
    calibration_n: Annotated[int, typer.Option(min=8, max=4096, help="samples calibrating the int8 ranges")] = 64,
    overwrite: bool = False,
) -> None:
    """Export a run to serve it smaller and faster: ONNX (+ int8); then `prodgen generate OUT ...` (a generator) or
    `prodgen enhance --model OUT ...` (a restoration run)."""
    from .export import export_run

    if format != "onnx":
        raise UserError(f"--format {format!r}: only onnx is supported")
    rec = export_run(run, out, quantize=quantize, calibration_n=calibration_n, overwrite=overwrite)
    if rec["family"] == "restoration":
        errs = ", ".join(f"{v} {max(e.values()):.2g}" for v, e in rec["max_abs_error_vs_torch"].items())
        sizes = ", ".join(f"{v} {b / 1e6:.1f} MB" for v, b in rec["bytes"].items())
        out_console.print(f"exported the restoration run {run} ({', '.join(rec['restore_config']['tasks'])}) to {out}: "
                          f"{sizes}; largest pixel difference from PyTorch ([0, 1] scale): {errs}. Restore photos with "
                          f"`prodgen enhance PHOTO --model {out} ...` (int8 when present)", soft_wrap=True)
        return
    errs = ", ".join(f"{k} {v:.2g}" for k, v in rec["max_abs_error_vs_torch"].items())
    sizes = ", ".join(f"{rec['files'][v]} {b / 1e6:.1f} MB" for v, b in rec["bytes"].items())
    out_console.print(f"exported {run} ({rec['family']}, {rec['resolution']} px) to {out}: {sizes}; largest pixel "
                      f"difference from PyTorch on 8 samples ([-1, 1] scale): {errs}. Generate with "
                      f"`prodgen generate {out} ...` (int8 when present; the run folder for vary, best-of, evaluate)",
                      soft_wrap=True)


@app.command()
def prune(
    run: Annotated[Path, typer.Argument(help="GAN run folder")],
    out: Annotated[Path, typer.Option(help="run folder to write (an ordinary, narrower GAN run)")],
    keep: Annotated[float, typer.Option(help="fraction of each generator layer's channels to keep (0.5, 0.75)")] = 0.5,
    minutes: Annotated[float | None, typer.Option(min=0.1, help="distillation budget (CPU-minutes)")] = 5.0,
    steps: Annotated[int | None, typer.Option(min=1, help="distillation steps (instead of --minutes)")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads")] = None,
    overwrite: bool = False,
) -> None:
    """Prune a GAN generator's channels and distil it from the full one: a smaller, faster run to serve."""
    from .export.prune import prune_gan
    from .runfiles import check_run_folder

    _set_threads(threads)
    rec = prune_gan(check_run_folder(run, split=True), out, keep=keep, minutes=None if steps else minutes, steps=steps,
                    overwrite=overwrite)
    out_console.print(f"pruned {run} to {out}: generator widths {rec['widths_before']} -> {rec['widths_after']}, "
                      f"distilled {rec['distil_steps']} steps ({rec['distil_seconds']:.0f} s; L1 to the full generator "
                      f"{rec['l1_first']} -> {rec['l1_last']}). Evaluate it with `prodgen evaluate {out}` before serving "
                      "it (bench/prune_bench.py measured what it costs)", soft_wrap=True)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _report_rows(res) -> None:
    """What ``generate --from-csv`` did (sample/stream.py ``StreamResult``)."""
    for note in res.notes:
        console.print(f"[yellow]{note}[/]", soft_wrap=True)
    r, out = res.run, res.out
    who = f"shard {r.shard}: " if r.shard.count > 1 else ""
    before = f"; {r.done_before} rows were done before" if r.done_before else ""
    out_console.print(f"{who}wrote {r.made} images to {out} ({r.made / max(r.seconds, 1e-9):.1f} images/s){before}")
    if res.removed:
        console.print(f"[yellow]removed {len(res.removed)} images an earlier `prodgen generate` left in {out} "
                      f"(e.g. {res.removed[0]}); the folder now holds this request's images only[/]", soft_wrap=True)
    if res.complete:
        out_console.print(f"all {res.rows} rows done; grid: {out / 'grid.png'}, labels: {out / 'labels.csv'}")
    else:
        out_console.print(f"other shards still have rows to do; the last shard to finish writes {out / 'labels.csv'} "
                          "(running any shard again after that writes it too)")


@app.command()
def vary(
    source: Annotated[Path, typer.Argument(help="a product photo (presentation, recolour) or a run folder (model variations)")],
    out: Annotated[Path, typer.Option(help="output image (.png, .jpg, .webp; .gif for --interpolate animations)",
                                      callback=_image_out(*IMAGE_SUFFIXES, ".gif"))] = Path("out/vary.png"),
    background: Annotated[str | None, typer.Option(help="solid:#rrggbb, gradient:#top:#bottom, studio:#rrggbb or image:PATH")] = None,
    shadow: Annotated[bool, typer.Option(help="soft floor shadow under the product")] = False,
    brightness: Annotated[float, typer.Option(help="product brightness factor (above 0, at most 10)",
                                              callback=_check(lambda v: 0 < v <= 10, "must lie in (0, 10]"))] = 1.0,
    temperature: Annotated[float, typer.Option(min=-1.0, max=1.0, help="product colour temperature, -1 (cool) .. 1 (warm)")] = 0.0,
    mirror: Annotated[bool, typer.Option(help="mirror the view left-right")] = False,
    recolour: Annotated[str | None, typer.Option(help="photo only: re-tint the product to a colour name or #rrggbb (no model)")] = None,
    image: Annotated[Path | None, typer.Option(help="with a run: the photo to edit with --attr")] = None,
    attr: Annotated[list[str], typer.Option(help="with a run and --image: new attribute values, e.g. baseColour=Green")] = [],  # noqa: B006
    keep: Annotated[list[str], typer.Option(help="with --image: attributes of the item to hold, e.g. articleType=Shirts")] = [],  # noqa: B006
    interpolate: Annotated[tuple[str, str] | None, typer.Option(help="two conditions 'a=x,b=y' 'a=z,b=w' to morph between")] = None,
    frames: Annotated[int, typer.Option(min=2, max=256, help="--interpolate: images from A to B")] = 8,
    strength: Annotated[float, typer.Option(min=0.0, max=1.0, help="diffusion edits: how far to noise the photo (0-1)")] = 0.6,
    seed: SeedOpt = 0,
    threshold: Annotated[float, typer.Option(help="backdrop difference that counts as product, in (0, 1)",
                                             callback=_check(lambda v: 0 < v < 1, "must lie in (0, 1)"))] = 0.08,
) -> None:
    """Restage a photo (background, shadow, light, mirror, recolour) or vary a product through a run's model."""
    from .atomic import write_bytes
    from .data.images import encode_photo, read_photo
    from .provenance import stamp_bytes

    photo_opts = [flag for flag, given in (("--background", background), ("--shadow", shadow), ("--brightness", brightness != 1.0),
                                           ("--temperature", temperature != 0.0), ("--mirror", mirror),
                                           ("--recolour", recolour)) if given]
    if out.suffix.lower() == ".gif" and not interpolate:
        raise UserError(f"--out {out}: .gif is for --interpolate animations; end the name in .png, .jpg or .webp")
    if source.is_dir():
        from .apps.variations import edit_attributes, interpolate as interp, save_frames, to_model_input
        from .runfiles import check_run_folder
        from .sample import Pipeline

        if photo_opts:
            raise UserError(f"{', '.join(photo_opts)} restage a photo; {source} is a folder. Give the photo file as "
                            "SOURCE (prodgen vary PHOTO --background ...), or edit a photo through a run's model with "
                            "`prodgen vary RUN --image PHOTO --attr name=value`.")
        check_run_folder(source)
        if interpolate and out.suffix.lower() not in (".png", ".gif"):
            raise UserError(f"--out {out}: --interpolate writes a .png strip or a .gif animation")
        if image is not None and not image.is_file():
            raise UserError(f"--image {image} not found; give the product photo to edit")
        pipe = Pipeline.from_pretrained(source)
        if interpolate:
            a, b = (pipe.condition(_parse_kv([p.strip() for p in spec.split(",") if p.strip()], "--interpolate"))
                    for spec in interpolate)
            path = save_frames(interp(pipe, a, b, frames, seed), out, info={
                **_about(pipe), "seed": seed, "request": {"interpolate": list(interpolate), "frames": frames}})
            out_console.print(f"{frames} frames from {interpolate[0]!r} to {interpolate[1]!r}: {path}")
            return
        if image is None or not attr:
            raise UserError("with a run folder, give --image PHOTO --attr name=value (an edit) or --interpolate A B")
        x = to_model_input(read_photo(image), pipe.model.resolution)
        y = edit_attributes(pipe, x, _parse_kv(attr, "--attr"), _parse_kv(keep, "--keep"), seed=seed, strength=strength)
        info = {**_about(pipe), "seed": seed, "edits": [f"attributes {', '.join(attr)}"],
                "request": {"attr": attr, "keep": keep, "strength": strength}}
        write_bytes(out, stamp_bytes(encode_photo((y[0].cpu().numpy() + 1) / 2, out.suffix), "edited", info,
                                     title=out.name, parent=image))
        out_console.print(f"{image} with {', '.join(attr)} ({pipe.model.family}, {pipe.model.resolution} px): {out}")
        return
    from .apps.background import restage

    model_opts = [flag for flag, given in (("--image", image), ("--attr", attr), ("--keep", keep),
                                           ("--interpolate", interpolate)) if given]
    if model_opts:
        hint = "" if source.exists() else f" ({source} does not exist)"
        raise UserError(f"{', '.join(model_opts)} need a run folder as SOURCE{hint}: "
                        f"prodgen vary RUN --image PHOTO --attr name=value, or RUN --interpolate A B")
    img = read_photo(source)
    if recolour:
        from .apps.variations import colour_rgb, masked_recolour

        img = masked_recolour(img, colour_rgb(recolour), threshold)
    restaged = bool(background or shadow or brightness != 1.0 or temperature != 0.0 or mirror)
    if restaged:
        img, _ = restage(img, background or "solid:#ffffff", shadow, brightness, temperature, mirror, seed, threshold)
    elif not recolour:
        raise UserError("nothing to do: give --background, --shadow, --brightness, --temperature, --mirror or --recolour")
    edits = [f"{what} {value}".strip() for what, value, given in (
        ("recolour", recolour, recolour), ("background", background or "solid:#ffffff", restaged), ("shadow", "", shadow),
        ("brightness", brightness, brightness != 1.0), ("temperature", temperature, temperature != 0.0),
        ("mirror", "", mirror)) if given]
    write_bytes(out, stamp_bytes(encode_photo(img, out.suffix), "edited", {"edits": edits, "seed": seed}, title=out.name,
                                 parent=source))
    out_console.print(f"wrote {out}")


def _about(pipe) -> dict:
    """What a provenance stamp says about the model that made an image."""
    return {"run": str(pipe.run_dir), "family": pipe.model.family, "weights_sha256": pipe.weights_hash}


@app.command()
def fill(
    run: Annotated[Path, typer.Argument(help="run folder")],
    catalog: Annotated[Path, typer.Option(help="CSV catalog: a folder with styles.csv and images/, or a .csv")],
    out: Annotated[Path, typer.Option(help="folder for <id>.generated.png, fill.csv and generation.json", callback=_out_folder)],
    images: Annotated[Path | None, typer.Option(help="image folder when --catalog is a .csv")] = None,
    seed: SeedOpt = 0,
    steps: SamplingStepsOpt = None,
    guidance: GuidanceOpt = None,
    best_of: Annotated[int, typer.Option(min=1, max=64, help="generate K candidates per image, keep the best-scoring")] = 1,
    score_with: ScoreWithOpt = "productnet",
    features: Annotated[Path | None, typer.Option(help="ProductNet for --best-of scoring")] = None,
    id_column: str = "id",
    title_column: str = "productDisplayName",
    shard: Annotated[str | None, typer.Option(help="fill shard i of N (numbered from 1, e.g. 2/4); run one process per "
                                                   "shard, same --out: each resumes where it stopped")] = None,
    batch_size: BatchOpt = 64,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (e.g. 1 per shard process)")] = None,
    quiet: bool = False,
) -> None:
    """Generate an image for every catalog row without a photo (never over a real photo; marked as generated)."""
    from .apps.fill import catalog_csv, fill_catalog
    from .runfiles import check_run_folder
    from .sample import Pipeline
    from .sample.stream import Shard

    part = Shard.parse(shard)
    _check_score_with(score_with, best_of)
    catalog_csv(catalog, images)  # a catalog fill can use, before the model loads
    _set_threads(threads)
    pipe = Pipeline.from_pretrained(check_run_folder(run))
    sampling = _sampling(steps, guidance)
    if sampling and pipe.model.family != "diffusion":
        raise UserError(f"--steps and --guidance are for diffusion models; {run} is a {pipe.model.family}")
    scorer = None
    if best_of > 1:
        from .sample.best_of import scorer_for

        scorer, _ = scorer_for(pipe, features, progress=not quiet, console=console, by=score_with)
    res = fill_catalog(pipe, catalog, out, images, seed, id_column, title_column, sampling=sampling, best_of=best_of,
                       scorer=scorer, progress=not quiet, console=console, shard=part, batch_size=batch_size,
                       scoring=_scoring(score_with, features))
    for note in res.notes:
        console.print(f"[yellow]{note}[/]", soft_wrap=True)
    if res.complete:
        out_console.print(f"{res.generated} rows without a photo have a generated image ({res.made} made now); {res.real} "
                          f"rows have real photos (untouched). Table with a 'generated' column: {res.table}")
    else:
        out_console.print(f"shard {res.shard}: {res.made} images made now, {res.done_before} done before, {res.real} rows "
                          f"with a real photo; other shards still have rows to do, the last to finish writes fill.csv")
    if res.left_alone_count:
        console.print(f"[yellow]{res.left_alone_count} rows skipped: their output file exists and was not made by prodgen "
                      f"(e.g. {res.left_alone[0]})[/]")


@app.command()
def personalise(
    run: Annotated[Path, typer.Argument(help="run folder")],
    history: Annotated[Path, typer.Option(help="text file: one viewed or bought item id per line")],
    catalog: Annotated[str | None, typer.Option(help="catalog the ids belong to (default: the run's)")] = None,
    n: Annotated[int, typer.Option("-n", "--n", min=1, max=1000, help="images to generate (one batch)")] = 12,
    diversity: Annotated[float, typer.Option(min=0.0, max=1.0, help="0: only the favourite values .. 1: as varied as the history")] = 0.5,
    out: Annotated[Path, typer.Option(help="output folder", callback=_out_folder)] = Path("out/for-user"),
    seed: SeedOpt = 0,
    steps: SamplingStepsOpt = None,
    guidance: GuidanceOpt = None,
) -> None:
    """Images matching a shopper's history: attribute preferences (and mean title) -> a generated set + page."""
    from .apps.personalise import personalise as run_personalise
    from .apps.personalise import read_history
    from .data import load_catalog
    from .runfiles import check_run_folder
    from .sample import Pipeline

    ids = read_history(history)  # a bad history file fails before anything loads
    pipe = Pipeline.from_pretrained(check_run_folder(run))
    data_cfg = pipe.config.data
    if catalog is not None:
        data_cfg.catalog = catalog
    sampling = _sampling(steps, guidance)
    if sampling and pipe.model.family != "diffusion":
        raise UserError(f"--steps and --guidance are for diffusion models; {run} is a {pipe.model.family}")
    page = run_personalise(pipe, load_catalog(data_cfg), ids, out, n, diversity, seed, sampling)
    out_console.print(f"{n} images for this shopper: {page}")


@app.command("enhance-train")
def enhance_train(
    catalog: CatalogOpt = "synthetic",
    out: Annotated[Path, typer.Option(help="run folder for the restoration model", callback=_out_folder)] = Path("runs/restore"),
    minutes: Annotated[float | None, typer.Option(help="training time of this invocation (default: 30 when --steps is not "
                                                   "given)", callback=_positive)] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="the run's total steps; the learning-rate schedule spans them "
                                              "(reproducible; without it the schedule spans --minutes)")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue the restoration run in this folder where it stopped "
                                                "(same schedule; to its recorded budget unless --steps/--minutes)")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N")] = "auto",
    tasks: Annotated[str, typer.Option(help="comma-separated: upscale2,upscale4,denoise,deblur,jpeg,inpaint")] = ",".join(
        ("upscale2", "upscale4", "denoise", "deblur", "jpeg", "inpaint")),
    width: Annotated[int, typer.Option(min=1, max=1024, help="channels of each task's network at half resolution")] = 48,
    batch_size: Annotated[int, typer.Option(min=1, help="crops per step")] = 12,
    crop: Annotated[int, typer.Option(help="training crop size (multiple of 16, 16 to 128)",
                                      callback=_multiple_of(TILE_ALIGN, TILE_ALIGN, 128))] = 96,
    seed: SeedOpt = 0,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch")] = None,
    images: Annotated[str | None, typer.Option(help="image folder when --catalog is a CSV file")] = None,
    eval_n: Annotated[int, typer.Option(min=1, help="held-out photos for the PSNR/SSIM table")] = 200,
    quiet: bool = False,
) -> None:
    """Train one restoration network (SR x2/x4, denoise, deblur, JPEG, inpaint) on a catalog's own photos."""
    import torch

    from .apps.restore import RestoreConfig, check_new_run_folder, resume_restorer, train_restorer

    if threads:
        torch.set_num_threads(threads)
    if resume is not None:
        res = resume_restorer(resume, minutes, steps, progress=not quiet, console=console, device=device)
        out = resume
    else:
        check_new_run_folder(out)  # before the catalog is read: a wrong --out fails at once
        data = _data_config(catalog, images, 128, "id", "productDisplayName", None)
        cfg = RestoreConfig(width=width, batch_size=batch_size, crop=crop, seed=seed,
                            tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()))
        with _remove_if_left_empty(out):
            res = train_restorer(data, out, 30.0 if minutes is None and steps is None else minutes, steps, cfg,
                                 progress=not quiet, console=console, eval_n=eval_n, device=device)
    t = Table("task", "degradation", "n", "network PSNR / SSIM", "best classical (on validation)", "its PSNR / SSIM",
              "beats it", "ms/img")
    for r in res["rows"]:
        t.add_row(r["task"], r["condition"], str(r["n"]), f"{r['network']['psnr']:.2f} / {r['network']['ssim']:.4f}",
                  r["baseline_name"], f"{r['baseline']['psnr']:.2f} / {r['baseline']['ssim']:.4f}",
                  "yes" if r["beats_baseline"] else "NO", f"{r['ms_per_image']}")
    out_console.print(t)
    out_console.print(f"{res['steps']} steps in {res['train_seconds']} s; model and eval.json in {out}")


@app.command()
def enhance(
    photo: Annotated[Path, typer.Argument(help="the photo to restore",
                                          callback=_existing_file("PHOTO", "a photo file (PNG/JPEG/WebP)"))],
    out: Annotated[Path, typer.Option(help="output image (.png, .jpg, .webp)", callback=_image_out(*IMAGE_SUFFIXES))] = Path("out/enhanced.png"),
    task: Annotated[str, typer.Option(help="upscale, denoise, deblur, jpeg or inpaint")] = "upscale",
    scale: Annotated[int, typer.Option(help="upscale factor: 2 or 4")] = 2,
    model: Annotated[Path | None, typer.Option(help="restoration run (prodgen enhance-train) or its ONNX export "
                                                    "(prodgen export); none: classical baseline")] = None,
    mask: Annotated[Path | None, typer.Option(help="inpaint: mask image, white where to fill",
                                              callback=_existing_file("--mask", "a mask image, white where to fill"))] = None,
    tile: Annotated[int, typer.Option(help=f"tile size for large photos (a multiple of {TILE_ALIGN}, at least 64); "
                                           "bounds memory", callback=_multiple_of(TILE_ALIGN, 64))] = 1024,
) -> None:
    """Restore a photo: super-resolution, denoising, deblurring, JPEG clean-up or inpainting a masked region."""
    from .apps.restore import check_tile, enhance_file, load_restorer

    tasks = ("upscale", "denoise", "deblur", "jpeg", "inpaint")
    if task not in tasks:
        raise UserError(f"unknown --task {task!r}; choose one of {', '.join(tasks)} (upscale with --scale 2 or 4)")
    if scale not in (2, 4):
        raise UserError(f"--scale {scale}: the upscaler does 2 or 4")
    if mask is not None and task != "inpaint":
        raise UserError(f"--mask is for --task inpaint; --task {task} restores the whole photo (drop --mask)")
    if task == "upscale":
        task = f"upscale{scale}"
    check_tile(tile)
    net = load_restorer(model) if model is not None else None
    r = enhance_file(photo, out, net, task, mask, tile)  # tile by tile: memory bounded by the tile, not the photo
    (w, h), (ow, oh) = r["in_size"], r["out_size"]
    out_console.print(f"{task}: {photo} ({w}x{h}) -> {out} ({ow}x{oh}) with the {r['method']}")


@app.command()
def augment(
    run: Annotated[Path, typer.Argument(help="run folder")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: the run's)")] = None,
    per_class: Annotated[int, typer.Option(min=1, max=MAX_IMAGES, help="generated images per rare class")] = 200,
    rare_below: Annotated[int | None, typer.Option(min=1, help="classes with fewer training photos are rare (default: the median)")] = None,
    out: Annotated[Path, typer.Option(help="output folder", callback=_out_folder)] = Path("out/augment"),
    evaluate: Annotated[bool, typer.Option(help="train a classifier with and without them; held-out real accuracy")] = False,
    seeds: Annotated[str, typer.Option(help="comma-separated classifier seeds for --evaluate", callback=_parse_seeds)] = "0,1,2",
    epochs: Annotated[int, typer.Option(min=1, help="classifier epochs for --evaluate")] = 6,
    seed: SeedOpt = 0,
    steps: SamplingStepsOpt = None,
    guidance: GuidanceOpt = None,
    quiet: bool = False,
) -> None:
    """Generate labelled images for rare classes (and, with --evaluate, measure whether they help a classifier)."""
    from .apps.augment import augment as run_augment
    from .runfiles import check_run_folder

    res = run_augment(check_run_folder(run, split=True), out, catalog, per_class, rare_below, evaluate,
                      [int(x) for x in seeds.split(",")], epochs, seed, _sampling(steps, guidance), progress=not quiet,
                      console=console)
    out_console.print(f"{res.n_generated} generated images of {len(res.rare.rare)} rare {res.rare.attribute} classes in "
                      f"{res.images_dir} (labels.csv): {', '.join(res.rare.rare)}")
    if res.experiment is not None:
        t = Table("training data", "accuracy (held-out real)", "rare-class accuracy")
        for arm, sm in res.experiment["summary"].items():
            t.add_row(arm, f"{sm['accuracy_mean']:.4f} ± {sm['accuracy_std']:.4f}",
                      f"{sm['rare_accuracy_mean']:.4f} ± {sm['rare_accuracy_std']:.4f}")
        out_console.print(t)
        out_console.print(f"generated data {res.experiment['verdict']} (rare-class gain {res.experiment['rare_gain']:+.4f}); "
                          f"report: {res.report}")


@app.command()
def distill(
    run: Annotated[Path, typer.Argument(help="diffusion run folder (the teacher)")],
    out: Annotated[Path, typer.Option(help="run folder to write (the student)", callback=_out_folder)],
    steps: Annotated[int, typer.Option(min=1, max=MAX_SAMPLING_STEPS, help="the student's sampling steps")] = 4,
    start_steps: Annotated[int, typer.Option(min=2, max=MAX_SAMPLING_STEPS, help="the teacher's DDIM (flow: Euler) steps in round 1; "
                                             "--steps times a power of two")] = 16,
    guidance: Annotated[float | None, typer.Option(min=0.0, help="guidance scale distilled into the student "
                                                   "(default: the run's)")] = None,
    minutes: Annotated[float | None, typer.Option(help="training time of all rounds together", callback=_positive)] = None,
    iterations: Annotated[int | None, typer.Option(min=1, help="optimisation steps per round")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="images per step")] = 32,
    lr: Annotated[float, typer.Option(help="Adam learning rate (decays linearly to 0 in each round)", callback=_positive)] = 5e-5,
    seed: SeedOpt = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace the run in --out")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Distil a diffusion or flow-matching run's sampler to fewer steps (progressive distillation, guidance included)."""
    from .train.distill import DistillConfig
    from .train.distill import distill as distill_run

    _set_threads(threads)
    cfg = DistillConfig(steps=steps, start_steps=start_steps, guidance=guidance, minutes=minutes, iterations=iterations,
                        batch_size=batch_size, lr=lr, seed=seed, device=device)
    rec = distill_run(run, out, cfg, overwrite=overwrite, progress=not quiet, console=console)
    done = rec["rounds"]
    if not done:
        out_console.print(f"{rec['status']}: no round finished, nothing written to {out}")
        raise typer.Exit(130)
    last = done[-1]
    solver = "Euler" if rec.get("objective") == "flow" else "DDIM"
    out_console.print(f"{out}: {last['student_steps']}-step {solver} student of {run} after {len(done)} round(s) "
                      f"({rec['status']}); `prodgen generate {out} ...` samples with it", soft_wrap=True)
    if rec["status"].startswith("interrupted"):
        raise typer.Exit(130)


@app.command()
def report(run: Annotated[Path, typer.Argument(help="run folder")]) -> None:
    """Write the run's HTML page (loss curves, sample grids, config)."""
    from .evaluate import write_run_report
    from .runfiles import check_run_folder

    out_console.print(f"report: {write_run_report(check_run_folder(run))}")


@features_app.command("fit")
def features_fit(
    catalog: CatalogOpt = "synthetic",
    out: Annotated[Path, typer.Option(help="folder for the fitted ProductNet", callback=_out_folder)] = Path("runs/productnet"),
    resolution: Annotated[int, typer.Option(help="32, 64, 128 or 256")] = 64,
    epochs: Annotated[int, typer.Option(min=1, help="training epochs")] = 10,
    images: Annotated[str | None, typer.Option(help="image folder when --catalog is a CSV file")] = None,
    quiet: bool = False,
) -> None:
    """Train ProductNet on the catalog's train split; print held-out accuracy per attribute."""
    from .evaluate.features import FitSettings, fit_productnet
    from .runfiles import folder_kind

    if out.is_dir() and any(out.iterdir()) and folder_kind(out) != "productnet":
        what = {"generator": "a generator run", "restoration": "a restoration model"}.get(folder_kind(out),
                                                                                         "files prodgen did not write")
        raise UserError(f"--out {out} holds {what}; fitting a ProductNet there would write over its files. Choose a new or "
                        "empty --out folder (an existing ProductNet there is replaced).")

    cfg = _data_config(catalog, images, resolution, "id", "productDisplayName", None)
    acc = fit_productnet(cfg, out, FitSettings(epochs=epochs), progress=not quiet, console=console)
    t = Table("attribute", "held-out accuracy", "majority class", "classes", title=f"ProductNet {out}")
    for a, v in acc.items():
        if not a.startswith("_"):
            t.add_row(a, f"{v['accuracy']:.3f}", f"{v['majority_baseline']:.3f}", str(v["classes"]))
    out_console.print(t)
    out_console.print(f"fitted in {acc['_fit_seconds']} s on {acc['_n_train']} images; saved to {out}")


def _print_eval_table(results: list[dict]) -> None:
    """One column per (run, row), one line per metric: fits an 80-column terminal."""
    from .evaluate.report import ROW_NAMES, table_columns

    heads = [(r, key) for r in results for key in r["rows"]]
    t = Table("metric", *[f"{Path(r['run']).name if len(results) > 1 else ''} {ROW_NAMES.get(k, k)}".strip() for r, k in heads])
    cell = lambda v: "" if v is None else str(v) if isinstance(v, int) else f"{v:.4g}"  # noqa: E731  (n columns are ints)
    for k, name in table_columns(results) + [("images_per_s", "sampling images/s")]:  # n judged / n real first
        t.add_row(name, *[cell(r["rows"][key].get(k)) for r, key in heads])
    out_console.print(t)
    for r in results:
        for w in r["warnings"]:
            console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: the run's)")] = None,
    split: Annotated[str, typer.Option(help="held-out photos to compare with: test, or val for sweeps")] = "test",
    n: Annotated[int | None, typer.Option("--n", "-n", min=MIN_EVAL_N, max=MAX_IMAGES,
                                          help="generated images (default: as many as the floor's real photos)")] = None,
    features: Annotated[Path | None, typer.Option(help="a fitted ProductNet (default: fit or reuse the cached one)")] = None,
    seed: SeedOpt = 0,
    truncation: Annotated[float, typer.Option(help="(0, 1] (GAN, VAE)", callback=_unit_open)] = 1.0,
    steps: SamplingStepsOpt = None,
    guidance: GuidanceOpt = None,
    sampler: SamplerOpt = None,
    n_text: Annotated[int, typer.Option(min=0, max=MAX_IMAGES, help="images generated from held-out titles alone (text "
                                                                 "runs, and runs with a title prior)")] = 1000,
    best_of: Annotated[int, typer.Option(min=1, max=64, help="GAN runs: judge the best of K candidates per image by "
                                                             "the run's own discriminator (as generate --best-of K "
                                                             "--score-with discriminator makes them)")] = 1,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (e.g. 1 beside a training)")] = None,
    quiet: bool = False,
) -> None:
    """FID/KID/IS, precision/recall, density/coverage, conditional accuracy, diversity, memorisation, with floors."""
    from .evaluate.evaluate import evaluate_run
    from .runfiles import check_run_folder

    _set_threads(threads)
    _check_split(split)
    check_run_folder(run, split=True)
    sampling = _sampling(steps, guidance, sampler)
    res = evaluate_run(run, catalog, split, n, features, seed, truncation, progress=not quiet, console=console,
                       sampling=sampling, n_text=n_text, best_of=best_of)
    _print_eval_table([res])
    out_console.print(f"metrics: {res['out']}/metrics.json  report: {res['out']}/report.html")


@app.command()
def ema(
    run: Annotated[Path, typer.Argument(help="run folder trained with --snapshot-every")],
    out: Annotated[Path, typer.Option(help="run folder to write (a copy with the rebuilt average)", callback=_out_folder)],
    half_life: Annotated[float | None, typer.Option(help="exponential average: its half-life in steps", callback=_positive)] = None,
    sigma_rel: Annotated[float | None, typer.Option(help="EDM2's power-function average: its width relative to the run "
                                                         "(0.05-0.1 typical)", callback=_positive)] = None,
    decay: Annotated[float | None, typer.Option(help="the trainer's own profile, min(D, (1+t)/(10+t)) (its default D: "
                                                     "0.999), e.g. with --steps for the run's average at an earlier step")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="the average at this step (default: the last snapshot's)")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace the run in --out")] = False,
) -> None:
    """Rebuild a finished run's weight average (EMA) with another length, from its snapshots (post-hoc EMA)."""
    from .train.posthoc_ema import rebuild_ema

    _set_threads(threads)
    rec = rebuild_ema(run, out, half_life=half_life, sigma_rel=sigma_rel, decay=decay, steps=steps, overwrite=overwrite)
    out_console.print(f"{out}: {run}'s weights averaged over {rec['snapshots']} snapshots to step {rec['total_steps']} "
                      f"(mean step {rec['mean_step']:.0f}, spread {rec['std_steps']:.0f} steps); "
                      f"`prodgen evaluate {out}` measures it", soft_wrap=True)


@app.command("title-prior")
def title_prior(
    run: Annotated[Path, typer.Argument(help="run folder")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: the run's)")] = None,
    text_encoder: Annotated[str | None, typer.Option(help="auto, minilm or hashing (default: the run's encoder, or "
                                                          "auto for runs without text)")] = None,
) -> None:
    """Fit the run's title prior (title -> attribute values), so that a title alone picks the attributes.

    Text runs get one when they start training; this adds (or refits) it for any run with a titled catalog.
    `generate --prompt` then fills the attributes that --attr and the prompt's words leave open, and `evaluate`
    reports title-only accuracy through it."""
    from .conditioning.title_prior import PRIOR_WEIGHTS, fit_run_title_prior
    from .runfiles import check_run_folder

    check_run_folder(run, split=True)
    prior = fit_run_title_prior(run, catalog, text_encoder)
    t = Table("attribute", "val accuracy", "majority class", "n val", "L2 (chosen on val)", title=f"title prior ({prior.encoder})")
    for name, d in prior.info["per_attribute"].items():
        t.add_row(name, f"{d['val_accuracy']:.3f}", f"{d['majority_val_accuracy']:.3f}", str(d["n_val"]), str(d["weight_decay"]))
    out_console.print(t)
    out_console.print(f"wrote {run / PRIOR_WEIGHTS}")


@app.command("shape-index")
def shape_index(
    run: Annotated[Path, typer.Argument(help="run folder of a sketch model (--condition edges,... or silhouette,...)")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: the run's)")] = None,
    quiet: bool = False,
) -> None:
    """Index the shapes of a sketch run's training photos, so `generate --sketch X --sketch-snap` can draw from the
    catalog shapes nearest to a drawing (a quick drawing's caricature is replaced by real products' shapes)."""
    from .conditioning.shape_index import SHAPE_INDEX, build_shape_index
    from .runfiles import check_run_folder

    check_run_folder(run, split=True)
    index = build_shape_index(run, catalog, progress=not quiet)
    out_console.print(f"wrote {run / SHAPE_INDEX}: {len(index.ids)} training photos' {index.kind} maps at "
                      f"{index.resolution} px, matched within their {index.attribute}")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="run folders")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: each run's)")] = None,
    split: Annotated[str, typer.Option(help="held-out photos to compare with: test, or val for sweeps")] = "test",
    n: Annotated[int | None, typer.Option("--n", "-n", min=MIN_EVAL_N, max=MAX_IMAGES,
                                          help="generated images per run (default: as many as the floor's real photos)")] = None,
    features: Annotated[Path | None, typer.Option(help="one ProductNet for all runs (default: the cached one)")] = None,
    out: Annotated[Path, typer.Option(help="folder for compare.html", callback=_out_folder)] = Path("out/compare"),
    seed: SeedOpt = 0,
    quiet: bool = False,
) -> None:
    """Evaluate several runs with the same extractor and put them in one table and one page."""
    from .evaluate.compare import write_compare_report
    from .evaluate.evaluate import evaluate_run
    from .runfiles import check_run_folder

    _check_split(split)
    if not runs:
        raise UserError("give at least one run folder to compare")
    for r in runs:  # every run checked before the first (long) evaluation
        check_run_folder(r, split=True)
    results = [evaluate_run(r, catalog, split, n, features, seed, progress=not quiet, console=console) for r in runs]
    _print_eval_table(results)
    out_console.print(f"report: {write_compare_report(results, out)}")


@app.command()
def models() -> None:
    """List the model families."""
    from .models import list_models

    t = Table("model")
    for m in list_models():
        t.add_row(m)
    out_console.print(t)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="run folder (an earlier demo run there is replaced)", callback=_out_folder)] = Path("runs/demo"),
    minutes: Annotated[float, typer.Option(help="training budget", callback=_positive)] = 4.0,
    steps: Annotated[int | None, typer.Option(min=1, help="stop at this many steps instead (tests)")] = None,
    eval_every: Annotated[int, typer.Option(min=0, help="steps between cheap FID/KID (0: off)")] = 250,
    quiet: bool = False,
) -> None:
    """Synthetic catalog -> a GAN trained for a few minutes -> grids + runs/demo/index.html."""
    from .demo import run_demo

    page = run_demo(out, minutes=minutes, steps=steps, progress=not quiet, console=console, eval_every=eval_every)
    out_console.print(f"\n[bold green]demo done.[/] Open {page.resolve()}")


from .cli_verify import register as _register_verify  # noqa: E402  (prodgen verify)

_register_verify(app)
from . import cli_serve  # noqa: E402,F401  (prodgen serve: adds itself to app)


def main() -> None:
    try:
        app()
    except TrainingDiverged as e:
        console.print(f"[bold red]training stopped:[/] {e}", soft_wrap=True)
        sys.exit(3)
    except UserError as e:
        console.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            console.print(f"[bold red]disk full:[/] {e}. Files already written, and the previous checkpoint, are intact "
                          "(every write is atomic); free some space and run the command again (`--resume` for training).",
                          soft_wrap=True)
            sys.exit(4)
        fix = _OS_FIXES.get(e.errno)
        if fix is None:
            raise
        where = e.filename if e.filename is not None else "a file"
        console.print(f"[bold red]error:[/] {where}: {e.strerror}. {fix}", soft_wrap=True)
        sys.exit(2)


_OS_FIXES = {  # errors of the paths a user gave, not bugs: say what to do (no file is left half-written)
    errno.EACCES: "prodgen may not read or write there; fix the permissions or choose another path (e.g. --out).",
    errno.EPERM: "prodgen may not read or write there; fix the permissions or choose another path (e.g. --out).",
    errno.EROFS: "that file system is read-only; choose another --out path.",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path.",
    errno.EISDIR: "that path is a folder where a file is expected; give a file name.",
    errno.EEXIST: "that path already exists as a file; choose another path.",
    errno.ENAMETOOLONG: "the file name is too long; choose a shorter path.",
}


if __name__ == "__main__":
    main()
