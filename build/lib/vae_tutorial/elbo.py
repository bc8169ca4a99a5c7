"""The objective: the evidence lower bound (ELBO) and the importance-weighted bound.

Holds the two terms of the ELBO (Bernoulli reconstruction log-likelihood, closed-form
Gaussian KL), `calc_elbo`, `model_elbo` (the ELBO of any model: `calc_elbo`, or the
model's own estimate when its KL has no closed form), the importance weights and the
IWAE bound `iwae_bound` (differentiable), `log_likelihood` (its chunked, gradient-free
use as an estimate of log p(x)), and `bits_per_dim`. It does not hold the network
(`model.py`) or dataset-level evaluation (`evaluate.py`).

Every quantity is per example, in nats, summed over the 784 pixels and D latent
dimensions (never averaged over pixels: that would rescale the likelihood against the KL).

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))                  eq. `elbo`
    L_k(x) = E[log (1/k) sum_k p(x, z_k) / q(z_k|x)],  z_k ~ q      eq. `iwae`

References: Kingma & Welling (2014), Appendix B (the Gaussian KL);
Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from .model import check_images, reparameterize

DECODES_PER_CHUNK = 1024


class LatentVariableModel(Protocol):
    """What the bounds need from a model: an encoder, a decoder and three distributions.

    `posterior(x)` describes q(z|x) for a batch; `sample_posterior(q, S)` draws from it
    with log-densities; `log_prior` is log p(z). `VAE` (model.py) is one.
    """

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]: ...

    def decode(self, z: Tensor) -> Tensor: ...

    def posterior(self, x: Tensor) -> Any: ...

    def sample_posterior(
        self, q: Any, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]: ...

    def log_prior(self, z: Tensor) -> Tensor: ...


class ELBO(NamedTuple):
    """Per-example terms of the ELBO, each of shape (B,) in nats: elbo == recon_ll - kl."""

    elbo: Tensor
    recon_ll: Tensor
    kl: Tensor


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x|z) = sum_i x_i log p_i + (1 - x_i) log(1 - p_i), eq. `bernoulli-likelihood`.

    Computed from logits (p = sigmoid(logits)) with the stable binary cross-entropy,
    never as log(sigmoid(.)).

    Args:
        logits: (..., B, 1, 28, 28) decoder output; leading sample axes broadcast against x.
        x: (B, 1, 28, 28) targets in [0, 1].

    Returns:
        (..., B) log-likelihood in nats, summed over pixels.
    """
    bce = F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
    return -bce.flatten(start_dim=-3).sum(-1)  # (..., B)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in closed form, eq. `kl-gauss`.

    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1).

    Args:
        mu, logvar: (B, D).

    Returns:
        (B,) KL divergence in nats.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(-1)  # eq. kl-gauss


def calc_elbo(
    model: LatentVariableModel,
    x: Tensor,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> ELBO:
    """ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) of each image, eq. `elbo`.

    The expectation is estimated with `n_samples` reparameterized draws
    z = mu + sigma * eps (eq. `reparam`), so gradients flow to the encoder; the KL of the
    diagonal Gaussian from N(0, I) is exact (eq. `kl-gauss`).

    Args:
        model: a VAE (anything with `encode` and `decode`).
        x: (B, 1, 28, 28) images with values in [0, 1].
        n_samples: S, the Monte-Carlo samples per image for the reconstruction term.
        generator: optional torch.Generator for the noise.

    Returns:
        ELBO(elbo, recon_ll, kl), each (B,) in nats per example.
    """
    check_images(x)
    check_n_samples(n_samples)
    mu, logvar = model.encode(x)  # (B, D), (B, D)
    z = reparameterize(mu, logvar, n_samples, generator)  # (S, B, D)
    recon_ll = bernoulli_log_likelihood(model.decode(z), x).mean(0)  # (B,)
    kl = gaussian_kl(mu, logvar)  # (B,)
    return ELBO(recon_ll - kl, recon_ll, kl)


def check_n_samples(n_samples: int) -> None:
    """Raise ValueError unless n_samples >= 1."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")


def model_elbo(
    model: LatentVariableModel,
    x: Tensor,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> ELBO:
    """The ELBO of any model: `calc_elbo`, or the model's own `elbo` method when it has one.

    A model whose KL has no closed form (the flows of `advanced.AdvancedVAE`) defines
    `elbo(x, n_samples, generator)`; the plain `VAE` does not. Training and evaluation call
    this, so they serve both. Returns ELBO(elbo, recon_ll, kl), each (B,) nats.
    """
    own = getattr(model, "elbo", None)
    if own is not None:
        return own(x, n_samples, generator)
    return calc_elbo(model, x, n_samples, generator)


class ImportanceTerms(NamedTuple):
    """log p(x|z_k), log p(z_k) and log q(z_k|x) of k posterior draws, each (k, B) nats."""

    log_px_z: Tensor
    log_pz: Tensor
    log_qz: Tensor

    @property
    def log_weights(self) -> Tensor:
        """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), eq. `iwae`: (k, B)."""
        return self.log_px_z + self.log_pz - self.log_qz


def importance_terms(
    model: LatentVariableModel,
    x: Tensor,
    k: int,
    generator: torch.Generator | None = None,
    q: Any = None,
) -> ImportanceTerms:
    """The three log-densities of k draws z_k ~ q(z|x), drawn by the model's own sampler.

    Args:
        x: (B, 1, 28, 28); k: number of draws per image.
        q: `model.posterior(x)` when already computed (None = encode x here).
    """
    q = model.posterior(x) if q is None else q
    z, log_qz = model.sample_posterior(q, k, generator)  # (k, B, D), (k, B)
    log_px_z = bernoulli_log_likelihood(model.decode(z), x)  # (k, B)
    return ImportanceTerms(log_px_z, model.log_prior(z), log_qz)


def log_importance_weights(
    model: LatentVariableModel,
    x: Tensor,
    k: int,
    generator: torch.Generator | None = None,
    q: Any = None,
) -> Tensor:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for k draws z_k ~ q, eq. `iwae`.

    Args:
        x: (B, 1, 28, 28); k: number of draws; q: `model.posterior(x)` if already computed.

    Returns:
        (k, B) log-weights in nats.
    """
    return importance_terms(model, x, k, generator, q).log_weights


def log_mean_exp(log_w: Tensor, dim: int = 0) -> Tensor:
    """log (1/k) sum_k exp(log_w_k) along `dim` (k = its size), stably, eq. `iwae`."""
    return torch.logsumexp(log_w, dim=dim) - math.log(log_w.shape[dim])


def iwae_bound(
    model: LatentVariableModel,
    x: Tensor,
    k: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One draw of the importance-weighted estimate log (1/k) sum_k w_k (differentiable).

    Its expectation over the k draws is the bound L_k of eq. `iwae`: L_1 is the ELBO,
    and L_1 <= L_k <= L_{k+1} <= log p(x). One draw is an estimate and can exceed
    log p(x). Memory grows with k * B: use `log_likelihood` for large k.

    Returns:
        (B,) in nats per example.
    """
    check_images(x)
    return log_mean_exp(log_importance_weights(model, x, k, generator))  # (B,)


@torch.no_grad()
def log_likelihood(
    model: LatentVariableModel,
    x: Tensor,
    k: int = 1000,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Importance-sampled estimate of log p(x) with k samples, eq. `iwae`.

    The k draws are decoded in chunks of `chunk_size` samples at once (batched over both
    samples and images, no Python loop per image) and combined with one log-sum-exp.
    Its expectation is the bound L_k <= log p(x), which tightens as k grows (one estimate
    can land above log p(x)); -log_likelihood is the test "NLL" of the literature.

    Args:
        model: a VAE.
        x: (B, 1, 28, 28) images in [0, 1].
        k: importance samples per image.
        chunk_size: samples decoded at once; default decodes about `DECODES_PER_CHUNK` codes
            per pass (measured fastest on a 2-core CPU).
        generator: optional torch.Generator for the noise.

    Returns:
        (B,) estimate of log p(x) in nats per example.
    """
    check_images(x)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if chunk_size is None:
        chunk_size = max(1, min(k, DECODES_PER_CHUNK // x.shape[0]))
    q = model.posterior(x)  # one encoder pass for all k draws
    log_w = torch.cat(
        [
            log_importance_weights(model, x, min(chunk_size, k - start), generator, q)
            for start in range(0, k, chunk_size)
        ]
    )  # (k, B)
    return log_mean_exp(log_w)  # (B,)


def bits_per_dim(nats: Tensor | float, dims: int = 784) -> Tensor | float:
    """Convert nats per image to bits per dimension: nats / (dims * ln 2)."""
    return nats / (dims * math.log(2.0))
