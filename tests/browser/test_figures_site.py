"""Each conceptual figure reaches the built site as a numbered figure with its alt text.

Reads every figure cell's metadata (name, caption, alt) from the chapters and checks the
built page: an element with the figure's id holding exactly one image, whose alt is the
cell's alt text and which has loaded (non-zero natural width), and a caption that
starts with "Fig. N". Runs on the site `make test-site` built (SITE_DIR).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SiteBrowser

BOOK = Path(__file__).resolve().parents[2] / "book"


def figure_cells() -> list[tuple[str, dict]]:
    found = []
    for notebook in sorted(BOOK.glob("[01][0-9]_*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            meta = cell["metadata"].get("mystnb", {})
            if cell["cell_type"] == "code" and "figure" in meta:
                found.append((notebook.stem, meta))
    return found


FIGURES = figure_cells()

STATE = """(id) => {
  const figure = document.getElementById(id);
  if (!figure) return null;
  const images = [...figure.querySelectorAll('img')];
  const caption = figure.querySelector('figcaption');
  return {
    images: images.length,
    alt: images.length ? images[0].getAttribute('alt') : null,
    loaded: images.length ? images[0].naturalWidth : 0,
    caption: caption ? caption.innerText : '',
  };
}"""


@pytest.fixture(scope="module")
def site(browser: object, server: str) -> SiteBrowser:
    return SiteBrowser(browser, server)


def test_there_are_figures_to_check():
    assert len(FIGURES) >= 10 and {stem for stem, _ in FIGURES} >= {
        f.stem for f in BOOK.glob("[01][0-9]_*.ipynb")
    }


@pytest.mark.parametrize("stem, meta", FIGURES, ids=[m["figure"]["name"] for _, m in FIGURES])
def test_figure_is_numbered_with_its_alt_text(site: SiteBrowser, stem: str, meta: dict):
    page, visit = site.open(f"book/{stem}.html")
    state = page.evaluate(STATE, meta["figure"]["name"])
    page.context.close()
    assert visit.console_errors == [] and visit.blocked == [] and visit.failed == []
    assert state is not None, f"book/{stem}.html has no element #{meta['figure']['name']}"
    assert state["images"] == 1 and state["loaded"] > 0
    assert state["alt"] == meta["image"]["alt"]
    assert state["caption"].startswith("Fig. "), state["caption"]
