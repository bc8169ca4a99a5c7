"""One optimizer step of the training loop as a cycle, labelled from a `TrainConfig`.

Holds `training_loop_diagram(config, n_images)` and `training_loop(config, n_images)`: the
two sources of noise of the doubly stochastic optimisation (a random minibatch, binarized
afresh, and one eps per image), the loss -mean beta-ELBO, the backward pass and the Adam
update that closes the loop; batch size, steps per epoch, beta and the learning rate come
from the config. It does not train (`train.py`).

Reference: Kingma & Welling (2019), Algorithm 1.
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from ..train import TrainConfig
from .canvas import new_figure
from .diagram import Diagram, Edge, Node, draw


def training_loop_diagram(config: TrainConfig, n_images: int = 60_000) -> Diagram:
    """The cycle of one step for `config` on a training set of `n_images` images."""
    n = min(n_images, config.subset or n_images)
    steps = math.ceil(n / config.batch_size)
    beta = f"{config.beta:g}"
    nodes = (
        Node("data", f"{n:,} training images", (0.0, 1.6), "box", (2.6, 0.7)),
        Node(
            "batch",
            f"random minibatch of {config.batch_size}\nbinarized afresh (noise 1)",
            (3.6, 1.6),
            "noise",
            (3.2, 0.8),
        ),
        Node(
            "elbo",
            "calc_elbo: one eps per image\n(noise 2), analytic KL",
            (7.4, 1.6),
            "noise",
            (3.2, 0.8),
        ),
        Node(
            "loss", f"loss = -(mean log p(x|z) - {beta} * mean KL)", (7.4, 0.0), "box", (4.0, 0.7)
        ),
        Node(
            "backward",
            "loss.backward():\ngradients for theta and phi",
            (3.6, 0.0),
            "box",
            (3.0, 0.8),
        ),
        Node(
            "update",
            f"Adam step, lr {config.lr:g}\n({steps} steps an epoch)",
            (0.0, 0.0),
            "box",
            (2.6, 0.8),
        ),
    )
    edges = (
        Edge("data", "batch"), Edge("batch", "elbo"), Edge("elbo", "loss"),
        Edge("loss", "backward"), Edge("backward", "update"),
        Edge("update", "batch", label="next step"),
    )  # fmt: skip
    return Diagram(nodes, edges)


def training_loop(config: TrainConfig, n_images: int = 60_000) -> Figure:
    """The loop of `train_epoch` for `config`: the two noises, the loss, the update."""
    fig = new_figure((11, 3.4))
    draw(training_loop_diagram(config, n_images), fig.subplots(), font=9.5)
    return fig
