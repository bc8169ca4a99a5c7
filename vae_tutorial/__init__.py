"""vae_tutorial: the convolutional VAE of the VAE book, written to be read.

Modules, one concept each, in three layers.

The teaching core (what chapters 3-8 print and teach):
    model            VAE, VAEConfig: the encoder q(z|x), the decoder p(x|z), reparameterize
    elbo             calc_elbo, the KL and Bernoulli terms, the IWAE bound, log_likelihood
    sampling         sample, reconstruct, interpolate
    train            TrainConfig, VAEObjective, the resumable loop (train_epoch, train_step)
    data             MNIST and Fashion-MNIST in memory, checksums, dynamic binarization
    evaluate         test-set ELBO and NLL, active units, KL per dimension, rate decomposition
    toy, estimators  the linear-Gaussian model (chapter 2), gradient estimators (chapter 3)
    diagnose         the checks of chapter 10: active units, log-variance range, ELBO vs log p(x)

Beyond the plain VAE (chapter 8's best model), built on the core:
    advanced         AdvancedVAE (residual stages, IAF posterior, flow prior), IWAEObjective
    architectures    which network a saved config describes

Tools around them (files, the command line, the book and the course):
    checkpoint       atomic saving, safe loading
    pretrained       the shipped models: pretrained("mnist-z16"), export
    reproducibility  set_seed
    errors           the exceptions that name a problem and its fix
    plotting         image grids, curves, latent scatter and manifold
    widgets          latent traversals that work in the static site
    book             quick/full sizes and cached training runs for the chapters
    cli              the `vae-tutorial` command

The course (graders, student edition, autograding), built on the core:
    course           check_* graders for chapters 2-10, `make student`, `make grade`

Importing the package has no side effects: it reads no files and prints nothing.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .checkpoint import load_model
from .data import load_mnist
from .elbo import ELBO, bits_per_dim, calc_elbo, log_likelihood
from .errors import CheckpointError, DataError, InputError, TrainingDivergedError
from .model import VAE, VAEConfig, decode, encode
from .pretrained import pretrained
from .reproducibility import set_seed
from .sampling import Samples, interpolate, reconstruct, sample
from .train import TrainConfig, train

__all__ = [
    "ELBO",
    "VAE",
    "CheckpointError",
    "DataError",
    "InputError",
    "Samples",
    "TrainConfig",
    "TrainingDivergedError",
    "VAEConfig",
    "__version__",
    "bits_per_dim",
    "calc_elbo",
    "decode",
    "encode",
    "interpolate",
    "load_mnist",
    "load_model",
    "log_likelihood",
    "pretrained",
    "reconstruct",
    "sample",
    "set_seed",
    "train",
]
