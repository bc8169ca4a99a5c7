"""Dataset-level evaluation: test ELBO and importance-sampled log-likelihood.

Holds `evaluate_elbo` and `evaluate_log_likelihood`, which run `elbo.calc_elbo` and
`elbo.log_likelihood` over a whole (fixed-binarized) test set in batches, with a fixed
noise seed so that results repeat, and the `Evaluation` summary the command line and the
book report. It does not hold the bounds themselves (`elbo.py`).

Reported the literature's way: mean over images, in nats per image; NLL = -log p(x).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from .data import seeded_generator
from .elbo import ELBO, LatentVariableModel, bits_per_dim, log_likelihood, model_elbo
from .model import evaluating

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
    return (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)).mean(0)
