"""CSV + image-folder catalogs (the ``styles.csv`` layout by default)."""

from __future__ import annotations

import csv
import difflib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .catalog import Catalog, Record, Skip
from .images import open_image

NA_VALUES = {"", "na", "n/a", "nan", "null", "none"}
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg", ".webp")
PREFERRED_CONDITION = ("articleType", "baseColour")


@dataclass
class CsvRows:
    header: list[str]
    records: list[Record]
    skipped: list[Skip]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value.lower() in NA_VALUES else value


def _check_columns(path: Path, header: list[str], wanted: list[str], role: str) -> None:
    for col in wanted:
        if col not in header:
            close = difflib.get_close_matches(col, header, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UserError(f"{path}: no {role} column {col!r}.{hint} Columns found: {', '.join(header)}. "
                            f"Set the column with --{role.replace(' ', '-')}-column.")


def _check_csv_file(path: Path) -> None:
    """A path ``iter_csv_file`` can read: a text file (not a folder, not missing, no NUL bytes)."""
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a CSV file; give the CSV's path (or, for a catalog, the folder holding "
                        "styles.csv and images/ with --catalog).")
    if not path.is_file():
        raise UserError(f"CSV file {path} not found; pass the folder holding styles.csv and images/, or the CSV path "
                        "with --images DIR.")
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if b"\0" in head:
        raise UserError(f"{path} is not a text CSV (it holds binary data: NUL bytes); export the table as CSV "
                        "(comma-separated, UTF-8) and pass that file.")


def iter_csv_file(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, row) of a CSV file, one at a time (a million-row file is never held in memory).

    The file is checked when the generator starts; what the csv module cannot read raises a UserError naming
    the line and the fix.
    """
    path = Path(path)
    _check_csv_file(path)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        while True:
            start = reader.line_num + 1  # the line the next row starts on
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                if "field larger than field limit" in str(e):
                    raise UserError(
                        f"{path}: the row starting on line {start} has a field longer than "
                        f"{csv.field_size_limit() // 1024} KiB (the CSV reader's limit). Usually a quote (\") is opened "
                        "and never closed, so the rest of the file reads as one field; fix the quotes on that line, "
                        "or shorten the field.") from e
                raise UserError(f"{path}: the row starting on line {start} is not valid CSV ({e}); fix that row.") from e
            yield start, row


def read_csv_file(path: str | Path) -> list[list[str]]:
    """All rows of a CSV file; what the csv module cannot read raises a UserError naming the line and the fix."""
    return [row for _, row in iter_csv_file(path)]


@dataclass(frozen=True)
class CsvLayout:
    """Which columns of a catalog CSV are what (``csv_layout``); ``title_column`` is None when the file has none."""

    path: Path
    header: list[str]
    id_column: str
    title_column: str | None
    attribute_columns: list[str]
    image_column: str | None = None


def csv_layout(csv_path: str | Path, id_column: str = "id", title_column: str | None = "productDisplayName",
               attribute_columns: list[str] | None = None, image_column: str | None = None) -> CsvLayout:
    """Read the header only and check the columns (what ``parse_csv`` and ``stream_rows`` start with)."""
    path = Path(csv_path)
    rows = iter_csv_file(path)
    first = next(rows, None)
    rows.close()
    if first is None:
        raise UserError(f"{path} is empty; a catalog CSV needs a header row and one row per item.")
    header = [h.strip() for h in first[1]]
    _check_columns(path, header, [id_column], "id")
    if title_column and title_column not in header:
        title_column = None  # titles are optional (issue: conditioning on text comes later)
    if attribute_columns is None:
        attribute_columns = [h for h in header if h not in (id_column, title_column, image_column) and h]
    _check_columns(path, header, attribute_columns, "attribute")
    if image_column:
        _check_columns(path, header, [image_column], "image")
    return CsvLayout(path, header, id_column, title_column, list(attribute_columns), image_column)


def stream_rows(layout: CsvLayout) -> Iterator[tuple[int, Record | Skip]]:
    """(line, Record) per well-formed row with an id, (line, Skip) per malformed row or row without an id; blank lines
    are passed over. Duplicate ids are NOT removed here: ``parse_csv`` drops later repeats with a set of the ids seen,
    a streaming caller with hashes of them (``sample/stream.py``)."""
    header = layout.header
    col = {h: i for i, h in enumerate(header)}
    title_column, image_column = layout.title_column, layout.image_column
    title_last = title_column is not None and col[title_column] == len(header) - 1
    rows = iter_csv_file(layout.path)
    next(rows, None)  # the header
    for lineno, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            if not title_last:
                yield lineno, Skip(f"line {lineno}", "malformed-row", f"{len(row)} fields, header has {len(header)}")
                continue
            row = row[: len(header) - 1] + [",".join(row[len(header) - 1 :])]  # commas in an unquoted title
        if len(row) < len(header):
            yield lineno, Skip(f"line {lineno}", "malformed-row", f"{len(row)} fields, header has {len(header)}")
            continue
        rid = row[col[layout.id_column]].strip()
        if not rid:
            yield lineno, Skip(f"line {lineno}", "missing-id", "empty id")
            continue
        attrs = {a: _clean(row[col[a]]) for a in layout.attribute_columns}
        title = (row[col[title_column]].strip() if title_column else "") or ""
        image = Path(row[col[image_column]].strip()) if image_column and row[col[image_column]].strip() else None
        yield lineno, Record(rid, attrs, title, image)


def parse_csv(
    csv_path: str | Path,
    id_column: str = "id",
    title_column: str | None = "productDisplayName",
    attribute_columns: list[str] | None = None,
    image_column: str | None = None,
) -> CsvRows:
    """Parse rows: NA -> None, duplicate/missing ids and malformed rows skipped and counted."""
    layout = csv_layout(csv_path, id_column, title_column, attribute_columns, image_column)
    records, skipped, seen = [], [], set()
    for lineno, item in stream_rows(layout):
        if isinstance(item, Skip):
            skipped.append(item)
        elif item.id in seen:
            skipped.append(Skip(item.id, "duplicate-id", f"line {lineno} repeats an earlier id"))
        else:
            seen.add(item.id)
            records.append(item)
    return CsvRows(layout.header, records, skipped)


def read_csv_rows(csv_path, id_column: str = "id", title_column: str | None = "productDisplayName",
                  attribute_columns: list[str] | None = None) -> list[Record]:
    """Rows of a catalog CSV without images (e.g. items to generate photos for)."""
    return parse_csv(csv_path, id_column, title_column, attribute_columns).records


def _find_image(images_dir: Path, rec: Record) -> Path | None:
    if rec.image is not None:
        p = rec.image if rec.image.is_absolute() else images_dir / rec.image
        return p if p.exists() else None
    for suffix in IMAGE_SUFFIXES:
        p = images_dir / f"{rec.id}{suffix}"
        if p.exists():
            return p
    return None


def default_condition(attribute_columns: list[str], records: list[Record]) -> tuple[str, ...]:
    if all(c in attribute_columns for c in PREFERRED_CONDITION):
        return PREFERRED_CONDITION
    picks = []
    for c in attribute_columns:
        distinct = {r.attributes.get(c) for r in records} - {None}
        if 2 <= len(distinct) <= 200:
            picks.append(c)
        if len(picks) == 2:
            break
    return tuple(picks)


def read_csv_catalog(csv_path, images_dir, id_column: str = "id", title_column: str | None = "productDisplayName",
                     attribute_columns: list[str] | None = None, image_column: str | None = None) -> Catalog:
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    if not images_dir.is_dir():
        raise UserError(f"image folder {images_dir} not found; pass it with --images DIR (images named <id>.jpg).")
    parsed = parse_csv(csv_path, id_column, title_column, attribute_columns, image_column)
    attrs = list(parsed.records[0].attributes) if parsed.records else []
    records, skipped = [], list(parsed.skipped)
    h = hashlib.sha256(csv_path.read_bytes())
    h.update(repr((id_column, title_column, attrs, image_column)).encode())
    for rec in parsed.records:
        img = _find_image(images_dir, rec)
        if img is None:
            skipped.append(Skip(rec.id, "missing-file", f"no image for id {rec.id} in {images_dir}"))
            continue
        st = img.stat()
        h.update(f"{img.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        records.append(Record(rec.id, rec.attributes, rec.title, img))
    if not records:
        raise UserError(f"{csv_path}: none of the {len(parsed.records)} rows has an image in {images_dir} "
                        f"(expected files named <id>.jpg); check --images.")
    return Catalog(name=str(csv_path.parent if csv_path.name == "styles.csv" else csv_path), kind="csv", records=records,
                   attribute_columns=attrs, loader=lambda r: open_image(r.image), fingerprint=h.hexdigest(),
                   skipped=skipped, default_condition=default_condition(attrs, records))
