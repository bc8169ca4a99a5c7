"""The reparameterization trick as two computation graphs, with where the gradient flows.

Holds `gradient_reaches(draw)`, which asks autograd whether d f(z) / d mu and
d f(z) / d logvar exist for a way of drawing z, and `reparameterization_graphs()`, which
draws the forward pass x -> encoder -> (mu, log sigma^2) -> z -> decoder -> loss twice:
with z drawn inside the graph by `Normal.sample()` (the gradient stops at z), and with
z = mu + sigma * eps from the package's `reparameterize` (eps enters from outside and the
gradient reaches the encoder). The gradient arrows are drawn from what `gradient_reaches`
finds, so a `reparameterize` that cut the graph would show the cross on the right too.
It does not hold the estimators' variance (`estimators.py`, chapter 3).

References: Kingma & Welling (2014), section 2.4; Rezende et al. (2014), section 3.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from matplotlib.figure import Figure
from torch import Tensor
from torch.distributions import Normal

from .. import model as model_module
from .canvas import new_figure
from .diagram import Diagram, Edge, Node, draw

Draw = Callable[[Tensor, Tensor], Tensor]


def sample_inside(mu: Tensor, logvar: Tensor) -> Tensor:
    """z ~ N(mu, exp(logvar)) by `Normal.sample()`: a draw with no path back to mu, logvar."""
    return Normal(mu, torch.exp(0.5 * logvar)).sample()


def reparameterized(mu: Tensor, logvar: Tensor) -> Tensor:
    """z from the package's `reparameterize` (eq. `reparam`), looked up when called."""
    return model_module.reparameterize(mu, logvar)


def gradient_reaches(draw_z: Draw, latent_dim: int = 4, seed: int = 0) -> dict[str, bool]:
    """{"mu": ..., "logvar": ...}: does a nonzero gradient of f(z) = sum z^2 reach each?

    Runs under `torch.random.fork_rng`, so a draw that uses the global generator leaves the
    caller's random state as it was.
    """
    with torch.random.fork_rng():
        return _gradient_reaches(draw_z, latent_dim, seed)


def _gradient_reaches(draw_z: Draw, latent_dim: int, seed: int) -> dict[str, bool]:
    generator = torch.Generator().manual_seed(seed)
    mu = torch.randn(1, latent_dim, generator=generator).requires_grad_()
    logvar = torch.randn(1, latent_dim, generator=generator).requires_grad_()
    z = draw_z(mu, logvar)  # (1, D)
    if not z.requires_grad:
        return {"mu": False, "logvar": False}
    grads = torch.autograd.grad(z.pow(2).sum(), [mu, logvar], allow_unused=True)
    return {
        name: g is not None and bool(g.abs().sum() > 0)
        for name, g in zip(("mu", "logvar"), grads, strict=True)
    }


def computation_graph(draw_z: Draw, noise_outside: bool) -> Diagram:
    """The forward pass and the backward arrows that autograd finds for `draw_z`."""
    reaches = gradient_reaches(draw_z)
    flows = all(reaches.values())
    z_label = (
        r"$z = \mu + \sigma \odot \varepsilon$"
        if noise_outside
        else r"$z \sim \mathcal{N}(\mu, \sigma^2)$"
    )
    nodes = [
        Node("x", r"$x$", (0.0, 0.0), "box", (1.0, 0.6)),
        Node("encoder", r"encoder $\phi$", (1.8, 0.0), "box", (1.5, 0.6)),
        Node("params", r"$\mu,\ \log\sigma^2$", (3.9, 0.0), "box", (1.7, 0.6)),
        Node("z", z_label, (6.2, 0.0), "box" if noise_outside else "noise", (2.0, 0.6)),
        Node("decoder", r"decoder $\theta$", (8.4, 0.0), "box", (1.5, 0.6)),
        Node("loss", r"$-\mathrm{ELBO}$", (10.3, 0.0), "box", (1.4, 0.6)),
    ]
    edges = [
        Edge("x", "encoder"), Edge("encoder", "params"), Edge("params", "z"),
        Edge("z", "decoder"), Edge("decoder", "loss"),
        Edge("loss", "decoder", "gradient"), Edge("decoder", "z", "gradient"),
        Edge("z", "params", "gradient" if flows else "blocked"),
    ]  # fmt: skip
    if flows:
        edges.append(Edge("params", "encoder", "gradient"))
    if noise_outside:
        nodes.append(
            Node("eps", r"$\varepsilon \sim \mathcal{N}(0, I)$", (6.2, 1.4), "noise", (2.0, 0.55))
        )
        edges.append(Edge("eps", "z"))
    return Diagram(tuple(nodes), tuple(edges))


def reparameterization_graphs() -> Figure:
    """Two computation graphs: sampling inside the path (top) and noise as an input (bottom).

    Black arrows: the forward pass; dotted red: the gradient of the loss on its way back;
    a cross where autograd finds no gradient.
    """
    fig = new_figure((10, 4.6))
    top, bottom = fig.subplots(2, 1, height_ratios=[1, 1.35])
    inside = "z drawn inside the graph: no gradient reaches the encoder"
    outside = "z = μ + σ ⊙ ε, ε an input: the gradient reaches μ, σ and the encoder"
    draw(computation_graph(sample_inside, False), top, inside, font=10)
    draw(computation_graph(reparameterized, True), bottom, outside, font=10)
    return fig
