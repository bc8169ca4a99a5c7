"""What `calc_elbo` computes, as a data-flow diagram with each tensor's shape.

Holds `elbo_shapes(model, batch_size)`, which runs the steps of `calc_elbo` (encode,
reparameterize, decode, the two terms) on a batch and records each tensor's shape, and
`elbo_dataflow(model, batch_size)`, which draws them: x -> encoder -> (mu, log sigma^2) ->
z = mu + sigma * eps -> decoder -> logits -> log p(x|z), the KL from (mu, log sigma^2), and
ELBO = log p(x|z) - KL per example (eq. `elbo`). It does not compute the ELBO for anyone
(`elbo.calc_elbo`).

Reference: Kingma & Welling (2014), section 2.4, eq. 10.
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from ..elbo import bernoulli_log_likelihood, gaussian_kl
from ..model import IMAGE_SHAPE, VAE, evaluating, reparameterize
from .canvas import new_figure
from .diagram import Diagram, Edge, Node, draw


def elbo_shapes(model: VAE, batch_size: int = 128) -> dict[str, tuple[int, ...]]:
    """Shapes of x, mu, logvar, eps, z, logits, recon_ll, kl and elbo for one batch.

    The draw of eps leaves the global random state as it was (`torch.random.fork_rng`).
    """
    x = torch.zeros(batch_size, *IMAGE_SHAPE)
    with evaluating(model), torch.random.fork_rng():
        mu, logvar = model.encode(x)
        z = reparameterize(mu, logvar)
        logits = model.decode(z)
        recon_ll, kl = bernoulli_log_likelihood(logits, x), gaussian_kl(mu, logvar)
    tensors = {"x": x, "mu": mu, "logvar": logvar, "eps": torch.empty_like(z), "z": z,
               "logits": logits, "recon_ll": recon_ll, "kl": kl, "elbo": recon_ll - kl}  # fmt: skip
    return {name: tuple(t.shape) for name, t in tensors.items()}


def _s(shape: tuple[int, ...]) -> str:
    return str(shape)  # (B,) as Python writes it


def elbo_dataflow_diagram(model: VAE, batch_size: int = 128) -> Diagram:
    """The diagram of `calc_elbo` on a batch of `batch_size` images of `model`."""
    s = {k: _s(v) for k, v in elbo_shapes(model, batch_size).items()}
    nodes = (
        Node("x", f"x\n{s['x']}", (0.0, 0.0), "box", (2.0, 0.8)),
        Node("encoder", "model.encode", (2.6, 0.0), "box", (1.9, 0.6)),
        Node("params", f"mu, logvar\n{s['mu']} each", (5.3, 0.0), "box", (2.3, 0.8)),
        Node("eps", f"eps ~ N(0, I)\n{s['eps']}", (8.2, 1.5), "noise", (2.1, 0.8)),
        Node("z", f"z = mu + exp(logvar / 2) * eps\n{s['z']}", (8.2, 0.0), "box", (3.2, 0.8)),
        Node("decoder", "model.decode", (11.4, 0.0), "box", (1.9, 0.6)),
        Node("logits", f"logits\n{s['logits']}", (12.6, -1.6), "box", (2.2, 0.8)),
        Node(
            "recon",
            f"log p(x|z): sum of 784\nBernoulli terms {s['recon_ll']}",
            (9.3, -1.6),
            "box",
            (3.2, 0.8),
        ),
        Node("kl", f"KL(q || p(z)), closed form\n{s['kl']}", (4.6, -1.6), "box", (3.0, 0.8)),
        Node(
            "elbo",
            f"ELBO = log p(x|z) - KL\n{s['elbo']}, nats per image",
            (6.95, -3.1),
            "box",
            (4.0, 0.8),
        ),
    )
    edges = (
        Edge("x", "encoder"), Edge("encoder", "params"), Edge("params", "z"), Edge("eps", "z"),
        Edge("z", "decoder"), Edge("decoder", "logits"), Edge("logits", "recon"),
        Edge("params", "kl"), Edge("recon", "elbo"), Edge("kl", "elbo"), Edge("x", "recon"),
    )  # fmt: skip
    return Diagram(nodes, edges)


def elbo_dataflow(model: VAE, batch_size: int = 128) -> Figure:
    """The tensors `calc_elbo` computes for a batch of `batch_size` images, with shapes."""
    fig = new_figure((12, 5.2))
    draw(elbo_dataflow_diagram(model, batch_size), fig.subplots(), font=9.5)
    return fig
