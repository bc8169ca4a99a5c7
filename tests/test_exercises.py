"""The graders of chapter 4 pass the reference and name each usual mistake."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vae_tutorial import calc_elbo
from vae_tutorial.exercises import check_calc_elbo, check_sample


def _terms(model, x, z, mean_pixels=False):
    bce = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none")
    recon = -(bce.mean((1, 2, 3)) if mean_pixels else bce.sum((1, 2, 3)))
    mu, logvar = model.encode(x)
    kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)
    return recon, kl


def _z(model, x):
    mu, logvar = model.encode(x)
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def correct(model, x):
    recon, kl = _terms(model, x, _z(model, x))
    return recon - kl, recon, kl


def correct_other_noise(model, x):
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape[1], mu.shape[0]).T
    recon, kl = _terms(model, x, z)
    return recon - kl, recon, kl


def kl_sign(model, x):
    recon, kl = _terms(model, x, _z(model, x))
    return recon + kl, recon, -kl


def mean_over_pixels(model, x):
    recon, kl = _terms(model, x, _z(model, x), mean_pixels=True)
    return recon - kl, recon, kl


def log_of_sigmoid(model, x):
    p = torch.sigmoid(model.decode(_z(model, x)))
    recon = (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum((1, 2, 3))
    _, kl = _terms(model, x, _z(model, x))
    return recon - kl, recon, kl


def no_reparameterization(model, x):
    mu, logvar = model.encode(x)
    recon, kl = _terms(model, x, torch.normal(mu, torch.exp(0.5 * logvar)).detach())
    return recon - kl, recon, kl


def batch_mean(model, x):
    elbo, recon, kl = correct(model, x)
    return elbo.mean(), recon.mean(), kl.mean()


def test_reference_and_correct_variants_pass() -> None:
    for fn in (lambda m, x: calc_elbo(m, x), correct, correct_other_noise):
        verdict = check_calc_elbo(fn)
        assert verdict.passed, str(verdict)
        assert str(verdict).startswith("PASS calc_elbo")


def test_each_mistake_gets_its_own_diagnosis() -> None:
    expected = {
        kl_sign: "wrong sign",
        mean_over_pixels: "sum log p(x|z) over the 784 pixels",
        log_of_sigmoid: "never as log(sigmoid(logits))",
        no_reparameterization: "reparameterization trick",
        batch_mean: "one value per image",
    }
    for fn, phrase in expected.items():
        verdict = check_calc_elbo(fn)
        assert not verdict.passed and len(verdict.problems) == 1, (fn.__name__, str(verdict))
        assert phrase in verdict.problems[0], (fn.__name__, str(verdict))


def test_sample_grader() -> None:
    def correct_sample(model, n):
        return torch.sigmoid(model.decode(torch.randn(n, model.latent_dim)))

    def from_posterior(model, n):
        mu, logvar = model.encode(torch.rand(n, 1, 28, 28))
        return torch.sigmoid(model.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)))

    def logits(model, n):
        return model.decode(torch.randn(n, model.latent_dim))

    def uniform(model, n):
        return torch.sigmoid(model.decode(torch.rand(n, model.latent_dim)))

    def binary(model, n):
        return torch.bernoulli(correct_sample(model, n))

    assert check_sample(correct_sample).passed
    for fn, phrase in [(from_posterior, "not from q(z|x)"), (logits, "apply torch.sigmoid"),
                       (uniform, "prior N(0, I)"), (binary, "not binary draws")]:  # fmt: skip
        verdict = check_sample(fn)
        assert not verdict.passed and phrase in str(verdict), (fn.__name__, str(verdict))
