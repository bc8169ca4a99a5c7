"""Shared fixtures: real MNIST (from $VAE_TUTORIAL_DATA or the user cache), tiny runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vae_tutorial import VAE, TrainConfig, train
from vae_tutorial.data import fixed_binarization, load_mnist

TINY = {"subset": 256, "epochs": 1, "batch_size": 64, "eval_images": 256, "checkpoint_every": 2}


@pytest.fixture(scope="session")
def mnist_test_images() -> torch.Tensor:
    """The first 256 test images, fixed binarization, (256, 1, 28, 28)."""
    return fixed_binarization(load_mnist("test").images[:256])


@pytest.fixture
def model() -> VAE:
    torch.manual_seed(0)
    return VAE(latent_dim=4)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint trained for one epoch on 256 real MNIST images (a few seconds)."""
    out = tmp_path_factory.mktemp("tiny-run")
    train(TrainConfig(**TINY), out, progress=False)
    return out / "checkpoint.pt"
