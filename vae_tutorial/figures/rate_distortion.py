"""The rate-distortion plane: each run as a point (R, D), and lines of constant ELBO.

Holds `rate_distortion_plane(points, through)`: the runs' rate R = E_x KL(q(z|x) || p(z))
against their distortion D = -E_x E_q log p(x|z), both in nats per image, each point
labelled, and the line D + R = -ELBO through the run `through`: every point on it has that
run's ELBO, points below it a better one (eq. `rate-information` and the text around it).
It does not compute rates or distortions (`evaluate.py`, chapter 9's runs).

Reference: Alemi et al. (2018), Fixing a broken ELBO, figure 1.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from .canvas import new_figure


def rate_distortion_plane(
    points: Mapping[str, tuple[float, float]], through: str, title: str | None = None
) -> Figure:
    """Points {label: (rate, distortion)} in nats and the line D + R = R_t + D_t.

    `through` names the point the constant-ELBO line passes through.
    """
    if through not in points:
        raise KeyError(f"through={through!r} is not one of the points {list(points)}")
    fig = new_figure((6.5, 4.8))
    ax = fig.subplots()
    rates = np.array([r for r, _ in points.values()])
    distortions = np.array([d for _, d in points.values()])
    ax.plot(rates, distortions, "o", color="C0", gid="runs")
    for label, (r, d) in points.items():
        ax.annotate(label, (r, d), xytext=(6, 4), textcoords="offset points")
    total = sum(points[through])  # D + R = -ELBO of the run `through`
    span = rates.max() - rates.min() or 1.0
    r_line = np.array([max(0.0, rates.min() - 0.15 * span), rates.max() + 0.15 * span])
    ax.plot(r_line, total - r_line, "k--", lw=1, gid="constant-elbo",
            label=f"D + R = {total:.2f} = -ELBO of {through}")  # fmt: skip
    ax.set(
        xlabel="rate R = KL (nats per image)", ylabel="distortion D = -log p(x|z) (nats per image)"
    )
    ax.set_title(title or "rate and distortion; below the dashed line the ELBO is better")
    ax.legend(loc="upper right")
    return fig
