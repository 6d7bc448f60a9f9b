"""Render README.md's result tables and figures from the results files in bench/results/.

    python bench/render_readme.py            # rewrite the tables and figures in README.md in place
    python bench/render_readme.py --check    # exit 1 and list every table / figure that differs from its results file
    python bench/render_readme.py --list     # which table and figure comes from which file

Tables sit between markers in README.md::

    <!-- table: NAME -->
    | ... |
    <!-- /table -->

and everything between them is generated from the file(s) TABLES[NAME] names
(indentation of the opening marker is kept, so a table can sit in a list item).
Figures in the prose are bound by FIGURES: a sentence template whose ``{fields}``
are numbers taken from a results file; the renderer finds the sentence (any
whitespace matches any whitespace) and rewrites only the numbers.

Standard library only, so the test suite can run ``--check`` cheaply.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"

_cache: dict[str, dict] = {}


def R(name: str) -> dict:
    """A results file, relative to bench/results/."""
    if name not in _cache:
        _cache[name] = json.loads((RESULTS / name).read_text())
    return _cache[name]


# ---------------------------------------------------------------- formatting

def f(v, spec: str = ".2f") -> str:
    if v is None:
        return ""
    return format(v, spec)


def comma(v, digits: int = 0) -> str:
    return format(v, f",.{digits}f")


def num(v) -> str:
    """1.0 -> '1', 2.5 -> '2.5'."""
    return str(int(v)) if float(v).is_integer() else str(v)


def md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def md_table(header: list[str], rows: list[list[str]], sep: str = "---") -> list[str]:
    return [md_row(header), md_row([sep] * len(header)), *(md_row(r) for r in rows)]


def ms(v: float) -> str:
    """Milliseconds: '<0.1', one decimal below 1 ms, else whole."""
    return "<0.1" if v < 0.1 else f"{v:.1f}" if v < 1 else f"{v:.0f}"


# ---------------------------------------------------------------- evaluation tables (bench/eval_table.py format)

def row_by_name(res: dict, name: str) -> dict:
    for r in res["rows"]:
        if r["name"] == name:
            return r
    raise KeyError(f"no row {name!r} in results (rows: {[r['name'] for r in res['rows']]})")


LOWER, HIGHER = -1, 1


def eval_table(res: dict, names: list[str] | None, cols: list[tuple[str, str, str, int]], first: str,
               train_col: bool = False, first_empty: bool = False) -> list[str]:
    """Rows: floor, the model rows, the per-category mean image. cols: (metric key, header, format, direction).
    A highlighted row is bold (its label, and each value in which it beats every other non-floor row)."""
    rows = [r for r in res["rows"] if names is None or r["name"] in names]
    if names is not None:
        rows.sort(key=lambda r: names.index(r["name"]))
    base = res.get("class_mean_baseline") or {}
    header = [first, "n"] + (["steps"] if train_col else []) + [c[1] for c in cols]
    body = []

    def cell(m: dict, key: str, spec: str) -> str:
        v = m.get(key)
        out = "" if v is None else format(v, spec)
        if key == "fid" and out and m.get("fid_ci95_low") is not None:
            out += f" ({m['fid_ci95_low']:.1f}-{m['fid_ci95_high']:.1f})"
        return out

    floor = res.get("real_floor") or {}
    body.append(["real vs real (floor)", str(floor.get("n_gen", ""))] + ([""] if train_col else [])
                + [cell(floor, k, s) for k, _, s, _ in cols])
    for r in rows:
        m = r["metrics"]
        label = r["label"]
        if r.get("sampling"):
            s = r["sampling"]
            label += ", " + ", ".join(f"{num(v)} steps" if k == "steps" else f"{k} {num(v)}" for k, v in s.items())
        cells = []
        for key, _, spec, direction in cols:
            if r.get("unconditional") and key.startswith(("acc/", "text_acc/")):
                cells.append("n/a (unconditional)" if not any(c.startswith("n/a") for c in cells) else "n/a")
                continue
            text = cell(m, key, spec)
            if r.get("highlight") and direction and m.get(key) is not None:
                others = [o["metrics"].get(key) for o in rows if o is not r] + [base.get(key)]
                others = [o for o in others if o is not None]
                if all((m[key] - o) * direction > 0 for o in others):
                    text = text.replace(format(m[key], spec), f"**{format(m[key], spec)}**", 1)
            cells.append(text)
        if r.get("highlight"):
            label = f"**{label}**"
        t = r.get("train") or {}
        steps = comma(t["steps"]) if t.get("steps") is not None else ""
        body.append([label, str(r.get("n_generated", ""))] + ([steps] if train_col else []) + cells)
    body.append(["per-category mean image (trivial)", str(base.get("n_gen", ""))] + ([""] if train_col else [])
                + [cell(base, k, s) for k, _, s, _ in cols])
    if first_empty:
        header[0] = ""
    return md_table(header, body)


def t_headline() -> list[str]:
    cols = [("fid", "FID-P (95% CI)", ".1f", LOWER), ("kid_mean", "KID", ".2f", LOWER),
            ("precision", "precision", ".2f", HIGHER), ("recall", "recall", ".2f", HIGHER),
            ("density", "density", ".2f", HIGHER), ("coverage", "coverage", ".2f", HIGHER),
            ("acc/articleType", "cond. acc. articleType", ".2f", HIGHER),
            ("acc/baseColour", "cond. acc. baseColour", ".2f", HIGHER),
            ("memorisation_ratio", "memorisation ratio", ".2f", 0)]
    return eval_table(R("headline.json"), ["gan64", "dcgan"], cols, "", first_empty=True)


def t_quality(name: str) -> list[str]:
    """bench/quality_runs.sh: issue 13's changed runs beside the runs they change (val: choices; test: read once)."""
    cols = [("fid", "FID-P (95% CI)", ".1f", LOWER), ("coverage", "coverage", ".3f", HIGHER),
            ("acc/articleType", "cond. acc. articleType", ".3f", HIGHER),
            ("acc/baseColour", "cond. acc. baseColour", ".3f", HIGHER),
            ("text_acc/articleType", "title-only articleType", ".3f", HIGHER),
            ("text_acc/baseColour", "title-only baseColour", ".3f", HIGHER),
            ("prior_text_acc/articleType", "title prior articleType", ".3f", HIGHER),
            ("prior_text_acc/baseColour", "title prior baseColour", ".3f", HIGHER),
            ("diversity_within_condition", "diversity (same articleType)", ".1f", 0),
            ("diversity_same_condition", "diversity (same condition)", ".1f", 0), ("near_copy_share", "near copies", ".3f", 0)]
    return eval_table(R(f"quality/{name}"), None, cols, "run")


SEED_COLS = [("fid", "FID-P (95% CI)", ".1f", 0), ("coverage", "coverage", ".3f", 0),
             ("acc/articleType", "cond. acc. articleType", ".3f", 0), ("acc/baseColour", "cond. acc. baseColour", ".3f", 0),
             ("diversity_within_condition", "diversity (same articleType)", ".1f", 0),
             ("diversity_same_condition", "diversity (same condition)", ".1f", 0), ("near_copy_share", "near copies", ".3f", 0)]


def t_truncation(name: str) -> list[str]:
    """bench/truncation_sweep.sh: one run at several truncations (val: the choice; test: the chosen one, read once);
    bench/ema_sweep.sh: runs with their weights averaged over several lengths (val)."""
    return eval_table(R(f"quality/{name}"), None, SEED_COLS, "run")


def t_families() -> list[str]:
    cols = [("fid", "FID-P", ".1f", 0), ("kid_mean", "KID", ".2f", 0), ("precision", "precision", ".3f", 0),
            ("recall", "recall", ".3f", 0), ("coverage", "coverage", ".3f", 0),
            ("acc/articleType", "cond. acc. articleType", ".3f", 0), ("acc/baseColour", "cond. acc. baseColour", ".3f", 0),
            ("text_acc/articleType", "title-only articleType", ".3f", 0),
            ("text_acc/baseColour", "title-only baseColour", ".3f", 0),
            ("memorisation_ratio", "memorisation", ".2f", 0)]  # sampling speed: its own idle table (diffusion_speed)
    return eval_table(R("families/families.json"), None, cols, "run", train_col=True)


def t_pair_speed() -> list[str]:
    """bench/pair_speed.py (via bench/bf16_cpu.sh speed): fp32 and bf16 side by side, one core each, two batch sizes."""
    lines, body = [], []
    for name in ("quality/bf16_speed.json", "quality/bf16_speed_b32.json"):
        res = R(name)
        m = res["machine"]
        batch = "32" if name.endswith("_b32.json") else "64"
        rows = res["rows"]
        for r in rows:
            body.append([batch, r["variant"], f"{r['images_per_s']}", f"{r['images_per_s'] / rows[0]['images_per_s']:.2f}x"])
        reps = f", each pair run {len(rows[0]['per_repeat'])} times (mean)" if "per_repeat" in rows[0] else ""
        lines.append(f"`{res['command']}` ({m['cpu']}, {m['date']}; {m['note']}; {res['steps']} steps each{reps})")
    header = ["batch", "precision", "images/s (each of two side by side)", "vs fp32"]
    return ["Commands: " + "; ".join(lines) + ".", "", md_row(header), "|" + "|".join("---" for _ in header) + "|",
            *(md_row(r) for r in body)]


def t_variant_speed(*names: str) -> list[str]:
    """bench/pair_speed.py results: the default recipe (first row) and one variant side by side, one core each."""
    lines, body = [], []
    for name in names:
        res = R(name)
        m, rows = res["machine"], res["rows"]
        for r in rows:  # each file its own default row: the ratio is to the run beside it
            body.append([r["variant"], f"{r['images_per_s']}", f"{r['images_per_s'] / rows[0]['images_per_s']:.3f}x"])
        lines.append(f"`{res['command']}` ({m['cpu']}, {m['date']}; {m['note']}; {res['steps']} steps each)")
    header = ["variant", "images/s (each of two side by side)", "vs the default beside it"]
    return ["Commands: " + "; ".join(lines) + ".", "", md_row(header), "|" + "|".join("---" for _ in header) + "|",
            *(md_row(r) for r in body)]


def t_bf16_probe(*names: str) -> list[str]:
    """bench/bf16_probe.py: the timing probe behind --precision auto, read afresh, beside the whole step's ratio (one
    row per results file, i.e. per machine)."""
    header = ["CPU (cpuinfo vendor, family, model, name; torch's capability)", "AMX", "bf16 kernels",
              "probe reads (fp32 / bf16 time)", "threshold", "auto picks", "whole recipe step, bf16 / fp32"]
    lines, body = [], []
    for name in names or ("quality/bf16_probe_avx512.json",):
        res = R(name)
        m = res["machine"]
        lines.append(f"`{res['command']}` ({m['cpu']}, {m['date']}; {m['note']})")
        body.append([res["cpu_identity"].rsplit(" | torch", 1)[0].replace(" | ", ", "), "yes" if res["amx"] else "no",
                     "yes" if res["bf16_kernels"] else "no", " / ".join(f"{v:.2f}" for v in res["probe_reads"]),
                     f"{res['threshold']}", "bf16" if res["auto_picks_bf16"] else "fp32", f"{res['step_ratio']:.2f}x"])
    return [("Command: " if len(lines) == 1 else "Commands: ") + "; ".join(lines) + ".", "", md_row(header),
            "|" + "|".join("---" for _ in header) + "|", *(md_row(r) for r in body)]


def t_seed_pair(*names: str) -> list[str]:
    """Several recipe_variants25.sh results files of one split as one table (their commands listed; each file's floor
    and mean-image rows are the same split's, so the last file's are shown)."""
    runs = [R(f"quality/{n}") for n in names]
    lines = [f"`{res['command']}` ({res['machine']['cpu']}, {res['machine']['date']}; evaluation on "
             f"{res['machine'].get('note', 'this machine')})" for res in runs]
    rows = [r for res in runs for r in res["rows"]]
    return [("Command: " if len(lines) == 1 else "Commands: ") + "; ".join(lines) + ".", "",
            *eval_table({**runs[-1], "rows": rows}, None, SEED_COLS, "run")]


def t_d_pick(name: str) -> list[str]:
    """bench/d_pick_screen.py: runs judged on their own samples and on the best of m by their discriminator."""
    res = R(f"quality/{name}")
    m = res["machine"]
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    header = ["run", "best of m by D", "n", "FID-P (95% CI)", "coverage", "cond. acc. articleType",
              "cond. acc. baseColour", "diversity (same articleType)", "diversity (same condition)", "near copies",
              "images/s (generation)"]
    body = []
    fl = res["real_floor"]
    body.append(["real vs real (floor)", "", str(res["rows"][0]["n"]),
                 f"{fl['fid']:.1f} ({fl['fid_ci95_low']:.1f}-{fl['fid_ci95_high']:.1f})", fmt(fl["coverage"], ".3f"),
                 fmt(fl["acc/articleType"], ".3f"), fmt(fl["acc/baseColour"], ".3f"),
                 fmt(fl["diversity_within_condition"], ".1f"), fmt(fl["diversity_same_condition"], ".1f"),
                 fmt(fl["near_copy_share"], ".3f"), ""])
    for r in res["rows"]:
        body.append([Path(r["run"]).name, str(r["m"]), str(r["n"]),
                     f"{r['fid']:.1f} ({r['fid_ci95_low']:.1f}-{r['fid_ci95_high']:.1f})", fmt(r["coverage"], ".3f"),
                     fmt(r["acc/articleType"], ".3f"), fmt(r["acc/baseColour"], ".3f"),
                     fmt(r["diversity_within_condition"], ".1f"), fmt(r["diversity_same_condition"], ".1f"),
                     fmt(r["near_copy_share"], ".3f"), fmt(r["images_per_s"], ".0f")])
    return [f"Command: `{res['command']}` ({m['cpu']}, {m['date']}; {m['note']}).", "", *md_table(header, body)]


def t_grow_screen(*variants: str) -> list[str]:
    """bench/grow_screen.sh (and bcr_screen.sh, feature_d_screen.sh): the fp32 recipe and variants at equal CPU time,
    val, one table (default variant: growing's)."""
    rec, runs = R("quality/grow_screen_recipe_val.json"), [R(v) for v in variants or ["quality/grow_screen_grow_val.json"]]
    cols = [c for c in SEED_COLS if c[0] != "diversity_within_condition"]
    lines = []
    for res in runs:
        m = res["machine"]
        lines.append(f"`{res['command']}` ({m['cpu']}, {m['date']}; evaluation on {m.get('note', 'this machine')})")
    rows = rec["rows"] + [r for res in runs for r in res["rows"]]
    return [("Command: " if len(lines) == 1 else "Commands: ") + "; ".join(lines) + ".", "",
            *eval_table({**runs[-1], "rows": rows}, None, cols, "run")]


def t_step_kernels() -> list[str]:
    """bench/step_kernels.py: the old and the new way of three computations of the GAN's step, one thread."""
    res = R("quality/step_kernels.json")
    m = res["machine"]
    header = ["computation", "old", "ms", "new", "ms"]
    return [f"Command: `{res['command']}` ({m['cpu']}, {m['date']}; one thread).", "", md_row(header),
            "|" + "|".join("---" for _ in header) + "|",
            *(md_row([r["what"], r["old"], f"{r['old_ms']:.2f}", r["new"], f"{r['new_ms']:.2f}"]) for r in res["rows"])]


# ---------------------------------------------------------------- other tables

def speed_for(steps: int, guidance: float) -> str:
    rows = R("diffusion_speed.json")["rows"]
    for r in rows:
        if r["steps"] == steps and r["guidance"] == guidance:
            return f"{r['images_per_s']}"
    evals = steps * (2 if guidance > 1 else 1)  # guidance > 1 runs the conditional and the unconditional pass
    same = sorted((r for r in rows if r["network_evals_per_image"] == evals), key=lambda r: r["steps"] != steps)
    return f"~{same[0]['images_per_s']}" if same else ""


def t_diffusion_sweep() -> list[str]:
    res = R("families/diffusion_sweep.json")
    n = res["rows"][0]["n_generated"]
    body = []
    for r in res["rows"]:
        s, m = r["sampling"], r["metrics"]
        body.append([str(s["steps"]), num(s["guidance"]), f"{m['fid']:.0f}",
                     f"{m['acc/articleType']:.3f} / {m['acc/baseColour']:.3f}", speed_for(s["steps"], s["guidance"])])
    return md_table(["steps", "guidance", f"FID-P (n={n})", "cond. acc. articleType / baseColour",
                     "images/s (idle, 2 threads)"], body)


def t_diffusion_speed() -> list[str]:
    body = [[str(r["steps"]), f"{r['guidance']:.1f}", str(r["network_evals_per_image"]), f"{r['gflop_per_image']:.2f}",
             f"{r['images_per_s']}"] for r in R("diffusion_speed.json")["rows"]]
    return md_table(["steps", "guidance", "network evaluations / image", "GFLOP / image", "images/s"], body)


def t_eval_cost() -> list[str]:
    res = R("eval_cost.json")
    n = res["rows"][0]["n"]
    body = []
    for r in res["rows"]:
        p = r["periodic"]
        body.append([Path(r["run"]).name, f"{r['cold_s']} s", f"{r['warm_s']} s",
                     f"{r['cold_rss_mib']} / {r['warm_rss_mib']} MiB",
                     f"{p['seconds']:.1f} s (+{p['setup_s']:.1f} s set-up once)"])
    return md_table(["run", f"`prodgen evaluate --n {n}` cold (empty feature cache)", "warm", "peak RSS cold / warm",
                     f"periodic eval (`--eval-every`, n={res['rows'][0]['periodic']['n']})"], body)


TASKS = {"upscale2": "super-resolution x2", "upscale4": "super-resolution x4", "denoise": "denoise (sigma 5-50)",
         "deblur": "deblur (sigma 0.7-2 px)", "jpeg": "JPEG q10-40", "inpaint": "inpaint a sticker"}
BASELINES = {"bicubic": "bicubic", "median3": "3x3 median", "unsharp": "unsharp mask", "identity": "identity (no filter helped)",
             "harmonic": "harmonic fill", "gaussian": "gaussian blur", "bm3d": "BM3D", "wiener": "Wiener deconvolution",
             "richardson-lucy": "Richardson-Lucy", "lanczos": "Lanczos", "lanczos + unsharp": "Lanczos + unsharp mask",
             "opencv telea": "OpenCV Telea", "opencv navier-stokes": "OpenCV Navier-Stokes"}


def _restore_rows(condition: str) -> list[dict]:
    """apps.json restoration rows of one condition ("seen": the training degradations; rows without one are seen)."""
    return [r for r in R("apps.json")["restore"]["rows"] if r.get("condition", "seen") == condition]


def _baseline_label(r: dict) -> str:
    name = BASELINES.get(r["baseline_name"], r["baseline_name"])
    params = r.get("baseline_params") or {}
    return f"{name} ({', '.join(f'{k} {v}' for k, v in params.items())})" if params else name


def t_restoration() -> list[str]:
    speed = R("apps.json").get("restore_speed", {})
    body = []
    for r in _restore_rows("seen"):
        net, bl = r["network"], r["baseline"]
        p = f"{net['psnr']:.2f}"
        if net["psnr"] > bl["psnr"]:
            p = f"**{p}**"
        t = r["task"]
        sp = ""
        if t in speed.get("ms_per_photo", {}):
            sp = f"{ms(speed['ms_per_photo'][t])} / {ms(speed['ms_per_photo_classical'][t])}"
        body.append([TASKS.get(t, t), f"{p} / {net['ssim']:.3f}", _baseline_label(r),
                     f"{bl['psnr']:.2f} / {bl['ssim']:.3f}", f"{net['psnr'] - bl['psnr']:+.2f} dB", sp])
    new = all("condition" in r for r in _restore_rows("seen"))  # older results: cheap baselines, picked on test photos
    return md_table(["task", "prodgen PSNR / SSIM", "best baseline (tuned and chosen on validation photos)" if new else
                     "best baseline (OLD protocol: cheap methods, picked on test photos; rerun the bench)",
                     "baseline PSNR / SSIM", "gain", "ms per 224x224 photo (network / cheap classical start)"], body)


def t_restoration_unseen() -> list[str]:
    rows = _restore_rows("unseen")
    if not rows:
        return ["(not measured yet: `bench/apps_bench.py --parts restore` on a run made by this version)"]
    body = []
    for r in rows:
        net, bl = r["network"], r["baseline"]
        p = f"{net['psnr']:.2f}"
        if net["psnr"] > bl["psnr"]:
            p = f"**{p}**"
        body.append([TASKS.get(r["task"], r["task"]).split(" (")[0], r.get("degradation", ""), f"{p} / {net['ssim']:.3f}",
                     _baseline_label(r), f"{bl['psnr']:.2f} / {bl['ssim']:.3f}", f"{net['psnr'] - bl['psnr']:+.2f} dB"])
    return md_table(["task", "unseen degradation", "prodgen PSNR / SSIM", "best baseline (tuned on validation photos)",
                     "baseline PSNR / SSIM", "gain"], body)


RECOLOUR = [("masked recolour", "masked recolour (no model)"), ("vae edit", "VAE edit (encode, decode with the new colour)"),
            ("diffusion edit", "diffusion edit (SDEdit)"), ("gan edit", "GAN edit (inversion, regenerate)")]


def t_recolour() -> list[str]:
    body = []
    for r in R("apps.json")["recolour"]["rows"]:
        label = next((lab for key, lab in RECOLOUR if r["method"].startswith(key)), r["method"])
        body.append([label, f"{r['new_colour_rate']:.3f}", f"{r['category_kept_rate']:.3f}", f"{r['ms_per_image']:.1f}"])
    return md_table(["method", "new colour seen", "article type unchanged", "ms per image"], body)


def t_train_speed() -> list[str]:
    res = R("train_speed.json")
    m = res["machine"]
    note = f" ({m['note']})" if m.get("note") else ""
    lines = [f"Machine: {m['cpu_threads']} torch threads, torch {m['torch']}, fp32 matmul peak {m['fp32_matmul_peak_gflops']} "
             f"GFLOP/s (2048^2 sgemm, same script). Command: `{res['command']}`{note}.", ""]
    body = [[r["model"], str(r["resolution"]), f"{r['params_M']}", f"{r['train_images_per_s']}", f"{r['train_gflop_per_image']}",
             f"{r['train_gflops_achieved']}", f"{r['share_of_matmul_peak']:.0%}", f"{r['sample_images_per_s']}",
             f"{r['peak_rss_MiB']:.0f}"] for r in res["rows"]]
    header = ["model", "px", "params (M)", "train img/s", "GFLOP/img (train step)", "achieved GFLOP/s", "share of matmul peak",
              "sample img/s", "peak RSS (MiB)"]
    return lines + [md_row(header), "|" + "|".join("---" for _ in header) + "|", *(md_row(r) for r in body)]


def t_studio_load(name: str = "studio_load.json") -> list[str]:
    res = R(name)
    s, j, m = res["settings"], res["jobs"], res["machine"]
    who = "1 client" if s["clients"] == 1 else f"{s['clients']} concurrent clients"
    lines = [f"{who}, {comma(res['requests'])} requests in {res['duration_s']:.1f} s "
             f"({res['requests_per_s']:.0f} requests/s), `prodgen serve` with {s['workers']} worker processes and a queue "
             f"limit of {s['queue_limit']}, loopback, clients on the same {m['cores']}-core {m['cpu']}. "
             f"Command: `{res['command']}`.", ""]
    body = []
    for e in res["endpoints"].values():
        if e["count"]:
            st = ", ".join(f"{c}: {n}" for c, n in sorted(e["statuses"].items()))
            body.append([e["route"], comma(e["count"]), f"{e['p50_ms']:.0f}", f"{e['p99_ms']:.0f}", st])
    lines += md_table(["endpoint", "requests", "p50 ms", "p99 ms", "answers"], body)
    states = ", ".join(f"{n} {k}" for k, n in sorted(j["final_states"].items()))
    lines += ["", f"Jobs: {j['accepted']} accepted, {res['rejected_429']} submissions answered 429 with Retry-After "
                  f"(queue full), none dropped; {j['drain_s']:.0f} s after the load: {states}; lost {len(j['lost'])}, "
                  f"run twice {len(j['run_twice'])}, claimed twice {len(j['claimed_more_than_once'])}, jobs in the "
                  f"database that were never accepted {j['not_accepted_but_in_database']}."]
    return lines


def t_studio_faults() -> list[str]:
    res = R("studio_faults.json")
    body = [[r["what"], r["outcome"], f"{r['seconds']:.1f}"] for r in res["tests"]]
    return ([f"{res['passed']} of {res['total']} passed. Command: `{res['command']}` ({res['machine']['cpu']}).", ""]
            + md_table(["fault (test in `tests/studio/`)", "result", "seconds"], body))


def _machine_cmd(res: dict) -> str:
    m = res["machine"]
    note = f"; {m['note']}" if m.get("note") else ""
    return f"Command: `{res['command']}` ({m['cores']}-core {m['cpu']}{note})."


def t_scale_speed() -> list[str]:
    res = R("scale_speed.json")
    body = []
    for r in res["rows"]:
        if "error" in r:
            body.append([r["family"], r["variant"], "failed: " + r["error"].strip().splitlines()[-1][:80], "", ""])
        else:
            body.append([r["family"], r["variant"], f"{r['images_per_s']:.0f}", f"{r.get('speedup_vs_fp32', 1.0):.2f}x",
                         f"{r['final_loss']:.4f}"])
    return ([f"`prodgen train` on the synthetic catalog, {res['resolution']} px, global batch {res['batch']}, {res['steps']} "
             f"steps each; images/s of training time after the first logged window. {_machine_cmd(res)}", ""]
            + md_table(["family", "variant", "train images/s", "vs fp32", f"loss at step {res['steps']}"], body))


def t_export(name: str = "export.json") -> list[str]:
    res = R(name)
    attrs = list(res["rows"][0]["cond_acc"])
    body = [[r["sampler"], f"{r['images_per_s']:.0f}", f"{r['file_bytes'] / 1e6:.1f}" if r["file_bytes"] else "",
             f"{r['fid_p']:.1f} ({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f})", f"{r['coverage']:.2f}",
             *(f"{r['cond_acc'][a]:.2f}" for a in attrs), str(r["max_pixel_diff_vs_torch"])] for r in res["rows"]]
    n = res["rows"][0]["n"]
    how = ", ".join(f"{k} {v:g}" for k, v in (res.get("sampling") or {}).items())
    how = f" ({how})" if how else ""
    return ([f"`{res['run']}`{how}, batch 64, {res['threads']} threads; FID-P and accuracy on the {res['split']} split, n={n}, "
             f"same seeds and conditions for all three. {_machine_cmd(res)}", ""]
            + md_table(["sampler", "images/s", "MB on disk", "FID-P (95% CI)", "coverage",
                        *(f"acc. {a.split('/')[-1]}" for a in attrs),
                        "max pixel diff vs PyTorch (0-255)"], body))


def t_export_restore() -> list[str]:
    res = R("export_restore.json")
    body = []
    for r in res["rows"]:
        change = (f"{r['psnr_change']:+.3f} ({r['psnr_change_ci95'][0]:+.3f} to {r['psnr_change_ci95'][1]:+.3f})"
                  if "psnr_change" in r else "")
        big = f"{r['s_per_1024px_photo_x2']:.2f}" if "s_per_1024px_photo_x2" in r else ""
        body.append([r["task"], r["backend"], f"{r['psnr']:.2f}", change, f"{r['ssim']:.4f}",
                     f"{r['ms_per_photo_128px']:.1f}", big, f"{r['model_mb']:.1f}"])
    return ([f"`{res['run']}`, all six task networks; PSNR/SSIM of the 8-bit result on the test split, n={res['n_test']} "
             f"(the run's own test photos and degradation seeds); change = mean paired per-photo PSNR difference from "
             f"PyTorch, bootstrap 95% interval; int8 calibrated on {res['calibration_n']} validation photos. "
             f"{_machine_cmd(res)}", ""]
            + md_table(["task", "model", "PSNR dB", "change vs PyTorch (95% CI)", "SSIM", "ms per 128-px photo",
                        "s per 1024-px photo x2", "MB on disk"], body))


def t_distill(name: str = "distill.json") -> list[str]:
    res = R(name)
    attrs = list(res["rows"][0]["cond_acc"])
    body = [[r["sampler"], str(r["network_calls_per_image"]), f"{r['ms_per_image']:.0f}",
             f"{r['fid_p']:.1f} ({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f})",
             *(f"{r['cond_acc'][a]:.2f}" for a in attrs)] for r in res["rows"]]
    m = res["machine"]
    return ([f"`{res['teacher']}` and its students; FID-P and accuracy on the {res['split']} split, n={res['rows'][0]['n']}; "
             f"ms per image timed round-robin in one process, batch {res['batch']}, {res['threads']} threads (load "
             f"average {m['load_average_1min_before_timing']} before timing, {m['load_average_1min_at_end']} at the end: "
             f"compare rows with each other only). Command: `{res['command']}`.", ""]
            + md_table(["sampler", "U-Net calls / image", "ms / image", "FID-P (95% CI)",
                        *(f"acc. {a.split('/')[-1]}" for a in attrs)], body))


def t_prune() -> list[str]:
    res = R("prune.json")
    attrs = list(res["rows"][0]["cond_acc"])
    body = [[r["generator"], "-".join(map(str, r["widths"])), f"{r['gflop_per_image']:.3f}", f"{r['params_m']:.2f}",
             f"{r['network_images_per_s']:.0f}", f"{r['images_per_s']:.0f}",
             f"{r['fid_p']:.1f} ({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f})", f"{r['coverage']:.2f}",
             *(f"{r['cond_acc'][a]:.2f}" for a in attrs)] for r in res["rows"]]
    n = res["rows"][0]["n"]
    return ([f"`{res['run']}`; pruned generators distilled {res['distil_steps']} steps of batch {res['batch']} each; "
             f"{res['threads']} threads; FID-P and accuracy on the {res['split']} split, n={n}, same seeds and "
             f"conditions for all. {_machine_cmd(res)}", ""]
            + md_table(["generator", "widths", "GFLOP / image", "params M", "network images/s", "generate images/s",
                        "FID-P (95% CI)", "coverage", *(f"acc. {a.split('/')[-1]}" for a in attrs)], body))


def t_sketch() -> list[str]:
    """bench/sketch_bench.py: sketch -> product, per image condition (edges, silhouette)."""
    res = R("sketch.json")
    lines = []
    for kind, k in res["kinds"].items():
        runs = k["runs"]
        first = next(iter(k["rows"].values()))
        attrs = list(first["cond_acc"])
        faith = list(next(r for r in k["rows"].values() if "faithfulness" in r)["faithfulness"])
        names = {"edge_f1": "edge F1 (1 px)", "chamfer_px": "Chamfer px", "silhouette_iou": "silhouette IoU"}
        body = []
        for label, r in k["rows"].items():
            fa = r.get("faithfulness", {})
            body.append([label, f"{r['fid_p']:.1f} ({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f})",
                         *(f"{r['cond_acc'][a]:.2f}" for a in attrs),
                         *(f"{fa[m]['mean']:.3f} ({fa[m]['ci95_low']:.3f}-{fa[m]['ci95_high']:.3f})" if m in fa else ""
                           for m in faith),
                         f"{r['images_per_s']:.0f}" if "images_per_s" in r else ""])
        trained = "; ".join(f"{ {'p2p': 'pix2pix', 'l1': 'L1 U-Net', 'diff': 'diffusion U-Net'}[m]} `{r['run']}` {r['steps']} steps of {r['batch']} "
                            f"({r['training_s'] / 60:.1f} training min, median {r['median_images_per_s']:.0f} images/s, "
                            f"{r['threads']} thread)" for m, r in runs.items())
        missing = (f" Not trained for this condition: {', '.join(f'`{r}`' for r in k['not_trained'])}."
                   if k.get("not_trained") else "")
        lines += [f"**{kind}** ({res['split']} split, n={k['n']}; {trained}):{missing}", ""]
        lines += md_table(["", "FID-P (95% CI)", *(f"acc. {a.split('/')[-1]}" for a in attrs),
                           *(names.get(m, m) for m in faith), "sample images/s"], body)
        lines += [""]
    load = (f"Scoring: load average {res['load_avg_start'][0]:.1f} at the start, {res['load_avg_end'][0]:.1f} at the end"
            + (f"; training: {res['training_note']}" if res.get("training_note") else ""))
    return lines + ["The floor row: val photos at the same n (FID-P, accuracy), and the test photos' faithfulness to "
                    "their own maps (1 and 0 by construction); the silhouette flood-fill is the input silhouette, so its "
                    "IoU is 1 by construction. Intervals: 95% bootstrap (FID-P: `bootstrap_fid`; faithfulness: over the "
                    "photos).", "", f"{_machine_cmd(res)} {load}."]


QD_VARIANTS = {"outline05": "map_outline 0.5", "outline025": "map_outline 0.25", "warp03": "map_warp 0.03",
               "warp05": "map_warp 0.05", "steps2000": "2,000 steps"}  # pix2pix variants screened on the val doodles


def t_quickdraw(files: list[tuple[str, str]]) -> list[str]:
    """bench/quickdraw_sketches.py: people's doodles -> product. ``files``: (label, results file under sketch/); the
    first file's photo-map rows and floor are shown, then each file's doodle rows, for each framing it holds."""
    first = R(f"sketch/{files[0][1]}")
    names = {"edge_f1": "edge F1 (1 px)", "chamfer_px": "Chamfer px"}
    if any(R(f"sketch/{name}")["runs"].get("silhouette") for _, name in files):
        names["silhouette_iou"] = "mask IoU"  # silhouette rows: the doodle's filled mask against the image's

    def row(label: str, r: dict, n: int) -> list[str]:
        fa = r.get("faithfulness", {})
        mem = r.get("memorisation")
        return [label, str(n), f"{r['fid_p']:.1f} ({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f})",
                f"{r['cond_acc']['acc/articleType']:.2f}", f"{r['subCategory_acc']['mean']:.2f}",
                f"{r['cond_acc']['acc/baseColour']:.2f}",
                *(f"{fa[m]['mean']:.3f} ({fa[m]['ci95_low']:.3f}-{fa[m]['ci95_high']:.3f})" if m in fa else "" for m in names),
                f"{mem['near_copy_share']:.3f}" if mem else ""]

    def shown(k: str, label: str) -> bool:  # a variant file repeats the other rows: only its own pix2pix's are shown
        return label == files[0][0] or k.startswith("pix2pix,")

    body = []
    for label, name in files:
        res = R(f"sketch/{name}")
        body += [row(f"{res['split']} photos' {'masks' if k.startswith('silhouette') else 'Canny maps'}: {k}{label}", r,
                     res["photo_maps"]["n"])
                 for k, r in res["photo_maps"]["rows"].items() if shown(k, label)]
    for label, name in files:
        res = R(f"sketch/{name}")
        for fit, f in res["fits"].items():
            body += [row(f"doodles, fit {fit}: {k}{label}", r, res["n"]) for k, r in f["rows"].items() if shown(k, label)]
    body.append(row(f"{first['floor']['photos']} photos (floor)", first["floor"], first["floor"]["n"]))
    ext = first["catalog_extent"]
    runs = "; ".join(f"{label.strip(' ()') or 'unmarked rows'}: " + ", ".join(
        f"`{r}`" for m, rs in R(f"sketch/{name}")["runs"].items() if label == files[0][0] or m == "p2p"
        for r in (rs if isinstance(rs, list) else [rs])) for label, name in files)
    return md_table(["", "n", "FID-P (95% CI)", "acc. articleType", "acc. subCategory", "acc. baseColour",
                     *names.values(), "near copies"], body) + [
        "", f"Doodles {first['doodles']} ({first['n']} in all, {len(first['categories'])} categories; package "
        f"`{first['package']}`, SHA-256 `{(first['package_sha256'] or 'not recorded')[:16]}...`). FID-P against the "
        f"{first['split']} photos of the same {len(first['categories'])} article types, re-weighted so that every type "
        f"weighs the same, as in the doodles (50 a type); the photo-map rows and the floor (all the other split's photos "
        f"of those types) are re-weighted the same way, in FID-P and in the accuracies. Near copies: share of images whose "
        f"nearest training photo (ProductNet features) is nearer than the 1st percentile of the {first['split']} photos' "
        f"nearest distances (about 0.01 for images as new as held-out photos). Runs: {runs}. Catalog product "
        f"extent (longer side of the mask's box / frame, {ext['n']} training photos): median {ext['median']:.3f} (10-90%: {ext['p10']:.2f}-{ext['p90']:.2f}). "
        f"Intervals: 95% bootstrap. {_machine_cmd(first)}"]


# bench/quickdraw_sketches.py --close: its silhouette rows (results key) and how the README names them
QD_CLOSE_ROWS = (("silhouette pix2pix", "as drawn"), ("silhouette pix2pix, outline closed", "outline closed"),
                 ("silhouette pix2pix snapped", "snapped"),
                 ("silhouette pix2pix snapped, outline closed", "outline closed, snapped"))


def t_quickdraw_close(splits: tuple[str, ...]) -> list[str]:
    """bench/quickdraw_silhouette.sh close-<split>: the silhouette run's doodle rows as drawn and with the open
    outlines closed (generate --sketch-close), then the changed doodles alone (accuracies only)."""
    first = R(f"sketch/quickdraw-{splits[0]}-close.json")
    sil = first["runs"]["silhouette"][0].rsplit("/", 1)[-1]
    body = []
    for split in splits:
        res = R(f"sketch/quickdraw-{split}-close.json")
        rows = res["fits"]["lines"]["rows"]
        for key, label in QD_CLOSE_ROWS:
            r = rows[f"{key}, type given"]
            iou = r["faithfulness"]["silhouette_iou"]
            body.append([f"{split}: {label}", str(res["n"]), f"{r['fid_p']:.1f} ({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f})",
                         f"{r['cond_acc']['acc/articleType']:.2f}", f"{r['subCategory_acc']['mean']:.2f}",
                         f"{r['cond_acc']['acc/baseColour']:.2f}", f"{iou['mean']:.3f}"])
        sub = res["closed_subset"]["lines"]
        for key, label in QD_CLOSE_ROWS:
            acc = sub["rows"][key]
            body.append([f"{split}, the {sub['n']} doodles it changes: {label}", str(sub["n"]), "",
                         f"{acc['acc/articleType']:.2f}", "", f"{acc['acc/baseColour']:.2f}", ""])
    return md_table(["", "n", "FID-P (95% CI)", "acc. articleType", "acc. subCategory", "acc. baseColour",
                     "mask IoU (with the doodle's mask; closed rows: the closed one)"], body) + [
        "", f"Run `runs/{sil}`, type given, one image a doodle; scored as the doodle table above (FID-P against the "
        f"split's photos of the same types, re-weighted to equal types). The changed doodles are too few for FID-P. "
        + " ".join(_machine_cmd(R(f"sketch/quickdraw-{split}-close.json")) for split in splits)]


def t_generate_stream() -> list[str]:
    res = R("generate_stream.json")
    one, two, st = res["one_process"], res["two_shards"], res["stages"]
    body = [["one process", f"{one['wall_s']:.0f}", f"{one['rows_per_s']:.0f}", f"{one['cpu_cores_used']:.2f}"],
            ["two shards (2 processes)", f"{two['wall_s']:.0f}", f"{two['rows_per_s']:.0f}", f"{two['cpu_cores_used']:.2f}"]]
    lines = [f"{comma(res['rows'])} CSV rows, {res['run']}; batch {res['batch_size']}, 1 torch thread per process. "
             f"{_machine_cmd(res)}", ""]
    lines += md_table(["case", "wall s", "rows/s", "CPU cores used"], body)
    lines += ["", f"Per row: model {st['model_s_per_row'] * 1e3:.2f} ms, PNG + provenance stamp "
                  f"{st['png_and_stamp_s_per_row'] * 1e3:.2f} ms, atomic write {st['atomic_write_s_per_row'] * 1e3:.2f} ms; "
                  f"two shards gave the same pixels as one process: {'yes' if res['same_pixels_sampled'] else 'NO'}.", ""]
    proj = res["projection_1M_rows_on_N_gpus"]
    lines += [f"{proj['label']}: `{proj['formula']}`.", ""]
    lines += md_table(["GPUs", "rows/s", "hours for 1M rows", "bound by"],
                      [[str(r["gpus"]), f"{r['rows_per_s']:.0f}", f"{r['hours']:.2f}", r["bound"]] for r in proj["rows"]])
    return lines


def t_res256_speed() -> list[str]:
    res = R("res256_speed.json")
    body = []
    for r in res["rows"]:
        if r["row"] == "cache":
            continue
        what = r.get("variant") or ""
        if r["row"] == "autoencoder":
            what = f"latent {r['latent']}"
        elif "unet_input" in r:
            what = f"U-Net input {r['unet_input']}, sampling {r['sample_steps']} steps"
        body.append([r["row"], str(r["resolution"]), what, f(r.get("train_images_per_s"), ".1f"),
                     f(r.get("sample_images_per_s"), ".1f"), f"{r['load_before']} / {r['load_after']}"])
    m = res["machine"]
    lines = [f"fp32, default model sizes unless the row says otherwise. Commands: "
             + "; ".join(f"`{c}`" for c in res.get("commands", [res["command"]]))
             + f" ({m['cores']}-core {m['cpu']}; {m['note']}). Load = 1-minute load average before / after the row: "
             "above 2 the two cores were shared and the figure is lower than on an idle machine.", ""]
    lines += md_table(["row", "px", "variant", "train images/s", "sample images/s", "load"], body)
    for r in res["rows"]:
        if r["row"] == "cache":
            lines += ["", f"Image cache of the real catalog at 256 px: {r['file_gb']:.2f} GB, built cold in "
                          f"{r['cold_build_s']:.0f} s, peak resident memory {r['peak_rss_gb']:.1f} GB."]
    return lines


# name -> (results files, renderer)
def t_gpu_check() -> list[str]:
    res = R("gpu/gpu_check.json")
    rows = [[f"`{r['step']}`", "passed" if r["rc"] == 0 else f"FAILED (exit {r['rc']})", f(r["seconds"], ".1f")]
            for r in res["steps"]]
    rows += [[f"`{name}`", "not reached (GPU time ran out)", ""] for name in res.get("not_reached", [])]
    return [f"Machine: {res['machine']}. Command: `{res['command']}`, {res['date']}.", ""] + md_table(
        ["step (bench/gpu_check.sh)", "result", "seconds"], rows)


def t_long_runs() -> list[str]:
    """The rows of quality_val.json of every family drawn at more than one budget in fid-vs-minutes.json
    (bench/long_curve.py, whose FAMILIES map rows to minutes; bench/long_runs.sh continued them), with the floor."""
    res = R("quality/quality_val.json")
    by_name = {r["name"]: r for r in res["rows"]}
    budgets = {p["row"]: (family, p["minutes"]) for family, pts in R("quality/fid-vs-minutes.json")["families"].items()
               if len(pts) > 1 for p in pts}
    rows = [by_name[name] for name in budgets]
    body = []
    for row in rows:
        m = row["metrics"]
        family, minutes = budgets[row["name"]]
        body.append([family, f"{minutes:g} min", row["name"],
                     f"{m['fid']:.1f} ({m['fid_ci95_low']:.1f}-{m['fid_ci95_high']:.1f})", f"{m['coverage']:.3f}",
                     f"{m['acc/articleType']:.3f}", f"{m['acc/baseColour']:.3f}",
                     f"{m['diversity_same_condition']:.1f}", f"{m['near_copy_share']:.3f}"])
    f = res["real_floor"]
    body.append(["", "", "real vs real (floor)", f"{f['fid']:.1f} ({f['fid_ci95_low']:.1f}-{f['fid_ci95_high']:.1f})",
                 f"{f['coverage']:.3f}", f"{f['acc/articleType']:.3f}", f"{f['acc/baseColour']:.3f}",
                 "", f"{f['near_copy_share']:.3f}"])
    return md_table(["family", "budget", "run", "FID-P (95% CI)", "coverage", "articleType", "baseColour",
                     "variety, same condition", "near copies"], body) + [
        "", f"Rows of `bench/results/quality/quality_val.json` (val split, n={res['n_floor']}); budgets in idle-equivalent "
        f"minutes of the 2-core machine. {_machine_cmd(res)}"]


def t_targets() -> list[str]:
    """Issue 13's numeric targets against today's default recipe on the test split (read once): the 25-minute seeds
    (recipe_variants25.sh ms01) and the 100-minute copy of seed 1 (ms01_long.sh), each against its own file's floor."""
    t25, t100 = R("quality/ms01_test.json"), R("quality/ms01_long_test.json")
    fl = t25["real_floor"]
    seeds = {_seed_of(r["name"]): r["metrics"] for r in t25["rows"]}
    rows = []

    def add(target: str, threshold: str, values: dict[int, float], ok, spec: str) -> None:
        """One target: each seed's value, their mean, and the verdict on the mean (the rule written before seeds 3
        and 4 were read, session 32), with how many seeds meet it on their own."""
        met = [ok(v) for v in values.values()]
        mean = sum(values.values()) / len(values)
        verdict = "yes" if ok(mean) else "no"
        if len(values) > 1:
            verdict += f" ({sum(met)} of {len(met)} seeds)"
        rows.append([target, threshold, " / ".join(format(values[s], spec) for s in sorted(values)),
                     format(mean, spec) if len(values) > 1 else "", verdict])

    add("25 min: FID-P at most 2x the floor", f"<= {2 * fl['fid']:.1f}", {s: m["fid"] for s, m in seeds.items()},
        lambda v: v <= 2 * fl["fid"], ".1f")
    for attr in ("articleType", "baseColour"):
        # four decimals: at three, a value just under its threshold printed as equal to it (0.6347 against 0.6355)
        add(f"25 min: {attr} accuracy within 3 points of real photos", f">= {fl['acc/' + attr] - 0.03:.4f}",
            {s: m[f"acc/{attr}"] for s, m in seeds.items()}, lambda v, a=attr: v >= fl["acc/" + a] - 0.03, ".4f")
    add("25 min: variety within one condition, x the real photos'", ">= 0.80",
        {s: m["diversity_same_condition"] / fl["diversity_same_condition"] for s, m in seeds.items()},
        lambda v: v >= 0.8, ".2f")
    add("25 min: share of near copies no higher than real photos'", f"<= {fl['near_copy_share']:.3f}",
        {s: m["near_copy_share"] for s, m in seeds.items()}, lambda v: v <= fl["near_copy_share"], ".3f")
    m100, fl100 = t100["rows"][0]["metrics"], t100["real_floor"]
    add("100 min: FID-P at most 1.3x the floor", f"<= {1.3 * fl100['fid']:.1f}", {1: m100["fid"]},
        lambda v: v <= 1.3 * fl100["fid"], ".1f")
    decay = R("quality/ms01_decay_test.json")  # the same run to 100 minutes, its rates falling over the second half
    md, fld = decay["rows"][0]["metrics"], decay["real_floor"]
    add("100 min, rates decayed over the second half: FID-P at most 1.3x", f"<= {1.3 * fld['fid']:.1f}", {1: md["fid"]},
        lambda v: v <= 1.3 * fld["fid"], ".1f")
    decay75 = R("quality/ms01_decay75_test.json")  # ... and over the last three quarters (session 31)
    md75, fld75 = decay75["rows"][0]["metrics"], decay75["real_floor"]
    add("100 min, rates decayed over the last three quarters: FID-P at most 1.3x", f"<= {1.3 * fld75['fid']:.1f}",
        {1: md75["fid"]}, lambda v: v <= 1.3 * fld75["fid"], ".1f")
    if "prior_text_acc/articleType" in m100:
        add("100 min: articleType from held-out titles alone (title prior)", ">= 0.600",
            {1: m100["prior_text_acc/articleType"]}, lambda v: v >= 0.6, ".3f")
    cmds = "; ".join(f"`{r['command']}` ({r['machine']['cpu']}, {r['machine']['date']})" for r in (t25, t100, decay, decay75))
    return [f"Test split, read once (n={fl['n_gen']}, pinned ProductNet). "
            f"Commands: {cmds}.", "",
            *md_table(["target (issue 13)", "threshold", "seeds " + ", ".join(map(str, sorted(seeds))) + " (100 min: seed 1)",
                       "mean of the seeds", "met (by the mean)"], rows)]


def t_colour_confusion(top: int = 10) -> list[str]:
    """bench/colour_confusion.sh: per intended baseColour (the most asked first), how often ProductNet saw it in each
    25-minute run's images on val, next to its rate on the floor's real photos, and what the run with the lowest
    baseColour accuracy took its misses for."""
    res = R("quality/colour_confusion_val.json")
    rows = res["rows"]
    worst = min(rows, key=lambda r: r["metrics"]["acc/baseColour"])
    counts = rows[0]["per_class_accuracy"]["baseColour"]
    real = rows[0]["seen_as"]["real_floor"]["baseColour"]
    out = [f"{_machine_cmd(res)} Val, n={rows[0]['metrics']['n_gen']} generated images a "
           f"run (the real photos: the floor's {res['n_floor']} test photos). Per colour: the share of generated images "
           "of that colour ProductNet reads as that colour; the last column lists what the lowest run's misses were "
           "read as.", ""]
    header = ["baseColour", "asked", "real photos", *(r["label"] for r in rows), f"{worst['name']}: missed, read as"]
    body = []
    for colour, (_, asked) in sorted(counts.items(), key=lambda kv: -kv[1][1])[:top]:
        r = real.get(colour, {})
        cells = [colour, str(asked), f"{r.get(colour, 0) / sum(r.values()):.2f} ({sum(r.values())})" if r else ""]
        cells += [f"{right / total:.2f}" for right, total in (row["per_class_accuracy"]["baseColour"][colour] for row in rows)]
        seen = worst["seen_as"]["model"]["baseColour"][colour]
        cells.append(", ".join(f"{q} {k}" for q, k in sorted(((q, k) for q, k in seen.items() if q != colour),
                                                             key=lambda qk: (-qk[1], qk[0]))[:3]))
        body.append(cells)
    body.append(["all", str(sum(t for _, t in counts.values())), f"{res['real_floor']['acc/baseColour']:.2f}",
                 *(f"{row['metrics']['acc/baseColour']:.2f}" for row in rows), ""])
    return out + md_table(header, body)


# session 33's AC-GAN screen arms (bench/mode_seeking_screen.sh AUX=..., TAG=icx), each set against the plain
# weight-0.1 arm trained on the same Ice Lake Xeon
ACGAN_SCREEN = ["quality/mode_seeking_0.1_aux0-1_screen_icx_val.json", "quality/mode_seeking_0.1_aux0-0.1_screen_icx_val.json",
                "quality/mode_seeking_0.1_aux0-0.03_screen_icx_val.json", "quality/mode_seeking_0.1_aux0-0.05_screen_icx_val.json"]

TABLES: dict[str, tuple[list[str], Callable[[], list[str]]]] = {
    "targets": (["quality/ms01_test.json", "quality/ms01_long_test.json", "quality/ms01_decay_test.json",
                 "quality/ms01_decay75_test.json"], t_targets),
    "gpu-check": (["gpu/gpu_check.json"], t_gpu_check),
    "studio-load": (["studio_load.json"], t_studio_load),
    "studio-load-1": (["studio_load_1client.json"], lambda: t_studio_load("studio_load_1client.json")),
    "studio-faults": (["studio_faults.json"], t_studio_faults),
    "scale-speed": (["scale_speed.json"], t_scale_speed),
    "res256-speed": (["res256_speed.json"], t_res256_speed),
    "export": (["export.json"], t_export),
    "export-diffusion": (["export_diffusion.json"], lambda: t_export("export_diffusion.json")),
    "export-restore": (["export_restore.json"], t_export_restore),
    "prune": (["prune.json"], t_prune),
    "sketch": (["sketch.json"], t_sketch),
    "quickdraw-val": (["sketch/quickdraw-val.json", *(f"sketch/quickdraw-val-{v}.json" for v in QD_VARIANTS)],
                      lambda: t_quickdraw([("", "quickdraw-val.json"),
                                           *((f" ({lab})", f"quickdraw-val-{v}.json") for v, lab in QD_VARIANTS.items())])),
    "quickdraw-test": (["sketch/quickdraw-test.json"], lambda: t_quickdraw([("", "quickdraw-test.json")])),
    "quickdraw-val-silhouette": (["sketch/quickdraw-val-silhouette.json"],
                                 lambda: t_quickdraw([("", "quickdraw-val-silhouette.json")])),
    "quickdraw-test-silhouette": (["sketch/quickdraw-test-silhouette.json"],
                                  lambda: t_quickdraw([("", "quickdraw-test-silhouette.json")])),
    "quickdraw-close": (["sketch/quickdraw-val-close.json", "sketch/quickdraw-test-close.json"],
                        lambda: t_quickdraw_close(("val", "test"))),
    "distill": (["distill.json"], t_distill),
    "distill-flow": (["distill_flow_val.json"], lambda: t_distill("distill_flow_val.json")),
    "generate-stream": (["generate_stream.json"], t_generate_stream),
    "headline": (["headline.json"], t_headline),
    "eval-cost": (["eval_cost.json"], t_eval_cost),
    "families": (["families/families.json"], t_families),
    "quality-val": (["quality/quality_val.json"], lambda: t_quality("quality_val.json")),
    "long-runs": (["quality/quality_val.json", "quality/fid-vs-minutes.json"], t_long_runs),
    "quality-test": (["quality/quality_test.json"], lambda: t_quality("quality_test.json")),
    "truncation-val": (["quality/truncation_gan64_val.json"], lambda: t_truncation("truncation_gan64_val.json")),
    "truncation-test": (["quality/truncation_gan64_test.json"], lambda: t_truncation("truncation_gan64_test.json")),
    "ema-sweep-val": (["quality/ema_sweep_val.json"], lambda: t_truncation("ema_sweep_val.json")),
    "recipe-val": (["quality/recipe_val.json"], lambda: t_truncation("recipe_val.json")),
    "lr-g-val": (["quality/lr_g_val.json"], lambda: t_truncation("lr_g_val.json")),
    "lr-g-test": (["quality/lr_g_test.json"], lambda: t_truncation("lr_g_test.json")),
    "b32-lrg2-half-val": (["quality/b32_lrg2_half_val.json"], lambda: t_truncation("b32_lrg2_half_val.json")),
    "b32-lrg2-val": (["quality/b32_lrg2_val.json"], lambda: t_truncation("b32_lrg2_val.json")),
    "bf16-speed": (["quality/bf16_speed.json", "quality/bf16_speed_b32.json"], t_pair_speed),
    "bf16-val": (["quality/bf16_val.json"], lambda: t_truncation("bf16_val.json")),
    "bf16-test": (["quality/bf16_test.json"], lambda: t_truncation("bf16_test.json")),
    "bf16eq-val": (["quality/bf16eq_val.json"], lambda: t_truncation("bf16eq_val.json")),
    "bf16eq-test": (["quality/bf16eq_test.json"], lambda: t_truncation("bf16eq_test.json")),
    "bf16ada-val": (["quality/bf16ada_val.json"], lambda: t_truncation("bf16ada_val.json")),
    "colour-confusion-val": (["quality/colour_confusion_val.json"], t_colour_confusion),
    "noclr-val": (["quality/noclr_val.json"], lambda: t_truncation("noclr_val.json")),
    "noclr-test": (["quality/noclr_test.json"], lambda: t_truncation("noclr_test.json")),
    "noclr-long-val": (["quality/noclr_long_val.json"], lambda: t_truncation("noclr_long_val.json")),
    "tronly-val": (["quality/tronly_val.json"], lambda: t_truncation("tronly_val.json")),
    "variants25-speed": (["quality/b128_speed.json", "quality/width15_speed.json", "quality/width075_speed.json"],
                         lambda: t_variant_speed("quality/b128_speed.json", "quality/width15_speed.json",
                                                 "quality/width075_speed.json")),
    "b128-val": (["quality/b128_val.json"], lambda: t_truncation("b128_val.json")),
    "lrdecay-val": (["quality/lrdecay_val.json"], lambda: t_truncation("lrdecay_val.json")),
    "w15-val": (["quality/w15_val.json"], lambda: t_truncation("w15_val.json")),
    "w075-val": (["quality/w075_val.json"], lambda: t_truncation("w075_val.json")),
    "dregs-speed": (["quality/recon_speed.json"], lambda: t_variant_speed("quality/recon_speed.json")),
    "recon-val": (["quality/recon_val.json"], lambda: t_truncation("recon_val.json")),
    "lecam-val": (["quality/lecam_val.json"], lambda: t_truncation("lecam_val.json")),
    "freeze-speed": (["quality/freeze_speed.json"], lambda: t_variant_speed("quality/freeze_speed.json")),
    "frozen-val": (["quality/frozen_val.json"], lambda: t_truncation("frozen_val.json")),
    "frozen-test": (["quality/frozen_test.json"], lambda: t_truncation("frozen_test.json")),
    "frozen-long-val": (["quality/frozen_long_val.json"], lambda: t_truncation("frozen_long_val.json")),
    "lecam-frozen-val": (["quality/lecam_frozen_val.json"], lambda: t_truncation("lecam_frozen_val.json")),
    "frozen-long-test": (["quality/frozen_long_test.json"], lambda: t_truncation("frozen_long_test.json")),
    "step-kernels": (["quality/step_kernels.json"], t_step_kernels),
    "step-speed": (["quality/kernels_speed.json", "quality/onepass_speed.json"],
                   lambda: t_variant_speed("quality/kernels_speed.json", "quality/onepass_speed.json")),
    "kernels-val": (["quality/kernels_val.json"], lambda: t_truncation("kernels_val.json")),
    "kernels-test": (["quality/kernels_test.json"], lambda: t_truncation("kernels_test.json")),
    "onepass-val": (["quality/onepass_val.json"], lambda: t_truncation("onepass_val.json")),
    "onepass-test": (["quality/onepass_test.json"], lambda: t_truncation("onepass_test.json")),
    "onepass-long-val": (["quality/kernels_long_val.json", "quality/onepass_long_val.json"],
                         lambda: t_truncation("kernels_long_val.json") + [""] + t_truncation("onepass_long_val.json")),
    "onepass-long-test": (["quality/onepass_long_test.json"], lambda: t_truncation("onepass_long_test.json")),
    "ms01-long-val": (["quality/ms01_long_val.json"], lambda: t_seed_pair("ms01_long_val.json")),
    "ms01-long-test": (["quality/ms01_long_test.json"], lambda: t_seed_pair("ms01_long_test.json")),
    "ms01-decay-val": (["quality/ms01_decay_val.json"], lambda: t_seed_pair("ms01_decay_val.json")),
    "ms01-decay-test": (["quality/ms01_decay_test.json"], lambda: t_seed_pair("ms01_decay_test.json")),
    "ms01-decay75-val": (["quality/ms01_decay75_val.json"], lambda: t_seed_pair("ms01_decay75_val.json")),
    "ms01-decay75-test": (["quality/ms01_decay75_test.json"], lambda: t_seed_pair("ms01_decay75_test.json")),
    "shared-speed": (["quality/shared_fake_speed.json"], lambda: t_variant_speed("quality/shared_fake_speed.json")),
    "shared-val": (["quality/shared_val.json"], lambda: t_truncation("shared_val.json")),
    "bf16-emulated-speed": (["quality/bf16_emulated_speed.json"],
                            lambda: t_variant_speed("quality/bf16_emulated_speed.json")),
    "grow-speed": (["quality/grow_low_speed_fp32.json", "quality/grow_fade_speed_fp32.json"],
                   lambda: t_variant_speed("quality/grow_low_speed_fp32.json", "quality/grow_fade_speed_fp32.json")),
    "grow-screen-val": (["quality/grow_screen_recipe_val.json", "quality/grow_screen_grow_val.json"], t_grow_screen),
    "bcr-speed": (["quality/bcr_speed_fp32.json"], lambda: t_variant_speed("quality/bcr_speed_fp32.json")),
    "bf16-avx512-speed": (["quality/bf16_speed_avx512.json", "quality/bf16_speed_zen4.json"],
                          lambda: t_variant_speed("quality/bf16_speed_avx512.json", "quality/bf16_speed_zen4.json")),
    "bf16-probe": (["quality/bf16_probe_avx512.json", "quality/bf16_probe_zen4.json"],
                   lambda: t_bf16_probe("quality/bf16_probe_avx512.json", "quality/bf16_probe_zen4.json")),
    "topk-speed-bf16": (["quality/topk_speed_bf16.json"], lambda: t_variant_speed("quality/topk_speed_bf16.json")),
    "topk-val": (["quality/recipe25_val.json", "quality/topk_val.json"],
                 lambda: t_seed_pair("recipe25_val.json", "topk_val.json")),
    "d-pick-val": (["quality/d_pick_val.json"], lambda: t_d_pick("d_pick_val.json")),
    "ms01-val": (["quality/recipe25_val.json", "quality/topk_val.json", "quality/ms01_val.json"],
                 lambda: t_seed_pair("recipe25_val.json", "topk_val.json", "ms01_val.json")),
    "ms01-noms-val": (["quality/noms_val.json", "quality/ms01_val.json"],
                      lambda: t_seed_pair("noms_val.json", "ms01_val.json")),
    "ms01-test": (["quality/noms_test.json", "quality/ms01_test.json"],
                  lambda: t_seed_pair("noms_test.json", "ms01_test.json")),
    "ms005-val": (["quality/ms01_val.json", "quality/ms005_val.json"],
                  lambda: t_seed_pair("ms01_val.json", "ms005_val.json")),
    "ms005-test": (["quality/ms01_test.json", "quality/ms005_test.json"],
                   lambda: t_seed_pair("ms01_test.json", "ms005_test.json")),
    "ms01-truncation-val": (["quality/truncation_gan64-sle-ms01-s1_val.json", "quality/truncation_gan64-sle-ms01-s2_val.json"],
                            lambda: t_seed_pair("truncation_gan64-sle-ms01-s1_val.json",
                                                "truncation_gan64-sle-ms01-s2_val.json")),
    "mode-seeking-screen-val": (["quality/recipe_1200_screen_val.json", "quality/mode_seeking_screen_val.json",
                                 "quality/mode_seeking_0.1_screen_val.json", "quality/mode_seeking_0.05_screen_val.json",
                                 "quality/mode_seeking_0.1_centred_screen_val.json",
                                 "quality/mode_seeking_0.1_pool4_screen_val.json",
                                 "quality/mode_seeking_0.1_colour1_screen_val.json",
                                 "quality/mode_seeking_0.1_fade1200_screen_val.json"],
                                lambda: t_seed_pair("recipe_1200_screen_val.json", "mode_seeking_screen_val.json",
                                                    "mode_seeking_0.1_screen_val.json",
                                                    "mode_seeking_0.05_screen_val.json",
                                                    "mode_seeking_0.1_centred_screen_val.json",
                                                    "mode_seeking_0.1_pool4_screen_val.json",
                                                    "mode_seeking_0.1_colour1_screen_val.json",
                                                    "mode_seeking_0.1_fade1200_screen_val.json")),
    "acgan-screen-val": (["quality/mode_seeking_0.1_screen_icx_val.json", *ACGAN_SCREEN],
                         lambda: t_seed_pair("mode_seeking_0.1_screen_icx_val.json",
                                             *(Path(f).name for f in ACGAN_SCREEN))),
    "bcr-real-speed-bf16": (["quality/bcr_real_speed_bf16.json"],
                            lambda: t_variant_speed("quality/bcr_real_speed_bf16.json")),
    "avx512-val": (["quality/recipe25_val.json", "quality/bcrreal_val.json"],
                   lambda: t_seed_pair("recipe25_val.json", "bcrreal_val.json")),
    "bcr-screen-val": (["quality/grow_screen_recipe_val.json", "quality/bcr_screen_val.json"],
                       lambda: t_grow_screen("quality/bcr_screen_val.json")),
    "feature-d-speed": (["quality/feature_d_speed_fp32.json"],
                        lambda: t_variant_speed("quality/feature_d_speed_fp32.json")),
    "feature-d-screen-val": (["quality/grow_screen_recipe_val.json", "quality/feature_d_screen_val.json",
                              "quality/feature_d01_screen_val.json", "quality/recipe_540_screen_val.json"],
                             lambda: t_grow_screen("quality/feature_d_screen_val.json",
                                                   "quality/feature_d01_screen_val.json",
                                                   "quality/recipe_540_screen_val.json")),
    "diffusion-sweep": (["families/diffusion_sweep.json", "diffusion_speed.json"], t_diffusion_sweep),
    "diffusion-speed": (["diffusion_speed.json"], t_diffusion_speed),
    "restoration": (["apps.json"], t_restoration),
    "restoration-unseen": (["apps.json"], t_restoration_unseen),
    "recolour": (["apps.json"], t_recolour),
    "train-speed": (["train_speed.json"], t_train_speed),
}


# ---------------------------------------------------------------- figures in the prose

@dataclass
class Figure:
    name: str
    sources: list[str]
    template: str
    values: Callable[[], dict[str, str]]


def _headline(name: str) -> dict:
    return row_by_name(R("headline.json"), name)


def _eval_cost(run: str) -> dict:
    return next(r for r in R("eval_cost.json")["rows"] if Path(r["run"]).name == run)


def _speed(model: str, res: int) -> dict:
    return next(r for r in R("train_speed.json")["rows"] if r["model"] == model and r["resolution"] == res)


def _diff(steps: int, guidance: float) -> dict:
    return next(r for r in R("diffusion_speed.json")["rows"] if r["steps"] == steps and r["guidance"] == guidance)


def _sweep(steps: int, guidance: float) -> dict:
    return next(r["metrics"] for r in R("families/diffusion_sweep.json")["rows"]
                if r["sampling"]["steps"] == steps and r["sampling"]["guidance"] == guidance)


def _fam(name: str) -> dict:
    return row_by_name(R("families/families.json"), name)


def _majority(head: str) -> float:
    return R("families/families.json")["features"]["heldout_accuracy"][head]["majority_baseline"]


def _restore_gains() -> list[float]:
    return [r["network"]["psnr"] - r["baseline"]["psnr"] for r in _restore_rows("seen")]


def _pct(v: float) -> str:
    return f"{100 * v:.0f}"


def _productnet() -> dict[str, str]:
    feat = R("headline.json")["features"]
    out = {"fit": f"{feat['fit_seconds']:.0f}"}
    for head, a in feat["heldout_accuracy"].items():
        out[f"acc_{head}"], out[f"maj_{head}"] = f"{a['accuracy']:.2f}", f"{a['majority_baseline']:.2f}"
    return out


def _mode_collapse() -> dict[str, str]:
    res = R("mode_collapse.json")
    old = {r["condition"]: r["pixel_std"] for r in res["collapsed"]["rows"]}
    new = {r["condition"]: r["pixel_std"] for r in res["current"]["rows"]}
    return {"seeds": str(res["current"]["seeds"]), "old_tshirts": f"{old['Tshirts']:.2f}",
            "old_mean": f"{res['collapsed']['mean']:.2f}", "new_mean": f"{res['current']['mean']:.2f}",
            "tshirts": f"{new['Tshirts']:.2f}", "shirts": f"{new['Shirts']:.2f}", "casual": f"{new['Casual Shoes']:.2f}",
            "handbags": f"{new['Handbags']:.2f}", "watches": f"{new['Watches']:.2f}"}


def _aug() -> dict[str, str]:
    a = R("augment/augment.json")
    s0, s1 = a["summary"]["real only"], a["summary"]["real + generated"]
    return {"ngen": comma(a["n_generated"]), "nrare": str(len(a["rare_classes"])), "nreal": comma(a["n_real_train"]),
            "r1": f"{s1['rare_accuracy_mean']:.3f}", "s1": f"{s1['rare_accuracy_std']:.3f}",
            "r0": f"{s0['rare_accuracy_mean']:.3f}", "s0": f"{s0['rare_accuracy_std']:.3f}", "nseeds": str(len(a["seeds"])),
            "a1": f"{s1['accuracy_mean']:.3f}", "a0": f"{s0['accuracy_mean']:.3f}"}


def _dcgan() -> dict[str, str]:
    s = R("real-catalog/dcgan-peer-summary.json")
    return {"epochs": str(s["epochs_finished"]), "epochs2": str(s["epochs_finished"]), "n": comma(s["train_images"]),
            "ips": f"{s['epochs_finished'] * s['train_images'] / (s['minutes'] * 60):.0f}"}


def _flow_fidelity(steps: int) -> dict:
    return next(r for r in R("distill_flow_fidelity.json")["rows"] if r["steps"] == steps)


def _gan_eta() -> list[int]:
    fit = R("quality/fid-vs-minutes.json")["extrapolations"]["gan (gan64-sle recipe, attributes)"]
    return sorted(fit[way]["minutes_to"]["1.3x floor"] for way in ("all points", "last two points"))


def _ema_mean(profile: str) -> float:
    """Val FID-P of one averaging profile, mean over bench/ema_sweep.sh's training seeds."""
    rows = [r for r in R("quality/ema_sweep_val.json")["rows"] if r["name"].endswith("-" + profile)]
    return sum(r["metrics"]["fid"] for r in rows) / len(rows)


def _ema_sweep() -> dict[str, str]:
    res = R("quality/ema_sweep_val.json")
    own = {r["name"][: -len("-trainer")]: r["metrics"]["fid"] for r in res["rows"] if r["name"].endswith("-trainer")}
    profiles = sorted({r["name"].rsplit("-", 1)[1] for r in res["rows"]} - {"trainer", "last"}, key=_ema_mean)
    return {"seeds": str(len(own)), "own": f"{_ema_mean('trainer'):.1f}", "last": f"{_ema_mean('last'):.1f}",
            "best_fid": f"{_ema_mean(profiles[0]):.1f}", "worst_fid": f"{_ema_mean(profiles[-1]):.1f}",
            "spread": f"{max(own.values()) - min(own.values()):.1f}", "floor": f"{res['real_floor']['fid']:.1f}"}


def _recipe() -> dict[str, str]:
    fid = {r["name"]: r["metrics"]["fid"] for r in R("quality/recipe_val.json")["rows"]}
    return {"base": f"{(fid['gan64-sle'] + fid['gan64-sle-s1']) / 2:.1f}", "lr": f"{fid['gan64-sle-lrg2']:.1f}",
            "b32": f"{fid['gan64-sle-b32-eq']:.1f}",
            "base_half": f"{(fid['gan64-sle-half'] + fid['gan64-sle-s1-half']) / 2:.1f}",
            "lr_half": f"{(fid['gan64-sle-lrg2-half'] + fid['gan64-sle-lrg2-s1-half']) / 2:.1f}",
            "b32_half": f"{(fid['gan64-sle-b32-half'] + fid['gan64-sle-b32-s1-half']) / 2:.1f}",
            "spread": f"{abs(fid['gan64-sle'] - fid['gan64-sle-s1']):.1f}"}


def _lr_g_fids(split: str) -> dict[str, dict[int, float]]:
    """FID-P per G learning rate and training seed: bench/lr_g_seeds.sh's runs, and on val also session 13's seed 0
    (bench/recipe_variants.sh), measured with the same ProductNet (checked: the files record its held-out accuracy)."""
    res = R(f"quality/lr_g_{split}.json")
    out: dict[str, dict[int, float]] = {}
    for r in res["rows"]:
        lr = {"lrg2": "2e-4", "lrg4": "4e-4"}.get(r["name"].split("-")[-2], "1e-4")
        out.setdefault(lr, {})[int(r["name"].rsplit("-s", 1)[1])] = r["metrics"]["fid"]
    if split == "val":
        old = R("quality/recipe_val.json")
        assert old["features"]["heldout_accuracy"] == res["features"]["heldout_accuracy"], "another ProductNet"
        fid0 = {r["name"]: r["metrics"]["fid"] for r in old["rows"]}
        out["1e-4"][0], out["2e-4"][0] = fid0["gan64-sle"], fid0["gan64-sle-lrg2"]
    return out


def _lr_g(split: str) -> dict[str, str]:
    fids = _lr_g_fids(split)
    mean = {lr: sum(v.values()) / len(v) for lr, v in fids.items()}
    paired = [fids["2e-4"][s] - fids["1e-4"][s] for s in sorted(fids["1e-4"]) if s in fids["2e-4"]]
    out = {"n1": str(len(fids["1e-4"])), "n2": str(len(fids["2e-4"])), "m1": f"{mean['1e-4']:.1f}",
           "m2": f"{mean['2e-4']:.1f}", "dmin": f"{-max(paired):.1f}", "dmax": f"{-min(paired):.1f}",
           "npaired": str(len(paired))}
    if "4e-4" in fids:
        out |= {"n4": str(len(fids["4e-4"])), "m4": f"{mean['4e-4']:.1f}"}
    res = R(f"quality/lr_g_{split}.json")
    floor = res["real_floor"]
    acc2 = [r["metrics"]["acc/articleType"] for r in res["rows"] if "-lrg2-" in r["name"]]
    acc4 = [r["metrics"]["acc/articleType"] for r in res["rows"] if "-lrg4-" in r["name"]]
    if acc4:
        fid2 = [r["metrics"]["fid"] for r in res["rows"] if "-lrg2-" in r["name"]]
        out |= {"acc4": f"{sum(acc4) / len(acc4):.3f}", "acc2": f"{sum(acc2) / len(acc2):.3f}",
                "m2same": f"{sum(fid2) / len(fid2):.1f}"}
    out |= {"floor": f"{floor['fid']:.1f}", "twice": f"{2 * floor['fid']:.1f}", "acc": f"{sum(acc2) / len(acc2):.3f}",
            "real_acc": f"{floor['acc/articleType'] - 0.03:.3f}"}
    return out


def _combo() -> dict[str, str]:
    """Batch 32 + G 2e-4 at 12.5 minutes against session 13's 12.5-minute rows of each change alone (same ProductNet)."""
    new, old = R("quality/b32_lrg2_half_val.json"), R("quality/recipe_val.json")
    assert new["features"]["heldout_accuracy"] == old["features"]["heldout_accuracy"], "another ProductNet"
    m = {r["name"]: r["metrics"] for r in new["rows"] + old["rows"]}
    pair = {"c": ("gan64-sle-b32-lrg2-s0-half", "gan64-sle-b32-lrg2-s1-half"),
            "b": ("gan64-sle-b32-half", "gan64-sle-b32-s1-half"), "l": ("gan64-sle-lrg2-half", "gan64-sle-lrg2-s1-half"),
            "r": ("gan64-sle-half", "gan64-sle-s1-half")}
    out = {}
    for k, (s0, s1) in pair.items():
        out |= {f"{k}0": f"{m[s0]['fid']:.1f}", f"{k}1": f"{m[s1]['fid']:.1f}",
                f"{k}col": f"{(m[s0]['acc/baseColour'] + m[s1]['acc/baseColour']) / 2:.3f}"}
    return out


def _seed_of(name: str) -> int:
    """The training seed in a run's name: gan64-sle-noclr-s1 -> 1, also with a budget tail (-s1-6166, -s1-100m)."""
    return int(re.findall(r"-s(\d+)(?=-|$)", name)[-1])


def _vs_recipe(name: str, split: str = "val") -> dict[str, str]:
    """A variant's seeds (bench/b32_seeds.sh, bench/bf16_cpu.sh) against the fp32 recipe (G 2e-4, batch 64) at the same
    seeds: session 13's seed 0 and bench/lr_g_seeds.sh's seeds 1 and 2, measured with the same pinned ProductNet."""
    new = R(f"quality/{name}_{split}.json")
    assert new["features"]["heldout_accuracy"] == R(f"quality/lr_g_{split}.json")["features"]["heldout_accuracy"]
    base = _lr_g_fids(split)["2e-4"]
    base_acc = {_seed_of(r["name"]): r["metrics"]["acc/articleType"] for r in R(f"quality/lr_g_{split}.json")["rows"]
                if "-lrg2-" in r["name"]}
    if split == "val":
        base_acc[0] = row_by_name(R("quality/recipe_val.json"), "gan64-sle-lrg2")["metrics"]["acc/articleType"]
    fid = {_seed_of(r["name"]): r["metrics"]["fid"] for r in new["rows"]}
    acc = {_seed_of(r["name"]): r["metrics"]["acc/articleType"] for r in new["rows"]}
    seeds = sorted(s for s in fid if s in base)
    mean = lambda d: sum(d[s] for s in seeds) / len(seeds)  # noqa: E731
    return {**{f"f{s}": f"{fid[s]:.1f}" for s in seeds}, **{f"b{s}": f"{base[s]:.1f}" for s in seeds},
            "n": str(len(seeds)), "new": f"{mean(fid):.1f}", "base": f"{mean(base):.1f}",
            "wins": str(sum(fid[s] < base[s] for s in seeds)), "acc": f"{mean(acc):.3f}", "acc_base": f"{mean(base_acc):.3f}",
            "floor": f"{new['real_floor']['fid']:.1f}", "twice": f"{2 * new['real_floor']['fid']:.1f}",
            "real_acc": f"{new['real_floor']['acc/articleType'] - 0.03:.3f}"}


def _vs_variant(new: str, base: str, split: str = "val") -> dict[str, str]:
    """Two variants' seeds on one split (same pinned ProductNet): the seeds both have, per-seed FID-P, means of FID-P and
    of the conditional accuracies. Keys: f<seed> / b<seed>, new / base, wins, n, acc / acc_base, col / col_base."""
    a, b = R(f"quality/{new}_{split}.json"), R(f"quality/{base}_{split}.json")
    assert a["features"]["heldout_accuracy"] == b["features"]["heldout_accuracy"]
    ma = {_seed_of(r["name"]): r["metrics"] for r in a["rows"]}
    mb = {_seed_of(r["name"]): r["metrics"] for r in b["rows"]}
    seeds = sorted(set(ma) & set(mb))
    mean = lambda d, k: sum(d[s][k] for s in seeds) / len(seeds)  # noqa: E731
    return {**{f"f{s}": f"{ma[s]['fid']:.1f}" for s in seeds}, **{f"b{s}": f"{mb[s]['fid']:.1f}" for s in seeds},
            "n": str(len(seeds)), "new": f"{mean(ma, 'fid'):.1f}", "base": f"{mean(mb, 'fid'):.1f}",
            "wins": str(sum(ma[s]["fid"] < mb[s]["fid"] for s in seeds)),
            "acc": f"{mean(ma, 'acc/articleType'):.3f}", "acc_base": f"{mean(mb, 'acc/articleType'):.3f}",
            "col": f"{mean(ma, 'acc/baseColour'):.3f}", "col_base": f"{mean(mb, 'acc/baseColour'):.3f}",
            "real_col": f"{a['real_floor']['acc/baseColour']:.3f}", "real_acc": f"{a['real_floor']['acc/articleType']:.3f}"}


def _d_pick() -> dict[str, str]:
    """bench/d_pick_screen.py: FID-P of the first two runs at m = 1, 2, 4 (a<m> / b<m>)."""
    rows = R("quality/d_pick_val.json")["rows"]
    runs = list(dict.fromkeys(r["run"] for r in rows))[:2]
    return {f"{key}{r['m']}": f"{r['fid']:.1f}" for key, run in zip("ab", runs) for r in rows if r["run"] == run}


def _recipe_here() -> dict[str, str]:
    """The recipe trained on session 25's AVX-512 bf16 EPYC (recipe25) against the Xeon's 7,171-step seeds (onepass)."""
    here = {_seed_of(r["name"]): r["metrics"]["fid"] for r in R("quality/recipe25_val.json")["rows"]}
    xeon = {_seed_of(r["name"]): r["metrics"]["fid"] for r in R("quality/onepass_val.json")["rows"]}
    return {"r1": f"{here[1]:.1f}", "r2": f"{here[2]:.1f}", "x1": f"{xeon[1]:.1f}", "x2": f"{xeon[2]:.1f}",
            "lo": f"{min(xeon.values()):.1f}", "hi": f"{max(xeon.values()):.1f}"}


def _variants25_cost() -> dict[str, str]:
    """bench/recipe_variants25.sh's step counts: the 5,575 batch-64 steps' CPU time at each variant's measured speed."""
    ratio = {k: R(f"quality/{name}_speed.json")["b_over_a"] for k, name in
             (("128", "b128"), ("15", "width15"), ("075", "width075"))}
    steps = {"128": 5575 * ratio["128"] / 2, "15": 5575 * ratio["15"], "075": 5575 * ratio["075"]}
    return {**{f"r{k}": f"{v:.3f}" for k, v in ratio.items()}, **{f"s{k}": f"{v:,.0f}" for k, v in steps.items()}}


def _grow_wall(variant: str = "grow_screen_grow") -> dict[str, str]:
    """bench/grow_screen.sh (bcr_screen.sh): the training minutes of each arm (the results rows' train.minutes)."""
    secs = {"grow": [r["train"]["minutes"] for r in R(f"quality/{variant}_val.json")["rows"]],
            "recipe": [r["train"]["minutes"] for r in R("quality/grow_screen_recipe_val.json")["rows"]]}
    g, r = sum(secs["grow"]), sum(secs["recipe"])
    return {**{f"g{i}": f"{v:.1f}" for i, v in enumerate(secs["grow"])},
            **{f"r{i}": f"{v:.1f}" for i, v in enumerate(secs["recipe"])}, "over": f"{100 * (g / r - 1):+.0f}"}


def _vs_figure(name: str, new: str, lead: str, base_owner: str, seeds: int, base: str = "noclr") -> "Figure":
    """The sentence that sets a recipe variant's val seeds 0..seeds-1 against ``base``'s (default: translation +
    cutout's, noclr)."""
    listed = lambda k: " / ".join(f"{{{k}{s}}}" for s in range(seeds))  # noqa: E731
    return Figure(name, [f"quality/{new}_val.json", f"quality/{base}_val.json"],
                  f"{lead}: {listed('f')} against {base_owner} {listed('b')} at the same seeds, lower at {{wins}} of {{n}} "
                  "(mean {new} against {base}); articleType accuracy {acc} against {acc_base}, baseColour {col} against "
                  "{col_base}", lambda: _vs_variant(new, base))


def _ms_screen_figures(name: str, stem: str, lead: str, recipe_lead: str) -> list["Figure"]:
    """A variant of mode seeking 0.1 on the 1,200-step screen: against plain weight 0.1's arm, then the recipe arm."""
    return [_vs_figure(f"mode seeking 0.1 {name} (val)", stem, lead, "weight 0.1's plain", 2, base="mode_seeking_0.1_screen"),
            _vs_figure(f"mode seeking 0.1 {name} against the recipe (val)", stem, recipe_lead, "its", 2,
                       base="recipe_1200_screen")]


def _long_frozen() -> dict[str, str]:
    """The 100-minute copy at the faster trainer's 24,664 steps against the 22,300-step one (val and test)."""
    v, t = R("quality/frozen_long_val.json"), R("quality/frozen_long_test.json")
    v0 = [r for r in R("quality/noclr_long_val.json")["rows"] if "100 minutes" in r["label"]][0]["metrics"]
    t0 = R("quality/noclr_long_test.json")["rows"][0]["metrics"]
    vm, tm = v["rows"][0]["metrics"], t["rows"][0]["metrics"]
    return {"v": f"{vm['fid']:.1f}", "v0": f"{v0['fid']:.1f}", "n": str(tm["n_gen"]), "t": f"{tm['fid']:.1f}",
            "lo": f"{tm['fid_ci95_low']:.1f}", "hi": f"{tm['fid_ci95_high']:.1f}",
            "r": f"{tm['fid'] / t['real_floor']['fid']:.2f}", "t0": f"{t0['fid']:.1f}",
            "acc": f"{tm['acc/articleType']:.3f}",
            "var": f"{tm['diversity_same_condition'] / t['real_floor']['diversity_same_condition']:.2f}"}


def _test_read(new: str, base: str) -> dict[str, str]:
    """A recipe budget's test read against the budget before it: FID-P per seed and means, accuracy, variety, copies."""
    res = R(f"quality/{new}_test.json")
    return {**_vs_variant(new, base, "test"), **_variety(f"{new}_test.json"), "n": str(res["rows"][0]["metrics"]["n_gen"]),
            "twice": f"{2 * res['real_floor']['fid']:.1f}",
            "real_acc3": f"{res['real_floor']['acc/articleType'] - 0.03:.3f}",
            **{f"c{_seed_of(r['name'])}": f"{r['metrics']['near_copy_share']:.3f}" for r in res["rows"]}}


def _ms01_four_seeds() -> dict[str, str]:
    """Today's 25-minute default over its four seeds (session 32 added seeds 3 and 4): val and test baseColour per seed,
    the test means and ranges against the recipe without mode seeking (its seeds 1 and 2) and the thresholds."""
    val, test, noms = R("quality/ms01_val.json"), R("quality/ms01_test.json"), R("quality/noms_test.json")
    v = {_seed_of(r["name"]): r["metrics"] for r in val["rows"]}
    t = {_seed_of(r["name"]): r["metrics"] for r in test["rows"]}
    o = [r["metrics"] for r in noms["rows"]]
    mean = lambda rows, k: fmean(m[k] for m in rows)  # noqa: E731
    col = [m["acc/baseColour"] for m in t.values()]
    fid = [m["fid"] for m in t.values()]
    fl = test["real_floor"]
    threshold = fl["acc/baseColour"] - 0.03
    return {"v3": f"{v[3]['acc/baseColour']:.3f}", "v4": f"{v[4]['acc/baseColour']:.3f}",
            "t3": f"{t[3]['acc/baseColour']:.3f}", "t4": f"{t[4]['acc/baseColour']:.3f}", "seeds": str(len(t)),
            # four decimals where a value meets its threshold's: at three, 0.6347 printed as 0.635 beside 0.635
            "tmean": f"{fmean(col):.4f}", "tlo": f"{min(col):.4f}", "thi": f"{max(col):.4f}",
            "real_col3": f"{threshold:.4f}", "below": str(sum(c < threshold for c in col)),
            "fmean": f"{fmean(fid):.1f}", "flo": f"{min(fid):.1f}", "fhi": f"{max(fid):.1f}",
            "twice": f"{2 * fl['fid']:.1f}", "amean": f"{mean(t.values(), 'acc/articleType'):.3f}",
            "noms_col": f"{mean(o, 'acc/baseColour'):.3f}", "noms_fid": f"{mean(o, 'fid'):.1f}",
            "cost": f"{100 * (mean(o, 'acc/baseColour') - fmean(col)):.1f}"}


def _black_counts() -> dict[str, str]:
    """Val: how often each recipe pair's Black items were read as Black (mode seeking seed 2 against the others)."""
    black = {r["name"]: r["per_class_accuracy"]["baseColour"]["Black"] for r in R("quality/ms01_noms_colour_val.json")["rows"]}
    others = [v[0] for k, v in black.items() if k != "ms01-s2"]
    return {"ms2": str(black["ms01-s2"][0]), "n": str(black["ms01-s2"][1]), "lo": str(min(others)), "hi": str(max(others))}


def _texture() -> dict[str, str]:
    """bench/texture_energy.py: high-frequency energy inside the products, real training photos against the 25-minute
    pairs (all colours, and Black items)."""
    r = R("quality/texture_energy.json")
    gen = {Path(k).name.removeprefix("gan64-sle-"): v for k, v in r["generated"].items()}
    out = {"real": f"{r['real']['mean']:.4f}", "real_black": f"{r['real']['per_colour']['Black']['mean']:.4f}",
           "rows": f"{r['rows']:,}"}
    for k in ("ms01-s1", "ms01-s2", "noms-s1", "noms-s2"):
        out[k.replace("-", "_")] = f"{gen[k]['mean']:.4f}"
        out[k.replace("-", "_") + "_black"] = f"{gen[k]['per_colour']['Black']['mean']:.4f}"
    return out


def _colour_gap() -> dict[str, str]:
    """colour_keep's distance: logged at the end of its screen runs, between real training photos, and between
    generated images and the photo of their condition's row for the screen arms and the 25-minute pairs."""
    r = R("quality/colour_gap_real.json")
    trained = [v["colour_gap"] for v in r["trained"].values()]
    gen = {Path(k).name: v for k, v in r["generated"].items()}
    runs = {"ck": "ms0.1-colour1-screen-s{}", "ms": "ms0.1-screen-s{}", "rec": "recipe-1200-screen-s{}",
            "ms25_": "gan64-sle-ms01-s{}", "noms25_": "gan64-sle-noms-s{}"}
    pairs = {f"{key}{i}": f"{gen[name.format(s)]:.3f}" for key, name in runs.items()
             for i, s in enumerate((0, 1) if "screen" in name else (1, 2))}
    return {"t0": f"{trained[0]:.3f}", "t1": f"{trained[1]:.3f}", "cond": f"{r['same_condition']:.3f}",
            "col": f"{r['same_baseColour']:.3f}", "rand": f"{r['random']:.3f}", **pairs}


def _long_values(stem: str) -> dict[str, str]:
    """A recipe continued to 100 minutes (bench/<stem>.sh): val FID-P at each budget, the 100-minute copy's test read."""
    v = {int(re.search(r"(\d+) minutes", r["label"]).group(1)): r["metrics"] for r in R(f"quality/{stem}_val.json")["rows"]}
    t = R(f"quality/{stem}_test.json")
    tm, floor_v, floor_t = t["rows"][0]["metrics"], R(f"quality/{stem}_val.json")["real_floor"], t["real_floor"]
    return {**{f"f{m}": f"{x['fid']:.1f}" for m, x in v.items()},
            "r100": f"{v[100]['fid'] / floor_v['fid']:.2f}", "target": f"{1.3 * floor_v['fid']:.1f}",
            "t100": f"{tm['fid']:.1f}", "tlo": f"{tm['fid_ci95_low']:.1f}", "thi": f"{tm['fid_ci95_high']:.1f}",
            "tr": f"{tm['fid'] / floor_t['fid']:.2f}", "ttarget": f"{1.3 * floor_t['fid']:.1f}",
            "tacc": f"{tm['acc/articleType']:.3f}", "tcol": f"{tm['acc/baseColour']:.3f}", "tcov": f"{tm['coverage']:.3f}",
            "tvar": f"{tm['diversity_same_condition'] / floor_t['diversity_same_condition']:.2f}",
            **({"tprior": f"{tm['prior_text_acc/articleType']:.3f}"} if "prior_text_acc/articleType" in tm else {})}


def _ms01_long() -> dict[str, str]:
    """The default since session 28 at 25/50/75/100 minutes (val), its 100-minute test read, the power law's reach."""
    curve = next(c for c in R("quality/fid-vs-minutes-ms01.json")["curves"].values()
                 if c["source"].endswith("ms01_long_val.json"))
    reach = (curve["extrapolation"] or {}).get("all points", {}).get("minutes_to", {}).get("1.3x floor", "reached")
    return {**_long_values("ms01_long"), "ext13": str(reach),
            "o_v": f"{R('quality/onepass_long_val.json')['rows'][0]['metrics']['fid']:.1f}",
            "o_t": f"{R('quality/onepass_long_test.json')['rows'][0]['metrics']['fid']:.1f}"}


def _decay_read(stem: str, base_val: dict, base_test: str, tag: str) -> dict[str, str]:
    """A 100-minute decayed copy (quality/<stem>_val.json; _test.json if read) against a base copy: its val metrics
    ``base_val`` and its test results file ``base_test``; the base's keys end in ``tag``."""
    v = R(f"quality/{stem}_val.json")["rows"][0]["metrics"]
    out = {"v": f"{v['fid']:.1f}", "vlo": f"{v['fid_ci95_low']:.1f}", "vhi": f"{v['fid_ci95_high']:.1f}",
           f"v{tag}": f"{base_val['fid']:.1f}", "acc": f"{v['acc/articleType']:.3f}",
           f"acc{tag}": f"{base_val['acc/articleType']:.3f}", "col": f"{v['acc/baseColour']:.3f}",
           f"col{tag}": f"{base_val['acc/baseColour']:.3f}"}
    if Path(RESULTS, f"quality/{stem}_test.json").exists():
        t = R(f"quality/{stem}_test.json")
        tm, fl = t["rows"][0]["metrics"], t["real_floor"]
        out |= {"t": f"{tm['fid']:.1f}", "tlo": f"{tm['fid_ci95_low']:.1f}", "thi": f"{tm['fid_ci95_high']:.1f}",
                "tr": f"{tm['fid'] / fl['fid']:.2f}", "target": f"{1.3 * fl['fid']:.1f}",
                f"t{tag}": f"{R(base_test)['rows'][0]['metrics']['fid']:.1f}",
                "tacc": f"{tm['acc/articleType']:.3f}", "tcol": f"{tm['acc/baseColour']:.3f}",
                "tvar": f"{tm['diversity_same_condition'] / fl['diversity_same_condition']:.2f}",
                "tprior": f"{tm.get('prior_text_acc/articleType', float('nan')):.3f}"}
    return out


def _ms01_decay() -> dict[str, str]:
    """The 100-minute copy with the rates falling over the second half against the constant-rate one."""
    v0 = [r for r in R("quality/ms01_long_val.json")["rows"] if "100 minutes" in r["label"]][0]["metrics"]
    return _decay_read("ms01_decay", v0, "quality/ms01_long_test.json", "0")


def _ms01_decay75() -> dict[str, str]:
    """The 100-minute copy with the rates falling over the last three quarters against the one falling over the second
    half."""
    return _decay_read("ms01_decay75", R("quality/ms01_decay_val.json")["rows"][0]["metrics"],
                       "quality/ms01_decay_test.json", "50")


def _ms_truncation() -> dict[str, str]:
    """Truncation 0.9 against 1 on the two mode-seeking seeds (val): baseColour, variety, FID-P."""
    out = {}
    for s in (1, 2):
        res = R(f"quality/truncation_gan64-sle-ms01-s{s}_val.json")
        fl = res["real_floor"]
        at = {r["name"]: r["metrics"] for r in res["rows"]}
        out |= {f"c{s}": f"{at['t0.9']['acc/baseColour']:.3f}", f"c{s}_1": f"{at['t1.0']['acc/baseColour']:.3f}",
                f"v{s}": f"{at['t0.9']['diversity_same_condition'] / fl['diversity_same_condition']:.2f}",
                f"f{s}": f"{at['t0.9']['fid']:.1f}", f"f{s}_1": f"{at['t1.0']['fid']:.1f}",
                "real_col3": f"{fl['acc/baseColour'] - 0.03:.3f}", "twice": f"{2 * fl['fid']:.1f}"}
    return out


def _long_onepass() -> dict[str, str]:
    """The 100-minute copy at session 20's 26,932 and 28,684 steps against session 19's 24,664 (val; test at 28,684)."""
    v = {k: R(f"quality/{k}_long_val.json")["rows"][0]["metrics"]["fid"] for k in ("frozen", "kernels", "onepass")}
    t, t0 = R("quality/onepass_long_test.json"), R("quality/frozen_long_test.json")["rows"][0]["metrics"]
    tm, floor = t["rows"][0]["metrics"], t["real_floor"]
    return {"v": f"{v['onepass']:.1f}", "v0": f"{v['frozen']:.1f}", "vk": f"{v['kernels']:.1f}", "n": str(tm["n_gen"]),
            "t": f"{tm['fid']:.1f}", "lo": f"{tm['fid_ci95_low']:.1f}", "hi": f"{tm['fid_ci95_high']:.1f}",
            "r": f"{tm['fid'] / floor['fid']:.2f}", "target": f"{1.3 * floor['fid']:.1f}", "t0": f"{t0['fid']:.1f}",
            "acc": f"{tm['acc/articleType']:.3f}",
            "var": f"{tm['diversity_same_condition'] / floor['diversity_same_condition']:.2f}"}


def _recipe_steps() -> int:
    """The 25-minute recipe's steps today: session 19's 6,166, times the kernels' and D's one pass's speed-ups
    (each rounded as the runs were continued: 6,733, then 7,171)."""
    return round(round(6166 * R("quality/kernels_speed.json")["b_over_a"]) * R("quality/onepass_speed.json")["b_over_a"])


def _avx2_hours() -> dict[str, str]:
    """The recipe's 25-minute steps (batch 64) at the fp32 images/s of a CPU without bf16 kernels, in core-hours."""
    ips = R("quality/bf16_emulated_speed.json")["rows"][0]["images_per_s"]
    return {"ips": f"{ips:.0f}", "steps": f"{_recipe_steps():,}", "h": f"{_recipe_steps() * 64 / ips / 3600:.1f}"}


def _steps_to_twice() -> dict[str, str]:
    """Where today's recipe's 100-minute curve (seed 1, val) crosses 2x the floor, in steps and against today's budget."""
    import math

    res = R("quality/noclr_long_val.json")
    twice = 2 * res["real_floor"]["fid"]
    pts = sorted((r["train"]["steps"], r["metrics"]["fid"]) for r in res["rows"])
    (a, fa), (b, fb) = next((p, q) for p, q in zip(pts, pts[1:]) if p[1] > twice >= q[1])
    x = math.exp(math.log(a) + (math.log(b) - math.log(a)) * (fa - twice) / (fa - fb))
    today = _recipe_steps()
    return {"twice": f"{twice:.1f}", "a": f"{a:,}", "fa": f"{fa:.1f}", "b": f"{b:,}", "fb": f"{fb:.1f}",
            "x": f"{round(x, -2):,.0f}", "r": f"{x / today:.1f}", "today": f"{today:,}"}


def _variety(name: str) -> dict[str, str]:
    """Same-condition variety (mean pairwise ProductNet distance among images of one condition) per seed, against real's."""
    res = R(f"quality/{name}")
    real = res["real_floor"]["diversity_same_condition"]
    v = {_seed_of(r["name"]): r["metrics"]["diversity_same_condition"] for r in res["rows"]}
    return {"vr": f"{real:.1f}", **{f"v{s}": f"{x:.1f}" for s, x in v.items()},
            **{f"r{s}": f"{x / real:.3f}" for s, x in v.items()}}


def _long_default() -> dict[str, str]:
    """Today's recipe at 25/50/75/100 minutes (val) and its 100-minute test read; the extrapolation of its curve."""
    ext = R("quality/fid-vs-minutes-default.json")["extrapolation"]["all points"]["minutes_to"]
    return {**_long_values("noclr_long"), "ext13": str(ext.get("1.3x floor"))}


def _ada_variety() -> dict[str, str]:
    a, e = (R(f"quality/{n}_val.json") for n in ("bf16ada", "bf16eq"))
    return {**{f"a{_seed_of(r['name'])}": f"{r['metrics']['diversity_same_condition']:.1f}" for r in a["rows"]},
            **{f"e{_seed_of(r['name'])}": f"{r['metrics']['diversity_same_condition']:.1f}" for r in e["rows"]}}


def _quickdraw() -> dict[str, str]:
    """Figures of the doodle section: test doodles (quickdraw-test.json) and the val screen of the variants."""
    t, v = R("sketch/quickdraw-test.json"), R("sketch/quickdraw-val.json")

    def pick(res: dict, where: str, label: str) -> dict:
        return res["photo_maps"]["rows"][label] if where == "photo" else res["fits"][where]["rows"][label]

    def fid(r): return f"{r['fid_p']:.0f}"
    def acc(r): return f"{r['cond_acc']['acc/articleType']:.2f}"
    def f1(r): return f"{r['faithfulness']['edge_f1']['mean']:.2f}"
    def col(r): return f"{r['cond_acc']['acc/baseColour']:.2f}"

    p2p, alone = "pix2pix, type given", "pix2pix, sketch alone"
    out = {"qd_f1_doodle": f1(pick(t, "lines", p2p)), "qd_f1_photo": f1(pick(t, "photo", p2p)),
           "qd_fid_doodle": fid(pick(t, "lines", p2p)), "qd_fid_photo": fid(pick(t, "photo", p2p)),
           "qd_floor": f"{t['floor']['fid_p']:.0f}", "qd_acc_doodle": acc(pick(t, "lines", p2p)),
           "qd_acc_photo": acc(pick(t, "photo", p2p)),
           "qd_col_doodle": col(pick(t, "lines", p2p)), "qd_col_photo": col(pick(t, "photo", p2p)),
           "qd_acc_floor": acc(t["floor"]),
           "qd_sub_doodle": f"{pick(t, 'lines', p2p)['subCategory_acc']['mean']:.2f}",
           "qd_sub_photo": f"{pick(t, 'photo', p2p)['subCategory_acc']['mean']:.2f}",
           "qd_alone": acc(pick(t, "lines", alone)), "qd_alone_photo": acc(pick(t, "photo", alone)),
           "qd_acc_fill": acc(pick(t, "lines", "flood-fill baseline")), "qd_fid_canvas": fid(pick(t, "canvas", p2p)),
           "qd_acc_canvas": acc(pick(t, "canvas", p2p)), "qd_val_fid": fid(pick(v, "lines", p2p)),
           "qd_val_acc": acc(pick(v, "lines", p2p)), "qd_val_photo": fid(pick(v, "photo", p2p)),
           "qd_val_pacc": acc(pick(v, "photo", p2p)),
           "qd_val_col": col(pick(v, "lines", p2p))}
    snap, snap_alone = "pix2pix snapped, type given", "pix2pix snapped, sketch alone"
    for tag, res in (("", t), ("val_", v)):
        r = pick(res, "lines", snap)
        out |= {f"qd_{tag}snap_fid": fid(r), f"qd_{tag}snap_acc": acc(r), f"qd_{tag}snap_f1": f1(r), f"qd_{tag}snap_col": col(r),
                f"qd_{tag}snap_sub": f"{r['subCategory_acc']['mean']:.2f}",
                f"qd_{tag}snap_near": f"{r['memorisation']['near_copy_share']:.3f}",
                f"qd_{tag}snap_shapes": str(r["distinct_shapes"]), f"qd_{tag}snap_ms": f"{r['snap_s_per_sketch'] * 1e3:.0f}",
                f"qd_{tag}snap_alone": acc(pick(res, "lines", snap_alone)),
                f"qd_{tag}snap_alone_fid": fid(pick(res, "lines", snap_alone)),
                f"qd_{tag}doodle_near": f"{pick(res, 'lines', p2p)['memorisation']['near_copy_share']:.3f}",
                f"qd_{tag}snap_ratio": f"{r['memorisation']['ratio']:.1f}"}
    x = R("sketch/quickdraw-val-steps2000.json")
    r = pick(x, "lines", snap)
    out |= {"qd_s2k_snap_fid": fid(r), "qd_s2k_snap_acc": acc(r), "qd_s2k_snap_f1": f1(r),
            "qd_s2k_snap_near": f"{r['memorisation']['near_copy_share']:.3f}",
            "qd_s2k_snap_ratio": f"{r['memorisation']['ratio']:.1f}"}
    out["qd_val_f1"] = f1(pick(v, "lines", p2p))
    for key in QD_VARIANTS:
        x = R(f"sketch/quickdraw-val-{key}.json")
        k = key.replace("outline", "o").replace("warp", "w")
        out |= {f"qd_{k}_fid": fid(pick(x, "lines", p2p)), f"qd_{k}_acc": acc(pick(x, "lines", p2p)),
                f"qd_{k}_photo": fid(pick(x, "photo", p2p)), f"qd_{k}_f1": f1(pick(x, "lines", p2p)),
                f"qd_{k}_pacc": acc(pick(x, "photo", p2p)),
                f"qd_{k}_col": col(pick(x, "lines", p2p))}
    return out


def _qd_silhouette(split: str) -> dict[str, str]:
    """Figures of the silhouette doodle rows (bench/quickdraw_silhouette.sh): quickdraw-<split>-silhouette.json."""
    res = R(f"sketch/quickdraw-{split}-silhouette.json")
    rows = res["fits"]["lines"]["rows"]
    sil = "silhouette pix2pix"
    keys = {"sil": f"{sil}, type given", "sil_alone": f"{sil}, sketch alone", "c16": f"{sil} (masks through 16 x 16), type given",
            "c8": f"{sil} (masks through 8 x 8), type given", "snap": f"{sil} snapped, type given",
            "esnap": "pix2pix snapped, type given", "edges": "pix2pix, type given",
            **{f"k{k}": f"{sil}, shape model of {k}, type given" for k in range(6)}}
    out = {}
    for tag, label in keys.items():
        if label not in rows:
            continue
        r = rows[label]
        fa = r["faithfulness"]
        out |= {f"{tag}_fid": f"{r['fid_p']:.0f}", f"{tag}_acc": f"{r['cond_acc']['acc/articleType']:.2f}",
                f"{tag}_sub": f"{r['subCategory_acc']['mean']:.2f}", f"{tag}_col": f"{r['cond_acc']['acc/baseColour']:.2f}",
                f"{tag}_f1": f"{fa['edge_f1']['mean']:.2f}",
                f"{tag}_iou": f"{fa['silhouette_iou']['mean']:.2f}" if "silhouette_iou" in fa else ""}
    photo = res["photo_maps"]["rows"]
    for tag, label in (("p_sil", f"{sil}, type given"), ("p_c16", f"{sil} (masks through 16 x 16), type given"),
                       ("p_c8", f"{sil} (masks through 8 x 8), type given"), ("p_edges", "pix2pix, type given")):
        out |= {f"{tag}_fid": f"{photo[label]['fid_p']:.0f}", f"{tag}_acc": f"{photo[label]['cond_acc']['acc/articleType']:.2f}"}
    out["k1_ms"] = f"{rows[keys['k1']]['project_s_per_sketch'] * 1e3:.0f}" if keys["k1"] in rows else ""
    out["floor"] = f"{res['floor']['fid_p']:.0f}"
    return out


def _qd_close() -> dict[str, str]:
    """bench/quickdraw_silhouette.sh close-val / close-test: keys <v|t>_ n, fid / fid0 (closed / as drawn, all
    doodles), sfid / sfid0 (snapped), acc / acc0 and col / col0 (the changed doodles alone), sacc / sacc0 (snapped)."""
    out = {}
    for key, split in (("v", "val"), ("t", "test")):
        res = R(f"sketch/quickdraw-{split}-close.json")
        rows, sub = res["fits"]["lines"]["rows"], res["closed_subset"]["lines"]
        fid = lambda k: f"{rows[k + ', type given']['fid_p']:.1f}"  # noqa: E731
        out |= {f"{key}_n": str(sub["n"]), "n": str(res["n"]),
                f"{key}_fid": fid("silhouette pix2pix, outline closed"), f"{key}_fid0": fid("silhouette pix2pix"),
                f"{key}_sfid": fid("silhouette pix2pix snapped, outline closed"),
                f"{key}_sfid0": fid("silhouette pix2pix snapped"),
                f"{key}_acc": f"{sub['rows']['silhouette pix2pix, outline closed']['acc/articleType']:.2f}",
                f"{key}_acc0": f"{sub['rows']['silhouette pix2pix']['acc/articleType']:.2f}",
                f"{key}_col": f"{sub['rows']['silhouette pix2pix, outline closed']['acc/baseColour']:.2f}",
                f"{key}_col0": f"{sub['rows']['silhouette pix2pix']['acc/baseColour']:.2f}",
                f"{key}_sacc": f"{sub['rows']['silhouette pix2pix snapped, outline closed']['acc/articleType']:.2f}",
                f"{key}_sacc0": f"{sub['rows']['silhouette pix2pix snapped']['acc/articleType']:.2f}"}
    return out


def _qd_sil_figure(name: str, template: str, split: str = "val") -> "Figure":
    """A figure of the silhouette doodle rows of ``split`` (``_qd_silhouette``)."""
    return Figure(name, [f"sketch/quickdraw-{split}-silhouette.json"], template, lambda: _qd_silhouette(split))


# The test doodles through --sketch-snap (README "Doodles drawn by people"), one paragraph of figures.
QD_SNAP_TEST = ('On the test doodles, read once: FID-P {qd_snap_fid} against {qd_fid_doodle} (photo maps {qd_fid_photo}, floor '
                '{qd_floor}), articleType {qd_snap_acc} against {qd_acc_doodle} (photo maps {qd_acc_photo}), subCategory '
                '{qd_snap_sub} against {qd_sub_doodle}, baseColour {qd_snap_col} against {qd_col_doodle}; edge F1 to the doodle '
                '{qd_snap_f1} against {qd_f1_doodle}. The 650 doodles took {qd_snap_shapes} distinct catalog shapes, and the '
                "near-copy share of training photos is {qd_snap_near} (the doodles' own: {qd_doodle_near}), and their mean "
                "distance to the nearest training photo is {qd_snap_ratio}x a held-out photo's: a shape borrowed from a photo is "
                "not a copy of it. Matching takes {qd_snap_ms} ms a sketch. With no type given, the drawing's shape alone picks "
                'the asked type for {qd_snap_alone} (FID-P {qd_snap_alone_fid}): snapping needs the type.')


FIGURES: list[Figure] = [
    Figure("doodles: faithfulness (test)", ["sketch/quickdraw-test.json"],
           "pix2pix follows a person's doodle almost as closely as a photo's Canny map: {qd_f1_doodle} edge F1 against "
           "{qd_f1_photo}. It fills the drawn shape with shading like a catalog photo's, in a colour that is the asked one "
           "less often: baseColour accuracy {qd_col_doodle} against {qd_col_photo}", _quickdraw),
    Figure("doodles: quality and type (test)", ["sketch/quickdraw-test.json"],
           "FID-P {qd_fid_doodle} against {qd_fid_photo} from photo maps (the floor is {qd_floor}), and ProductNet names the "
           "asked article type for {qd_acc_doodle} of the doodles against {qd_acc_photo} from photo maps ({qd_acc_floor} for "
           "real photos), the right subCategory for {qd_sub_doodle} against {qd_sub_photo}. Left to the drawing alone "
           "(articleType unspecified), {qd_alone} are the asked type: a doodle's shape decides the product less than a "
           "photo's edges do ({qd_alone_photo} from photo maps without a type). The flood-fill baseline's {qd_acc_fill} says",
           _quickdraw),
    Figure("doodles: snapped (val)", ["sketch/quickdraw-val.json"],
           "On the val doodles it gives FID-P {qd_val_snap_fid} against {qd_val_fid} from the doodle's own lines (photo maps: "
           "{qd_val_photo}), articleType {qd_val_snap_acc} against {qd_val_acc} (photo maps: {qd_val_pacc}), at the price of "
           "faithfulness to the drawing: edge F1 {qd_val_snap_f1} against {qd_val_f1}.", _quickdraw),
    Figure("doodles: snapped (test)", ["sketch/quickdraw-test.json"], QD_SNAP_TEST, _quickdraw),
    Figure("doodles: snapped, 2,000 steps (val)", ["sketch/quickdraw-val-steps2000.json"],
           "Snapping with the 2,000-step run (val): FID-P {qd_s2k_snap_fid}, articleType {qd_s2k_snap_acc}, edge F1 to the "
           "doodle {qd_s2k_snap_f1}, near copies {qd_s2k_snap_near} (nearest-training-photo distance {qd_s2k_snap_ratio}x a "
           "held-out photo's).", _quickdraw),
    _qd_sil_figure("doodles: coarse masks (val)",
           "It does not: from doodles FID-P {c16_fid} / {c8_fid} at G = 16 / 8 against {sil_fid} without, articleType\n"
           "{c16_acc} / {c8_acc} against {sil_acc}; from the val photos' masks FID-P {p_c16_fid} / {p_c8_fid} against "
           "{p_sil_fid}."),
    _qd_sil_figure("doodles: silhouettes (val)",
           "from the doodle's filled mask gives FID-P {sil_fid} against the edges run's {edges_fid} from its lines, but\n"
           "the type is ignored: articleType {sil_acc} with the type given, {sil_alone_acc} without"),
    _qd_sil_figure("doodles: silhouette snapping (val)",
           "FID-P {snap_fid} against the edges run's {esnap_fid} (same doodles, same machine), articleType {snap_acc}\n"
           "against {esnap_acc}, subCategory {snap_sub} against {esnap_sub}, baseColour {snap_col} against {esnap_col}"),
    _qd_sil_figure("doodles: shape model (val)",
           "| K | FID-P | articleType | subCategory | mask IoU with the doodle |\n| --- | --- | --- | --- | --- |\n"
           "| 0 (the type's mean mask) | {k0_fid} | {k0_acc} | {k0_sub} | {k0_iou} |\n"
           "| 1 | {k1_fid} | {k1_acc} | {k1_sub} | {k1_iou} |\n| 2 | {k2_fid} | {k2_acc} | {k2_sub} | {k2_iou} |\n"
           "| 3 | {k3_fid} | {k3_acc} | {k3_sub} | {k3_iou} |\n| 5 | {k5_fid} | {k5_acc} | {k5_sub} | {k5_iou} |\n"
           "| snapping (the nearest mask) | {snap_fid} | {snap_acc} | {snap_sub} | {snap_iou} |\n"
           "| the doodle's own mask | {sil_fid} | {sil_acc} | {sil_sub} | {sil_iou} |"),
    _qd_sil_figure("doodles: silhouettes (test)",
           "Test doodles, read once: silhouette snapping gives FID-P {snap_fid} against edges snapping's {esnap_fid},\n"
           "articleType {snap_acc} against {esnap_acc}, subCategory {snap_sub} against {esnap_sub}, baseColour {snap_col} "
           "against\n"
           "{esnap_col}. The shape model at K = 1: FID-P {k1_fid}, articleType {k1_acc}, subCategory {k1_sub}, mask IoU "
           "{k1_iou}\n"
           "against snapping's {snap_iou}; the type's mean mask: FID-P {k0_fid}, articleType {k0_acc}, mask IoU {k0_iou}. The\n"
           "doodle's own mask: FID-P {sil_fid}, articleType {sil_acc}; coarse masks: {c16_fid} / {c8_fid}.", "test"),
    Figure("doodles: canvas framing (test)", ["sketch/quickdraw-test.json"],
           "gives FID-P {qd_fid_canvas} and articleType {qd_acc_canvas}.", _quickdraw),
    Figure("doodles: outline maps (val)", ["sketch/quickdraw-val.json", *(f"sketch/quickdraw-val-{v}.json" for v in QD_VARIANTS)],
           "it is a tie: FID-P {qd_o05_fid} / {qd_o025_fid} against {qd_val_fid}, articleType {qd_o05_acc} / {qd_o025_acc} "
           "against {qd_val_acc}, edge F1 lower. On photo maps FID-P rises to {qd_o05_photo} / {qd_o025_photo} against "
           "{qd_val_photo}.", _quickdraw),
    Figure("doodles: 2,000 steps (val)", ["sketch/quickdraw-val.json", "sketch/quickdraw-val-steps2000.json"],
           "from photo maps FID-P {qd_steps2000_photo} against {qd_val_photo} and articleType {qd_steps2000_pacc} against "
           "{qd_val_pacc}; from doodles FID-P {qd_steps2000_fid} against {qd_val_fid} and articleType {qd_steps2000_acc} "
           "against {qd_val_acc} (baseColour {qd_steps2000_col} against {qd_val_col}).", _quickdraw),
    Figure("doodles: warped maps (val)", ["sketch/quickdraw-val.json", *(f"sketch/quickdraw-val-{v}.json" for v in QD_VARIANTS)],
           "It loses: doodles {qd_w03_fid} / {qd_w05_fid}, photo maps {qd_w03_photo} / {qd_w05_photo}, and edge F1 drops to "
           "{qd_w03_f1} / {qd_w05_f1}.", _quickdraw),
    Figure("batch 32 at 25 minutes", ["quality/b32_lrg2_val.json", "quality/lr_g_val.json", "quality/recipe_val.json"],
           "At 25 minutes batch 32 with G 2e-4 reached {f0} / {f1} / {f2} (seeds 0, 1, 2) against batch 64's {b0} / {b1} / {b2}: mean {new} "
           "against {base}, lower at {wins} of {n} seeds; articleType accuracy {acc} against {acc_base}",
           lambda: _vs_recipe("b32_lrg2")),
    Figure("bf16 with less CPU time (val)", ["quality/bf16_val.json", "quality/lr_g_val.json", "quality/recipe_val.json"],
           "With 84% of fp32's CPU time bf16 reached {f0} / {f1} / {f2} (seeds 0, 1, 2) against fp32's {b0} / {b1} / {b2}: mean {new} against "
           "{base}, lower at {wins} of {n} seeds; articleType accuracy {acc} against {acc_base}", lambda: _vs_recipe("bf16")),
    Figure("bf16 on test", ["quality/bf16_test.json", "quality/lr_g_test.json"],
           "On test (read once, seeds 1 and 2): bf16 {f1} / {f2} against fp32's {b1} / {b2}, mean {new} against {base} (2x the "
           "floor: {twice}); articleType accuracy {acc} against {acc_base}, and real photos' less 3 points is {real_acc}",
           lambda: _vs_recipe("bf16", "test")),
    Figure("bf16 at equal CPU time (val)", ["quality/bf16eq_val.json", "quality/lr_g_val.json", "quality/recipe_val.json"],
           "At equal CPU time bf16 reached {f0} / {f1} / {f2} (seeds 0, 1, 2) against fp32's {b0} / {b1} / {b2}: mean {new} "
           "against {base}, lower at {wins} of {n} seeds; articleType accuracy {acc} against {acc_base} (real photos {real})",
           lambda: {**_vs_recipe("bf16eq"), "real": f"{R('quality/bf16eq_val.json')['real_floor']['acc/articleType']:.3f}"}),
    Figure("bf16 at equal CPU time on test", ["quality/bf16eq_test.json", "quality/lr_g_test.json"],
           "On test (read once, seeds 1 and 2): bf16 at equal CPU time {f1} / {f2} against fp32's {b1} / {b2}, mean {new} "
           "against {base} (2x the floor: {twice}); articleType accuracy {acc} against {acc_base}, and real photos' less 3 "
           "points is {real_acc}", lambda: _vs_recipe("bf16eq", "test")),
    Figure("bf16 equal-time variety on test", ["quality/bf16eq_test.json"],
           "same-condition variety {v1} / {v2} against real photos' {vr} ({r1}x / {r2}x; target 0.8x)", lambda: _variety("bf16eq_test.json")),
    Figure("ADA against always-on DiffAugment (val)", ["quality/bf16ada_val.json", "quality/bf16eq_val.json"],
           "ADA reached {f0} / {f1} (seeds 0, 1) against always-on DiffAugment's {b0} / {b1}, lower at {wins} of {n} seeds; "
           "baseColour accuracy {col} against {col_base} (real photos {real_col}), articleType {acc} against {acc_base}",
           lambda: _vs_variant("bf16ada", "bf16eq")),
    Figure("ADA variety (val)", ["quality/bf16ada_val.json", "quality/bf16eq_val.json"],
           "same-condition variety {a0} / {a1} against {e0} / {e1}", _ada_variety),
    Figure("DiffAugment without colour (val)", ["quality/noclr_val.json", "quality/bf16eq_val.json"],
           "Without the colour transform: {f0} / {f1} / {f2} (seeds 0, 1, 2) against {b0} / {b1} / {b2} with it, lower at {wins} of {n} "
           "seeds (mean {new} against {base}); baseColour accuracy {col} against {col_base}, articleType {acc} against "
           "{acc_base}", lambda: _vs_variant("noclr", "bf16eq")),
    Figure("DiffAugment without colour on test", ["quality/noclr_test.json", "quality/bf16eq_test.json"],
           "On test (read once, seeds 1 and 2): without the colour transform {f1} / {f2} against {b1} / {b2} with it, lower "
           "at {wins} of {n} seeds (mean {new} against {base}; 2x the floor is {twice}); articleType accuracy {acc} against "
           "{acc_base} (real photos less 3 points: {real_acc3}), baseColour {col} against {col_base} (real photos {real_col})",
           lambda: {**_vs_variant("noclr", "bf16eq", "test"),
                    "twice": f"{2 * R('quality/noclr_test.json')['real_floor']['fid']:.1f}",
                    "real_acc3": f"{R('quality/noclr_test.json')['real_floor']['acc/articleType'] - 0.03:.3f}"}),
    Figure("today's recipe to 100 minutes", ["quality/noclr_long_val.json", "quality/noclr_long_test.json",
                                              "quality/fid-vs-minutes-default.json"],
           "Val FID-P {f25} at 25 minutes, {f50} at 50, {f75} at 75 and {f100} at 100 ({r100}x the floor; the issue's "
           "100-minute target is 1.3x, {target}). On test, read once for the 100-minute copy (n=875): {t100} "
           "({tlo}-{thi}), {tr}x the floor; articleType accuracy {tacc}, baseColour {tcol}, coverage {tcov}, "
           "same-condition variety {tvar}x the real photos'. A power law fitted to the four points would reach 1.3x the "
           "floor after about {ext13} minutes", _long_default),
    _vs_figure("DiffAugment translation only (val)", "tronly", "Translation only", "translation + cutout's", 3),
    Figure("batch 128 (val)", ["quality/b128_val.json", "quality/noclr_val.json"],
           "Batch 128 at equal CPU time: {f0} at seed 0 against batch 64's {b0}; articleType accuracy {acc} against "
           "{acc_base}, baseColour {col} against {col_base}", lambda: _vs_variant("b128", "noclr")),
    _vs_figure("learning-rate decay (val)", "lrdecay", "With the decay", "constant rates'", 3),
    Figure("recipe variants' cost", ["quality/b128_speed.json", "quality/width15_speed.json",
                                     "quality/width075_speed.json"],
           "A batch-128 step moves {r128}x the images per second, so the budget buys {s128} batch-128 steps; G and D 1.5x "
           "as wide (`g_base=24, d_base=48`, caps 384) run at {r15}x, {s15} steps, and 0.75x as wide (`g_base=12, "
           "d_base=24`, caps 192) at {r075}x, {s075} steps", _variants25_cost),
    _vs_figure("1.5x widths (val)", "w15", "G and D 1.5x as wide at equal CPU time", "the default widths'", 2),
    _vs_figure("0.75x widths (val)", "w075", "G and D 0.75x as wide at equal CPU time", "the default widths'", 2),
    Figure("D reconstruction's cost", ["quality/recon_speed.json"],
           "With the two decoders a step moves {r}x the images per second, so the budget buys {s} steps",
           lambda: {"r": f"{R('quality/recon_speed.json')['b_over_a']:.3f}",
                    "s": f"{5575 * R('quality/recon_speed.json')['b_over_a']:,.0f}"}),
    _vs_figure("D reconstruction (val)", "recon", "With D's reconstruction at equal CPU time", "the recipe's", 2),
    _vs_figure("LeCam (val)", "lecam", "With LeCam at the same steps", "the recipe's", 4),
    _vs_figure("6,166 steps (val)", "frozen", "With 6,166 steps", "5,575 steps'", 4),
    _vs_figure("LeCam at 6,166 steps (val)", "lecam_frozen", "LeCam at 6,166 steps", "the recipe's", 4, base="frozen"),
    Figure("100 minutes with the faster trainer", ["quality/frozen_long_val.json", "quality/frozen_long_test.json",
                                                    "quality/noclr_long_val.json", "quality/noclr_long_test.json"],
           "At 24,664 steps seed 1 reads {v} on val against {v0} at 22,300 steps; on test, read once (n={n}): {t} "
           "({lo}-{hi}), {r}x the floor, against {t0}; articleType accuracy {acc}, same-condition variety {var}x the "
           "real photos'", _long_frozen),
    Figure("6,166 steps (test)", ["quality/frozen_test.json", "quality/noclr_test.json"],
           "On test, read once (seeds 1 and 2, n={n}): {f1} / {f2} against 5,575 steps' {b1} / {b2} (mean {new} against "
           "{base}; 2x the floor is {twice}); articleType accuracy {acc} (real photos less 3 points: {real_acc3}); "
           "variety within one condition {v1} / {v2} against real photos' {vr} ({r1}x / {r2}x theirs; target 0.8x); "
           "near copies {c1} / {c2}",
           lambda: _test_read("frozen", "noclr")),
    _vs_figure("6,733 steps (val)", "kernels", "With 6,733 steps", "6,166 steps'", 4, base="frozen"),
    _vs_figure("7,171 steps (val)", "onepass", "With 7,171 steps", "6,166 steps'", 4, base="frozen"),
    Figure("6,733 steps (test)", ["quality/kernels_test.json", "quality/frozen_test.json"],
           "On test, read once for the 6,733-step copies (seeds 1 and 2): {f1} / {f2} against 6,166 steps' {b1} / {b2}",
           lambda: _vs_variant("kernels", "frozen", "test")),
    Figure("7,171 steps (test)", ["quality/onepass_test.json", "quality/frozen_test.json"],
           "On test, read once (seeds 1 and 2, n={n}): {f1} / {f2} against 6,166 steps' {b1} / {b2} (mean {new} against "
           "{base}; 2x the floor is {twice}); articleType accuracy {acc} (real photos less 3 points: {real_acc3}); "
           "variety within one condition {r1}x / {r2}x the real photos'; near copies {c1} / {c2}",
           lambda: _test_read("onepass", "frozen")),
    _vs_figure("shared fakes (val)", "shared", "With G's step on D's step's fakes at equal CPU time", "the recipe's", 4,
               base="onepass"),
    Figure("fp32 on an AVX2 CPU", ["quality/bf16_emulated_speed.json", "quality/kernels_speed.json",
                                   "quality/onepass_speed.json"],
           "Such a machine trains the recipe at {ips} images/s a core in fp32, so the 25-minute recipe's {steps} steps "
           "take about {h} hours of one core there", _avx2_hours),
    Figure("progressive growing's speed", ["quality/grow_low_speed_fp32.json", "quality/grow_fade_speed_fp32.json"],
           "The 32-px phase runs at {low}x the recipe's images/s and the fade-in at {fade}x; a schedule that spends "
           "half the budget at 32 px buys {gain}x the steps",
           lambda: {"low": f"{R('quality/grow_low_speed_fp32.json')['b_over_a']:.2f}",
                    "fade": f"{R('quality/grow_fade_speed_fp32.json')['b_over_a']:.2f}",
                    "gain": f"{0.5 * R('quality/grow_low_speed_fp32.json')['b_over_a'] + 0.5:.2f}"}),
    _vs_figure("progressive growing (val)", "grow_screen_grow", "With progressive growing at equal CPU time", "the fp32 "
               "recipe's", 2, base="grow_screen_recipe"),
    Figure("progressive growing's wall time", ["quality/grow_screen_grow_val.json", "quality/grow_screen_recipe_val.json"],
           "Trained side by side (seeds 0 and 1 in turn), the growing runs took {g0} / {g1} minutes of training time "
           "against the recipe's {r0} / {r1}, {over}% in all: equal CPU time held", _grow_wall),
    _vs_figure("bCR (val)", "bcr_screen", "With bCR at equal CPU time", "the fp32 recipe's", 2, base="grow_screen_recipe"),
    Figure("bf16 on Zen 4", ["quality/bf16_speed_zen4.json", "quality/bf16_probe_zen4.json"],
           "gains {r}x on the whole step ({b} against {a} images/s), and its probe reads\n{lo}-{hi}",
           lambda: (lambda res, pr: {"r": f"{res['b_over_a']:.2f}", "a": f"{res['rows'][0]['images_per_s']:.1f}",
                                     "b": f"{res['rows'][1]['images_per_s']:.1f}",
                                     "lo": f"{min(pr['probe_reads']):.2f}", "hi": f"{max(pr['probe_reads']):.2f}"})(
               R("quality/bf16_speed_zen4.json"), R("quality/bf16_probe_zen4.json"))),
    Figure("top-k at 25 minutes (val)", ["quality/topk_val.json", "quality/recipe25_val.json"],
           "With top-k training: {f1} / {f2} against the recipe's {b1} / {b2} at the same seeds, lower at {wins} of {n}\n"
           "(mean {new} against {base}); articleType accuracy {acc} against {acc_base}, baseColour {col} against {col_base}",
           lambda: _vs_variant("topk", "recipe25")),
    _vs_figure("mode seeking 1 (val)", "mode_seeking_screen", "Mode seeking at weight 1", "the fp32 recipe's", 2,
               base="recipe_1200_screen"),
    _vs_figure("mode seeking 0.1 (val)", "mode_seeking_0.1_screen", "Mode seeking at weight 0.1", "the fp32 recipe's", 2,
               base="recipe_1200_screen"),
    _vs_figure("mode seeking 0.05 (val)", "mode_seeking_0.05_screen", "Mode seeking at weight 0.05 (session 27)",
               "the fp32 recipe's", 2, base="recipe_1200_screen"),
    Figure("mode seeking 0.1 at 25 minutes (val)", ["quality/ms01_val.json", "quality/recipe25_val.json"],
           "At the full budget: {f1} / {f2} against the recipe's {b1} / {b2} at the same seeds, lower at {wins} of {n} (mean\n"
           "{new} against {base}; twice the floor is {twice}); articleType accuracy {acc} against {acc_base}, baseColour {col}\n"
           "against {col_base}", lambda: (lambda v: {**v, "twice": f"{2 * R('quality/ms01_val.json')['real_floor']['fid']:.1f}"})(
               _vs_variant("ms01", "recipe25"))),
    Figure("mode seeking against the same machine's recipe (val)", ["quality/ms01_val.json", "quality/noms_val.json"],
           "Against the recipe retrained on the same machine: {f1} / {f2} against {b1} / {b2} at the same seeds, lower at\n"
           "{wins} of {n} (mean {new} against {base}; twice the floor is {twice}); articleType accuracy {acc} against\n"
           "{acc_base} (real photos {real_acc}), baseColour {col} against {col_base} (real photos {real_col})",
           lambda: {**_vs_variant("ms01", "noms"), "twice": f"{2 * R('quality/ms01_val.json')['real_floor']['fid']:.1f}"}),
    Figure("mode seeking (test)", ["quality/ms01_test.json", "quality/noms_test.json"],
           "On test, read once (seeds 1 and 2, n={n}): {f1} / {f2} against the recipe's {b1} / {b2} without it (mean\n"
           "{new} against {base}; 2x the floor is {twice}); articleType accuracy {acc} against {acc_base} (real photos less\n"
           "3 points: {real_acc3}), baseColour {col} against {col_base} (real photos less 3 points: {real_col3}); variety\n"
           "within one condition {r1}x / {r2}x the real photos'; near copies {c1} / {c2}",
           lambda: {**_test_read("ms01", "noms"),
                    "real_col3": f"{R('quality/ms01_test.json')['real_floor']['acc/baseColour'] - 0.03:.3f}"}),
    Figure("mode seeking over four seeds (test)", ["quality/ms01_val.json", "quality/ms01_test.json", "quality/noms_test.json"],
           "baseColour on val {v3} / {v4}, on test {t3} / {t4}. Over the {seeds} seeds on test: baseColour {tmean} ({tlo}-{thi})\n"
           "against the real photos less 3 points, {real_col3}, with {below} of them below it; FID-P {fmean} ({flo}-{fhi}; 2x\n"
           "the floor is {twice}), articleType {amean}. Without mode seeking (seeds 1 and 2): baseColour {noms_col}, FID-P\n"
           "{noms_fid}. So mode seeking at 0.1 costs about {cost} points of colour accuracy (four seeds' mean against two)",
           _ms01_four_seeds),
    Figure("mode seeking 0.05 at 25 minutes", ["quality/ms005_val.json", "quality/ms01_val.json", "quality/ms005_test.json",
                                               "quality/ms01_test.json"],
           "On val: FID-P {f1} / {f2} (twice the floor {twice}), articleType {acc}, baseColour {col}, against weight 0.1's\n"
           "{b1} / {b2}, {acc_base}, {col_base} at the same seeds. On test, read once: FID-P {tf1} / {tf2} (twice the floor\n"
           "{ttwice}), articleType {tacc}, baseColour {tcol}, against weight 0.1's {tb1} / {tb2}, {tacc_base}, {tcol_base}",
           lambda: {**_vs_variant("ms005", "ms01"), "twice": f"{2 * R('quality/ms005_val.json')['real_floor']['fid']:.1f}",
                    **{f"t{k}": v for k, v in _vs_variant("ms005", "ms01", "test").items()},
                    "ttwice": f"{2 * R('quality/ms005_test.json')['real_floor']['fid']:.1f}"}),
    Figure("mode seeking to 100 minutes", ["quality/ms01_long_val.json", "quality/ms01_long_test.json",
                                            "quality/fid-vs-minutes-ms01.json", "quality/onepass_long_val.json",
                                            "quality/onepass_long_test.json"],
           "Val FID-P {f25} at 25 minutes, {f50} at 50, {f75} at 75 and {f100} at 100 ({r100}x the floor; 1.3x is\n"
           "{target}). On test, read once for the 100-minute copy (n=875): {t100} ({tlo}-{thi}), {tr}x the floor (1.3x is\n"
           "{ttarget}); articleType accuracy {tacc}, baseColour {tcol}, same-condition variety {tvar}x the real photos';\n"
           "from held-out titles alone, through the run's title prior, articleType {tprior}. A power law through the four\n"
           "val points reaches 1.3x the floor after about {ext13} minutes. At the same 28,684 steps the recipe without\n"
           "mode seeking read {o_v} on val and {o_t} on test (session 20, above)", _ms01_long),
    Figure("decay to 100 minutes", ["quality/ms01_decay_val.json", "quality/ms01_long_val.json", "quality/ms01_decay_test.json",
                                     "quality/ms01_long_test.json"],
           "With the decay: val FID-P {v} ({vlo}-{vhi}) against {v0} at constant rates at the same 28,684 steps;\n"
           "articleType accuracy {acc} against {acc0}, baseColour {col} against {col0}.\n"
           "On test, read once (n=875): {t} ({tlo}-{thi}), {tr}x the floor (1.3x is {target}), against {t0} at constant\n"
           "rates; articleType accuracy {tacc}, baseColour {tcol}, same-condition variety {tvar}x the real photos'; from\n"
           "held-out titles alone, through the run's title prior, articleType {tprior}", _ms01_decay),
    Figure("decay over three quarters to 100 minutes", ["quality/ms01_decay75_val.json", "quality/ms01_decay_val.json", "quality/ms01_decay75_test.json", "quality/ms01_decay_test.json"],
           "With the rates falling over the last three quarters: val FID-P {v} ({vlo}-{vhi}) against {v50} with the decay over\n"
           "the second half; articleType accuracy {acc} against {acc50}, baseColour {col} against {col50}.\n"
           "On test, read once (n=875): {t} ({tlo}-{thi}), {tr}x the floor (1.3x is {target}), against {t50} with the\n"
           "decay over the second half; articleType accuracy {tacc}, baseColour {tcol}, same-condition variety {tvar}x the\n"
           "real photos'", _ms01_decay75),
    Figure("truncation on mode seeking (val)", ["quality/truncation_gan64-sle-ms01-s1_val.json",
                                                 "quality/truncation_gan64-sle-ms01-s2_val.json"],
           "At 0.9, baseColour accuracy rises to {c1} / {c2} (at 1: {c1_1} / {c2_1}; real photos less 3 points:\n"
           "{real_col3}) and same-condition variety falls to {v1}x / {v2}x the real photos', but FID-P rises to {f1} / {f2}\n"
           "(at 1: {f1_1} / {f2_1}; twice the floor is {twice})", _ms_truncation),
    Figure("black under mode seeking (val)", ["quality/ms01_noms_colour_val.json"],
           "its Black items are right {ms2} times in {n} on val against {lo}-{hi} for the other three runs", _black_counts),
    Figure("open outlines", ["sketch/quickdraw-val-close.json", "sketch/quickdraw-test-close.json"],
           "On val it changes {v_n} of {n} doodles. Over all of them FID-P is {v_fid} closed against {v_fid0} as drawn (snapped: {v_sfid} against {v_sfid0}),\n"
           "inside each other's intervals; on the changed doodles alone articleType accuracy is {v_acc} against {v_acc0} and baseColour {v_col}\n"
           "against {v_col0} (snapped, articleType {v_sacc} against {v_sacc0}). On test, read once: {t_n} changed; FID-P {t_fid} against {t_fid0} (snapped {t_sfid} against\n"
           "{t_sfid0}); on the changed doodles articleType {t_acc} against {t_acc0}, baseColour {t_col} against {t_col0} (snapped {t_sacc} against {t_sacc0})",
           _qd_close),
    _vs_figure("mode seeking 0.1 centred (val)", "mode_seeking_0.1_centred_screen",
               "With the colour-centred distance", "weight 0.1's plain", 2, base="mode_seeking_0.1_screen"),
    *_ms_screen_figures("pooled", "mode_seeking_0.1_pool4_screen", "With the distance after 4x4 pooling",
                        "Against the recipe arm"),
    *_ms_screen_figures("colour keeping", "mode_seeking_0.1_colour1_screen", "With the colour-keeping term at weight 1",
                        "Colour keeping against the recipe arm"),
    *_ms_screen_figures("faded", "mode_seeking_0.1_fade1200_screen", "With the weight falling to 0 over the 1,200 steps",
                        "The fade against the recipe arm"),
    _vs_figure("ac-gan colour head at weight 1 (val)", "mode_seeking_0.1_aux0-1_screen_icx",
               "With the colour head at weight 1", "the plain arm's", 2, base="mode_seeking_0.1_screen_icx"),
    _vs_figure("ac-gan colour head at weight 0.1 (val)", "mode_seeking_0.1_aux0-0.1_screen_icx",
               "With the colour head at weight 0.1", "the plain arm's", 2, base="mode_seeking_0.1_screen_icx"),
    _vs_figure("ac-gan colour head at weight 0.03 (val)", "mode_seeking_0.1_aux0-0.03_screen_icx",
               "With the colour head at weight 0.03", "the plain arm's", 2, base="mode_seeking_0.1_screen_icx"),
    _vs_figure("ac-gan colour head at weight 0.05 (val)", "mode_seeking_0.1_aux0-0.05_screen_icx",
               "With the colour head at weight 0.05", "the plain arm's", 2, base="mode_seeking_0.1_screen_icx"),
    Figure("colour keeping's distance", ["quality/colour_gap_real.json"],
           "Over its last 400 steps the distance it trains on\nread {t0} / {t1}; between two real training photos of one condition it is {cond} (one\n"
           "baseColour: {col}; random pairs: {rand}). Between each run's images and the photo of their condition's row\n"
           "(the EMA generator, 4,000 training rows): {ck0} / {ck1} with the term, {ms0} / {ms1} for plain weight 0.1 and\n"
           "{rec0} / {rec1} for the recipe arm; at the full budget, {ms25_0} / {ms25_1} with mode seeking and {noms25_0} /\n"
           "{noms25_1} without", _colour_gap),
    Figure("texture energy inside products", ["quality/texture_energy.json"],
           "over the interior of each product ({rows} training rows): real photos {real}; with mode seeking\n"
           "{ms01_s1} / {ms01_s2}, without {noms_s1} / {noms_s2}. On Black items: real {real_black}; with mode seeking\n"
           "{ms01_s1_black} / {ms01_s2_black}, without {noms_s1_black} / {noms_s2_black}", _texture),
    Figure("mode seeking: speed", ["quality/mode_seeking_speed_fp32.json"],
           "It costs no pass of its own ({r}x the recipe's\nimages/s side by side",
           lambda: {"r": f"{R('quality/mode_seeking_speed_fp32.json')['b_over_a']:.3f}"}),
    Figure("best of m by D (val)", ["quality/d_pick_val.json"],
           "FID-P rises with m at both seeds: {a1} -> {a2} -> {a4} at seed 1 and {b1} -> {b2} -> {b4} at seed 2 for\n"
           "m = 1, 2, 4", _d_pick),
    Figure("bf16 on AVX-512 bf16: speed", ["quality/bf16_speed_avx512.json"],
           "There the recipe trains {r}x faster in bf16 ({b} against {a} images/s, two runs side by side)",
           lambda: (lambda res: {"r": f"{res['b_over_a']:.2f}", "a": f"{res['rows'][0]['images_per_s']:.1f}",
                                 "b": f"{res['rows'][1]['images_per_s']:.1f}"})(R("quality/bf16_speed_avx512.json"))),
    Figure("the recipe on AVX-512 bf16 (val)", ["quality/recipe25_val.json", "quality/onepass_val.json"],
           "reads {r1} / {r2} on val at seeds 1 and 2 against the Xeon's {x1} / {x2} (its four seeds: {lo} to {hi})",
           _recipe_here),
    Figure("bCR real only at 25 minutes (val)", ["quality/bcrreal_val.json", "quality/recipe25_val.json"],
           "With bCR on real images: {f1} / {f2} against the recipe's {b1} / {b2} at the same seeds, lower at {wins} of "
           "{n} (mean {new} against {base}); articleType accuracy {acc} against {acc_base}, baseColour {col} against "
           "{col_base}", lambda: _vs_variant("bcrreal", "recipe25")),
    Figure("bCR real only: steps", ["quality/bcr_real_speed_bf16.json"],
           "So the recipe's 7,171 steps of CPU time buy {s} bCR steps",
           lambda: {"s": f"{7171 * R('quality/bcr_real_speed_bf16.json')['b_over_a']:,.0f}"}),
    Figure("bCR real only: speed", ["quality/bcr_real_speed_fp32.json"],
           "(`bcr_fake=0`, a pass of 3B: {r}x the recipe's images/s side by side here",
           lambda: {"r": f"{R('quality/bcr_real_speed_fp32.json')['b_over_a']:.3f}"}),
    Figure("bCR's wall time", ["quality/bcr_screen_val.json", "quality/grow_screen_recipe_val.json"],
           "Trained side by side (seeds 0 and 1 together), the bCR runs took {g0} / {g1} minutes of training time "
           "against the recipe's {r0} / {r1}, {over}% in all", lambda: _grow_wall("bcr_screen")),
    _vs_figure("feature D, weight 1 (val)", "feature_d_screen", "With the feature discriminator at weight 1", "the fp32 "
               "recipe's", 2, base="grow_screen_recipe"),
    _vs_figure("feature D, weight 0.1 (val)", "feature_d01_screen", "At weight 0.1", "the fp32 recipe's", 2,
               base="grow_screen_recipe"),
    _vs_figure("feature D per step (val)", "feature_d01_screen", "Per step instead of per CPU minute, at weight 0.1",
               "the recipe stopped at 540 steps,", 2, base="recipe_540_screen"),
    Figure("feature D's steps", ["quality/feature_d_speed_fp32.json"],
           "it trains at {r}x the recipe's images/s ({b} against {a}), so the recipe's 1,200 steps of CPU time buy {s} "
           "steps", lambda: (lambda res: {"r": f"{res['b_over_a']:.3f}", "a": f"{res['rows'][0]['images_per_s']:.1f}",
                                          "b": f"{res['rows'][1]['images_per_s']:.1f}",
                                          "s": f"{1200 * res['b_over_a']:.0f}"})(R("quality/feature_d_speed_fp32.json"))),
    Figure("100 minutes with session 20's step", ["quality/frozen_long_val.json", "quality/kernels_long_val.json",
                                                   "quality/onepass_long_val.json", "quality/onepass_long_test.json",
                                                   "quality/frozen_long_test.json"],
           "At 28,684 steps seed 1 reads {v} on val against {v0} at 24,664 steps and {vk} at 26,932; on test, read once "
           "(n={n}): {t} ({lo}-{hi}), {r}x the floor (1.3x is {target}), against {t0} at 24,664 steps; articleType "
           "accuracy {acc}, same-condition variety {var}x the real photos'", _long_onepass),
    Figure("steps to 2x the floor", ["quality/noclr_long_val.json", "quality/onepass_speed.json",
                                     "quality/kernels_speed.json"],
           "On seed 1's curve (val, 5,575 steps a quarter) the 2x-floor level, {twice}, lies between {a} steps ({fa}) "
           "and {b} steps ({fb}); interpolated in log steps it is reached at about {x} steps, {r}x today's {today}",
           _steps_to_twice),
    Figure("the step's speed-ups", ["quality/kernels_speed.json", "quality/onepass_speed.json"],
           "The kernels: {k}x (the mean of {nk} repeats' ratios), so 25 minutes buy {sk} steps; D's one pass: {o}x on "
           "top, so {so} steps",
           lambda: {"k": f"{R('quality/kernels_speed.json')['b_over_a']:.3f}",
                    "nk": str(len(R("quality/kernels_speed.json")["b_over_a_per_repeat"])),
                    "sk": f"{round(6166 * R('quality/kernels_speed.json')['b_over_a']):,}",
                    "o": f"{R('quality/onepass_speed.json')['b_over_a']:.3f}",
                    "so": f"{_recipe_steps():,}"}),
    Figure("the frozen D's speed", ["quality/freeze_speed.json"],
           "Side by side, one core each, the recipe trains at {r}x the images per second it did, so its 25 minutes now "
           "buy {s} steps",
           lambda: {"r": f"{R('quality/freeze_speed.json')['b_over_a']:.3f}",
                    "s": f"{5575 * R('quality/freeze_speed.json')['b_over_a']:,.0f}"}),
    Figure("DiffAugment without colour: variety on test", ["quality/noclr_test.json"],
           "same-condition variety without the colour transform {v1} / {v2} against real photos' {vr} ({r1}x / {r2}x; "
           "target 0.8x)", lambda: _variety("noclr_test.json")),
    Figure("recipe variants", ["quality/recipe_val.json"],
           "At 25 minutes G's learning rate 2e-4 reached {lr} and batch 32 at equal CPU time {b32}, against the recipe's "
           "{base} (mean of two seeds, which differ by {spread}); at 12.5 minutes, each the mean of two seeds, "
           "{lr_half} and {b32_half} against {base_half}",
           _recipe),
    Figure("G's learning rate over seeds (val)", ["quality/lr_g_val.json", "quality/recipe_val.json"],
           "Mean val FID-P: G 1e-4 (the old recipe) {m1} over {n1} seeds, 2e-4 {m2} over {n2}; 2e-4 is lower at each of the "
           "{npaired} seeds, by {dmin} to {dmax}", lambda: _lr_g("val")),
    Figure("G's learning rate 4e-4 (val)", ["quality/lr_g_val.json"],
           "G 4e-4 (as fast as D) averages {m4} over its {n4} seeds, against 2e-4's {m2same} at the same seeds; its "
           "articleType accuracy is higher ({acc4} against {acc2})", lambda: _lr_g("val")),
    Figure("G's learning rate on test", ["quality/lr_g_test.json"],
           "On test, the mean of seeds 1 and 2: 1e-4 {m1}, 2e-4 {m2} (floor {floor}). The 25-minute targets are still not "
           "met: FID-P 2x the floor is {twice}, and 2e-4's articleType accuracy ({acc}) is below real photos' less 3 "
           "points ({real_acc})", lambda: _lr_g("test")),
    Figure("batch 32 with G 2e-4 at 12.5 minutes", ["quality/b32_lrg2_half_val.json", "quality/recipe_val.json"],
           "At 12.5 minutes batch 32 with G 2e-4 reached {c0} and {c1} (seeds 0 and 1), against batch 32 alone {b0} / "
           "{b1}, G 2e-4 alone {l0} / {l1} and the old recipe {r0} / {r1}; mean baseColour accuracy {ccol}, against "
           "{bcol}, {lcol} and {rcol}", _combo),
    Figure("post-hoc EMA sweep", ["quality/ema_sweep_val.json"],
           "Mean val FID-P over the {seeds} training seeds: the run's own average {own}, the last weights {last}, the "
           "best rebuilt average {best_fid}, the worst {worst_fid}; the seeds' own averages differ by {spread} "
           "(floor {floor})",
           _ema_sweep),
    Figure("GAN extrapolated to 1.3x the floor", ["quality/fid-vs-minutes.json"],
           "the GAN recipe would reach 1.3x the floor after about {lo}-{hi} minutes",
           lambda: {"lo": f"{round(_gan_eta()[0], -1):.0f}", "hi": f"{round(_gan_eta()[1], -1):.0f}"}),
    Figure("flow distillation fidelity", ["distill_flow_fidelity.json"],
           "the 2-step student {s2} against the teacher's own 2-step Euler's {t2}, so distillation works there; the "
           "4-step student {s4} against {t4} after its 150 iterations",
           lambda: {"s2": f"{_flow_fidelity(2)['student_vs_teacher_8']:.3f}",
                    "t2": f"{_flow_fidelity(2)['teacher_euler_vs_teacher_8']:.3f}",
                    "s4": f"{_flow_fidelity(4)['student_vs_teacher_8']:.3f}",
                    "t4": f"{_flow_fidelity(4)['teacher_euler_vs_teacher_8']:.3f}"}),
    Figure("restoration gains (intro)", ["apps.json"],
           "up to {hi} dB better than the best tuned classical method on held-out photos after {minutes} CPU-minutes "
           "(ahead on {won} of {tasks} tasks; on the others the classical method is as good or better, {lo} dB)",
           lambda: {"lo": f"{min(_restore_gains()):+.1f}", "hi": f"{max(_restore_gains()):.1f}",
                    "won": str(sum(g > 0.05 for g in _restore_gains())), "tasks": str(len(_restore_gains())),
                    "minutes": f"{R('apps.json')['restore']['train_seconds'] / 60:.0f}"}),
    Figure("preprocessing cache", ["cache_speed.json"],
           "The {n}-photo catalog takes {cold} CPU-seconds cold (two decoding threads), {warm} ms warm",
           lambda: {"n": comma(R("cache_speed.json")["images"]), "cold": f"{R('cache_speed.json')['cold_cpu_s']:.1f}",
                    "warm": f"{R('cache_speed.json')['warm_ms']:.0f}"}),
    Figure("periodic evaluation cost", ["eval_cost.json"],
           "It costs about {per} s per evaluation at 64 px on 2 cores, plus ~{setup} s once",
           lambda: {"per": f"{_eval_cost('gan64')['periodic']['seconds']:.1f}",
                    "setup": f"{_eval_cost('gan64')['periodic']['setup_s']:.1f}"}),
    Figure("MiniLM speed", ["text_speed.json"], "about {ms} ms of CPU time a title here",
           lambda: {"ms": f"{R('text_speed.json')['cpu_ms_per_title']:.1f}"}),
    Figure("transposed-conv block", ["blocks.json"], "takes {convt} ms instead of {upconv} ms per batch of 64",
           lambda: {"convt": f"{R('blocks.json')['rows'][-1]['convT_channels_last_cpu_ms']:.0f}",
                    "upconv": f"{R('blocks.json')['rows'][-1]['upsample_conv_channels_last_cpu_ms']:.0f}"}),
    Figure("narrow layers", ["narrow_layers.json"],
           "train {ratio}x faster ({narrow} vs {wide} images per CPU-second on one thread) than 32/64, so the budget "
           "buys {ratio2}x as many steps",
           lambda: {"ratio": f"{R('narrow_layers.json')['speedup']:.1f}", "ratio2": f"{R('narrow_layers.json')['speedup']:.1f}",
                    "narrow": f"{R('narrow_layers.json')['rows'][0]['train_images_per_cpu_s']:.0f}",
                    "wide": f"{R('narrow_layers.json')['rows'][1]['train_images_per_cpu_s']:.0f}"}),
    Figure("gan64 training", ["headline.json"],
           "{steps} steps of {batch} images ({epochs} epochs), default settings: the work 25 idle minutes on the two cores "
           "reached, run as a fixed step count so that it can be reproduced on any machine (this time it trained on one "
           "shared core, at a median {ips} training images/s)",
           lambda: {"steps": comma(_headline("gan64")["train"]["steps"]), "batch": str(_headline("gan64")["train"]["batch"]),
                    "ips": f"{_headline('gan64')['train']['images_per_s_median']:.0f}",
                    "epochs": f"{_headline('gan64')['train']['epochs']:.1f}"}),
    Figure("mode collapse", ["mode_collapse.json"],
           "the pixel std across the {seeds} seeds of each row of its categories grid was {old_mean} on average "
           "({old_tshirts} for Tshirts)",
           _mode_collapse),
    Figure("mode collapse fixed", ["mode_collapse.json"],
           "the same measurement gives {new_mean} on average: {tshirts} (Tshirts), {shirts} (Shirts), {casual} (Casual Shoes), "
           "{handbags} (Handbags), {watches} (Watches)",
           _mode_collapse),
    Figure("DCGAN epochs", ["real-catalog/dcgan-peer-summary.json"], "same train split for 25 minutes: {epochs} epochs",
           _dcgan),
    Figure("ProductNet", ["headline.json"],
           "in {fit} s (on the 2-core machine while it was shared with other work). Held-out accuracy per head (majority class in brackets): articleType {acc_articleType} "
           "({maj_articleType}), baseColour {acc_baseColour} ({maj_baseColour}), subCategory {acc_subCategory} "
           "({maj_subCategory}), masterCategory {acc_masterCategory} ({maj_masterCategory}), gender {acc_gender} ({maj_gender}).",
           _productnet),
    Figure("headline evaluation", ["headline.json", "eval_cost.json"],
           "({n} generated images whose conditions follow the {nreal} held-out test photos; floor: the {nfloor} validation "
           "photos against the same test photos, so every row is judged at the same n; an evaluation at n=2,000 takes "
           "{sec} s on 2 cores",
           lambda: {"n": comma(_headline("gan64")["n_generated"]), "nreal": str(R("headline.json")["n_real"]),
                    "nfloor": str(R("headline.json")["n_floor"]), "sec": f"{_eval_cost('gan64')['cold_s']:.1f}"}),
    Figure("headline comparison", ["headline.json"],
           "prodgen's GAN is {ratio}x closer to the real photos than the DCGAN peer in FID-P, covers {cov} of the real "
           "photos' neighbourhoods against {cov_dc}, and its images are recognised as the requested article type {acc_a}% "
           "of the time (real photos: {floor_a}%) and as the requested colour {acc_c}% (real photos: {floor_c}%;",
           lambda: {"ratio": f"{_headline('dcgan')['metrics']['fid'] / _headline('gan64')['metrics']['fid']:.1f}",
                    "cov": f"{_headline('gan64')['metrics']['coverage']:.2f}",
                    "cov_dc": f"{_headline('dcgan')['metrics']['coverage']:.2f}",
                    "acc_a": _pct(_headline("gan64")["metrics"]["acc/articleType"]),
                    "floor_a": _pct(R("headline.json")["real_floor"]["acc/articleType"]),
                    "acc_c": _pct(_headline("gan64")["metrics"]["acc/baseColour"]),
                    "floor_c": _pct(R("headline.json")["real_floor"]["acc/baseColour"])}),
    Figure("headline before issue 10", ["headline.json"], "at the same n as the floor the retrained run scores {fid}.)",
           lambda: {"fid": f"{_headline('gan64')['metrics']['fid']:.1f}"}),
    Figure("families: majority classes", ["families/families.json"],
           "(majority class: articleType {a}, baseColour {c})",
           lambda: {"a": f"{_majority('articleType'):.2f}", "c": f"{_majority('baseColour'):.2f}"}),
    Figure("families: GAN vs VAE", ["families/families.json"], "test FID-P {gan} against the VAE's {vae}",
           lambda: {"gan": f"{_fam('fam-gan')['metrics']['fid']:.1f}", "vae": f"{_fam('fam-vae')['metrics']['fid']:.1f}"}),
    Figure("families: diffusion", ["families/families.json"], "at this budget**: {steps} steps are far too few",
           lambda: {"steps": comma(_fam("fam-diffusion")["train"]["steps"])}),
    Figure("families: diffusion FID", ["families/families.json"], "silhouettes (FID-P {fid}, worse than",
           lambda: {"fid": comma(_fam("fam-diffusion")["metrics"]["fid"])}),
    Figure("families: old gan64", ["headline.json"], "the old attribute-only `gan64` reached FID-P {fid} in 25 minutes",
           lambda: {"fid": f"{_headline('gan64')['metrics']['fid']:.1f}"}),
    Figure("families: text steering", ["families/families.json"],
           "as the title's article type {t}% of the time (majority class {m}%)",
           lambda: {"t": _pct(_fam("fam-gan")["metrics"]["text_acc/articleType"]),
                    "m": _pct(_majority("articleType"))}),
    Figure("diffusion U-Net cost (models table)", ["diffusion_speed.json"], "16x16x48, {g} GFLOP per evaluation",
           lambda: {"g": f"{R('diffusion_speed.json')['unet_gflop_per_eval']:.2f}"}),
    Figure("diffusion GFLOP", ["diffusion_speed.json"],
           "One U-Net evaluation costs {g} GFLOP an image; 10 steps run at {rate} GFLOP/s achieved.",
           lambda: {"g": f"{R('diffusion_speed.json')['unet_gflop_per_eval']:.2f}",
                    "rate": f"{_diff(10, 1.0)['gflop_per_image'] * _diff(10, 1.0)['images_per_s']:.0f}"}),
    Figure("diffusion default", ["diffusion_speed.json"], "10 DPM-Solver++ steps without guidance: {ips} images/s at",
           lambda: {"ips": f"{_diff(10, 1.0)['images_per_s']}"}),
    Figure("diffusion guidance", ["families/diffusion_sweep.json", "diffusion_speed.json"],
           "`--guidance 3` buys +{da} points of articleType and +{dc} of baseColour accuracy and a lower FID-P ({f3} vs {f1}) "
           "for {x}x the time",
           lambda: {"da": f"{100 * (_sweep(10, 3.0)['acc/articleType'] - _sweep(10, 1.0)['acc/articleType']):.0f}",
                    "dc": f"{100 * (_sweep(10, 3.0)['acc/baseColour'] - _sweep(10, 1.0)['acc/baseColour']):.0f}",
                    "f3": comma(_sweep(10, 3.0)["fid"]), "f1": comma(_sweep(10, 1.0)["fid"]),
                    "x": f"{_diff(10, 1.0)['images_per_s'] / _diff(10, 2.0)['images_per_s']:.1f}"}),
    Figure("diffusion 20 steps", ["families/diffusion_sweep.json"], "changes nothing measurable ({f})",
           lambda: {"f": comma(_sweep(20, 1.0)["fid"])}),
    Figure("presentation", ["apps.json"],
           "cut-out + gradient background + shadow {a} ms, generated studio background {b} ms, relight {c} ms, "
           "mirror {d} ms, masked recolour {e} ms.",
           lambda: dict(zip("abcde", (f"{v:.1f}" for v in R("apps.json")["presentation"]["ms_per_photo"].values())))),
    Figure("cut-out masks", ["apps.json"],
           "masks of {n} synthetic products: mean {mean}, worst {worst} (white products on white: {white})",
           lambda: {"n": str(R("apps.json")["mask"]["n"]), "mean": f"{R('apps.json')['mask']['mean_iou']:.3f}",
                    "worst": f"{R('apps.json')['mask']['min_iou']:.3f}",
                    "white": f"{R('apps.json')['mask']['per_colour']['white']:.3f}"}),
    Figure("augmentation data", ["augment/augment.json"],
           "{ngen} GAN images of the {nrare} rarest article types added to {nreal} real photos", _aug),
    Figure("augmentation result", ["augment/augment.json"],
           "(rare-class accuracy {r1} ± {s1} with them vs {r0} ± {s0} without, over {nseeds} seeds; overall {a1} vs {a0})",
           _aug),
    Figure("generation cost", ["train_speed.json", "diffusion_speed.json"],
           "{gan} ms an image for the GAN at 64 px, {diff} ms for 10-step diffusion",
           lambda: {"gan": f"{1000 / _speed('gan', 64)['sample_images_per_s']:.1f}",
                    "diff": f"{1000 / _diff(10, 1.0)['images_per_s']:.0f}"}),
    Figure("DCGAN speed", ["real-catalog/dcgan-peer-summary.json"],
           "reached {epochs2} epochs of the {n}-photo train split in 25 minutes, about {ips} images/s", _dcgan),
]

NUMBER = r"[-+<~]?\d[\d,]*(?:\.\d+)?"


def figure_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", template)
    out = []
    for p in parts:
        if re.fullmatch(r"\{\w+\}", p):
            out.append(f"(?P<{p[1:-1]}>{NUMBER})")
        else:
            out.append("".join(r"\s+" if re.fullmatch(r"\s+", t) else re.escape(t) for t in re.split(r"(\s+)", p) if t))
    return re.compile("".join(out))


# ---------------------------------------------------------------- README rewriting

MARKER = re.compile(r"^(?P<indent>[ \t]*)<!-- table: (?P<name>[\w-]+)[^>]*-->[ \t]*\n(?P<body>.*?)^[ \t]*<!-- /table -->",
                    re.S | re.M)


def render(text: str) -> tuple[str, list[str]]:
    """(rewritten README, problems: tables and figures that differ or cannot be rendered)."""
    problems: list[str] = []
    seen = set()

    def table(m: re.Match) -> str:
        name, indent = m.group("name"), m.group("indent")
        seen.add(name)
        if name not in TABLES:
            problems.append(f"table {name!r}: unknown (known: {', '.join(TABLES)})")
            return m.group(0)
        try:
            lines = TABLES[name][1]()
        except (OSError, KeyError, StopIteration, ValueError, TypeError) as e:
            problems.append(f"table {name!r}: cannot render from {', '.join(TABLES[name][0])}: {e!r}")
            return m.group(0)
        lines = ["", *lines, ""]  # blank lines keep the markers out of the table for every markdown renderer
        body = "".join(f"{indent}{ln}".rstrip() + "\n" if ln else "\n" for ln in lines)
        if body != m.group("body"):
            problems.append(f"table {name!r} differs from bench/results/{' + bench/results/'.join(TABLES[name][0])}")
        whole, s, e = m.group(0), m.start("body") - m.start(0), m.end("body") - m.start(0)
        return whole[:s] + body + whole[e:]

    text = MARKER.sub(table, text)
    for name in TABLES:
        if name not in seen:
            problems.append(f"table {name!r}: no `<!-- table: {name} -->` ... `<!-- /table -->` block in README.md")
    for fig in FIGURES:
        rx = figure_regex(fig.template)
        matches = list(rx.finditer(text))
        if len(matches) != 1:
            problems.append(f"figure {fig.name!r}: the sentence was found {len(matches)} times in README.md "
                            f"(template: {fig.template!r})")
            continue
        try:
            values = fig.values()
        except (OSError, KeyError, StopIteration, ValueError, TypeError) as e:
            problems.append(f"figure {fig.name!r}: cannot compute from {', '.join(fig.sources)}: {e!r}")
            continue
        m = matches[0]
        new = m.group(0)
        for field in sorted(rx.groupindex, key=lambda g: -m.start(g)):  # right to left keeps offsets valid
            s, e = m.start(field) - m.start(0), m.end(field) - m.start(0)
            new = new[:s] + values[field] + new[e:]
        if new != m.group(0):
            diff = ", ".join(f"{k}: {m.group(k)} -> {values[k]}" for k in rx.groupindex if m.group(k) != values[k])
            problems.append(f"figure {fig.name!r} differs from bench/results/{' + bench/results/'.join(fig.sources)} ({diff})")
            text = text[: m.start(0)] + new + text[m.end(0):]
    return text, problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table or figure differs")
    ap.add_argument("--list", action="store_true", help="print which results file each table and figure comes from")
    ap.add_argument("--print", metavar="TABLE", help="print one rendered table")
    ap.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args()
    if args.list:
        for name, (files, _) in TABLES.items():
            print(f"table  {name:28s} {', '.join('bench/results/' + f for f in files)}")
        for fig in FIGURES:
            print(f"figure {fig.name:28s} {', '.join('bench/results/' + f for f in fig.sources)}")
        return 0
    if args.print:
        print("\n".join(TABLES[args.print][1]()))
        return 0
    text = args.readme.read_text()
    new, problems = render(text)
    unrenderable = [p for p in problems if "differs" not in p]
    if args.check:
        for p in problems:
            print(p)
        if problems:
            print(f"\n{len(problems)} README table(s)/figure(s) out of date or unrenderable; "
                  "run `python bench/render_readme.py`.")
        return 1 if problems else 0
    if new != text:
        args.readme.write_text(new)
    for p in problems:
        print(("updated: " if "differs" in p else "ERROR: ") + p)
    if not problems:
        print("README.md is up to date.")
    return 1 if unrenderable else 0


if __name__ == "__main__":
    sys.exit(main())
