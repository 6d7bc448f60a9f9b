"""Collect `prodgen evaluate` results of several runs into one results JSON, which
bench/render_readme.py turns into README tables.

    .venv/bin/python bench/eval_table.py --out bench/results/headline.json --features runs/productnet64 \\
        --row gan64 runs/gan64 "prodgen gan, 25 min" --row vae64 runs/vae64 "prodgen vae" \\
        --row dcgan bench/results/real-catalog/dcgan-peer-metrics.json "pytorch/examples DCGAN, 25 min" \\
        --highlight gan64 --unconditional dcgan --command "bash bench/headline_eval.sh"

Each ``--row NAME SOURCE LABEL``: SOURCE is a run folder (its latest
``eval/<stamp>/metrics.json``), an evaluation folder holding ``metrics.json``, a
``metrics.json`` written by ``prodgen evaluate``, a run folder with ``::split=val[,guidance=3]`` after it (its
latest evaluation with those settings; ``sampling=default``: none given), or the JSON printed by
``bench/evaluate_images.py`` (a ``row`` of metrics, for peers' images). Run
folders also contribute their training figures (steps, minutes, median
training images/s, epochs) from ``metrics.jsonl``. The real-vs-real floor and the
per-category mean-image baseline come from the first row that has them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import command_line, machine_info  # noqa: E402


def find_metrics(source: Path, want: dict | None = None) -> Path:
    """The metrics.json of ``source``; for a run folder, its latest evaluation whose metrics.json matches ``want``
    (e.g. {"split": "val", "guidance": 3.0}: top-level keys, or keys of its sampling options). An evaluation of
    picked images (``evaluate --best-of K``) matches only a ``want`` that names ``best_of``."""
    if source.is_file():
        return source
    if (source / "metrics.json").exists():
        return source / "metrics.json"
    evals = sorted((source / "eval").glob("*/metrics.json"))
    want = want or {}

    def same(a, b) -> bool:
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return str(a) == str(b)

    def matches(path: Path) -> bool:
        d = json.loads(path.read_text())
        if "best_of" not in want and d.get("best_of", 1) != 1:  # picked images only when asked (best_of=4)
            return False
        return all(not d.get("sampling") if k == "sampling" and v == "default" else
                   same(d.get(k, (d.get("sampling") or {}).get(k)), v) for k, v in want.items())

    evals = [e for e in evals if matches(e)]
    if not evals:
        sys.exit(f"{source}: no evaluation{' with ' + str(want) if want else ''} found (run `prodgen evaluate {source} ...` first)")
    return evals[-1]


def parse_source(source: str) -> tuple[Path, dict]:
    """``runs/x`` or ``runs/x::split=val,guidance=3.0`` (the latest evaluation of runs/x with those settings)."""
    path, _, spec = source.partition("::")
    want = dict(kv.split("=", 1) for kv in spec.split(",") if kv) if spec else {}
    for k, v in want.items():
        try:
            want[k] = float(v) if k != "split" else v
        except ValueError:
            pass
    return Path(path), want


def train_stats(run: Path) -> dict | None:
    """Steps, minutes, median training images/s and epochs of a run folder (None if it is not one)."""
    log = run / "metrics.jsonl"
    if not log.exists():
        return None
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    recs = [r for r in recs if "step" in r]
    last = max(recs, key=lambda r: (r["step"], r.get("elapsed_s", 0)))
    speeds = [r["images_per_s"] for r in recs if "images_per_s" in r]
    cfg = json.loads((run / "config.json").read_text())
    batch = cfg.get("train", {}).get("batch_size")
    n_train = len(json.loads((run / "split.json").read_text())["train"]) if (run / "split.json").exists() else None
    out = {"steps": last["step"], "minutes": round(last.get("elapsed_s", 0) / 60, 1), "batch": batch,
           "images_per_s_median": round(statistics.median(speeds), 1) if speeds else None, "n_train": n_train}
    if batch and n_train:
        out["epochs"] = round(last["step"] * batch / n_train, 1)
    return out


def collect(rows: list[tuple[str, str, str]], highlight: list[str], unconditional: list[str],
            per_class: list[str] = ()) -> dict:
    result: dict = {"rows": []}
    for name, source, label in rows:
        src, want = parse_source(source)
        path = find_metrics(src, want)
        data = json.loads(path.read_text())
        row = {"name": name, "label": label, "source": str(path)}
        if "rows" in data:  # prodgen evaluate
            row.update(run=data["run"], model=data["model"], sampling=data.get("sampling") or {},
                       n_generated=data["n_generated"], metrics=data["rows"]["model"], eval_seconds=data.get("seconds"))
            if per_class:  # (right, asked) per class of these attributes, from the evaluation's own count
                have = data.get("per_class_accuracy") or {}
                missing = [a for a in per_class if a not in have]
                if missing:
                    sys.exit(f"{path}: no per-class accuracy for {', '.join(missing)} (it has: {', '.join(have) or 'none'})")
                row["per_class_accuracy"] = {a: have[a] for a in per_class}
                seen = data.get("seen_as") or {}  # what each class was taken for (evaluations since session 31)
                if seen:
                    row["seen_as"] = {key: {a: by[a] for a in per_class if a in by} for key, by in seen.items()}
            for key in ("split", "n_real", "n_floor"):
                result.setdefault(key, data.get(key))
            result.setdefault("real_floor", data["rows"].get("real_floor"))
            result.setdefault("class_mean_baseline", data["rows"].get("class_mean_baseline"))
            ext = data.get("extractor") or {}
            if ext and "features" not in result:
                acc = dict(ext.get("heldout_accuracy") or {})
                result["features"] = {"resolution": ext.get("resolution"), "fit_seconds": acc.pop("_fit_seconds", None),
                                      "n_train": acc.pop("_n_train", None), "n_test": acc.pop("_n_test", None),
                                      "heldout_accuracy": acc}
        elif "row" in data:  # bench/evaluate_images.py
            row.update(n_generated=data.get("n_generated"), metrics=data["row"])
        else:
            sys.exit(f"{path}: neither a `prodgen evaluate` metrics.json nor a bench/evaluate_images.py result")
        run_dir = src if src.is_dir() and (src / "config.json").exists() else None
        if run_dir is not None and (stats := train_stats(run_dir)):
            row["train"] = stats
        if name in highlight:
            row["highlight"] = True
        if name in unconditional:
            row["unconditional"] = True
        result["rows"].append(row)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--row", nargs=3, action="append", metavar=("NAME", "SOURCE", "LABEL"))
    ap.add_argument("--find", metavar="SOURCE", help="print the metrics.json SOURCE names and exit (1: none yet)")
    ap.add_argument("--out", help="results JSON to write")
    ap.add_argument("--features", help="the ProductNet run every row was measured with (recorded)")
    ap.add_argument("--highlight", nargs="*", default=[], help="row names shown in bold")
    ap.add_argument("--unconditional", nargs="*", default=[], help="row names without conditional accuracy")
    ap.add_argument("--per-class", nargs="*", default=[], metavar="ATTR",
                    help="keep each row's per-class accuracy (right, asked) of these attributes and, where the "
                         "evaluation has it, what each class was taken for (seen_as)")
    ap.add_argument("--command", help="the command that produced the evaluations (default: this one)")
    ap.add_argument("--note", help="machine note (default: detected load)")
    args = ap.parse_args()
    if args.find:
        print(find_metrics(*parse_source(args.find)))
        return
    if not args.row or not args.out:
        ap.error("--row (one or more) and --out are needed to collect a table")
    result = {"command": args.command or command_line(), "collected_by": command_line(), "machine": machine_info(args.note)}
    result.update(collect(args.row, args.highlight, args.unconditional, args.per_class))
    if args.features:
        result.setdefault("features", {})["run"] = args.features
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out} ({len(result['rows'])} rows); now: python bench/render_readme.py")


if __name__ == "__main__":
    main()
