"""The traversal widgets: frames embedded for the static site, links, live decoding."""

from __future__ import annotations

import base64
import io
import re
import warnings

import ipywidgets as widgets
import PIL.Image
import torch
from ipywidgets.widgets.widget_link import Link

from vae_tutorial import VAE
from vae_tutorial.sampling import decode_probs, interpolate
from vae_tutorial.widgets import frame_html, latent_explorer, traversal_widget


def _model() -> VAE:
    torch.manual_seed(0)
    return VAE(latent_dim=4)


def _links(root: widgets.Widget) -> list[Link]:
    ids = {w.model_id for w in _walk(root)}
    with warnings.catch_warnings():  # the registry of live widgets is deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        registry = dict(widgets.Widget.widgets)
    return [
        w for w in registry.values()
        if isinstance(w, Link) and w.source[0].model_id in ids
    ]  # fmt: skip


def _walk(w: widgets.Widget):
    yield w
    for child in getattr(w, "children", ()):
        yield from _walk(child)


def test_traversal_embeds_every_frame_and_links_the_slider() -> None:
    model, x = _model(), torch.rand(2, 1, 28, 28)
    box = traversal_widget(model, x[0], x[1], steps=6)
    controls, kind, paths = box.children
    play, slider = controls.children
    assert isinstance(play, widgets.Play) and play.max == 5
    assert slider.max == 5 and kind.options == ("linear", "slerp")
    assert len(paths.children) == 2 and all(len(s.children) == 6 for s in paths.children)
    linear = interpolate(model, x[0], x[1], 6, "linear")
    assert paths.children[0].children[5].value == frame_html(
        linear[5], "decoded image at t = 1.00, linear path"
    )
    assert paths.children[0].children[0].value != paths.children[0].children[5].value
    assert 'alt="decoded image at t = 0.60, linear path"' in paths.children[0].children[3].value
    assert 'alt="decoded image at t = 1.00, slerp path"' in paths.children[1].children[5].value
    pairs = {(link.source[1], link.target[1]) for link in _links(box)}
    assert ("value", "value") in pairs and ("value", "selected_index") in pairs
    assert ("index", "selected_index") in pairs


def test_live_kernel_decodes_the_new_point_afresh() -> None:
    model, x = _model(), torch.rand(2, 1, 28, 28)
    box = traversal_widget(model, x[0], x[1], steps=4)
    slider, stack = box.children[0].children[1], box.children[2].children[0]
    with torch.no_grad():
        model.decoder_conv[-1].bias.add_(3.0)  # the model changes after the widget was built
    slider.value = 2
    fresh = interpolate(model, x[0], x[1], 4, "linear")[2]
    assert stack.children[2].value == frame_html(fresh, "decoded image at t = 0.67, linear path")


def test_latent_explorer_moves_one_dimension() -> None:
    model, x = _model(), torch.rand(1, 28, 28)
    box = latent_explorer(model, x, dims=(0, 2), values=(-2.0, 0.0, 2.0))
    assert len(box.children) == 2
    slider, stack = box.children[1].children
    assert slider.description == "z3" and len(stack.children) == 3
    mu, _ = model.encode(x.reshape(1, 1, 28, 28))
    code = mu.detach().clone()
    code[0, 2] = 2.0
    alt = "decoded image with z3 = 2.0, the other dimensions at the posterior mean"
    assert stack.children[2].value == frame_html(decode_probs(model, code)[0], alt)


def test_frames_are_28_by_28_pngs_shown_larger_with_their_alt_text() -> None:
    model, x = _model(), torch.rand(2, 1, 28, 28)
    box = traversal_widget(model, x[0], x[1], steps=16)
    frames = [html for stack in box.children[2].children for html in stack.children]
    pngs = []
    for frame in frames:
        match = re.fullmatch(
            r'<img class="vae-frame" src="data:image/png;base64,([A-Za-z0-9+/=]+)" '
            r'alt="decoded image at t = [01]\.\d\d, (linear|slerp) path" width="112" '
            r'height="112" style="image-rendering: pixelated">',
            frame.value,
        )
        assert match, frame.value[:200]
        pngs.append(base64.b64decode(match.group(1)))
        with PIL.Image.open(io.BytesIO(pngs[-1])) as png:
            assert png.size == (28, 28)
    assert len({frame.layout.model_id for frame in frames}) == 2  # one Layout per path's stack
    assert len({frame.style.model_id for frame in frames}) == 2  # and one style
    total = sum(len(png) for png in pngs)
    assert total < 32 * 1000, f"{total} bytes of PNG for 32 frames"
