"""FID-P against CPU budget (0-100 idle-equivalent minutes of the 2-core machine), one line per family (issue 13).

Budgets are step counts, so the x axis does not depend on the machine's load:
- the gan64 recipe (bench/real_catalog_runs.sh) trains 3166 steps in 25 idle minutes of the 2-core Xeon (2
  threads); gan64-sle and its continuations (bench/long_runs.sh) sit at 25, 50, 75 and 100 minutes;
- the family recipe (bench/family_runs.sh, bench/quality_runs.sh) trains for 25 idle minutes of ONE core, i.e.
  half the machine for 25 minutes: 12.5 minutes of the 2-core machine.
Markers: the rows' evaluations in bench/results/quality/quality_val.json (val split, n=796 generated against the
875 val photos, with 95% intervals). Thin dashed lines: the cheap evaluations during training (eval_every; n=500 or
250, and without the titles: the in-training evaluator draws text-conditioned runs from their attributes alone), so
they sit higher than the markers and show the shape of a curve, not its level. Grey: the real-vs-real floor at the
same n and the issue's 2x and 1.3x targets; black dash-dot: the trivial baseline (the per-category mean image) at the
same n. Thin dotted lines: the in-training evaluations of a family run continued
past its recipe (bench/long_runs.sh fam-edm / fam-vae 12.5 25 50), which draw text runs with the held-out titles.

    .venv/bin/python bench/long_curve.py     # -> bench/results/quality/fid-vs-minutes.png (+ .json, the points)
    .venv/bin/python bench/long_curve.py default   # only the second plot below (needs no run folder)
    .venv/bin/python bench/long_curve.py ms01      # only the third: fid-vs-minutes-ms01.png (+ .json)

A second plot, fid-vs-minutes-default.png (+ .json), follows today's default GAN recipe (bf16 on an AMX CPU, G 2e-4,
DiffAugment translation + cutout; bench/noclr_long.sh) to 100 minutes. Its rows were evaluated with the pinned
ProductNet (bench/productnet.sh, val floor 16.6), the family plot's with the extractor of their time (floor 18.8):
FID-P values of the two plots are not comparable with each other, only with their own floor.

A third plot, fid-vs-minutes-ms01.png (+ .json), follows the default since session 28 (mode seeking 0.1, 7171 steps per
25 minutes after the faster kernels of session 20; bench/ms01_long.sh) to 100 minutes beside the second plot's curve.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "quality"
GAN64_STEPS_PER_25 = 3166  # gan64 recipe: 25 idle minutes of the 2-core machine
FAMILY_MINUTES = 12.5  # family recipe: 25 idle minutes of one core

# family -> rows of quality_val.json (name, minutes of the 2-core machine), and the run whose in-training curve is drawn
FAMILIES = {
    "gan (gan64-sle recipe, attributes)": ([("gan64-sle", 25), ("gan64-sle-50m", 50), ("gan64-sle-75m", 75),
                                             ("gan64-sle-100m", 100)], None),
    "gan (family recipe, title + attributes, SLE)": ([("fam-gan-sle", FAMILY_MINUTES)], None),
    "gan (family recipe, no SLE, title-only 0: fam-gan)": ([("fam-gan", FAMILY_MINUTES)], "runs/fam-gan"),
    "vae": ([("fam-vae", FAMILY_MINUTES), ("fam-vae-25m", 25), ("fam-vae-50m", 50)], "runs/fam-vae"),
    "diffusion, v-pred (guidance 3)": ([("fam-diffusion", FAMILY_MINUTES)], "runs/fam-diffusion"),
    "flow matching (guidance 3)": ([("fam-flow", FAMILY_MINUTES)], "runs/fam-flow"),
    "diffusion, EDM (guidance 3)": ([("fam-edm", FAMILY_MINUTES), ("fam-edm-25m", 25), ("fam-edm-50m", 50),
                                     ("fam-edm-75m", 75), ("fam-edm-100m", 100)],
                                    "runs/fam-edm"),
}


def training_curve(run: Path) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(minutes of the 2-core machine, eval/fid) of a family-recipe run's periodic evaluations: those of the recipe
    itself, and those of its continuation (bench/long_runs.sh, RUN-long) past the recipe's steps. The continuation's
    were drawn with the held-out titles (since session 11), the recipe's without: the two are drawn apart."""
    base = json.loads((ROOT / run / "config.json").read_text())["train"]["steps"]
    longer = ROOT / f"{run}-long" / "metrics.jsonl"
    path = longer if longer.is_file() else ROOT / run / "metrics.jsonl"
    if not path.is_file():
        return [], []
    recs = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    pts = [(r["step"], r["eval/fid"]) for r in recs if "eval/fid" in r]
    return ([(FAMILY_MINUTES * s / base, f) for s, f in pts if s <= base],
            [(FAMILY_MINUTES * s / base, f) for s, f in pts if s > base])


def power_law_eta(pts: list[tuple[float, float]], floor: float, targets: dict[str, float]) -> dict | None:
    """Where a family's curve is heading: log(FID - floor) = a + b log(minutes), fitted two ways to its points (3 or
    more, all above the floor): least squares over all of them, and through its last two (the local rate, which
    differs when the curve bends); and, for each, the minutes at which it would reach each target FID not yet
    reached. An extrapolation of the measured curve, not a measurement. None with fewer points."""
    import math

    use = [(m, f) for m, f in sorted(pts) if f > floor]
    if len(use) < 3:
        return None
    xs, ys = [math.log(m) for m, _ in use], [math.log(f - floor) for _, f in use]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b_all = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    b_last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    fits = {"all points": (my - b_all * mx, b_all), "last two points": (ys[-1] - b_last * xs[-1], b_last)}
    horizon = 100 * use[-1][0]  # past 100x the longest run, a power law says nothing useful
    best = use[-1][1]

    def minutes_to(a: float, b: float, t: float):
        m = math.exp((math.log(t - floor) - a) / b) if b < 0 else math.inf
        return round(m) if m <= horizon else f"beyond {horizon:g} at this rate"

    out = {"model": "log(FID - floor) = a + b log(minutes)"}
    for name, (a, b) in fits.items():
        out[name] = {"a": round(a, 4), "b": round(b, 4),
                     "minutes_factor_that_halves_the_excess": round(2 ** (-1 / b), 2) if b < 0 else None,
                     "minutes_to": {k: minutes_to(a, b, t) for k, t in targets.items() if floor < t < best}}
    return out


def floor_axes(ax, floor: float) -> None:
    """The real-vs-real floor and the issue's 1.3x and 2x targets as grey lines over 0-100 minutes; log FID-P axis."""
    for k, style in ((1.0, "-"), (1.3, ":"), (2.0, "--")):
        ax.hlines(k * floor, 0, 100, color="grey", ls=style, lw=1)
        ax.text(101, k * floor, f"{k:g}x floor" if k != 1 else "real-vs-real floor", va="center", fontsize=7,
                color="grey")
    ax.set_yscale("log")
    ax.set_xlim(0, 118)


def main() -> None:
    table = json.loads((RESULTS / "quality_val.json").read_text())
    rows = {r["name"]: r for r in table["rows"]}
    floor = table["real_floor"]["fid"]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    trivial = table.get("class_mean_baseline", {}).get("fid")  # the per-category mean image at the same n
    targets = {"2x floor": 2 * floor, "1.3x floor": 1.3 * floor}
    if "gan64-sle" in rows:
        targets["the GAN's 25 minutes (gan64-sle)"] = rows["gan64-sle"]["metrics"]["fid"]
    if trivial:
        targets["per-category mean image"] = trivial
    points, extrapolations = {}, {}
    for i, (family, (members, run)) in enumerate(FAMILIES.items()):
        colour = f"C{i}"
        pts = [(m, rows[name]["metrics"]) for name, m in members if name in rows]
        if not pts:
            continue
        xs = [m for m, _ in pts]
        ys = [x["fid"] for _, x in pts]
        err = [[y - x.get("fid_ci95_low", y) for (_, x), y in zip(pts, ys)],
               [x.get("fid_ci95_high", y) - y for (_, x), y in zip(pts, ys)]]
        ax.errorbar(xs, ys, yerr=err, marker="o", ms=5, capsize=3, color=colour, label=family)
        fit = power_law_eta([(m, x["fid"]) for m, x in pts], floor, targets)
        if fit:
            extrapolations[family] = fit
        points[family] = [{"minutes": m, "row": name, "fid": rows[name]["metrics"]["fid"],
                           "fid_ci95": [rows[name]["metrics"].get("fid_ci95_low"), rows[name]["metrics"].get("fid_ci95_high")],
                           "acc_articleType": rows[name]["metrics"].get("acc/articleType")}
                          for name, m in members if name in rows]
        if run:
            recipe, continued = training_curve(Path(run))
            for curve, ls in ((recipe, "--"), (continued, ":")):
                if curve:
                    ax.plot([p[0] for p in curve], [p[1] for p in curve], ls=ls, lw=0.8, color=colour, alpha=0.6)
    if trivial:
        ax.hlines(trivial, 0, 100, color="black", ls="-.", lw=0.8)
        ax.text(101, trivial, "per-category\nmean image", va="center", fontsize=7)
    floor_axes(ax, floor)
    ax.set_xlabel("training budget, idle-equivalent minutes of the 2-core machine")
    ax.set_ylabel(f"FID-P, val split (n={table['n_floor']})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    out = RESULTS / "fid-vs-minutes.png"
    fig.savefig(out, dpi=110)
    (RESULTS / "fid-vs-minutes.json").write_text(json.dumps(
        {"command": ".venv/bin/python bench/long_curve.py", "source": "bench/results/quality/quality_val.json",
         "machine": table["machine"], "floor": floor, "n": table["n_floor"], "families": points,
         "extrapolations": extrapolations}, indent=2) + "\n")
    for family, fit in extrapolations.items():
        for way in ("all points", "last two points"):
            print(f"{family}, fit to {way}: FID-P - floor ~ minutes^{fit[way]['b']}; extrapolated minutes to "
                  f"{fit[way]['minutes_to']}")
    print(out)


def save_pinned_plot(fig, ax, floor: float, n: int, name: str, xlabel: str) -> Path:
    """Floor lines, axes and legend of a val FID-P plot on the pinned ProductNet; saved as RESULTS/name."""
    floor_axes(ax, floor)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"FID-P, val split (n={n}, pinned ProductNet)")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())  # plain numbers on the log axis
    ax.yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    out = RESULTS / name
    fig.savefig(out, dpi=110)
    return out


DEFAULT_SOURCE = "noclr_long_val.json"  # bench/noclr_long.sh val
# the 25-minute rows of the recipes before today's, same pinned ProductNet, one marker per seed
EARLIER_AT_25 = {"G 1e-4, fp32 (the recipe before session 14)": (("recipe_val.json", "lr_g_val.json"), "gan64-sle"),
                 "G 2e-4, fp32": (("recipe_val.json", "lr_g_val.json"), "gan64-sle-lrg2"),
                 "G 2e-4, bf16, DiffAugment with colour": (("bf16eq_val.json",), "gan64-sle-bf16eq"),
                 "G 2e-4, bf16, translation + cutout (today)": (("noclr_val.json",), "gan64-sle-noclr"),
                 "G 2e-4, bf16, translation only (bench/diffaug_cutout.sh)": (("tronly_val.json",), "gan64-sle-tronly")}


def default_recipe_curve() -> Path | None:
    """Today's default GAN recipe to 100 minutes (seed 1), next to the 25-minute seeds of the recipes before it."""
    import re

    src = RESULTS / DEFAULT_SOURCE
    if not src.is_file():
        return None
    table = json.loads(src.read_text())
    floor = table["real_floor"]["fid"]
    pts = []
    for r in table["rows"]:
        m = re.search(r"(\d+) minutes", r["label"])
        pts.append((int(m.group(1)), r["name"], r["metrics"]))
    pts.sort()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    xs, ys = [p[0] for p in pts], [p[2]["fid"] for p in pts]
    err = [[y - p[2]["fid_ci95_low"] for p, y in zip(pts, ys)], [p[2]["fid_ci95_high"] - y for p, y in zip(pts, ys)]]
    ax.errorbar(xs, ys, yerr=err, marker="o", ms=5, capsize=3, color="C0",
                label="today's default recipe, seed 1, continued (bench/noclr_long.sh)")
    earlier = {}
    for i, (label, (files, prefix)) in enumerate(EARLIER_AT_25.items()):
        found = {}
        for file in files:
            path = RESULTS / file
            if not path.is_file():
                continue
            t = json.loads(path.read_text())
            assert t["features"]["heldout_accuracy"] == table["features"]["heldout_accuracy"], f"{file}: another extractor"
            found.update({r["name"]: r["metrics"]["fid"] for r in t["rows"]
                          if re.fullmatch(rf"{re.escape(prefix)}(-s\d+)?", r["name"])})
        seeds = [found[k] for k in sorted(found)]
        if seeds:
            ax.scatter([25 + 1.2 * (i - 2)] * len(seeds), seeds, marker="x", s=22, color=f"C{i + 1}",
                       label=f"25 min, {label}: {len(seeds)} seed(s)")
            earlier[label] = seeds
    out = save_pinned_plot(fig, ax, floor, table["n_floor"], "fid-vs-minutes-default.png",
                           "training budget, idle-equivalent minutes of the 2-core Xeon (bf16 steps at its measured 1.76x)")
    (RESULTS / "fid-vs-minutes-default.json").write_text(json.dumps(
        {"command": ".venv/bin/python bench/long_curve.py default", "source": f"bench/results/quality/{DEFAULT_SOURCE}",
         "machine": table["machine"], "floor": floor, "n": table["n_floor"],
         "points": [{"minutes": m, "row": n, "fid": x["fid"], "fid_ci95": [x["fid_ci95_low"], x["fid_ci95_high"]],
                     "acc_articleType": x.get("acc/articleType"), "coverage": x.get("coverage"),
                     "diversity_same_condition": x.get("diversity_same_condition")} for m, n, x in pts],
         "earlier_recipes_at_25_minutes": earlier,
         "extrapolation": power_law_eta([(m, x["fid"]) for m, _, x in pts], floor,
                                        {"2x floor": 2 * floor, "1.3x floor": 1.3 * floor})}, indent=2) + "\n")
    return out


# today's default since session 28 (mode seeking 0.1; 7171 steps per 25 minutes) beside the session-17 recipe
MS_CURVES = [("ms01_long_val.json", "mode seeking 0.1 (the default since session 28), seed 1: bench/ms01_long.sh", "C0"),
             ("noclr_long_val.json", "the session-17 recipe, no mode seeking, seed 1: bench/noclr_long.sh", "C7")]


def mode_seeking_curve() -> Path | None:
    """Today's default recipe (mode seeking 0.1) to 100 minutes (seed 1, val) beside the session-17 recipe's curve,
    both on the pinned ProductNet; a power law through each curve says where it is heading."""
    import re

    if not (RESULTS / MS_CURVES[0][0]).is_file():
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    curves, floor, ref = {}, None, None
    for i, (file, label, colour) in enumerate(MS_CURVES):
        path = RESULTS / file
        if not path.is_file():
            continue
        table = json.loads(path.read_text())
        ref = ref or table
        assert table["features"]["heldout_accuracy"] == ref["features"]["heldout_accuracy"], f"{file}: another extractor"
        floor = table["real_floor"]["fid"]
        pts = sorted((int(re.search(r"(\d+) minutes", r["label"]).group(1)), r["name"], r["metrics"]) for r in table["rows"])
        xs, ys = [p[0] + 0.8 * i for p in pts], [p[2]["fid"] for p in pts]
        err = [[y - p[2]["fid_ci95_low"] for p, y in zip(pts, ys)], [p[2]["fid_ci95_high"] - y for p, y in zip(pts, ys)]]
        ax.errorbar(xs, ys, yerr=err, marker="o", ms=5, capsize=3, color=colour, label=label)
        curves[label] = {"source": f"bench/results/quality/{file}", "command": table["command"],
                         "machine": table["machine"],
                         "points": [{"minutes": m, "row": n, "fid": x["fid"],
                                     "fid_ci95": [x["fid_ci95_low"], x["fid_ci95_high"]],
                                     "acc_articleType": x.get("acc/articleType"), "acc_baseColour": x.get("acc/baseColour"),
                                     "diversity_same_condition": x.get("diversity_same_condition")} for m, n, x in pts],
                         "extrapolation": power_law_eta([(m, x["fid"]) for m, _, x in pts], floor,
                                                        {"2x floor": 2 * floor, "1.3x floor": 1.3 * floor})}
    out = save_pinned_plot(fig, ax, floor, ref["n_floor"], "fid-vs-minutes-ms01.png",
                           "training budget, minutes of the 2-core CPU (step counts; the two recipes' steps per 25 "
                           "minutes differ)")
    (RESULTS / "fid-vs-minutes-ms01.json").write_text(json.dumps(
        {"command": ".venv/bin/python bench/long_curve.py ms01", "machine": ref["machine"], "floor": floor, "n": ref["n_floor"],
         "curves": curves}, indent=2) + "\n")
    return out


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["ms01"]:
        print(mode_seeking_curve() or "no ms01_long_val.json yet: bash bench/ms01_long.sh val")
        sys.exit()
    if sys.argv[1:] != ["default"]:  # the family plot needs the family runs' folders (their in-training curves)
        main()
    print(default_recipe_curve() or f"no {DEFAULT_SOURCE} yet: bash bench/noclr_long.sh val")
