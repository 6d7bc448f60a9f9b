"""A run's sampler as an ONNX model, optionally int8-quantised, and a pipeline that generates from it.

``export_onnx(run, out, quantize="int8")`` writes an *export folder*:

- ``sampler.onnx`` (+ ``sampler.onnx.data``, its weights): the GAN generator or the VAE decoder, ``(z, cond[, text]) -> images`` in [-1, 1], batch size
  free; exported with ``torch.onnx.export(dynamo=True)`` and checked against PyTorch on random inputs;
- ``sampler.int8.onnx`` (``--quantize int8``): ONNX Runtime static quantisation (QDQ, int8 weights per channel,
  uint8 activations) calibrated on ``calibration_n`` samples of the run's own conditions and noise;
- ``config.json`` (``"kind": "onnx-export"``, the source run's config, what was exported and how far it is from
  PyTorch), ``vocab.json``.

``OnnxPipeline.from_pretrained(folder)`` generates like ``Pipeline`` (same seeds, same latent noise, same
conditions and prompts) with ONNX Runtime, without the run's weights; ``prodgen generate FOLDER`` uses it.
Diffusion samplers (a U-Net called once per step) are not exported yet; the restoration networks neither.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..atomic import write_json
from ..errors import UserError
from ..sample.pipeline import Pipeline

KIND = "onnx-export"
FP32_NAME, INT8_NAME = "sampler.onnx", "sampler.int8.onnx"
FAMILIES = ("gan", "vae")


class _Sampler(nn.Module):
    """``(z, cond ids[, text]) -> images``: the graph that gets exported."""

    def __init__(self, pipe: Pipeline) -> None:
        super().__init__()
        self.model, self.net, self.text = pipe.model, pipe.net, pipe.text_encoder is not None

    def forward(self, z: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.generate_from_noise(z, cond, text if self.text else None, self.net)


def _inputs(pipe: Pipeline, n: int, seed: int) -> dict[str, np.ndarray]:
    """Calibration / check inputs: the run's latent noise and random valid attribute ids (and text vectors)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.cat([pipe.model.latent_noise(1, g) for _ in range(n)])
    cond = torch.stack([torch.randint(0, size, (n,), generator=g) for size in pipe.vocab.sizes], dim=1)
    feeds = {"z": z.numpy(), "cond": cond.numpy()}
    if pipe.text_encoder is not None:
        feeds["text"] = (torch.randn(n, pipe.model.config.text_dim, generator=g) * 0.1).numpy()
    return feeds


def _session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _max_error(path: Path, sampler: _Sampler, feeds: dict[str, np.ndarray]) -> float:
    with torch.no_grad():
        ref = sampler(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    got = _session(path).run(None, feeds)[0]
    return float(np.abs(got - ref).max())


def export_onnx(run_dir: str | Path, out: str | Path, quantize: str | None = None, calibration_n: int = 64,
                overwrite: bool = False) -> dict:
    """Export ``run_dir``'s sampler into the folder ``out``; returns what config.json records."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if quantize not in (None, "int8"):
        raise UserError(f"--quantize {quantize!r}: only int8 is supported (or leave it out for fp32)")
    pipe = Pipeline.from_pretrained(run_dir, device="cpu")
    if pipe.model.family not in FAMILIES:
        raise UserError(f"{run_dir} is a {pipe.model.family} run; ONNX export covers the one-pass samplers "
                        f"({', '.join(FAMILIES)}) so far: a diffusion sampler calls its U-Net once per step")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"{out} exists and is not empty; choose another --out or add --overwrite")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    sampler = _Sampler(pipe).eval()
    example = _inputs(pipe, 2, seed=0)
    names = list(example)
    batch = torch.export.Dim("batch", min=1, max=4096)
    args = tuple(torch.from_numpy(v) for v in example.values())
    torch.onnx.export(sampler, args, str(out / FP32_NAME), input_names=names, output_names=["images"],
                      dynamic_shapes={n: {0: batch} for n in names}, dynamo=True, verbose=False)
    check = _inputs(pipe, 8, seed=1)
    record = {"kind": KIND, "source_run": str(Path(run_dir).resolve()), "family": pipe.model.family,
              "resolution": pipe.model.resolution, "inputs": names, "weights_sha256": pipe.weights_hash,
              "files": {"fp32": FP32_NAME}, "max_abs_error_vs_torch": {"fp32": _max_error(out / FP32_NAME, sampler, check)},
              "run_config": pipe.config.to_dict()}
    if quantize == "int8":
        feeds = _inputs(pipe, calibration_n, seed=2)

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.rows = iter([{k: v[i:i + 8] for k, v in feeds.items()} for i in range(0, calibration_n, 8)])

            def get_next(self):
                return next(self.rows, None)

        pre = out / "sampler.pre.onnx"
        quant_pre_process(str(out / FP32_NAME), str(pre))
        quantize_static(str(pre), str(out / INT8_NAME), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
        pre.unlink()
        record["files"]["int8"] = INT8_NAME
        record["calibration_n"] = calibration_n
        record["max_abs_error_vs_torch"]["int8"] = _max_error(out / INT8_NAME, sampler, check)
    record["bytes"] = {v: model_bytes(out / f) for v, f in record["files"].items()}
    shutil.copy2(Path(run_dir) / "vocab.json", out / "vocab.json")
    write_json(out / "config.json", record)
    return record


class OnnxPipeline(Pipeline):
    """``Pipeline``'s conditions, prompts and seeds; images from ONNX Runtime instead of the PyTorch network."""

    def __init__(self, folder: Path, record: dict, variant: str, threads: int | None = None) -> None:
        from ..conditioning import Vocabulary
        from ..config import RunConfig
        from ..models import model_class

        config = RunConfig.from_dict(record["run_config"])
        vocab = Vocabulary.load(folder / "vocab.json")
        # the model object only supplies the latent noise rule and metadata; its (random) weights are never used
        model = model_class(config.model).from_args(config.model_args, vocab.sizes, config.data.resolution)
        super().__init__(model, vocab, config, folder, torch.device("cpu"), record["weights_sha256"])
        self.net = None  # no PyTorch network: vary, invert, best-of need the run folder
        self.record, self.variant = record, variant
        self.session = _session(folder / record["files"][variant], threads)

    @classmethod
    def from_pretrained(cls, folder: str | Path, variant: str | None = None, threads: int | None = None) -> OnnxPipeline:
        folder = Path(folder)
        record = read_export(folder)
        variant = variant or ("int8" if "int8" in record["files"] else "fp32")
        if variant not in record["files"]:
            raise UserError(f"{folder} has no {variant} model (it has: {', '.join(record['files'])})")
        return cls(folder, record, variant, threads)

    def generate_batch(self, cond: torch.Tensor, seeds: list[int], truncation: float = 1.0,
                       text: torch.Tensor | None = None, **sampling) -> torch.Tensor:
        if sampling:
            raise UserError(f"{', '.join(sampling)}: not options of a {self.model.family} sampler")
        if cond.shape[0] != len(seeds):
            raise ValueError("one seed per condition row")
        z = torch.cat([self.model.latent_noise(1, torch.Generator().manual_seed(int(s)), truncation) for s in seeds])
        feeds = {"z": z.numpy(), "cond": cond.cpu().numpy().astype(np.int64)}
        if "text" in self.record["inputs"]:
            t = text if text is not None else torch.zeros(len(seeds), self.model.config.text_dim)
            feeds["text"] = t.float().cpu().numpy()
        return torch.from_numpy(self.session.run(None, feeds)[0]).float()


def model_bytes(path: Path) -> int:
    """An ONNX model's size on disk: the file and its external weights (``<name>.data``) if the exporter wrote them."""
    extra = path.with_name(path.name + ".data")
    return path.stat().st_size + (extra.stat().st_size if extra.exists() else 0)


def read_export(folder: str | Path) -> dict:
    folder = Path(folder)
    try:
        record = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{folder} is not an ONNX export (config.json unreadable: {e}); make one with "
                        "`prodgen export RUN --format onnx --out FOLDER`") from e
    if record.get("kind") != KIND:
        raise UserError(f"{folder} is not an ONNX export (config.json kind {record.get('kind')!r})")
    return record


def is_export(folder: str | Path) -> bool:
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


__all__ = ["FP32_NAME", "INT8_NAME", "KIND", "OnnxPipeline", "export_onnx", "is_export", "read_export"]
