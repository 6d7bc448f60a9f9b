"""Smaller, faster models to serve: ONNX export and int8 quantisation of a generator's sampler
(``onnx_sampler``) and of a restoration run's networks (``onnx_restorer``); shared parts in ``onnx_runtime``."""

from pathlib import Path

from .onnx_restorer import OnnxRestorer, export_restorer
from .onnx_runtime import KIND, is_export, read_export
from .onnx_sampler import INT8_NAME, OnnxPipeline, export_onnx


def export_run(run_dir: str | Path, out: str | Path, quantize: str | None = None, calibration_n: int = 64,
               overwrite: bool = False, progress: bool = False) -> dict:
    """``prodgen export``: a generator run's sampler or a restoration run's networks, by the run's kind."""
    from ..runfolder import read_kind
    from ..runfiles import check_run_folder

    if (Path(run_dir) / "config.json").is_file() and read_kind(run_dir) == "restoration":
        return export_restorer(run_dir, out, quantize, calibration_n, overwrite, progress)
    return export_onnx(check_run_folder(run_dir), out, quantize, calibration_n, overwrite)


__all__ = ["INT8_NAME", "KIND", "OnnxPipeline", "OnnxRestorer", "export_onnx", "export_restorer", "export_run",
           "is_export", "read_export"]
