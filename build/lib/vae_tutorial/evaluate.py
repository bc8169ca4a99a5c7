"""Dataset-level evaluation: test ELBO and importance-sampled log-likelihood.

Holds `evaluate_elbo` and `evaluate_log_likelihood`, which run `elbo.model_elbo` and
`elbo.log_likelihood` over a whole (fixed-binarized) test set in batches, with a fixed
noise seed so that results repeat, the `Evaluation` summary the command line and the
book report, and the posterior's statistics: active units, KL per dimension, and the
rate split into mutual information and marginal KL. It does not hold the bounds
themselves (`elbo.py`).

References: Burda et al. (2016), active units; Hoffman & Johnson (2016), ELBO surgery.

Reported the literature's way: mean over images, in nats per image; NLL = -log p(x).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor
from tqdm import tqdm

from .data import seeded_generator
from .elbo import (
    ELBO,
    LatentVariableModel,
    bits_per_dim,
    gaussian_kl,
    log_likelihood,
    log_mean_exp,
    model_elbo,
)
from .model import evaluating, gaussian_log_prob, reparameterize

EVAL_NOISE_SEED = 1234


def evaluate_elbo(
    model: LatentVariableModel, x: Tensor, batch_size: int = 1000, seed: int = EVAL_NOISE_SEED
) -> ELBO:
    """ELBO terms of every image in x (N, 1, 28, 28): ELBO of (N,) tensors, nats per image."""
    generator = seeded_generator(seed)
    parts: list[ELBO] = []
    with evaluating(model):
        device = next(model.parameters()).device
        for start in range(0, x.shape[0], batch_size):
            parts.append(model_elbo(model, x[start : start + batch_size].to(device), 1, generator))
    return ELBO(*(torch.cat([getattr(p, f) for p in parts]).cpu() for f in ELBO._fields))


def evaluate_log_likelihood(
    model: LatentVariableModel,
    x: Tensor,
    k: int = 1000,
    batch_size: int = 100,
    seed: int = EVAL_NOISE_SEED,
    progress: bool = True,
) -> Tensor:
    """Importance-sampled log p(x) (eq. `iwae`) of every image in x: (N,) nats per image."""
    generator = seeded_generator(seed)
    out: list[Tensor] = []
    with evaluating(model):
        device = next(model.parameters()).device
        starts = range(0, x.shape[0], batch_size)
        for start in tqdm(starts, desc=f"log p(x), k={k}", disable=not progress, leave=False):
            batch = x[start : start + batch_size].to(device)
            out.append(log_likelihood(model, batch, k, generator=generator).cpu())
    return torch.cat(out)


@dataclass(frozen=True)
class Evaluation:
    """Test-set summary in nats per image (means over `n_images`)."""

    n_images: int
    elbo: float
    recon_ll: float
    kl: float
    nll: float | None = None
    k: int | None = None

    @property
    def bits_per_dim(self) -> float | None:
        return None if self.nll is None else float(bits_per_dim(self.nll))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bits_per_dim": self.bits_per_dim}


def evaluate(
    model: LatentVariableModel,
    x: Tensor,
    k: int | None = None,
    batch_size: int = 100,
    progress: bool = True,
) -> Evaluation:
    """Mean test ELBO terms and, when k is given, the importance-sampled NLL with k samples."""
    terms = evaluate_elbo(model, x)
    nll = None
    if k is not None:
        nll = -evaluate_log_likelihood(model, x, k, batch_size, progress=progress).mean().item()
    return Evaluation(
        n_images=x.shape[0],
        elbo=terms.elbo.mean().item(),
        recon_ll=terms.recon_ll.mean().item(),
        kl=terms.kl.mean().item(),
        nll=nll,
        k=k,
    )


@torch.no_grad()
def posterior_statistics(
    model: LatentVariableModel, x: Tensor, batch_size: int = 1000
) -> tuple[Tensor, Tensor]:
    """Posterior means and log-variances of every image in x: (N, D) and (N, D)."""
    with evaluating(model):
        device = next(model.parameters()).device
        parts = [
            model.encode(x[s : s + batch_size].to(device)) for s in range(0, len(x), batch_size)
        ]
    return torch.cat([m for m, _ in parts]).cpu(), torch.cat([v for _, v in parts]).cpu()


def active_units(mu: Tensor, threshold: float = 0.01) -> Tensor:
    """Which latent dimensions are active: Cov_x(E_q[z_u | x]) > threshold (Burda et al. 2016).

    Args:
        mu: (N, D) posterior means over a dataset.

    Returns:
        (D,) boolean mask.
    """
    return mu.var(dim=0) > threshold


def kl_per_dimension(mu: Tensor, logvar: Tensor) -> Tensor:
    """Mean over images of each dimension's term of eq. `kl-gauss`: (N, D), (N, D) -> (D,) nats."""
    return gaussian_kl(mu[..., None], logvar[..., None]).mean(0)  # each dimension as a 1-D KL


class RateDecomposition(NamedTuple):
    """The rate and its two parts, nats per image (estimates, see `rate_decomposition`).

    rate: E_x KL(q(z|x) || p(z)), exact given the images; mutual_information: a lower
    bound on I_q(x; z) (at most log_n); marginal_kl: rate - mutual_information, an upper
    bound on KL(q(z) || p(z)) of the aggregate posterior; log_n: log N for N images.
    """

    rate: float
    mutual_information: float
    marginal_kl: float
    log_n: float


@torch.no_grad()
def rate_decomposition(
    model: LatentVariableModel,
    x: Tensor,
    seed: int = EVAL_NOISE_SEED,
    chunk_size: int = 256,
) -> RateDecomposition:
    """Split the rate: E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || p(z)).

    Hoffman & Johnson (2016). For a diagonal-Gaussian q(z|x) and p(z) = N(0, I), over N
    images x. With one draw z_n ~ q(z|x_n) per image,

        I_hat = 1/N sum_n [log q(z_n|x_n) - log 1/N sum_m q(z_n|x_m)]

    (eq. `mi-estimate`) is the InfoNCE bound with q(z|x) as critic (van den Oord et al.
    2018; Poole et al. 2019): in expectation at most I_q(x; z), and never above log N. So
    the reported marginal KL, rate - I_hat, is an upper bound on KL(q(z) || p(z)); when
    I_hat is near log N the posteriors are well separated and I_q may be far larger.

    Args:
        x: (N, 1, 28, 28) images in [0, 1].

    Returns:
        RateDecomposition(rate, mutual_information, marginal_kl, log_n), nats per image.
    """
    mu, logvar = posterior_statistics(model, x)  # (N, D) each
    z = reparameterize(mu, logvar, generator=seeded_generator(seed))  # (N, D)
    log_q_own = gaussian_log_prob(z, mu, logvar)  # (N,)
    log_q_aggregate = torch.cat(
        [
            log_mean_exp(gaussian_log_prob(z[s : s + chunk_size, None], mu, logvar), dim=1)
            for s in range(0, len(z), chunk_size)
        ]
    )  # (N,): log 1/N sum_m q(z_n | x_m), the (n, N) table reduced over m
    rate = gaussian_kl(mu, logvar).mean().item()
    information = (log_q_own - log_q_aggregate).mean().item()
    return RateDecomposition(rate, information, rate - information, math.log(len(z)))
