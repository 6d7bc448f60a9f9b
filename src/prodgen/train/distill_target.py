"""The algebra of progressive distillation: two teacher DDIM (or flow Euler) steps -> one student target.

Progressive distillation (Salimans & Ho 2022, "Progressive Distillation for Fast
Sampling of Diffusion Models", https://arxiv.org/abs/2202.00512, Algorithm 2):
a student that samples in N DDIM steps learns to land, in one step from ``z_t``,
where the teacher lands in two DDIM steps (``t -> t' -> t''``). The target is
the clean image ``x~`` that makes the student's single DDIM step exact::

    x~ = (z_t'' - (sigma_t''/sigma_t) z_t) / (alpha_t'' - (sigma_t''/sigma_t) alpha_t)

and the loss is weighted by the paper's truncated SNR, ``max(alpha^2/sigma^2, 1)``.

The grid is the one the sampler uses: diffusers' ``DDIMScheduler`` with
``timestep_spacing="trailing"`` at N steps steps from ``t`` to ``t - T // N``
(``T`` train timesteps), and a step to below 0 ends at ``alphas_cumprod[0]``
(``set_alpha_to_one=False``). The teacher's two steps go ``t -> t - T // 2N ->
t - T // N``, so the student's one step ends where its own sampler will.

A flow-matching run (``objective=flow``: x_s = (1 - s) x0 + s e, the net predicts v = e - x0, sampled by
diffusers' ``FlowMatchEulerDiscreteScheduler``) is distilled the same way along its Euler path: the teacher takes
two Euler steps ``s -> (s + s'')/2 -> s''`` and the student's target velocity is the one whose single Euler step
lands there, ``v~ = (x_s'' - x_s) / (s'' - s)``; the loss is the plain MSE of v, as in flow-matching training. The
student's grid is its own sampler's at N steps, so it steps exactly where it learnt to.

Classifier-free guidance is distilled in the way of Meng et al. 2023 ("On
Distillation of Guided Diffusion Models", https://arxiv.org/abs/2210.03142) with
the scale fixed: the teacher's prediction is the guided one,
``v_u + w (v_c - v_u)``, so the student needs one network call per step.
"""

from __future__ import annotations

import torch


def student_grid(train_timesteps: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(timesteps, next timesteps) of a ``steps``-step trailing DDIM sampler; a next step < 0 means the end."""
    from diffusers import DDIMScheduler

    sched = DDIMScheduler(num_train_timesteps=train_timesteps, timestep_spacing="trailing")
    sched.set_timesteps(steps)
    t = sched.timesteps.long()
    return t, t - train_timesteps // steps


def alpha_sigma(alphas_cumprod: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha_t, sigma_t) as (B, 1, 1, 1); t < 0 is the end of sampling (``alphas_cumprod[0]``, as DDIM's)."""
    a = alphas_cumprod.to(t.device)[t.clamp(min=0)].float()[:, None, None, None]
    return a.sqrt(), (1 - a).sqrt()


def predict_x0(net, z: torch.Tensor, t: torch.Tensor, emb: torch.Tensor, alphas_cumprod: torch.Tensor,
               guidance: float = 1.0, null: torch.Tensor | None = None) -> torch.Tensor:
    """The clean-image estimate of a v-prediction ``net`` at ``z``, guided with scale ``guidance`` (null: the
    unconditional embedding; needed when guidance != 1)."""
    if guidance != 1.0:
        vc, vu = net.denoise(torch.cat([z, z]), torch.cat([t, t]), torch.cat([emb, null])).chunk(2)
        v = vu + guidance * (vc - vu)
    else:
        v = net.denoise(z, t, emb)
    a, s = alpha_sigma(alphas_cumprod, t)
    return a * z - s * v.float()


def ddim_step(z: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, s: torch.Tensor,
              alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """One deterministic DDIM step (eta = 0) from timestep ``t`` to ``s`` given the clean estimate ``x0``."""
    a_t, s_t = alpha_sigma(alphas_cumprod, t)
    a_s, s_s = alpha_sigma(alphas_cumprod, s)
    eps = (z - a_t * x0) / s_t
    return a_s * x0 + s_s * eps


@torch.no_grad()
def teacher_two_steps(teacher, z: torch.Tensor, t: torch.Tensor, mid: torch.Tensor, end: torch.Tensor,
                      emb: torch.Tensor, alphas_cumprod: torch.Tensor, guidance: float = 1.0,
                      null: torch.Tensor | None = None) -> torch.Tensor:
    """``z_t''``: the teacher's two DDIM steps ``t -> mid -> end``."""
    z_mid = ddim_step(z, predict_x0(teacher, z, t, emb, alphas_cumprod, guidance, null), t, mid, alphas_cumprod)
    x_mid = predict_x0(teacher, z_mid, mid, emb, alphas_cumprod, guidance, null)
    return ddim_step(z_mid, x_mid, mid, end, alphas_cumprod)


def student_target(z_t: torch.Tensor, z_end: torch.Tensor, t: torch.Tensor, end: torch.Tensor,
                   alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """``x~``: the clean image whose one DDIM step ``t -> end`` from ``z_t`` gives ``z_end`` (the paper's target)."""
    a_t, s_t = alpha_sigma(alphas_cumprod, t)
    a_e, s_e = alpha_sigma(alphas_cumprod, end)
    ratio = s_e / s_t
    return (z_end - ratio * z_t) / (a_e - ratio * a_t)


def truncated_snr_weight(alphas_cumprod: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(B,) ``max(SNR_t, 1)``: the paper's truncated-SNR weighting of the x-space loss."""
    a = alphas_cumprod.to(t.device)[t.clamp(min=0)].float()
    return (a / (1 - a)).clamp(min=1.0)


def flow_student_grid(train_timesteps: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(noise levels, next noise levels) of a ``steps``-step flow Euler sampler (diffusers', shift 1); the last
    next level is 0, the data."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=train_timesteps, shift=1.0)
    sched.set_timesteps(steps)
    s = sched.sigmas.float()
    return s[:-1], s[1:]


def flow_velocity(net, x: torch.Tensor, sigma: torch.Tensor, emb: torch.Tensor, train_timesteps: int,
                  guidance: float = 1.0, null: torch.Tensor | None = None) -> torch.Tensor:
    """The velocity e - x0 a flow ``net`` predicts at ``x`` on noise levels ``sigma`` (B,), guided with scale
    ``guidance`` (null: the unconditional embedding; needed when guidance != 1). The net sees sigma x T, as its
    sampler gives it."""
    t = sigma * train_timesteps
    if guidance != 1.0:
        vc, vu = net.denoise(torch.cat([x, x]), torch.cat([t, t]), torch.cat([emb, null])).chunk(2)
        return (vu + guidance * (vc - vu)).float()
    return net.denoise(x, t, emb).float()


def euler_step(x: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """One flow Euler step from noise level ``sigma`` to ``end`` (both (B,)) with velocity ``v``."""
    return x + (end - sigma)[:, None, None, None] * v


@torch.no_grad()
def teacher_two_euler_steps(teacher, x: torch.Tensor, sigma: torch.Tensor, end: torch.Tensor, emb: torch.Tensor,
                            train_timesteps: int, guidance: float = 1.0,
                            null: torch.Tensor | None = None) -> torch.Tensor:
    """``x_s''``: the flow teacher's two Euler steps ``sigma -> (sigma + end) / 2 -> end``."""
    mid = (sigma + end) / 2
    x_mid = euler_step(x, flow_velocity(teacher, x, sigma, emb, train_timesteps, guidance, null), sigma, mid)
    return euler_step(x_mid, flow_velocity(teacher, x_mid, mid, emb, train_timesteps, guidance, null), mid, end)


def flow_student_target(x: torch.Tensor, x_end: torch.Tensor, sigma: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``v~``: the velocity whose one Euler step ``sigma -> end`` from ``x`` gives ``x_end``."""
    return (x_end - x) / (end - sigma)[:, None, None, None]


__all__ = ["alpha_sigma", "ddim_step", "euler_step", "flow_student_grid", "flow_student_target", "flow_velocity",
           "predict_x0", "student_grid", "student_target", "teacher_two_euler_steps", "teacher_two_steps",
           "truncated_snr_weight"]
