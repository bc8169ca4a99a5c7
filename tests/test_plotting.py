"""Image grids, PNG output and the plots the chapters draw."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
import torch
from PIL import Image

from vae_tutorial import VAE
from vae_tutorial.plotting import (
    image_grid,
    manifold_latents,
    plot_history,
    plot_latent_scatter,
    plot_manifold,
    save_image_grid,
    show_images,
)
from vae_tutorial.train import History

matplotlib.use("Agg")


def test_image_grid_places_each_image() -> None:
    images = torch.stack([torch.full((1, 4, 4), i / 5) for i in range(5)])
    grid = image_grid(images, nrow=3, padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1)
    assert grid[1, 1] == 0.0 and grid[1 + 5, 1 + 5] == pytest.approx(0.8)
    assert grid[-2, -2] == 1.0, "empty cells keep the padding value"


def test_save_image_grid_writes_a_png(tmp_path: Path) -> None:
    path = save_image_grid(torch.ones(3, 1, 28, 28), tmp_path / "sub" / "g.png", nrow=3, scale=1)
    image = Image.open(path)
    assert image.size == (3 * 30 + 2, 32) and image.getpixel((5, 5)) == 0  # ink is black


def test_manifold_latents_cover_the_prior_quantiles() -> None:
    z = manifold_latents(n=5, quantile=0.1)
    assert z.shape == (25, 2)
    assert z[0, 0] < 0 < z[4, 0] and z[0, 1] > 0 > z[-1, 1]
    torch.testing.assert_close(z[:, 0].reshape(5, 5)[0], z[:, 0].reshape(5, 5)[3])


def test_plots_draw_the_given_data() -> None:
    """Each plot draws exactly its data, on the axes it is given."""
    import matplotlib.pyplot as plt

    history = History(
        steps={
            "step": [0, 1],
            "elbo": [-500.0, -400.0],
            "recon_ll": [-499.0, -390.0],
            "kl": [1.0, 10.0],
        },
        epochs={"step": [2], "test_elbo": [-380.0]},
    )
    _, axes = plt.subplots(1, 4)
    assert plot_history(history, ax=axes[0]) is axes[0]
    drawn = [(list(line.get_xdata()), list(line.get_ydata())) for line in axes[0].lines]
    assert drawn == [
        ([0, 1], [-500.0, -400.0]),
        ([0, 1], [-499.0, -390.0]),
        ([0, 1], [-1.0, -10.0]),  # the KL is drawn negated, in the ELBO's units
        ([2], [-380.0]),
    ]

    z, labels = torch.randn(20, 3), torch.arange(20) % 10
    assert plot_latent_scatter(z, labels, dims=(2, 0), ax=axes[1]) is axes[1]
    points = axes[1].collections[0]
    torch.testing.assert_close(torch.tensor(points.get_offsets().data), z[:, [2, 0]].double())
    assert list(points.get_array()) == labels.tolist()

    images = torch.rand(4, 1, 28, 28)
    assert show_images(images, nrow=2, ax=axes[2]) is axes[2]
    shown = torch.tensor(axes[2].images[0].get_array().data)
    torch.testing.assert_close(shown, torch.tensor(1.0 - image_grid(images, 2)))  # black ink

    torch.manual_seed(0)
    model = VAE(latent_dim=2)
    assert plot_manifold(model, n=3, ax=axes[3]) is axes[3]
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(manifold_latents(3)))  # (9, 1, 28, 28)
    shown = torch.tensor(axes[3].images[0].get_array().data)
    torch.testing.assert_close(shown, torch.tensor(1.0 - image_grid(expected, 3)))
    with pytest.raises(ValueError, match="latent_dim == 2"):
        plot_manifold(VAE(latent_dim=3))
    plt.close("all")
