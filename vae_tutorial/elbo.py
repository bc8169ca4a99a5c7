"""The objective: the evidence lower bound (ELBO) and the importance-weighted bound.

Holds the two terms of the ELBO (Bernoulli reconstruction log-likelihood, closed-form
Gaussian KL), `calc_elbo`, the IWAE bound `iwae_bound` (differentiable, for training)
and `log_likelihood` (its chunked, gradient-free use as an estimate of log p(x)), and
`bits_per_dim`. It does not hold the network (`model.py`) or dataset-level evaluation
(`evaluate.py`).

Every quantity is per example, in nats, summed over the 784 pixels and D latent
dimensions (never averaged over pixels: that would rescale the likelihood against the KL).

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))                  eq. `elbo`
    log p(x) >= log (1/K) sum_k p(x, z_k) / q(z_k|x),  z_k ~ q      eq. `iwae`

References: Kingma & Welling (2014), Appendix B (the Gaussian KL);
Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from .model import Posterior, check_images, reparameterize

DECODES_PER_CHUNK = 1024


class LatentVariableModel(Protocol):
    """What the objective needs from a model: a Gaussian encoder and a Bernoulli decoder.

    `closed_form_kl` is True for a diagonal-Gaussian posterior and the N(0, I) prior;
    otherwise the KL is estimated from `sample_posterior` draws and `log_prior`.
    """

    closed_form_kl: bool

    def log_prior(self, z: Tensor) -> Tensor: ...

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]: ...

    def decode(self, z: Tensor) -> Tensor: ...

    def posterior(self, x: Tensor) -> Posterior: ...

    def sample_posterior(
        self, q: Posterior, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]: ...


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
    """The ELBO of each image, eq. `elbo`, with the KL in closed form.

    The expectation E_q[log p(x|z)] is estimated with `n_samples` reparameterized draws
    z = mu + sigma * eps (eq. `reparam`), so gradients flow to the encoder. A model with a
    flow posterior or a flow prior (`flows.py`) has no closed-form KL: its KL is estimated
    from the same draws as E_q[log q(z|x) - log p(z)].

    Args:
        model: a VAE (anything with `encode` and `decode`).
        x: (B, 1, 28, 28) images with values in [0, 1].
        n_samples: S, the Monte-Carlo samples per image for the reconstruction term.
        generator: optional torch.Generator for the noise.

    Returns:
        ELBO(elbo, recon_ll, kl), each (B,) in nats per example.
    """
    check_images(x)
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    if not model.closed_form_kl:
        return _sampled_kl_elbo(model, x, n_samples, generator)
    mu, logvar = model.encode(x)  # (B, D), (B, D)
    z = reparameterize(mu, logvar, n_samples, generator)  # (S, B, D)
    recon_ll = bernoulli_log_likelihood(model.decode(z), x).mean(0)  # (B,)
    kl = gaussian_kl(mu, logvar)  # (B,)
    return ELBO(recon_ll - kl, recon_ll, kl)


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
    q: Posterior | None = None,
) -> ImportanceTerms:
    """The three log-densities of k draws z_k ~ q(z|x) (eq. `reparam`, plus eq. `iaf` for flows).

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
    q: Posterior | None = None,
) -> Tensor:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for k draws z_k ~ q, eq. `iwae`.

    Args:
        x: (B, 1, 28, 28); k: number of draws; q: `model.posterior(x)` if already computed.

    Returns:
        (k, B) log-weights in nats.
    """
    return importance_terms(model, x, k, generator, q).log_weights


def _sampled_kl_elbo(
    model: LatentVariableModel, x: Tensor, n_samples: int, generator: torch.Generator | None
) -> ELBO:
    """`calc_elbo` with a flow posterior or prior: both terms averaged over `n_samples` draws."""
    terms = importance_terms(model, x, n_samples, generator)  # each (S, B)
    recon_ll = terms.log_px_z.mean(0)  # (B,)
    kl = (terms.log_qz - terms.log_pz).mean(0)  # (B,), Monte-Carlo KL(q || p)
    return ELBO(recon_ll - kl, recon_ll, kl)


def iwae_bound(
    model: LatentVariableModel,
    x: Tensor,
    k: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The importance-weighted bound L_k(x) (differentiable), eq. `iwae`.

    L_k = log (1/k) sum_k w_k. L_1 is the ELBO with a sampled KL; L_k rises to log p(x)
    as k grows. Memory grows with k * B: use `log_likelihood` for large k.

    Returns:
        (B,) bound in nats per example.
    """
    check_images(x)
    log_w = log_importance_weights(model, x, k, generator)  # (k, B)
    return torch.logsumexp(log_w, dim=0) - math.log(k)


@torch.no_grad()
def log_likelihood(
    model: LatentVariableModel,
    x: Tensor,
    k: int = 1000,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Importance-sampled estimate of log p(x) with k samples (the IWAE bound), eq. `iwae`.

    The k draws are decoded in chunks of `chunk_size` samples at once (batched over both
    samples and images, no Python loop per image) and combined with one log-sum-exp.
    The estimate is a lower bound in expectation that tightens as k grows; -log_likelihood
    is the test "NLL" reported in the literature.

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
    return torch.logsumexp(log_w, dim=0) - math.log(k)


def bits_per_dim(nats: Tensor | float, dims: int = 784) -> Tensor | float:
    """Convert nats per image to bits per dimension: nats / (dims * ln 2)."""
    return nats / (dims * math.log(2.0))
