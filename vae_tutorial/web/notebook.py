"""The in-page demos in a notebook: the same JavaScript as the book's pages, run by the
notebook's own page (JupyterLab, Notebook 7, Colab), with no kernel round trip.

Holds `demo(name, kind)`, which returns the demo as HTML with its script, style and the
model's weights inline (about 2.5 MB of output: the notebook has no site to load them
from). It does not hold the demos themselves (`static/vae-demo.js`).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from importlib import resources

from IPython.display import HTML

from ..pretrained import metrics
from .export import WebExportConfig, export_web_model

DEMO_KINDS = ("explorer", "map", "draw", "posterior", "iwae", "code")
PLANE_KINDS = ("map", "posterior")  # the demos that draw a 2-D latent space


def _static(name: str) -> str:
    return (resources.files("vae_tutorial.web") / "static" / name).read_text(encoding="utf-8")


def demo(
    name: str = "mnist-z16",
    kind: str = "explorer",
    data_dir: str | os.PathLike[str] | None = None,
    config: WebExportConfig | None = None,
) -> HTML:
    """The `kind` demo of the shipped model `name`, as HTML: one of `DEMO_KINDS`.

    "explorer" (a slider per latent dimension), "map" (a 2-D model's latent map), "draw"
    (the drawing pad: q(z|x), reconstruction, ELBO), "posterior" (a digit's q(z|x) in a 2-D
    model's plane and "draw eps again"), "iwae" (the ELBO, the IWAE bound for k = 1..64 and
    the log p(x) estimate) and "code" (calc_elbo's source with each line's live value).
    The map and the posterior need a model with a 2-D latent space (mnist-z2).
    """
    if kind not in DEMO_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DEMO_KINDS)}, got {kind!r}")
    latent_dim = metrics(name)["model_config"]["latent_dim"]
    if kind in PLANE_KINDS and latent_dim != 2:
        raise ValueError(
            f"the {kind} demo needs a model with a 2-D latent space, and {name} has "
            f"latent_dim={latent_dim}; use mnist-z2"
        )
    with tempfile.TemporaryDirectory() as tmp:
        weights = export_web_model(name, tmp, data_dir, config).read_text(encoding="utf-8")
    root_id = f"vae-demo-{uuid.uuid4().hex[:8]}"
    return HTML(
        f"<style>{_static('vae-demo.css')}</style>\n"
        f'<div class="vae-demo" id="{root_id}" data-vae-model="{name}" data-vae-demo="{kind}">'
        "</div>\n"
        f"<script>{weights}</script>\n<script>{_static('vae-demo.js')}</script>"
    )
