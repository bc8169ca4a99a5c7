"""The book's conceptual figures, each drawn by code from the package's own objects.

One module per concept; each function returns a matplotlib `Figure` (closed in pyplot, so
a notebook shows it once) and draws only what the objects it is given say:
    canvas             new_figure: the Figure every function below returns
    diagram            nodes, edges, plates, and `draw` (the diagrams below use it)
    graphical_models   the model, per-image and amortized posteriors in plates  (chapter 1)
    bounds             the ELBO's gap on the toy model (chapter 2); IWAE's k-sample bounds
                       of one image (chapter 8)
    architecture       the network of a model object, each layer's shape       (chapter 3)
    reparameterization two computation graphs and where autograd's gradient flows (ch. 3)
    dataflow           the tensors calc_elbo computes, with their shapes       (chapter 4)
    training_loop      one step of the loop: two noises, loss, update          (chapter 5)
    generation         ancestral sampling: z, the pixel probabilities, a draw  (chapter 6)
    latent             the aggregate posterior against the prior (chapter 7); each
                       dimension's KL over training, posterior collapse        (chapter 10)
    rate_distortion    the runs on the rate-distortion plane                   (chapter 9)
It does not hold the plots of results (`plotting.py`): training curves, image grids,
latent scatter plots and the manifold.
"""

from .architecture import architecture
from .bounds import elbo_gap, iwae_bounds
from .dataflow import elbo_dataflow
from .generation import ancestral_sampling
from .graphical_models import graphical_models
from .latent import aggregate_posterior, kl_trace, posterior_collapse
from .rate_distortion import rate_distortion_plane
from .reparameterization import reparameterization_graphs
from .training_loop import training_loop

__all__ = [
    "aggregate_posterior",
    "ancestral_sampling",
    "architecture",
    "elbo_dataflow",
    "elbo_gap",
    "graphical_models",
    "iwae_bounds",
    "kl_trace",
    "posterior_collapse",
    "rate_distortion_plane",
    "reparameterization_graphs",
    "training_loop",
]
