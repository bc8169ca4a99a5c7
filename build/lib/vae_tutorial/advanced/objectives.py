"""Training on the importance-weighted bound instead of the ELBO.

Holds `IWAEObjective`, the loss -mean_b L_k(x_b) of eq. `iwae` with the same call
signature as `train.VAEObjective`, so the training loop takes either. It does not hold
the bound's evaluation (`elbo.log_likelihood`) or the loop (`train.py`).

Reference: Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders.
"""

from __future__ import annotations

from torch import Tensor

from ..elbo import LatentVariableModel, importance_terms, log_mean_exp


class IWAEObjective:
    """Loss = -mean_b L_k(x_b), L_k = log (1/k) sum_k w_k, eq. `iwae`.

    The logged metrics: "iwae" the bound; "elbo" the mean of the same k log-weights (an
    unbiased estimate of the ELBO); "recon_ll" the mean log p(x|z_k); "kl" the mean
    log q(z_k|x) - log p(z_k), a sampled KL.
    """

    def __init__(self, iwae_samples: int) -> None:
        if iwae_samples < 2:
            raise ValueError(f"the IWAE objective needs k >= 2 samples, got {iwae_samples}")
        self.iwae_samples = iwae_samples

    def __call__(
        self, model: LatentVariableModel, x: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        terms = importance_terms(model, x, self.iwae_samples)  # each (k, B)
        log_w = terms.log_weights  # (k, B)
        bound = log_mean_exp(log_w)  # (B,), eq. iwae
        metrics = {
            "elbo": log_w.mean().item(),
            "recon_ll": terms.log_px_z.mean().item(),
            "kl": (terms.log_qz - terms.log_pz).mean().item(),
            "beta": 1.0,
            "iwae": bound.mean().item(),
        }
        return -bound.mean(), metrics
