"""The linear-Gaussian toy model against numerical integration; the gradient estimators."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vae_tutorial.estimators import (
    mean_standard_error,
    reparameterization_gradients,
    score_function_gradients,
    variance_standard_error,
)
from vae_tutorial.toy import LinearGaussian

MODEL = LinearGaussian(w=2.0, b=0.5, sigma=0.8)


def joint_on_grid(x: float) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    log_joint = Normal(0.0, 1.0).log_prob(z) + Normal(MODEL.w * z + MODEL.b, MODEL.sigma).log_prob(
        torch.tensor(x, dtype=torch.float64)
    )
    return z, log_joint


@pytest.mark.parametrize("x", [-2.0, 0.5, 3.0])
def test_marginal_and_posterior_match_numerical_integration(x: float) -> None:
    z, log_joint = joint_on_grid(x)
    dz = z[1] - z[0]
    log_px = torch.logsumexp(log_joint, 0) + math.log(dz)
    assert MODEL.log_marginal(x) == pytest.approx(log_px.item(), abs=1e-6)
    posterior = torch.exp(log_joint - log_px)
    mean = (posterior * z).sum() * dz
    var = (posterior * (z - mean) ** 2).sum() * dz
    m, v = MODEL.posterior(x)
    assert m == pytest.approx(mean.item(), abs=1e-6) and v == pytest.approx(var.item(), abs=1e-6)


@pytest.mark.parametrize(("m", "s2"), [(0.0, 1.0), (1.2, 0.1), (-0.5, 2.0)])
def test_log_evidence_equals_elbo_plus_kl_to_posterior(m: float, s2: float) -> None:
    x = 1.7
    assert MODEL.elbo(x, m, s2) + MODEL.kl_to_posterior(x, m, s2) == pytest.approx(
        MODEL.log_marginal(x), abs=1e-12
    )
    assert MODEL.elbo(x, m, s2) <= MODEL.log_marginal(x)


def test_elbo_matches_a_monte_carlo_estimate() -> None:
    x, m, s2 = 1.7, 0.3, 0.4
    z = Normal(m, math.sqrt(s2)).sample((400_000,)).double()
    log_ratio = (
        Normal(MODEL.w * z + MODEL.b, MODEL.sigma).log_prob(torch.tensor(x))
        + Normal(0.0, 1.0).log_prob(z)
        - Normal(m, math.sqrt(s2)).log_prob(z)
    )
    stderr = log_ratio.std().item() / math.sqrt(z.numel())
    assert abs(log_ratio.mean().item() - MODEL.elbo(x, m, s2)) < 4 * stderr


def test_elbo_is_tight_at_the_exact_posterior() -> None:
    x = -0.9
    m, v = MODEL.posterior(x)
    assert MODEL.kl_to_posterior(x, m, v) == pytest.approx(0.0, abs=1e-12)
    assert MODEL.elbo(x, m, v) == pytest.approx(MODEL.log_marginal(x), abs=1e-12)


def test_both_gradient_estimators_are_unbiased_and_reparam_has_lower_variance() -> None:
    def f(z: torch.Tensor) -> torch.Tensor:
        return (z - 2.0) ** 2

    mu, sigma, n = 0.5, 1.0, 200_000
    exact = 2 * (mu - 2.0)  # d/dmu E[(z - 2)^2] = d/dmu [(mu - 2)^2 + sigma^2]
    score = score_function_gradients(f, mu, sigma, n, torch.Generator().manual_seed(0))
    reparam = reparameterization_gradients(f, mu, sigma, n, torch.Generator().manual_seed(1))
    for g in (score, reparam):
        assert abs(g.mean().item() - exact) < 4 * g.std().item() / math.sqrt(n)
    assert reparam.var() * 5 < score.var()


def test_standard_errors_match_the_spread_over_repeated_experiments() -> None:
    generator = torch.Generator().manual_seed(0)
    experiments = 2.0 * torch.randn(2000, 400, generator=generator, dtype=torch.float64)
    means, variances = experiments.mean(1), experiments.var(1)  # (2000,) each
    mean_se = [mean_standard_error(row) for row in experiments[:200]]
    var_se = [variance_standard_error(row) for row in experiments[:200]]
    # the reported errors agree with the actual spread of the estimates, and with theory
    assert sum(mean_se) / 200 == pytest.approx(means.std().item(), rel=0.06)
    assert sum(var_se) / 200 == pytest.approx(variances.std().item(), rel=0.08)
    assert sum(var_se) / 200 == pytest.approx(4.0 * math.sqrt(2 / 400), rel=0.08)
    torch.manual_seed(0)
    heavy = torch.distributions.StudentT(5.0).sample((200_000,)).double()
    normal_theory = heavy.var().item() * math.sqrt(2 / heavy.numel())
    assert variance_standard_error(heavy) > 1.5 * normal_theory  # heavy tails: less certain
