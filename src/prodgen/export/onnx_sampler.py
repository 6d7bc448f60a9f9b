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
A diffusion run exports two graphs instead, ``embed.onnx`` and the U-Net step as ``sampler.onnx`` (+ int8); the
scheduler loop (diffusers, steps, guidance) stays in Python around them. The restoration networks: ``onnx_restorer``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..atomic import write_json
from ..conditioning.title_prior import PRIOR_FILES
from ..errors import UserError
from ..sample.pipeline import Pipeline
from .onnx_runtime import KIND, is_export, max_error, model_bytes, prepare_out, quantize_int8, read_export, session, to_onnx

FP32_NAME, INT8_NAME = "sampler.onnx", "sampler.int8.onnx"
EMBED_NAME = "embed.onnx"  # diffusion: condition ids [+ text] -> condition vector (once per image)
FAMILIES = ("gan", "vae", "diffusion")


class _Embed(nn.Module):
    def __init__(self, net: nn.Module, text: bool) -> None:
        super().__init__()
        self.net, self.text = net, text

    def forward(self, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        return self.net.embed(cond, text if self.text else None)


class _Denoise(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, t: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.net.denoise(x, t, emb)


class _OrtDiffusionNet:
    """The two calls a diffusion sampler makes of its network, answered by ONNX Runtime: the PyTorch scheduler
    loop (``ConditionalDiffusion.generate_from_embedding``) runs unchanged around them."""

    def __init__(self, embed, denoise) -> None:
        self._embed, self._denoise = embed, denoise
        self._device_marker = torch.zeros(1)

    def parameters(self):
        yield self._device_marker  # "the device": the CPU

    def embed(self, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        feeds = {"cond": cond.cpu().numpy().astype(np.int64)}
        wants = {i.name: i for i in self._embed.get_inputs()}
        if "text" in wants:  # no text: the all-zero rows, which the embedding maps to its learned "no text" vector
            width = wants["text"].shape[1]
            feeds["text"] = (text.float().cpu().numpy() if text is not None
                             else np.zeros((cond.shape[0], int(width)), dtype=np.float32))
        return torch.from_numpy(self._embed.run(None, feeds)[0])

    def denoise(self, x: torch.Tensor, t: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        feeds = {"x": x.float().cpu().numpy(), "t": t.cpu().numpy().astype(np.int64), "emb": emb.float().cpu().numpy()}
        return torch.from_numpy(self._denoise.run(None, feeds)[0])


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


def _diffusion_inputs(pipe: Pipeline, n: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(embed feeds, denoise feeds) of ``n`` samples: the run's conditions, noisy images at random timesteps."""
    base = _inputs(pipe, n, seed)
    g = torch.Generator().manual_seed(seed + 1)
    embed_feeds = {k: v for k, v in base.items() if k != "z"}
    with torch.no_grad():
        emb = _Embed(pipe.net, pipe.text_encoder is not None)(*(torch.from_numpy(v) for v in embed_feeds.values()))
    r = pipe.model.resolution
    x = torch.randn(n, 3, r, r, generator=g)
    t = torch.randint(0, pipe.model.config.train_timesteps, (n,), generator=g)
    return embed_feeds, {"x": x.numpy(), "t": t.numpy(), "emb": emb.numpy()}


def export_onnx(run_dir: str | Path, out: str | Path, quantize: str | None = None, calibration_n: int = 64,
                overwrite: bool = False) -> dict:
    """Export ``run_dir``'s sampler into the folder ``out``; returns what config.json records.

    GAN/VAE: one graph, the whole sampler. Diffusion: ``embed.onnx`` and the U-Net step as ``sampler.onnx``; the
    scheduler loop stays in Python (``OnnxPipeline``)."""
    if quantize not in (None, "int8"):
        raise UserError(f"--quantize {quantize!r}: only int8 is supported (or leave it out for fp32)")
    pipe = Pipeline.from_pretrained(run_dir, device="cpu")
    if pipe.model.family not in FAMILIES:
        raise UserError(f"{run_dir} is a {pipe.model.family} run; ONNX export covers {', '.join(FAMILIES)}")
    if pipe.model.family == "diffusion" and pipe.model.config.objective != "diffusion":
        what = "a flow-matching" if pipe.model.config.objective == "flow" else "an EDM"
        raise UserError(f"{run_dir} is {what} run, whose network takes fractional timesteps; ONNX export covers "
                        "diffusion-objective runs so far. Serve it with PyTorch (`prodgen generate`).")
    if pipe.image_condition:
        raise UserError(f"{run_dir} draws from {pipe.image_condition} maps, which ONNX export does not cover yet; "
                        "generate from the run folder itself (`prodgen generate RUN --sketch ...`).")
    if pipe.model.family == "diffusion" and pipe.model.config.latent:
        raise UserError(f"{run_dir} is a latent diffusion run (it samples through its autoencoder's decoder), which "
                        "ONNX export does not cover yet; generate from the run folder itself.")
    out = prepare_out(out, overwrite)
    record = {"kind": KIND, "source_run": str(Path(run_dir).resolve()), "family": pipe.model.family,
              "resolution": pipe.model.resolution, "weights_sha256": pipe.weights_hash, "files": {"fp32": FP32_NAME},
              "run_config": pipe.config.to_dict()}
    if pipe.model.family == "diffusion":
        embed_example = _diffusion_inputs(pipe, 2, seed=0)[0]
        to_onnx(_Embed(pipe.net, pipe.text_encoder is not None).eval(), embed_example, out / EMBED_NAME, "emb")
        main, output, op_types = _Denoise(pipe.net).eval(), "pred", ["Conv"]
        # convolutions only: a weight the U-Net's attention shares between two MatMuls is refused by the quantiser

        def feeds(n: int, seed: int) -> dict[str, np.ndarray]:
            return _diffusion_inputs(pipe, n, seed)[1]

        record.update(embed=EMBED_NAME, inputs=list(embed_example), error_is_of="one U-Net step's prediction")
    else:
        main, output, op_types = _Sampler(pipe).eval(), "images", None

        def feeds(n: int, seed: int) -> dict[str, np.ndarray]:
            return _inputs(pipe, n, seed)

        record["inputs"] = list(feeds(1, 0))
    to_onnx(main, feeds(2, 0), out / FP32_NAME, output)
    check = feeds(8, 1)
    record["max_abs_error_vs_torch"] = {"fp32": max_error(out / FP32_NAME, main, check)}
    if quantize == "int8":
        quantize_int8(out / FP32_NAME, out / INT8_NAME, feeds(calibration_n, 2), calibration_n, op_types)
        record["files"]["int8"] = INT8_NAME
        record["calibration_n"] = calibration_n
        record["max_abs_error_vs_torch"]["int8"] = max_error(out / INT8_NAME, main, check)
        if op_types:
            record["quantized_ops"] = op_types
    shared = model_bytes(out / EMBED_NAME) if (out / EMBED_NAME).exists() else 0
    record["bytes"] = {v: model_bytes(out / f) + shared for v, f in record["files"].items()}
    shutil.copy2(Path(run_dir) / "vocab.json", out / "vocab.json")
    for name in PRIOR_FILES:  # the title prior travels with the model: a prompt picks attributes in the export too
        if (Path(run_dir) / name).exists():
            shutil.copy2(Path(run_dir) / name, out / name)
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
        self.record, self.variant = record, variant
        self.session = session(folder / record["files"][variant], threads)
        # no PyTorch network: vary, invert, best-of need the run folder; a diffusion export answers the sampler's
        # two calls (embed, denoise) from ONNX Runtime
        self.net = (_OrtDiffusionNet(session(folder / record["embed"], threads), self.session)
                    if record["family"] == "diffusion" else None)

    @classmethod
    def from_pretrained(cls, folder: str | Path, variant: str | None = None, threads: int | None = None) -> OnnxPipeline:
        folder = Path(folder)
        record = read_export(folder, family="generator")
        variant = variant or ("int8" if "int8" in record["files"] else "fp32")
        if variant not in record["files"]:
            raise UserError(f"{folder} has no {variant} model (it has: {', '.join(record['files'])})")
        return cls(folder, record, variant, threads)

    def generate_batch(self, cond: torch.Tensor, seeds: list[int], truncation: float = 1.0,
                       text: torch.Tensor | None = None, **sampling) -> torch.Tensor:
        if self.record["family"] == "diffusion":  # the PyTorch scheduler loop around ONNX Runtime's U-Net step
            return super().generate_batch(cond, seeds, truncation, text, **sampling)
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


__all__ = ["FP32_NAME", "INT8_NAME", "KIND", "OnnxPipeline", "export_onnx", "is_export", "read_export"]
