"""The JSON files of a run folder, read with errors that name the file, the problem and the fix.

A generator run folder (``prodgen train``) holds ``config.json`` (a ``RunConfig``),
``vocab.json``, ``split.json`` and ``model.safetensors``; other kinds of prodgen
folders (restoration models, ProductNets) are told apart by ``runfolder.py``. Every
command that loads a run checks it here first, so a missing or damaged file ends in
one clear message (which file, what is wrong, what to do) instead of a traceback.

Low layer: imports nothing of prodgen but errors and runfolder (which kind of run a folder holds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import UserError
from .runfolder import read_kind, require_kind

CONFIG_NAME = "config.json"
VOCAB_NAME = "vocab.json"
SPLIT_NAME = "split.json"
TITLE_PRIOR_NAME = "title_prior.safetensors"  # optional: title -> attribute values (conditioning/title_prior.py)
TITLE_PRIOR_INFO = "title_prior.json"
SPLITS = ("train", "val", "test")
PRODUCTNET_NAME = "productnet.json"
WEIGHTS_NAME = "model.safetensors"
STATE_NAME = "training_state.pt"
RUN_KEYS = {"model", "data", "condition", "train"}  # the keys of a RunConfig that mark a generative run


def restore_hint(path: Path) -> str:
    """What to do about a missing or damaged file of a run folder."""
    return (f"restore {path.name} from a copy of the run, or train the run again "
            f"(`prodgen train ... --out {path.parent} --overwrite`)")


def read_json(path: str | Path, fix: str | None = None) -> Any:
    """Parse a JSON file; missing, unreadable or malformed files raise a UserError naming the file and ``fix``."""
    path = Path(path)
    fix = fix or restore_hint(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a JSON file; {fix}.")
    if not path.is_file():
        raise UserError(f"{path} is missing; {fix}.")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is damaged (not UTF-8 text: {e.reason} at byte {e.start}); {fix}.") from e
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is damaged (not valid JSON: {e.msg}, line {e.lineno} column {e.colno}); {fix}.") from e
    except OSError as e:
        raise UserError(f"cannot read {path} ({e.strerror}); {fix}.") from e


def damaged(path: Path, detail: str) -> UserError:
    return UserError(f"{path} is damaged ({detail}); {restore_hint(path)}.")


def _has_run_files(folder: Path) -> bool:
    """The files ``prodgen train`` writes beside config.json: a run even when config.json is damaged or gone."""
    return (folder / VOCAB_NAME).is_file() and any((folder / n).is_file() for n in (WEIGHTS_NAME, STATE_NAME, SPLIT_NAME))


def folder_kind(folder: str | Path) -> str | None:
    """'generator', 'productnet', 'restoration' (runfolder.py's kinds), or None when the folder holds no prodgen run.

    Stricter than ``runfolder.read_kind`` for generator runs, because ``train --overwrite`` deletes what this
    calls a run: its config.json must carry a RunConfig's keys (a stray config.json of another program does not
    make a folder a run). A damaged config.json beside a run's other files still counts as a (damaged) run.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    try:
        kind = read_kind(folder)
    except UserError:  # config.json damaged or missing
        return "generator" if _has_run_files(folder) else None
    if kind != "generator":
        return kind
    try:
        d = json.loads((folder / CONFIG_NAME).read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return "generator" if isinstance(d, dict) and RUN_KEYS <= set(d) else None


def check_run_folder(run_dir: str | Path, split: bool = False) -> Path:
    """Fail with a clear message unless ``run_dir`` is a loadable generator run (and has a valid split.json)."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"run folder {run_dir} does not exist; train one with `prodgen train --out {run_dir}` "
                        "(or check the path).")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is a file, not a run folder; give the folder `prodgen train --out` wrote.")
    if not (run_dir / CONFIG_NAME).is_file() and _has_run_files(run_dir):
        raise UserError(f"{run_dir / CONFIG_NAME} is missing; {restore_hint(run_dir / CONFIG_NAME)}.")
    if not (run_dir / CONFIG_NAME).is_file() and not (run_dir / PRODUCTNET_NAME).is_file():
        raise UserError(f"{run_dir} is not a prodgen run folder (no {CONFIG_NAME}); give the folder `prodgen train --out` "
                        "wrote (e.g. runs/NNNNN-gan-...).")
    if (run_dir / CONFIG_NAME).is_file():
        read_json(run_dir / CONFIG_NAME)  # a damaged config.json: which file, and what to do
    require_kind(run_dir, "generator")  # another kind of run: what it is and what it is for
    d = read_json(run_dir / CONFIG_NAME)
    if not isinstance(d, dict) or not RUN_KEYS <= set(d):
        raise UserError(f"{run_dir / CONFIG_NAME} is not the config of a prodgen run (it lacks "
                        f"{', '.join(sorted(RUN_KEYS - set(d) if isinstance(d, dict) else RUN_KEYS))}); give the folder "
                        "`prodgen train --out` wrote.")
    read_vocab_dict(run_dir)
    if split:
        read_split(run_dir)
    return run_dir


def read_vocab_dict(run_dir: str | Path) -> dict:
    """The run's vocab.json, its structure checked: {"attributes": [{"name": str, "values": [str, ...]}, ...]}."""
    path = Path(run_dir) / VOCAB_NAME
    d = read_json(path)
    attrs = d.get("attributes") if isinstance(d, dict) else None
    if not isinstance(attrs, list) or not attrs:
        raise damaged(path, "no 'attributes' list")
    names = set()
    for k, a in enumerate(attrs):
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise damaged(path, f"attribute {k} has no name")
        values = a.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise damaged(path, f"attribute {a['name']!r} has no list of values")
        if len(set(values)) != len(values):
            raise damaged(path, f"attribute {a['name']!r} lists a value twice")
        if not isinstance(a.get("merged", []), list):
            raise damaged(path, f"attribute {a['name']!r}: 'merged' is not a list")
        if a["name"] in names:
            raise damaged(path, f"attribute {a['name']!r} appears twice")
        names.add(a["name"])
    return d


def read_split(run_dir: str | Path) -> dict[str, list[str]]:
    """The run's split.json: {"train": [ids], "val": [ids], "test": [ids]}, checked."""
    path = Path(run_dir) / SPLIT_NAME
    d = read_json(path)
    if not isinstance(d, dict):
        raise damaged(path, "expected an object with train, val and test id lists")
    for name in SPLITS:
        ids = d.get(name)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise damaged(path, f"{name!r} is not a list of ids")
    return {name: list(d[name]) for name in d}


__all__ = ["CONFIG_NAME", "SPLIT_NAME", "VOCAB_NAME", "check_run_folder", "damaged", "folder_kind", "read_json",
           "read_split", "read_vocab_dict", "restore_hint"]
