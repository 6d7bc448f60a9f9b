"""ProductNet: a small multi-head convolutional classifier trained on the catalog.

It is prodgen's feature extractor for every quality figure (FID-P, KID, PRDC,
conditional accuracy, diversity, memorisation): no Inception weights exist
offline here, and a network trained on the shop's own attributes measures what
shop images are about (category, colour, gender, ...). One head per attribute
with enough data; the penultimate layer (``feature_dim``) gives the features.
It is frozen and in eval mode whenever it extracts features.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import write_json
from ..conditioning import Vocabulary
from ..resolution import check_resolution, stages
from ..errors import UserError
from ..models.base import load_state, save_state
from ..runfolder import require_kind

CONFIG_NAME = "productnet.json"
WEIGHTS_NAME = "productnet.safetensors"


@dataclass
class ProductNetConfig:
    resolution: int = 64
    attributes: list[str] = field(default_factory=list)
    head_sizes: list[int] = field(default_factory=list)
    width: int = 32
    feature_dim: int = 256
    catalog: str = ""
    catalog_fingerprint: str = ""


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ProductNet(nn.Module):
    def __init__(self, cfg: ProductNetConfig) -> None:
        super().__init__()
        check_resolution(cfg.resolution, "ProductNet resolution")
        self.cfg = cfg
        w = cfg.width
        n_down = stages(cfg.resolution)
        widths = [min(w * 2**i, 256) for i in range(n_down)]
        layers: list[nn.Module] = []
        cin = 3
        for cout in widths:
            layers += [_block(cin, cout), nn.MaxPool2d(2)]
            cin = cout
        self.body = nn.Sequential(*layers)  # (B, C, 4, 4)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(cin * 16, cfg.feature_dim), nn.ReLU(inplace=True))
        self.heads = nn.ModuleList(nn.Linear(cfg.feature_dim, n) for n in cfg.head_sizes)

    def check_input(self, images: torch.Tensor) -> None:
        r = self.cfg.resolution
        if images.dim() != 4 or images.shape[1:] != (3, r, r):
            raise ValueError(f"ProductNet takes (B, 3, {r}, {r}) images in [-1, 1]; got {tuple(images.shape)}. "
                             "Images are never resized silently: evaluate with a ProductNet fitted at the run's resolution.")
        if not images.is_floating_point():
            raise ValueError(f"ProductNet takes float images in [-1, 1], got {images.dtype}")

    def features(self, images: torch.Tensor) -> torch.Tensor:
        self.check_input(images)
        return self.embed(self.body(images))  # (B, feature_dim)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        f = self.features(images)
        return f, [h(f) for h in self.heads]  # features, logits per attribute

    @torch.no_grad()
    def extract(self, images: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Frozen, eval-mode features and logits of many images (float [-1, 1] or uint8 [0, 255])."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        feats, logits = [], [[] for _ in self.heads]
        try:
            for i in range(0, len(images), batch_size):
                x = images[i : i + batch_size]
                if x.dtype == torch.uint8:
                    x = x.float() / 127.5 - 1
                f, ls = self(x.to(device))
                feats.append(f.float().cpu())
                for k, lg in enumerate(ls):
                    logits[k].append(lg.float().cpu())
        finally:
            self.train(was_training)
        return torch.cat(feats), [torch.cat(lg) for lg in logits]

    def loss(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Sum of per-head cross-entropies; target id 0 (<unspecified>/missing) is ignored."""
        _, logits = self(images)
        total = images.new_zeros(())
        logs = {}
        for k, (name, lg) in enumerate(zip(self.cfg.attributes, logits)):
            t = targets[:, k]
            if (t > 0).any():
                ce = F.cross_entropy(lg, t, ignore_index=0)
                total = total + ce
                logs[name] = float(ce.detach())
        return total, logs

    def save_pretrained(self, folder: str | Path, vocab: Vocabulary, accuracy: dict) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_state(folder / WEIGHTS_NAME, self.state_dict())
        vocab.save(folder / "vocab.json")
        write_json(folder / CONFIG_NAME, {"config": dataclasses.asdict(self.cfg), "accuracy": accuracy})

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> tuple[ProductNet, Vocabulary, dict]:
        folder = Path(folder)
        if not (folder / CONFIG_NAME).is_file():
            if (folder / "config.json").is_file():  # another kind of run, or a fit that has not finished
                require_kind(folder, "productnet", "--features")
                raise UserError(f"{folder} holds a ProductNet fit that has not finished; run the same "
                                f"`prodgen features fit ... --out {folder}` again to continue it.")
            raise UserError(f"{folder} holds no ProductNet ({CONFIG_NAME} missing); fit one with `prodgen features fit`.")
        meta = json.loads((folder / CONFIG_NAME).read_text())
        net = cls(ProductNetConfig(**meta["config"]))
        net.load_state_dict(load_state(folder / WEIGHTS_NAME))
        for p in net.parameters():
            p.requires_grad_(False)
        return net.eval(), Vocabulary.load(folder / "vocab.json"), meta["accuracy"]
