"""Ancestral sampling, step by step: a code from the prior, its pixel probabilities, a draw.

Holds `generation_steps(model, generator)`, which draws z ~ N(0, I), decodes it to the
Bernoulli means sigmoid(decoder(z)) and draws x ~ p(x|z) from them, and
`ancestral_sampling(model, generator)`, which shows the three side by side: the code as a
bar per dimension, the mean image, the binary sample. It does not hold `sample` (which
returns both the means and a draw, `sampling.py`).

Reference: Kingma & Welling (2019), section 2.5.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..model import VAE
from ..sampling import decode_probs
from .canvas import new_figure


class GenerationSteps(NamedTuple):
    """One ancestral sample: z (D,), the Bernoulli means (28, 28), the draw x (28, 28)."""

    z: Tensor
    probs: Tensor
    x: Tensor


@torch.no_grad()
def generation_steps(model: VAE, generator: torch.Generator | None = None) -> GenerationSteps:
    """z ~ N(0, I), probs = sigmoid(decoder(z)), x ~ Bernoulli(probs), with one generator."""
    z = torch.randn(1, model.latent_dim, generator=generator)  # (1, D)
    probs = decode_probs(model, z)  # (1, 1, 28, 28)
    x = torch.bernoulli(probs, generator=generator)  # (1, 1, 28, 28)
    return GenerationSteps(z[0], probs[0, 0], x[0, 0])


def ancestral_sampling(model: VAE, generator: torch.Generator | None = None) -> Figure:
    """Three panels: z ~ p(z), the decoder's p(x_i = 1 | z), and x ~ p(x | z)."""
    steps = generation_steps(model, generator)
    fig = new_figure((11, 3.4))
    code_ax, probs_ax, draw_ax = fig.subplots(1, 3, width_ratios=[1.4, 1, 1])
    code_ax.bar(np.arange(1, len(steps.z) + 1), steps.z.numpy(), color="C0", gid="z")
    code_ax.axhline(0, color="k", lw=0.6)
    code_ax.set(xlabel="dimension j", ylabel="$z_j$", title=r"1. $z \sim \mathcal{N}(0, I)$")
    probs_ax.imshow(1 - steps.probs.numpy(), cmap="gray", vmin=0, vmax=1, gid="probs")
    probs_ax.set_title(r"2. decoder: $p_\theta(x_i = 1 \mid z)$")
    draw_ax.imshow(1 - steps.x.numpy(), cmap="gray", vmin=0, vmax=1, gid="x")
    draw_ax.set_title(r"3. $x \sim p_\theta(x \mid z)$, pixel by pixel")
    for ax in (probs_ax, draw_ax):
        ax.set_axis_off()
    return fig
