"""One page comparing several evaluated runs."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from ..atomic import write_text
from .report import metric_table


def write_compare_report(results: list[dict], out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for k, r in enumerate(results):
        name = Path(r["run"]).name
        shutil.copy(Path(r["out"]) / "samples.png", out / f"{k}-samples.png")
        parts.append(f"<h2>{html.escape(name)} ({html.escape(r['model'])})</h2>{metric_table(r)}"
                     f"<img src='{k}-samples.png'><p><a href='{html.escape(str(Path(r['out']).resolve() / 'report.html'))}'>full report</a></p>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>prodgen compare</title><style>body{font-family:sans-serif;"
            "max-width:1200px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 7px;"
            "font-size:0.9em}img{image-rendering:pixelated}</style></head><body><h1>prodgen compare</h1>"
            "<p>Same extractor, same held-out split and generated-image count for every run.</p>" + "".join(parts) + "</body></html>\n")
    write_text(out / "compare.html", page)
    return out / "compare.html"
