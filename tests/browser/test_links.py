"""No broken internal link or anchor anywhere in the built site (no browser needed).

Every href/src of every page that points inside the site must name an existing file, and
every #fragment an element id (or <a name>) of the page it points to.
"""

from __future__ import annotations

from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL_SCHEMES = {"http", "https", "mailto", "data", "javascript", "blob"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("href", "src") and not (tag == "link" and ("rel", "canonical") in attrs):
                self.links.append(value)
            if name == "id" or (tag == "a" and name == "name"):
                self.anchors.add(value)


@cache
def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def broken_links(site_dir: Path, page: Path) -> list[str]:
    broken = []
    for link in _parse(page).links:
        parts = urlsplit(link)
        if parts.scheme in EXTERNAL_SCHEMES or parts.netloc:
            continue
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or site_dir.resolve() not in target.parents:
            broken.append(f"{link} (no file {target})")
        elif (
            parts.fragment
            and target.suffix == ".html"
            and unquote(parts.fragment) not in _parse(target).anchors
        ):
            broken.append(f"{link} (no #{parts.fragment} in {target.name})")
    return broken


def test_no_broken_internal_links_or_anchors(site_dir: Path, pages: list[str]) -> None:
    checked = 0
    problems = {}
    for relative in pages:
        page = site_dir / relative
        checked += len(_parse(page).links)
        if broken := broken_links(site_dir, page):
            problems[relative] = broken
    assert checked > 500, f"only {checked} links found: is the site complete?"
    assert not problems, f"broken internal links: {problems}"


def test_the_link_checker_catches_a_broken_link_and_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<a id="top" href="b.html#here">ok</a><a href="b.html#gone">x</a><a href="c.html">y</a>'
        '<a href="#top">self</a><a href="https://example.org/">out</a>'
    )
    (tmp_path / "b.html").write_text('<h1 id="here">b</h1>')
    broken = broken_links(tmp_path, tmp_path / "a.html")
    assert len(broken) == 2
    assert "b.html#gone" in broken[0] and "c.html" in broken[1]
