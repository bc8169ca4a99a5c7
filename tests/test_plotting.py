"""Image grids, PNG output and the plots the chapters draw."""

from __future__ import annotations

import re
from pathlib import Path

import colorspacious
import matplotlib
import matplotlib.colors
import matplotlib.markers
import numpy as np
import pytest
import torch
from PIL import Image

import vae_tutorial.web
from vae_tutorial import VAE
from vae_tutorial.plotting import (
    DIGIT_COLOURS,
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
    assert axes[0].lines[-1].get_label() == "test ELBO"
    history.epochs = {"step": [2], "validation_elbo": [-385.0]}  # a run with a validation split
    _, ax = plt.subplots()
    plot_history(history, ax=ax)
    assert ax.lines[-1].get_label() == "validation ELBO" and list(ax.lines[-1].get_ydata()) == [
        -385.0
    ]
    plt.close(ax.figure)

    z, labels = torch.randn(20, 3), torch.arange(20) % 10
    assert plot_latent_scatter(z, labels, dims=(2, 0), ax=axes[1]) is axes[1]
    assert len(axes[1].collections) == 10
    for digit, points in enumerate(axes[1].collections):  # one collection per digit
        expected = z[labels == digit][:, [2, 0]].double()
        torch.testing.assert_close(torch.tensor(points.get_offsets().data), expected)
        assert points.get_label() == str(digit)
        assert matplotlib.colors.to_hex(points.get_facecolor()[0]) == DIGIT_COLOURS[digit].lower()
        marker = matplotlib.markers.MarkerStyle(f"${digit}$")
        glyph = marker.get_path().transformed(marker.get_transform()).vertices
        np.testing.assert_allclose(points.get_paths()[0].vertices, glyph)  # drawn as its digit
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == [str(d) for d in range(10)]

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


def _relative_luminance(rgb: np.ndarray) -> np.ndarray:
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])  # WCAG 2.x


@pytest.mark.parametrize("vision", [None, "deuteranomaly", "protanomaly", "tritanomaly"])
def test_the_digit_colours_stay_apart_under_colour_vision_deficiency(vision: str | None) -> None:
    """Machado et al. (2009) simulation at full severity (colorspacious), distances in
    CAM02-UCS: every pair of the ten digit colours stays at least 15 apart."""
    rgb = np.array([matplotlib.colors.to_rgb(c) for c in DIGIT_COLOURS])  # (10, 3)
    if vision is not None:
        cvd = {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}
        rgb = np.clip(colorspacious.cspace_convert(rgb, cvd, "sRGB1"), 0, 1)
    ucs = colorspacious.cspace_convert(rgb, "sRGB1", "CAM02-UCS")
    distances = np.linalg.norm(ucs[:, None] - ucs[None], axis=-1)[np.triu_indices(10, 1)]
    assert distances.min() >= 15, distances.min()


def test_the_digit_colours_have_3_to_1_contrast_against_white() -> None:
    rgb = np.array([matplotlib.colors.to_rgb(c) for c in DIGIT_COLOURS])
    contrast = 1.05 / (_relative_luminance(rgb) + 0.05)
    assert contrast.min() >= 3.0, contrast  # WCAG 1.4.11, non-text contrast


def test_the_page_map_uses_the_same_digit_colours() -> None:
    js = (Path(vae_tutorial.web.__file__).parent / "static" / "vae-demo.js").read_text()
    listed = re.search(r"var DIGIT_COLOURS = \[([^\]]*)\]", js).group(1)
    assert re.findall(r'"(#[0-9A-Fa-f]{6})"', listed) == list(DIGIT_COLOURS)
