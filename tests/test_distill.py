"""Progressive distillation (train/distill.py): the DDIM algebra (and a flow run's Euler algebra) is the sampler's, a
round closes the one-step vs two-step gap, the output folder samples with its distilled step count, seeds reproduce,
Ctrl-C keeps finished rounds."""

from __future__ import annotations

import json
import signal

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.config import ConditionConfig, DataConfig, RunConfig, TrainConfig
from prodgen.errors import UserError
from prodgen.sample import Pipeline
from prodgen.train import train
from prodgen.train.dataset import TrainingData
from prodgen.train.distill import DistillConfig, DistillRound, distill
from prodgen.train.distill_target import (ddim_step, euler_step, flow_student_grid, flow_student_target, flow_velocity,
                                         predict_x0, student_grid, teacher_two_euler_steps)


def _tiny_run(out, attributes=("category", "colour"), **model_args):
    """A tiny diffusion run on the synthetic catalog (a few training steps: the algebra does not need a good one)."""
    cfg = RunConfig(model="diffusion", model_args={"widths": [32, 64], "attention": [False, True], "steps": 3, **model_args},
                    condition=ConditionConfig(attributes=list(attributes), min_count=1),
                    data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=120),
                    train=TrainConfig(steps=2, batch_size=8, sample_every=1000, checkpoint_every=0, log_every=1))
    train(cfg, out, progress=False)
    return out


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return _tiny_run(tmp_path_factory.mktemp("distill") / "teacher")


@pytest.fixture(scope="module")
def flow_teacher(tmp_path_factory):
    """The same tiny run with the flow-matching objective (Euler sampler)."""
    return _tiny_run(tmp_path_factory.mktemp("distill-flow") / "teacher", objective="flow", sampler="euler")


def _cfg(**kw) -> DistillConfig:
    return DistillConfig(**{"steps": 2, "start_steps": 8, "iterations": 2, "batch_size": 4, "device": "cpu", **kw})


@pytest.mark.parametrize("objective", ["diffusion", "flow"])
@pytest.mark.parametrize("guidance", [1.0, 2.5])
def test_the_distillation_algebra_is_the_samplers(teacher, flow_teacher, objective, guidance):
    """Chaining distill_target's steps over the student grid reproduces the model's own sampler exactly: ddim_step
    over student_grid is `sampler="ddim"`; a flow run's euler_step with flow_velocity over flow_student_grid is
    `sampler="euler"`."""
    flow = objective == "flow"
    m = Pipeline.from_pretrained(flow_teacher if flow else teacher, device="cpu").model
    cond = torch.tensor([[1, 2], [2, 1]])
    ref = m.sample(2, cond, generator=torch.Generator().manual_seed(0), sampler="euler" if flow else "ddim", steps=4,
                   guidance=guidance)
    z = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    emb, null = m.embed_condition(cond), m.net.embed(torch.zeros_like(cond))
    grid = flow_student_grid(1000, 4) if flow else student_grid(1000, 4)
    if flow:
        assert grid[0][0] == 1.0 and grid[1][-1] == 0.0 and torch.equal(grid[0][1:], grid[1][:-1])
    for t, end in zip(*grid):
        t, end = t.expand(2), end.expand(2)
        if flow:
            z = euler_step(z, flow_velocity(m.net, z, t, emb, 1000, guidance, null), t, end)
        else:
            z = ddim_step(z, predict_x0(m.net, z, t, emb, m.alphas_cumprod, guidance, null), t, end, m.alphas_cumprod)
    assert (z.clamp(-1, 1) - ref).abs().max() < 1e-4


class FixedBatchRound(DistillRound):
    """A round that sees the same batch every step: the same images, flips, dropped rows, timesteps and noise."""

    def train_step(self):
        self.gen.manual_seed(0)
        return super().train_step()


@pytest.mark.parametrize("objective", ["diffusion", "flow"])
def test_one_round_on_a_fixed_batch_brings_one_student_step_closer_to_two_teacher_steps(teacher, flow_teacher, objective):
    """The loss is the gap between the student's one DDIM step and the guided teacher's two, times a constant per
    timestep (the student's step lands at alpha_end x + sigma_end eps(x), linear in its x estimate); a flow run's, the
    gap between the student's velocity and the one of the teacher's two Euler steps. Step 0 is the un-distilled
    student (the teacher itself); after 15 steps on the fixed batch it is well below (measured 0.048 -> 0.027 for
    the DDIM path)."""
    pipe = Pipeline.from_pretrained(flow_teacher if objective == "flow" else teacher, device="cpu")
    torch.manual_seed(0)
    x = (torch.rand(1, 3, 32, 32) * 255).round().to(torch.uint8).expand(8, -1, -1, -1).clone()
    data = TrainingData(x, torch.tensor([[1, 2]]).expand(8, -1).clone(), [str(i) for i in range(8)])
    loop = FixedBatchRound(pipe.model, pipe.net, data, 2, 2.0, _cfg(iterations=15, batch_size=8, lr=3e-4, warmup=1),
                           None, "t")
    assert loop.run(progress=False).kind == "steps"
    assert loop.losses[-1] < 0.7 * loop.losses[0], loop.losses
    assert not torch.equal(next(loop.student.parameters()), next(pipe.net.parameters()))


def test_the_distilled_folder_samples_with_its_step_count_and_reproduces(teacher, tmp_path):
    rec = distill(teacher, tmp_path / "a", _cfg(guidance=2.0), progress=False)
    assert rec["status"] == "complete" and [r["student_steps"] for r in rec["rounds"]] == [4, 2]
    assert [r["teacher_guidance"] for r in rec["rounds"]] == [2.0, 1.0]  # later teachers have guidance inside
    saved = json.loads((tmp_path / "a" / "distill.json").read_text())
    assert saved["teacher"] == str(teacher.resolve()) and saved["config"]["steps"] == 2 and len(saved["rounds"]) == 2
    pipe = Pipeline.from_pretrained(tmp_path / "a", device="cpu")
    assert (pipe.model.config.sampler, pipe.model.config.steps, pipe.model.config.guidance) == ("ddim", 2, 1.0)
    calls = []
    hook = pipe.net.unet.register_forward_hook(lambda *a: calls.append(1))
    imgs = pipe.generate({"category": "handbag"}, n=3, seed=5)
    hook.remove()
    assert imgs.shape == (3, 3, 32, 32) and len(calls) == 2  # two steps, one network call each (no guidance pass)
    distill(teacher, tmp_path / "b", _cfg(guidance=2.0), progress=False)
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    teacher_w = load_file(teacher / "ema.safetensors")
    assert any(not torch.equal(a["net." + k], v) for k, v in teacher_w.items())  # it did learn something


def test_ctrl_c_in_round_two_keeps_round_one(teacher, tmp_path, monkeypatch):
    step = DistillRound.train_step

    def interrupting(self):
        logs = step(self)
        if "round 2" in self.label:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C does: the loop finishes this step and stops
        return logs

    monkeypatch.setattr(DistillRound, "train_step", interrupting)
    rec = distill(teacher, tmp_path / "d", _cfg(iterations=3), progress=False)
    assert rec["status"] == "interrupted in round 2" and len(rec["rounds"]) == 1
    saved = json.loads((tmp_path / "d" / "distill.json").read_text())
    assert saved["status"] == "interrupted in round 2" and [r["student_steps"] for r in saved["rounds"]] == [4]
    assert Pipeline.from_pretrained(tmp_path / "d", device="cpu").model.config.steps == 4  # round 1's student


def test_cli_distils_and_bad_requests_are_user_errors(teacher, tmp_path):
    res = CliRunner().invoke(app, ["distill", str(teacher), "--steps", "2", "--start-steps", "4", "--iterations", "1",
                                   "--batch-size", "4", "--device", "cpu", "--quiet", "--out", str(tmp_path / "c")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "2-step DDIM student" in res.output and (tmp_path / "c" / "model.safetensors").exists()
    with pytest.raises(UserError, match="power of two"):
        _cfg(steps=3, start_steps=8).rounds()
    with pytest.raises(UserError, match="budget"):
        DistillConfig(iterations=None, minutes=None)
    with pytest.raises(UserError, match="teacher's folder"):
        distill(teacher, teacher, _cfg(), progress=False)
    with pytest.raises(UserError, match="already holds a run"):
        distill(teacher, tmp_path / "c", _cfg(), progress=False)


def test_overwrite_replaces_the_old_run_whole(teacher, tmp_path):
    """A stale ema.safetensors of the replaced run would be loaded instead of the student: it must go."""
    import shutil

    shutil.copytree(teacher, tmp_path / "o")
    distill(teacher, tmp_path / "o", _cfg(start_steps=4, iterations=1), overwrite=True, progress=False)
    assert not (tmp_path / "o" / "ema.safetensors").exists() and not (tmp_path / "o" / "training_state.pt").exists()
    assert Pipeline.from_pretrained(tmp_path / "o", device="cpu").model.config.steps == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.replaced")]


def test_the_flow_target_of_an_exact_straight_flow_is_its_own_velocity():
    """Known answer: for the one-point catalog x0 = c the exact velocity is (x - c) / sigma, whose Euler steps follow
    the straight path exactly; so two teacher steps land where one does, and the target is the teacher's velocity
    (c recovered at the end). A wrong sign or end level breaks it; the teacher is asked at sigma and at the midpoint."""

    class Exact(torch.nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c, self.asked = c, []

        def denoise(self, x, t, emb):
            self.asked.append(t.clone())
            return (x - self.c) / (t / 1000)[:, None, None, None]

    c = torch.rand(3, 3, 4, 4) * 2 - 1
    net = Exact(c)
    e = torch.randn(3, 3, 4, 4)
    sigma, end = torch.tensor([1.0, 0.6, 0.3]), torch.tensor([0.6, 0.3, 0.0])
    s = sigma[:, None, None, None]
    x = (1 - s) * c + s * e
    x_end = teacher_two_euler_steps(net, x, sigma, end, torch.zeros(3, 1), 1000)
    assert torch.allclose(torch.stack(net.asked), torch.tensor([[1000.0, 600.0, 300.0], [800.0, 450.0, 150.0]]))
    assert torch.allclose(x_end, (1 - end[:, None, None, None]) * c + end[:, None, None, None] * e, atol=1e-5)
    v = flow_student_target(x, x_end, sigma, end)
    assert torch.allclose(v, e - c, atol=1e-5)
    assert torch.allclose(x_end[2], c[2], atol=1e-5)


def test_a_flow_run_distils_to_an_euler_student_with_one_call_a_step(flow_teacher, tmp_path):
    rec = distill(flow_teacher, tmp_path / "f", _cfg(guidance=2.0), progress=False)
    assert rec["status"] == "complete" and rec["objective"] == "flow"
    assert [r["student_steps"] for r in rec["rounds"]] == [4, 2]
    student = Pipeline.from_pretrained(tmp_path / "f", device="cpu")
    cfg = student.model.config
    assert (cfg.objective, cfg.sampler, cfg.steps, cfg.guidance) == ("flow", "euler", 2, 1.0)
    calls = []
    hook = student.net.unet.register_forward_hook(lambda *a: calls.append(1))
    imgs = student.generate({"category": "handbag"}, n=3, seed=5)
    hook.remove()
    assert imgs.shape == (3, 3, 32, 32) and len(calls) == 2
    res = CliRunner().invoke(app, ["distill", str(flow_teacher), "--steps", "2", "--start-steps", "4", "--iterations",
                                   "1", "--batch-size", "4", "--device", "cpu", "--quiet", "--out", str(tmp_path / "g")],
                             catch_exceptions=False)
    assert res.exit_code == 0 and "2-step Euler student" in res.output, res.output


def test_an_edm_run_is_refused_with_the_way_out(tmp_path):
    run = _tiny_run(tmp_path / "edm", attributes=("category",), objective="edm", sampler="euler")
    with pytest.raises(UserError, match="EDM run.*fewer --steps"):
        distill(run, tmp_path / "d", _cfg(), progress=False)
