"""Pictures of the bounds: the ELBO's gap on the toy model, and IWAE's k-sample bounds.

Holds
    elbo_gap(toy, x)       -ELBO(q) = -log p(x) + KL(q || p(z|x)) (eq. `elbo-identity`) as
                           stacked bars, from the linear-Gaussian model's exact numbers, for
                           q moving in a straight line from the prior to the posterior, beside
                           the densities of those q and of p(z|x);
    iwae_curves(model, x)  the k-sample estimates log 1/k sum_{i<=k} w_i for k = 1..K
                           (eq. `iwae`) of one image, `repeats` times;
    iwae_bounds(model, x)  the normalized importance weights of one set of K draws, and the
                           estimates' mean over the repeats, which estimates L_k, against k.
It does not compute the bounds themselves (`toy.py`, `elbo.py`).

References: Burda et al. (2016), section 3; Cremer et al. (2018) (the gap's two parts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..elbo import LatentVariableModel, log_importance_weights
from ..model import check_images
from ..toy import LinearGaussian
from .canvas import new_figure

Q_PATH = (0.0, 0.25, 0.5, 0.75, 1.0)  # t: q = N((1-t) 0 + t m_post, (1-t) 1 + t s2_post)


def q_on_path(toy: LinearGaussian, x: float, t: float) -> tuple[float, float]:
    """Mean and variance of q_t, a fraction t of the straight line from p(z) to p(z|x)."""
    post_mean, post_var = toy.posterior(x)
    return t * post_mean, (1 - t) * 1.0 + t * post_var


def _normal_pdf(z: np.ndarray, mean: float, var: float) -> np.ndarray:
    return np.exp(-0.5 * (z - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)


def elbo_gap(toy: LinearGaussian, x: float, path: Sequence[float] = Q_PATH) -> Figure:
    """Left: q_t and p(z|x); right: -ELBO(q_t) split into -log p(x) and the gap, per t."""
    fig = new_figure((11, 4))
    densities, bars = fig.subplots(1, 2)
    z = np.linspace(-3.0, 3.0, 601)
    post_mean, post_var = toy.posterior(x)
    colours = [f"C{i}" for i in range(len(path))]
    for t, colour in zip(path, colours, strict=True):
        m, s2 = q_on_path(toy, x, t)
        densities.plot(z, _normal_pdf(z, m, s2), color=colour, lw=1.4, label=f"$q_{{{t:g}}}$")
    densities.plot(z, _normal_pdf(z, post_mean, post_var), "k--", lw=2, label=r"$p(z \mid x)$")
    densities.set(xlabel="z", ylabel="density", title=f"q moves from the prior to p(z | x = {x:g})")
    densities.legend()
    minus_log_px = -toy.log_marginal(x)
    positions = np.arange(len(path))
    gaps = [toy.kl_to_posterior(x, *q_on_path(toy, x, t)) for t in path]
    bars.bar(
        positions, [minus_log_px] * len(path), color="0.75", label=r"$-\log p(x)$", gid="evidence"
    )
    bars.bar(
        positions,
        gaps,
        bottom=minus_log_px,
        color=colours,
        label=r"KL$(q_t \,\|\, p(z \mid x))$",
        gid="gap",
    )
    for position, gap in zip(positions, gaps, strict=True):
        bars.text(
            position,
            minus_log_px + gap + 0.03,
            f"{minus_log_px + gap:.3f}",
            ha="center",
            va="bottom",
        )
    bars.set_xticks(positions, [f"t = {t:g}" for t in path])
    bars.set(
        ylabel="nats",
        title=r"$-\mathrm{ELBO}(q_t) = -\log p(x) + \mathrm{KL}(q_t \,\|\, p(z \mid x))$",
    )
    bars.legend(loc="upper right")
    return fig


@torch.no_grad()
def repeated_log_weights(
    model: LatentVariableModel,
    x: Tensor,
    k: int = 64,
    repeats: int = 20,
    generator: torch.Generator | None = None,
) -> Tensor:
    """log w_i of `repeats` independent sets of k draws z_i ~ q(z|x) for one image x.

    Args:
        x: (1, 1, 28, 28), one image.

    Returns:
        (repeats, k) log-weights in nats (eq. `iwae`).
    """
    check_images(x)
    if x.shape[0] != 1:
        raise ValueError(f"one image, shape (1, 1, 28, 28), is needed; got {tuple(x.shape)}")
    return log_importance_weights(model, x.expand(repeats, *x.shape[1:]), k, generator).T


def prefix_estimates(log_w: Tensor) -> Tensor:
    """log 1/j sum_{i<=j} w_i for j = 1..k along the last dim: (..., k) -> (..., k) nats."""
    counts = torch.arange(1, log_w.shape[-1] + 1, dtype=log_w.dtype).log()  # log j
    return torch.logcumsumexp(log_w, dim=-1) - counts  # the estimate of eq. `iwae` for each prefix


def iwae_bounds(
    model: LatentVariableModel,
    x: Tensor,
    k: int = 64,
    repeats: int = 20,
    log_px: float | None = None,
    generator: torch.Generator | None = None,
) -> Figure:
    """Left: w_i / sum w of one set of k draws; right: the j-sample estimates against j.

    The right panel shows each set's estimates faintly and their mean over the `repeats`
    sets, which estimates the bound L_j; the ELBO (the mean of all the log-weights) and, if
    given, `log_px` (an importance-sampled log p(x) with many more samples) as lines.
    """
    log_w = repeated_log_weights(model, x, k, repeats, generator)  # (R, k)
    estimates = prefix_estimates(log_w)  # (R, k)
    fig = new_figure((11, 4))
    weights_ax, bound_ax = fig.subplots(1, 2)
    normalized = torch.softmax(log_w[0], dim=0)  # w_i / sum_i w_i of the first set
    weights_ax.bar(np.arange(1, k + 1), normalized.numpy(), color="C0", gid="weights")
    weights_ax.set(
        xlabel="draw i", ylabel=r"$w_i / \sum_j w_j$",
        title=f"normalized weights of {k} draws: the largest is {normalized.max():.2f}",
    )  # fmt: skip
    j = np.arange(1, k + 1)
    for row in estimates:
        bound_ax.plot(j, row.numpy(), color="C0", alpha=0.15, lw=0.8)
    bound_ax.plot(j, estimates.mean(0).numpy(), color="C0", lw=2.2, gid="mean",
                  label=f"mean of {repeats} sets: estimates $L_j$")  # fmt: skip
    elbo = log_w.mean().item()  # E_q[log w] is the ELBO: its estimate from all R k draws
    bound_ax.axhline(
        elbo, color="C1", ls="-.", label=f"ELBO: mean of all {repeats * k} log $w$", gid="elbo"
    )
    if log_px is not None:
        bound_ax.axhline(log_px, color="k", ls="--", label=r"$\log p(x)$ estimate", gid="log_px")
    bound_ax.set_xscale("log")
    bound_ax.set(xlabel="number of samples j", ylabel="nats", title="the j-sample bound tightens")
    bound_ax.legend(loc="lower right")
    return fig
