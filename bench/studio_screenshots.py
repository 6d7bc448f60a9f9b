"""Screenshots of every studio page for the README: the browser test, run with its screenshots kept in docs/studio/.

    python bench/studio_screenshots.py                          # tiny 2-step run: the images are noise
    python bench/studio_screenshots.py --runs runs --model demo  # a trained run (`make demo`) for real-looking images

Runs ``tests/studio/test_browser.py`` (Chromium via Playwright against ``prodgen serve``) with
``PRODGEN_SCREENSHOTS=docs/studio``: login, generate, jobs, review, review-approved, exports, edit,
edit-inpaint, audit and tokens, as ``docs/studio/<page>.png``. The test's assertions hold as usual, so a
screenshot is only written by a run in which the page worked.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "studio", help="folder for the PNGs")
    ap.add_argument("--runs", type=Path, help="serve this runs folder instead of a freshly trained tiny run")
    ap.add_argument("--model", default="demo", help="the run (folder name under --runs) to generate with")
    args = ap.parse_args()
    env = {**os.environ, "PRODGEN_SCREENSHOTS": str(args.out.resolve())}
    if args.runs:
        if not (args.runs / args.model / "model.safetensors").is_file():
            ap.error(f"{args.runs / args.model} is not a trained run (no model.safetensors); train one or leave out --runs")
        env.update(PRODGEN_STUDIO_RUNS=str(args.runs.resolve()), PRODGEN_STUDIO_MODEL=args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
           str(ROOT / "tests" / "studio" / "test_browser.py") + "::test_generate_review_export_in_chromium"]
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code == 0:
        print("screenshots:", ", ".join(sorted(p.name for p in args.out.glob("*.png"))))
    return code


if __name__ == "__main__":
    sys.exit(main())
