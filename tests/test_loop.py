"""The shared training loop (train/loop.py) on a toy model, the progress helper, metrics.jsonl after a crash,
file modes of atomic writes and run-folder kinds."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest
import torch
from rich.console import Console

from prodgen.atomic import write_bytes, write_json
from prodgen.config import RunConfig
from prodgen.errors import TrainingDiverged, UserError
from prodgen.progress import format_seconds, progress_bar
from prodgen.runfolder import read_kind, require_kind
from prodgen.train.checkpoint import load_training_state
from prodgen.train.loop import TrainLoop
from prodgen.train.metrics_log import MetricsLog, read_metrics


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Toy(TrainLoop):
    """Fits w to 3 with noisy SGD; every step takes ``step_seconds`` on a fake clock."""

    label = "toy"

    def __init__(self, run_dir, clock: FakeClock | None = None, step_seconds: float = 1.0, **kw) -> None:
        super().__init__(run_dir, **kw)
        self.w = torch.zeros(())
        self.fake = clock
        if clock is not None:
            self.clock = clock
        self.step_seconds = step_seconds
        self.saved_at: list[int] = []
        self.after: list[int] = []
        self.stopped = None
        self.poison_at: int | None = None

    def train_step(self) -> dict[str, float]:
        if self.fake is not None:
            self.fake.t += self.step_seconds
        loss = (self.w - 3) ** 2 + torch.randn(()) * 0.01
        if self.poison_at is not None and self.step + 1 >= self.poison_at:
            loss = loss * float("inf")
        self.check_finite(loss, "toy loss")
        self.w = self.w - 0.1 * 2 * (self.w - 3) + torch.randn(()) * 0.01
        return {"loss": float(loss)}

    def state(self) -> dict:
        return {"w": self.w}

    def load_state(self, state: dict) -> None:
        self.w = state["w"]

    def save_checkpoint(self) -> None:
        self.saved_at.append(self.step)
        super().save_checkpoint()

    def after_step(self, step, logs) -> None:
        self.after.append(step)

    def on_stop(self, reason) -> None:
        self.stopped = reason


def test_steps_budget_metrics_checkpoints_and_hooks(tmp_path):
    t = Toy(tmp_path, steps=10, log_every=3, checkpoint_every=4, checkpoint_minutes=None)
    torch.manual_seed(0)
    reason = t.run(progress=False)
    assert (reason.kind, reason.step) == ("steps", 10) and t.stopped == reason
    assert t.after == list(range(1, 11))
    assert t.saved_at == [4, 8, 10]  # every 4 steps and at the end
    recs = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in recs] == [3, 6, 9, 10] and recs[-1]["event"] == "stop:steps"
    assert all(isinstance(r["loss"], float) for r in recs[:-1]) and "images_per_s" not in recs[0]
    state = load_training_state(tmp_path)
    assert state["step"] == 10 and torch.equal(state["w"], t.w) and "rng" in state
    again = Toy(tmp_path, steps=10)
    again.resume()
    assert again.run(progress=False) == type(reason)("steps", 10)  # a resumed run stops at its total at once
    assert again.saved_at == []


def test_resume_is_exact_and_drops_later_metrics(tmp_path):
    torch.manual_seed(0)
    full = Toy(tmp_path / "full", steps=8, log_every=1)
    full.run(progress=False)
    torch.manual_seed(0)
    half = Toy(tmp_path / "half", steps=4, log_every=1)
    half.run(progress=False)
    MetricsLog(tmp_path / "half" / "metrics.jsonl").write({"step": 5, "loss": 0.0})  # written after the checkpoint
    resumed = Toy(tmp_path / "half", steps=8, log_every=1)
    torch.manual_seed(123)  # the RNG comes from the checkpoint
    resumed.resume()
    resumed.run(progress=False)
    assert torch.equal(resumed.w, full.w)
    steps = [r["step"] for r in read_metrics(tmp_path / "half" / "metrics.jsonl") if "event" not in r]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]


def test_checkpoints_by_wall_time_as_well_as_steps(tmp_path):
    """A run killed before its first step checkpoint still has one every checkpoint_minutes."""
    clock = FakeClock()
    t = Toy(tmp_path, clock=clock, step_seconds=50, steps=20, checkpoint_every=1000, checkpoint_minutes=5)
    t.run(progress=False)
    assert t.saved_at == [6, 12, 18, 20]  # 300 s / 50 s a step, and the end
    off = Toy(tmp_path / "off", clock=FakeClock(), step_seconds=50, steps=20, checkpoint_every=1000, checkpoint_minutes=0)
    off.run(progress=False)
    assert off.saved_at == [20]


def test_minutes_budget_excludes_paused_time(tmp_path):
    clock = FakeClock()

    class Evaluating(Toy):
        def after_step(self, step, logs):
            with self.paused():
                clock.t += 100  # a slow evaluation

    t = Evaluating(tmp_path, clock=clock, step_seconds=10, minutes=1, log_every=1, checkpoint_minutes=None)
    t.images_per_step = 4
    start = clock.t
    reason = t.run(progress=False)
    assert (reason.kind, reason.step) == ("minutes", 6)  # 6 x 10 s of training; the 600 s of evaluation do not count
    assert t.elapsed == pytest.approx(60) and clock.t - start == pytest.approx(660)
    recs = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "images_per_s" in r]
    assert all(r["images_per_s"] == pytest.approx(0.4) for r in recs)  # 4 images per 10 training seconds
    assert t.fraction_done() == 1.0


def test_non_finite_loss_raises_and_keeps_the_last_checkpoint(tmp_path):
    t = Toy(tmp_path, steps=10, checkpoint_every=3, checkpoint_minutes=None)
    t.poison_at = 5
    with pytest.raises(TrainingDiverged) as e:
        t.run(progress=False)
    msg = str(e.value)
    assert "toy loss became inf at step 5" in msg and str(tmp_path) in msg and "last good checkpoint" in msg
    assert "resume with `prodgen train --resume" in msg and "lower the learning rate" in msg
    assert load_training_state(tmp_path)["step"] == 3 and t.saved_at == [3]
    assert read_metrics(tmp_path / "metrics.jsonl")[-1]["event"] == "stop:diverged"
    mem = Toy(None, steps=3)
    mem.poison_at = 1
    with pytest.raises(TrainingDiverged, match="unstable"):
        mem.run(progress=False)


def test_request_stop_and_budget_errors(tmp_path):
    t = Toy(tmp_path, steps=100)
    t.after_step = lambda step, logs: t.request_stop() if step == 2 else None
    reason = t.run(progress=False)
    assert (reason.kind, reason.step) == ("interrupted", 2) and load_training_state(tmp_path)["step"] == 2
    with pytest.raises(UserError, match="budget"):
        Toy(tmp_path / "x").run(progress=False)
    mem = Toy(None, steps=3)
    assert mem.run(progress=False).step == 3 and mem.log is None


# -- progress ---------------------------------------------------------------------------------------------------


def test_progress_plain_lines_when_not_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    clock = FakeClock()
    with progress_bar("train", 100, unit="step", console=console, interval_s=10, clock=clock) as bar:
        for i in range(1, 101):
            clock.t += 0.5  # 50 s in all: a line at once, then every 10 s, and the last state
            bar.update(i, info=f"g={i / 100:.2f}")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "train: step 1/100 (1.0%) elapsed 0:00:00 ETA 0:00:50 g=0.01"
    assert lines[1].startswith("train: step 21/100 (21.0%) elapsed 0:00:10 ETA 0:00:40")
    assert lines[-1] == "train: step 100/100 (100.0%) elapsed 0:00:50 ETA 0:00:00 g=1.00"
    assert [ln.split()[2] for ln in lines] == ["1/100", "21/100", "41/100", "61/100", "81/100", "100/100"]
    assert "\x1b" not in buf.getvalue()


def test_progress_fraction_budget_and_no_total():
    buf = io.StringIO()
    clock = FakeClock()
    with progress_bar("fit", None, unit="step", console=Console(file=buf, width=200), clock=clock) as bar:
        clock.t += 30
        bar.update(7, fraction=0.25)  # a minutes budget: a quarter used
    assert buf.getvalue().splitlines()[0] == "fit: step 7 (25.0%) elapsed 0:00:30 ETA 0:01:30"
    buf2 = io.StringIO()
    with progress_bar("scan", console=Console(file=buf2, width=200), clock=clock) as bar:
        bar.advance(3)
    assert buf2.getvalue().splitlines()[0] == "scan: 3 elapsed 0:00:00"
    buf3 = io.StringIO()
    with progress_bar("off", 10, console=Console(file=buf3), enabled=False) as bar:
        bar.update(5)
    assert buf3.getvalue() == ""
    assert format_seconds(3725) == "1:02:05" and format_seconds(None) == "-:--:--"


def test_progress_bar_with_eta_on_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with progress_bar("generate", 8, console=console) as bar:
        for _ in range(8):
            bar.advance(1)
    out = buf.getvalue()
    assert "generate" in out and "8/8" in out and "ETA" in out and "━" in out  # rich's bar, not plain lines
    assert "(100.0%)" not in out


def test_the_train_loop_prints_progress_lines_in_logs(tmp_path):
    buf = io.StringIO()
    t = Toy(tmp_path, clock=FakeClock(), step_seconds=4, steps=10, console=Console(file=buf, width=200))
    t.run(progress=True)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("toy: step 1/10 (10.0%) elapsed 0:00:04 ETA 0:00:36 loss=")
    assert lines[-1].startswith("toy: step 10/10 (100.0%) elapsed 0:00:40 ETA 0:00:00 loss=")


# -- metrics.jsonl after a crash ------------------------------------------------------------------------------


def test_truncate_after_drops_a_line_cut_by_a_crash(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step":1,"loss":0.5}\n{"step":2,"loss":0.4}\n{"step":3,"lo')
    log = MetricsLog(path)
    with pytest.warns(RuntimeWarning, match="dropped its last line, cut by a crash"):
        log.truncate_after(2)
    assert path.read_text() == '{"step":1,"loss":0.5}\n{"step":2,"loss":0.4}\n'
    log.write({"step": 3, "loss": 0.3})
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3]


def test_write_after_a_cut_line_starts_a_new_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step":1}\n{"step":2,"lo')
    MetricsLog(path).write({"step": 2, "loss": 1.0})
    assert read_metrics(path) == [{"step": 1}, {"step": 2, "loss": 1.0}]
    path.write_text('{"step":1}\nnot json\n[1]\n{"step":2}\n')
    with pytest.warns(RuntimeWarning, match=r"unreadable line\(s\) \[2, 3\]"):
        MetricsLog(path).truncate_after(5)
    assert read_metrics(path) == [{"step": 1}, {"step": 2}]


# -- file modes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        write_bytes(tmp_path / "a.bin", b"x")
        write_json(tmp_path / "b.json", {"a": 1})
        write_bytes(tmp_path / "secret.key", b"k", private=True)
        plain = open(tmp_path / "plain.txt", "w")  # what open() gives, for comparison
        plain.close()
    finally:
        os.umask(old)
    mode = lambda name: stat.S_IMODE((tmp_path / name).stat().st_mode)  # noqa: E731
    assert mode("a.bin") == mode("b.json") == mode("plain.txt") == expected
    assert mode("secret.key") == 0o600


def test_training_files_are_readable_by_the_group_with_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        Toy(tmp_path, steps=2).run(progress=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "training_state.pt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "metrics.jsonl").stat().st_mode) == 0o644


# -- run-folder kinds ---------------------------------------------------------------------------------------------


def test_run_folder_kinds(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    RunConfig().save(gen / "config.json")
    assert json.loads((gen / "config.json").read_text())["kind"] == "generator"
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    d = RunConfig().to_dict()
    del d["kind"]
    (legacy / "config.json").write_text(json.dumps(d))
    assert read_kind(legacy) == "generator" and RunConfig.load(legacy / "config.json").kind == "generator"
    restore = tmp_path / "restore"
    restore.mkdir()
    (restore / "config.json").write_text(json.dumps({"kind": "prodgen-restore", "tasks": ["denoise"]}))
    assert read_kind(restore) == "restoration"
    old_pn = tmp_path / "old_pn"
    old_pn.mkdir()
    (old_pn / "productnet.json").write_text("{}")
    assert read_kind(old_pn) == "productnet"
    with pytest.raises(UserError, match=r"holds a ProductNet .*but prodgen generate needs a generator run.*--features"):
        require_kind(old_pn, "generator", "prodgen generate")
    with pytest.raises(UserError, match=r"restoration model.*prodgen generate needs a generator run.*prodgen enhance"):
        require_kind(restore, "generator", "prodgen generate")
    with pytest.raises(UserError, match="holds a restoration model"):
        RunConfig.load(restore / "config.json")
    with pytest.raises(UserError, match="holds a ProductNet"):
        RunConfig.load(old_pn / "config.json")
    require_kind(gen, "generator", "prodgen generate")
    with pytest.raises(UserError, match="not a prodgen run folder"):
        read_kind(tmp_path)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text('{"kind": "spaceship"}')
    with pytest.raises(UserError, match="kind 'spaceship'"):
        read_kind(tmp_path / "odd")
