"""Safe image decoding and preprocessing (letterbox onto white, resize)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # larger images are refused as decompression bombs


class ImageError(Exception):
    """An image that cannot be used; ``reason`` is a short category for reports."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def open_image(path: str | Path) -> Image.Image:
    """Decode fully to RGB: transparency onto white, 16-bit scaled, EXIF orientation applied."""
    path = Path(path)
    if not path.is_file():
        raise ImageError("missing-file", f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageError("empty-file", f"{path}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError("too-large", f"{path}: {w}x{h} pixels is above the {MAX_PIXELS:,}-pixel limit "
                                 "(decompression bomb?); resize the photo before adding it to the catalog")
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError("too-large", f"{path}: above the {MAX_PIXELS:,}-pixel limit (decompression bomb?); "
                         f"resize the photo before adding it to the catalog ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageError("corrupt", f"{path}: not a readable image ({e})") from e
    except OSError as e:
        reason = "truncated" if "truncated" in str(e).lower() or "broken data stream" in str(e).lower() else "corrupt"
        raise ImageError(reason, f"{path}: {e}") from e
    except Exception as e:  # noqa: BLE001  (decoders raise many types on hostile input)
        raise ImageError("corrupt", f"{path}: {e}") from e
    return to_rgb(img)


def to_rgb(img: Image.Image) -> Image.Image:
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001  (broken EXIF must not lose the image)
        pass
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def letterbox(img: Image.Image, size: int) -> Image.Image:
    """Pad to a centred square on white, then resize to ``size`` x ``size``."""
    w, h = img.size
    side = max(w, h)
    if w != h:
        canvas = Image.new("RGB", (side, side), (255, 255, 255))
        canvas.paste(img, ((side - w) // 2, (side - h) // 2))
        img = canvas
    if side != size:
        img = img.resize((size, size), Image.LANCZOS, reducing_gap=3.0 if side > 3 * size else None)
    return img


def to_uint8_chw(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))


def read_photo(path: str | Path) -> np.ndarray:
    """A user's photo as a (3, H, W) float32 array in [0, 1]; unreadable files raise a UserError naming the problem."""
    from ..errors import UserError

    if Path(path).is_dir():
        raise UserError(f"{path} is a folder; give a photo file (PNG/JPEG/WebP).")
    try:
        img = open_image(path)
    except ImageError as e:
        raise UserError(f"cannot use {path}: {e}. Check the file (any PNG/JPEG/WebP photo under the pixel limit works).") from e
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def encode_photo(arr: np.ndarray, suffix: str) -> bytes:
    """A (3, H, W) float array in [0, 1] as the bytes of a PNG (or JPEG / WebP file, by ``suffix``)."""
    img = Image.fromarray((np.clip(arr, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format={".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(suffix.lower(), "PNG"))
    return buf.getvalue()


def write_photo(arr: np.ndarray, path: str | Path) -> Path:
    """Write a (3, H, W) float array in [0, 1] atomically as PNG (or other format by suffix)."""
    from ..atomic import write_bytes

    path = Path(path)
    write_bytes(path, encode_photo(arr, path.suffix))
    return path
