"""Two Monte-Carlo estimators of a gradient of an expectation, for chapter 3.

For z ~ N(mu, sigma^2) and a function f, the gradient d/dmu E[f(z)] can be estimated by
- the score function (REINFORCE): f(z) (z - mu) / sigma^2,                eq. `score-function`
- the reparameterization trick: f'(mu + sigma eps), eps ~ N(0, 1),        eq. `reparam`
Both are unbiased; the second usually has far lower variance, which is why VAEs use it.
This module returns the per-sample estimates so that their mean and variance can be
compared, and the Monte-Carlo standard errors of both, which say how far a sampled mean or
variance may fall from the exact one by chance. It does not hold the VAE's sampling
(`model.reparameterize`).

References: Williams (1992); Kingma & Welling (2014), section 2.4;
Mohamed et al. (2020), Monte Carlo Gradient Estimation in Machine Learning.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .model import reparameterize


def score_function_gradients(
    f: Callable[[Tensor], Tensor], mu: float, sigma: float, n: int, generator: torch.Generator
) -> Tensor:
    """n single-sample estimates f(z) d/dmu log N(z; mu, sigma^2) of d/dmu E[f(z)]: (n,)."""
    z = mu + sigma * torch.randn(n, generator=generator, dtype=torch.float64)
    return f(z) * (z - mu) / sigma**2  # eq. score-function


def reparameterization_gradients(
    f: Callable[[Tensor], Tensor], mu: float, sigma: float, n: int, generator: torch.Generator
) -> Tensor:
    """n single-sample estimates d/dmu f(mu + sigma eps) of d/dmu E[f(z)]: (n,)."""
    mu_t = torch.full((n,), mu, dtype=torch.float64, requires_grad=True)
    logvar = torch.full((n,), 2.0 * math.log(sigma), dtype=torch.float64)
    z = reparameterize(mu_t, logvar, generator=generator)  # (n,), z_i = mu + sigma eps_i
    f(z).sum().backward()  # each sample's gradient lands in its own slot of mu_t.grad
    return mu_t.grad.detach()


def mean_standard_error(samples: Tensor) -> float:
    """Standard error of the sample mean of n samples (n,): sqrt(s^2 / n)."""
    return math.sqrt(samples.var().item() / samples.numel())


def variance_standard_error(samples: Tensor) -> float:
    """Standard error of the sample variance of n samples (n,): sqrt((m_4 - s^4) / n).

    m_4 is the fourth central moment; this is the large-n standard deviation of the sample
    variance (for a normal distribution it is s^2 sqrt(2 / n)).
    """
    centred = samples - samples.mean()
    m4, s2 = centred.pow(4).mean().item(), samples.var().item()
    return math.sqrt(max(m4 - s2**2, 0.0) / samples.numel())
