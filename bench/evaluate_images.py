"""Evaluate a tensor of generated images (e.g. a peer's samples) exactly as `prodgen evaluate` does a run.

Same ProductNet, same held-out split (taken from a prodgen run folder on the same
catalog), same metric code; no conditional accuracy (the images carry no condition).
By default the first n images are judged, n = the val photos of the real-vs-real floor
(as `prodgen evaluate` does), so the peer's row is at the same n as prodgen's rows.

    .venv/bin/python bench/evaluate_images.py /tmp/dcgan-peer/samples.safetensors \
        --split-from runs/gan64 --features runs/productnet64 --name dcgan-peer
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from safetensors.torch import load_file

from prodgen.config import RunConfig
from prodgen.evaluate.evaluate import image_metrics, load_catalog_images, split_images
from prodgen.evaluate.metrics import bootstrap_fid, memorisation_ratio
from prodgen.evaluate.productnet import ProductNet
from prodgen.evaluate.realstats import cached_features
from prodgen.conditioning import Vocabulary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import command_line, machine_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", type=Path)
    ap.add_argument("--split-from", type=Path, required=True)
    ap.add_argument("--features", type=Path, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", type=Path, default=Path("bench/results/real-catalog"))
    ap.add_argument("--n", type=int, default=None, help="images judged (default: the floor's n, the val photos)")
    args = ap.parse_args()
    fake = load_file(str(args.images))["images"]
    cfg = RunConfig.load(args.split_from / "config.json")
    vocab = Vocabulary.load(args.split_from / "vocab.json")
    net, pn_vocab, _ = ProductNet.from_pretrained(args.features)
    data = load_catalog_images(cfg, args.split_from, progress=False)
    fp = data.catalog.fingerprint
    real = split_images(data, vocab, "test")
    n = args.n or len(split_images(data, vocab, "val").images)
    if n > len(fake):
        raise SystemExit(f"{args.images} holds {len(fake)} images; --n {n} needs at least that many")
    fake = fake[:n]
    train = split_images(data, vocab, "train")
    real_f, _ = cached_features(net, real.images, fp, real.ids, "test")
    train_f, _ = cached_features(net, train.images, fp, train.ids, "train")
    fake_f, fake_logits = net.extract(fake)
    first = pn_vocab.names.index(vocab.names[0]) if vocab.names[0] in pn_vocab.names else 0
    row = image_metrics(fake_f, fake_logits, real_f, pn_vocab, first, seed=0)
    row["fid_ci95_low"], row["fid_ci95_high"] = bootstrap_fid(real_f, fake_f)
    row["memorisation_ratio"] = memorisation_ratio(fake_f, train_f, real_f)["ratio"]
    result = {"command": command_line(), "machine": machine_info(), "name": args.name, "images": str(args.images),
              "n_generated": len(fake), "n_real": len(real.images), "row": row}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}-metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
