"""Bad input ends in a clear message (the problem and the fix), a non-zero exit, and no partial or wrong output.

Every case runs the real entry point (``prodgen.cli.main``) in-process on a tiny synthetic run, and checks the
exit code, the words of the message, and that no output was written (or nothing was overwritten).
"""

from __future__ import annotations

import csv
import errno
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from prodgen import cli
from prodgen.config import ConditionConfig, DataConfig, RunConfig, TrainConfig
from prodgen.errors import UserError
from prodgen.runfiles import check_run_folder, folder_kind
from prodgen.sample.stream import recorded_images
from prodgen.sample.writer import safe_name, unique_names

TINY_ARGS = {"z_dim": 16, "cond_dim": 16, "g_base": 8, "g_cap": 32, "d_base": 8, "d_cap": 16}
BIG_FIELD = "x" * (200 * 1024)  # over the csv module's 128 KiB field limit


def prodgen(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``prodgen ARGS`` through main(): (exit code, stdout, stderr with boxes and line breaks flattened)."""
    monkeypatch.setattr(sys, "argv", ["prodgen", *map(str, args)])
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    flat = " ".join(err.replace("│", " ").replace("╭", " ").replace("╰", " ").replace("─", " ").split())
    return code, out, flat


def fails(monkeypatch, capsys, *args, words: tuple[str, ...] = (), code: int = 2) -> str:
    """Assert ``prodgen ARGS`` exits with ``code`` (no traceback) and says every one of ``words``; returns stderr."""
    got, out, err = prodgen(monkeypatch, capsys, *args)
    assert got == code, f"exit {got}, stdout {out!r}, stderr {err!r}"
    assert "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    return err


def tiny_config(steps: int = 1) -> RunConfig:
    """A tiny GAN on a 300-item synthetic catalog at 32 px."""
    return RunConfig(model="gan", model_args=dict(TINY_ARGS), condition=ConditionConfig(min_count=1),
                     data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=300),
                     train=TrainConfig(steps=steps, batch_size=4, sample_every=1000, checkpoint_every=0, log_every=1))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny trained GAN run on the synthetic catalog (32 px, 2 steps)."""
    from prodgen.train import train

    out = tmp_path_factory.mktemp("runs") / "gan"
    train(tiny_config(steps=2), out, progress=False)
    return out


@pytest.fixture
def run_copy(run, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


@pytest.fixture
def photo(tmp_path) -> Path:
    img = Image.new("RGB", (48, 48), (255, 255, 255))
    img.paste((200, 20, 20), (14, 14, 34, 34))
    path = tmp_path / "photo.png"
    img.save(path)
    return path


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- vary --background image:... ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["missing", "corrupt", "folder", "empty-path"])
def test_vary_background_image_that_cannot_be_used(monkeypatch, capsys, tmp_path, photo, kind):
    bg = {"missing": tmp_path / "nope.jpg", "corrupt": tmp_path / "bad.jpg", "folder": tmp_path, "empty-path": ""}[kind]
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage, not a JPEG")
    out = tmp_path / "o.png"
    words = {"missing": ("not found",), "corrupt": ("cannot be used", "bad.jpg", "readable"), "folder": ("is a folder",),
             "empty-path": ("needs a path",)}[kind]
    fails(monkeypatch, capsys, "vary", photo, "--background", f"image:{bg}", "--out", out, words=("--background", *words))
    assert not out.exists()


# -- damaged or missing run files --------------------------------------------------------------------------------------
DAMAGE = {
    "missing": None,
    "not-json": '{"attributes": [',
    "binary": b"\x80\x81\x00\xff",
    "wrong-shape": '{"attributes": [{"name": "colour"}], "train": 5}',
}


def damage(run_dir: Path, name: str, how: str) -> None:
    content = DAMAGE[how]
    if content is None:
        (run_dir / name).unlink()
    elif isinstance(content, bytes):
        (run_dir / name).write_bytes(content)
    else:
        (run_dir / name).write_text(content)


@pytest.mark.parametrize("how", list(DAMAGE))
@pytest.mark.parametrize("name", ["vocab.json", "split.json", "config.json"])
def test_a_damaged_run_file_is_named_with_the_fix(monkeypatch, capsys, run_copy, tmp_path, name, how):
    if name == "config.json" and how == "wrong-shape":
        pytest.skip("covered by test_a_folder_that_is_no_generator_run")
    damage(run_copy, name, how)
    out = tmp_path / "g"
    # evaluate needs every file, split.json included; the check comes before any work (no ProductNet fit).
    cmd = ["evaluate", run_copy, "-n", "20"] if name == "split.json" else ["generate", run_copy, "-n", "1", "--out", out, "--quiet"]
    err = fails(monkeypatch, capsys, *cmd, words=(name, "--overwrite"))
    assert ("missing" in err) if how == "missing" else ("damaged" in err)
    assert "restore" in err  # ... from a copy of the run, or train it again
    assert not out.exists() and not (run_copy / "eval").exists()


@pytest.mark.parametrize("command", ["generate", "vary", "fill", "personalise", "augment", "evaluate", "resume", "report"])
def test_every_command_that_loads_a_run_reports_a_damaged_vocab(monkeypatch, capsys, run_copy, tmp_path, photo, command):
    damage(run_copy, "vocab.json", "not-json")
    before = tree(run_copy)
    out = tmp_path / "out"
    (tmp_path / "h.txt").write_text("syn-00001\n")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "styles.csv").write_text("id,category,colour\n1,cap,red\n")
    args = {"generate": ["generate", run_copy, "--out", out],
            "vary": ["vary", run_copy, "--image", photo, "--attr", "colour=red", "--out", out / "v.png"],
            "fill": ["fill", run_copy, "--catalog", tmp_path / "shop", "--out", out],
            "personalise": ["personalise", run_copy, "--history", tmp_path / "h.txt", "--out", out],
            "augment": ["augment", run_copy, "--out", out],
            "evaluate": ["evaluate", run_copy],
            "resume": ["train", "--resume", run_copy, "--steps", "4"],
            "report": ["report", run_copy]}[command]
    fails(monkeypatch, capsys, *args, words=("vocab.json", "damaged"))
    assert not out.exists() and tree(run_copy) == before


def test_split_json_is_checked_by_resume_and_augment(monkeypatch, capsys, run_copy, tmp_path):
    damage(run_copy, "split.json", "wrong-shape")
    fails(monkeypatch, capsys, "train", "--resume", run_copy, "--steps", "4", words=("split.json", "damaged", "'train'"))
    fails(monkeypatch, capsys, "augment", run_copy, "--out", tmp_path / "a", words=("split.json", "damaged"))
    assert not (tmp_path / "a").exists()


def test_resume_without_training_state_says_how_to_start_again(monkeypatch, capsys, run_copy):
    (run_copy / "training_state.pt").unlink()
    fails(monkeypatch, capsys, "train", "--resume", run_copy, "--steps", "4", words=("training_state.pt", "--overwrite"))


def test_fill_with_a_damaged_generation_json_writes_nothing(monkeypatch, capsys, run, tmp_path):
    shop = tmp_path / "shop"
    (shop / "images").mkdir(parents=True)
    (shop / "styles.csv").write_text("id,category,colour\n1,cap,red\n2,shoe,blue\n")
    out = tmp_path / "gen"
    out.mkdir()
    (out / "generation.json").write_text("{broken")
    fails(monkeypatch, capsys, "fill", run, "--catalog", shop, "--out", out, "--quiet",
          words=("generation.json", "damaged", "Delete it"))
    assert sorted(p.name for p in out.iterdir()) == ["generation.json"]


# -- CSV fields over the csv module's limit --------------------------------------------------------------------------
def test_csv_field_over_128_kib_in_a_catalog_a_from_csv_file_and_a_fill_catalog(monkeypatch, capsys, run, tmp_path):
    shop = tmp_path / "shop"
    (shop / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), "white").save(shop / "images" / "1.png")
    (shop / "styles.csv").write_text(f'id,category,colour,productDisplayName\n1,cap,red,ok\n2,cap,red,"{BIG_FIELD}"\n')
    rows = tmp_path / "rows.csv"
    rows.write_text(f'id,category,colour,productDisplayName\n1,cap,red,"{BIG_FIELD}\n2,cap,red,x\n')  # an unclosed quote
    words = ("128 KiB", "quote", "line")
    sheet = tmp_path / "sheet.png"
    fails(monkeypatch, capsys, "data", "inspect", shop, "--sheet", sheet, words=(*words, "line 3", "styles.csv"))
    fails(monkeypatch, capsys, "train", "--catalog", shop, "--steps", "1", "--out", tmp_path / "r", words=words)
    fails(monkeypatch, capsys, "generate", run, "--from-csv", rows, "--out", tmp_path / "g", words=(*words, "line 2"))
    fails(monkeypatch, capsys, "fill", run, "--catalog", shop, "--out", tmp_path / "f", words=words)
    assert not sheet.exists() and not any((tmp_path / d).exists() for d in ("r", "g", "f"))


# -- personalise --history -------------------------------------------------------------------------------------------
def test_binary_or_empty_history_file(monkeypatch, capsys, run, tmp_path):
    hist = tmp_path / "history.bin"
    hist.write_bytes(bytes(range(256)) * 4)
    out = tmp_path / "p"
    fails(monkeypatch, capsys, "personalise", run, "--history", hist, "--out", out, words=("not a text file", "one item id per line"))
    (tmp_path / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    fails(monkeypatch, capsys, "personalise", run, "--history", tmp_path / "latin1.txt", "--out", out, words=("not a text file",))
    (tmp_path / "empty.txt").write_text("\n# a comment\n")
    fails(monkeypatch, capsys, "personalise", run, "--history", tmp_path / "empty.txt", "--out", out, words=("no item ids",))
    fails(monkeypatch, capsys, "personalise", run, "--history", tmp_path, "--out", out, words=("is a folder",))
    (tmp_path / "unknown.txt").write_text("zzz\n")
    fails(monkeypatch, capsys, "personalise", run, "--history", tmp_path / "unknown.txt", "--out", out, words=("none of the 1",))
    assert not out.exists()


# -- every numeric option is checked at the boundary -------------------------------------------------------------------
BAD_NUMBERS = [
    (["generate", "RUN", "-n", "0"], "'-n'"),
    (["generate", "RUN", "-n", "100001"], "'-n'"),
    (["generate", "RUN", "--seed", "-1"], "--seed"),
    (["generate", "RUN", "--truncation", "-1"], "--truncation"),
    (["generate", "RUN", "--truncation", "0"], "--truncation"),
    (["generate", "RUN", "--guidance", "-2"], "--guidance"),
    (["generate", "RUN", "--steps", "0"], "--steps"),
    (["generate", "RUN", "--best-of", "0"], "--best-of"),
    (["generate", "RUN", "--batch-size", "0"], "--batch-size"),
    (["augment", "RUN", "--per-class", "0"], "--per-class"),
    (["augment", "RUN", "--seeds", ""], "--seeds"),
    (["augment", "RUN", "--seeds", "1,,2"], "--seeds"),
    (["augment", "RUN", "--seeds", "a,b"], "--seeds"),
    (["augment", "RUN", "--seeds", "1,1"], "--seeds"),
    (["augment", "RUN", "--epochs", "0"], "--epochs"),
    (["augment", "RUN", "--rare-below", "0"], "--rare-below"),
    (["train", "--steps", "0"], "--steps"),
    (["train", "--steps", "5", "--minutes", "0"], "--minutes"),
    (["train", "--steps", "5", "--batch-size", "0"], "--batch-size"),
    (["train", "--steps", "5", "--min-count", "0"], "--min-count"),
    (["train", "--steps", "5", "--cond-dropout", "1"], "--cond-dropout"),
    (["train", "--steps", "5", "--sample-every", "0"], "--sample-every"),
    (["train", "--steps", "5", "--log-every", "0"], "--log-every"),
    (["train", "--steps", "5", "--checkpoint-every", "-1"], "--checkpoint-every"),
    (["train", "--steps", "5", "--threads", "0"], "--threads"),
    (["train", "--steps", "5", "--eval-every", "-1"], "--eval-every"),
    (["train", "--steps", "5", "--eval-n", "1"], "--eval-n"),
    (["train", "--steps", "5", "--seed", "-3"], "--seed"),
    (["enhance", "PHOTO", "--tile", "0"], "--tile"),
    (["enhance", "PHOTO", "--tile", "-16"], "--tile"),
    (["enhance", "PHOTO", "--tile", "100"], "--tile"),
    (["enhance-train", "--crop", "0"], "--crop"),
    (["enhance-train", "--crop", "40"], "--crop"),
    (["enhance-train", "--width", "0"], "--width"),
    (["enhance-train", "--minutes", "-1"], "--minutes"),
    (["enhance-train", "--batch-size", "0"], "--batch-size"),
    (["vary", "PHOTO", "--frames", "1"], "--frames"),
    (["vary", "PHOTO", "--strength", "2"], "--strength"),
    (["vary", "PHOTO", "--brightness", "0"], "--brightness"),
    (["vary", "PHOTO", "--temperature", "3"], "--temperature"),
    (["vary", "PHOTO", "--threshold", "1"], "--threshold"),
    (["personalise", "RUN", "--history", "h.txt", "-n", "0"], "'-n'"),
    (["personalise", "RUN", "--history", "h.txt", "--diversity", "2"], "--diversity"),
    (["fill", "RUN", "--catalog", "c", "--out", "o", "--best-of", "0"], "--best-of"),
    (["evaluate", "RUN", "-n", "1"], "'-n'"),
    (["evaluate", "RUN", "--truncation", "2"], "--truncation"),
    (["evaluate", "RUN", "--n-text", "-1"], "--n-text"),
    (["compare", "RUN", "-n", "0"], "'-n'"),
    (["features", "fit", "--epochs", "0"], "--epochs"),
    (["demo", "--minutes", "0"], "--minutes"),
    (["demo", "--steps", "0"], "--steps"),
]


@pytest.mark.parametrize(("args", "flag"), BAD_NUMBERS, ids=[" ".join(a) for a, _ in BAD_NUMBERS])
def test_bad_numbers_are_refused_before_any_work(monkeypatch, capsys, tmp_path, args, flag):
    monkeypatch.chdir(tmp_path)  # nothing may appear here (runs/, out/ ...)
    args = [str(tmp_path / "no-run") if a == "RUN" else str(tmp_path / "no.png") if a == "PHOTO" else a for a in args]
    fails(monkeypatch, capsys, *args, words=("Invalid value", flag))
    assert list(tmp_path.iterdir()) == []


def test_the_tiling_function_refuses_tiles_that_would_crash_or_leave_the_output_unwritten():
    from prodgen.apps.restore import tiled

    planes = torch.rand(1, 7, 40, 40)
    for tile in (0, -16, 8, 24):
        with pytest.raises(UserError, match="--tile"):
            tiled(lambda p: p[:, :3], planes, tile=tile)


# -- train --overwrite: the whole run folder is replaced, and only a run folder ---------------------------------------
def test_overwrite_replaces_the_whole_run_folder(run_copy):
    from prodgen.train import train  # what `prodgen train --overwrite` calls (the CLI passes the flag through)

    (run_copy / "eval" / "20240101-000000").mkdir(parents=True)
    (run_copy / "eval" / "20240101-000000" / "metrics.json").write_text("{}")
    (run_copy / "samples" / "step-009999.png").write_bytes(b"old")
    (run_copy / "notes.txt").write_text("inside the old run: replaced with it")
    train(tiny_config(steps=1), run_copy, overwrite=True, progress=False)
    assert not (run_copy / "eval").exists() and not (run_copy / "notes.txt").exists()
    assert not (run_copy / "samples" / "step-009999.png").exists()
    assert json.loads((run_copy / "config.json").read_text())["train"]["steps"] == 1  # the new run's config
    assert [p.name for p in run_copy.parent.iterdir() if "replaced" in p.name] == []  # the old run is gone


def test_overwrite_refuses_a_folder_that_is_not_a_run(monkeypatch, capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    (mine / "config.json").write_text('{"theme": "dark"}')  # another program's config.json
    before = tree(mine)
    for extra in ([], ["--overwrite"]):
        fails(monkeypatch, capsys, "train", "--catalog", "synthetic", "--steps", "1", "--out", mine, *extra,
              words=("not", "--out"))
    err = fails(monkeypatch, capsys, "train", "--catalog", "synthetic", "--steps", "1", "--out", mine, "--overwrite")
    assert "never deletes other files" in err
    assert tree(mine) == before
    assert folder_kind(mine) is None


def test_overwrite_keeps_the_old_run_when_the_new_one_fails(monkeypatch, capsys, run_copy):
    from prodgen.train import run as run_mod
    from prodgen.train import train

    before = tree(run_copy)
    # Invalid settings fail before anything is touched.
    fails(monkeypatch, capsys, "train", "--catalog", "synthetic", "--condition", "colr", "--steps", "1", "--out", run_copy,
          "--overwrite", words=("colour",))
    assert tree(run_copy) == before

    # A failure after the old run was moved aside, before the new run saved anything: the old run comes back.
    def boom(self, progress=True):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(run_mod.Trainer, "run", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        train(tiny_config(), run_copy, overwrite=True, progress=False)
    assert tree(run_copy) == before
    assert [p.name for p in run_copy.parent.iterdir() if "replaced" in p.name] == []


# -- file names from ids: unique, deterministic, recorded ------------------------------------------------------------
def test_unique_names_disambiguate_deterministically():
    ids = ["a/b", "a_b", "a:b", "c", "x" * 400, "x" * 399 + "y"]
    names = unique_names(ids)
    assert len(set(names)) == len(ids)
    assert names[1] == "a_b" and names[3] == "c"  # an id that is its own safe name keeps it
    assert names[0].startswith("a_b-") and names[2].startswith("a_b-")
    assert all(len(n.encode()) <= 120 for n in names)
    assert unique_names(list(reversed(ids))) == list(reversed(names))  # independent of row order
    assert safe_name("a/b") == "a_b"
    # Names differing only in case would be one file on macOS and Windows: both get a suffix.
    case = unique_names(["SKU1", "sku1"])
    assert len({n.casefold() for n in case}) == 2 and all(n.casefold().startswith("sku1-") for n in case)
    with pytest.raises(ValueError):
        unique_names(["a", "a"])


def test_generate_from_csv_never_writes_two_ids_to_one_file(monkeypatch, capsys, run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("id,category,colour\na/b,cap,red\na_b,shoe,blue\na:b,watch,red\nc,cap,red\n")
    out = tmp_path / "g"
    code, _, err = prodgen(monkeypatch, capsys, "generate", run, "--from-csv", rows, "--out", out, "--quiet")
    assert code == 0, err
    assert "labels.csv" in err  # says that some ids were renamed and where the mapping is
    labels = list(csv.DictReader(open(out / "labels.csv")))
    assert [r["id"] for r in labels] == ["a/b", "a_b", "a:b", "c"]
    files = [r["file"] for r in labels]
    assert len({f.casefold() for f in files}) == 4 and all((out / f).exists() for f in files)
    assert files[1] == "a_b.png" and files[3] == "c.png"
    assert {i["id"]: i["file"] for i in recorded_images(out)} == {r["id"]: r["file"] for r in labels}


def test_fill_never_writes_two_ids_to_one_file(monkeypatch, capsys, run, tmp_path):
    shop = tmp_path / "shop"
    (shop / "images").mkdir(parents=True)
    (shop / "styles.csv").write_text("id,category,colour\na/b,cap,red\na_b,shoe,blue\nreal,cap,red\n")
    Image.new("RGB", (8, 8), "white").save(shop / "images" / "real.jpg")
    out = tmp_path / "gen"
    code, _, err = prodgen(monkeypatch, capsys, "fill", run, "--catalog", shop, "--out", out, "--quiet")
    assert code == 0, err
    table = {r["id"]: r for r in csv.DictReader(open(out / "fill.csv"))}
    assert table["real"]["generated"] == "0" and table["real"]["image"].endswith("real.jpg")
    made = [Path(table[i]["image"]) for i in ("a/b", "a_b")]
    assert made[0] != made[1] and all(p.exists() for p in made)
    assert made[1].name == "a_b.generated.png"


# -- catalog layouts that were probably meant otherwise --------------------------------------------------------------
def test_images_folder_without_a_csv_is_not_a_one_class_catalog(monkeypatch, capsys, tmp_path):
    cat = tmp_path / "shop"
    (cat / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), "white").save(cat / "images" / "1.jpg")
    fails(monkeypatch, capsys, "data", "inspect", cat, "--sheet", tmp_path / "s.png",
          words=("images/", "no styles.csv", "--images", "class folders"))
    (cat / "a.csv").write_text("id,colour\n1,red\n")
    (cat / "b.csv").write_text("id,colour\n1,red\n")
    fails(monkeypatch, capsys, "train", "--catalog", cat, "--steps", "1", "--out", tmp_path / "r",
          words=("2 CSV files", "a.csv", "--catalog"))
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "r").exists()


# -- found by trying bad input of every kind against every command ----------------------------------------------------
def test_bad_csv_files_for_generate(monkeypatch, capsys, run, tmp_path):
    out = tmp_path / "g"
    cases = {
        "empty.csv": ("", ("is empty",)),
        "header.csv": ("id,category,colour\n", ("no usable rows",)),
        "nul.csv": ("id,category\x00\n1,cap\n", ("not a text CSV",)),
        "noid.csv": ("sku,category,colour\n1,cap,red\n", ("no id column 'id'", "--id-column")),
        "cols.csv": ("id,Category,Colour\n1,cap,red\n", ("none of the columns", "'Colour' -> 'colour'")),
    }
    for name, (text, words) in cases.items():
        (tmp_path / name).write_text(text)
        fails(monkeypatch, capsys, "generate", run, "--from-csv", tmp_path / name, "--out", out, words=words)
    fails(monkeypatch, capsys, "generate", run, "--from-csv", tmp_path, "--out", out, words=("is a folder",))
    fails(monkeypatch, capsys, "generate", run, "--from-csv", tmp_path / "nope.csv", "--out", out, words=("not found",))
    (tmp_path / "ok.csv").write_text("id,category,colour\n1,cap,red\n")
    fails(monkeypatch, capsys, "generate", run, "--from-csv", tmp_path / "ok.csv", "-n", "3", "--out", out,
          words=("--n would be ignored", "one image per CSV row"))
    assert not out.exists()


def test_bad_attributes_and_paths_for_generate(monkeypatch, capsys, run, tmp_path):
    out = tmp_path / "g"
    fails(monkeypatch, capsys, "generate", run, "--attr", "colour=", "--out", out, words=("needs both a name and a value",))
    fails(monkeypatch, capsys, "generate", run, "--attr", "colour=red", "--attr", "colour=blue", "--out", out,
          words=("gives 'colour' twice",))
    fails(monkeypatch, capsys, "generate", run, "--attr", "colour", "--out", out, words=("name=value",))
    fails(monkeypatch, capsys, "generate", run, "--features", tmp_path, "--out", out, words=("--best-of",))
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    fails(monkeypatch, capsys, "generate", run, "--out", a_file, words=("is a file",))
    fails(monkeypatch, capsys, "generate", run, "--out", a_file / "sub", words=("is a file, not a folder",))
    assert a_file.read_text() == "keep me"
    fails(monkeypatch, capsys, "generate", tmp_path / "nope", "--out", out, words=("does not exist", "prodgen train"))
    fails(monkeypatch, capsys, "generate", a_file, "--out", out, words=("is a file, not a run folder",))
    fails(monkeypatch, capsys, "generate", tmp_path, "--out", out, words=("not a prodgen run folder",))
    assert not out.exists()


def test_a_folder_that_is_no_generator_run(monkeypatch, capsys, run_copy, tmp_path):
    restore = tmp_path / "restore"
    restore.mkdir()
    (restore / "config.json").write_text('{"kind": "prodgen-restore", "version": 2}')
    fails(monkeypatch, capsys, "generate", restore, "--out", tmp_path / "g", words=("restoration model", "enhance"))
    pn = tmp_path / "pn"
    pn.mkdir()
    (pn / "productnet.json").write_text("{}")
    fails(monkeypatch, capsys, "generate", pn, "--out", tmp_path / "g", words=("ProductNet", "--features"))
    (run_copy / "config.json").write_text('{"model": "gan"}')
    fails(monkeypatch, capsys, "generate", run_copy, "--out", tmp_path / "g", words=("not the config of a prodgen run",))
    with pytest.raises(UserError):
        check_run_folder(restore)
    assert not (tmp_path / "g").exists()


def test_vary_options_that_do_not_fit_the_source(monkeypatch, capsys, run, tmp_path, photo):
    out = tmp_path / "v.png"
    fails(monkeypatch, capsys, "vary", run, "--background", "solid:#ffffff", "--out", out, words=("--background", "is a folder"))
    fails(monkeypatch, capsys, "vary", photo, "--attr", "colour=red", "--out", out, words=("--attr", "need a run folder"))
    fails(monkeypatch, capsys, "vary", photo, "--mirror", "--out", tmp_path / "v.gif", words=(".gif", "--interpolate"))
    fails(monkeypatch, capsys, "vary", photo, "--mirror", "--out", tmp_path / "v.txt", words=("Invalid value", "--out"))
    fails(monkeypatch, capsys, "vary", photo, "--mirror", "--out", tmp_path, words=("is a folder",))
    fails(monkeypatch, capsys, "vary", run, "--image", tmp_path / "nope.png", "--attr", "colour=red", "--out", out,
          words=("--image", "not found"))
    fails(monkeypatch, capsys, "vary", run, "--interpolate", "colour=red", "colour=blu", "--out", out, words=("Did you mean blue",))
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    fails(monkeypatch, capsys, "vary", notes, "--mirror", "--out", out, words=("not a readable image",))
    assert not out.exists() and not (tmp_path / "v.gif").exists()


def test_enhance_and_other_commands_refuse_mismatched_input(monkeypatch, capsys, run, tmp_path, photo):
    out = tmp_path / "e.png"
    fails(monkeypatch, capsys, "enhance", photo, "--task", "denoise", "--mask", photo, "--out", out, words=("--mask", "inpaint"))
    fails(monkeypatch, capsys, "enhance", photo, "--task", "sharpen", "--out", out, words=("unknown --task",))
    fails(monkeypatch, capsys, "enhance", tmp_path, "--task", "denoise", "--out", out, words=("is a folder",))
    fails(monkeypatch, capsys, "enhance", photo, "--task", "denoise", "--model", run, "--out", out, words=("generator run",))
    assert not out.exists()
    fails(monkeypatch, capsys, "evaluate", run, "--split", "holdout", words=("--split", "test"))
    before = tree(run)
    fails(monkeypatch, capsys, "features", "fit", "--out", run, "--epochs", "1", words=("generator run", "--out"))
    fails(monkeypatch, capsys, "train", "--resume", run, "--batch-size", "4", "--catalog", "x",
          words=("--batch-size, --catalog would be ignored", "config.json"))
    assert tree(run) == before


def test_os_errors_of_user_paths_are_reported_not_raised(monkeypatch, capsys, run, tmp_path):
    import prodgen.atomic as atomic

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "g" / "labels.csv"))

    monkeypatch.setattr(atomic.os, "replace", denied)
    fails(monkeypatch, capsys, "generate", run, "-n", "1", "--out", tmp_path / "g", "--quiet",
          words=("Permission denied", "permissions", "labels.csv"))


def test_generate_into_a_used_folder_leaves_no_stale_images(monkeypatch, capsys, run, tmp_path):
    out = tmp_path / "g"
    assert prodgen(monkeypatch, capsys, "generate", run, "-n", "3", "--out", out, "--quiet")[0] == 0
    (out / "mine.png").write_bytes(b"a file prodgen did not write")
    code, _, err = prodgen(monkeypatch, capsys, "generate", run, "-n", "1", "--out", out, "--quiet")
    assert code == 0 and "removed 2 images" in err
    assert sorted(p.name for p in out.glob("*.png")) == ["000000.png", "grid.png", "mine.png"]
    assert [r["file"] for r in csv.DictReader(open(out / "labels.csv"))] == ["000000.png"]
