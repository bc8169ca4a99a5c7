"""`diagnose` against hand-built models whose answers are known, and every warning planted.

Each warning is shown firing on a model or data with the planted problem and silent on a
healthy hand-built model; the numbers are checked against torch.distributions.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor
from torch.distributions import Bernoulli, Normal, kl_divergence

from vae_tutorial import VAE
from vae_tutorial.diagnose import FLOAT32_EXP_LIMIT, LOGVAR_RANGE, Diagnosis, Finding, diagnose

D = 4
N = 64


class HandBuilt(VAE):
    """q(z|x) = N(mu(x), exp(logvar)) with mu_j(x) = scale_j * (2 x_{0,0,j} - 1), a constant
    log-variance per dimension, and a decoder with fixed logits `bias + z_0 * weight`.

    With Bernoulli(1/2) pixels, Var_x(mu_j) = scale_j^2 exactly in expectation, so the
    active dimensions are those with scale_j^2 > 0.01.
    """

    def __init__(self, scale: list[float], logvar: list[float], weight: float = 0.0) -> None:
        super().__init__(latent_dim=len(scale))
        self.register_buffer("scale", torch.tensor(scale))
        self.register_buffer("fixed_logvar", torch.tensor(logvar))
        self.register_buffer("bias", torch.linspace(-2.0, 2.0, 784).view(1, 28, 28))
        self.weight = weight

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        signs = 2.0 * x[:, 0, 0, : self.latent_dim] - 1.0  # (B, D), +-1 for binary x
        mu = self.scale * signs
        return mu, self.fixed_logvar.expand_as(mu).clone()

    def decode(self, z: Tensor) -> Tensor:
        lead = z.shape[:-1]
        logits = self.bias + self.weight * z[..., :1, None, None]  # (..., 1, 28, 28)
        return logits.expand(*lead, 1, 28, 28)


def binary_images(n: int = N, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, 1, 28, 28), 0.5), generator=generator)


def healthy() -> HandBuilt:
    return HandBuilt(scale=[1.0, 0.8, 0.6, 0.5], logvar=[-1.0, -0.5, -2.0, 0.0], weight=0.3)


def test_healthy_model_has_no_warnings() -> None:
    result = diagnose(healthy(), binary_images(), k=8)
    assert isinstance(result, Diagnosis)
    assert result.warnings == ()
    assert result.n_active == D and result.inactive == []
    assert result.binary
    assert "no warnings" in str(result)


def test_active_units_and_kl_per_dimension_match_torch_distributions() -> None:
    model = HandBuilt(scale=[1.0, 0.0, 0.05, 0.0], logvar=[-1.0, 0.5, -2.0, 0.0])
    x = binary_images()
    result = diagnose(model, x, k=4)
    mu, logvar = model.encode(x)
    expected_active = mu.var(dim=0) > 0.01  # Burda et al.'s criterion, computed directly
    assert expected_active.tolist() == [True, False, False, False]  # 0.05^2 = 0.0025 < 0.01
    assert torch.equal(result.active, expected_active)
    assert result.inactive == [1, 2, 3]  # indices from 0, as Python indexes result.active
    # the report numbers dimensions from 1, z1 to zD, as the book and its sliders do
    assert "active units     1 of 4 (inactive: z2, z3, z4)" in str(result)
    assert "nats (z1 to z4; total" in str(result)
    reference = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).mean(0)
    torch.testing.assert_close(result.kl_per_dim, reference)
    assert result.kl == pytest.approx(reference.sum().item(), rel=1e-6)
    assert result.kl_per_dim[3].item() == 0.0  # mu = 0, logvar = 0: the prior itself


def test_log_variance_range_is_reported() -> None:
    result = diagnose(healthy(), binary_images(), k=4)
    assert result.logvar_min == -2.0 and result.logvar_max == 0.0


def test_elbo_and_log_likelihood_are_exact_when_the_decoder_ignores_z() -> None:
    # q(z|x) = p(z) = N(0, I) and p(x|z) = p(x): the ELBO, every importance-weighted
    # estimate and log p(x) all equal the Bernoulli log-probability of x, exactly.
    model = HandBuilt(scale=[0.0] * D, logvar=[0.0] * D, weight=0.0)
    x = binary_images()
    exact = Bernoulli(logits=model.bias.expand(N, 1, 28, 28)).log_prob(x).sum((1, 2, 3))
    result = diagnose(model, x, k=16)
    assert result.elbo == pytest.approx(exact.mean().item(), rel=1e-6)
    assert result.log_likelihood == pytest.approx(exact.mean().item(), rel=1e-6)
    assert result.gap == pytest.approx(0.0, abs=1e-3)
    assert result.kl == 0.0


def test_importance_sampling_is_above_the_elbo_when_z_matters() -> None:
    torch.manual_seed(0)
    model = HandBuilt(scale=[1.0, 0.8, 0.6, 0.5], logvar=[0.0] * D, weight=2.0)
    result = diagnose(model, binary_images(), k=64)
    assert result.gap > 0.0
    assert result.k == 64


def test_posterior_collapse_fires_when_most_dimensions_are_inactive() -> None:
    collapsed = HandBuilt(scale=[1.0, 0.0, 0.0, 0.0], logvar=[0.0] * D)
    result = diagnose(collapsed, binary_images(), k=4)
    assert result.codes == ["posterior-collapse"]
    assert "3 of 4 dimensions inactive" in str(result)
    assert "warm-up" in result.warnings[0].fix and "free bits" in result.warnings[0].fix
    half = HandBuilt(scale=[1.0, 1.0, 0.0, 0.0], logvar=[0.0] * D)  # exactly half: silent
    assert diagnose(half, binary_images(), k=4).codes == []


def test_non_binary_data_fire_and_the_same_model_on_binary_data_is_silent() -> None:
    model = healthy()
    grey = torch.rand(N, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    result = diagnose(model, grey, k=4)
    assert not result.binary
    assert result.codes == ["non-binary"]
    assert "NOT binary" in str(result)
    assert diagnose(model, binary_images(), k=4).binary


def test_log_variance_out_of_range_fires_while_finite() -> None:
    high = LOGVAR_RANGE[1] + 5.0  # 25: finite, exp(25) ~ 7e10, but outside the range
    model = HandBuilt(scale=[1.0, 0.8, 0.6, 0.5], logvar=[high, 0.0, 0.0, 0.0])
    result = diagnose(model, binary_images(), k=4)
    assert result.codes == ["log-variance"]
    assert result.logvar_max == high
    low = HandBuilt(scale=[1.0, 0.8, 0.6, 0.5], logvar=[LOGVAR_RANGE[0] - 1.0, 0.0, 0.0, 0.0])
    assert diagnose(low, binary_images(), k=4).codes == ["log-variance"]


def test_overflowing_log_variance_fires_non_finite() -> None:
    assert math.isinf(torch.exp(torch.tensor(FLOAT32_EXP_LIMIT + 1.0)).item())
    model = HandBuilt(scale=[1.0, 0.8, 0.6, 0.5], logvar=[100.0, 0.0, 0.0, 0.0], weight=1.0)
    result = diagnose(model, binary_images(), k=4)
    assert result.codes == ["non-finite", "log-variance"]
    assert math.isinf(result.kl)  # exp(100) overflows float32
    assert not math.isfinite(result.elbo)


def test_nan_from_the_encoder_fires_non_finite() -> None:
    class NaNEncoder(HandBuilt):
        def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
            mu, logvar = super().encode(x)
            return mu, torch.full_like(logvar, float("nan"))

    result = diagnose(NaNEncoder(scale=[1.0] * D, logvar=[0.0] * D), binary_images(), k=4)
    assert result.codes[0] == "non-finite"
    assert math.isnan(result.logvar_min) and math.isnan(result.logvar_max)


def test_results_repeat_and_the_seed_changes_the_noise() -> None:
    model = HandBuilt(scale=[1.0, 0.8, 0.6, 0.5], logvar=[0.0] * D, weight=2.0)
    x = binary_images()
    first, again = diagnose(model, x, k=8), diagnose(model, x, k=8)
    assert first.elbo == again.elbo and first.log_likelihood == again.log_likelihood
    other = diagnose(model, x, k=8, seed=5)
    assert other.log_likelihood != first.log_likelihood


def test_untrained_vae_runs_and_keeps_its_mode() -> None:
    torch.manual_seed(0)
    model = VAE(latent_dim=3)
    model.train()
    result = diagnose(model, binary_images(8), k=2)
    assert model.training
    assert result.latent_dim == 3 and result.kl_per_dim.shape == (3,)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 images"):
        diagnose(healthy(), binary_images(1), k=4)
    with pytest.raises(ValueError, match="k must be at least 1"):
        diagnose(healthy(), binary_images(), k=0)


def test_finding_reads_as_problem_cause_fix() -> None:
    finding = Finding("non-binary", "grey", "not a likelihood", "binarize")
    assert str(finding) == "grey: not a likelihood — binarize"
