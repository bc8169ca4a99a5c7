"""The traversal widgets: frames embedded for the static site, links, live decoding."""

from __future__ import annotations

import io
import warnings

import ipywidgets as widgets
import PIL.Image
import torch
from ipywidgets.widgets.widget_link import Link

from vae_tutorial import VAE
from vae_tutorial.sampling import decode_probs, interpolate
from vae_tutorial.widgets import FRAME_CLASS, frame_png, latent_explorer, traversal_widget


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
    controls, kind, paths, style = box.children
    assert "image-rendering: pixelated" in style.value
    play, slider = controls.children
    assert isinstance(play, widgets.Play) and play.max == 5
    assert slider.max == 5 and kind.options == ("linear", "slerp")
    assert len(paths.children) == 2 and all(len(s.children) == 6 for s in paths.children)
    linear = interpolate(model, x[0], x[1], 6, "linear")
    assert paths.children[0].children[5].value == frame_png(linear[5])
    assert paths.children[0].children[0].value != paths.children[0].children[5].value
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
    assert stack.children[2].value == frame_png(fresh)


def test_latent_explorer_moves_one_dimension() -> None:
    model, x = _model(), torch.rand(1, 28, 28)
    box = latent_explorer(model, x, dims=(0, 2), values=(-2.0, 0.0, 2.0))
    assert len(box.children) == 3  # two rows and the pixelated style
    slider, stack = box.children[1].children
    assert slider.description == "z3" and len(stack.children) == 3
    mu, _ = model.encode(x.reshape(1, 1, 28, 28))
    code = mu.detach().clone()
    code[0, 2] = 2.0
    assert stack.children[2].value == frame_png(decode_probs(model, code)[0])


def test_frames_are_28_by_28_and_shown_larger_by_the_browser() -> None:
    model, x = _model(), torch.rand(2, 1, 28, 28)
    box = traversal_widget(model, x[0], x[1], steps=16)
    images = [img for stack in box.children[2].children for img in stack.children]
    for img in images:
        with PIL.Image.open(io.BytesIO(img.value)) as png:
            assert png.size == (28, 28)
        assert (img.width, img.height) == ("112px", "112px") and FRAME_CLASS in img._dom_classes
    assert len({img.layout.model_id for img in images}) == 2  # one Layout per path's stack
    total = sum(len(img.value) for img in images)
    assert total < 32 * 1000, f"{total} bytes of PNG for 32 frames"
