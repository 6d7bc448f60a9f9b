"""``prodgen data inspect``: counts per attribute, what was skipped and why, a contact sheet."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..grid import save_png
from .cache import prepare_images
from .catalog import Catalog
from .split import make_split

RARE = 20


@dataclass
class InspectReport:
    name: str
    kind: str
    n_records: int
    n_usable_images: int
    counts: dict[str, dict[str, int]]  # attribute -> value -> count ("NA" for missing)
    skipped: dict[str, int]  # reason -> count
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)
    split_sizes: dict[str, int] = field(default_factory=dict)
    default_condition: tuple[str, ...] = ()

    def to_text(self, top: int = 8) -> str:
        lines = [f"catalog {self.name} ({self.kind}): {self.n_records} rows, {self.n_usable_images} usable images",
                 "split (by id hash): " + ", ".join(f"{k} {v}" for k, v in self.split_sizes.items()),
                 f"default condition: {', '.join(self.default_condition) or '(none)'}"]
        for attr, counts in self.counts.items():
            rare = sum(1 for v, c in counts.items() if c < RARE and v != "NA")
            head = ", ".join(f"{v} {c}" for v, c in sorted(counts.items(), key=lambda kv: -kv[1])[:top])
            lines.append(f"  {attr}: {len(counts)} values ({rare} rare, < {RARE}): {head}" + (" ..." if len(counts) > top else ""))
        if self.skipped:
            lines.append("skipped: " + ", ".join(f"{r} {c}" for r, c in sorted(self.skipped.items())))
            for r, ex in self.skipped_examples.items():
                lines.append(f"  {r}: e.g. {', '.join(ex)}")
        else:
            lines.append("skipped: none")
        return "\n".join(lines)


def inspect_catalog(catalog: Catalog, resolution: int = 64, contact_sheet: str | Path | None = None,
                    cache_dir: str | Path | None = None, max_sheet: int = 64, progress: bool = True) -> InspectReport:
    tensors = prepare_images(catalog, resolution, cache_dir=cache_dir, progress=progress)
    skipped = list(catalog.skipped) + list(tensors.skipped)
    counts = {a: dict(Counter("NA" if r.attributes.get(a) is None else r.attributes[a] for r in catalog.records))
              for a in catalog.attribute_columns}
    examples: dict[str, list[str]] = {}
    for s in skipped:
        if len(examples.setdefault(s.reason, [])) < 3:
            examples[s.reason].append(s.id)
    report = InspectReport(catalog.name, catalog.kind, len(catalog.records) + len(catalog.skipped), len(tensors.ids), counts,
                           dict(Counter(s.reason for s in skipped)), examples,
                           {k: len(v) for k, v in make_split(tensors.ids).items()}, catalog.default_condition)
    if contact_sheet:
        by_id = {r.id: r for r in catalog.records}
        n = min(max_sheet, len(tensors.ids))
        pick = np.linspace(0, len(tensors.ids) - 1, n).round().astype(int)
        labels = [" ".join(str(by_id[tensors.ids[i]].attributes.get(a) or "NA") for a in catalog.default_condition) for i in pick]
        save_png(_sheet(tensors.images[pick].permute(0, 2, 3, 1).numpy(), labels), contact_sheet)
    return report


def _sheet(images: np.ndarray, labels: list[str], ncol: int = 8) -> Image.Image:
    n, h, w, _ = images.shape
    scale = max(1, 96 // w)
    tw, th = w * scale, h * scale
    cell_h = th + 12
    rows = (n + ncol - 1) // ncol
    sheet = Image.new("RGB", (ncol * (tw + 4) + 4, rows * (cell_h + 4) + 4), (220, 220, 220))
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for k in range(n):
        r, c = divmod(k, ncol)
        x, y = 4 + c * (tw + 4), 4 + r * (cell_h + 4)
        sheet.paste(Image.fromarray(images[k]).resize((tw, th), Image.NEAREST), (x, y))
        draw.text((x, y + th), labels[k][: tw // 6], fill=(0, 0, 0), font=font)
    return sheet
