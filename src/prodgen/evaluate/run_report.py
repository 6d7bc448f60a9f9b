"""An HTML page for a run: config, loss curves, the latest and earlier sample grids."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..atomic import write_bytes, write_text  # noqa: E402
from ..train.metrics_log import read_metrics  # noqa: E402


def save_figure(fig, out_png: str | Path) -> Path:
    """Lay out, write atomically as PNG and close a matplotlib figure."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_bytes(out_png, buf.getvalue())
    return Path(out_png)


def plot_metrics(records: list[dict], out_png: str | Path, title: str = "") -> Path | None:
    """Loss curves (one panel per logged term) against step; None when nothing was logged."""
    rows = [r for r in records if "event" not in r]
    keys = sorted({k for r in rows for k in r if k not in ("step", "elapsed_s", "images_per_s") and not k.startswith("eval/")})
    if not rows or not keys:
        return None
    cols = min(3, len(keys))
    nrows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 2.8 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_png)


def quality_records(records: list[dict]) -> list[dict]:
    """The periodic-evaluation records of a metrics log (``eval/fid`` and friends)."""
    return [r for r in records if "eval/fid" in r]


def plot_quality(records: list[dict], out_png: str | Path, title: str = "") -> Path | None:
    """FID-P and KID of the periodic evaluations against training CPU-minutes; None when there are none."""
    pts = quality_records(records)
    if not pts:
        return None
    minutes = [r["elapsed_s"] / 60 for r in pts]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(minutes, [r["eval/fid"] for r in pts], marker="o", ms=3, lw=1)
    axes[0].set_ylabel("FID-P (val split, lower is better)", fontsize=8)
    kid = [r["eval/kid_mean"] for r in pts]
    err = [r.get("eval/kid_std", 0.0) for r in pts]
    axes[1].errorbar(minutes, kid, yerr=err, marker="o", ms=3, lw=1, capsize=2)
    axes[1].set_ylabel("KID (+- std, both sides resampled)", fontsize=8)
    for ax in axes:
        ax.set_xlabel("training minutes (periodic evaluation excluded)", fontsize=8)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both")
    n = pts[-1].get("eval/n", "?")
    fig.suptitle(f"{title}: quality against training time (n={n} generated per point)" if title else
                 f"quality against training time (n={n} generated per point)", fontsize=10)
    return save_figure(fig, out_png)


def write_run_report(run_dir: str | Path, extra_images: Sequence[tuple[str, str | Path]] = (), out: str | Path | None = None) -> Path:
    """Write ``index.html`` (and ``loss.png``) in the run folder; returns the page's path."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "index.html"
    records = read_metrics(run_dir / "metrics.jsonl")
    loss_png = plot_metrics(records, run_dir / "loss.png", title=run_dir.name)
    quality_png = plot_quality(records, run_dir / "quality.png", title=run_dir.name)
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    samples = sorted((run_dir / "samples").glob("step-*.png"))
    last = [r for r in records if "images_per_s" in r]  # training throughput, periodic evaluation excluded
    speed = sum(r["images_per_s"] for r in last[-20:]) / max(1, len(last[-20:])) if last else None
    step = max((r["step"] for r in records), default=0)
    elapsed = max((r.get("elapsed_s", 0) for r in records), default=0)

    def img(src: Path | str, caption: str) -> str:
        rel = Path(src).resolve().relative_to(out.parent.resolve()) if Path(src).resolve().is_relative_to(out.parent.resolve()) else Path(src).resolve()
        return f'<figure><img src="{html.escape(str(rel))}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'

    parts = [f"<h1>prodgen run: {html.escape(run_dir.name)}</h1>",
             f"<p>model <b>{html.escape(str(config.get('model', '?')))}</b>, catalog <code>{html.escape(str(config.get('data', {}).get('catalog', '?')))}</code>, "
             f"{config.get('data', {}).get('resolution', '?')} px, step {step}, {elapsed / 60:.1f} training minutes"
             + (f", {speed:.0f} training images/s (last logs)" if speed else "") + "</p>"]
    for caption, path in extra_images:
        parts.append(img(path, caption))
    if samples:
        parts.append("<h2>Latest samples (EMA, fixed noise)</h2>" + img(samples[-1], samples[-1].name))
    if quality_png:
        last_q = quality_records(records)[-1]
        parts.append(f"<h2>Quality against training time</h2><p>Last periodic evaluation: FID-P {last_q['eval/fid']:.1f}, "
                     f"KID {last_q['eval/kid_mean']:.4f} at step {last_q['step']} (val split, n={last_q.get('eval/n')}; "
                     "`prodgen evaluate` gives the test-split figures with floors).</p>" + img(quality_png, "FID-P and KID against training minutes"))
    if loss_png:
        parts.append("<h2>Loss curves</h2>" + img(loss_png, "losses against step"))
    if len(samples) > 1:
        picks = samples[:: max(1, len(samples) // 4)][:4]
        parts.append("<h2>Progress</h2>" + "".join(img(p, p.name) for p in picks))
    parts.append("<h2>Config</h2><pre>" + html.escape(json.dumps(config, indent=2)) + "</pre>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>prodgen: " + html.escape(run_dir.name) + "</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "img{max-width:100%;image-rendering:pixelated}figure{display:inline-block;margin:0.5em}"
            "figcaption{font-size:0.85em;color:#555}pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    write_text(out, page)
    return out
