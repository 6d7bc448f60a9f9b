"""A restoration run's per-task networks as ONNX models, optionally int8-quantised, and a restorer that runs them.

``export_restorer(run, out, quantize="int8")`` writes an export folder (``"family": "restoration"``):

- ``restore-<task>.onnx`` for each task the run learned (upscale2, denoise, ...): ``planes (B, 7, H, W) ->
  restored (B, 3, H, W)`` in [0, 1], the batch size and the tile size free (H, W multiples of 16), so the same
  tiling that bounds memory in PyTorch (``apps.restore.inference``) runs unchanged around it;
- ``restore-<task>.int8.onnx`` (``--quantize int8``): ONNX Runtime static quantisation calibrated on
  ``calibration_n`` validation photos of the run's own catalog, degraded as in training (never test photos);
- ``config.json``: the run's restoration settings (tasks, widths), what was exported, and the largest difference
  from PyTorch on 4 random 96 x 128 inputs.

``load_restorer(EXPORT)`` (``apps.restore.network``) returns an ``OnnxRestorer``, so ``prodgen enhance --model
EXPORT``, the studio's restore jobs and the evaluation use it like the PyTorch network.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_json
from ..errors import UserError
from .onnx_runtime import KIND, max_error, model_bytes, prepare_out, quantize_int8, read_export, session, to_onnx

FAMILY = "restoration"
CHECK_SHAPE = (4, 7, 96, 128)  # random planes the export is checked on (not square: catches a swapped H/W)


def file_name(task: str, variant: str) -> str:
    return f"restore-{task}.onnx" if variant == "fp32" else f"restore-{task}.{variant}.onnx"


def calibration_planes(run_dir: Path, task: str, n: int, progress: bool = False) -> np.ndarray:
    """(n, 7, R, R) input planes of ``task`` from the run catalog's validation photos, degraded as in training."""
    from ..apps.restore.evaluation import VAL_SEED, catalog_splits, network_input, split_photos
    from ..apps.restore.baselines import observe_set
    from ..apps.restore.network import read_config
    from ..config import DataConfig

    cfg, extra = read_config(run_dir)
    if "data" not in extra:
        raise UserError(f"{run_dir}/config.json records no catalog; int8 calibration needs the photos the run was "
                        "trained on. Export without --quantize, or retrain with `prodgen enhance-train`.")
    _, tensors, split = catalog_splits(DataConfig(**extra["data"]), cfg.resolution, progress)
    clean = split_photos(tensors, split, "val", n)
    if len(clean) < min(n, 8):
        raise UserError(f"the run's catalog has only {len(clean)} validation photos; int8 calibration needs at least 8")
    obs, mask = observe_set(clean, task, "seen", VAL_SEED + 1)  # not the seed that chose the weights
    return network_input(task, obs, mask).numpy().astype(np.float32)


def export_restorer(run_dir: str | Path, out: str | Path, quantize: str | None = None, calibration_n: int = 64,
                    overwrite: bool = False, progress: bool = False) -> dict:
    """Export every task network of the restoration run ``run_dir`` into ``out``; returns the config.json record."""
    from ..apps.restore.network import load_restorer

    if quantize not in (None, "int8"):
        raise UserError(f"--quantize {quantize!r}: only int8 is supported (or leave it out for fp32)")
    run_dir = Path(run_dir)
    net = load_restorer(run_dir)  # a clear error when it is no restoration run
    out = prepare_out(out, overwrite)
    h, w = torch.export.Dim("h16", min=4, max=1024), torch.export.Dim("w16", min=4, max=1024)
    dynamic = {"planes": {2: 16 * h, 3: 16 * w}}  # tiles are multiples of 16 px (apps.restore.network.ALIGN)
    check = {"planes": torch.rand(*CHECK_SHAPE, generator=torch.Generator().manual_seed(0)).numpy()}
    variants = ["fp32"] + ([quantize] if quantize else [])
    record: dict = {"kind": KIND, "family": FAMILY, "source_run": str(run_dir.resolve()),
                    "restore_config": dataclasses.asdict(net.cfg), "inputs": ["planes"],
                    "files": {v: {} for v in variants}, "max_abs_error_vs_torch": {v: {} for v in variants},
                    "error_is_of": f"restored pixels in [0, 1] on random planes {list(CHECK_SHAPE)}"}
    for task in net.cfg.tasks:
        module = net.nets[task].eval()
        fp32 = out / file_name(task, "fp32")
        to_onnx(module, check, fp32, "restored", dynamic)
        record["files"]["fp32"][task] = fp32.name
        record["max_abs_error_vs_torch"]["fp32"][task] = max_error(fp32, module, check)
        if quantize == "int8":
            q = out / file_name(task, "int8")
            quantize_int8(fp32, q, {"planes": calibration_planes(run_dir, task, calibration_n, progress)},
                          calibration_n)
            record["files"]["int8"][task] = q.name
            record["max_abs_error_vs_torch"]["int8"][task] = max_error(q, module, check)
    if quantize:
        record["calibration_n"] = calibration_n
    record["bytes"] = {v: sum(model_bytes(out / f) for f in files.values()) for v, files in record["files"].items()}
    write_json(out / "config.json", record)
    return record


class OnnxRestorer:
    """The calls the restoration code makes of a ``RestoreNet`` (``cfg``, ``device``, ``eval()``,
    ``net(planes, task_index)``), answered by ONNX Runtime."""

    def __init__(self, folder: str | Path, variant: str | None = None, threads: int | None = None) -> None:
        from ..apps.restore.network import RestoreConfig

        folder = Path(folder)
        self.record = read_export(folder, family=FAMILY)
        self.variant = variant or ("int8" if "int8" in self.record["files"] else "fp32")
        if self.variant not in self.record["files"]:
            raise UserError(f"{folder} has no {self.variant} models (it has: {', '.join(self.record['files'])})")
        self.cfg = RestoreConfig(**self.record["restore_config"])
        self.folder, self.threads = folder, threads
        self._sessions: dict[str, object] = {}  # opened on first use: one task's network per call of enhance

    device = torch.device("cpu")

    def eval(self) -> OnnxRestorer:
        return self

    def session_of(self, task: str):
        if task not in self._sessions:
            path = self.folder / self.record["files"][self.variant][task]
            if not path.is_file():
                raise UserError(f"{path} is missing from the export; export the run again with `prodgen export`.")
            self._sessions[task] = session(path, self.threads)
        return self._sessions[task]

    def __call__(self, planes: torch.Tensor, task: int) -> torch.Tensor:
        name = self.cfg.tasks[task]
        res = self.session_of(name).run(None, {"planes": planes.float().cpu().contiguous().numpy()})[0]
        return torch.from_numpy(res)


__all__ = ["FAMILY", "OnnxRestorer", "calibration_planes", "export_restorer", "file_name"]
