"""How far apart two real photos of one condition are by the colour-keeping term's distance (session 30).

`--model-arg colour_keep=C` trains G on ``models.gan.colour_gap``: the L1 distance between the mean colours of a
fake's product pixels and of one real image of the fake's condition. Its training curve settled near 0.12. This
script measures the same distance between real training photos: pairs of one condition (every attribute equal),
pairs of one baseColour, and random pairs (the first photo of a pair drawn uniformly, as training draws its
rows; only photos with every attribute specified, as the term's rows), so the curve can be read against what real photos of one condition
differ by. ``--generated RUN...`` measures each run's EMA generator the same way: one image for each of ``--pairs``
uniformly drawn training rows, given that row's condition, against the row's photo (the distance the term trains on).

    python bench/colour_gap_real.py runs/gan64-sle-ms01-s1 --trained runs/ms0.1-colour1-screen-s{0,1} \
        --generated runs/ms0.1-colour1-screen-s{0,1} runs/ms0.1-screen-s{0,1} runs/recipe-1200-screen-s{0,1} \
        runs/gan64-sle-ms01-s{1,2} runs/gan64-sle-noms-s{1,2}
    -> bench/results/quality/colour_gap_real.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import command_line, machine_info  # noqa: E402

from prodgen.atomic import write_json  # noqa: E402
from prodgen.models.gan import colour_gap  # noqa: E402
from prodgen.train.run import load_run_data  # noqa: E402


def mean_gap(batches) -> float:
    """Mean colour_gap over (fake-or-photo, photo) batches in [-1, 1], each pair weighted alike; pairs without product
    pixels left out."""
    total, used = 0.0, 0
    for x, y in batches:
        gap, n = colour_gap(x, y, torch.ones(len(x), dtype=torch.bool))
        total, used = total + gap.item() * n, used + n
    return total / max(used, 1)


def photos(images: torch.Tensor, index) -> torch.Tensor:
    """uint8 training images at ``index`` -> floats in [-1, 1]."""
    return images[index].float() / 127.5 - 1


def pair_gaps(images: torch.Tensor, pairs: list[tuple[int, int]], batch: int = 256) -> float:
    """Mean colour_gap over index pairs of training photos."""
    chunks = (list(zip(*pairs[k:k + batch])) for k in range(0, len(pairs), batch))
    return mean_gap((photos(images, list(a)), photos(images, list(b))) for a, b in chunks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a trained run folder (its training split and conditions)")
    ap.add_argument("--pairs", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trained", type=Path, nargs="*", default=[],
                    help="runs trained with colour_keep: their logged colour_gap over the last --last steps is recorded")
    ap.add_argument("--last", type=int, default=400)
    ap.add_argument("--generated", type=Path, nargs="*", default=[],
                    help="runs whose generated images are measured against the photo of their condition's row")
    ap.add_argument("--out", type=Path, default=Path("bench/results/quality/colour_gap_real.json"))
    args = ap.parse_args()
    data = load_run_data(args.run, progress=False)
    train = data.train
    g = torch.Generator().manual_seed(args.seed)
    colour = data.attributes.index("baseColour") if "baseColour" in data.attributes else None
    full = (train.cond > 0).all(dim=1)
    groups: dict[str, dict[tuple, list[int]]] = {"condition": defaultdict(list), "baseColour": defaultdict(list)}
    for i in torch.nonzero(full).flatten().tolist():
        groups["condition"][tuple(train.cond[i].tolist())].append(i)
        if colour is not None:
            groups["baseColour"][int(train.cond[i, colour])].append(i)
    result = {"command": command_line(), "machine": machine_info(), "run": str(args.run), "pairs": args.pairs,
              "seed": args.seed}
    for name, by in groups.items():
        usable = [v for v in by.values() if len(v) >= 2]
        if not usable:
            continue
        sizes = torch.tensor([len(v) for v in usable], dtype=torch.float)  # a group as often as training meets it
        pairs = []
        for gi in torch.multinomial(sizes, args.pairs, replacement=True, generator=g).tolist():
            members = usable[gi]
            a, b = torch.randperm(len(members), generator=g)[:2].tolist()
            pairs.append((members[a], members[b]))
        result[f"same_{name}"] = pair_gaps(train.images, pairs)
    idx = torch.nonzero(full).flatten()
    rand = torch.randint(len(idx), (args.pairs, 2), generator=g)
    result["random"] = pair_gaps(train.images, [(int(idx[a]), int(idx[b])) for a, b in rand.tolist()])
    result["trained"] = {}
    for run in args.trained:
        logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        logged = [r for r in logged if "colour_gap" in r]
        if not logged:
            raise SystemExit(f"{run}/metrics.jsonl has no colour_gap: was it trained with --model-arg colour_keep=C?")
        end = logged[-1]["step"]
        tail = [r["colour_gap"] for r in logged if r["step"] > end - args.last]
        result["trained"][str(run)] = {"last_steps": args.last, "to_step": end, "colour_gap": sum(tail) / len(tail)}
    result["generated"] = {}
    rows = idx[torch.randint(len(idx), (args.pairs,), generator=g)]
    for run in args.generated:
        from prodgen.sample.pipeline import Pipeline

        pipe = Pipeline.from_pretrained(run, device="cpu")
        if tuple(pipe.vocab.sizes) != tuple(data.vocab.sizes):
            raise SystemExit(f"{run}: another vocabulary than {args.run}'s")
        with torch.no_grad():
            result["generated"][str(run)] = mean_gap(
                (pipe.generate_batch(train.cond[part], list(range(k, k + len(part)))), photos(train.images, part))
                for k in range(0, len(rows), 250) for part in [rows[k:k + 250]])
    write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine",)}, indent=1))


if __name__ == "__main__":
    main()
