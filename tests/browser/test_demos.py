"""The models in the page: the JavaScript decoder and encoder against PyTorch, and the demos.

Every test runs twice, with the site served over http and opened from disk (`file://`), with
every request to another host blocked. References come from PyTorch running
`vae_tutorial.web.web_model`, the exact weights the page holds (`tests/test_web.py` checks
those against the shipped models).
"""

from __future__ import annotations

import inspect
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
import torch
from axe_audit import BLOCKING, WIDTHS, audit
from conftest import SiteBrowser, serve

import vae_tutorial.elbo
import vae_tutorial.model
import vae_tutorial.web
from vae_tutorial.data import load_mnist
from vae_tutorial.web import export_web_model, web_model

TOLERANCE = 1e-4
DEMO_PAGES = {
    "book/03_vae.html": {"code", "posterior"},
    "book/06_sampling.html": {"draw"},
    "book/07_latent_space.html": {"explorer", "map"},
    "book/08_evaluation.html": {"iwae"},
}


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


def _draw_a_seven(page: object, root: object = None) -> None:
    pad = (root or page).locator("canvas.vae-demo-pad")
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


# ---- The explorable explanations: q(z|x) and "draw eps again", IWAE, calc_elbo live ------
#
# These run on a page built here from the package (the scripts, the style and the exported
# weights, as the site serves them), over http and from disk, so they need no site build;
# the chapters that hold the same demos are checked by test_only_pages_with_a_demo_load_its_code
# above and audited with the whole site by test_accessibility.py.

NEW_DEMOS = {"posterior": "mnist-z2", "iwae": "mnist-z16", "code": "mnist-z16"}
NATS = 5e-4  # nats: sums over 784 pixels of float32 layers (the page) against PyTorch


@pytest.fixture(scope="module")
def demo_page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A page with the three demos, laid out as a site page: scripts beside it, weights in
    vae-web/ (exported by export_web_model, as the site build does)."""
    out = tmp_path_factory.mktemp("demos")
    static = Path(vae_tutorial.web.__file__).parent / "static"
    for name in ("vae-demo.js", "vae-demo.css"):
        shutil.copy(static / name, out / name)
    for name in sorted(set(NEW_DEMOS.values())):
        export_web_model(name, out / "vae-web")
    demos = "\n".join(
        f'<h2>{kind}</h2>\n<div class="vae-demo" data-vae-model="{name}" data-vae-demo="{kind}">'
        "</div>"
        for kind, name in NEW_DEMOS.items()
    )
    scripts = "".join(
        f'<script src="vae-web/{name}.js"></script>' for name in sorted(set(NEW_DEMOS.values()))
    )
    (out / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>Demos</title><link rel="stylesheet" href="vae-demo.css"></head>\n'
        f"<body><main><h1>The explorable explanations</h1>\n{demos}\n</main>"
        f'{scripts}<script src="vae-demo.js"></script></body></html>\n'
    )
    return out


@pytest.fixture(scope="module", params=["http", "file"])
def demo_page_site(
    request: pytest.FixtureRequest, browser: object, demo_page_dir: Path
) -> Iterator[SiteBrowser]:
    if request.param == "file":
        yield SiteBrowser(browser, demo_page_dir.as_uri() + "/")
        return
    with serve(demo_page_dir) as base:
        yield SiteBrowser(browser, base)


@pytest.fixture
def demo_page(demo_page_site: SiteBrowser) -> Iterator[object]:
    yield from _open(demo_page_site, "index.html")


@contextmanager
def fixed_noise(eps: torch.Tensor) -> Iterator[None]:
    """The package's bounds with the page's noise: every call of `reparameterize` (by
    calc_elbo, and by VAE.sample_posterior for the importance weights) takes the next rows
    of `eps` (N, D) as its standard-normal draws, for a batch of one image."""
    used = 0

    def reparameterize(mu, logvar, n_samples=None, generator=None):
        nonlocal used
        n = 1 if n_samples is None else n_samples
        e = eps[used : used + n].to(mu.dtype)
        assert e.shape[0] == n, "the page exposed fewer draws than the package asks for"
        used += n
        e = e.reshape(mu.shape) if n_samples is None else e.reshape(n, *mu.shape)
        return mu + torch.exp(0.5 * logvar) * e  # eq. reparam

    with (
        patch.object(vae_tutorial.elbo, "reparameterize", reparameterize),
        patch.object(vae_tutorial.model, "reparameterize", reparameterize),
    ):
        yield


def _demo_state(page: object, kind: str) -> dict:
    return page.evaluate(
        "(kind) => { const s = document.querySelector(`[data-vae-demo='${kind}']`).vaeDemo;"
        " const out = {}; for (const [k, v] of Object.entries(s)) if (typeof v !== 'function')"
        " out[k] = ArrayBuffer.isView(v) ? Array.from(v) : v; return out; }",
        kind,
    )


def _image(x: list[float]) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float32).reshape(1, 1, 28, 28)


def _check_posterior(model: torch.nn.Module, state: dict) -> None:
    with torch.no_grad():
        mu, logvar = model.encode(_image(state["x"]))
    np.testing.assert_allclose(state["mu"], mu[0].numpy(), atol=TOLERANCE)
    np.testing.assert_allclose(state["logvar"], logvar[0].numpy(), atol=TOLERANCE)


def _check_one_draw(model: torch.nn.Module, state: dict, diffs: list[float]) -> None:
    """z, the image decoded from it and calc_elbo's three terms, all with the page's eps."""
    x, eps = _image(state["x"]), torch.tensor([state["eps"]], dtype=torch.float32)
    mu, logvar = torch.tensor(state["mu"]), torch.tensor(state["logvar"])
    z = mu + torch.exp(0.5 * logvar) * eps[0]
    np.testing.assert_allclose(state["z"], z.numpy(), atol=1e-6)
    with torch.no_grad(), fixed_noise(eps):
        terms = vae_tutorial.elbo.calc_elbo(model, x)
    for key, reference in zip(("elbo", "reconLL", "kl"), terms, strict=True):
        diffs.append(abs(state[key] - float(reference[0])))
        assert state[key] == pytest.approx(float(reference[0]), abs=NATS), key


def test_the_posterior_demo_draws_z_inside_q_and_its_terms_are_calc_elbos(
    demo_page: object, models: dict
) -> None:
    model, diffs = models["mnist-z2"], []
    root = demo_page.locator("[data-vae-demo='posterior']")
    state = _demo_state(demo_page, "posterior")
    np.testing.assert_allclose(state["x"], load_mnist("test").images[0].flatten() / 255, atol=1e-6)
    _check_posterior(model, state)
    _check_one_draw(model, state, diffs)
    with torch.no_grad():
        recon = torch.sigmoid(model.decode(torch.tensor([state["z"]]))).flatten().numpy()
    np.testing.assert_allclose(state["recon"], recon, atol=TOLERANCE)
    again = root.get_by_role("button", name="Draw \u03b5 again")
    seen = [state["eps"]]
    for draw in range(2, 5):  # by keyboard
        again.focus()
        demo_page.keyboard.press("Enter")
        state = _demo_state(demo_page, "posterior")
        assert len(state["history"]) == draw and state["eps"] not in seen
        seen.append(state["eps"])
        _check_one_draw(model, state, diffs)
        mean = np.mean([h["elbo"] for h in state["history"]])
        assert state["meanElbo"] == pytest.approx(mean, abs=1e-9)
    table = root.locator(".vae-demo-numbers").inner_text()
    assert f"{abs(state['elbo']):.2f}" in table and f"{state['kl']:.2f}" in table
    zoom = root.locator("canvas.vae-demo-zoom").get_attribute("aria-label")
    assert f"{state['z'][0]:.2f}".lstrip("-") in zoom and "2-sigma ellipses" in zoom
    # another test digit, chosen with the keyboard: a new q(z|x) and a fresh history
    button = root.get_by_role("button", name="test digit 3: a 1")
    button.focus()
    demo_page.keyboard.press("Space")
    state = _demo_state(demo_page, "posterior")
    assert button.get_attribute("aria-pressed") == "true" and len(state["history"]) == 1
    np.testing.assert_allclose(state["x"], load_mnist("test").images[2].flatten() / 255, atol=1e-6)
    _check_posterior(model, state)
    _check_one_draw(model, state, diffs)
    # the reader's own drawing
    _draw_a_seven(demo_page, root)
    state = _demo_state(demo_page, "posterior")
    assert state["digit"] == "your drawing" and button.get_attribute("aria-pressed") == "false"
    _check_posterior(model, state)
    _check_one_draw(model, state, diffs)
    print(f"posterior demo: max |diff| vs calc_elbo {max(diffs):.2e} nats")


def test_the_posterior_demos_noise_is_seeded(demo_page_site: SiteBrowser) -> None:
    """Two visits draw the same eps: the page's generator is seeded."""
    draws = []
    for _ in range(2):
        visit = _open(demo_page_site, "index.html")
        page = next(visit)
        root = page.locator("[data-vae-demo='posterior']")
        root.get_by_role("button", name="Draw \u03b5 again").click()
        draws.append([h["z"] for h in _demo_state(page, "posterior")["history"]])
        next(visit, None)  # the checks after the visit, and close it
    assert draws[0] == draws[1]


def _wait_for_iwae(page: object) -> dict:
    page.wait_for_function(
        "() => document.querySelector(\"[data-vae-demo='iwae']\").vaeDemo.done", timeout=120_000
    )
    return _demo_state(page, "iwae")


def test_the_iwae_demo_equals_the_packages_bounds_with_the_same_eps(
    demo_page: object, models: dict
) -> None:
    model = models["mnist-z16"]
    state = _wait_for_iwae(demo_page)
    x, eps = _image(state["x"]), torch.tensor(state["eps"], dtype=torch.float32)  # (1000, 16)
    assert eps.shape == (1000, 16) and len(state["logW"]) == 1000
    _check_posterior(model, state)
    with torch.no_grad():
        with fixed_noise(eps):
            log_w = vae_tutorial.elbo.log_importance_weights(model, x, 1000)[:, 0]  # (1000,)
        with fixed_noise(eps):
            logp = vae_tutorial.elbo.log_likelihood(model, x, k=1000)[0]
        bounds = []
        for k in range(1, 65):
            with fixed_noise(eps):
                bounds.append(float(vae_tutorial.elbo.iwae_bound(model, x, k)[0]))
        with fixed_noise(eps[:1]):
            elbo = vae_tutorial.elbo.calc_elbo(model, x)
    diffs = {
        "log w": np.abs(np.asarray(state["logW"]) - log_w.double().numpy()).max(),
        "L_k": np.abs(np.asarray(state["iwae"]) - np.asarray(bounds)).max(),
        "log p": abs(state["logp"] - float(logp)),
        "ELBO": abs(state["elbo"] - float(elbo.elbo[0])),
        "KL": abs(state["kl"] - float(elbo.kl[0])),
    }
    print("iwae demo, max |diff| vs PyTorch (nats):", {k: f"{v:.2e}" for k, v in diffs.items()})
    assert max(diffs.values()) < NATS, diffs
    # the slider, by keyboard: k = 64, then 63
    root = demo_page.locator("[data-vae-demo='iwae']")
    slider = root.get_by_role("slider", name="k, importance samples")
    slider.focus()
    demo_page.keyboard.press("End")
    demo_page.keyboard.press("ArrowLeft")
    assert _demo_state(demo_page, "iwae")["k"] == 63
    table = root.locator(".vae-demo-numbers").inner_text()
    for value in (
        bounds[62],
        state["logp"],
        state["logp"] - state["elbo"],
        state["logp"] - bounds[62],
    ):
        assert f"{abs(value):.2f}" in table, (value, table)
    assert bounds[62] > state["elbo"] - 1 and state["logp"] >= max(bounds) - 1  # as the bounds go
    chart = root.locator("canvas.vae-demo-chart").get_attribute("aria-label")
    assert "k = 63" in chart and f"{abs(bounds[62]):.2f}" in chart
    # new draws: new eps, the first 64 weights at once, log p(x) again after the rest
    root.get_by_role("button", name="Draw new \u03b5 (all 1000)").click()
    again = _wait_for_iwae(demo_page)
    assert again["eps"][0] != state["eps"][0] and again["k"] == 63


def test_the_code_demo_shows_the_packages_calc_elbo_with_each_lines_value(
    demo_page: object, models: dict
) -> None:
    model, diffs = models["mnist-z16"], []
    root = demo_page.locator("[data-vae-demo='code']")
    rows = root.locator("table.vae-demo-code tbody tr")
    code = rows.locator("td:nth-child(2) code").evaluate_all("cs => cs.map(c => c.textContent)")
    lines, first = inspect.getsourcelines(vae_tutorial.elbo.calc_elbo)
    assert code == [line.rstrip("\n") for line in lines]  # the package's source, as it is now
    numbers = rows.locator("td:nth-child(1)").evaluate_all("cs => cs.map(c => c.textContent)")
    assert numbers == [str(first + i) for i in range(len(lines))]
    docstring = [i for i, line in enumerate(code) if '"""' in line]  # its first and last line
    hidden = rows.evaluate_all("rs => rs.map(r => r.hidden)")
    assert hidden == [docstring[0] <= i <= docstring[-1] for i in range(len(code))]
    toggle = root.get_by_role("button", name=re.compile("Show the docstring"))
    toggle.click()
    toggle = root.get_by_role("button", name=re.compile("Hide the docstring"))
    assert toggle.get_attribute("aria-expanded") == "true" and not any(
        rows.evaluate_all("rs => rs.map(r => r.hidden)")
    )
    for _ in range(2):
        state = _demo_state(demo_page, "code")
        _check_posterior(model, state)
        _check_one_draw(model, state, diffs)
        shown = rows.evaluate_all(
            "rs => rs.map(r => (r.querySelector('.vae-demo-code-value') || {}).textContent || '')"
        )
        assert all(v == "" or v.startswith("\u2192 ") for v in shown)
        values = dict(zip(code, (v[2:] for v in shown), strict=True))
        live = {c.split()[0]: v for c, v in values.items() if v}
        assert set(live) == {"model:", "x:", "n_samples:", "generator:", "mu,", "z",
                             "recon_ll", "kl", "return"}  # fmt: skip
        assert all("not computed" not in v for v in live.values())
        mu, logvar = np.asarray(state["mu"]), np.asarray(state["logvar"])
        assert live["mu,"] == (
            f"mu = shape (1, 16): mean {_minus(mu.mean(), 3)}, min {_minus(mu.min(), 2)}, "
            f"max {_minus(mu.max(), 2)}; logvar = shape (1, 16): mean {_minus(logvar.mean(), 3)}, "
            f"min {_minus(logvar.min(), 2)}, max {_minus(logvar.max(), 2)}"
        )
        assert live["z"].startswith("z = shape (1, 1, 16): mean ")
        x = np.asarray(state["x"])
        x_text = f"x = shape (1, 1, 28, 28): mean {_minus(x.mean(), 3)}, min 0.00, max 1.00"
        assert live["x:"] == x_text
        assert live["recon_ll"] == f"recon_ll = shape (1,): ({_minus(state['reconLL'], 2)})"
        assert live["kl"] == f"kl = shape (1,): ({_minus(state['kl'], 2)})"
        elbo, recon_ll, kl = (_minus(state[key], 2) for key in ("elbo", "reconLL", "kl"))
        assert live["return"] == f"returns ELBO(elbo=[{elbo}], recon_ll=[{recon_ll}], kl=[{kl}])"
        root.get_by_role("button", name="Draw \u03b5 again").click()
        assert _demo_state(demo_page, "code")["eps"] != state["eps"]
    print(f"code demo: max |diff| vs calc_elbo {max(diffs):.2e} nats")


def _minus(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace("-", "\u2212")


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_new_demos_are_axe_clean_and_fit_a_phone(
    demo_page_site: SiteBrowser, width: str
) -> None:
    visit = _open(demo_page_site, "index.html")
    page = next(visit)
    page.set_viewport_size({"width": WIDTHS[width], "height": 900})
    _wait_for_iwae(page)
    if demo_page_site.base_url.startswith("http"):  # axe reads the stylesheets: not on file://
        blocking = [f for f in audit(page, "demos", width) if f.impact in BLOCKING]
        assert not blocking, "\n".join(f"{f.rule} {f.target} {f.html[:100]}" for f in blocking)
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('.vae-demo *')].filter(e => "
        "e.getBoundingClientRect().right > document.documentElement.clientWidth + 1"
        " && !e.closest('.vae-demo-code-scroll')).map(e => e.tagName + '.' + e.className)"
    )
    assert overflow == [], overflow
    next(visit, None)


def test_every_new_control_is_reached_by_tab_with_a_visible_focus(demo_page: object) -> None:
    reached = []
    demo_page.locator("h1").click()
    for _ in range(60):
        demo_page.keyboard.press("Tab")
        focused = demo_page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.closest('[data-vae-demo]')?.dataset.vaeDemo, e.tagName,"
            " e.getAttribute('aria-label') || e.textContent || (e.labels && e.labels[0]"
            " && e.labels[0].textContent), s.outlineStyle, parseFloat(s.outlineWidth)]; }"
        )
        if focused[0] is None:
            break
        assert focused[2], focused  # every control has a name
        assert focused[3] != "none" and focused[4] >= 2, focused  # and a visible focus
        reached.append((focused[0], focused[2]))
    names = {kind: [name for k, name in reached if k == kind] for kind in NEW_DEMOS}
    for kind in NEW_DEMOS:
        assert "test digit 1: a 7" in names[kind] and "Clear the drawing" in names[kind]
    assert "Draw \u03b5 again" in names["posterior"] and "Draw \u03b5 again" in names["code"]
    assert "k, importance samples" in names["iwae"]
