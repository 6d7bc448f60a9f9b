"""What provenance costs per image: IPTC/XMP marks, the signed C2PA manifest, writing the file, verifying it.

    .venv/bin/python bench/provenance_speed.py [--n 100] [--sizes 64,256]

For each size, N noise images (incompressible: the worst case for hashing) encoded as PNG, then timed per image
(median and mean over N, after one warm-up):
  - marks: splicing the XMP packet and PNG text chunks into the file's bytes;
  - sign: building and signing the C2PA manifest (c2pa-python Builder + Signer, ES256, no thumbnail);
  - stamp: both, what every writer pays in memory (``prodgen.provenance.stamp_bytes``);
  - write_unsigned: the atomic write (temp file, fsync, rename) of the unsigned PNG, what writing cost before;
  - stamp_and_write: stamp plus the atomic write of the signed file;
  - verify: ``verify_file`` (c2pa-python's Reader, offline);
and the bytes a manifest adds. Keys live in a temporary key folder (the user's are not touched).
Writes bench/results/provenance_speed.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402


def timed(fn, n: int) -> dict:
    fn()  # warm-up
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(ms), 2), "mean_ms": round(statistics.fmean(ms), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="images per size")
    ap.add_argument("--sizes", default="64,256")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "provenance_speed.json")
    args = ap.parse_args()

    import c2pa
    import numpy as np
    from PIL import Image

    from prodgen.atomic import write_bytes
    from prodgen.provenance import ensure_keys, stamp_bytes, verify_file
    from prodgen.provenance.c2pa_sign import sign_bytes
    from prodgen.provenance.marks import GENERATED, mark_bytes

    machine = machine_info()
    info = {"run": "runs/00001-gan-synthetic-64", "family": "gan", "seed": 0, "request": {"attributes": {"colour": "red"}}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        keys = ensure_keys(tmp / "keys")
        create_ms = (time.perf_counter() - t) * 1000
        for size in [int(s) for s in args.sizes.split(",")]:
            rng = np.random.default_rng(size)
            pngs = []
            for _ in range(args.n):
                buf = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="PNG")
                pngs.append(buf.getvalue())
            it = iter(range(10**9))

            def one(f):
                return lambda: f(pngs[next(it) % len(pngs)])

            signed = stamp_bytes(pngs[0], "generated", info, keys)
            path = tmp / "x.png"
            write_bytes(path, signed)
            rows.append({
                "size_px": size, "n": args.n, "png_bytes": len(pngs[0]), "manifest_and_marks_bytes": len(signed) - len(pngs[0]),
                "marks": timed(one(lambda d: mark_bytes(d, GENERATED, info)), args.n),
                "sign": timed(one(lambda d: sign_bytes(d, "generated", info, keys)), args.n),
                "stamp": timed(one(lambda d: stamp_bytes(d, "generated", info, keys)), args.n),
                "write_unsigned": timed(one(lambda d: write_bytes(path.with_name("plain.png"), d)), args.n),  # the baseline
                "stamp_and_write": timed(one(lambda d: write_bytes(path, stamp_bytes(d, "generated", info, keys))), args.n),
                "verify": timed(lambda: verify_file(path), args.n),
            })
            print(json.dumps(rows[-1]))
    result = {"command": command_line(), "machine": machine, "c2pa_python": _version("c2pa-python"),
              "c2pa_rs": c2pa.sdk_version(), "key_folder_create_ms": round(create_ms, 1), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(args.out, (json.dumps(result, indent=1) + "\n").encode())
    print(f"wrote {args.out}")


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
