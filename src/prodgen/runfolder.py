"""What kind of run a folder holds, and a clear refusal when it is the wrong one.

Every run folder's ``config.json`` records ``"kind"``:

- ``"generator"``: ``prodgen train`` (GAN/VAE/diffusion); a config.json without
  ``kind`` (runs made before the field existed) is a generator run;
- ``"productnet"``: ``prodgen features fit`` (the feature extractor); older
  ProductNet folders have no config.json, only ``productnet.json``;
- ``"restoration"``: ``prodgen enhance-train``; older ones wrote ``"prodgen-restore"``.

``require_kind(folder, "generator", "prodgen generate")`` is what loaders call.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import UserError

CONFIG_NAME = "config.json"
KINDS = ("generator", "productnet", "restoration")
LEGACY_KINDS = {"prodgen-restore": "restoration"}
MADE_BY = {
    "generator": "a generator run made by `prodgen train`",
    "productnet": "a ProductNet (feature extractor) made by `prodgen features fit`",
    "restoration": "a restoration model made by `prodgen enhance-train`",
}
USE_WITH = {
    "generator": "use it with `prodgen generate`, `evaluate`, `report`, `vary` or `train --resume`",
    "productnet": "pass it as `--features` to `prodgen evaluate` or `compare`",
    "restoration": "pass it as `--model` to `prodgen enhance`",
}


def read_kind(folder: str | Path) -> str:
    """The kind of run in ``folder`` (see the module docstring); UserError when it is no prodgen run folder."""
    folder = Path(folder)
    cfg = folder / CONFIG_NAME
    if cfg.is_file():
        try:
            d = json.loads(cfg.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{cfg} is not valid JSON ({e}); restore it from a backup or retrain.") from e
        kind = d.get("kind", "generator") if isinstance(d, dict) else None
        kind = LEGACY_KINDS.get(kind, kind)
        if kind not in KINDS:
            raise UserError(f"{cfg} records kind {kind!r}, which this prodgen does not know (known: {', '.join(KINDS)}).")
        return kind
    if (folder / "productnet.json").is_file():
        return "productnet"
    if not folder.exists():
        raise UserError(f"{folder} does not exist.")
    raise UserError(f"{folder} is not a prodgen run folder (it holds no {CONFIG_NAME}).")


def require_kind(folder: str | Path, kind: str, what_for: str | None = None) -> None:
    """Refuse ``folder`` unless it holds a run of ``kind``, saying what it is and what it is for."""
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}; known: {KINDS}")
    found = read_kind(folder)
    if found != kind:
        needs = f"{what_for} needs {MADE_BY[kind]}" if what_for else f"this needs {MADE_BY[kind]}"
        raise UserError(f"{folder} holds {MADE_BY[found]}, but {needs}; {USE_WITH[found]}.")


__all__ = ["CONFIG_NAME", "KINDS", "read_kind", "require_kind"]
