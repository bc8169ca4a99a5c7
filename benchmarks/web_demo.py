"""Speed and weight of the in-page models (vae_tutorial/web/static/vae-demo.js) in Chromium.

Opens chapter 7 of a built site (default _build/html) over http and prints: the median and
95th-percentile time of one decode (mnist-z16, mnist-z2) and one encode (mnist-z16); the
frames per second at which the explorer redraws while its slider is driven by an input
event every animation frame for two seconds; the bytes each model adds to the site
(`_static/vae-web/NAME.js`); and chapter 7's page weight (its HTML, with the widget
state) and everything the page loads.

Usage: python benchmarks/web_demo.py [SITE_DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser.conftest import CHROMIUM, CHROMIUM_FLAGS, serve  # noqa: E402

TIMING = """([name, what, n]) => {
  const m = vaeWeb.model(name), times = [];
  const z = new Float32Array(m.latentDim).fill(0.5), x = m.example(0);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if (what === 'decode') m.decode(z); else m.encode(x);
    times.push(performance.now() - t);
  }
  return times;
}"""

DRAG = """() => new Promise(resolve => {
  const root = document.querySelector("[data-vae-demo='explorer']");
  const slider = root.querySelector("input[type=range]");
  const before = root.vaeDemo.decodeMs.length, start = performance.now();
  let i = 0;
  function frame() {
    slider.value = -3 + (i++ % 120) * 0.05;
    slider.dispatchEvent(new Event('input'));
    if (performance.now() - start < 2000) requestAnimationFrame(frame);
    else requestAnimationFrame(() => resolve(
      (root.vaeDemo.decodeMs.length - before) / ((performance.now() - start) / 1000)));
  }
  requestAnimationFrame(frame);
})"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=ROOT / "_build" / "html")
    site = parser.parse_args().site
    from playwright.sync_api import sync_playwright

    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        loaded: list[int] = []
        page.on("response", lambda r: loaded.append(len(r.body())) if r.ok else None)
        page.goto(base + "book/07_latent_space.html", wait_until="networkidle")
        page.wait_for_function("() => document.querySelector('.vae-demo').dataset.vaeReady")
        for name, what in [
            ("mnist-z16", "decode"),
            ("mnist-z2", "decode"),
            ("mnist-z16", "encode"),
        ]:
            page.evaluate(TIMING, [name, what, 20])  # warm up the JIT
            times = sorted(page.evaluate(TIMING, [name, what, 200]))
            print(f"{name} {what}: median {statistics.median(times):.2f} ms, "
                  f"95th percentile {times[int(0.95 * len(times))]:.2f} ms (200 runs)")  # fmt: skip
        page.locator("[data-vae-demo='explorer']").scroll_into_view_if_needed()
        print(f"explorer redraw while dragging: {page.evaluate(DRAG):.0f} frames/s")
        browser.close()
    for js in sorted((site / "_static" / "vae-web").glob("*.js")):
        print(f"{js.name}: {js.stat().st_size / 1e6:.2f} MB added to the site")
    html = (site / "book" / "07_latent_space.html").stat().st_size
    print(f"chapter 7: HTML (with widget state) {html / 1e3:.0f} KB; "
          f"everything the page loads {sum(loaded) / 1e6:.2f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
