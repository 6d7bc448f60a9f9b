"""Variations of products through the conditional models: new attribute values for an existing item,
interpolation between conditions or between two real items, and a masked recolour fallback.

- ``edit_attributes``: the same item with a new condition. VAE: encode the photo
  (edited attributes left unspecified), decode with the new condition. Diffusion:
  noise the photo part of the way and denoise under the new condition (SDEdit,
  Meng et al. 2022). GAN: invert the generator (optimise the noise so G(z, c)
  matches the photo, best of a few restarts), then regenerate with the new condition.
  Output is at the model's resolution.
- ``masked_recolour``: no model: the product pixels (apps/background.py mask) are
  re-tinted to the target colour keeping their shading; resolution untouched.
- ``interpolate``: condition vectors (and, for two items, VAE latents) mixed with
  the noise held fixed, as frames for a strip PNG or an animated GIF.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..atomic import write_bytes
from ..errors import UserError
from .background import product_mask

# Median product colour of common catalog colour names (sRGB); catalogs add their own via colour_palette().
NAMED_COLOURS = {
    "black": "#1e1e1e", "white": "#f4f4f2", "grey": "#8c8c8c", "gray": "#8c8c8c", "silver": "#b8b8bc", "charcoal": "#3a3a3c",
    "red": "#c0262d", "maroon": "#6e1a24", "burgundy": "#6a1d2b", "pink": "#e78fb0", "magenta": "#c2307f", "rose": "#d27a8a",
    "orange": "#ea7a1f", "rust": "#a4461f", "peach": "#f2b497", "yellow": "#eacb2f", "mustard": "#c89b26", "gold": "#c9a245",
    "green": "#2f8a45", "olive": "#6b6f2e", "sea green": "#3a9a7a", "teal": "#1f7a7a", "lime green": "#8ccf3a",
    "blue": "#2c58b8", "navy blue": "#1f2a55", "navy": "#1f2a55", "turquoise blue": "#35b3c4", "teal blue": "#1f6f8a",
    "purple": "#6e3a9a", "lavender": "#b09ad0", "mauve": "#a07890", "violet": "#7a3fa0",
    "brown": "#6e4526", "coffee brown": "#5a3b26", "tan": "#c39a6b", "beige": "#d8c6a4", "khaki": "#b8a776",
    "cream": "#efe6cf", "off white": "#ece8de", "nude": "#dcb8a0", "skin": "#d9ae8f", "copper": "#b06a3b",
    "bronze": "#8c6a3a", "steel": "#7a8590", "metallic": "#a8a8a8", "mushroom brown": "#9a8670",
}


def colour_rgb(name: str, palette: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """(3,) RGB in [0, 1] for a colour name: the catalog's measured palette first, then the built-in table."""
    from .background import parse_colour

    if palette:
        for k, v in palette.items():
            if k.casefold() == name.casefold():
                return v
    if name.startswith("#"):
        return parse_colour(name)
    key = name.casefold()
    if key in NAMED_COLOURS:
        return parse_colour(NAMED_COLOURS[key])
    raise UserError(f"no RGB known for colour {name!r}; give it as #rrggbb or use one of: {', '.join(sorted(NAMED_COLOURS))}")


def colour_palette(images: torch.Tensor, values: list[str | None], min_count: int = 5) -> dict[str, np.ndarray]:
    """Median product-pixel colour per colour value, measured on (N, 3, R, R) uint8 catalog photos."""
    acc: dict[str, list[np.ndarray]] = {}
    for img, v in zip(images, values):
        if not v:
            continue
        arr = img.numpy().astype(np.float32) / 255.0
        cut = product_mask(arr, feather=0)
        if cut.core.sum() < 20:
            continue
        acc.setdefault(v, []).append(np.median(arr[:, cut.core], axis=1))
    return {v: np.median(np.stack(c), axis=0) for v, c in acc.items() if len(c) >= min_count}


def masked_recolour(img: np.ndarray, target: np.ndarray, threshold: float = 0.08) -> np.ndarray:
    """(3, H, W) photo in [0, 1] with its product re-tinted to ``target`` (3,), shading kept, backdrop untouched."""
    cut = product_mask(img, threshold=threshold)
    if cut.alpha.max() == 0:
        raise UserError("no product found to recolour: the photo looks like plain backdrop")
    lum = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2])
    inside = cut.alpha > 0.5
    ref = float(np.median(lum[inside])) if inside.any() else 0.5
    shade = np.clip(lum / max(ref, 0.05), 0.0, 2.5)  # relative shading of each product pixel
    tinted = np.clip(target[:, None, None] * shade[None], 0, 1)
    a = cut.alpha[None]
    return a * tinted + (1 - a) * img


def to_model_input(img: np.ndarray, resolution: int) -> torch.Tensor:
    """(3, H, W) photo in [0, 1] -> (1, 3, R, R) in [-1, 1], letterboxed on white like the training data."""
    from ..data.images import letterbox

    pil = Image.fromarray((np.clip(img, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8))
    arr = np.asarray(letterbox(pil, resolution), dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1
    return torch.from_numpy(arr)[None]


def invert_gan(pipe, image: torch.Tensor, cond: torch.Tensor, steps: int = 150, restarts: int = 4, seed: int = 0,
               lr: float = 0.05) -> torch.Tensor:
    """Noise z with G(z, cond) close to ``image`` (1, 3, R, R): MSE, Adam, best of ``restarts`` starts."""
    from ..device import module_device

    model, net = pipe.model, pipe.net
    dev = module_device(net)
    g = torch.Generator().manual_seed(seed)  # noise drawn on the CPU: the same start on every device
    z = model.latent_noise(restarts, g).to(dev).requires_grad_(True)
    target = image.to(dev).expand(restarts, -1, -1, -1)
    with torch.no_grad():
        emb = model.embed_condition(cond.expand(restarts, -1), None, net)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        x = net.decoder(z, emb)
        loss = F.mse_loss(x, target, reduction="none").flatten(1).mean(1)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    return z.detach()[loss.detach().argmin()][None]


@torch.no_grad()
def edit_attributes(pipe, image: torch.Tensor, new: dict[str, str], keep: dict[str, str] | None = None, seed: int = 0,
                    strength: float = 0.6, **sampling) -> torch.Tensor:
    """The item in ``image`` (1, 3, R, R) in [-1, 1] with the attributes ``new``; returns (1, 3, R, R)."""
    keep = dict(keep or {})
    target = pipe.condition({**keep, **new})
    source = pipe.condition(keep)  # the edited attributes left unspecified
    family = pipe.model.family
    if family == "vae":
        from ..device import module_device

        dev = module_device(pipe.net)
        mu, _ = pipe.model.encode(image.to(dev), source[None].to(dev))
        return pipe.model.generate_from_noise(mu, target[None], None, pipe.net)
    if family == "diffusion":
        z = pipe.model.latent_noise(1, torch.Generator().manual_seed(seed))
        emb = pipe.model.embed_condition(target[None], None, pipe.net)
        return pipe.model.generate_from_embedding(z, emb, pipe.net, start=strength, image=image, **sampling)
    if family == "gan":
        with torch.enable_grad():
            z = invert_gan(pipe, image, source[None], seed=seed)
        return pipe.model.generate_from_noise(z, target[None], None, pipe.net)
    raise UserError(f"attribute edits are not implemented for {family!r} models")


@torch.no_grad()
def interpolate(pipe, cond_a: torch.Tensor, cond_b: torch.Tensor, frames: int = 8, seed: int = 0,
                text_a: torch.Tensor | None = None, text_b: torch.Tensor | None = None,
                z_a: torch.Tensor | None = None, z_b: torch.Tensor | None = None, **sampling) -> torch.Tensor:
    """``frames`` images (F, 3, R, R) from condition A to condition B (noise fixed, or mixed from z_a to z_b)."""
    if frames < 2:
        raise UserError("--frames must be at least 2")
    if getattr(pipe, "image_condition", None):
        raise UserError(f"{pipe.run_dir} draws from a sketch; interpolation is not supported for it. Generate the two "
                        "conditions from one sketch instead: prodgen generate RUN --sketch drawing.png --attr ...")
    model, net = pipe.model, pipe.net
    ea = model.embed_condition(cond_a[None], text_a[None] if text_a is not None else None, net)
    eb = model.embed_condition(cond_b[None], text_b[None] if text_b is not None else None, net)
    t = torch.linspace(0, 1, frames)[:, None].to(ea.device)
    emb = (1 - t) * ea + t * eb
    if z_a is None:
        z_a = model.latent_noise(1, torch.Generator().manual_seed(seed))
    if z_b is None:
        z = z_a.expand(frames, *z_a.shape[1:]).clone()
    else:
        tz = t.cpu().view(frames, *([1] * (z_a.dim() - 1)))
        z = (1 - tz) * z_a + tz * z_b
    if model.family == "diffusion":  # one seed per frame: the same start noise for all
        return model.generate_from_embedding(z, emb, net, **sampling).float().cpu()
    return model.generate_from_embedding(z, emb, net).float().cpu()


def save_frames(frames: torch.Tensor, out: str | Path, duration_ms: int = 120, scale: int = 2, info: dict | None = None) -> Path:
    """Frames (F, 3, R, R) in [-1, 1] as a horizontal strip (.png) or an animated GIF (.gif), marked as generated
    with a signed C2PA manifest saying ``info`` (``prodgen.provenance``)."""
    from ..grid import make_grid, png_bytes
    from ..provenance import stamp_bytes

    out = Path(out)
    if out.suffix.lower() == ".gif":
        arr = ((frames.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        ims = [Image.fromarray(a).resize((a.shape[1] * scale, a.shape[0] * scale), Image.NEAREST) for a in arr]
        ims += ims[-2:0:-1]  # there and back
        buf = io.BytesIO()
        ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=duration_ms, loop=0)
        data = buf.getvalue()
    else:
        data = png_bytes(make_grid(frames, len(frames)))
    write_bytes(out, stamp_bytes(data, "generated", info, title=out.name))
    return out


__all__ = ["NAMED_COLOURS", "colour_palette", "colour_rgb", "edit_attributes", "interpolate", "invert_gan",
           "masked_recolour", "save_frames", "to_model_input"]
