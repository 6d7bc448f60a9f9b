"""The image resolutions a run may choose, and the stage count each implies.

Every network in prodgen halves (or doubles) its feature maps between the image
resolution R and a 4x4 core, so a resolution is a power of two and its number of
stride-2 stages is log2(R / 4): 3 at 32 px, 4 at 64, 5 at 128, 6 at 256. The
data cache, the model families and ProductNet all check against this one list.
"""

from __future__ import annotations

from .errors import UserError

RESOLUTIONS = (32, 64, 128, 256)


def check_resolution(resolution: int, what: str = "--resolution") -> int:
    """``resolution`` if it is supported; a UserError naming the choices otherwise."""
    if resolution not in RESOLUTIONS:
        choices = ", ".join(str(r) for r in RESOLUTIONS[:-1]) + f" or {RESOLUTIONS[-1]}"
        raise UserError(f"{what} {resolution} is not supported; use {choices}.")
    return resolution


def stages(resolution: int) -> int:
    """Stride-2 stages between ``resolution`` and 4x4 (3 at 32 px ... 6 at 256 px)."""
    check_resolution(resolution, "resolution")
    return resolution.bit_length() - 3
