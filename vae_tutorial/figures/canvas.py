"""A new matplotlib figure that a notebook shows exactly once: the value a figure function returns.

Holds `new_figure(figsize)`. The figure is made by pyplot, so that the notebook's inline
backend is loaded and can render a returned Figure, and then closed, so that pyplot does
not show it a second time at the end of the cell. It holds no drawing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A constrained-layout Figure of `figsize` inches, already closed in pyplot."""
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)  # pyplot forgets it; the cell shows the returned figure, once
    return fig
