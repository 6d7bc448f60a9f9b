"""The ``prodgen`` command line: a thin layer over the Python API, one command per task."""

from __future__ import annotations

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
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _sampling(steps: int | None, guidance: float | None) -> dict:
    """Diffusion sampling options the user set (``--steps``, ``--guidance``)."""
    return {k: v for k, v in {"steps": steps, "guidance": guidance}.items() if v is not None}


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
    resolution: int = 64,
    sheet: Annotated[Path | None, typer.Option(help="contact-sheet PNG path (default: ./inspect-<name>.png)")] = None,
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
    model: Annotated[str, typer.Option(help="model family: gan, vae, diffusion")] = "gan",
    catalog: CatalogOpt = "synthetic",
    images: Annotated[str | None, typer.Option(help="image folder when --catalog is a CSV file")] = None,
    resolution: Annotated[int, typer.Option(help="32, 64 or 128")] = 64,
    out: Annotated[Path | None, typer.Option(help="run folder (default: runs/NNNNN-<model>-<catalog>-<res>)")] = None,
    steps: Annotated[int | None, typer.Option(help="the run's total number of steps")] = None,
    minutes: Annotated[float | None, typer.Option(help="training-time budget of this invocation (periodic evaluation excluded)")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue the run in this folder exactly where it stopped")] = None,
    seed: int = 0,
    batch_size: int = 64,
    condition: Annotated[str | None, typer.Option(help="comma-separated attributes to condition on (default: the catalog's); "
                                                       "add 'text' for the product title, e.g. text,articleType,baseColour")] = None,
    text_encoder: Annotated[str, typer.Option(help="title/prompt encoder: auto, minilm (all-MiniLM-L6-v2) or hashing (built-in)")] = "auto",
    min_count: Annotated[int, typer.Option(help="merge attribute values rarer than this into 'other'")] = 20,
    cond_dropout: Annotated[float, typer.Option(help="probability of training with an attribute unspecified")] = 0.1,
    model_arg: Annotated[list[str], typer.Option(help="model setting name=value (repeatable), e.g. lr_g=1e-4")] = [],  # noqa: B006
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch")] = None,
    sample_every: int = 500,
    checkpoint_every: int = 1000,
    log_every: int = 25,
    eval_every: Annotated[int, typer.Option(help="steps between cheap FID/KID on the val split (0: off); not counted in --minutes")] = 0,
    eval_n: Annotated[int, typer.Option(help="generated images per periodic evaluation")] = 500,
    features: Annotated[Path | None, typer.Option(help="ProductNet run for --eval-every (default: the catalog's cached one)")] = None,
    id_column: str = "id",
    title_column: str = "productDisplayName",
    attribute_columns: Annotated[str | None, typer.Option(help="comma-separated attribute columns of the CSV")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing run in --out")] = False,
    dry_run: Annotated[bool, typer.Option(help="validate everything, print the config, train nothing")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Train a conditional model on a catalog (or continue one with --resume)."""
    from . import train as _train_pkg  # noqa: F401  (import errors surface early)
    from .config import RunConfig, TrainConfig
    from .train import resume as resume_run
    from .train import train as train_run

    if resume is not None:
        if dry_run:
            out_console.print(json.dumps(RunConfig.load(resume / "config.json").to_dict(), indent=2))
            return
        reason = resume_run(resume, minutes=minutes, steps=steps, progress=not quiet, console=console)
        _finish(resume, reason)
        return
    cfg = RunConfig(
        model=model,
        model_args=_parse_model_args(model_arg),
        data=_data_config(catalog, images, resolution, id_column, title_column, attribute_columns),
        condition=_condition_config(condition, min_count, cond_dropout, text_encoder),
        train=TrainConfig(steps=steps, minutes=minutes, batch_size=batch_size, seed=seed, device=device, threads=threads,
                          sample_every=sample_every, checkpoint_every=checkpoint_every, log_every=log_every,
                          eval_every=eval_every, eval_n=eval_n, eval_features=str(features) if features else None),
    )
    if steps is None and minutes is None:
        raise UserError("give a training budget: --steps N (the run's total) and/or --minutes M (this invocation).")
    if out is None:
        out = _next_run_dir(Path("runs"), f"{model}-{Path(catalog).name or 'catalog'}-{resolution}")
    if dry_run:
        from .data import load_catalog
        from .models import model_class
        from .train.run import condition_attributes

        cat = load_catalog(cfg.data)
        cfg.condition.attributes = condition_attributes(cfg, cat)
        model_class(model).from_args(cfg.model_args, [2] * len(cfg.condition.attributes), resolution)  # validates model args
        out_console.print(json.dumps(cfg.to_dict(), indent=2))
        out_console.print(f"dry run: {len(cat)} catalog rows, would write {out}")
        return
    reason = train_run(cfg, out, overwrite=overwrite, progress=not quiet, console=console)
    _finish(out, reason)


def _condition_config(condition: str | None, min_count: int, dropout: float, text_encoder: str):
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
    return ConditionConfig(attributes=names, min_count=min_count, dropout=dropout, text=text, text_encoder=text_encoder)


def _finish(run_dir: Path, reason) -> None:
    from .evaluate import write_run_report

    page = write_run_report(run_dir)
    msg = {"steps": "reached its total steps", "minutes": "used its time budget", "interrupted": "was interrupted"}[reason.kind]
    out_console.print(f"run {run_dir} {msg} at step {reason.step}; checkpoint saved. Report: {page}")
    if reason.kind == "interrupted":
        raise typer.Exit(130)


@app.command()
def generate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    n: Annotated[int, typer.Option("-n", "--n", help="number of images")] = 16,
    attr: Annotated[list[str], typer.Option(help="condition name=value (repeatable), e.g. --attr baseColour=Red")] = [],  # noqa: B006
    prompt: Annotated[str | None, typer.Option(help="product description, e.g. \"red leather handbag for women\"")] = None,
    seed: Annotated[int, typer.Option(help="image i uses seed+i")] = 0,
    truncation: Annotated[float, typer.Option(help="(0, 1]: lower trades variety for fidelity (GAN, VAE)")] = 1.0,
    guidance: Annotated[float | None, typer.Option(help="classifier-free guidance scale (diffusion; 1: off)")] = None,
    steps: Annotated[int | None, typer.Option(help="sampling steps (diffusion)")] = None,
    best_of: Annotated[int, typer.Option(help="generate K candidates per image, keep the best-scoring")] = 1,
    features: Annotated[Path | None, typer.Option(help="ProductNet run scoring --best-of (default: the catalog's cached one)")] = None,
    from_csv: Annotated[Path | None, typer.Option(help="one image per row of this CSV (catalog layout), named <id>.png")] = None,
    id_column: str = "id",
    title_column: str = "productDisplayName",
    out: Annotated[Path, typer.Option(help="output folder")] = Path("out/generated"),
    batch_size: int = 64,
    device: str = "auto",
    quiet: bool = False,
) -> None:
    """Generate product images for chosen attributes or a prompt, or one per row of a CSV."""
    from .sample import Pipeline
    from .sample.writer import Job, safe_name, write_generation

    if n < 1:
        raise UserError("-n must be at least 1")
    if best_of < 1 or best_of > 64:
        raise UserError("--best-of must lie in [1, 64]")
    pipe = Pipeline.from_pretrained(run, device=device)
    sampling = _sampling(steps, guidance)
    if sampling and pipe.model.family != "diffusion":
        raise UserError(f"--steps and --guidance are for diffusion models; {run} is a {pipe.model.family} "
                        "(use --truncation to trade variety for fidelity)")
    if from_csv is not None:
        if attr or prompt:
            raise UserError("--from-csv takes each row's attributes and title; drop --attr/--prompt or generate without --from-csv")
        from .data import read_csv_rows

        records = read_csv_rows(from_csv, id_column=id_column, title_column=title_column, attribute_columns=None)
        titles = pipe.encode_text([r.title for r in records]) if pipe.model.text_dim else None
        jobs = []
        for k, rec in enumerate(records):
            rc = pipe.row_condition(rec.attributes)
            jobs.append(Job(safe_name(rec.id), rc.cond, seed + k, {"id": rec.id, "title": rec.title, "understood": rc.understood,
                                                                    "notes": rc.notes}, titles[k] if titles is not None else None))
        request = {"from_csv": str(from_csv), "rows": len(jobs), "uses_titles": titles is not None}
        noted = sum(1 for j in jobs if j.meta["notes"])
        if noted:
            console.print(f"[yellow]{noted} rows had values the model does not know; see notes in generation.json[/]")
    else:
        attrs = _parse_kv(attr, "--attr")
        pc = pipe.prompt_condition(prompt, attrs)
        for note in pc.notes:
            console.print(f"[yellow]{note}[/]")
        jobs = [Job(f"{i:06d}", pc.cond, seed + i, text=pc.text) for i in range(n)]
        request = {"attributes": attrs, "prompt": prompt, "understood": pc.understood, "notes": pc.notes, "n": n, "seed": seed}
    scorer = None
    if best_of > 1:
        from .sample.best_of import scorer_for

        scorer, notes = scorer_for(pipe, features, progress=not quiet, console=console)
        request["scoring_notes"] = notes
    res = write_generation(pipe, jobs, out, truncation=truncation, batch_size=batch_size, request=request,
                           progress=not quiet, console=console, sampling=sampling, best_of=best_of, scorer=scorer)
    out_console.print(f"wrote {len(res.files)} images to {out} ({len(res.files) / max(res.seconds, 1e-9):.1f} images/s); "
                      f"grid: {res.grid}, labels: {out / 'labels.csv'}")


@app.command()
def vary(
    source: Annotated[Path, typer.Argument(help="a product photo (presentation, recolour) or a run folder (model variations)")],
    out: Annotated[Path, typer.Option(help="output image (.png; .gif for --interpolate animations)")] = Path("out/vary.png"),
    background: Annotated[str | None, typer.Option(help="solid:#rrggbb, gradient:#top:#bottom, studio:#rrggbb or image:PATH")] = None,
    shadow: Annotated[bool, typer.Option(help="soft floor shadow under the product")] = False,
    brightness: Annotated[float, typer.Option(help="product brightness factor")] = 1.0,
    temperature: Annotated[float, typer.Option(help="product colour temperature, -1 (cool) .. 1 (warm)")] = 0.0,
    mirror: Annotated[bool, typer.Option(help="mirror the view left-right")] = False,
    recolour: Annotated[str | None, typer.Option(help="photo only: re-tint the product to a colour name or #rrggbb (no model)")] = None,
    image: Annotated[Path | None, typer.Option(help="with a run: the photo to edit with --attr")] = None,
    attr: Annotated[list[str], typer.Option(help="with a run and --image: new attribute values, e.g. baseColour=Green")] = [],  # noqa: B006
    keep: Annotated[list[str], typer.Option(help="with --image: attributes of the item to hold, e.g. articleType=Shirts")] = [],  # noqa: B006
    interpolate: Annotated[tuple[str, str] | None, typer.Option(help="two conditions 'a=x,b=y' 'a=z,b=w' to morph between")] = None,
    frames: int = 8,
    strength: Annotated[float, typer.Option(help="diffusion edits: how far to noise the photo (0-1)")] = 0.6,
    seed: int = 0,
    threshold: Annotated[float, typer.Option(help="backdrop difference that counts as product (0-1)")] = 0.08,
) -> None:
    """Restage a photo (background, shadow, light, mirror, recolour) or vary a product through a run's model."""
    from .data.images import read_photo, write_photo

    if source.is_dir():
        from .apps.variations import edit_attributes, interpolate as interp, save_frames, to_model_input
        from .sample import Pipeline

        pipe = Pipeline.from_pretrained(source)
        if interpolate:
            a, b = (pipe.condition(_parse_kv([p.strip() for p in spec.split(",") if p.strip()], "--interpolate"))
                    for spec in interpolate)
            path = save_frames(interp(pipe, a, b, frames, seed), out)
            out_console.print(f"{frames} frames from {interpolate[0]!r} to {interpolate[1]!r}: {path}")
            return
        if image is None or not attr:
            raise UserError("with a run folder, give --image PHOTO --attr name=value (an edit) or --interpolate A B")
        x = to_model_input(read_photo(image), pipe.model.resolution)
        y = edit_attributes(pipe, x, _parse_kv(attr, "--attr"), _parse_kv(keep, "--keep"), seed=seed, strength=strength)
        write_photo(((y[0].cpu().numpy() + 1) / 2), out)
        out_console.print(f"{image} with {', '.join(attr)} ({pipe.model.family}, {pipe.model.resolution} px): {out}")
        return
    from .apps.background import restage

    img = read_photo(source)
    if recolour:
        from .apps.variations import colour_rgb, masked_recolour

        img = masked_recolour(img, colour_rgb(recolour), threshold)
    if background or shadow or brightness != 1.0 or temperature != 0.0 or mirror:
        img, _ = restage(img, background or "solid:#ffffff", shadow, brightness, temperature, mirror, seed, threshold)
    elif not recolour:
        raise UserError("nothing to do: give --background, --shadow, --brightness, --temperature, --mirror or --recolour")
    write_photo(img, out)
    out_console.print(f"wrote {out}")


@app.command()
def fill(
    run: Annotated[Path, typer.Argument(help="run folder")],
    catalog: Annotated[Path, typer.Option(help="CSV catalog: a folder with styles.csv and images/, or a .csv")],
    out: Annotated[Path, typer.Option(help="folder for <id>.generated.png, fill.csv and generation.json")],
    images: Annotated[Path | None, typer.Option(help="image folder when --catalog is a .csv")] = None,
    seed: int = 0,
    steps: Annotated[int | None, typer.Option(help="sampling steps (diffusion)")] = None,
    guidance: Annotated[float | None, typer.Option(help="classifier-free guidance (diffusion)")] = None,
    best_of: int = 1,
    features: Annotated[Path | None, typer.Option(help="ProductNet for --best-of scoring")] = None,
    id_column: str = "id",
    title_column: str = "productDisplayName",
    quiet: bool = False,
) -> None:
    """Generate an image for every catalog row without a photo (never over a real photo; marked as generated)."""
    from .apps.fill import fill_catalog
    from .sample import Pipeline

    pipe = Pipeline.from_pretrained(run)
    sampling = _sampling(steps, guidance)
    scorer = None
    if best_of > 1:
        from .sample.best_of import scorer_for

        scorer, _ = scorer_for(pipe, features, progress=not quiet, console=console)
    res = fill_catalog(pipe, catalog, out, images, seed, id_column, title_column, sampling=sampling, best_of=best_of,
                       scorer=scorer, progress=not quiet, console=console)
    out_console.print(f"{len(res.generated)} rows without a photo got a generated image; {res.real} rows have real photos "
                      f"(untouched). Table with a 'generated' column: {res.table}")
    if res.left_alone:
        console.print(f"[yellow]{len(res.left_alone)} rows skipped: their output file exists and was not made by prodgen "
                      f"(e.g. {res.left_alone[0]})[/]")


@app.command()
def personalise(
    run: Annotated[Path, typer.Argument(help="run folder")],
    history: Annotated[Path, typer.Option(help="text file: one viewed or bought item id per line")],
    catalog: Annotated[str | None, typer.Option(help="catalog the ids belong to (default: the run's)")] = None,
    n: Annotated[int, typer.Option("-n", "--n")] = 12,
    diversity: Annotated[float, typer.Option(help="0: only the favourite values .. 1: as varied as the history")] = 0.5,
    out: Path = Path("out/for-user"),
    seed: int = 0,
    steps: Annotated[int | None, typer.Option(help="sampling steps (diffusion)")] = None,
    guidance: Annotated[float | None, typer.Option(help="classifier-free guidance (diffusion)")] = None,
) -> None:
    """Images matching a shopper's history: attribute preferences (and mean title) -> a generated set + page."""
    from .apps.personalise import personalise as run_personalise
    from .apps.personalise import read_history
    from .data import load_catalog
    from .sample import Pipeline

    pipe = Pipeline.from_pretrained(run)
    data_cfg = pipe.config.data
    if catalog is not None:
        data_cfg.catalog = catalog
    sampling = _sampling(steps, guidance)
    page = run_personalise(pipe, load_catalog(data_cfg), read_history(history), out, n, diversity, seed, sampling)
    out_console.print(f"{n} images for this shopper: {page}")


@app.command("enhance-train")
def enhance_train(
    catalog: CatalogOpt = "synthetic",
    out: Annotated[Path, typer.Option(help="run folder for the restoration model")] = Path("runs/restore"),
    minutes: Annotated[float | None, typer.Option(help="training budget")] = 30.0,
    steps: Annotated[int | None, typer.Option(help="stop after this many steps instead")] = None,
    tasks: Annotated[str, typer.Option(help="comma-separated: upscale2,upscale4,denoise,deblur,jpeg,inpaint")] = ",".join(
        ("upscale2", "upscale4", "denoise", "deblur", "jpeg", "inpaint")),
    width: Annotated[int, typer.Option(help="channels of each task's network at half resolution")] = 48,
    batch_size: int = 12,
    crop: Annotated[int, typer.Option(help="training crop size (multiple of 16)")] = 96,
    seed: int = 0,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch")] = None,
    images: Annotated[str | None, typer.Option(help="image folder when --catalog is a CSV file")] = None,
    eval_n: Annotated[int, typer.Option(help="held-out photos for the PSNR/SSIM table")] = 200,
    quiet: bool = False,
) -> None:
    """Train one restoration network (SR x2/x4, denoise, deblur, JPEG, inpaint) on a catalog's own photos."""
    import torch

    from .apps.restore import RestoreConfig, train_restorer

    if threads:
        torch.set_num_threads(threads)
    data = _data_config(catalog, images, 128, "id", "productDisplayName", None)
    cfg = RestoreConfig(width=width, batch_size=batch_size, crop=crop, seed=seed, tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()))
    res = train_restorer(data, out, minutes, steps, cfg, progress=not quiet, console=console, eval_n=eval_n)
    t = Table("task", "n", "network PSNR / SSIM", "best baseline", "baseline PSNR / SSIM", "beats it", "ms/img")
    for r in res["rows"]:
        t.add_row(r["task"], str(r["n"]), f"{r['network']['psnr']:.2f} / {r['network']['ssim']:.4f}", r["baseline_name"],
                  f"{r['baseline']['psnr']:.2f} / {r['baseline']['ssim']:.4f}", "yes" if r["beats_baseline"] else "NO",
                  f"{r['ms_per_image']}")
    out_console.print(t)
    out_console.print(f"{res['steps']} steps in {res['train_seconds']} s; model and eval.json in {out}")


@app.command()
def enhance(
    photo: Annotated[Path, typer.Argument(help="the photo to restore")],
    out: Annotated[Path, typer.Option(help="output image")] = Path("out/enhanced.png"),
    task: Annotated[str, typer.Option(help="upscale, denoise, deblur, jpeg or inpaint")] = "upscale",
    scale: Annotated[int, typer.Option(help="upscale factor: 2 or 4")] = 2,
    model: Annotated[Path | None, typer.Option(help="restoration run (prodgen enhance-train); none: classical baseline")] = None,
    mask: Annotated[Path | None, typer.Option(help="inpaint: mask image, white where to fill")] = None,
    tile: Annotated[int, typer.Option(help="tile size for large photos (multiple of 16); bounds memory")] = 1024,
) -> None:
    """Restore a photo: super-resolution, denoising, deblurring, JPEG clean-up or inpainting a masked region."""
    import torch

    from .apps.restore import load_restorer, restore
    from .data.images import read_photo, write_photo

    if task == "upscale":
        if scale not in (2, 4):
            raise UserError("--scale must be 2 or 4")
        task = f"upscale{scale}"
    img = torch.from_numpy(read_photo(photo))
    m = torch.from_numpy(read_photo(mask).mean(0)) if mask is not None else None
    net = load_restorer(model) if model is not None else None
    y, how = restore(net, img, task, m, tile=tile)
    write_photo(y.numpy(), out)
    out_console.print(f"{task}: {photo} ({img.shape[2]}x{img.shape[1]}) -> {out} ({y.shape[2]}x{y.shape[1]}) with the {how}")


@app.command()
def augment(
    run: Annotated[Path, typer.Argument(help="run folder")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: the run's)")] = None,
    per_class: Annotated[int, typer.Option(help="generated images per rare class")] = 200,
    rare_below: Annotated[int | None, typer.Option(help="classes with fewer training photos are rare (default: the median)")] = None,
    out: Path = Path("out/augment"),
    evaluate: Annotated[bool, typer.Option(help="train a classifier with and without them; held-out real accuracy")] = False,
    seeds: Annotated[str, typer.Option(help="comma-separated classifier seeds for --evaluate")] = "0,1,2",
    epochs: Annotated[int, typer.Option(help="classifier epochs for --evaluate")] = 6,
    seed: int = 0,
    steps: Annotated[int | None, typer.Option(help="sampling steps (diffusion)")] = None,
    guidance: Annotated[float | None, typer.Option(help="classifier-free guidance (diffusion)")] = None,
    quiet: bool = False,
) -> None:
    """Generate labelled images for rare classes (and, with --evaluate, measure whether they help a classifier)."""
    import json as _json

    from .apps.augment import generate_rare, rare_classes, run_experiment, write_augment_report
    from .conditioning import Vocabulary
    from .sample import Pipeline
    from .train.run import prepare_data

    pipe = Pipeline.from_pretrained(run)
    cfg = pipe.config
    if catalog is not None:
        cfg.data.catalog = catalog
    data = prepare_data(cfg, vocab=Vocabulary.load(run / "vocab.json"), split=_json.loads((run / "split.json").read_text()),
                        progress=not quiet)
    rare = rare_classes(pipe, data.train.cond, rare_below)
    sampling = _sampling(steps, guidance)
    imgs, cond = generate_rare(pipe, data.train.cond, rare, per_class, out, seed, sampling, progress=not quiet, console=console)
    out_console.print(f"{len(imgs)} generated images of {len(rare.rare)} rare {rare.attribute} classes in {out / 'images'} "
                      f"(labels.csv): {', '.join(rare.rare)}")
    if evaluate:
        res = run_experiment(pipe, data, rare, imgs, cond, [int(x) for x in seeds.split(",")], epochs, progress=not quiet,
                             console=console)
        t = Table("training data", "accuracy (held-out real)", "rare-class accuracy")
        for arm, sm in res["summary"].items():
            t.add_row(arm, f"{sm['accuracy_mean']:.4f} ± {sm['accuracy_std']:.4f}",
                      f"{sm['rare_accuracy_mean']:.4f} ± {sm['rare_accuracy_std']:.4f}")
        out_console.print(t)
        out_console.print(f"generated data {res['verdict']} (rare-class gain {res['rare_gain']:+.4f}); "
                          f"report: {write_augment_report(out, res)}")


@app.command()
def report(run: Annotated[Path, typer.Argument(help="run folder")]) -> None:
    """Write the run's HTML page (loss curves, sample grids, config)."""
    from .evaluate import write_run_report

    out_console.print(f"report: {write_run_report(run)}")


@features_app.command("fit")
def features_fit(
    catalog: CatalogOpt = "synthetic",
    out: Annotated[Path, typer.Option(help="folder for the fitted ProductNet")] = Path("runs/productnet"),
    resolution: int = 64,
    epochs: int = 10,
    images: Annotated[str | None, typer.Option(help="image folder when --catalog is a CSV file")] = None,
    quiet: bool = False,
) -> None:
    """Train ProductNet on the catalog's train split; print held-out accuracy per attribute."""
    from .evaluate.features import FitSettings, fit_productnet

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
    from .evaluate.report import COLUMNS, ROW_NAMES

    acc_cols = sorted({k for r in results for row in r["rows"].values() for k in row if k.startswith("acc/")})
    text_cols = sorted({k for r in results for row in r["rows"].values() for k in row if k.startswith("text_acc/")})
    heads = [(r, key) for r in results for key in r["rows"]]
    t = Table("metric", *[f"{Path(r['run']).name if len(results) > 1 else ''} {ROW_NAMES.get(k, k)}".strip() for r, k in heads])
    for k, name in (COLUMNS + [(a, f"cond. acc. {a[4:]}") for a in acc_cols]
                    + [(a, f"title-only acc. {a[9:]}") for a in text_cols] + [("images_per_s", "sampling images/s")]):
        t.add_row(name, *[("" if r["rows"][key].get(k) is None else f"{r['rows'][key][k]:.4g}") for r, key in heads])
    out_console.print(t)
    for r in results:
        for w in r["warnings"]:
            console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: the run's)")] = None,
    split: str = "test",
    n: Annotated[int, typer.Option("--n", "-n", help="generated images")] = 2000,
    features: Annotated[Path | None, typer.Option(help="a fitted ProductNet (default: fit or reuse the cached one)")] = None,
    seed: int = 0,
    truncation: float = 1.0,
    steps: Annotated[int | None, typer.Option(help="sampling steps (diffusion)")] = None,
    guidance: Annotated[float | None, typer.Option(help="classifier-free guidance (diffusion)")] = None,
    n_text: Annotated[int, typer.Option(help="text runs: images generated from held-out titles alone")] = 1000,
    quiet: bool = False,
) -> None:
    """FID/KID/IS, precision/recall, density/coverage, conditional accuracy, diversity, memorisation, with floors."""
    from .evaluate.evaluate import evaluate_run

    sampling = _sampling(steps, guidance)
    res = evaluate_run(run, catalog, split, n, features, seed, truncation, progress=not quiet, console=console,
                       sampling=sampling, n_text=n_text)
    _print_eval_table([res])
    out_console.print(f"metrics: {res['out']}/metrics.json  report: {res['out']}/report.html")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="run folders")],
    catalog: Annotated[str | None, typer.Option(help="catalog (default: each run's)")] = None,
    split: str = "test",
    n: Annotated[int, typer.Option("--n", "-n")] = 2000,
    features: Annotated[Path | None, typer.Option(help="one ProductNet for all runs (default: the cached one)")] = None,
    out: Annotated[Path, typer.Option(help="folder for compare.html")] = Path("out/compare"),
    seed: int = 0,
    quiet: bool = False,
) -> None:
    """Evaluate several runs with the same extractor and put them in one table and one page."""
    from .evaluate.compare import write_compare_report
    from .evaluate.evaluate import evaluate_run

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
    out: Annotated[Path, typer.Option(help="run folder")] = Path("runs/demo"),
    minutes: Annotated[float, typer.Option(help="training budget")] = 4.0,
    steps: Annotated[int | None, typer.Option(help="stop at this many steps instead (tests)")] = None,
    eval_every: Annotated[int, typer.Option(help="steps between cheap FID/KID (0: off)")] = 250,
    quiet: bool = False,
) -> None:
    """Synthetic catalog -> a GAN trained for a few minutes -> grids + runs/demo/index.html."""
    from .demo import run_demo

    page = run_demo(out, minutes=minutes, steps=steps, progress=not quiet, console=console, eval_every=eval_every)
    out_console.print(f"\n[bold green]demo done.[/] Open {page.resolve()}")


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
        if e.errno != errno.ENOSPC:
            raise
        console.print(f"[bold red]disk full:[/] {e}. Files already written, and the previous checkpoint, are intact "
                      "(every write is atomic); free some space and run the command again (`--resume` for training).",
                      soft_wrap=True)
        sys.exit(4)


if __name__ == "__main__":
    main()
