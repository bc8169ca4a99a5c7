"""Every grader passes correct variants and names each common mistake (at least 10 each).

The correct variants are written independently of the package where they can be (with
torch.distributions, other noise draws, other reshapes, tuples, named tuples, dicts);
each wrong variant must FAIL with the line that names its mistake. Every grader also
survives code that raises, returns nothing, numpy, a wrong type or NaN.

Two things a student sees are reviewed text, kept as syrupy snapshots in
`__snapshots__/test_graders.ambr`: the whole verdict of every case (wording, descriptions,
equation labels) and the inputs each grader hands the reader's function (they were chosen
so that each mistake gives its own number). A change to either fails until it is reviewed
and accepted with `pytest tests/test_graders.py --snapshot-update`.
"""

from __future__ import annotations

import copy
import math
import re
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

from vae_tutorial import calc_elbo
from vae_tutorial.course import graders as g
from vae_tutorial.course.checking import StudentError, call_on_model
from vae_tutorial.sampling import slerp as reference_slerp

Terms = namedtuple("Terms", "elbo recon_ll kl")
PASS = None


# ---------------------------------------------------------------------------- chapter 2


def posterior(m, x):
    var = 1.0 / (1.0 + m.w**2 / m.sigma**2)
    return var * m.w * (x - m.b) / m.sigma**2, var


def posterior_by_completing_the_square(m, x):
    precision = torch.tensor(1.0) + m.w**2 / m.sigma**2
    return torch.tensor(m.w * (x - m.b) / m.sigma**2) / precision, 1 / precision


def toy_recon(m, x, mean, s2):
    """E_q[log N(x; w z + b, sigma^2)] for q = N(mean, s2), written here, not the package's."""
    return -0.5 * (
        math.log(2 * math.pi * m.sigma**2)
        + ((x - m.b - m.w * mean) ** 2 + m.w**2 * s2) / m.sigma**2
    )


def toy_kl(mean, s2):
    return 0.5 * (mean**2 + s2 - math.log(s2) - 1)


def toy_log_marginal(m, x):
    var = m.w**2 + m.sigma**2
    return -0.5 * (math.log(2 * math.pi * var) + (x - m.b) ** 2 / var)


def toy_elbo(m, x, mean, s2):
    return toy_recon(m, x, mean, s2) - toy_kl(mean, s2)


def toy_elbo_monte_carlo_free_with_distributions(m, x, mean, s2):
    q, prior = Normal(torch.tensor(mean), torch.tensor(s2).sqrt()), Normal(0.0, 1.0)
    recon = -0.5 * (
        math.log(2 * math.pi * m.sigma**2)
        + ((x - m.b - m.w * mean) ** 2 + m.w**2 * s2) / m.sigma**2
    )
    return np.float64(recon - kl_divergence(q, prior).item())


def _float32(*values):
    """The values as float32 tensors: a student's torch code, rounded to 7 digits."""
    return tuple(torch.tensor(v, dtype=torch.float32) for v in values)


POSTERIOR = [
    (posterior, PASS),
    (posterior_by_completing_the_square, PASS),
    (lambda m, x: {"mean": posterior(m, x)[0], "var": posterior(m, x)[1]}, PASS),
    (lambda m, x: (posterior(m, x)[0], 1 / posterior(m, x)[1]), "the precision"),
    (lambda m, x: (posterior(m, x)[1] * m.w * x / m.sigma**2, posterior(m, x)[1]), "offset b"),
    (lambda m, x: (posterior(m, x)[0], 1 / (1 + m.w**2 / m.sigma)), "variance* σ²"),
    (lambda m, x: (posterior(m, x)[0] * 2, posterior(m, x)[1]), "the mean does not match"),
    (lambda m, x: (posterior(m, x)[0], 0.9 * posterior(m, x)[1]), "the variance does not match"),
    (lambda m, x: posterior(m, x)[0], "must return 2 values"),
    (lambda m, x: (float("nan"), 1.0), "not a finite number"),
    (lambda m, x: (torch.zeros(2), 1.0), "must be one number"),
    # float32 answers: the mistakes are still named (rounding is not a mistake)
    (lambda m, x: _float32(posterior(m, x)[0], 1 + m.w**2 / m.sigma**2), "the precision"),
    (lambda m, x: _float32(posterior(m, x)[0], 1 / (1 + m.w**2 / m.sigma)), "variance* σ²"),
    (
        lambda m, x: _float32(posterior(m, x)[1] * m.w * x / m.sigma**2, posterior(m, x)[1]),
        "offset b",
    ),
    (lambda m, x: (posterior(m, x)[0], torch.ones(2)), "must be one number"),
]

ELBO_TOY = [
    (toy_elbo, PASS),
    (toy_elbo_monte_carlo_free_with_distributions, PASS),
    (lambda m, x, mean, s2: torch.tensor(m.elbo(x, mean, s2)), "the package's vae_tutorial.toy"),
    (lambda m, x, mean, s2: toy_recon(m, x, mean, s2) + toy_kl(mean, s2), "you added the KL"),
    (
        lambda m, x, mean, s2: (
            toy_elbo(m, x, mean, 0.0 + 1e-300)
            - 0.5 * (s2 - math.log(s2))
            + 0.5 * (1e-300 - math.log(1e-300))
        ),
        "w² s2 term is missing",
    ),
    (lambda m, x, mean, s2: toy_recon(m, x, mean, s2) - toy_kl(mean, s2**2), "s2 is a variance"),
    (lambda m, x, mean, s2: toy_log_marginal(m, x), "that is log p(x)"),
    (lambda m, x, mean, s2: toy_recon(m, x, mean, s2), "does not match"),
    (lambda m, x, mean, s2: [toy_elbo(m, x, mean, s2)], "must be a number"),
    (lambda m, x, mean, s2: 1 / 0, "ZeroDivisionError"),
    (
        lambda m, x, mean, s2: _float32(toy_recon(m, x, mean, s2) + toy_kl(mean, s2))[0],
        "you added the KL",
    ),
]


# ---------------------------------------------------------------------------- chapter 3


def kl_closed_form(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)


def kl_with_distributions(mu, logvar):
    q = Normal(mu, torch.exp(0.5 * logvar))
    return kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)


def kl_via_einsum(mu, logvar):
    var = torch.exp(logvar)
    return 0.5 * torch.einsum("bd->b", mu * mu + var - logvar - 1)


KL = [
    (kl_closed_form, PASS),
    (kl_with_distributions, PASS),
    (kl_via_einsum, PASS),
    (lambda mu, lv: -kl_closed_form(mu, lv), "wrong sign"),
    (lambda mu, lv: kl_closed_form(mu, lv) / mu.shape[1], "do not average them"),
    (lambda mu, lv: 2 * kl_closed_form(mu, lv), "factor 1/2"),
    (lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 2 * lv - 1).sum(1), "not log σ"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(1), "'− 1'"),
    (lambda mu, lv: kl_closed_form(mu, lv).sum(), "expected (5,)"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1), "expected (5,)"),
    (lambda mu, lv: kl_closed_form(mu, lv) * float("nan"), "NaN"),
    (lambda mu, lv: kl_closed_form(mu, lv).numpy(), "numpy"),
    (lambda mu, lv: 1.1 * kl_closed_form(mu, lv), "the KL does not match"),
]


def reparam(mu, logvar):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


REPARAM = [
    (reparam, PASS),
    (lambda mu, lv: Normal(mu, torch.exp(0.5 * lv)).rsample(), PASS),
    (lambda mu, lv: mu + torch.sqrt(lv.exp()) * torch.randn(mu.shape[1], mu.shape[0]).T, PASS),
    (lambda mu, lv: mu + torch.exp(lv) * torch.randn_like(mu), "exp(logvar) is the variance"),
    (lambda mu, lv: mu + 0 * lv, "z = mu"),
    (lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.randn(mu.shape[1]), "same noise"),
    (lambda mu, lv: torch.normal(mu, torch.exp(0.5 * lv)), "dz/dmu"),
    (lambda mu, lv: reparam(mu, lv).detach(), "no gradient"),
    (lambda mu, lv: mu.detach() + torch.exp(0.5 * lv) * torch.randn_like(mu), "dz/dmu"),
    (lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.rand_like(mu), "does not follow"),
    (lambda mu, lv: reparam(mu, lv)[:10], "has shape (10, 3)"),
    (lambda mu, lv: None, "not finished yet"),
    (lambda mu, lv: mu + 0.1 * torch.randn_like(mu), "does not follow"),
]


# ---------------------------------------------------------------------------- chapter 4


def _terms(model, x, z, mean_pixels=False):
    bce = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none")
    recon = -(bce.mean((1, 2, 3)) if mean_pixels else bce.sum((1, 2, 3)))
    mu, logvar = model.encode(x)
    return recon, kl_closed_form(mu, logvar)


def elbo_correct(model, x):
    mu, logvar = model.encode(x)
    recon, kl = _terms(model, x, reparam(mu, logvar))
    return recon - kl, recon, kl


def elbo_with_distributions(model, x):
    mu, logvar = model.encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = q.rsample()  # (B, D)
    recon = Bernoulli(logits=model.decode(z)).log_prob(x).flatten(1).sum(1)
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum(1)
    return Terms(recon - kl, recon, kl)


def elbo_via_forward_and_dict(model, x):
    logits, mu, logvar = model(x)
    recon = -F.binary_cross_entropy_with_logits(
        logits.view(len(x), -1), x.view(len(x), -1), reduction="none"
    ).sum(-1)
    kl = kl_closed_form(mu, logvar)
    return {"elbo": recon - kl, "recon_ll": recon, "kl": kl}


def elbo_two_samples(model, x):
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(2, *mu.shape)  # (2, B, D)
    bce = F.binary_cross_entropy_with_logits(
        model.decode(z), x.expand(2, *x.shape), reduction="none"
    )
    recon = -bce.flatten(2).sum(-1).mean(0)
    kl = kl_closed_form(mu, logvar)
    return recon - kl, recon, kl


def elbo_z_is_mu(model, x):
    mu, _ = model.encode(x)
    recon, kl = _terms(model, x, mu)
    return recon - kl, recon, kl


def elbo_exp_logvar_as_sigma(model, x):
    mu, logvar = model.encode(x)
    recon, kl = _terms(model, x, mu + torch.exp(logvar) * torch.randn_like(mu))
    return recon - kl, recon, kl


def elbo_kl_sign(model, x):
    recon, kl = elbo_correct(model, x)[1:]
    return recon + kl, recon, -kl


def elbo_mean_over_pixels(model, x):
    mu, logvar = model.encode(x)
    recon, kl = _terms(model, x, reparam(mu, logvar), mean_pixels=True)
    return recon - kl, recon, kl


def elbo_log_of_sigmoid(model, x):
    mu, logvar = model.encode(x)
    p = torch.sigmoid(model.decode(reparam(mu, logvar)))
    recon = (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum((1, 2, 3))
    kl = kl_closed_form(mu, logvar)
    return recon - kl, recon, kl


def elbo_torch_normal(model, x):
    mu, logvar = model.encode(x)
    recon, kl = _terms(model, x, torch.normal(mu, torch.exp(0.5 * logvar)).detach())
    return recon - kl, recon, kl


def elbo_batch_mean(model, x):
    return tuple(t.mean() for t in elbo_correct(model, x))


def elbo_kl_added(model, x):
    recon, kl = elbo_correct(model, x)[1:]
    return recon + kl, recon, kl


def _with_kl(kl_of):
    def calc(model, x):
        mu, logvar = model.encode(x)
        recon = _terms(model, x, reparam(mu, logvar))[0]
        kl = kl_of(mu, logvar)
        return recon - kl, recon, kl

    return calc


def elbo_half_exp_logvar_as_sigma(model, x):
    mu, logvar = model.encode(x)
    recon, kl = _terms(model, x, mu + 0.5 * torch.exp(logvar) * torch.randn_like(mu))
    return recon - kl, recon, kl


def elbo_torch_normal_kept(model, x):
    mu, logvar = model.encode(x)
    recon, kl = _terms(model, x, torch.normal(mu, torch.exp(0.5 * logvar)))
    return recon - kl, recon, kl


def elbo_without_kl(model, x):
    recon, kl = elbo_correct(model, x)[1:]
    return recon, recon, kl


def elbo_recon_placeholder(model, x):
    mu, logvar = model.encode(x)
    recon, kl = torch.zeros(len(x)), kl_closed_form(mu, logvar)  # the KL first, recon later
    return recon - kl, recon, kl


def elbo_squared_error(model, x):
    mu, logvar = model.encode(x)
    x_hat = torch.sigmoid(model.decode(reparam(mu, logvar)))
    recon = -F.mse_loss(x_hat, x, reduction="none").sum((1, 2, 3))
    kl = kl_closed_form(mu, logvar)
    return recon - kl, recon, kl


def elbo_bce_as_recon(model, x):
    mu, logvar = model.encode(x)
    recon = -_terms(model, x, reparam(mu, logvar))[0]  # the BCE itself
    kl = kl_closed_form(mu, logvar)
    return recon - kl, recon, kl


def elbo_no_grad(model, x):
    with torch.no_grad():
        return elbo_correct(model, x)


def elbo_changes_the_model(model, x):
    with torch.no_grad():
        model.fc_mu.weight.zero_()
    return elbo_correct(model, x)


CALC_ELBO = [
    (lambda m, x: calc_elbo(m, x), "calls the package's vae_tutorial.elbo.calc_elbo"),
    (elbo_correct, PASS),
    (elbo_with_distributions, PASS),
    (elbo_via_forward_and_dict, PASS),
    (elbo_two_samples, PASS),
    (elbo_z_is_mu, "z = mu"),
    (elbo_exp_logvar_as_sigma, "exp(logvar) is the variance"),
    (elbo_kl_sign, "wrong sign"),
    (elbo_mean_over_pixels, "784 pixels"),
    (elbo_log_of_sigmoid, "never as log(sigmoid(logits))"),
    (elbo_torch_normal, "reparameterization trick"),
    (elbo_batch_mean, "expected (8,)"),
    (elbo_changes_the_model, "changed the model's parameters"),
    (lambda m, x: tuple(t.detach().numpy() for t in elbo_correct(m, x)), "numpy"),
    (elbo_kl_added, "you added the KL"),
    (_with_kl(lambda mu, lv: kl_closed_form(mu, lv) / mu.shape[1]), "instead of averaging"),
    (_with_kl(lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 2 * lv - 1).sum(1)), "not log σ"),
    (_with_kl(lambda mu, lv: 2 * kl_closed_form(mu, lv)), "closed form of eq. `kl-gauss`"),
    (elbo_half_exp_logvar_as_sigma, "z must be a draw from q(z|x)"),
    (elbo_torch_normal_kept, "no gradient reaches"),
    (elbo_no_grad, "under torch.no_grad()"),
    (elbo_without_kl, "elbo must equal recon_ll − kl"),
    (elbo_recon_placeholder, "decode a z"),
    (elbo_squared_error, "does not match the Bernoulli log-likelihood"),
    (elbo_bce_as_recon, "the sign is flipped"),
]


def sample_correct(model, n):
    return torch.sigmoid(model.decode(torch.randn(n, model.latent_dim)))


SAMPLE = [
    (sample_correct, PASS),
    (
        lambda m, n: Bernoulli(logits=m.decode(Normal(0.0, 1.0).sample((n, m.latent_dim)))).mean,
        PASS,
    ),
    (lambda m, n: torch.sigmoid(m.decode(torch.randn(n * m.latent_dim).view(n, -1))), PASS),
    (
        lambda m, n: torch.sigmoid(m.decode(reparam(*m.encode(torch.rand(n, 1, 28, 28))))),
        "not from q(z|x)",
    ),
    (lambda m, n: m.decode(torch.randn(n, m.latent_dim)), "apply torch.sigmoid"),
    (lambda m, n: torch.sigmoid(m.decode(torch.rand(n, m.latent_dim))), "prior N(0, I)"),
    (lambda m, n: torch.bernoulli(sample_correct(m, n)), "not binary draws"),
    (lambda m, n: sample_correct(m, n).view(n, 784), "expected (4000, 1, 28, 28)"),
    (lambda m, n: torch.rand(n, 1, 28, 28), "decode z"),
    (lambda m, n: sample_correct(m, n).numpy(), "numpy"),
    (lambda m, n: torch.sigmoid(m.decode(0.7 * torch.randn(n, m.latent_dim))), "prior N(0, I)"),
]


# ---------------------------------------------------------------------------- chapter 5


def step_correct(model, optimizer, x):
    loss = -calc_elbo(model, x).elbo.mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_own_terms(model, optimizer, x):
    elbo = elbo_correct(model, x)[0]
    optimizer.zero_grad(set_to_none=True)
    loss = -elbo.sum() / len(x)
    loss.backward()
    optimizer.step()
    return loss


def step_zero_grad_after(model, optimizer, x):
    loss = torch.mean(-elbo_correct(model, x)[0])
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.detach()


def _step(model, optimizer, x, sign=1.0, reduce=torch.mean, zero=True, step=True):
    loss = sign * -reduce(calc_elbo(model, x).elbo)
    if zero:
        optimizer.zero_grad()
    loss.backward()
    if step:
        optimizer.step()
    return loss.item()


def step_loss_after_update(model, optimizer, x):
    _step(model, optimizer, x)
    return -calc_elbo(model, x).elbo.mean().item()


def step_on_the_sum_returning_the_mean(model, optimizer, x):
    return _step(model, optimizer, x, reduce=torch.sum) / len(x)


def step_on_the_mean_returning_the_sum(model, optimizer, x):
    return _step(model, optimizer, x) * len(x)


def step_with_own_adam(model, optimizer, x):
    return _step(model, torch.optim.Adam(model.parameters(), lr=1e-3), x)


def step_with_gradient_clipping(model, optimizer, x):
    """Clipping the gradient's norm to 25 shortens this step by a sixth: not the step asked."""
    loss = -calc_elbo(model, x).elbo.mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=25.0)
    optimizer.step()
    return loss.item()


TRAIN_STEP = [
    (step_correct, PASS),
    (step_own_terms, PASS),
    (step_zero_grad_after, PASS),
    (lambda m, o, x: _step(m, o, x, zero=False), "zero_grad"),
    (lambda m, o, x: _step(m, o, x, step=False), "optimizer.step()"),
    (lambda m, o, x: _step(m, o, x, sign=-1.0), "minimize the negative ELBO"),
    (lambda m, o, x: _step(m, o, x, reduce=torch.sum), "do not sum"),
    (step_loss_after_update, "before the update"),
    (step_with_own_adam, "update differs"),
    (lambda m, o, x: [_step(m, o, x)], "must be a number"),
    (lambda m, o, x: float("nan"), "not a finite number"),
    (step_with_gradient_clipping, "update differs"),
    (step_on_the_sum_returning_the_mean, "do not sum"),
    (step_on_the_mean_returning_the_sum, "do not sum"),
]


# ---------------------------------------------------------------------------- chapter 6


def recon_correct(model, x):
    mu, _ = model.encode(x)
    return torch.sigmoid(model.decode(mu))


RECONSTRUCT = [
    (recon_correct, PASS),
    (lambda m, x: Bernoulli(logits=m.decode(m.posterior(x).mu)).probs, PASS),
    (lambda m, x: torch.sigmoid(m(x)[0] * 0 + m.decode(m.encode(x)[0])), PASS),
    (lambda m, x: m.decode(m.encode(x)[0]), "apply torch.sigmoid"),
    (lambda m, x: torch.sigmoid(m.decode(reparam(*m.encode(x)))), "not a draw"),
    (lambda m, x: torch.sigmoid(m(x)[0]), "not a draw"),
    (lambda m, x: torch.bernoulli(recon_correct(m, x)), "not binary draws"),
    (lambda m, x: recon_correct(m, x).flatten(1), "expected (8, 1, 28, 28)"),
    (
        lambda m, x: torch.sigmoid(m.decode(torch.zeros(len(x), m.latent_dim))),
        "sigmoid(decode(mu))",
    ),
    (lambda m, x: recon_correct(m, x) * float("nan"), "NaN"),
]


# ---------------------------------------------------------------------------- chapter 7


def slerp_correct(z_a, z_b, t):
    cos = (z_a @ z_b) / (z_a.norm() * z_b.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    if torch.sin(omega).abs() < 1e-4:
        return (1 - t)[:, None] * z_a + t[:, None] * z_b
    w_a = torch.sin((1 - t) * omega) / torch.sin(omega)  # (T,)
    w_b = torch.sin(t * omega) / torch.sin(omega)
    return w_a.unsqueeze(1) * z_a + w_b.unsqueeze(1) * z_b


def slerp_loop(z_a, z_b, t):
    return torch.stack([slerp_correct(z_a, z_b, ti.view(1))[0] for ti in t])


def slerp_no_fallback(z_a, z_b, t):
    omega = torch.arccos(((z_a @ z_b) / (z_a.norm() * z_b.norm())).clamp(-1, 1))
    return (
        torch.sin((1 - t) * omega)[:, None] * z_a + torch.sin(t * omega)[:, None] * z_b
    ) / torch.sin(omega)


def slerp_unnormalized_angle(z_a, z_b, t):
    omega = torch.arccos(z_a @ z_b)
    return (
        torch.sin((1 - t) * omega)[:, None] * z_a + torch.sin(t * omega)[:, None] * z_b
    ) / torch.sin(omega)


def slerp_refusing_parallel_codes(z_a, z_b, t):
    if torch.cosine_similarity(z_a, z_b, dim=0) > 0.9999:
        raise ValueError("z_a and z_b are parallel")
    return slerp_correct(z_a, z_b, t)


def slerp_with_a_transposed_fallback(z_a, z_b, t):
    if torch.cosine_similarity(z_a, z_b, dim=0) > 0.9999:
        return (1 - t) * z_a[:, None] + t * z_b[:, None]  # (D, T): the fallback's shape
    return slerp_correct(z_a, z_b, t)


def slerp_with_a_swapped_fallback(z_a, z_b, t):
    if torch.cosine_similarity(z_a, z_b, dim=0) > 0.9999:
        return (1 - t)[:, None] * z_b + t[:, None] * z_a
    return slerp_correct(z_a, z_b, t)


SLERP = [
    (slerp_correct, PASS),
    (reference_slerp, "calls the package's vae_tutorial.sampling.slerp"),
    (slerp_loop, PASS),
    (lambda a, b, t: (1 - t)[:, None] * a + t[:, None] * b, "straight line"),
    (lambda a, b, t: slerp_correct(a, b, 1 - t), "swapped"),
    (lambda a, b, t: slerp_correct(a / a.norm(), b / b.norm(), t), "unit vectors"),
    (slerp_no_fallback, "parallel"),
    (slerp_unnormalized_angle, "NaN"),
    (lambda a, b, t: slerp_correct(a, b, t).T, "expected (6, 5)"),
    (lambda a, b, t: slerp_correct(a, b, t).numpy(), "numpy"),
    (lambda a, b, t: slerp_correct(a, b, t) + 0.01, "does not match"),
    (slerp_refusing_parallel_codes, "raised ValueError"),
    (slerp_with_a_transposed_fallback, "parallel vectors has shape"),
    (slerp_with_a_swapped_fallback, "between parallel vectors the path"),
]


# ---------------------------------------------------------------------------- chapter 8


IWAE = [
    (lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[0]), PASS),
    (lambda lw: lw.max(0).values + torch.log(torch.exp(lw - lw.max(0).values).mean(0)), PASS),
    (lambda lw: torch.logsumexp(lw - math.log(len(lw)), dim=0), PASS),
    (lambda lw: torch.log(torch.exp(lw).mean(0)), "underflows"),
    (lambda lw: lw.mean(0), "ELBO estimate"),
    (lambda lw: torch.logsumexp(lw, 0), "subtract log K"),
    (lambda lw: lw.max(0).values, "max_k"),
    (lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1]), "over the K draws"),
    (lambda lw: torch.logsumexp(lw, 0).numpy(), "numpy"),
    (lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1]), "does not match"),
    (lambda lw: torch.logsumexp(lw, 0, keepdim=True) - math.log(len(lw)), "one value per"),
]

ACTIVE = [
    (lambda mu, th: mu.var(0) > th, PASS),
    (lambda mu, th: ((mu - mu.mean(0)) ** 2).sum(0) / (len(mu) - 1) > th, PASS),
    (lambda mu, th: (torch.cov(mu.T).diagonal() > th).int(), PASS),
    (lambda mu, th: mu.std(0) > th, "not the standard deviation"),
    (lambda mu, th: mu.pow(2).mean(0) > th, "E_x[mu²]"),
    (lambda mu, th: mu.var(0) > 0.01, "threshold argument"),
    (lambda mu, th: int((mu.var(0) > th).sum()), "not the number"),
    (lambda mu, th: mu.var(1) > th, "over the N images"),
    (lambda mu, th: mu.mean(0) > th, "active when"),
    (lambda mu, th: (mu.var(0) > th).numpy(), "numpy"),
    (lambda mu, th: mu.var(0) > 2 * th, "active when"),
]


def _log_weights(model, x, k, detach=False, sigma_is_exp_logvar=False):
    """log w (k, B) of k draws per image, written with torch.distributions."""
    mu, logvar = model.encode(x)
    sigma = logvar.exp() if sigma_is_exp_logvar else torch.exp(0.5 * logvar)
    q = Normal(mu, sigma)
    z = q.rsample((k,))  # (k, B, D)
    if detach:
        z = z.detach()
    log_px = Bernoulli(logits=model.decode(z)).log_prob(x.expand(k, *x.shape)).flatten(2).sum(-1)
    return log_px + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)


def iwae_loss_correct(model, x, k):
    return -(torch.logsumexp(_log_weights(model, x, k), 0) - math.log(k)).mean()


def iwae_loss_in_a_loop(model, x, k):
    mu, logvar = model.encode(x)
    terms = []
    for _ in range(k):
        z = reparam(mu, logvar)  # (B, D)
        bce = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none")
        log_q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(1)
        terms.append(-bce.sum((1, 2, 3)) + Normal(0.0, 1.0).log_prob(z).sum(1) - log_q)
    log_w = torch.stack(terms)  # (k, B)
    top = log_w.max(0).values.detach()
    return -(top + torch.log(torch.exp(log_w - top).mean(0))).mean()


IWAE_LOSS = [
    (iwae_loss_correct, PASS),
    (iwae_loss_in_a_loop, PASS),
    (lambda m, x, k: -_log_weights(m, x, k).mean(), "that is the ELBO estimate"),
    (lambda m, x, k: -torch.logsumexp(_log_weights(m, x, k), 0).mean(), "subtract log k"),
    (
        lambda m, x, k: -(torch.logsumexp(_log_weights(m, x, k), 1) - math.log(len(x))).mean(),
        "over the k draws (dim 0)",
    ),
    (lambda m, x, k: -torch.log(torch.exp(_log_weights(m, x, k)).mean(0)).mean(), "underflows"),
    (lambda m, x, k: iwae_loss_correct(m, x, k) * len(x), "do not sum it"),
    (lambda m, x, k: -iwae_loss_correct(m, x, k), "minimize the negative bound"),
    (
        lambda m, x, k: (
            -(torch.logsumexp(_log_weights(m, x, k, detach=True), 0) - math.log(k)).mean()
        ),
        "the gradient to fc_mu differs",
    ),
    (lambda m, x, k: iwae_loss_correct(m, x, k).item(), "one-element tensor"),
    (lambda m, x, k: iwae_loss_correct(m, x, 1), "draw k = 5 codes"),
    (
        lambda m, x, k: (
            -(
                torch.logsumexp(_log_weights(m, x, k, sigma_is_exp_logvar=True), 0) - math.log(k)
            ).mean()
        ),
        "does not match",
    ),
]

# ---------------------------------------------------------------------------- chapter 9


FREE_BITS = [
    (lambda kl, lam: kl.mean(0).clamp_min(lam).sum(), PASS),
    (lambda kl, lam: torch.maximum(kl.mean(0), torch.tensor(lam)).sum().item(), PASS),
    (lambda kl, lam: sum(max(lam, v) for v in kl.mean(0).tolist()), PASS),
    (lambda kl, lam: kl.clamp_min(lam).mean(0).sum(), "not each example"),
    (lambda kl, lam: kl.mean(0).sum().clamp_min(lam), "not to the total"),
    (lambda kl, lam: kl.mean(0).clamp_max(lam).sum(), "not min"),
    (lambda kl, lam: kl.sum(0).clamp_min(lam).sum(), "do not sum it"),
    (lambda kl, lam: kl.mean(0).clamp_min(0.5).sum(), "free_bits argument"),
    (lambda kl, lam: kl.mean(0).clamp_min(lam), "one number"),
    (lambda kl, lam: kl.mean(0).sum(), "no floor"),
    (lambda kl, lam: 2 * kl.mean(0).clamp_min(lam).sum(), "does not match"),
]


def _free_bits_step(model, optimizer, x, lam, floor="dim", reduce="mean", zero=True, sign=1.0):
    mu, logvar = model.encode(x)
    z = Normal(mu, torch.exp(0.5 * logvar)).rsample()  # (B, D)
    recon = Bernoulli(logits=model.decode(z)).log_prob(x).flatten(1).sum(1)  # (B,)
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))  # (B, D)
    per_dim = kl.sum(0) if reduce == "sum" else kl.mean(0)
    kl_term = {
        "dim": lambda: per_dim.clamp_min(lam).sum(),
        "example": lambda: kl.clamp_min(lam).mean(0).sum(),
        "total": lambda: per_dim.sum().clamp_min(lam),
        "none": lambda: per_dim.sum(),
    }[floor]()
    loss = sign * ((-recon.sum() if reduce == "sum" else -recon.mean()) + kl_term)
    if zero:
        optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def free_bits_step_in_one_expression(model, optimizer, x, lam):
    logits, mu, logvar = model(x)
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)  # (B, D)
    loss = bce.mean() + torch.maximum(kl.mean(0), torch.tensor(lam)).sum()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


FREE_BITS_STEP = [
    (_free_bits_step, PASS),
    (free_bits_step_in_one_expression, PASS),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, lam, floor="example"), "not each example's"),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, lam, floor="total"), "no floor per dimension"),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, lam, floor="none"), "no floor per dimension"),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, lam, reduce="sum"), "do not sum"),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, lam, zero=False), "zero_grad"),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, lam, sign=-1.0), "you maximized it"),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, 2 * lam), "with λ = free_bits"),
    (lambda m, o, x, lam: _free_bits_step(m, o, x, lam) + 1.0, "before the update"),
    (lambda m, o, x, lam: step_correct(m, o, x), "no floor per dimension"),
    (lambda m, o, x, lam: 0.0, "did not change"),
]


# ---------------------------------------------------------------------------- chapter 10


def fixed_step_with_own_terms(model, optimizer, x):
    optimizer.zero_grad()
    loss = -elbo_correct(model, x)[0].mean()
    loss.backward()
    optimizer.step()
    return float(loss)


# Chapter 10's fixed step is chapter 5's step: the same battery, and one more honest variant.
FIXED_TRAIN_STEP = [(fixed_step_with_own_terms, PASS), *TRAIN_STEP]


def ll_from_logits(logits, x):
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))


def ll_logsigmoid(logits, x):
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(1)


def ll_naive(logits, x, eps=0.0):
    p = torch.sigmoid(logits).clamp(eps, 1 - eps)
    return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)


FIXED_LOG_LIKELIHOOD = [
    (ll_from_logits, PASS),
    (ll_logsigmoid, PASS),
    (lambda lg, x: Bernoulli(logits=lg).log_prob(x).sum((1, 2, 3)), PASS),
    (ll_naive, "still −inf or NaN at confident logits"),
    (lambda lg, x: ll_naive(lg, x, 1e-7), "clamping p hides the −inf"),
    (lambda lg, x: ll_naive(lg, x, 1e-12), "still −inf"),  # 1 - 1e-12 is 1 in float32
    (lambda lg, x: -ll_from_logits(lg, x), "the sign is flipped"),
    (lambda lg, x: ll_from_logits(lg, x) / 784, "averaging divides it by 784"),
    (lambda lg, x: ll_from_logits(lg, x).sum(), "one value per example"),
    (lambda lg, x: ll_from_logits(lg, x).numpy(), "numpy"),
    (lambda lg, x: ll_from_logits(lg, x) + 1.0, "does not match"),
    (lambda lg, x: ll_naive(lg.clamp(-3, 3), x), "does not match Σ_i x_i log p_i"),
]

BATTERIES = {
    g.check_linear_gaussian_posterior: POSTERIOR,
    g.check_linear_gaussian_elbo: ELBO_TOY,
    g.check_gaussian_kl: KL,
    g.check_reparameterize: REPARAM,
    g.check_calc_elbo: CALC_ELBO,
    g.check_sample: SAMPLE,
    g.check_train_step: TRAIN_STEP,
    g.check_reconstruct: RECONSTRUCT,
    g.check_slerp: SLERP,
    g.check_iwae_estimate: IWAE,
    g.check_active_units: ACTIVE,
    g.check_iwae_loss: IWAE_LOSS,
    g.check_free_bits: FREE_BITS,
    g.check_free_bits_step: FREE_BITS_STEP,
    g.check_fixed_train_step: FIXED_TRAIN_STEP,
    g.check_fixed_log_likelihood: FIXED_LOG_LIKELIHOOD,
}
CASES = [
    pytest.param(grader, fn, phrase, id=f"{grader.__name__}-{i}")
    for grader, battery in BATTERIES.items()
    for i, (fn, phrase) in enumerate(battery)
]


# The two mistakes that break a second check as well, which then names its own problem.
TWO_PROBLEMS = {("check_reparameterize", "dz/dmu"), ("check_sample", "not from q(z|x)")}


@pytest.mark.parametrize(("grader", "fn", "phrase"), CASES)
def test_battery(grader, fn, phrase, snapshot) -> None:
    verdict = grader(fn)
    assert str(verdict) == snapshot
    if phrase is PASS:
        assert verdict.passed, str(verdict)
        assert str(verdict).startswith("PASS ")
    else:
        assert not verdict.passed, f"a wrong variant passed: expected {phrase!r}"
        assert any(phrase in p for p in verdict.problems), str(verdict)
        if (grader.__name__, phrase) not in TWO_PROBLEMS:  # every input shows the same mistake
            assert all(phrase in p for p in verdict.problems), str(verdict)


def test_each_battery_has_ten_variants_right_and_wrong() -> None:
    for grader, battery in BATTERIES.items():
        phrases = [p for _, p in battery]
        assert len(battery) >= 10, grader.__name__
        assert phrases.count(PASS) >= 2 and len(phrases) - phrases.count(PASS) >= 6, grader


def _raises(*args):
    raise ValueError("student bug")


def _unfinished(*args):
    raise NotImplementedError


@pytest.mark.parametrize("grader", list(BATTERIES), ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("fn", "phrase"),
    [
        (_raises, "raised ValueError: student bug"),
        (_unfinished, "not finished yet"),
        (lambda *a: None, "not finished yet"),
        (lambda *a: ..., "not finished yet"),
        (lambda *a: "a string", "got str"),
    ],
    ids=["raises", "not-implemented", "returns-none", "returns-ellipsis", "wrong-type"],
)
def test_graders_never_crash_on_broken_code(grader, fn, phrase, snapshot) -> None:
    verdict = grader(fn)
    assert str(verdict) == snapshot
    assert not verdict.passed and any(phrase in p for p in verdict.problems), str(verdict)


def test_verdicts_hold_no_random_numbers() -> None:
    """Two runs give the same text, so a notebook can store and compare it."""
    for grader in (g.check_calc_elbo, g.check_train_step):
        assert str(grader(elbo_kl_sign if grader is g.check_calc_elbo else step_correct)) == str(
            grader(elbo_kl_sign if grader is g.check_calc_elbo else step_correct)
        )


def test_a_function_that_changes_the_model_leaves_it_as_it_was() -> None:
    model, x = g.grader_model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(StudentError, match="changed the model's parameters"):
        call_on_model(elbo_changes_the_model, model, x, name="calc_elbo")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert g.check_calc_elbo(elbo_correct).passed  # the next check starts clean


def test_the_test_model_makes_z_equal_mu_visible() -> None:
    """sigma^2 = e^-2 on average: far from 1 (sigma vs sigma^2) and from 0 (z = mu)."""
    model, x = g.grader_model()
    with torch.no_grad():
        logvar = model.encode(x)[1]
    assert -2.6 < logvar.mean().item() < -1.4


def test_each_verdict_is_named_after_its_exercise() -> None:
    """The verdict names the exercise the book asks for: the grader's name without check_."""
    for grader, battery in BATTERIES.items():
        right = next(fn for fn, phrase in battery if phrase is PASS)
        verdict = grader(right)
        exercise = grader.__name__.removeprefix("check_")
        assert verdict.exercise == exercise
        assert str(verdict) == f"PASS {exercise}: every check agrees with the reference."


# The exercises' signatures as the book states them (`def my_<name>(...)` in book/*.ipynb).
SIGNATURES = {
    g.check_linear_gaussian_posterior: "posterior(model, x)",
    g.check_linear_gaussian_elbo: "elbo(model, x, m, s2)",
    g.check_gaussian_kl: "gaussian_kl(mu, logvar)",
    g.check_reparameterize: "reparameterize(mu, logvar)",
    g.check_calc_elbo: "calc_elbo(model, x)",
    g.check_sample: "sample(model, n)",
    g.check_train_step: "train_step(model, optimizer, x)",
    g.check_reconstruct: "reconstruct(model, x)",
    g.check_slerp: "slerp(z_a, z_b, t)",
    g.check_iwae_estimate: "iwae_estimate(log_w)",
    g.check_active_units: "active_units(mu, threshold)",
    g.check_iwae_loss: "iwae_loss(model, x, k)",
    g.check_free_bits: "free_bits_kl(kl, free_bits)",
    g.check_free_bits_step: "free_bits_step(model, optimizer, x, free_bits)",
    g.check_fixed_train_step: "fixed_train_step(model, optimizer, x)",
    g.check_fixed_log_likelihood: "fixed_log_likelihood(logits, x)",
}


def test_signatures_are_those_of_the_book() -> None:
    book = Path(__file__).resolve().parents[1] / "book"
    stated = {
        m.group(1)
        for path in book.glob("*.ipynb")
        for m in re.finditer(r"def my_(\w+\([\w, ]*\))", path.read_text())
    }
    assert set(SIGNATURES.values()) <= stated
    assert set(SIGNATURES) == set(BATTERIES)


@pytest.mark.parametrize("grader", list(BATTERIES), ids=lambda f: f.__name__)
def test_a_failing_call_is_named_by_the_exercise_signature(grader) -> None:
    assert grader(_raises).problems == [
        f"calling {SIGNATURES[grader]} raised ValueError: student bug"
    ]


def _summary(value):
    """What a grader handed over, in rounded numbers: tensors, models, optimizers, scalars."""
    if isinstance(value, torch.Tensor):
        v = value.detach().double()
        out = {"shape": list(value.shape), "dtype": str(value.dtype)}
        if v.numel() <= 24:
            return {**out, "values": [round(a, 4) for a in v.flatten().tolist()]}
        stats = (v.mean(), v.std(), v.min(), v.max())
        return {**out, "mean std min max": [round(s.item(), 4) for s in stats]}
    if isinstance(value, torch.nn.Module):
        params = dict(value.named_parameters())
        total = sum(p.detach().double().sum() for p in params.values())
        small = {n: _summary(p)["values"] for n, p in params.items() if p.numel() <= 24}
        return {"module": type(value).__name__, "sum": round(total.item(), 4), **small}
    if isinstance(value, torch.optim.Optimizer):
        return {"optimizer": type(value).__name__, "lr": value.defaults["lr"]}
    if isinstance(value, float):
        return round(value, 6)
    return repr(value)


def _seed_just_set():
    """The seed of torch's global generator if nothing was drawn since it was set, else None:
    the seed a grader sets for the reader's random draws."""
    seed = torch.initial_seed()
    fresh = torch.Generator().manual_seed(seed).get_state()
    return seed if torch.equal(fresh, torch.random.get_rng_state()) else None


@pytest.mark.parametrize("grader", list(BATTERIES), ids=lambda f: f.__name__)
def test_each_grader_hands_over_the_reviewed_inputs(grader, snapshot) -> None:
    """The inputs of every call of the reader's function, as they were reviewed, and the
    seed the grader set for the reader's random draws (None: none set just before)."""
    right = next(fn for fn, phrase in BATTERIES[grader] if phrase is PASS)
    calls = []
    torch.rand(1)  # from here on, a freshly seeded generator is the grader's doing

    def recording(*args):
        calls.append([_summary(a) for a in args] + [_seed_just_set()])
        return right(*args)

    assert grader(recording).passed
    assert calls == snapshot
