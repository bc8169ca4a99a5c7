"""Pictures: image grids, training curves, latent scatter plots and the 2-D manifold.

Holds `image_grid` (tensor -> one array), `show_images`, `save_image_grid` (PNG),
`plot_history`, `plot_latent_scatter` and `plot_manifold` (decoded grid over the
quantiles of N(0, I) when latent_dim == 2). Each plotting function draws into a given
matplotlib Axes or a new figure and returns the Axes; nothing is shown or saved unless
asked. It does not compute anything about the model beyond decoding.

Reference: Kingma & Welling (2014), figure 4 (the learned 2-D manifold).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from PIL import Image
from torch import Tensor

from .model import VAE
from .sampling import decode_probs


def image_grid(
    images: Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 1.0
) -> np.ndarray:
    """Tile images (N, 1, H, W) or (N, H, W) in [0, 1] into one 2-D array, `nrow` per row."""
    images = images.detach().float().cpu().reshape(-1, *images.shape[-2:])  # (N, H, W)
    n, h, w = images.shape
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    grid = np.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding), pad_value)
    for i, image in enumerate(images.numpy()):
        r, c = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid


def show_images(
    images: Tensor, nrow: int = 8, title: str | None = None, ax: Axes | None = None
) -> Axes:
    """Draw a grid of images in [0, 1] (white background, black ink = 1)."""
    grid = image_grid(images, nrow)
    if ax is None:
        height = max(1.0, grid.shape[0] / grid.shape[1] * 6)
        _, ax = plt.subplots(figsize=(6, height))
    ax.imshow(1.0 - grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def png_bytes(images: Tensor, nrow: int = 8, scale: int = 2, padding: int = 2) -> bytes:
    """A grid of images in [0, 1] as PNG bytes (black ink on white), `scale` x upsampled."""
    grid = image_grid(images, nrow, padding)
    pixels = np.clip((1.0 - grid) * 255.0, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def save_image_grid(images: Tensor, path: str | Path, nrow: int = 8, scale: int = 2) -> Path:
    """Write a grid of images in [0, 1] as a PNG file (`png_bytes`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(images, nrow, scale))
    return path


def plot_history(history: object, ax: Axes | None = None) -> Axes:
    """Training curves: per-step ELBO, reconstruction log-likelihood and KL, and the held-out
    ELBO per epoch (validation, or test for a run without a validation split).

    Args:
        history: a `train.History` (or anything with `steps` and `epochs` dicts of columns).
    """
    steps, epochs = history.steps, history.epochs  # type: ignore[attr-defined]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps["step"], steps["elbo"], lw=0.8, alpha=0.7, label="train ELBO")
    ax.plot(steps["step"], steps["recon_ll"], lw=0.8, alpha=0.7, label="train log p(x|z)")
    ax.plot(steps["step"], [-k for k in steps["kl"]], lw=0.8, alpha=0.7, label="train -KL")
    for split in ("validation", "test"):
        if epochs.get(f"{split}_elbo"):
            ax.plot(epochs["step"], epochs[f"{split}_elbo"], "ko-", ms=4, label=f"{split} ELBO")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("nats per image")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return ax


# One colour per digit, chosen so that every pair stays apart (CAM02-UCS distance >= 16)
# under normal vision and simulated deuteranopia, protanopia and tritanopia, each with a
# contrast of at least 3:1 against white (tests/test_plotting.py checks both). The colour
# is a second cue only: each point is drawn as its digit.
DIGIT_COLOURS: tuple[str, ...] = (
    "#249292", "#000000", "#6D4900", "#242492", "#9249FF",
    "#929200", "#DB246D", "#000049", "#920049", "#490000",
)  # fmt: skip


def plot_latent_scatter(
    z: Tensor, labels: Tensor, dims: Sequence[int] = (0, 1), ax: Axes | None = None
) -> Axes:
    """Scatter two latent dimensions of z (N, D), each point drawn as its digit label (N,).

    The digits 0-9 are the markers (readable without colour) in `DIGIT_COLOURS`; one
    collection per digit, in order, with a legend.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    z, labels = z.detach().cpu(), labels.cpu()
    for digit, colour in enumerate(DIGIT_COLOURS):
        chosen = labels == digit
        ax.scatter(z[chosen, dims[0]], z[chosen, dims[1]], marker=f"${digit}$", s=18,
                   color=colour, alpha=0.8, linewidths=0, label=str(digit))  # fmt: skip
    ax.legend(title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=1.5)
    ax.set_xlabel(f"$z_{{{dims[0] + 1}}}$")
    ax.set_ylabel(f"$z_{{{dims[1] + 1}}}$")
    ax.set_aspect("equal", adjustable="datalim")
    return ax


def manifold_latents(n: int = 20, quantile: float = 0.05) -> Tensor:
    """An n x n grid of 2-D latents at the Gaussian quantiles in [q, 1-q]: (n*n, 2).

    Rows run from high z_2 (top) to low; columns from low z_1 (left) to high.
    """
    p = torch.linspace(quantile, 1.0 - quantile, n)
    values = torch.distributions.Normal(0.0, 1.0).icdf(p)  # (n,)
    z1 = values.repeat(n)  # (n*n,)
    z2 = values.flip(0).repeat_interleave(n)  # (n*n,)
    return torch.stack([z1, z2], dim=1)


def plot_manifold(model: VAE, n: int = 20, quantile: float = 0.05, ax: Axes | None = None) -> Axes:
    """Decode an n x n grid over the quantiles of the prior (latent_dim must be 2)."""
    if model.latent_dim != 2:
        raise ValueError(
            f"the manifold plot needs latent_dim == 2, this model has {model.latent_dim}"
        )
    images = decode_probs(model, manifold_latents(n, quantile))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    return show_images(images, nrow=n, ax=ax)
