"""HTML report of an evaluation: metric table with floors, samples, nearest training neighbours."""

from __future__ import annotations

import html
from pathlib import Path

import torch

from ..atomic import write_text
from ..grid import save_grid

COLUMNS = [("n_gen", "n judged"), ("n_real", "n real"), ("fid", "FID-P"), ("kid_mean", "KID"), ("precision", "precision"),
           ("recall", "recall"), ("density", "density"), ("coverage", "coverage"), ("is_mean", "IS-P"),
           ("diversity_within_condition", "diversity (same first attribute)"),
           ("diversity_same_condition", "diversity (same condition)"), ("memorisation_ratio", "memorisation ratio"),
           ("near_copy_share", "near-copy share")]
ROW_NAMES = {"model": "model", "real_floor": "real vs real (floor)", "class_mean_baseline": "class-mean image (trivial)"}


def table_columns(results: list[dict]) -> list[tuple[str, str]]:
    """(key, label) of every figure any row of ``results`` has: the fixed columns, then accuracies per attribute."""
    keys = {k for r in results for row in r["rows"].values() for k in row}
    acc_cols = sorted(k for k in keys if k.startswith("acc/"))
    text_cols = sorted(k for k in keys if k.startswith("text_acc/"))
    prior_cols = sorted(k for k in keys if k.startswith("prior_text_acc/"))
    return (COLUMNS + [(k, f"cond. acc. {k[4:]}") for k in acc_cols]
            + ([("n_text", "n title-only")] if text_cols else []) + [(k, f"title-only acc. {k[9:]}") for k in text_cols]
            + ([("n_prior_text", "n title prior")] if prior_cols else [])
            + [(k, f"title prior acc. {k[15:]}") for k in prior_cols])


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    return f"{v:.4f}" if abs(v) < 1 else f"{v:.2f}"


def metric_table(result: dict) -> str:
    cols = table_columns([result])
    head = "".join(f"<th>{html.escape(n)}</th>" for _, n in cols)
    body = []
    for key, row in result["rows"].items():
        cells = []
        for k, _ in cols:
            v = row.get(k)
            text = _fmt(v)
            if k == "fid" and "fid_ci95_low" in row:
                text += f" <small>[{row['fid_ci95_low']:.2f}, {row['fid_ci95_high']:.2f}]</small>"
            if k == "kid_mean" and "kid_std" in row:
                text += f" <small>&plusmn; {row['kid_std']:.2g}</small>"
            cells.append(f"<td>{text}</td>")
        body.append(f"<tr><th>{html.escape(ROW_NAMES.get(key, key))}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def write_eval_report(out: Path, result: dict, fake, real, train, nn_idx: torch.Tensor, nn_dist: torch.Tensor,
                      pn_vocab, run_vocab, run_dir: Path | None = None) -> Path:
    from ..train.metrics_log import read_metrics
    from .run_report import plot_quality

    out.mkdir(parents=True, exist_ok=True)
    quality = ""
    if run_dir is not None and (run_dir / "metrics.jsonl").exists():
        if plot_quality(read_metrics(run_dir / "metrics.jsonl"), out / "quality.png"):
            quality = ("<h2>Quality against training time</h2><p>Periodic cheap evaluations during training "
                       "(val split, small n): read the trend, not single points.</p><img src='quality.png'>")
    to_float = lambda x: x.float() / 127.5 - 1  # noqa: E731
    save_grid(to_float(fake.images[:64]), out / "samples.png", 8)
    save_grid(to_float(real.images[:64]), out / "real.png", 8)
    k = len(nn_idx)
    pairs = torch.stack([t for i in range(k) for t in (fake.images[i], train.images[int(nn_idx[i])])])
    save_grid(to_float(pairs), out / "nearest.png", 8)
    closest = []
    for j, c in enumerate(result.get("closest_pairs", [])):
        save_grid(to_float(torch.stack([fake.images[c["generated"]], train.images[c["train"]]])), out / f"closest-{j}.png", 2)
        closest.append(f"<figure><img src='closest-{j}.png' width='192'><figcaption>distance {c['distance']:.3g}"
                       f"{' (near copy)' if c['distance'] <= result['near_copy_threshold'] else ''}<br>"
                       f"generated #{c['generated']} / training {html.escape(str(c['train_id']))}</figcaption></figure>")
    acc_rows = []
    seen_as = result.get("seen_as", {})  # absent from results written before it
    for attr, classes in result["per_class_accuracy"].items():
        model_seen, real_seen = (seen_as.get(key, {}).get(attr, {}) for key in ("model", "real_floor"))
        for name, (correct, total) in sorted(classes.items(), key=lambda kv: -kv[1][1]):
            real = real_seen.get(name, {})
            real_rate = f"{real.get(name, 0) / sum(real.values()):.2f} (of {sum(real.values())})" if real else ""
            missed = sorted(((k, q) for q, k in model_seen.get(name, {}).items() if q != name),
                            key=lambda kq: (-kq[0], kq[1]))[:3]
            taken = ", ".join(f"{html.escape(q)} {k}" for k, q in missed)
            acc_rows.append(f"<tr><td>{html.escape(attr)}</td><td>{html.escape(name)}</td><td>{correct}/{total}</td>"
                            f"<td>{correct / max(total, 1):.2f}</td><td>{real_rate}</td><td>{taken}</td></tr>")
    ex = result["extractor"]["heldout_accuracy"]
    ex_rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{v['accuracy']:.3f}</td><td>{v['majority_baseline']:.3f}</td>"
                      f"<td>{v['classes']}</td></tr>" for a, v in ex.items() if not a.startswith("_"))
    warn = "".join(f"<p class='warn'>{html.escape(w)}</p>" for w in result["warnings"])
    m_kid = int(result["rows"]["model"]["kid_subset_size"])
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>prodgen evaluation</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 7px;font-size:0.9em;text-align:right}}img{{image-rendering:pixelated;max-width:100%}}
.warn{{color:#a40}}figure{{display:inline-block;margin:0.5em}}</style></head><body>
<h1>Evaluation of {html.escape(result['run'])} ({html.escape(result['model'])})</h1>
<p>Every row judges <b>n judged</b> images against the same <b>n real</b> = {result['n_real']} held-out photos of the
<b>{html.escape(result['split'])}</b> split: the model's {result['n_generated']} generated images (conditions of the
{html.escape(result['split'])} items, cycled), {result['n_floor']} of the {result['n_floor_available']}
<b>{html.escape(result['floor_split'])}</b> photos for the floor, and one class-mean training image per generated image.
FID falls as n grows (KID is unbiased, only noisier at small n): compare rows and runs at the same n. Features: ProductNet at
{result['extractor']['resolution']} px, trained on the catalog's train split ({result['n_train']} photos). FID-P with a 95%
bootstrap interval for the expected FID at these n (real and judged images resampled, {result['n_boot']} replicates);
KID &plusmn; the spread of one estimate from {m_kid} real and {m_kid} judged images (both sides resampled).
Sampling: {result['sampling_images_per_s']} images/s on {html.escape(result['device'])}.
Evaluation took {result['seconds']} s.</p>{warn}
{metric_table(result)}
<p>Sampling options: {html.escape(str(result.get('sampling') or 'defaults'))}; text encoder: {html.escape(str(result.get('text_encoder')))}.
"Title-only acc." columns: images generated from held-out titles alone (attributes left unspecified), checked against those items' attributes.</p>
<p>Lower is better for FID-P and KID; higher for precision, recall, density, coverage and conditional accuracy. The floor row is
what two samples of real photos score against each other; a model cannot be expected to beat it. A memorisation ratio well below 1
means generated images sit closer to training photos than new real photos do. A mean can hide a few copies: the near-copy share
is the share of judged images no farther from a training photo than {result['near_copy_threshold']:.3g}, the 1st percentile of the
{result['n_real']} held-out photos' distances to their nearest training photo; about 0.01 for images as new as those photos
(the floor row shows it for real photos), higher when some images copy training photos.</p>
<figure><img src="samples.png"><figcaption>generated (conditions of held-out items)</figcaption></figure>
<figure><img src="real.png"><figcaption>held-out real photos</figcaption></figure>
{quality}
<h2>Closest to the training set</h2><p>The {len(closest)} generated images nearest to a training photo (of
{result['n_generated']}), nearest first: generated image, then that training photo, with their ProductNet distance.</p>
{''.join(closest)}
<h2>Nearest training image</h2><p>Pairs: the first {k} generated images, each followed by its nearest training photo in
ProductNet space.</p>
<img src="nearest.png">
<h2>Conditional accuracy per class</h2><p>Generated images of each class, ProductNet's rate on the floor's real photos
of that class, and what the missed generated images were taken for (most often first).</p><table><tr><th>attribute</th>
<th>class</th><th>correct</th><th>rate</th><th>real photos' rate</th><th>missed, taken for</th></tr>{''.join(acc_rows)}</table>
<h2>Feature extractor</h2><table><tr><th>head</th><th>held-out accuracy</th><th>majority class</th><th>classes</th></tr>{ex_rows}</table>
</body></html>
"""
    write_text(out / "report.html", page)
    return out / "report.html"
