"""The one interface every model family implements, and the registry of families.

The Trainer and the samplers rely only on this:

- ``phases``: training phases run in order each step (a GAN has ``("d", "g")``,
  a VAE ``("vae",)``), each with its own optimiser over ``phase_parameters(p)``;
- ``loss(phase, images, cond, text) -> {"loss": scalar to backpropagate, ...logged terms}``;
- ``sampling_net()``: the sub-module that generates (EMA'd by the Trainer);
- ``latent_noise(n, generator, truncation)``: its seeded input noise;
- ``generate_from_noise(z, cond, text, net, **sampling)``: one network call for
  GAN/VAE decoders, a scheduler loop for diffusion;
- ``sample(n, cond, generator, truncation, net, text, **sampling) -> images in [-1, 1]`` (shared);
- ``text``: optional (B, text_dim) title/prompt vectors (all-zero row: no text);
- ``save_pretrained(dir)`` / ``from_pretrained(dir)``: ``model.safetensors`` whose
  metadata holds the model spec (family, resolved config, condition sizes,
  resolution), so the file alone rebuilds the network; nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..atomic import write_bytes
from ..config import build_dataclass, saved_model_args
from ..errors import UserError
from ..resolution import check_resolution

WEIGHTS_NAME = "model.safetensors"
EMA_NAME = "ema.safetensors"

_REGISTRY: dict[str, type[GenerativeModel]] = {}


def register_model(name: str) -> Callable[[type[GenerativeModel]], type[GenerativeModel]]:
    def deco(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        cls.family = name
        _REGISTRY[name] = cls
        return cls

    return deco


def list_models() -> list[str]:
    _import_families()
    return sorted(_REGISTRY)


def model_class(name: str) -> type[GenerativeModel]:
    _import_families()
    if name not in _REGISTRY:
        raise UserError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def _import_families() -> None:
    from . import autoencoder, diffusion, gan, pix2pix, vae  # noqa: F401  (registration side effect)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a network before loading its weights."""

    family: str
    config: dict[str, Any]
    cond_sizes: tuple[int, ...]  # vocabulary size of each conditioning attribute (id 0 = unspecified)
    resolution: int


class GenerativeModel(nn.Module):
    family: ClassVar[str]
    config_class: ClassVar[type]
    phases: ClassVar[tuple[str, ...]]
    generates: ClassVar[bool] = True  # False: a first stage (the autoencoder), whose sample grids are reconstructions

    def __init__(self, config: Any, cond_sizes: list[int] | tuple[int, ...], resolution: int) -> None:
        super().__init__()
        check_resolution(resolution, "resolution")
        self.config = config
        self.cond_sizes = tuple(int(s) for s in cond_sizes)
        self.resolution = resolution

    # -- construction --------------------------------------------------------
    @classmethod
    def from_args(cls, args: dict[str, Any], cond_sizes: list[int], resolution: int) -> GenerativeModel:
        return cls(build_dataclass(cls.config_class, dict(args), "model_args"), cond_sizes, resolution)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.family, dataclasses.asdict(self.config), self.cond_sizes, self.resolution)

    # -- the training/sampling contract (implemented by each family) ----------
    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        raise NotImplementedError

    def graph_parameters(self, phase: str) -> list[nn.Parameter]:
        """Parameters of other phases that ``phase``'s loss runs with their graph kept for a later phase (the Trainer
        leaves them trainable in it). None by default."""
        return []

    def optimizer_settings(self, phase: str) -> dict[str, Any]:
        """Keyword arguments for ``torch.optim.Adam`` of ``phase`` (lr, betas)."""
        raise NotImplementedError

    def loss(self, phase: str, images: torch.Tensor, cond: torch.Tensor,
             text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @property
    def text_dim(self) -> int:
        """Size of the title/prompt vector the model is conditioned on (0: none)."""
        return int(getattr(self.config, "text_dim", 0) or 0)

    def sampling_net(self) -> nn.Module:
        """The sub-module that generates: ``net(z, cond) -> images in [-1, 1]`` (EMA'd by the Trainer)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(
        self,
        n: int,
        cond: torch.Tensor,
        generator: torch.Generator | None = None,
        truncation: float = 1.0,
        net: nn.Module | None = None,
        text: torch.Tensor | None = None,
        **sampling: Any,
    ) -> torch.Tensor:
        """``n`` images (B, 3, R, R) in [-1, 1] for (n, A) condition ids [and (n, T) text vectors].

        Noise is drawn on the CPU from ``generator``; ``sampling`` holds family options
        (a diffusion model's ``steps`` and ``guidance``).
        """
        self.check_cond(cond, n)
        z = self.latent_noise(n, generator, truncation)
        return self.generate_from_noise(z, cond, text, net, **sampling)

    @torch.no_grad()
    def generate_from_noise(self, z: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None,
                            net: nn.Module | None = None, **sampling: Any) -> torch.Tensor:
        """Images from given input noise and condition ids [and text]."""
        net = net if net is not None else self.sampling_net()
        return self.generate_from_embedding(z, self.embed_condition(cond, text, net), net, **sampling)

    def embed_condition(self, cond: torch.Tensor, text: torch.Tensor | None = None,
                        net: nn.Module | None = None) -> torch.Tensor:
        """(B, D) condition vector the network consumes: attribute embeddings (+ projected text).

        Mixing two of these is how variations interpolate between conditions.
        """
        net = net if net is not None else self.sampling_net()
        device = next(net.parameters()).device
        return net.embed(cond.to(device), self.check_text(text, cond.shape[0], device))

    @torch.no_grad()
    def generate_from_embedding(self, z: torch.Tensor, emb: torch.Tensor, net: nn.Module | None = None,
                                **sampling: Any) -> torch.Tensor:
        """Images from noise and a condition vector (one-shot decoders: ``net.decoder(z, emb)``)."""
        if sampling:
            raise UserError(f"{self.family} models take no sampling options {sorted(sampling)} "
                            "(--steps and --guidance are for diffusion models)")
        net = net if net is not None else self.sampling_net()
        device = next(net.parameters()).device
        return net.decoder(z.to(device), emb.to(device))

    def check_text(self, text: torch.Tensor | None, n: int, device: torch.device | None = None) -> torch.Tensor | None:
        """Validated (n, text_dim) text vectors on ``device``; None when the model has no text input."""
        if not self.text_dim:
            if text is not None and bool(text.abs().sum() > 0):
                raise UserError(f"this {self.family} model was not trained on text; train with --condition text,... "
                                "to use --prompt")
            return None
        if text is None:
            return None
        if text.dim() != 2 or text.shape != (n, self.text_dim):
            raise ValueError(f"text must be ({n}, {self.text_dim}), got {tuple(text.shape)}")
        return text.to(device) if device is not None else text

    def latent_noise(self, n: int, generator: torch.Generator | None, truncation: float = 1.0) -> torch.Tensor:
        """Seeded input noise on the CPU (so a seed gives the same image on any device)."""
        raise NotImplementedError

    def check_cond(self, cond: torch.Tensor, n: int | None = None) -> torch.Tensor:
        if cond.dtype != torch.long or cond.dim() != 2 or cond.shape[1] != len(self.cond_sizes):
            raise ValueError(f"cond must be (B, {len(self.cond_sizes)}) long ids, got {tuple(cond.shape)} {cond.dtype}")
        if n is not None and cond.shape[0] != n:
            raise ValueError(f"cond has {cond.shape[0]} rows for n={n}")
        for a, size in enumerate(self.cond_sizes):
            col = cond[:, a]
            if col.numel() and (int(col.min()) < 0 or int(col.max()) >= size):
                raise ValueError(f"condition ids of attribute {a} must lie in [0, {size})")
        return cond

    # -- persistence ---------------------------------------------------------
    def save_pretrained(self, folder: str | Path, name: str = WEIGHTS_NAME) -> Path:
        path = Path(folder) / name
        save_state(path, self.state_dict(), self.spec)
        return path

    @classmethod
    def from_pretrained(cls, folder: str | Path, name: str = WEIGHTS_NAME) -> GenerativeModel:
        path = Path(folder) / name
        spec = read_spec(path)
        klass = model_class(spec.family)
        if cls is not GenerativeModel and klass is not cls:
            raise UserError(f"{path} holds a {spec.family!r} model, not {cls.family!r}")
        model = klass.from_args(saved_model_args(spec.family, dict(spec.config)), list(spec.cond_sizes), spec.resolution)
        model.load_state_dict(load_state(path))
        return model


def save_state(path: str | Path, state: dict[str, torch.Tensor], spec: ModelSpec | None = None, **meta: str) -> None:
    """Atomically write a state dict as safetensors, with the model spec in its metadata."""
    metadata = {k: str(v) for k, v in meta.items()}
    if spec is not None:
        metadata["prodgen_spec"] = json.dumps(dataclasses.asdict(spec))
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    write_bytes(path, safetensors_bytes(tensors, metadata=metadata))


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: the run has no saved weights yet (train it first, or check the path).")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types for damaged files
        raise UserError(f"{path} is damaged ({e}); restore it or resume from the run's training_state.pt.") from e


def read_spec(path: str | Path) -> ModelSpec:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: is this a prodgen run folder? (train one with `prodgen train`)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:
        raise UserError(f"{path} is damaged ({e}).") from e
    if "prodgen_spec" not in meta:
        raise UserError(f"{path} has no prodgen model spec in its metadata; it was not written by prodgen.")
    d = json.loads(meta["prodgen_spec"])
    return ModelSpec(d["family"], d["config"], tuple(d["cond_sizes"]), int(d["resolution"]))
