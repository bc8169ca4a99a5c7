"""The advanced model: flows against autograd Jacobians, the sampled KL, and the plain VAE."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import TINY
from torch import nn
from torch.distributions import Normal

from vae_tutorial import TrainConfig, log_likelihood, reconstruct, sample, train
from vae_tutorial.advanced import AdvancedVAE, AdvancedVAEConfig, IWAEObjective
from vae_tutorial.advanced.flows import IAF, MADE, FlowPrior
from vae_tutorial.architectures import config_from_dict
from vae_tutorial.checkpoint import load_model
from vae_tutorial.elbo import gaussian_kl, importance_terms, model_elbo
from vae_tutorial.model import VAEConfig

D, H, C = 5, 16, 3


def randomize(module: nn.Module, seed: int, scale: float = 0.3) -> None:
    """Give every parameter a random value, so the flow is far from its identity start."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def flow_model(seed: int = 0) -> AdvancedVAE:
    torch.manual_seed(seed)
    config = AdvancedVAEConfig(
        latent_dim=4, channels=(4, 8), hidden_dim=16, flow_steps=2, prior_flow_steps=2,
        flow_hidden=12,
    )  # fmt: skip
    model = AdvancedVAE(config=config)
    randomize(model.flow, seed + 1)
    randomize(model.prior_flow, seed + 2)
    return model.double()


def test_made_is_autoregressive_in_its_order() -> None:
    for reverse in (False, True):
        made = MADE(D, H, C, reverse).double()
        randomize(made, seed=1)
        z, h = torch.randn(D, dtype=torch.float64), torch.randn(C, dtype=torch.float64)
        order = torch.arange(D).flip(0) if reverse else torch.arange(D)
        for output in (0, 1):  # shift, log-scale
            jac = torch.autograd.functional.jacobian(lambda v, o=output, m=made, h=h: m(v, h)[o], z)
            in_order = jac[order][:, order]  # (D, D): output i against input j, step's order
            assert torch.equal(in_order.triu(), torch.zeros(D, D, dtype=torch.float64)), reverse
            assert (in_order.tril(-1) != 0).sum() == D * (D - 1) // 2, "sees every earlier input"


def test_iaf_log_det_is_the_log_determinant_of_its_jacobian() -> None:
    flow = IAF(D, H, C, steps=3).double()
    randomize(flow, seed=2)
    z, h = torch.randn(D, dtype=torch.float64), torch.randn(C, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: flow(v, h)[0], z)
    torch.testing.assert_close(flow(z, h)[1], torch.linalg.slogdet(jacobian).logabsdet)


def test_flow_prior_is_a_normalized_density() -> None:
    prior = FlowPrior(2, H, steps=2).double()
    randomize(prior, seed=3)
    grid = torch.linspace(-10, 10, 801, dtype=torch.float64)
    z = torch.cartesian_prod(grid, grid)  # (N, 2)
    cell = (grid[1] - grid[0]) ** 2
    log_p = prior.log_prob(z)
    assert (log_p - Normal(0.0, 1.0).log_prob(z).sum(-1)).abs().max() > 1.0, "far from N(0, I)"
    assert (log_p.exp() * cell).sum().item() == pytest.approx(1.0, abs=1e-4)


def test_flow_prior_sampling_inverts_its_density_map() -> None:
    prior = FlowPrior(D, H, steps=2).double()
    randomize(prior, seed=4)
    u = torch.randn(6, D, dtype=torch.float64)
    z = prior.transform(u)
    base = Normal(0.0, 1.0).log_prob(u).sum(-1)
    for b in range(6):
        jac = torch.autograd.functional.jacobian(prior.transform, u[b])
        expected = base[b] - torch.linalg.slogdet(jac).logabsdet  # density of the pushforward
        torch.testing.assert_close(prior.log_prob(z[b]), expected)


def test_new_flows_are_the_identity() -> None:
    z, h = torch.randn(7, D), torch.randn(7, C)
    out, log_det = IAF(D, H, C, steps=3)(z, h)
    assert torch.equal(out, z) and torch.equal(log_det, torch.zeros(7))
    prior = FlowPrior(D, H, steps=2)
    torch.testing.assert_close(prior.log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    assert torch.equal(prior.transform(z), z)


def test_posterior_density_follows_the_change_of_variables() -> None:
    model = flow_model()
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.4, dtype=torch.float64))
    q = model.posterior(x)
    torch.manual_seed(5)
    z, log_q = model.sample_posterior(q, n_samples=2)  # (2, 3, D), (2, 3)
    torch.manual_seed(5)
    eps = torch.randn(2, 3, 4, dtype=torch.float64)  # the same base draws
    z0 = q.mu + torch.exp(0.5 * q.logvar) * eps
    base = torch.distributions.Normal(q.mu, torch.exp(0.5 * q.logvar)).log_prob(z0).sum(-1)
    for s in range(2):
        for b in range(3):
            jac = torch.autograd.functional.jacobian(
                lambda v, b=b: model.flow(v, q.h[b].detach())[0], z0[s, b].detach()
            )
            expected = base[s, b] - torch.linalg.slogdet(jac).logabsdet
            torch.testing.assert_close(log_q[s, b], expected)
            torch.testing.assert_close(z[s, b], model.flow(z0[s, b], q.h[b])[0])


def test_elbo_of_a_flow_model_uses_the_sampled_kl_and_stays_below_log_likelihood() -> None:
    model = flow_model()
    x = torch.bernoulli(torch.full((2, 1, 28, 28), 0.3, dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = model_elbo(model, x, n_samples=2000, generator=g)
        terms = importance_terms(model, x, 2000, torch.Generator().manual_seed(0))
        ll = log_likelihood(model, x, k=2000, generator=g)
    torch.testing.assert_close(elbo.kl, (terms.log_qz - terms.log_pz).mean(0))
    torch.testing.assert_close(elbo.recon_ll, terms.log_px_z.mean(0))
    torch.testing.assert_close(elbo.elbo, elbo.recon_ll - elbo.kl)
    assert (elbo.elbo < ll).all() and (elbo.kl > 0).all()


def test_flow_model_elbo_uses_the_learned_prior() -> None:
    model = flow_model()
    x = torch.bernoulli(torch.full((2, 1, 28, 28), 0.3, dtype=torch.float64))
    with torch.no_grad():
        terms = importance_terms(model, x, 3)
    z = model.sample_posterior(model.posterior(x), 1)[0]
    assert not torch.allclose(model.log_prior(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    torch.testing.assert_close(model.log_prior(z), model.prior_flow.log_prob(z))
    assert terms.log_pz.shape == (3, 2)


def test_samples_of_a_flow_prior_model_come_through_the_prior_flow() -> None:
    model = flow_model().float()
    z = model.sample_prior(5, torch.Generator().manual_seed(0))
    u = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z, model.prior_flow.transform(u))
    a = sample(model, 5, torch.Generator().manual_seed(0))
    b = sample(model, 5, torch.Generator().manual_seed(0))
    assert a.mean.shape == (5, 1, 28, 28) and torch.equal(a.binary, b.binary)


def test_identity_flows_give_the_gaussian_vaes_kl_in_expectation() -> None:
    torch.manual_seed(0)
    config = AdvancedVAEConfig(
        latent_dim=4, channels=(4, 8), hidden_dim=16, flow_steps=2, prior_flow_steps=1
    )
    model = AdvancedVAE(config=config)
    x = torch.bernoulli(torch.full((2, 1, 28, 28), 0.3))
    with torch.no_grad():
        sampled = model_elbo(model, x, n_samples=20000, generator=torch.Generator().manual_seed(1))
        exact_kl = gaussian_kl(*model.encode(x))
    torch.testing.assert_close(sampled.kl, exact_kl, atol=0.05, rtol=0.0)


def test_iwae_objective_of_a_flow_model_trains_the_flow() -> None:
    model = flow_model().float()
    x = torch.bernoulli(torch.full((4, 1, 28, 28), 0.3))
    loss, metrics = IWAEObjective(5)(model, x, step=0)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.flow.parameters())
    assert metrics["iwae"] >= metrics["elbo"]
    assert metrics["recon_ll"] - metrics["kl"] == pytest.approx(metrics["elbo"], abs=1e-3)


def test_a_flow_run_trains_checkpoints_and_reloads(tmp_path: Path) -> None:
    model = {"flow_steps": 2, "prior_flow_steps": 1, "flow_hidden": 32, "latent_dim": 8}
    config = TrainConfig(**{**TINY, "model": model})
    result = train(config, tmp_path, progress=False)
    assert math.isfinite(result.history.epochs["test_elbo"][0])
    model = load_model(tmp_path / "checkpoint.pt")
    assert isinstance(model, AdvancedVAE)
    assert len(model.flow.steps) == 2 and len(model.prior_flow.steps) == 1
    assert not [k for k in model.state_dict() if k.endswith("mask")], "masks are rebuilt, not saved"
    for key, value in result.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_flow_config_is_validated() -> None:
    with pytest.raises(ValueError, match="latent_dim >= 2"):
        AdvancedVAEConfig(latent_dim=1, flow_steps=1)
    with pytest.raises(ValueError, match="latent_dim >= 2"):
        AdvancedVAEConfig(latent_dim=1, prior_flow_steps=1)
    with pytest.raises(ValueError, match="flow_steps"):
        TrainConfig(model={"flow_steps": -1})
    with pytest.raises(ValueError, match="res_blocks"):
        AdvancedVAEConfig(res_blocks=-1)


def test_a_reconstruction_from_a_posterior_draw_goes_through_the_flow() -> None:
    model = flow_model().float()
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3))
    got = reconstruct(model, x, use_mean=False, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        q = model.posterior(x)
        z0 = q.mu + torch.exp(0.5 * q.logvar) * torch.randn(
            1, 3, 4, generator=torch.Generator().manual_seed(7)
        )
        through_flow = torch.sigmoid(model.decode(model.flow(z0, q.h)[0][0]))
        gaussian_only = torch.sigmoid(model.decode(z0[0]))
    torch.testing.assert_close(got, through_flow)
    assert (got - gaussian_only).abs().max() > 1e-3, "the draw must not skip the IAF"


def test_saved_configs_rebuild_the_right_network() -> None:
    legacy_plain = {
        **{"latent_dim": 16, "channels": [32, 64], "hidden_dim": 256, "kernel_size": 4},
        **{"res_blocks": 0, "flow_steps": 0, "prior_flow_steps": 0, "flow_hidden": 320},
    }
    assert type(config_from_dict(legacy_plain)) is VAEConfig
    assert type(config_from_dict({**legacy_plain, "res_blocks": 1})) is AdvancedVAEConfig
    with pytest.raises(ValueError, match="unknown model config keys depth"):
        config_from_dict({"depth": 3})
    legacy_flat = TrainConfig.from_dict({"latent_dim": 8, "res_blocks": 1, "epochs": 2})
    assert legacy_flat.model == AdvancedVAEConfig(latent_dim=8, res_blocks=1)


def test_the_residual_model_without_flows_keeps_the_closed_form_kl() -> None:
    torch.manual_seed(0)
    model = AdvancedVAE(config=AdvancedVAEConfig(latent_dim=4, channels=(4, 8), res_blocks=1))
    x = torch.bernoulli(torch.full((2, 1, 28, 28), 0.3))
    with torch.no_grad():
        terms = model_elbo(model, x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms.kl, gaussian_kl(*model.encode(x)))
    assert any(type(m).__name__ == "ResidualBlock" for m in model.encoder)
