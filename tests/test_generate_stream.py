"""``generate --from-csv`` and ``fill`` over CSVs of any length: streamed, resumable, split into shards (sample/stream.py).

A 2-step tiny GAN (``server_kit.train_tiny``, a few seconds) generates every image; images are compared by their
decoded pixels, since each file's signed provenance differs.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prodgen import cli
from prodgen.data.csv_catalog import csv_layout, parse_csv
from prodgen.data.synthetic import CATEGORIES, COLOURS
from prodgen.errors import UserError
from prodgen.sample import Pipeline
from prodgen.sample import stream
from prodgen.sample.stream import (MANIFEST_GLOB, Shard, StreamSettings, generate_from_csv, index_rows, manifest_entries,
                                   recorded_images)
from prodgen.sample.writer import unique_names

sys.path.insert(0, str(Path(__file__).parent / "studio"))
from server_kit import train_tiny  # noqa: E402

TRICKY_IDS = ["a/b", "a_b", "A_b", "a:b"]  # one file name once made safe: distinct names all the same


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def pipe(run) -> Pipeline:
    return Pipeline.from_pretrained(run, device="cpu")


def write_rows(path: Path, n: int, extra_ids: tuple[str, ...] = ()) -> Path:
    """A catalog-layout CSV of ``n`` rows (P00000 ...) plus ``extra_ids``; one colour the model never saw."""
    colours = [*COLOURS, "magenta"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "category", "colour", "productDisplayName"])
        for i, rid in enumerate([f"P{i:05d}" for i in range(n)] + list(extra_ids)):
            w.writerow([rid, CATEGORIES[i % len(CATEGORIES)], colours[i % len(colours)], f"item {i}"])
    return path


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def labels(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in csv.DictReader(open(out / "labels.csv"))}


def recorded(out: Path) -> list[dict]:
    return list(recorded_images(out))


def quiet(**kw) -> dict:
    return {"progress": False, **kw}


def invoke_main(monkeypatch, capsys, *args) -> tuple[int, str]:
    """``prodgen ARGS`` through cli.main(): (exit code, stdout + stderr, flattened)."""
    monkeypatch.setattr(sys, "argv", ["prodgen", *map(str, args)])
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    out, err = capsys.readouterr()
    return code, " ".join((out + err).replace("│", " ").split())


# -- (1) shards -------------------------------------------------------------------------------------------------------
def test_two_shards_into_one_folder_give_the_images_of_one_shard(monkeypatch, capsys, pipe, run, tmp_path):
    rows = write_rows(tmp_path / "rows.csv", 23, (*TRICKY_IDS, "P00003"))  # P00003 again: a repeated id, skipped
    one, two = tmp_path / "one", tmp_path / "two"
    res = generate_from_csv(pipe, rows, one, settings=StreamSettings(batch_size=4, chunk_rows=5), **quiet())
    assert res.complete and res.rows == 27 and res.run.made == 27
    for shard in ("1/2", "2/2"):  # through the command line, as two processes would run it, other chunks
        code, said = invoke_main(monkeypatch, capsys, "generate", run, "--from-csv", rows, "--out", two, "--shard", shard,
                                 "--batch-size", "4", "--quiet")
        assert code == 0, said
        assert f"shard {shard}: wrote" in said
        assert (two / "labels.csv").exists() == (shard == "2/2")  # the last shard to finish writes the merged table
    assert (one / "labels.csv").read_bytes() == (two / "labels.csv").read_bytes()
    table = labels(one)
    assert list(table) == [f"P{i:05d}" for i in range(23)] + TRICKY_IDS
    assert [r["file"] for r in table.values()][-4:] == [f"{n}.png" for n in unique_names(TRICKY_IDS)]
    for rid, row in table.items():
        assert np.array_equal(pixels(one / row["file"]), pixels(two / row["file"])), rid
        assert (one / row["file"]).read_bytes() != b""
    by_shard = {p.name: {e["row"] for e in manifest_entries(p) if "row" in e} for p in two.glob(MANIFEST_GLOB)}
    blocks = {b: set(range(4 * b, min(4 * b + 4, 27))) for b in range(7)}  # blocks of --batch-size rows, in turn
    assert by_shard == {"manifest-1-of-2.jsonl": set().union(*(blocks[b] for b in (0, 2, 4, 6))),
                        "manifest-2-of-2.jsonl": set().union(*(blocks[b] for b in (1, 3, 5)))}
    assert sorted(p.name for p in two.glob("*.png") if p.name != "grid.png") == sorted(r["file"] for r in table.values())
    side = json.loads((two / "generation.json").read_text())
    assert side["count"] == 27 and side["manifests"] == ["manifest-1-of-2.jsonl", "manifest-2-of-2.jsonl"]


def test_file_names_are_those_unique_names_gives_even_when_a_suffixed_name_meets_an_id(tmp_path):
    suffixed = f"x_y-{hashlib.sha256(b'x/y').hexdigest()[:8]}"  # the name x/y would get: another row's own id
    ids = ["x/y", "x_y", suffixed, "q", *TRICKY_IDS, "Q"]
    path = tmp_path / "ids.csv"
    path.write_text("id,colour\n" + "".join(f"{i},red\n" for i in ids) + "x_y,blue\n")
    index = index_rows(csv_layout(path, title_column=None))
    assert [stem for _, _, stem in index.records()] == unique_names(ids)
    assert index.rows == len(ids) and index.skipped_count == 1 and index.skipped[0].reason == "duplicate-id"


# -- (2) interrupted, then resumed ------------------------------------------------------------------------------------
def test_a_run_that_fails_after_k_images_resumes_without_redoing_them(monkeypatch, pipe, tmp_path):
    rows, out, k = write_rows(tmp_path / "rows.csv", 20), tmp_path / "out", 7
    stamped = []
    real_stamp = stream.stamped_png

    def failing(*args):
        if len(stamped) == k:
            raise RuntimeError("injected failure")
        stamped.append(args[1].meta["id"])
        return real_stamp(*args)

    monkeypatch.setattr(stream, "stamped_png", failing)
    with pytest.raises(RuntimeError, match="injected"):
        generate_from_csv(pipe, rows, out, settings=StreamSettings(batch_size=3, chunk_rows=4), **quiet())
    first = recorded(out)
    assert sorted(e["id"] for e in first) == sorted(stamped) and len(first) == k  # every written image is recorded
    times = {e["file"]: (out / e["file"]).stat().st_mtime_ns for e in first}
    assert not (out / "labels.csv").exists()

    stamped.clear()
    monkeypatch.setattr(stream, "stamped_png", lambda *a: (stamped.append(a[1].meta["id"]), real_stamp(*a))[1])
    res = generate_from_csv(pipe, rows, out, settings=StreamSettings(batch_size=3, chunk_rows=7), **quiet())
    assert res.complete and res.run.made == 20 - k and res.run.done_before == k
    assert not set(stamped) & {e["id"] for e in first}  # the finished rows were not generated again
    assert {f: (out / f).stat().st_mtime_ns for f in times} == times
    lines = [e["row"] for e in recorded(out)]
    assert sorted(lines) == list(range(20))  # every row exactly once
    fresh = tmp_path / "fresh"
    generate_from_csv(pipe, rows, fresh, settings=StreamSettings(batch_size=3), **quiet())
    for row in labels(fresh).values():  # same images as one uninterrupted run, to the bit
        assert np.array_equal(pixels(out / row["file"]), pixels(fresh / row["file"]))


KILLED_SCRIPT = """
import sys, torch
from prodgen.sample import Pipeline
from prodgen.sample.stream import StreamSettings, generate_from_csv
torch.set_num_threads(1)
generate_from_csv(Pipeline.from_pretrained(sys.argv[1], device="cpu"), sys.argv[2], sys.argv[3],
                  settings=StreamSettings(batch_size=2, chunk_rows=4), progress=False)
"""


def test_kill_9_in_the_middle_then_rerun_finishes_every_row_once(pipe, run, tmp_path):
    rows, out = write_rows(tmp_path / "rows.csv", 120), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, str(run), str(rows), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "manifest-1-of-1.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and manifest.read_bytes().count(b"\n") >= 6:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        pytest.skip("the generation finished before it could be killed")
    before = {e["file"]: (out / e["file"]).stat().st_mtime_ns for e in recorded(out)}
    assert 5 <= len(before) < 120
    res = generate_from_csv(pipe, rows, out, settings=StreamSettings(batch_size=2), **quiet())
    assert res.complete and res.run.made == 120 - len(before) and res.run.done_before == len(before)
    assert {f: (out / f).stat().st_mtime_ns for f in before} == before
    assert sorted(e["row"] for e in recorded(out)) == list(range(120))
    assert not list(out.glob(".*.tmp"))
    for row in labels(out).values():
        Image.open(out / row["file"]).verify()


# -- (3) what never counts as done ------------------------------------------------------------------------------------
def test_half_written_temp_files_missing_or_empty_files_and_torn_lines_are_not_done(pipe, tmp_path):
    rows, out = write_rows(tmp_path / "rows.csv", 12), tmp_path / "out"
    generate_from_csv(pipe, rows, out, **quiet())
    manifest = out / "manifest-1-of-1.jsonl"
    (out / "P00003.png").unlink()  # recorded, but the file is gone
    (out / "P00009.png").write_bytes(b"")  # recorded, but empty
    lines = manifest.read_bytes().splitlines(keepends=True)
    p7 = next(i for i, ln in enumerate(lines) if b'"P00007"' in ln)
    half = (out / "P00007.png").read_bytes()[:100]
    (out / "P00007.png").unlink()
    (out / ".P00007.png.k1ll3d.tmp").write_bytes(half)  # a kill -9 while P00007 was being written
    kept = [ln for i, ln in enumerate(lines) if i != p7]
    manifest.write_bytes(b"".join(kept[:-1]) + kept[-1][:20])  # and a torn last line (P00011)
    done = stream.read_done(out, json.loads(lines[0])["key"], 12)
    assert sorted(np.flatnonzero(~done)) == [3, 7, 9, 11]
    res = generate_from_csv(pipe, rows, out, **quiet())
    assert res.complete and res.run.made == 4
    assert not (out / ".P00007.png.k1ll3d.tmp").exists()
    for name in ("P00003", "P00007", "P00009", "P00011"):
        Image.open(out / f"{name}.png").verify()
    assert all(ln.endswith(b"\n") and json.loads(ln) for ln in manifest.read_bytes().splitlines(keepends=True))
    again = sorted(e["row"] for e in recorded(out))  # append-only: the lines of the lost files stay, new ones follow
    assert sorted(set(again)) == list(range(12)) and again.count(3) == again.count(9) == 2


def test_a_request_with_other_settings_is_refused_in_the_same_folder(pipe, tmp_path):
    rows, out = write_rows(tmp_path / "rows.csv", 3), tmp_path / "out"
    generate_from_csv(pipe, rows, out, **quiet())
    with pytest.raises(UserError, match=r"another request .*seed 0 there, 5 now.*new --out"):
        generate_from_csv(pipe, rows, out, settings=StreamSettings(seed=5), **quiet())


def write_shop(root: Path, n: int, with_photo: set[int]) -> Path:
    (root / "images").mkdir(parents=True)
    write_rows(root / "styles.csv", n)
    for i in with_photo:
        Image.new("RGB", (8, 8), "white").save(root / "images" / f"P{i:05d}.jpg")
    return root


def test_fill_resumes_shards_and_takes_back_its_own_unrecorded_image(monkeypatch, capsys, run, tmp_path):
    shop = write_shop(tmp_path / "shop", 10, {0, 4, 5})
    out = tmp_path / "gen"
    for shard in ("1/2", "2/2"):
        code, said = invoke_main(monkeypatch, capsys, "fill", run, "--catalog", shop, "--out", out, "--shard", shard,
                                 "--batch-size", "2", "--quiet")
        assert code == 0, said
        assert (out / "fill.csv").exists() == (shard == "2/2")
    assert "7 rows without a photo have a generated image (4 made now); 3 rows have real photos" in said
    table = {r["id"]: r["generated"] for r in csv.DictReader(open(out / "fill.csv"))}
    assert table == {f"P{i:05d}": "0" if i in (0, 4, 5) else "1" for i in range(10)}
    manifest = out / "manifest-2-of-2.jsonl"  # a kill after P00003 was written, before it was recorded
    manifest.write_bytes(b"".join(ln for ln in manifest.read_bytes().splitlines(keepends=True) if b'"P00003"' not in ln))
    code, said = invoke_main(monkeypatch, capsys, "fill", run, "--catalog", shop, "--out", out, "--shard", "2/2",
                             "--batch-size", "2", "--quiet")
    assert code == 0 and "(1 made now)" in said and "skipped" not in said  # its marks name the row: prodgen's own file


# -- (4) --shard values -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "words"), [
    ("0/0", ("at least 1",)), ("1/0", ("at least 1",)), ("5/4", ("numbered from 1 to 4", "1/4 .. 4/4")),
    ("0/4", ("numbered from 1 to 4",)), ("x", ("must look like i/N",)), ("1/2/3", ("i/N",)), ("-1/4", ("i/N",)),
    ("", ("i/N",)), ("1.5/4", ("i/N",))])
def test_bad_shard_values_are_clear_errors(monkeypatch, capsys, run, tmp_path, value, words):
    rows, out = write_rows(tmp_path / "rows.csv", 2), tmp_path / "out"
    for command in (["generate", run, "--from-csv", rows], ["fill", run, "--catalog", rows]):
        code, said = invoke_main(monkeypatch, capsys, *command, "--out", out, "--shard", value, "--quiet")
        assert code == 2 and "Traceback" not in said and "--shard" in said, said
        assert all(w in said for w in words), said
    assert not out.exists()


def test_shard_needs_from_csv_and_splits_rows_round_robin(monkeypatch, capsys, run, tmp_path):
    code, said = invoke_main(monkeypatch, capsys, "generate", run, "--shard", "1/2", "--out", tmp_path / "o")
    assert code == 2 and "--from-csv" in said and not (tmp_path / "o").exists()
    assert [k for k in range(10) if Shard.parse("2/4").takes(k)] == [1, 5, 9] == list(Shard(2, 4).rows(10))
    assert list(Shard(2, 4).rows(12, block=2)) == [2, 3, 10, 11] and not Shard(2, 4).takes(5, block=2)
    assert Shard.parse(None) == Shard(1, 1) and str(Shard.parse(" 3/8 ")) == "3/8"


# -- (5) memory: the CSV is streamed --------------------------------------------------------------------------------
def test_a_20000_row_csv_is_streamed_in_bounded_chunks(monkeypatch, pipe, tmp_path):
    rows = write_rows(tmp_path / "rows.csv", 20_000)
    index = index_rows(csv_layout(rows))
    assert inspect.isgenerator(index.records()) and index.rows == 20_000
    tracemalloc.start()
    parse_csv(rows)  # what holding every row costs
    held = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    index_rows(csv_layout(rows))
    streamed = tracemalloc.get_traced_memory()[1] - tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert streamed < held / 4, (streamed, held)  # a few bytes per row, not a Record per row

    sizes = []
    real_row_jobs = stream.row_jobs
    monkeypatch.setattr(stream, "row_jobs", lambda p, recs, *a, **k: (sizes.append(len(recs)), real_row_jobs(p, recs, *a, **k))[1])
    out = tmp_path / "out"
    res = generate_from_csv(pipe, rows, out, Shard(7, 2500), StreamSettings(batch_size=2, chunk_rows=3), **quiet())
    assert res.run.made == 8 and res.run.shard_rows == 8 and not res.complete
    assert max(sizes) <= 3 and sum(sizes) == 8  # never more than a chunk of jobs at once
    assert sorted(e["id"] for e in recorded(out)) == [f"P{k:05d}" for k in Shard(7, 2500).rows(20_000, 2)]
