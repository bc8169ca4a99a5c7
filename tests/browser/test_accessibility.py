"""Accessibility of the built site: axe-core on every page, text alternatives of figures.

axe-core (pinned in package-lock.json, injected as a script's content) audits every page
at desktop and phone width; no serious or critical violation may remain. Every image in a
chapter must have a text alternative that says what it shows: not empty, not a file name.
The in-page demos' own checks (names, keyboard, changing text alternatives) are in
test_demos.py.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from axe_audit import BLOCKING, WIDTHS, Finding, audit
from conftest import SiteBrowser

IMG = re.compile(r"<img\b[^>]*>", re.S)
ALT = re.compile(r'\balt="([^"]*)"')
STATE = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.S
)


@pytest.fixture(scope="module")
def findings(site: SiteBrowser, pages: list[str]) -> list[Finding]:
    found = []
    for width, px in WIDTHS.items():
        for path in pages:
            page, _ = site.open(path, width=px)
            found += audit(page, path, width)
            page.context.close()
    return found


def test_no_page_has_a_serious_or_critical_violation(findings: list[Finding]) -> None:
    blocking = [f for f in findings if f.impact in BLOCKING]
    assert not blocking, "\n".join(
        f"{f.impact} {f.rule} on {f.page} ({f.width}): {f.target}  {f.html[:120]}" for f in blocking
    )


def test_the_audit_sees_what_it_checks(site: SiteBrowser) -> None:
    """A page with a planted image without alt text and a nameless button is caught."""
    page, _ = site.open("book/01_introduction.html")
    page.evaluate("""() => {
        const img = document.createElement('img');
        img.src = '../_static/images/logo_colab.png';
        const button = document.createElement('button');
        document.querySelector('main').append(img, button);
    }""")
    rules = {f.rule for f in audit(page, "planted", "desktop") if f.impact in BLOCKING}
    page.context.close()
    assert {"image-alt", "button-name"} <= rules


def _is_real_text(alt: str) -> bool:
    words = alt.split()
    return len(words) >= 5 and not re.search(r"\.(png|jpe?g|svg|gif)\b|/", alt)


def test_every_figure_says_what_it_shows(site_dir: Path, pages: list[str]) -> None:
    figures = 0
    for path in pages:
        text = (site_dir / path).read_text(encoding="utf-8")
        article = text[text.find('<article class="bd-article">') :]
        for tag in IMG.findall(article):
            alt = ALT.search(tag)
            assert alt and _is_real_text(html.unescape(alt.group(1))), f"{path}: {tag[:160]}"
            figures += 1
        for state in STATE.findall(text):  # the frames inside the widgets
            for model in json.loads(state)["state"].values():
                value = model["state"].get("value", "")
                if model["model_name"] == "HTMLModel" and "<img" in value:
                    alt = ALT.search(value)
                    assert alt and _is_real_text(html.unescape(alt.group(1))), value[-200:]
                    figures += 1
    assert figures >= 27 + 2 * 16, figures  # the chapters' figures and the frames at least


def test_figures_alt_texts_are_their_own(site_dir: Path, pages: list[str]) -> None:
    """No two chapter figures share a text alternative (none is generic boilerplate)."""
    seen: dict[str, str] = {}
    for path in pages:
        article = (site_dir / path).read_text(encoding="utf-8")
        article = article[article.find('<article class="bd-article">') :]
        for tag in IMG.findall(article):
            alt = ALT.search(tag).group(1)
            assert alt not in seen or seen[alt] == path, f"{path} and {seen[alt]}: {alt}"
            seen[alt] = path
