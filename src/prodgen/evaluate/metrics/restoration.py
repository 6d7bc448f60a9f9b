"""PSNR / SSIM / MS-SSIM for restoration, always reported next to a trivial baseline.

torchmetrics' functional implementations; images (B, 3, H, W) float in [0, 1] of
equal shape (never resized). MS-SSIM with its default 5 scales and 11-px kernel
needs images of at least 160 px; below that prodgen uses 3 scales (the first
three of the default betas, renormalised) and a 7-px kernel, which works down
to 32 px. The settings are returned with the numbers.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import (
    multiscale_structural_similarity_index_measure,
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

DEFAULT_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"restored and clean images must be (B, C, H, W) of one shape; got {tuple(x.shape)} and {tuple(y.shape)}")
    for t in (x, y):
        if not t.is_floating_point() or t.min() < 0 or t.max() > 1:
            raise ValueError("restoration metrics take float images in [0, 1]")


def msssim_settings(size: int) -> dict:
    if size >= 160:
        return {"kernel_size": 11, "betas": DEFAULT_BETAS}
    betas = torch.tensor(DEFAULT_BETAS[:3])
    return {"kernel_size": 7, "betas": tuple((betas / betas.sum()).tolist())}


def restoration_scores(restored: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """Mean per-image PSNR (dB; 100 for identical images) and SSIM, and batch MS-SSIM."""
    _check(restored, clean)
    psnr = peak_signal_noise_ratio(restored, clean, data_range=1.0, reduction="none", dim=(1, 2, 3))
    psnr = torch.nan_to_num(psnr, posinf=100.0).clamp(max=100.0)
    ssim = structural_similarity_index_measure(restored, clean, data_range=1.0, reduction="elementwise_mean")
    settings = msssim_settings(min(clean.shape[-2:]))
    ms = multiscale_structural_similarity_index_measure(restored, clean, data_range=1.0, **settings)
    return {"psnr": float(psnr.mean()), "ssim": float(ssim), "ms_ssim": float(ms), "ms_ssim_scales": float(len(settings["betas"]))}


def with_baseline(restored: torch.Tensor, baseline: torch.Tensor, clean: torch.Tensor) -> dict[str, dict[str, float]]:
    """The method's scores and the trivial baseline's (bicubic, identity, ...) side by side."""
    return {"method": restoration_scores(restored, clean), "baseline": restoration_scores(baseline, clean)}


class RestorationScores:
    """Streaming means of per-batch scores, weighted by batch size."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, float] = {}
        self._n = 0

    def update(self, restored: torch.Tensor, clean: torch.Tensor) -> None:
        s = restoration_scores(restored, clean)
        for k, v in s.items():
            self._sums[k] = self._sums.get(k, 0.0) + v * len(clean)
        self._n += len(clean)

    def compute(self) -> dict[str, float]:
        return {k: v / self._n for k, v in self._sums.items()}
