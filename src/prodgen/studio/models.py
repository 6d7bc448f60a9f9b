"""The models the studio offers: the generator run folders directly under ``--runs``, read without torch.

A model's id is its folder's name. Requests name a model by id and the id is looked up in this listing,
so a request can never make the server open a path of its choosing (``../x``, ``/etc``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..conditioning.shape_index import SHAPE_INDEX
from ..runfiles import CONFIG_NAME, TITLE_PRIOR_NAME, VOCAB_NAME, folder_kind

UNSPECIFIED = "<unspecified>"


def _describe(folder: Path) -> dict | None:
    if not (folder / "model.safetensors").is_file() or folder_kind(folder) != "generator":
        return None
    try:
        cfg = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        vocab = json.loads((folder / VOCAB_NAME).read_text(encoding="utf-8"))
        attributes = {a["name"]: [v for v in a["values"] if v != UNSPECIFIED] for a in vocab["attributes"]}
        merged = {a["name"]: list(a.get("merged", ())) for a in vocab["attributes"]}
        cond = cfg.get("condition") or {}
        return {"id": folder.name, "family": str(cfg["model"]), "resolution": int(cfg["data"]["resolution"]),
                "attributes": attributes, "merged": merged, "text": bool(cond.get("text")),
                "title_prior": (folder / TITLE_PRIOR_NAME).is_file(),  # a prompt picks attributes even without text
                "image_condition": (cfg.get("model_args") or {}).get("image_condition"),
                "shape_index": (folder / SHAPE_INDEX).is_file()}  # --sketch-snap is offered (`prodgen shape-index`)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged or half-written run is not offered (the CLI explains it when loaded directly)


def list_models(runs: Path) -> list[dict]:
    if not runs.is_dir():
        return []
    out = []
    for folder in sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")):
        d = _describe(folder)
        if d is not None:
            out.append(d)
    return out


def find_model(runs: Path, model_id: str) -> dict:
    for m in list_models(runs):
        if m["id"] == model_id:
            return m
    known = ", ".join(m["id"] for m in list_models(runs)) or "none: train one with `prodgen train --out RUNS/NAME`"
    raise UserError(f"unknown model {model_id!r}; the models under --runs are: {known}")


def run_path(runs: Path, model_id: str) -> Path:
    return runs / find_model(runs, model_id)["id"]


CLASSICAL = "classical"
RESTORATION_WEIGHTS = "restore.safetensors"  # apps.restore.network.WEIGHTS_NAME (not imported: that module needs torch)


def list_restorers(runs: Path) -> list[dict]:
    """The restoration runs (``prodgen enhance-train``) and their ONNX exports (``prodgen export``) directly under
    ``runs``: ``{"id", "tasks"}`` each."""
    if not runs.is_dir():
        return []
    out = []
    for folder in sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            d = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
            if d.get("kind") == "onnx-export" and d.get("family") == "restoration":  # `prodgen export` of one
                tasks = [str(t) for t in d["restore_config"]["tasks"]]
            elif (folder / RESTORATION_WEIGHTS).is_file() and folder_kind(folder) == "restoration":
                tasks = [str(t) for t in d["tasks"]]
            else:
                continue
        except (OSError, ValueError, KeyError, TypeError, AttributeError, UserError):
            continue
        out.append({"id": folder.name, "tasks": tasks})
    return out


def choose_restorer(runs: Path, requested: str | None, task: str) -> str:
    """The restoration run id for ``task`` (``requested``, else the first run that knows the task), or ``classical``."""
    found = list_restorers(runs)
    if requested == CLASSICAL:
        return CLASSICAL
    if requested is None:
        return next((r["id"] for r in found if task in r["tasks"]), CLASSICAL)
    match = next((r for r in found if r["id"] == requested), None)
    if match is None:
        known = ", ".join(r["id"] for r in found) or "none: train one with `prodgen enhance-train --out RUNS/NAME`"
        raise UserError(f"unknown restoration model {requested!r}; the restoration runs under --runs are: {known} "
                        f"(or {CLASSICAL!r} for the classical method)")
    if task not in match["tasks"]:
        raise UserError(f"restoration model {requested!r} was not trained for {task}; it knows {', '.join(match['tasks'])}")
    return requested


def canonical_attributes(model: dict, attrs: dict[str, str]) -> dict[str, str]:
    """The request's attribute values as the model spells them (case-insensitive); unknown names/values raise UserError."""
    out = {}
    for name, value in attrs.items():
        if name not in model["attributes"]:
            raise UserError(f"model {model['id']!r} has no attribute {name!r}; its attributes: {', '.join(model['attributes'])}")
        if value in (None, ""):
            continue
        choices = model["attributes"][name]
        match = next((c for c in choices if c.casefold() == str(value).casefold()), None)
        if match is None:
            if value in model["merged"].get(name, ()):
                raise UserError(f"{name}={value!r} was too rare in the training data and merged into 'other'; "
                                f"use other or one of: {', '.join(choices)}")
            raise UserError(f"unknown value {name}={value!r}; valid values: {', '.join(choices)}")
        out[name] = match
    return out


__all__ = ["CLASSICAL", "canonical_attributes", "choose_restorer", "find_model", "list_models", "list_restorers", "run_path"]
