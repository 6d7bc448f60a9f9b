"""``load_catalog(DataConfig)``: pick the reader from what the path holds."""

from __future__ import annotations

from pathlib import Path

from ..config import DataConfig
from ..errors import UserError
from .catalog import Catalog
from .csv_catalog import read_csv_catalog
from .synthetic import synthetic_catalog


def load_catalog(cfg: DataConfig) -> Catalog:
    if cfg.catalog == "synthetic":
        return synthetic_catalog(cfg.synthetic_size, cfg.synthetic_seed)
    path = Path(cfg.catalog).expanduser()
    if not path.exists():
        raise UserError(f"catalog path {path} does not exist; pass a folder with styles.csv and images/, class folders, "
                        "IDX files, or 'synthetic'.")
    kw = dict(id_column=cfg.id_column, title_column=cfg.title_column, attribute_columns=cfg.attribute_columns,
              image_column=cfg.image_column)
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_csv_catalog(path, Path(cfg.images) if cfg.images else path.parent / "images", **kw)
    if path.is_dir():
        csvs = [path / "styles.csv"] if (path / "styles.csv").exists() else sorted(path.glob("*.csv"))
        if len(csvs) == 1:
            return read_csv_catalog(csvs[0], Path(cfg.images) if cfg.images else path / "images", **kw)
        if len(csvs) > 1:
            names = ", ".join(c.name for c in csvs[:5]) + (", ..." if len(csvs) > 5 else "")
            raise UserError(f"{path} holds {len(csvs)} CSV files ({names}) and no styles.csv, so the catalog is ambiguous; "
                            f"pass the one you mean, e.g. --catalog {csvs[0]} --images {path / 'images'}, "
                            "or rename it to styles.csv.")
        from .idx_catalog import find_idx_files, read_idx_catalog  # noqa: PLC0415

        if find_idx_files(path):
            return read_idx_catalog(path)
        from .folder_catalog import looks_like_class_folders, read_folder_catalog  # noqa: PLC0415

        if looks_like_class_folders(path):
            _refuse_lone_images_folder(path)
            return read_folder_catalog(path)
        raise UserError(f"{path}: found no catalog. Looked for styles.csv (or one *.csv) with images/, "
                        "IDX files (*-images-idx3-ubyte[.gz]) and class folders (<class>/*.jpg).")
    if path.is_file() and ("idx" in path.name):
        from .idx_catalog import read_idx_catalog  # noqa: PLC0415

        return read_idx_catalog(path)
    raise UserError(f"{path} is not a catalog: expected a folder, a .csv file, an IDX file, or 'synthetic'.")


def _refuse_lone_images_folder(path: Path) -> None:
    """``root/images/*.jpg`` and nothing else is a CSV catalog without its CSV, not one class called "images"."""
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if [p.name for p in subdirs] == ["images"]:
        raise UserError(f"{path} holds an images/ folder but no styles.csv, so there are no attributes to condition on "
                        "(read as class folders it would be one class called 'images'). Add "
                        f"{path / 'styles.csv'} (an id column matching the file names, plus attribute columns such as "
                        f"articleType,baseColour), or pass a CSV with --catalog rows.csv --images {path / 'images'}, "
                        f"or sort the photos into class folders ({path}/<class>/*.jpg).")
