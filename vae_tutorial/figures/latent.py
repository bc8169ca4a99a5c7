"""The code space: the aggregate posterior against the prior, and collapse over training.

Holds
    aggregate_log_density(mu, logvar, z)   log q(z) = log 1/N sum_n q(z | x_n), the
                                           aggregate posterior of N images, at points z;
    aggregate_posterior(model, x)          log p(z) and log q(z) of a 2-D model on one grid,
                                           side by side: where q(z) is low and p(z) is not,
                                           a draw from the prior decodes to no image seen
                                           in training (the "holes");
    kl_trace(model, optimizer, objective, batches, x)
                                           each dimension's KL on fixed images x, before
                                           training and after every `train_step`;
    posterior_collapse(traces)             those traces as one heat map per run: a row that
                                           goes dark is a dimension switched off.
It does not train models for the book (`train.py`, `book.py`).

References: Hoffman & Johnson (2016) (the aggregate posterior); Bowman et al. (2016) and
Lucas et al. (2019) (posterior collapse).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from ..elbo import log_mean_exp
from ..evaluate import kl_per_dimension, posterior_statistics
from ..model import VAE, gaussian_log_prob
from ..train import Objective, train_step
from .canvas import new_figure


def aggregate_log_density(mu: Tensor, logvar: Tensor, z: Tensor, chunk: int = 1024) -> Tensor:
    """log q(z) = log 1/N sum_n N(z; mu_n, diag exp(logvar_n)): (N, D), (N, D), (M, D) -> (M,)."""
    return torch.cat(
        [
            log_mean_exp(gaussian_log_prob(z[s : s + chunk, None], mu, logvar), dim=1)
            for s in range(0, len(z), chunk)
        ]
    )  # (M,): the (M, N) table of log q(z_m | x_n) reduced over n


def _grid(limit: float, n: int) -> tuple[np.ndarray, Tensor]:
    axis = np.linspace(-limit, limit, n)
    zz = torch.tensor(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), dtype=torch.float32)
    return axis, zz  # (n,), (n * n, 2)


def aggregate_posterior(model: VAE, x: Tensor, limit: float = 3.5, n: int = 141) -> Figure:
    """log p(z) and log q(z) of a model with latent_dim 2 over [-limit, limit]^2.

    Both panels share one colour scale (nats); the circles are the prior's 1, 2, 3 sigma.
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"the aggregate-posterior map needs latent_dim 2, got {model.latent_dim}; use mnist-z2"
        )
    mu, logvar = posterior_statistics(model, x)  # (N, 2) each
    axis, zz = _grid(limit, n)
    with torch.no_grad():
        log_q = aggregate_log_density(mu, logvar, zz).reshape(n, n).numpy()
        log_p = gaussian_log_prob(zz, torch.zeros(2), torch.zeros(2)).reshape(n, n).numpy()
    low = float(log_p.min())
    high = float(max(log_p.max(), log_q.max()))
    fig = new_figure((11, 4.8))
    axes = fig.subplots(1, 2)
    for ax, values, title in [
        (axes[0], log_p, r"prior: $\log p(z)$"),
        (axes[1], log_q, rf"aggregate posterior of {len(x)} images: $\log q(z)$"),
    ]:
        mesh = ax.pcolormesh(axis, axis, np.clip(values, low, None), vmin=low, vmax=high,
                             cmap="viridis", shading="auto")  # fmt: skip
        for radius in (1, 2, 3):
            circle = np.linspace(0, 2 * math.pi, 200)
            ax.plot(radius * np.cos(circle), radius * np.sin(circle), "w--", lw=0.8)
        ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title, aspect="equal")
    fig.colorbar(mesh, ax=axes, label="log density (nats), clipped at the prior's minimum")
    return fig


def kl_trace(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    objective: Objective,
    batches: Iterable[Tensor],
    x: Tensor,
) -> Tensor:
    """KL per dimension (nats, mean over the images x) before training and after each step.

    Trains `model` in place with `train_step` on each batch of `batches`.

    Returns:
        (steps + 1, D): row 0 before the first step, row t after step t.
    """

    def measure() -> Tensor:
        return kl_per_dimension(*posterior_statistics(model, x))  # (D,)

    rows = [measure()]
    for step, batch in enumerate(batches):
        model.train()
        train_step(model, optimizer, objective, batch, step)
        rows.append(measure())
    return torch.stack(rows)  # (steps + 1, D)


def posterior_collapse(traces: Mapping[str, Tensor], vmax: float | None = None) -> Figure:
    """One heat map per run: dimension (rows, numbered from 1) against step, colour = KL."""
    vmax = vmax or max(float(t.max()) for t in traces.values())
    fig = new_figure((4.2 * len(traces) + 1, 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(traces), sharey=True))
    for ax, (name, trace) in zip(axes, traces.items(), strict=True):
        steps, dims = trace.shape
        image = ax.imshow(trace.T.numpy(), aspect="auto", origin="lower", cmap="magma",
                          vmin=0.0, vmax=vmax, interpolation="nearest",
                          extent=(-0.5, steps - 0.5, 0.5, dims + 0.5))  # fmt: skip
        ax.set(xlabel="optimizer step", title=name)
    axes[0].set_ylabel("latent dimension")
    fig.colorbar(image, ax=list(axes), label="KL of the dimension (nats per image)")
    return fig
