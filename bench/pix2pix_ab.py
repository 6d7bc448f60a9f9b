"""Architecture A/B of the pix2pix U-Net (L1 only): one variant per process, printed as one JSON line.

    python bench/pix2pix_ab.py old '{"adv_weight":0,"dropout_max_res":32,"rgb_layer":"transposed"}' 150
    python bench/pix2pix_ab.py new '{"adv_weight":0,"lr_g":2e-4}' 150
    python bench/pix2pix_ab.py new_lr '{"adv_weight":0}' 150

Trains ``steps`` steps of 64 random training photos of the real catalog (edge maps, 64 px, one thread) outside the
Trainer, then reports the validation L1 of 256 val photos from their own maps (eval mode, seed 0) and the mean
absolute Laplacian of the outputs ("hf_out") next to the real photos' ("hf_real"): an output far above the real
value is speckled. Results of the run that chose the defaults: bench/results/pix2pix_ab.json.
"""
import json
import sys
import time
from pathlib import Path

import torch

from prodgen.models import model_class
from prodgen.data import load_catalog, prepare_images
from prodgen.config import DataConfig
from prodgen.train.run import load_vocab
from prodgen.conditioning.maps import derive_maps
ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "runs" / "sketch-edges-l1"  # its split and vocabulary
torch.set_num_threads(1)
torch.manual_seed(0)
name, args, steps = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
cat = load_catalog(DataConfig(catalog=str(ROOT.parent / "shared" / "data" / "fashion-products"), resolution=64))
t = prepare_images(cat, 64, progress=False)
split = json.load(open(RUN / "split.json"))
vocab = load_vocab(RUN)
by_id = {r.id: r for r in cat.records}
def part(s):
    ids = [i for i in split[s] if i in set(t.ids)]
    return t.images[t.index_of(ids)], vocab.encode_records(by_id[i].attributes for i in ids)
tr_x, tr_c = part("train"); va_x, va_c = part("val")
va_x, va_c = va_x[:256], va_c[:256]
kind = args.pop("image_condition", "edges")
m = model_class("pix2pix").from_args({"image_condition": kind, **args}, vocab.sizes, 64)
opts = {p: torch.optim.Adam(m.phase_parameters(p), **m.optimizer_settings(p)) for p in m.phases}
g = torch.Generator().manual_seed(0)
t0 = time.time()
for s in range(steps):
    idx = torch.randint(len(tr_x), (64,), generator=g)
    x = tr_x[idx].float() / 127.5 - 1
    for p in m.phases:
        l = m.loss(p, x, tr_c[idx]); opts[p].zero_grad(); l["loss"].backward(); opts[p].step()
m.eval()
with torch.no_grad():
    vx = va_x.float() / 127.5 - 1
    maps = derive_maps(kind, vx)
    z = m.latent_noise(len(vx), torch.Generator().manual_seed(0))
    out = m.generate_from_noise(z, va_c, image_map=maps)
    l1 = (out - vx).abs().mean().item()
    lap = lambda a: (a[..., 1:-1, 1:-1] * 4 - a[..., :-2, 1:-1] - a[..., 2:, 1:-1] - a[..., 1:-1, :-2] - a[..., 1:-1, 2:]).abs().mean().item()
print(json.dumps({"name": name, "steps": steps, "s": round(time.time() - t0), "val_l1": round(l1, 4),
                  "hf_out": round(lap(out), 4), "hf_real": round(lap(vx), 4)}))
