"""Chapter 7 in JupyterLab with a live kernel, driven in a real browser.

Starts JupyterLab (as `make lab` does) on 127.0.0.1 on a copy of chapter 7, opens it in
Debian's Chromium through Playwright and runs every cell. Then it changes the model in the
kernel (a new cell shifts the decoder's output bias), moves the traversal slider, and
checks that the kernel decoded the new frame with the changed model: the slider's update
goes out over the kernel's websocket, an image update carrying a PNG comes back, and the
frame on screen is one the page did not have before. The in-page demos
(`vae_tutorial.web.demo`: explorer and latent map) must run in JupyterLab's page too.
No JavaScript error may occur.
Run by `make test-lab` (quick mode; MNIST must be readable).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
CHAPTER = "07_latent_space.ipynb"
ALL_FRAMES = "area => [...area.querySelectorAll('img.vae-frame')].map(i => i.src)"
VISIBLE_FRAME = """area => {
    const img = [...area.querySelectorAll('img.vae-frame')].find(i => i.offsetParent !== null);
    return img ? img.src : null;
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a JupyterLab serving a copy of chapter 7 (token included)."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "book" / CHAPTER, work)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    jupyter = Path(sys.executable).parent / "jupyter"
    server = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={work}"],
        env={**os.environ, "VAE_BOOK_QUICK": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield f"{base}/lab/tree/{CHAPTER}?token={token}"
    finally:
        server.terminate()
        server.wait(30)
    assert not (ROOT / "book" / ".ipynb_checkpoints").exists()


def _run_all_cells(page: Page) -> None:
    page.wait_for_selector(".jp-Notebook .jp-Cell.jp-mod-active", timeout=60_000)
    page.get_by_text("| Idle").wait_for(timeout=120_000)  # the kernel has started
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=300_000,
        polling=1000,
    )


def test_the_traversal_slider_decodes_through_the_kernel(lab: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sent: list[bytes] = []
        images: list[bytes] = []

        def watch(ws) -> None:  # the kernel's channel: widget updates both ways
            def to_kernel(payload: bytes | str) -> None:
                data = payload.encode() if isinstance(payload, str) else payload
                if b"comm_msg" in data and b'"update"' in data:
                    sent.append(data)

            def from_kernel(payload: bytes | str) -> None:
                data = payload.encode() if isinstance(payload, str) else payload
                if b'"update"' in data and b"data:image/png;base64" in data:
                    images.append(data)

            ws.on("framesent", to_kernel)
            ws.on("framereceived", from_kernel)

        page.on("websocket", watch)
        page.goto(lab)
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        _run_all_cells(page)

        demo_errors = _check_the_in_page_demos(page)

        cell = page.locator(".jp-CodeCell", has_text="traversal_widget(").first
        cell.scroll_into_view_if_needed()
        handle = cell.locator(".jp-OutputArea .noUi-handle").first
        handle.wait_for(timeout=60_000)
        area = cell.locator(".jp-OutputArea").first.element_handle()
        shown = page.evaluate(ALL_FRAMES, area)
        assert shown

        cell.locator(".jp-InputArea").click()  # a new cell below it changes the model
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # a new cell below, in command mode
        page.keyboard.press("Enter")  # edit mode
        page.keyboard.type("model.decoder_conv[-1].bias.data += 3.0")
        page.keyboard.press("Shift+Enter")
        page.get_by_text("| Idle").wait_for(timeout=60_000)
        page.wait_for_timeout(1000)

        before, sent_before, images_before = (
            page.evaluate(VISIBLE_FRAME, area),
            len(sent),
            len(images),
        )
        handle.focus()
        for _ in range(5):
            handle.press("ArrowRight")
        page.wait_for_function(
            f"([area, old]) => ({VISIBLE_FRAME})(area) !== old", arg=[area, before],
            timeout=30_000,
        )  # fmt: skip
        deadline = time.time() + 30
        while len(images) == images_before and time.time() < deadline:
            page.wait_for_timeout(200)
        page.wait_for_timeout(1000)
        after = page.evaluate(VISIBLE_FRAME, area)
        browser.close()

    assert len(sent) > sent_before, "the slider's move never reached the kernel"
    assert len(images) > images_before, "no newly decoded frame came back from the kernel"
    assert after not in shown, "the frame on screen is one built before the model changed"
    assert not errors, errors
    assert not demo_errors, demo_errors


def _check_the_in_page_demos(page: Page) -> list[str]:
    """The explorer and the map of `vae_tutorial.web.demo` run in JupyterLab's page too."""
    problems = []
    for kind, code in [("explorer", 'demo("mnist-z16", "explorer")'),
                       ("map", 'demo("mnist-z2", "map")')]:  # fmt: skip
        cell = page.locator(".jp-CodeCell", has_text=code).first
        cell.scroll_into_view_if_needed()
        root = cell.locator(f".jp-OutputArea .vae-demo[data-vae-demo='{kind}']")
        root.locator("canvas").first.wait_for(timeout=60_000)
        before = root.evaluate("d => Array.from(d.vaeDemo.image)")
        target = "input[type=range] >> nth=2" if kind == "explorer" else "canvas.vae-demo-map"
        root.locator(target).scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # let JupyterLab finish laying out the scrolled notebook
        box = root.locator(target).bounding_box()  # drag the slider, or point at the map
        page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.85 * box["width"], box["y"] + 0.4 * box["height"], steps=5)
        page.mouse.up()
        changed = "([d, before]) => d.vaeDemo.image.some((v, i) => Math.abs(v - before[i]) > 1e-3)"
        try:
            page.wait_for_function(changed, arg=[root.element_handle(), before], timeout=15_000)
        except PlaywrightTimeout:
            state = root.evaluate("d => [Array.from(d.vaeDemo.z), d.vaeDemo.decodeMs.length]")
            problems.append(f"the {kind} in JupyterLab did not change its image: {state}, {box}")
    return problems
