"""The rate decomposition against a brute-force mixture, and the free-bits objective."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from vae_tutorial import VAE, TrainConfig
from vae_tutorial.data import seeded_generator
from vae_tutorial.elbo import calc_elbo
from vae_tutorial.evaluate import EVAL_NOISE_SEED, rate_decomposition
from vae_tutorial.train import FreeBitsObjective, VAEObjective, make_objective


def test_rate_decomposition_matches_a_brute_force_mixture() -> None:
    torch.manual_seed(0)
    model = VAE(latent_dim=3).double().eval()
    with torch.no_grad():  # spread the posterior means so that the code is informative
        model.fc_mu.weight.mul_(40.0)
        model.fc_logvar.bias.fill_(-2.0)
    x = torch.bernoulli(torch.rand(12, 1, 28, 28, dtype=torch.float64))
    result = rate_decomposition(model, x, chunk_size=5)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    sigma = torch.exp(0.5 * logvar)
    eps = torch.randn(mu.shape, generator=seeded_generator(EVAL_NOISE_SEED), dtype=mu.dtype)
    z = mu + sigma * eps
    own = Independent(Normal(mu, sigma), 1).log_prob(z)  # (N,)
    aggregate = MixtureSameFamily(
        Categorical(logits=torch.zeros(12)), Independent(Normal(mu, sigma), 1)
    )
    information = (own - aggregate.log_prob(z)).mean().item()
    rate = (
        torch.distributions.kl_divergence(
            Independent(Normal(mu, sigma), 1), Independent(Normal(0.0, torch.ones_like(mu)), 1)
        )
        .mean()
        .item()
    )
    assert result.rate == pytest.approx(rate, rel=1e-5)
    assert result.mutual_information == pytest.approx(information, rel=1e-5)
    assert result.marginal_kl == pytest.approx(rate - information, rel=1e-5)
    assert result.log_n == pytest.approx(math.log(12))
    assert 0.5 < result.mutual_information < result.log_n


class ConstantEncoder(nn.Module):
    """q(z|x) = N(m, s^2) for every x: the code carries no information about x."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu = torch.tensor([0.7, -1.2]).expand(x.shape[0], 2)
        return mu, torch.full_like(mu, math.log(0.3))


def test_a_code_that_ignores_x_has_zero_information_and_all_rate_in_the_marginal() -> None:
    result = rate_decomposition(ConstantEncoder(), torch.rand(50, 1, 28, 28))
    assert result.mutual_information == pytest.approx(0.0, abs=1e-5)
    assert result.marginal_kl == pytest.approx(result.rate) and result.rate > 0.5


def test_separated_posteriors_saturate_the_estimate_at_log_n() -> None:
    torch.manual_seed(0)
    model = VAE(latent_dim=4).eval()
    with torch.no_grad():  # tiny variances: every posterior is far from every other
        model.fc_logvar.bias.fill_(-30.0)
        model.fc_mu.weight.mul_(50.0)
    result = rate_decomposition(model, torch.bernoulli(torch.rand(30, 1, 28, 28)))
    assert result.mutual_information == pytest.approx(math.log(30), abs=1e-3)
    assert result.mutual_information <= result.log_n + 1e-6


def _model_batch_and_floor_above_every_kl(
    batch: int,
) -> tuple[VAE, torch.Tensor, torch.Tensor, float]:
    """A 4-D model, a batch, each dimension's mean KL (D,) computed by hand, and a free-bits
    floor above all of them, so that the floored KL term is exactly D * floor."""
    torch.manual_seed(0)
    model = VAE(latent_dim=4)
    x = torch.bernoulli(torch.full((batch, 1, 28, 28), 0.3))
    with torch.no_grad():
        mu, logvar = model.encode(x)
    kl_dims = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)).mean(0)  # (D,) by hand
    return model, x, kl_dims, kl_dims.max().item() + 1.0


def test_free_bits_floor_each_dimension_and_keep_the_true_elbo_in_the_log() -> None:
    model, x, _, floor = _model_batch_and_floor_above_every_kl(16)
    torch.manual_seed(1)
    loss, metrics = FreeBitsObjective(beta=1.0, warmup_steps=0, free_bits=floor)(model, x, 0)
    torch.manual_seed(1)
    terms = calc_elbo(model, x)  # the same draw
    assert loss.item() == pytest.approx(-terms.recon_ll.mean().item() + 4 * floor, rel=1e-5)
    assert metrics["elbo"] == pytest.approx(terms.elbo.mean().item(), rel=1e-5)
    loss.backward()
    assert model.fc_logvar.weight.grad.abs().sum() > 0  # through the reconstruction only
    model.zero_grad()
    torch.manual_seed(1)
    no_floor, _ = FreeBitsObjective(1.0, 0, free_bits=1e-9)(model, x, 0)
    torch.manual_seed(1)
    plain, _ = VAEObjective(1.0, 0)(model, x, 0)
    assert no_floor.item() == pytest.approx(plain.item(), rel=1e-5)


def test_free_bits_are_chosen_and_validated_by_the_config() -> None:
    assert isinstance(make_objective(TrainConfig(free_bits=0.5), 0, 0), FreeBitsObjective)
    assert type(make_objective(TrainConfig(), 0, 0)) is VAEObjective
    with pytest.raises(ValueError, match="free_bits must be a non-negative"):
        TrainConfig(free_bits=-1.0)
    with pytest.raises(ValueError, match="free_bits needs the plain VAE"):
        TrainConfig(free_bits=0.5, iwae_samples=5)
    with pytest.raises(ValueError, match="free_bits needs the plain VAE"):
        TrainConfig(free_bits=0.5, model={"res_blocks": 1})


def test_free_bits_objective_warms_up_beta_and_logs_the_four_metrics() -> None:
    model, x, kl_dims, floor = _model_batch_and_floor_above_every_kl(8)
    objective = FreeBitsObjective(beta=2.0, warmup_steps=4, free_bits=floor)
    torch.manual_seed(1)
    loss, metrics = objective(model, x, 1)  # beta_t = 2 * 1/4
    torch.manual_seed(1)
    terms = calc_elbo(model, x)  # the same draw
    recon = terms.recon_ll.mean().item()
    assert loss.item() == pytest.approx(-recon + 0.5 * 4 * floor, rel=1e-5)
    assert set(metrics) == {"elbo", "recon_ll", "kl", "beta"}
    assert metrics["beta"] == 0.5
    assert metrics["recon_ll"] == pytest.approx(recon, rel=1e-5)
    assert metrics["kl"] == pytest.approx(kl_dims.sum().item(), rel=1e-5)
    assert metrics["elbo"] == pytest.approx(recon - kl_dims.sum().item(), rel=1e-5)
    assert objective(model, x, 8)[1]["beta"] == 2.0  # after the warm-up
