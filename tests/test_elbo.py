"""calc_elbo, its terms and the IWAE estimate against torch.distributions and Monte Carlo."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import pytest
import torch
from torch import Tensor, nn
from torch.distributions import Bernoulli, Normal, kl_divergence

from vae_tutorial import VAE, bits_per_dim, calc_elbo, log_likelihood
from vae_tutorial.elbo import bernoulli_log_likelihood, gaussian_kl, iwae_bound
from vae_tutorial.model import Posterior


def random_binary_images(b: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.rand(b, 1, 28, 28, generator=g), generator=g)


def test_bernoulli_log_likelihood_matches_torch_distributions() -> None:
    torch.manual_seed(1)
    logits = 5 * torch.randn(3, 8, 1, 28, 28)
    x = random_binary_images(8)
    expected = Bernoulli(logits=logits).log_prob(x.expand_as(logits)).sum((-3, -2, -1))
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), expected)


def test_bernoulli_log_likelihood_is_finite_for_extreme_logits() -> None:
    logits = torch.full((2, 1, 28, 28), 200.0)
    x = torch.zeros(2, 1, 28, 28)
    ll = bernoulli_log_likelihood(logits, x)
    assert torch.isfinite(ll).all()
    torch.testing.assert_close(ll, torch.full((2,), -200.0 * 784))


def test_gaussian_kl_matches_kl_divergence() -> None:
    torch.manual_seed(2)
    mu, logvar = torch.randn(16, 5), torch.randn(16, 5)
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(gaussian_kl(mu, logvar), kl_divergence(q, p).sum(-1))


def test_gaussian_kl_matches_monte_carlo_estimate() -> None:
    mu, logvar = torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[0.3, -0.7, -2.0]])
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros(3), torch.ones(3))
    z = q.sample((200_000,))  # (S, 1, 3)
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)  # (S, 1)
    estimate, stderr = log_ratio.mean(), log_ratio.std() / math.sqrt(z.shape[0])
    assert abs(gaussian_kl(mu, logvar).item() - estimate.item()) < 4 * stderr.item()


def test_calc_elbo_matches_an_independent_computation(model: VAE) -> None:
    x = random_binary_images(6)
    result = calc_elbo(model, x, n_samples=3, generator=torch.Generator().manual_seed(7))

    mu, logvar = model.encode(x)
    eps = torch.randn((3, *mu.shape), generator=torch.Generator().manual_seed(7))
    z = mu + torch.exp(0.5 * logvar) * eps
    recon = Bernoulli(logits=model.decode(z)).log_prob(x.expand(3, *x.shape)).sum((-3, -2, -1))
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), prior).sum(-1)

    torch.testing.assert_close(result.recon_ll, recon.mean(0))
    torch.testing.assert_close(result.kl, kl)
    torch.testing.assert_close(result.elbo, recon.mean(0) - kl)
    assert result.elbo.shape == (6,) and result.elbo.dtype == torch.float32


class GridPosterior(NamedTuple):
    """log p(x), the posterior and q(z|x) of a 2-D latent model, on a grid of step h."""

    log_px: Tensor  # (B,) float64
    log_px_z: Tensor  # (G, B)
    log_post: Tensor  # (G, B): log p(z|x)
    log_q: Tensor  # (G, B): log q(z|x)
    cell: float  # h², the area of one grid cell


def grid_posterior(model: VAE, x: Tensor, half_width: float = 8.0, h: float = 0.1) -> GridPosterior:
    """log p(x) = log sum_g p(x|z_g) p(z_g) h², with p(x|z) from the model's decoder."""
    axis = torch.arange(-half_width, half_width + h / 2, h, dtype=torch.float64)
    z = torch.cartesian_prod(axis, axis)  # (G, 2)
    with torch.no_grad():
        logits = torch.cat([model.decode(c) for c in z.float().split(4096)])  # (G, 1, 28, 28)
        log_px_z = torch.stack(
            [Bernoulli(logits=logits).log_prob(xi).sum((1, 2, 3)) for xi in x], 1
        ).double()  # (G, B)
        log_joint = log_px_z + Normal(0.0, 1.0).log_prob(z).sum(-1, keepdim=True)
        log_px = torch.logsumexp(log_joint, 0) + 2 * math.log(h)  # (B,)
        mu, logvar = model.encode(x)
        log_q = Normal(mu.double(), torch.exp(0.5 * logvar.double())).log_prob(z[:, None]).sum(-1)
    return GridPosterior(log_px, log_px_z, log_joint - log_px, log_q, h * h)


def two_d_model(logvar_bias: float) -> VAE:
    """A 2-D VAE whose q(z|x) has its means spread out and sigma² = exp(logvar_bias)."""
    torch.manual_seed(0)
    model = VAE(latent_dim=2).eval()
    with torch.no_grad():
        model.fc_mu.weight.mul_(20.0)
        model.fc_logvar.bias.fill_(logvar_bias)
    return model


def test_calc_elbo_is_log_evidence_minus_kl_to_the_true_posterior() -> None:
    """With a 2-D latent, log p(x) and KL(q(z|x) || p(z|x)) are integrals on a grid;
    ELBO = log p(x) - KL(q || p(z|x)) up to the Monte-Carlo error of the reconstruction
    term, whose variance the same grid gives."""
    model = two_d_model(logvar_bias=-1.5)  # a narrower q, away from the prior: a visible gap
    x = random_binary_images(3, seed=8)
    grid = grid_posterior(model, x)
    with torch.no_grad():
        w = grid.log_q.exp() * grid.cell  # q on the grid, (G, B)
        assert torch.allclose(w.sum(0), torch.ones(3, dtype=torch.float64), atol=1e-6)
        kl_to_posterior = (w * (grid.log_q - grid.log_post)).sum(0)
        recon_mean = (w * grid.log_px_z).sum(0)
        recon_var = (w * (grid.log_px_z - recon_mean) ** 2).sum(0)
        s = 2000
        result = calc_elbo(model, x, n_samples=s, generator=torch.Generator().manual_seed(1))
    log_px = grid.log_px
    tolerance = 4 * (recon_var / s).sqrt() + 1e-3
    assert (kl_to_posterior > 0.25).all(), "the example must have a gap worth testing"
    assert ((result.elbo.double() - (log_px - kl_to_posterior)).abs() < tolerance).all(), (
        result.elbo,
        log_px - kl_to_posterior,
        tolerance,
    )
    assert (result.elbo.double() < log_px - 0.25).all()


def test_log_likelihood_is_the_log_evidence_on_a_grid() -> None:
    """The importance-sampled log p(x) (k = 2000) against log p(x) summed on a grid.

    With weights w = p(x, z) / q(z|x), the estimate log((1/k) sum_k w_k) has a standard
    deviation of about sqrt(chi²(p(z|x) || q) / k) (delta method), chi² = E_q[(p(z|x)/q)²] - 1
    from the same grid; q is wide enough for a small chi² and off enough that the mean
    of the log-weights (an ELBO) misses log p(x) by its KL, more than 0.5 nats.
    """
    model = two_d_model(logvar_bias=0.5)
    x = random_binary_images(3, seed=8)
    grid = grid_posterior(model, x)
    chi2 = ((2 * grid.log_post - grid.log_q).exp() * grid.cell).sum(0) - 1
    q_on_grid = grid.log_q.exp() * grid.cell
    kl_to_posterior = (q_on_grid * (grid.log_q - grid.log_post)).sum(0)
    k = 2000
    with torch.no_grad():
        got = log_likelihood(model, x, k=k, generator=torch.Generator().manual_seed(3))
    tolerance = 4 * (chi2 / k).sqrt()
    assert (tolerance < 0.15).all() and (kl_to_posterior > 0.5).all()
    assert ((got.double() - grid.log_px).abs() < tolerance).all(), (got, grid.log_px, tolerance)


class ConstantDecoder(nn.Module):
    """q(z|x) = p(z) = N(0, I) and p(x|z) independent of z: log p(x) is known exactly."""

    latent_dim = 3

    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.linspace(-4, 4, 784).reshape(1, 1, 28, 28))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        zeros = torch.zeros(x.shape[0], self.latent_dim)
        return zeros, zeros

    def log_prior(self, z: Tensor) -> Tensor:
        return Normal(0.0, 1.0).log_prob(z).sum(-1)

    def posterior(self, x: Tensor) -> Posterior:
        return Posterior(*self.encode(x))

    def sample_posterior(
        self, q: Posterior, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        return VAE.sample_posterior(self, q, n_samples, generator)

    def decode(self, z: Tensor) -> Tensor:
        return self.logits.expand(*z.shape[:-1], 1, 28, 28)


@pytest.mark.parametrize("k", [1, 7, 1000])
def test_log_likelihood_is_exact_when_posterior_equals_prior(k: int) -> None:
    model, x = ConstantDecoder(), random_binary_images(5)
    exact = Bernoulli(logits=model.logits.expand(5, 1, 28, 28)).log_prob(x).sum((1, 2, 3))
    torch.testing.assert_close(log_likelihood(model, x, k=k, chunk_size=3), exact)


def test_log_likelihood_with_k_1_has_the_expectation_of_the_elbo(model: VAE) -> None:
    x = random_binary_images(1, seed=3).expand(4000, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    ll_1 = log_likelihood(model, x, k=1, generator=g)  # 4000 independent draws
    with torch.no_grad():
        elbo = calc_elbo(model, x[:1], n_samples=4000, generator=g).elbo
    stderr = ll_1.std() / math.sqrt(ll_1.numel())
    assert abs(ll_1.mean().item() - elbo.item()) < 4 * stderr.item()


def test_log_likelihood_does_not_decrease_with_k() -> None:
    torch.manual_seed(0)
    model = VAE(latent_dim=2)
    x = random_binary_images(8, seed=4)
    g = torch.Generator().manual_seed(1)
    estimates = [
        torch.stack([log_likelihood(model, x, k=k, generator=g) for _ in range(10)]).mean().item()
        for k in (1, 10, 100, 1000)
    ]
    with torch.no_grad():
        elbo = calc_elbo(model, x, n_samples=1000, generator=g).elbo.mean().item()
    assert abs(estimates[0] - elbo) < 1.0
    assert all(b >= a - 0.05 for a, b in itertools.pairwise(estimates)), estimates
    assert estimates[-1] > estimates[0]


def test_iwae_bound_is_differentiable(model: VAE) -> None:
    bound = iwae_bound(model, random_binary_images(3), k=5)
    bound.sum().backward()
    assert bound.shape == (3,)
    assert model.fc_logvar.weight.grad is not None and model.fc_logvar.weight.grad.abs().sum() > 0


def test_bits_per_dim() -> None:
    assert bits_per_dim(784 * math.log(2.0)) == pytest.approx(1.0)
    assert bits_per_dim(88.0) == pytest.approx(88.0 / (784 * math.log(2.0)))


@pytest.mark.parametrize("k", [0, -3])
def test_log_likelihood_rejects_bad_k(model: VAE, k: int) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        log_likelihood(model, random_binary_images(2), k=k)


def test_active_units_and_kl_per_dimension() -> None:
    from vae_tutorial.elbo import gaussian_kl
    from vae_tutorial.evaluate import active_units, kl_per_dimension

    g = torch.Generator().manual_seed(0)
    mu = torch.cat([torch.randn(500, 2, generator=g), 0.01 * torch.randn(500, 3, generator=g)], 1)
    logvar = torch.cat([torch.full((500, 2), -3.0), torch.zeros(500, 3)], 1)
    assert active_units(mu).tolist() == [True, True, False, False, False]
    per_dim = kl_per_dimension(mu, logvar)
    torch.testing.assert_close(per_dim.sum(), gaussian_kl(mu, logvar).mean())
    assert (per_dim[2:] < 1e-3).all() and (per_dim[:2] > 0.5).all()


def test_iwae_bound_is_the_log_mean_of_the_importance_weights(model: VAE) -> None:
    """Against a hand computation with torch.distributions on the same draws (k = 6)."""
    x = random_binary_images(3, seed=5)
    k = 6
    with torch.no_grad():
        got = iwae_bound(model, x, k, generator=torch.Generator().manual_seed(2))
        mu, logvar = model.encode(x)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(k, *mu.shape, generator=torch.Generator().manual_seed(2))
        z = mu + std * eps  # (k, B, D)
        log_px_z = Bernoulli(logits=model.decode(z)).log_prob(x).sum((-3, -2, -1))  # (k, B)
        log_w = (
            log_px_z + Normal(0.0, 1.0).log_prob(z).sum(-1) - Normal(mu, std).log_prob(z).sum(-1)
        )
        expected = torch.log(torch.exp(log_w.double()).mean(0)).float()  # log (1/k) sum_k w_k
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-3)


def test_log_mean_exp_of_hand_built_weights() -> None:
    from vae_tutorial.elbo import log_mean_exp

    log_w = torch.tensor([[0.0, -1000.0], [math.log(3.0), -1000.0 + math.log(3.0)]])  # (k=2, B=2)
    torch.testing.assert_close(
        log_mean_exp(log_w), torch.tensor([math.log(2.0), -1000.0 + math.log(2.0)])
    )


def test_model_elbo_calls_the_models_own_elbo_when_it_has_one(model: VAE) -> None:
    from vae_tutorial.elbo import ELBO, model_elbo

    x = torch.rand(2, 1, 28, 28)
    gen = torch.Generator()
    seen: list[tuple] = []
    own = ELBO(torch.zeros(2), torch.ones(2), torch.ones(2))

    class OwnELBO(VAE):
        def elbo(self, *args):
            seen.append(args)
            return own

    assert model_elbo(OwnELBO(latent_dim=4), x, 3, gen) is own
    assert len(seen) == 1 and seen[0][0] is x and seen[0][1:] == (3, gen)
    # A plain VAE gets calc_elbo, with the same arguments (the same noise here).
    got = model_elbo(model, x, 2, torch.Generator().manual_seed(4))
    want = calc_elbo(model, x, 2, torch.Generator().manual_seed(4))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_calc_elbo_names_a_bad_number_of_samples(model: VAE) -> None:
    with pytest.raises(ValueError, match=r"^n_samples must be at least 1, got 0$"):
        calc_elbo(model, torch.rand(2, 1, 28, 28), n_samples=0)
