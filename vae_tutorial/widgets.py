"""Interactive latent traversals that also work in the static book, without a kernel.

Holds `traversal_widget` (a slider and a play button that move between the latent codes
of two images, linear or spherical path) and `latent_explorer` (one slider per chosen
latent dimension around an image's posterior mean). Both decode every frame when they are
built and put the frames in `Stack`s of `Image` widgets whose `selected_index` is
`jslink`-ed to the sliders: in a static page the browser switches frames alone. In a live
kernel each slider move is also decoded afresh from the model. It does not hold the
latent paths themselves (`sampling.py`).

Reference: ipywidgets 8, "Widget Events" and "Embedding Jupyter Widgets in Other Contexts".
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

import ipywidgets as widgets
import numpy as np
import torch
from ipywidgets.widgets.widget_string import HTMLStyle
from torch import Tensor

from .model import VAE, evaluating
from .plotting import png_bytes
from .sampling import PathKind, decode_probs, interpolate, latent_path

DISPLAY_PX = 112  # each 28x28 frame is stored at 28x28 and shown at 112x112 by the browser
FRAME_CLASS = "vae-frame"


def frame_png(image: Tensor) -> bytes:
    """One (1, 28, 28) image in [0, 1] as a 28x28 PNG, black ink on white."""
    return png_bytes(image.reshape(1, 1, 28, 28), nrow=1, scale=1, padding=0)


def frame_html(image: Tensor, alt: str) -> str:
    """One (1, 28, 28) image as an <img>: its 28x28 PNG inline, shown enlarged with sharp
    pixels, and `alt`, the text a screen reader reads instead of the picture."""
    data = base64.b64encode(frame_png(image)).decode("ascii")
    return (
        f'<img class="{FRAME_CLASS}" src="data:image/png;base64,{data}" alt="{escape(alt)}" '
        f'width="{DISPLAY_PX}" height="{DISPLAY_PX}" style="image-rendering: pixelated">'
    )


def _frame_stack(frames: Tensor, descriptions: Sequence[str]) -> widgets.Stack:
    """A Stack of one HTML widget per frame (T, 1, 28, 28), each image with its alt text.

    (An HTML widget rather than an Image widget: ipywidgets' Image has no alt text.)
    """
    layout, style = widgets.Layout(), HTMLStyle()  # shared by all frames: less widget state
    images = [
        widgets.HTML(frame_html(f, text), layout=layout, style=style)
        for f, text in zip(frames, descriptions, strict=True)
    ]
    return widgets.Stack(children=images, selected_index=0)


def traversal_widget(
    model: VAE, x_a: Tensor, x_b: Tensor, steps: int = 16, interval_ms: int = 150
) -> widgets.VBox:
    """Slider + play button from the posterior mean of x_a to that of x_b.

    A toggle chooses the linear or the spherical (slerp) path. Frames: 2 * steps PNGs.
    """
    kinds: tuple[PathKind, PathKind] = ("linear", "slerp")
    ts = torch.linspace(0, 1, steps).tolist()
    descriptions = [[f"decoded image at t = {t:.2f}, {kind} path" for t in ts] for kind in kinds]
    stacks = [
        _frame_stack(interpolate(model, x_a, x_b, steps, kind), texts)
        for kind, texts in zip(kinds, descriptions, strict=True)
    ]
    paths = widgets.Stack(children=stacks, selected_index=0)
    slider = widgets.IntSlider(value=0, min=0, max=steps - 1, description="t", readout=False)
    play = widgets.Play(value=0, min=0, max=steps - 1, interval=interval_ms, description="play")
    kind = widgets.ToggleButtons(options=["linear", "slerp"], index=0, description="path")
    widgets.jslink((play, "value"), (slider, "value"))
    widgets.jslink((kind, "index"), (paths, "selected_index"))
    for stack in stacks:
        widgets.jslink((slider, "value"), (stack, "selected_index"))

    with evaluating(model):
        mu, _ = model.encode(torch.stack([x_a, x_b]).reshape(2, 1, 28, 28))  # (2, D)

    def decode_live(change: dict) -> None:
        """In a live kernel, decode the point under the slider afresh."""
        z = latent_path(mu[0], mu[1], steps, kinds[kind.index])[change["new"]]  # (D,)
        frame = stacks[kind.index].children[change["new"]]
        frame.value = frame_html(decode_probs(model, z), descriptions[kind.index][change["new"]])

    slider.observe(decode_live, names="value")
    return widgets.VBox([widgets.HBox([play, slider]), kind, paths])


def latent_explorer(
    model: VAE,
    x: Tensor,
    dims: Sequence[int] = (0, 1, 2),
    values: Sequence[float] = tuple(np.linspace(-3.0, 3.0, 5)),
) -> widgets.VBox:
    """One slider per latent dimension in `dims`, moving it over `values` around mu(x).

    Each slider changes one coordinate while the others stay at the posterior mean of x
    (1, 28, 28); its frames show that one-dimensional traversal. Frames: len(dims) * len(values).
    """
    with evaluating(model):
        mu, _ = model.encode(x.reshape(1, 1, 28, 28))  # (1, D)
    grid = torch.tensor(list(values), dtype=mu.dtype)
    rows = []
    for d in dims:
        codes = mu.repeat(len(grid), 1)  # (V, D)
        codes[:, d] = grid
        descriptions = [f"decoded image with z{d + 1} = {v:.1f}, the other dimensions at "
                        "the posterior mean" for v in grid.tolist()]  # fmt: skip
        stack = _frame_stack(decode_probs(model, codes), descriptions)
        start = int(torch.argmin((grid - mu[0, d]).abs()))
        stack.selected_index = start
        slider = widgets.IntSlider(value=start, min=0, max=len(grid) - 1, readout=False,
                                   description=f"z{d + 1}")  # fmt: skip
        widgets.jslink((slider, "value"), (stack, "selected_index"))

        def decode_live(
            change: dict, d: int = d, stack: widgets.Stack = stack, texts: list[str] = descriptions
        ) -> None:
            code = mu.clone()
            code[0, d] = grid[change["new"]]
            frame = stack.children[change["new"]]
            frame.value = frame_html(decode_probs(model, code)[0], texts[change["new"]])

        slider.observe(decode_live, names="value")
        rows.append(widgets.HBox([slider, stack]))
    return widgets.VBox(rows)
