"""The latent-variable model and its posterior as graphical models, in plate notation.

Holds the three diagrams of chapter 1 and their figure:
    generative_model()     p_theta(z) p_theta(x|z): z_n -> x_n inside a plate of N, theta
                           outside (eq. `generative-model`);
    per_example_posterior()  classical variational inference: one q_lambda_n(z_n) per image,
                           its parameters lambda_n inside the plate;
    amortized_posterior()  the VAE: one encoder q_phi(z|x) for all images, x_n -> z_n
                           dashed, phi outside the plate (Kingma & Welling 2014, figure 1).
It does not hold the networks (`model.py`); the diagrams are drawn by `diagram.draw`.

References: Kingma & Welling (2014), figure 1; Bishop (2006), section 8.1.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from .canvas import new_figure
from .diagram import Diagram, Edge, Node, Plate, draw


def generative_model() -> Diagram:
    """z_n ~ p(z), x_n ~ p_theta(x | z_n) for n = 1..N; theta shared by all N."""
    return Diagram(
        nodes=(
            Node("z", r"$z_n$", (0.0, 1.2), "latent"),
            Node("x", r"$x_n$", (0.0, 0.0), "observed"),
            Node("theta", r"$\theta$", (-1.3, 0.0), "parameter"),
        ),
        edges=(Edge("z", "x"), Edge("theta", "x")),
        plates=(Plate(("z", "x"), "N"),),
    )


def per_example_posterior() -> Diagram:
    """The model, and one variational distribution q_{lambda_n}(z_n) per image."""
    model = generative_model()
    return Diagram(
        nodes=(*model.nodes, Node("lambda", r"$\lambda_n$", (0.9, 1.2), "parameter")),
        edges=(*model.edges, Edge("lambda", "z", "inference")),
        plates=(Plate(("z", "x", "lambda"), "N"),),
    )


def amortized_posterior() -> Diagram:
    """The model, and one encoder q_phi(z | x) shared by all images (amortized inference)."""
    model = generative_model()
    return Diagram(
        nodes=(*model.nodes, Node("phi", r"$\phi$", (1.3, 1.2), "parameter")),
        edges=(*model.edges, Edge("x", "z", "inference"), Edge("phi", "z", "inference")),
        plates=model.plates,
    )


def graphical_models() -> Figure:
    """Three panels: the generative model, per-image posteriors, the amortized posterior.

    Solid arrows: p_theta(z) p_theta(x|z); dashed: the approximate posterior; shaded: x_n
    is observed.
    """
    fig = new_figure((10, 3.4))
    axes = fig.subplots(1, 3)
    panels = [
        (generative_model(), "the model\n" r"$p_\theta(z)\,p_\theta(x \mid z)$"),
        (per_example_posterior(), "variational inference\n" r"one $q_{\lambda_n}(z_n)$ per image"),
        (amortized_posterior(), "amortized (the VAE)\n" r"one encoder $q_\phi(z \mid x)$"),
    ]
    for ax, (diagram, title) in zip(axes, panels, strict=True):
        draw(diagram, ax, title)
    return fig
