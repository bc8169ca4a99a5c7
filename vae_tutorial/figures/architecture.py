"""The encoder-decoder network, drawn from a model object: one box per layer and its shape.

Holds `architecture_diagram(model)` and `architecture(model)`: the layers come from
`model.layer_shapes` (forward hooks on a real forward pass), so a changed layer, width or
latent size changes the figure. Each ReLU is folded into the box of the layer before it.
The encoder runs along the top row to the two heads fc_mu and fc_logvar, the
reparameterization z = mu + sigma * eps joins them, and the decoder runs back along the
bottom row to the logits of p(x|z). Shapes are per image (the batch dimension dropped).
It does not hold the network (`model.py`).

Reference: Kingma & Welling (2014), appendix C (the MLP encoder and decoder this
convolutional one replaces).
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from ..model import IMAGE_SHAPE, VAE, evaluating, layer_shapes
from .canvas import new_figure
from .diagram import Diagram, Edge, Node, draw

BOX = (2.2, 1.3)  # (width, height) of a layer's box
HEAD = (2.9, 0.62)  # fc_mu and fc_logvar
STEP = 2.55  # horizontal distance between boxes
TOP, BOTTOM = 2.2, -1.0  # the encoder's row and the decoder's


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape[1:])


def _stages(model: VAE) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, label, output shape) per layer, each ReLU folded into the layer before it."""
    stages: list[tuple[str, str, tuple[int, ...]]] = []
    for name, kind, shape in layer_shapes(model):
        if kind == "ReLU" and stages:
            previous = stages[-1]
            stages[-1] = (previous[0], previous[1] + "\n+ ReLU", previous[2])
        else:
            stages.append((name, kind, shape))
    return stages


def _decoder_input_shape(model: VAE) -> tuple[int, ...]:
    """The shape the decoder's first transposed convolution receives (the unflattened code)."""
    shapes: list[tuple[int, ...]] = []
    first = next(m for m in model.decoder_conv.modules() if not list(m.children()))
    hook = first.register_forward_pre_hook(lambda _m, inputs: shapes.append(inputs[0].shape))
    try:
        with evaluating(model):
            model.decode(torch.zeros(1, model.latent_dim))
    finally:
        hook.remove()
    return tuple(shapes[0])


def architecture_diagram(model: VAE) -> Diagram:
    """The diagram of `model`: input, encoder boxes, heads, z, eps, decoder boxes, logits."""
    stages = _stages(model)
    encoder = [s for s in stages if s[0].startswith("encoder")]
    heads = {s[0]: s for s in stages if s[0] in ("fc_mu", "fc_logvar")}
    decoder = [s for s in stages if s not in encoder and s[0] not in heads]
    nodes = [Node("x", "image x\n" + _shape((1, *IMAGE_SHAPE)), (0.0, TOP), "box", BOX)]
    edges = []
    previous = "x"
    for i, (name, label, shape) in enumerate(encoder, start=1):
        nodes.append(Node(name, f"{label}\n{_shape(shape)}", (i * STEP, TOP), "box", BOX))
        edges.append(Edge(previous, name))
        previous = name
    heads_x = (len(encoder) + 1) * STEP + 0.2
    for name, dy, symbol in (("fc_mu", 0.36, r"$\mu$"), ("fc_logvar", -0.36, r"$\log\sigma^2$")):
        _, label, shape = heads[name]
        text = f"{name}: {label} → {symbol}, {_shape(shape)}"
        nodes.append(Node(name, text, (heads_x, TOP + dy), "box", HEAD))
        edges.append(Edge(previous, name))
    z_x = heads_x + 2.9
    noise = r"$\varepsilon \sim \mathcal{N}(0, I)$"
    nodes.append(Node("eps", noise, (z_x, TOP + 1.2), "noise", (2.2, 0.55)))
    reparam = r"$z = \mu + \sigma \odot \varepsilon$" + f"\n{model.latent_dim}"
    nodes.append(Node("z", reparam, (z_x, 0.6), "box", (2.3, 0.8)))
    edges += [Edge("fc_mu", "z"), Edge("fc_logvar", "z"), Edge("eps", "z")]
    previous = "z"
    unflattened = _decoder_input_shape(model)
    first_conv = next(s[0] for s in decoder if s[0].startswith("decoder_conv"))
    for i, (name, label, shape) in enumerate(decoder):
        if name == first_conv:
            label = f"view {_shape((1, *unflattened[1:]))}\n{label}"
        if i == len(decoder) - 1:
            label += "\n→ logits"
        node = Node(name, f"{label}\n{_shape(shape)}", (heads_x - i * STEP, BOTTOM), "box", BOX)
        nodes.append(node)
        edges.append(Edge(previous, name))
        previous = name
    return Diagram(tuple(nodes), tuple(edges))


def architecture(model: VAE) -> Figure:
    """The network of `model`, each box a layer and its output shape per image."""
    diagram = architecture_diagram(model)
    fig = new_figure((14, 4.6))
    ax = fig.subplots()
    draw(diagram, ax, font=9)
    ax.text(-1.1, TOP + 0.9, r"encoder $q_\phi(z \mid x)$", ha="left", fontsize=11, weight="bold")
    ax.text(-1.1, BOTTOM - 0.9, r"decoder $p_\theta(x \mid z)$, right to left", ha="left",
            fontsize=11, weight="bold")  # fmt: skip
    return fig
