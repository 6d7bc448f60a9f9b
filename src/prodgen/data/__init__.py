"""Catalog readers, preprocessing cache, splits and validation."""

from .cache import ImageTensors, default_cache_dir, prepare_images, prepare_title_embeddings
from .catalog import Catalog, Record, Skip
from .csv_catalog import read_csv_rows
from .images import ImageError
from .inspect import InspectReport, inspect_catalog
from .load import load_catalog
from .split import assign_split, make_split

__all__ = ["Catalog", "ImageError", "ImageTensors", "InspectReport", "Record", "Skip", "assign_split", "default_cache_dir",
           "inspect_catalog", "load_catalog", "make_split", "prepare_images", "prepare_title_embeddings", "read_csv_rows"]
