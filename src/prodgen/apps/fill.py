"""``prodgen fill``: an image for every catalog row that has none, clearly marked as generated.

Rows come from the catalog's CSV (``styles.csv`` layout); a row "has no image" when
no ``<id>.<ext>`` (or its image column's file) exists in the image folder. Each
generated image is ``<out>/<id>.generated.png``, generated from the row's
attributes and (for text-conditioned runs) its title. Marked four ways: the
``.generated`` file name, the ``generation.json`` sidecar, ``fill.csv`` listing
every row with its image file and a ``generated`` column (0 = real photo, 1 = made
by prodgen), and in the file itself (IPTC source type + signed C2PA manifest,
``prodgen.provenance``). A real photo is never written over: the output names cannot be a
photo's name, and an existing file that the previous fill did not make is left
alone and reported.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..data.csv_catalog import _find_image, parse_csv
from ..errors import UserError
from ..sample.jobs import check_row_columns, row_jobs
from ..sample.writer import GenerationResult, check_out_folder, unique_names, write_generation

SUFFIX = ".generated"


@dataclass
class FillResult:
    generated: list[str]  # ids that got an image now
    real: int  # rows that already had a photo
    left_alone: list[str]  # ids whose output name was taken by a file prodgen did not write
    table: Path  # fill.csv
    generation: GenerationResult | None


def catalog_csv(catalog: str | Path, images: str | Path | None = None) -> tuple[Path, Path]:
    path = Path(catalog)
    if path.is_file() and path.suffix.lower() == ".csv":
        return path, Path(images) if images else path.parent / "images"
    if path.is_dir():
        csvs = [path / "styles.csv"] if (path / "styles.csv").exists() else sorted(path.glob("*.csv"))
        if len(csvs) == 1:
            return csvs[0], Path(images) if images else path / "images"
        if len(csvs) > 1:
            raise UserError(f"{catalog} holds {len(csvs)} CSV files ({', '.join(c.name for c in csvs[:5])}) and no "
                            f"styles.csv; pass the one you mean with --catalog {csvs[0]} --images {path / 'images'}.")
    if not path.exists():
        raise UserError(f"--catalog {catalog} does not exist; give a folder with styles.csv and images/, or a .csv with --images.")
    raise UserError(f"{catalog}: fill needs a CSV catalog (a folder with styles.csv and images/, or a .csv with --images).")


def _previous_outputs(out: Path) -> set[str]:
    """Files an earlier fill wrote in ``out`` (from its generation.json), so they may be regenerated."""
    side = out / "generation.json"
    if not side.exists():
        return set()
    fix = (f"it records which files in {out} prodgen generated, so fill cannot tell them from yours. Delete it together "
           f"with the *{SUFFIX}.png files to generate them again, or choose another --out")
    try:
        d = json.loads(side.read_bytes().decode("utf-8"))
        return {str(img["file"]) for img in d.get("images", [])}
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, TypeError) as e:
        raise UserError(f"{side} is damaged ({type(e).__name__}: {e}); {fix}.") from e


def fill_catalog(pipe, catalog: str | Path, out: str | Path, images: str | Path | None = None, seed: int = 0,
                 id_column: str = "id", title_column: str = "productDisplayName", image_column: str | None = None,
                 sampling: dict | None = None, best_of: int = 1, scorer=None, progress: bool = True, console=None) -> FillResult:
    csv_path, images_dir = catalog_csv(catalog, images)
    out = check_out_folder(out)
    parsed = parse_csv(csv_path, id_column, title_column, None, image_column)
    rows = parsed.records
    if not rows:
        raise UserError(f"{csv_path} has a header but no usable rows ({len(parsed.skipped)} skipped); nothing to fill.")
    if images is not None and not Path(images).is_dir():
        raise UserError(f"--images {images} is not a folder; give the folder holding the catalog's photos.")
    check_row_columns(pipe, csv_path, parsed.header, title_column)
    previous = _previous_outputs(out)
    stems = dict(zip((r.id for r in rows), unique_names([r.id for r in rows])))  # over all rows: stable names
    missing, real, left_alone, files = [], 0, [], {}
    for rec in rows:
        photo = _find_image(images_dir, rec) if images_dir.is_dir() else None
        if photo is not None:
            real += 1
            files[rec.id] = (str(photo), 0)
            continue
        name = stems[rec.id] + SUFFIX
        target = out / f"{name}.png"
        if target.exists() and target.name not in previous:
            left_alone.append(rec.id)
            continue
        missing.append((rec, name))
        files[rec.id] = (str(target), 1)
    jobs = row_jobs(pipe, [r for r, _ in missing], [n for _, n in missing], seed, {"generated": True})
    gen = None
    if jobs:
        gen = write_generation(pipe, jobs, out, request={"fill": str(csv_path), "rows": len(rows), "missing": len(jobs)},
                               progress=progress, console=console, sampling=sampling, best_of=best_of, scorer=scorer)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([id_column, "image", "generated"])
    for rec in rows:
        if rec.id in files:
            w.writerow([rec.id, *files[rec.id]])
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "fill.csv", buf.getvalue())
    return FillResult([r.id for r, _ in missing], real, left_alone, out / "fill.csv", gen)



__all__ = ["FillResult", "catalog_csv", "fill_catalog"]
