"""``prodgen fill``: an image for every catalog row that has none, clearly marked as generated.

Rows come from the catalog's CSV (``styles.csv`` layout); a row "has no image" when
no ``<id>.<ext>`` (or its image column's file) exists in the image folder. Each
generated image is ``<out>/<id>.generated.png``, generated from the row's
attributes and (for text-conditioned runs) its title, with seed ``seed + k`` for
the k-th usable row of the CSV. Marked four ways: the ``.generated`` file name, the
manifests (one JSON line per image, ``"generated": true``), ``fill.csv`` listing
every row with its image file and a ``generated`` column (0 = real photo, 1 = made
by prodgen), and in the file itself (IPTC source type + signed C2PA manifest,
``prodgen.provenance``). A real photo is never written over: the output names cannot be a
photo's name, and an existing file that prodgen did not make for that row (not in a
manifest, not listed by an earlier fill's generation.json, its marks not naming the
row's id) is left alone and reported.

Streamed like ``generate --from-csv`` (``sample/stream.py``): the CSV is read in chunks,
a rerun resumes where a killed fill stopped, and ``--shard i/N`` splits the rows over N
processes writing into one folder. ``fill.csv``, ``grid.png`` and ``generation.json``
are written by the shard that finds every row of every shard done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_json
from ..data.csv_catalog import _find_image
from ..errors import UserError
from ..sample.stream import (GRID_MAX, KEEP, OUT, WRITE, Shard, StreamSettings, csv_table, describe_stream, grid_of,
                             index_notes, open_csv, read_done, request_key, run_shard, stamp_about)
from ..sample.writer import check_out_folder

SUFFIX = ".generated"
LEFT_ALONE_EXAMPLES = 10


@dataclass
class FillResult:
    shard: Shard
    made: int  # images generated now
    done_before: int  # rows of this shard an earlier (interrupted) fill already generated
    generated: int  # rows with a generated image: of the whole CSV once complete, else of this shard
    real: int  # rows with a real photo: of the whole CSV once complete, else of the rows this shard looked at now
    left_alone: list[str]  # ids whose output name is taken by a file prodgen did not write (the first few)
    left_alone_count: int
    table: Path | None  # fill.csv, once every row of every shard is done
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.table is not None


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
    """Files an earlier fill wrote in ``out``, as listed by its generation.json (fills before the manifests did),
    so they may be regenerated."""
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


def _made_for(path: Path, row_id: str) -> bool:
    """An image prodgen generated for this row (its marks name the id): a fill killed before recording it."""
    from ..provenance.marks import read_marks

    try:
        info = read_marks(path.read_bytes()).get("info")
    except OSError:
        return False
    return isinstance(info, dict) and info.get("kind") == "generated" and info.get("id") == row_id


class _Incomplete(Exception):
    """A row of another shard is not done yet: fill.csv waits for the last shard."""


def fill_catalog(pipe, catalog: str | Path, out: str | Path, images: str | Path | None = None, seed: int = 0,
                 id_column: str = "id", title_column: str = "productDisplayName", image_column: str | None = None,
                 sampling: dict | None = None, best_of: int = 1, scorer=None, progress: bool = True, console=None,
                 shard: Shard = Shard(), batch_size: int = 64, scoring: str | None = None) -> FillResult:
    csv_path, images_dir = catalog_csv(catalog, images)
    out = check_out_folder(out)
    if images is not None and not Path(images).is_dir():
        raise UserError(f"--images {images} is not a folder; give the folder holding the catalog's photos.")
    index = open_csv(pipe, csv_path, id_column, title_column, image_column, what="fill", progress=progress, console=console)
    listed = _previous_outputs(out)
    settings = StreamSettings(seed=seed, sampling=dict(sampling or {}), best_of=best_of, scoring=scoring,
                              batch_size=batch_size)
    deciding = {"fill": True, "csv_sha256": index.sha256, "rows": index.rows, "id_column": id_column,
                "title_column": index.layout.title_column, "image_column": image_column,
                "weights_sha256": pipe.weights_hash, **settings.deciding()}
    photos = images_dir.is_dir()
    real, left_alone = [0], []

    def plan(rec, target: Path, done: bool) -> str:
        if photos and _find_image(images_dir, rec) is not None:
            real[0] += 1
            return OUT
        if done:
            return KEEP
        if target.exists() and target.name not in listed and not _made_for(target, rec.id):
            left_alone.append(rec.id)
            return KEEP  # stays in its batch: the other rows' images do not depend on that file
        return WRITE

    run = run_shard(pipe, index, out, shard, deciding, settings, name_of=lambda stem: stem + SUFFIX, plan=plan,
                    meta={"generated": True}, scorer=scorer, label="fill", progress=progress, console=console)
    notes = index_notes(index)
    done = read_done(out, request_key(deciding), index.rows)
    request = {**deciding, "catalog": str(csv_path), "images": str(images_dir)}
    table = _finish(pipe, index, out, images_dir if photos else None, done, listed, request, settings)
    if table is None:
        return FillResult(shard, run.made, run.done_before, run.made + run.done_before, real[0],
                          left_alone[:LEFT_ALONE_EXAMPLES], len(left_alone), None, notes)
    generated, n_real, alone = table
    return FillResult(shard, run.made, run.done_before, generated, n_real, alone[:LEFT_ALONE_EXAMPLES], len(alone),
                      out / "fill.csv", notes)


def _finish(pipe, index, out: Path, images_dir: Path | None, done, listed: set[str], request: dict,
            settings: StreamSettings) -> tuple[int, int, list[str]] | None:
    """fill.csv (every row with a real or generated image, CSV order), grid.png and generation.json, once no row of
    any shard is left to generate; None before. Returns (generated rows, real rows, ids left alone)."""
    generated, real, alone, first = 0, 0, [], []
    try:
        with csv_table(out / "fill.csv") as w:
            w.writerow([index.layout.id_column, "image", "generated"])
            for k, rec, stem in index.records():
                photo = _find_image(images_dir, rec) if images_dir is not None else None
                target = out / f"{stem}{SUFFIX}.png"
                if photo is not None:
                    w.writerow([rec.id, str(photo), 0])
                    real += 1
                elif done[k]:
                    w.writerow([rec.id, str(target), 1])
                    generated += 1
                    if len(first) < GRID_MAX:
                        first.append(target.name)
                elif target.exists() and target.name not in listed and not _made_for(target, rec.id):
                    alone.append(rec.id)
                else:
                    raise _Incomplete
    except _Incomplete:
        return None
    grid_of(pipe, out, first, stamp_about(pipe, request))
    write_json(out / "generation.json", describe_stream(pipe, request, settings, out, generated))
    return generated, real, alone


__all__ = ["FillResult", "catalog_csv", "fill_catalog"]
