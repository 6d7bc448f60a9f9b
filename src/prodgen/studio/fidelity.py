"""How much a product changed: the fidelity check a reviewer sees before approving.

Edits of a real photo (``edit_fidelity``): the product region is found in the
*source* photo (``apps.background.product_mask``, eroded by ``EDGE`` pixels so an
edited outline or new backdrop does not count), then inside it:

- ``pixel_mad``: mean absolute pixel difference, edited vs source (0-255 scale);
- ``de_mean`` / ``de_p95``: mean and 95th percentile of the CIEDE2000 colour
  difference per pixel (``skimage.color.deltaE_ciede2000`` on CIELAB, D65);
- ``changed_fraction``: share of product pixels with CIEDE2000 above ``CHANGED_DE``;
- the product's median colour in source and edit, compared with the catalog's
  stated colour name (``STATED_COLOURS``) and read as the nearest named colour.

``flagged`` is True with ``reasons`` when any measure is over its threshold.
Thresholds (``Thresholds``) were set from known cases, measured on 24 synthetic
catalog photos (all categories, colours, patterns); the flagged column is checked by
``tests/studio/test_fidelity.py::test_thresholds_separate_known_cases``:

| edit | pixel_mad max | de_mean max | de_p95 max | flagged |
|---|---|---|---|---|
| background swap, studio backdrop + shadow | 0 | 0 | 0 | 0/24 |
| JPEG re-save q95 / q90 | 5.6 / 6.3 | 2.9 / 3.2 | 11.8 / 12.1 | 0/24 |
| upscale 2x (compared back at source size) | 4.8 | 1.6 | 4.5 | 0/24 |
| relight +5 % brightness | 8.5 | 2.5 | 3.5 | 0/24 |
| JPEG q75 | 9.2 | 4.2 | 14.3 | 8/24 |
| relight +15 % brightness | 23.0 | 7.1 | 7.7 | 20/24 |
| Gaussian blur sigma 1 (labels, patterns blur) | 18.1 | 6.0 | 17.4 | 15/24 |
| recolour to another catalog colour (``masked_recolour``) | | 18.5 min | | 24/24 |

So a background swap or shadow (the product's pixels kept exactly) and a careful
re-save are never flagged, while a recolour always is, and so is a visible relight
or blur. A CIEDE2000 of about 2-3 is where a trained eye notices a colour
difference side by side; the JPEG chroma subsampling of sharp stripes is why
``de_p95`` sits higher (15). A hue shift cannot change black, white or grey
products, and is then (rightly) not flagged.

Generated images (``generated_fidelity``): the requested attributes next to what
ProductNet reads (``read_attributes``), with its confidence and a match column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from ..apps.background import product_mask
from ..errors import UserError

EDGE = 2  # pixels of the product outline left out of the comparison (anti-aliased edge, new backdrop bleeding in)
CHANGED_DE = 10.0  # CIEDE2000 above which a pixel counts as clearly changed


@dataclass(frozen=True)
class Thresholds:
    """Over any of these an edit is flagged for the reviewer (see the module doc for why these values)."""

    pixel_mad: float = 10.0  # mean |edited - source| over the product, 0-255
    de_mean: float = 3.5  # mean CIEDE2000 over the product
    de_p95: float = 15.0  # 95th percentile CIEDE2000: a local change (a label, a patch) the mean can hide
    changed_fraction: float = 0.10  # share of product pixels with CIEDE2000 > CHANGED_DE
    stated_margin: float = 5.0  # the edit's median colour moved this much farther from the stated colour than the source's


# The catalog's colour names (the fashion catalog's 43 ``baseColour`` values, and the
# synthetic catalog's twelve) as sRGB. CSS Color 4 values where a CSS name means the
# same colour (navy, maroon, olive, silver, teal, tan, sea green, ...); otherwise a
# typical fashion-catalog value (CSS "pink", "beige" or "lavender" are near-white pastels
# that do not describe the garments called so). Names that are not one colour map to None.
STATED_COLOURS: dict[str, str | None] = {
    "Black": "#111111", "Blue": "#2a5caa", "White": "#ffffff", "Grey": "#808080", "Brown": "#7b4a2a",
    "Red": "#c8102e", "Green": "#228b22", "Navy Blue": "#000080", "Purple": "#800080", "Pink": "#e8799f",
    "Maroon": "#800000", "Beige": "#d8c3a5", "Yellow": "#f2d100", "Olive": "#808000", "Silver": "#c0c0c0",
    "Steel": "#71797e", "Orange": "#ff8c00", "Gold": "#d4af37", "Cream": "#fffdd0", "Tan": "#d2b48c",
    "Charcoal": "#36454f", "Khaki": "#c3b091", "Magenta": "#c0267a", "Off White": "#f8f8f0", "Copper": "#b87333",
    "Lavender": "#b9a6d6", "Peach": "#ffcba4", "Teal": "#008080", "Mustard": "#e1ad01", "Rust": "#b7410e",
    "Coffee Brown": "#6f4e37", "Turquoise Blue": "#00c5cd", "Bronze": "#cd7f32", "Grey Melange": "#a0a0a0",
    "Burgundy": "#800020", "Taupe": "#8b8589", "Fluorescent Green": "#39ff14", "Sea Green": "#2e8b57",
    "Mauve": "#915f6d", "Nude": "#e3bc9a", "Lime Green": "#32cd32", "Skin": "#e0ac8a", "Mushroom Brown": "#a08070",
    "Multi": None, "Metallic": None, "NA": None,
}
ALIASES = {"navy": "Navy Blue", "gray": "Grey", "multicolour": "Multi", "multicolor": "Multi", "offwhite": "Off White"}
NOT_ONE_COLOUR = {"Multi": "a multi-coloured product has no single colour to compare",
                  "Metallic": "'Metallic' is a finish, not a colour",
                  "NA": "the catalog gives no colour (NA)"}


def _hex_to_rgb(h: str) -> np.ndarray:
    h = h.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.uint8)


def _rgb_to_hex(rgb) -> str:
    return "#" + "".join(f"{int(round(float(v))):02x}" for v in rgb)


def lab(rgb_u8: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB uint8 values, any shape ending in 3."""
    from skimage.color import rgb2lab

    a = np.asarray(rgb_u8, dtype=np.float64) / 255.0
    return rgb2lab(a.reshape(-1, 1, 3)).reshape(a.shape)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB values (last axis L, a, b)."""
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64))


def stated_colour_rgb(name: str | None) -> tuple[str | None, np.ndarray | None, str | None]:
    """(canonical name, sRGB uint8 or None, note) for a catalog colour name; unknown names give None and a note."""
    if name is None or not str(name).strip():
        return None, None, "no stated colour given"
    key = str(name).strip()
    folded = {k.casefold(): k for k in STATED_COLOURS}
    canon = folded.get(key.casefold()) or ALIASES.get(key.casefold().replace(" ", "").replace("-", ""))
    canon = canon or ALIASES.get(key.casefold())
    if canon is None:
        return None, None, (f"stated colour {key!r} is not in the colour table (prodgen.studio.fidelity.STATED_COLOURS); "
                            "add it there with its sRGB value to compare against it")
    hexv = STATED_COLOURS[canon]
    if hexv is None:
        return canon, None, NOT_ONE_COLOUR.get(canon, f"{canon!r} is not one colour")
    return canon, _hex_to_rgb(hexv), None


def nearest_colour_name(rgb_u8) -> str:
    """The colour-table name closest (CIEDE2000) to an sRGB colour."""
    names = [k for k, v in STATED_COLOURS.items() if v is not None]
    table = lab(np.stack([_hex_to_rgb(STATED_COLOURS[k]) for k in names]))
    d = ciede2000(np.broadcast_to(lab(np.asarray(rgb_u8, dtype=np.uint8)), table.shape), table)
    return names[int(np.argmin(d))]


def _check_image(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 3 or a.shape[2] != 3:
        raise UserError(f"{what} must be an H x W x 3 RGB array, got shape {a.shape}; convert it with "
                        "np.asarray(PIL.Image.open(path).convert('RGB'))")
    if a.dtype != np.uint8:
        raise UserError(f"{what} must be uint8 (0-255), got {a.dtype}; convert with np.clip(x * 255, 0, 255).round().astype(np.uint8)")
    if min(a.shape[:2]) < 8:
        raise UserError(f"{what} is {a.shape[1]}x{a.shape[0]} pixels; the fidelity check needs at least 8x8")
    return a


def product_region(source: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Bool (H, W) product pixels of a photo on a plain backdrop, outline band left out; whole image if none found."""
    cut = product_mask(source.transpose(2, 0, 1).astype(np.float32) / 255.0, feather=0)
    fg = cut.alpha > 0.5
    core = ndimage.binary_erosion(fg, iterations=EDGE, border_value=1)
    if core.sum() < 16:
        return np.ones(source.shape[:2], dtype=bool), ("no product found on a plain backdrop in the source; "
                                                        "the whole image was compared")
    return core, None


def edit_fidelity(source_rgb: np.ndarray, edited_rgb: np.ndarray, stated_colour: str | None = None,
                  threshold: Thresholds | None = None, ignore: np.ndarray | None = None) -> dict:
    """How much the product changed from ``source_rgb`` to ``edited_rgb`` (both H x W x 3 uint8).

    ``ignore``: optional (H, W) bool mask of pixels changed on purpose (an inpainting mask); they are left out.
    An edited image of another size (upscale) is resized to the source's size (Lanczos) before comparing.
    Returns a JSON-ready dict; ``flagged`` and ``reasons`` say whether and why a reviewer should look closely.
    """
    t = threshold or Thresholds()
    src = _check_image(source_rgb, "source image")
    edt = _check_image(edited_rgb, "edited image")
    notes: list[str] = []
    if edt.shape != src.shape:
        h, w = src.shape[:2]
        notes.append(f"edited image {edt.shape[1]}x{edt.shape[0]} was resized to the source's {w}x{h} to compare")
        edt = np.asarray(Image.fromarray(edt).resize((w, h), Image.LANCZOS))
    region, note = product_region(src)
    if note:
        notes.append(note)
    if ignore is not None:
        ignore = np.asarray(ignore, dtype=bool)
        if ignore.shape != src.shape[:2]:
            raise UserError(f"ignore mask is {ignore.shape[1]}x{ignore.shape[0]}, the source {src.shape[1]}x{src.shape[0]}; "
                            "give a mask of the source's size")
        region = region & ~ignore
        notes.append(f"{int(ignore.sum())} pixels changed on purpose (mask) were left out")
    if not region.any():
        raise UserError("nothing left to compare: the ignore mask covers the whole product; paint a smaller mask")
    s_px, e_px = src[region], edt[region]  # (N, 3)
    pixel_mad = float(np.abs(s_px.astype(np.int16) - e_px.astype(np.int16)).mean())
    de = ciede2000(lab(s_px), lab(e_px))
    s_med = np.median(s_px, axis=0)
    e_med = np.median(e_px, axis=0)
    colour = {
        "source_median": _rgb_to_hex(s_med), "edited_median": _rgb_to_hex(e_med),
        "source_reads_as": nearest_colour_name(np.round(s_med)), "edited_reads_as": nearest_colour_name(np.round(e_med)),
        "stated": stated_colour, "stated_rgb": None, "de_stated_source": None, "de_stated_edited": None, "note": None,
    }
    canon, stated_rgb, cnote = stated_colour_rgb(stated_colour)
    colour["note"] = cnote
    if stated_rgb is not None:
        colour["stated"] = canon
        colour["stated_rgb"] = _rgb_to_hex(stated_rgb)
        st_lab = lab(stated_rgb)
        colour["de_stated_source"] = round(float(ciede2000(lab(np.round(s_med).astype(np.uint8)), st_lab)), 3)
        colour["de_stated_edited"] = round(float(ciede2000(lab(np.round(e_med).astype(np.uint8)), st_lab)), 3)
    out = {
        "product_fraction": round(float(region.mean()), 4),
        "pixel_mad": round(pixel_mad, 3),
        "de_mean": round(float(de.mean()), 3),
        "de_p95": round(float(np.percentile(de, 95)), 3),
        "changed_fraction": round(float((de > CHANGED_DE).mean()), 4),
        "colour": colour,
        "thresholds": asdict(t),
        "notes": notes,
    }
    reasons = []
    if out["pixel_mad"] > t.pixel_mad:
        reasons.append(f"product pixels changed by {out['pixel_mad']:.1f}/255 on average (threshold {t.pixel_mad})")
    if out["de_mean"] > t.de_mean:
        reasons.append(f"product colour changed: mean CIEDE2000 {out['de_mean']:.1f} (threshold {t.de_mean}; ~2-3 is visible)")
    if out["de_p95"] > t.de_p95:
        reasons.append(f"part of the product changed: 95th-percentile CIEDE2000 {out['de_p95']:.1f} (threshold {t.de_p95})")
    if out["changed_fraction"] > t.changed_fraction:
        reasons.append(f"{100 * out['changed_fraction']:.1f}% of product pixels changed clearly (CIEDE2000 > {CHANGED_DE:g}; "
                       f"threshold {100 * t.changed_fraction:g}%)")
    if colour["de_stated_edited"] is not None and colour["de_stated_edited"] > colour["de_stated_source"] + t.stated_margin:
        reasons.append(f"product colour moved away from the stated colour {colour['stated']}: CIEDE2000 "
                       f"{colour['de_stated_source']:.1f} -> {colour['de_stated_edited']:.1f}")
    out["flagged"] = bool(reasons)
    out["reasons"] = reasons
    return out


SKIP_VALUES = {"<unspecified>", "other", "unknown", "", None}


def _read_entry(entry) -> tuple[str | None, float | None]:
    if entry is None:
        return None, None
    if isinstance(entry, dict):
        return entry.get("value"), entry.get("confidence")
    if isinstance(entry, (tuple, list)) and len(entry) == 2:
        return entry[0], entry[1]
    return str(entry), None


def generated_fidelity(requested: dict, read: dict) -> list[dict]:
    """Requested attributes next to what ProductNet reads in the generated image.

    ``requested``: {attribute: value} from the job. ``read``: {attribute: {"value", "confidence"}} (or
    (value, confidence) pairs), e.g. from ``read_attributes``. ``match`` is True/False where ProductNet reads
    the attribute and a value was asked for, None where nothing can be compared (not requested, not read,
    or a catch-all value like other/unknown).
    """
    if not isinstance(requested, dict) or not isinstance(read, dict):
        raise UserError("generated_fidelity takes two dicts: requested {attribute: value} and read {attribute: {value, confidence}}")
    rows = []
    for attr in list(requested) + [a for a in read if a not in requested]:
        want = requested.get(attr)
        got, conf = _read_entry(read.get(attr))
        comparable = want not in SKIP_VALUES and got is not None
        rows.append({"attribute": attr, "requested": want, "read": got,
                     "confidence": None if conf is None else round(float(conf), 4),
                     "match": (str(want).casefold() == str(got).casefold()) if comparable else None})
    return rows


def read_attributes(net, pn_vocab, image_rgb: np.ndarray) -> dict:
    """What a ProductNet reads in one H x W x 3 uint8 image: {attribute: {value, confidence}} (softmax top-1).

    The image is resized (Lanczos) to the net's resolution when it differs, and the read says so.
    """
    import torch

    img = _check_image(image_rgb, "generated image")
    r = net.cfg.resolution
    resized = img.shape[:2] != (r, r)
    if resized:
        img = np.asarray(Image.fromarray(img).resize((r, r), Image.LANCZOS))
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]
    _, logits = net.extract(x)
    out = {}
    for name, lg in zip(net.cfg.attributes, logits):
        p = torch.softmax(lg[0].float(), 0)
        p[0] = 0  # id 0 is <unspecified>: never an answer
        k = int(p.argmax())
        out[name] = {"value": pn_vocab[name].decode(k), "confidence": float(p[k] / p.sum()), "resized": resized}
    return out


__all__ = ["STATED_COLOURS", "Thresholds", "ciede2000", "edit_fidelity", "generated_fidelity", "lab",
           "nearest_colour_name", "product_region", "read_attributes", "stated_colour_rgb"]
