"""vae_tutorial: the convolutional VAE of the VAE book, written to be read.

Modules, one concept each:
    model            VAE, VAEConfig: the encoder q(z|x) and decoder p(x|z)
    flows            autoregressive flows: a richer posterior (IAF) and a learned prior (MAF)
    elbo             calc_elbo, log_likelihood (IWAE), the KL and Bernoulli terms
    sampling         sample, reconstruct, interpolate
    data             MNIST in memory, checksums, dynamic binarization
    train            TrainConfig, the resumable training loop
    checkpoint       atomic saving, safe loading
    evaluate         test-set ELBO and NLL
    plotting         image grids, curves, latent scatter and manifold
    reproducibility  set_seed
    cli              the `vae-tutorial` command

Importing the package has no side effects: it reads no files and prints nothing.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .checkpoint import load_model
from .data import load_mnist
from .elbo import ELBO, bits_per_dim, calc_elbo, log_likelihood
from .errors import CheckpointError, DataError, InputError, TrainingDivergedError
from .model import VAE, VAEConfig, decode, encode
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
    "reconstruct",
    "sample",
    "set_seed",
    "train",
]
