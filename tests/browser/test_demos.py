"""The models in the page: the JavaScript decoder and encoder against PyTorch, and the demos.

Every test runs twice, with the site served over http and opened from disk (`file://`), with
every request to another host blocked. References come from PyTorch running
`vae_tutorial.web.web_model`, the exact weights the page holds (`tests/test_web.py` checks
those against the shipped models).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SiteBrowser

from vae_tutorial.data import load_mnist
from vae_tutorial.web import web_model

TOLERANCE = 1e-4
DEMO_PAGES = {"book/06_sampling.html": {"draw"}, "book/07_latent_space.html": {"explorer", "map"}}


@pytest.fixture(scope="module", params=["http", "file"])
def demo_site(request: pytest.FixtureRequest, browser: object, server: str, site_dir: Path):
    base = server if request.param == "http" else site_dir.as_uri() + "/"
    return SiteBrowser(browser, base)


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {name: web_model(name) for name in ("mnist-z16", "mnist-z2")}


def _open(site: SiteBrowser, path: str, **size: int) -> Iterator[object]:
    page, visit = site.open(path, **size)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.vae-demo')].every(d => d.dataset.vaeReady)"
    )
    yield page
    assert visit.console_errors == [] and visit.blocked == [] and visit.failed == []
    page.context.close()


@pytest.fixture
def chapter7(demo_site: SiteBrowser) -> Iterator[object]:
    yield from _open(demo_site, "book/07_latent_space.html")


@pytest.fixture
def chapter6(demo_site: SiteBrowser) -> Iterator[object]:
    yield from _open(demo_site, "book/06_sampling.html")


def _state(page: object, kind: str, key: str) -> np.ndarray:
    value = page.evaluate(
        "([kind, key]) => Array.from(document.querySelector("
        "`[data-vae-demo='${kind}']`).vaeDemo[key])",
        [kind, key],
    )
    return np.asarray(value, dtype=np.float64)


def _decode(model: torch.nn.Module, z: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = model.decode(torch.as_tensor(z, dtype=torch.float32).reshape(-1, model.latent_dim))
    return torch.sigmoid(logits).reshape(-1, 784).double().numpy()


def test_only_pages_with_a_demo_load_its_code(site_dir: Path, pages: list[str]) -> None:
    for path in pages:
        html = (site_dir / path).read_text()
        kinds = set(re.findall(r'data-vae-demo="(\w+)"', html))
        assert kinds == DEMO_PAGES.get(path, set()), path
        for name in ("vae-demo.js", "vae-demo.css", "vae-web/"):
            assert (name in html) == bool(kinds), f"{path}: {name}"


@pytest.mark.parametrize("name", ["mnist-z16", "mnist-z2"])
def test_the_page_decoder_equals_pytorch_at_20_codes(
    chapter7: object, models: dict, name: str
) -> None:
    model = models[name]
    z = 1.5 * torch.randn(20, model.latent_dim, generator=torch.Generator().manual_seed(1))
    pixels = chapter7.evaluate(
        "([name, zs]) => zs.map(z => Array.from(vaeWeb.model(name).decode(z)))",
        [name, z.tolist()],
    )
    diff = np.abs(np.asarray(pixels) - _decode(model, z.numpy()))
    assert diff.max() < TOLERANCE, diff.max()


@pytest.mark.parametrize("name", ["mnist-z16", "mnist-z2"])
def test_the_page_encoder_equals_pytorch_on_test_digits(
    chapter7: object, models: dict, name: str
) -> None:
    images = load_mnist("test").images[:6].float().div(255)  # (6, 28, 28), as the page's examples
    page_q = chapter7.evaluate(
        "(name) => { const m = vaeWeb.model(name); return [0, 1, 2, 3, 4, 5].map(i => {"
        "const q = m.encode(m.example(i)); return [Array.from(q.mu), Array.from(q.logvar)]; }) }",
        name,
    )
    with torch.no_grad():
        mu, logvar = models[name].encode(images.unsqueeze(1))
    page_mu = np.asarray([q[0] for q in page_q])
    page_logvar = np.asarray([q[1] for q in page_q])
    assert np.abs(page_mu - mu.numpy()).max() < TOLERANCE
    assert np.abs(page_logvar - logvar.numpy()).max() < TOLERANCE


def _wait_for_new_image(page: object, kind: str, before: np.ndarray) -> np.ndarray:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return _state(page, kind, "image")


def test_every_explorer_slider_moves_the_one_image_and_back_by_keyboard(
    chapter7: object, models: dict
) -> None:
    root = chapter7.locator("[data-vae-demo='explorer']")
    sliders = root.locator("input[type=range]")
    assert sliders.count() == 16
    start = _state(chapter7, "explorer", "image")
    np.testing.assert_allclose(start, _decode(models["mnist-z16"], np.zeros(16))[0], atol=TOLERANCE)
    for d in range(16):
        slider = sliders.nth(d)
        label = root.locator(f"label[for='{slider.get_attribute('id')}']").inner_text()
        assert label.startswith(f"z{d + 1}") and ("inactive" in label) == (d == 5)
        slider.focus()
        for _ in range(20):  # 20 steps of 0.05
            chapter7.keyboard.press("ArrowRight")
        moved = _wait_for_new_image(chapter7, "explorer", start)
        z = _state(chapter7, "explorer", "z")
        assert z[d] == pytest.approx(1.0) and np.count_nonzero(z) == 1
        assert np.abs(moved - start).max() > 1e-3, f"z{d + 1} does not change the image"
        np.testing.assert_allclose(moved, _decode(models["mnist-z16"], z)[0], atol=TOLERANCE)
        label = root.locator("canvas").get_attribute("aria-label")  # the text alternative
        assert label.split("z = (")[1].split(", ")[d].rstrip(")") == "1.00", label
        for _ in range(20):
            chapter7.keyboard.press("ArrowLeft")
        back = _wait_for_new_image(chapter7, "explorer", moved)
        np.testing.assert_array_equal(back, start)


def test_explorer_buttons_set_a_prior_sample_and_a_posterior_mean(
    chapter7: object, models: dict
) -> None:
    root = chapter7.locator("[data-vae-demo='explorer']")
    root.get_by_role("button", name="Posterior mean of a test digit").click()
    z = _state(chapter7, "explorer", "z")
    x = load_mnist("test").images[:1].float().div(255).unsqueeze(1)
    with torch.no_grad():
        mu = models["mnist-z16"].encode(x)[0][0].clamp(-3, 3).numpy()
    np.testing.assert_allclose(z, mu, atol=0.05 / 2 + TOLERANCE)  # sliders step by 0.05
    values = [float(v) for v in root.locator("input[type=range]").evaluate_all(
        "inputs => inputs.map(i => i.value)")]  # fmt: skip
    np.testing.assert_allclose(values, z, atol=1e-6)
    label = root.locator("canvas").get_attribute("aria-label")
    assert "posterior mean of a test 7" in label  # the first test digit is a 7
    root.get_by_role("button", name="A sample from the prior").click()
    assert not np.allclose(_state(chapter7, "explorer", "z"), z)


def test_the_map_decodes_the_point_under_the_pointer(chapter7: object, models: dict) -> None:
    root = chapter7.locator("[data-vae-demo='map']")
    canvas = root.locator("canvas.vae-demo-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    r = chapter7.evaluate("() => document.querySelector(\"[data-vae-demo='map']\").vaeDemo.range")
    images = []
    for u, v in [(0.5, 0.5), (0.2, 0.3), (0.8, 0.75), (0.5, 0.5)]:
        chapter7.mouse.move(box["x"] + u * box["width"], box["y"] + v * box["height"])
        image = _wait_for_new_image(chapter7, "map", None)
        z = _state(chapter7, "map", "z")
        np.testing.assert_allclose(z, [(2 * u - 1) * r, (1 - 2 * v) * r], atol=2 * r / box["width"])
        np.testing.assert_allclose(image, _decode(models["mnist-z2"], z)[0], atol=TOLERANCE)
        images.append(image)
    assert np.abs(images[1] - images[0]).max() > 0.05 and np.abs(images[2] - images[1]).max() > 0.05
    np.testing.assert_allclose(images[3], images[0], atol=TOLERANCE)
    canvas.focus()
    before = _state(chapter7, "map", "z")
    chapter7.keyboard.press("ArrowRight")
    chapter7.keyboard.press("Shift+ArrowUp")
    _wait_for_new_image(chapter7, "map", None)
    np.testing.assert_allclose(_state(chapter7, "map", "z") - before, [0.1, 0.5], atol=1e-6)


def _draw_a_seven(page: object) -> None:
    pad = page.locator("canvas.vae-demo-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    points = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for u, v in points[1:]:
        page.mouse.move(box["x"] + u * box["width"], box["y"] + v * box["height"], steps=8)
    page.mouse.up()


def test_a_drawn_digit_is_preprocessed_like_mnist_and_encoded_as_pytorch_does(
    chapter6: object, models: dict
) -> None:
    _draw_a_seven(chapter6)
    chapter6.wait_for_function(
        "() => document.querySelector(\"[data-vae-demo='draw']\").vaeDemo.elbo"
    )
    x = _state(chapter6, "draw", "input").reshape(28, 28)
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    rows, cols = np.nonzero(x > 0)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert max(height, width) == 20 and min(height, width) < 20  # fit into 20x20, aspect kept
    centre = [
        (x.sum(1) * np.arange(28)).sum() / x.sum(),
        (x.sum(0) * np.arange(28)).sum() / x.sum(),
    ]
    np.testing.assert_allclose(centre, [13.5, 13.5], atol=0.5)  # centre of mass at the centre
    model = models["mnist-z16"]
    with torch.no_grad():
        mu, logvar = model.encode(torch.as_tensor(x, dtype=torch.float32).reshape(1, 1, 28, 28))
    np.testing.assert_allclose(_state(chapter6, "draw", "mu"), mu[0].numpy(), atol=TOLERANCE)
    np.testing.assert_allclose(
        _state(chapter6, "draw", "logvar"), logvar[0].numpy(), atol=TOLERANCE
    )
    np.testing.assert_allclose(_state(chapter6, "draw", "recon"), _decode(model, mu.numpy())[0],
                               atol=TOLERANCE)  # fmt: skip
    eps = torch.tensor(chapter6.evaluate(
        "() => document.querySelector(\"[data-vae-demo='draw']\").vaeDemo.eps"))  # fmt: skip
    z = mu + torch.exp(0.5 * logvar) * eps  # (S, D)
    xt = torch.as_tensor(x, dtype=torch.float32).reshape(1, 1, 28, 28)
    with torch.no_grad():
        likelihood = torch.distributions.Bernoulli(logits=model.decode(z), validate_args=False)
        recon_ll = likelihood.log_prob(xt.expand(len(z), -1, -1, -1)).sum((1, 2, 3)).mean()
    kl = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, torch.exp(0.5 * logvar)), torch.distributions.Normal(0, 1)
    ).sum()
    bound = chapter6.evaluate(
        "() => document.querySelector(\"[data-vae-demo='draw']\").vaeDemo.elbo"
    )
    assert bound["reconLL"] == pytest.approx(float(recon_ll), abs=1e-2)
    assert bound["kl"] == pytest.approx(float(kl), abs=1e-3)
    assert bound["elbo"] == pytest.approx(float(recon_ll - kl), abs=1e-2)
    text = chapter6.locator("[data-vae-demo='draw'] .vae-demo-caption").inner_text()
    assert f"{abs(bound['elbo']):.2f} nats" in text


def test_the_drawing_pad_takes_touch_input_at_phone_width(demo_site: SiteBrowser) -> None:
    page, visit = demo_site.open("book/06_sampling.html", width=390, height=844)
    page.wait_for_function("() => document.querySelector('[data-vae-demo=draw]').dataset.vaeReady")
    pad = page.locator("canvas.vae-demo-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert pad.evaluate("p => getComputedStyle(p).touchAction") == "none"
    page.evaluate(
        """([x, y, w]) => {
            const pad = document.querySelector('canvas.vae-demo-pad');
            const ev = (type, u) => pad.dispatchEvent(new PointerEvent(type, {
                pointerType: 'touch', pointerId: 7, isPrimary: true, bubbles: true,
                clientX: x + u * w, clientY: y + w / 2}));
            ev('pointerdown', 0.45); ev('pointermove', 0.5);
            ev('pointermove', 0.55); ev('pointerup', 0.55);
        }""",
        [box["x"], box["y"], box["width"]],
    )
    page.wait_for_function("() => document.querySelector('[data-vae-demo=draw]').vaeDemo.elbo")
    assert _state(page, "draw", "input").max() > 0.5
    assert visit.console_errors == [] and visit.blocked == []
    page.context.close()


def test_keyboard_users_reach_every_control_with_a_visible_focus(chapter7: object) -> None:
    root = chapter7.locator("[data-vae-demo='explorer']")
    root.get_by_role("button", name="All zero").focus()
    chapter7.keyboard.press("Tab")  # from the last button to the first slider
    focused = chapter7.evaluate(
        "() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle,"
        " parseFloat(getComputedStyle(document.activeElement).outlineWidth)]"
    )
    assert focused[0].endswith("-z1") and focused[1] != "none" and focused[2] >= 2
    names = root.locator("input[type=range]").evaluate_all(
        "inputs => inputs.map(i => i.labels.length ? i.labels[0].textContent : '')"
    )
    assert all(name.startswith("z") for name in names) and len(names) == 16


def test_the_drawing_pad_has_a_keyboard_alternative(chapter6: object, models: dict) -> None:
    root = chapter6.locator("[data-vae-demo='draw']")
    button = root.get_by_role("button", name="Draw a test digit for me")
    button.focus()
    chapter6.keyboard.press("Enter")
    chapter6.wait_for_function(
        "() => document.querySelector(\"[data-vae-demo='draw']\").vaeDemo.elbo"
    )
    x = _state(chapter6, "draw", "input")
    with torch.no_grad():
        mu = models["mnist-z16"].encode(
            torch.as_tensor(x, dtype=torch.float32).reshape(1, 1, 28, 28)
        )[0]
    np.testing.assert_allclose(_state(chapter6, "draw", "mu"), mu[0].numpy(), atol=TOLERANCE)
    bars = root.locator("canvas.vae-demo-bars").get_attribute("aria-label")
    assert bars.startswith("Posterior of the drawing per dimension: z1 mean")
    assert "ELBO of your drawing" in root.locator(".vae-demo-caption").inner_text()
