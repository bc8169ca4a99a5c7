"""What the chapters share at run time: full or quick sizes, and cached training runs.

Holds `BookSizes` and `sizes()` (the numbers a chapter uses: full MNIST and many epochs
by default, a few thousand images and one epoch when $VAE_BOOK_QUICK=1, the same code
either way), `cached_train` (a training run stored under the user cache, keyed by its
config, so that no chapter depends on another having run and a rebuild trains nothing
twice), `model_for_chapter` (the shipped model, or a retrained one when
$VAE_BOOK_RETRAIN=1), `shipped_results` and `decode_thumbnails` (results of runs trained
outside the book build, e.g. chapter 9's sweeps) and `ordering_settles` (from which epoch a
sweep's ranking is final). It does not hold training itself (`train.py`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor

from .checkpoint import load_checkpoint, model_from_checkpoint
from .data import cache_dir
from .model import VAE
from .pretrained import metrics, pretrained
from .train import CHECKPOINT_NAME, History, TrainConfig, train

QUICK_ENV_VAR = "VAE_BOOK_QUICK"
RETRAIN_ENV_VAR = "VAE_BOOK_RETRAIN"


@dataclass(frozen=True)
class BookSizes:
    """Sizes of the chapters' computations (the code paths never change with them).

    train_subset: training images for chapter runs (None = all 60,000).
    epochs: epochs of a chapter's own training runs.
    test_images: test images for evaluations.
    k: importance samples for log-likelihood estimates.
    hand_loop_steps: optimizer steps of the training loop written out in chapter 5.
    """

    quick: bool
    train_subset: int | None
    epochs: int
    test_images: int
    k: int
    hand_loop_steps: int


FULL = BookSizes(
    quick=False,
    train_subset=None,
    epochs=3,
    test_images=10_000,
    k=1000,
    hand_loop_steps=300,
)
QUICK = BookSizes(
    quick=True,
    train_subset=2048,
    epochs=1,
    test_images=500,
    k=100,
    hand_loop_steps=150,
)


def glue(name: str, value: object) -> object:
    """Bind `value` to `name` for the chapter's text, and return it.

    The Markdown shows it with {glue:text}`name` (or {glue:md}`name` for an
    `IPython.display.Markdown`), so a number the prose states is the one the cell computed,
    in quick and full builds alike. Uses myst-nb's `glue` without displaying anything; where
    myst-nb is not installed (a chapter opened in Colab) it does nothing.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=False)
    return value


def sizes() -> BookSizes:
    """QUICK when $VAE_BOOK_QUICK is set to 1 (or true/yes), else FULL."""
    flag = os.environ.get(QUICK_ENV_VAR, "").strip().lower()
    return QUICK if flag in ("1", "true", "yes") else FULL


def run_dir(config: TrainConfig) -> Path:
    """<cache>/runs/<first 12 hex digits of the SHA-256 of the config>."""
    key = json.dumps(replace(config, device="cpu").to_dict(), sort_keys=True)
    return cache_dir() / "runs" / hashlib.sha256(key.encode()).hexdigest()[:12]


def cached_train(
    config: TrainConfig, data_dir: str | os.PathLike[str] | None = None, progress: bool = True
) -> tuple[VAE, History]:
    """Train `config` once, or load the finished run from the cache (or resume a broken one)."""
    out = run_dir(config)
    ckpt_path = out / CHECKPOINT_NAME
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["epoch"] >= config.epochs:
            model = model_from_checkpoint(ckpt, ckpt_path).eval()
            return model, History.from_dict(ckpt["history"])
    result = train(config, out, data_dir=data_dir, resume=True, progress=progress)
    return result.model, result.history


def model_for_chapter(name: str, progress: bool = True) -> VAE:
    """The shipped model `name`; retrained from its recorded config if $VAE_BOOK_RETRAIN=1."""
    if os.environ.get(RETRAIN_ENV_VAR, "").strip().lower() in ("1", "true", "yes"):
        config = TrainConfig.from_dict(metrics(name)["train_config"])
        return cached_train(config, progress=progress)[0]
    return pretrained(name)


def ordering_settles(curves: dict[str, list[float]]) -> int:
    """The first epoch (1-based) from which the ranking of runs by their curves stays final.

    Args:
        curves: run name -> one value per epoch (e.g. the test ELBO), all of one length.

    Returns:
        e such that ranking the runs by their value after epoch e, e + 1, ..., the last
        epoch always gives the ranking after the last epoch.
    """
    lengths = {len(values) for values in curves.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"every curve needs the same number of epochs (>= 1), got {lengths}")
    n_epochs = lengths.pop()

    def ranking(epoch: int) -> list[str]:
        return sorted(curves, key=lambda name: curves[name][epoch])

    final, epoch = ranking(n_epochs - 1), n_epochs - 1
    while epoch > 0 and ranking(epoch - 1) == final:
        epoch -= 1
    return epoch + 1


def shipped_results(name: str) -> dict:
    """The results file `vae_tutorial/results/NAME.json` (e.g. "chapter9": the runs that
    chapter 9 discusses, trained outside the book build by `scripts/chapter9_results.py`)."""
    path = Path(str(resources.files("vae_tutorial") / "results" / f"{name}.json"))
    if not path.is_file():
        raise FileNotFoundError(
            f"no shipped results {path.name} in {path.parent}; "
            "generate them with scripts/chapter9_results.py"
        )
    return json.loads(path.read_text())


def encode_thumbnails(images: Tensor) -> str:
    """(N, 1, 28, 28) images in [0, 1] -> base64 of N * 784 uint8 grey levels."""
    pixels = (images.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return base64.b64encode(pixels.numpy().tobytes()).decode()


def decode_thumbnails(encoded: str) -> Tensor:
    """Base64 of N * 784 uint8 grey levels (as the results files store images) -> (N, 1, 28, 28)
    floats in [0, 1]."""
    pixels = torch.frombuffer(bytearray(base64.b64decode(encoded)), dtype=torch.uint8)
    return pixels.view(-1, 1, 28, 28).float() / 255.0
