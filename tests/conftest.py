"""Shared fixtures: real MNIST (from $VAE_TUTORIAL_DATA or the user cache), tiny runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from vae_tutorial import VAE, TrainConfig, train
from vae_tutorial.data import CACHE_ENV_VAR, fixed_binarization, load_mnist

TINY = {"subset": 256, "epochs": 1, "batch_size": 64, "eval_images": 256, "checkpoint_every": 2}


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep the checksum record of the tests away from the user's cache folder."""
    previous = os.environ.get(CACHE_ENV_VAR)
    os.environ[CACHE_ENV_VAR] = str(tmp_path_factory.mktemp("cache"))
    yield Path(os.environ[CACHE_ENV_VAR])
    if previous is None:
        del os.environ[CACHE_ENV_VAR]
    else:
        os.environ[CACHE_ENV_VAR] = previous


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
