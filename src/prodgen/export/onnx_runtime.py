"""What every ONNX export shares: the export folder's record, ONNX Runtime sessions, the graph export itself, int8
static quantisation and the check against PyTorch.

An *export folder* holds ONNX graphs and a ``config.json`` with ``"kind": "onnx-export"`` and ``"family"``: a
generator's sampler (``onnx_sampler``) or a restoration run's per-task networks (``onnx_restorer``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UserError

KIND = "onnx-export"


def session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session of ``path`` (``threads``: intra-op threads; None: ONNX Runtime's default)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def to_onnx(module: nn.Module, example: dict[str, np.ndarray], path: Path, output: str,
            dynamic: dict[str, dict] | None = None) -> None:
    """``module`` (inputs in ``example``'s order) as ONNX (dynamo exporter); the batch size free, and any other
    dimension ``dynamic`` names ({input: {dim: torch.export.Dim}})."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = {k: {0: batch, **(dynamic or {}).get(k, {})} for k in example}
    torch.onnx.export(module, tuple(torch.from_numpy(v) for v in example.values()), str(path), input_names=list(example),
                      output_names=[output], dynamic_shapes=shapes, dynamo=True, verbose=False)


def quantize_int8(fp32: Path, int8: Path, feeds: dict[str, np.ndarray], calibration_n: int,
                  op_types: list[str] | None = None, chunk: int = 8) -> None:
    """ONNX Runtime static quantisation (QDQ; int8 weights per channel, uint8 activations), calibrated on ``feeds``
    in chunks of ``chunk`` rows."""
    import tempfile

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.rows = iter([{k: v[i:i + chunk] for k, v in feeds.items()} for i in range(0, calibration_n, chunk)])

        def get_next(self):
            return next(self.rows, None)

    with tempfile.TemporaryDirectory(dir=fp32.parent) as tmp:
        single = Path(tmp) / "model.onnx"  # one file: the pre-processing copies it and would lose external weights
        onnx.save(onnx.load(str(fp32)), str(single))
        pre = Path(tmp) / "pre.onnx"
        # ONNX Runtime's symbolic shape inference does not get through the diffusers U-Net; ONNX's own does
        quant_pre_process(str(single), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(int8), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, op_types_to_quantize=op_types)


def max_error(path: Path, module: nn.Module, feeds: dict[str, np.ndarray]) -> float:
    """Largest absolute difference between ONNX Runtime's output of ``path`` and ``module``'s on ``feeds``."""
    with torch.no_grad():
        ref = module(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    got = session(path).run(None, feeds)[0]
    return float(np.abs(got - ref).max())


def model_bytes(path: Path) -> int:
    """An ONNX model's size on disk: the file and its external weights (``<name>.data``) if the exporter wrote them."""
    extra = path.with_name(path.name + ".data")
    return path.stat().st_size + (extra.stat().st_size if extra.exists() else 0)


def prepare_out(out: str | Path, overwrite: bool) -> Path:
    """An empty export folder ``out`` (an existing export only with ``overwrite``, then emptied)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"{out} exists and is not empty; choose another --out or add --overwrite")
        if not is_export(out):  # --overwrite replaces an export, never other files
            raise UserError(f"{out} is not an ONNX export; --overwrite only replaces exports. Choose a new or empty --out.")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def read_export(folder: str | Path, family: str | None = None) -> dict:
    """An export folder's config.json record (``family``: refuse any other family, saying what to use it with)."""
    folder = Path(folder)
    try:
        record = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{folder} is not an ONNX export (config.json unreadable: {e}); make one with "
                        "`prodgen export RUN --format onnx --out FOLDER`") from e
    if record.get("kind") != KIND:
        raise UserError(f"{folder} is not an ONNX export (config.json kind {record.get('kind')!r})")
    if family is not None and (record.get("family") == "restoration") != (family == "restoration"):
        use = ("`prodgen enhance --model` restores photos with it" if record.get("family") == "restoration"
               else "`prodgen generate` makes images with it")
        raise UserError(f"{folder} is an ONNX export of a {record.get('family')} run; {use}.")
    return record


def is_export(folder: str | Path) -> bool:
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


__all__ = ["KIND", "is_export", "max_error", "model_bytes", "prepare_out", "quantize_int8", "read_export", "session",
           "to_onnx"]
