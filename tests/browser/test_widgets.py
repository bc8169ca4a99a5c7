"""The latent-space chapter's widgets in a real browser, with no kernel behind the page.

For every slider of every widget: dragging it with the mouse and moving it with the
keyboard changes the displayed image, and moving it back restores the first image exactly
(images are compared as decoded pixels, through a canvas). Each widget is rendered exactly
once, and the embedded state stays small.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import SiteBrowser

CHAPTER = "book/07_latent_space.html"
STATE_SCRIPT = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.S
)
VIEW_SCRIPT = 'script[type="application/vnd.jupyter.widget-view+json"]'
MAX_STATE_BYTES_PER_WIDGET = 300_000  # measured: about 190 KB (benchmarks/site_weight.py)

FINGERPRINT = """(widget) => Promise.all(
  [...widget.querySelectorAll('img')]
    .filter(img => img.offsetParent !== null)
    .map(img => img.decode().then(() => {
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext('2d').drawImage(img, 0, 0);
      return canvas.toDataURL();
    }))
).then(pixels => pixels.join('|'))"""


@pytest.fixture(scope="module")
def chapter(site: SiteBrowser) -> object:
    page, visit = site.open(CHAPTER)
    page.wait_for_selector(".widget-slider")
    yield page
    assert not visit.blocked and not visit.console_errors, visit
    page.context.close()


def widgets_on(page: object) -> list[object]:
    return page.query_selector_all(".widget-subarea")


def slider_handles(page: object) -> list[tuple[object, object]]:
    """(widget, slider handle) for every slider of every widget on the page."""
    handles = [(w, h) for w in widgets_on(page) for h in w.query_selector_all(".noUi-handle")]
    assert len(handles) >= 2, "the traversal widget and the explorer have sliders"
    return handles


def wait_for_image(page: object, widget: object, expected: str, same: bool) -> str:
    """Poll the widget's displayed pixels until they equal (same) / differ from `expected`."""
    deadline = time.monotonic() + 5.0
    while True:
        pixels = widget.evaluate(FINGERPRINT)
        if (pixels == expected) == same or time.monotonic() > deadline:
            return pixels
        page.wait_for_timeout(50)


def test_each_widget_renders_exactly_once(chapter: object) -> None:
    views = chapter.query_selector_all(VIEW_SCRIPT)
    assert len(views) >= 2, "the chapter shows a traversal widget and a latent explorer"
    for view in views:
        rendered = view.evaluate(
            "v => v.parentElement.querySelectorAll(':scope > .widget-subarea').length"
        )
        assert rendered == 1, f"a widget rendered {rendered} times"
    assert len(widgets_on(chapter)) == len(views)
    for widget in widgets_on(chapter):
        assert widget.evaluate(FINGERPRINT), "a widget shows no image"


def test_dragging_each_slider_changes_the_image_and_dragging_back_restores_it(
    chapter: object,
) -> None:
    for widget, handle in slider_handles(chapter):
        handle.scroll_into_view_if_needed()
        first = widget.evaluate(FINGERPRINT)
        value = handle.get_attribute("aria-valuenow")
        top = float(handle.get_attribute("aria-valuemax"))
        start = handle.bounding_box()
        track = handle.evaluate_handle("h => h.closest('.noUi-base')").as_element()
        box = track.bounding_box()
        x0, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
        goes_right = float(value) < top / 2
        x1 = box["x"] + box["width"] * (0.8 if goes_right else 0.2)
        chapter.mouse.move(x0, y)
        chapter.mouse.down()
        chapter.mouse.move(x1, y, steps=8)
        chapter.mouse.up()
        moved = wait_for_image(chapter, widget, first, same=False)
        assert handle.get_attribute("aria-valuenow") != value
        assert moved != first, "dragging the slider did not change the image"
        now = handle.bounding_box()
        chapter.mouse.move(now["x"] + now["width"] / 2, y)
        chapter.mouse.down()
        chapter.mouse.move(x0, y, steps=8)
        chapter.mouse.up()
        back = wait_for_image(chapter, widget, first, same=True)
        assert handle.get_attribute("aria-valuenow") == value
        assert back == first, "dragging the slider back did not restore the first image"


def test_the_keyboard_moves_each_slider_and_back(chapter: object) -> None:
    for widget, handle in slider_handles(chapter):
        first = widget.evaluate(FINGERPRINT)
        value = handle.get_attribute("aria-valuenow")
        at_top = float(value) >= float(handle.get_attribute("aria-valuemax"))
        forward, backward = "ArrowRight", "ArrowLeft"
        if at_top:
            forward, backward = backward, forward
        handle.focus()
        chapter.keyboard.press(forward)
        moved = wait_for_image(chapter, widget, first, same=False)
        assert handle.get_attribute("aria-valuenow") != value
        assert moved != first, f"{forward} did not change the image"
        chapter.keyboard.press(backward)
        back = wait_for_image(chapter, widget, first, same=True)
        assert handle.get_attribute("aria-valuenow") == value
        assert back == first, f"{backward} did not restore the first image"


def test_the_embedded_widget_state_stays_small(site_dir: object) -> None:
    html = (site_dir / CHAPTER).read_text(encoding="utf-8")
    states = STATE_SCRIPT.findall(html)
    assert len(states) == 1, "one widget state per page"
    n_views = html.count("application/vnd.jupyter.widget-view+json")
    state_bytes = len(states[0].encode())
    assert json.loads(states[0])["state"], "the state holds the models"
    per_widget = state_bytes / n_views
    assert per_widget < MAX_STATE_BYTES_PER_WIDGET, f"{per_widget:.0f} bytes per widget"
