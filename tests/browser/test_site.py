"""Every page of the built site in a real browser: offline, math rendered, no JS errors.

Each page is loaded once at desktop width (1280 px) and once at phone width (390 px);
screenshots of both go to _build/screenshots/{desktop,phone}/ for review (they are not
compared). The assertions list every offending page at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import SCREENSHOT_DIR, SiteBrowser, Visit, serve
from PIL import Image

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}

MATH_STATE = """() => {
  const nodes = [...document.querySelectorAll('div.math, span.math')];
  return {
    total: nodes.length,
    rendered: nodes.filter(n => n.querySelector('mjx-container')).length,
    errors: document.querySelectorAll('mjx-merror').length,
    raw_dollars: document.body.innerText.includes('$$'),
  };
}"""


@dataclass
class PageReport:
    visits: dict[str, Visit]
    math: dict[str, int | bool]


@pytest.fixture(scope="module")
def reports(site: SiteBrowser, pages: list[str]) -> dict[str, PageReport]:
    result = {}
    for path in pages:
        visits, math = {}, {}
        for name, (width, height) in WIDTHS.items():
            page, visits[name] = site.open(path, width, height)
            if name == "desktop":
                math = page.evaluate(MATH_STATE)
            shot = screenshot_path(name, path)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            page.context.close()
        result[path] = PageReport(visits, math)
    return result


def test_the_site_has_every_chapter(pages: list[str]) -> None:
    """Every file of _toc.yml is a built page, and nothing else is."""
    toc = yaml.safe_load((Path(__file__).parents[2] / "_toc.yml").read_text())
    listed = {f"{toc['root']}.html"} | {
        f"{chapter['file']}.html" for part in toc["parts"] for chapter in part["chapters"]
    }
    assert len(listed) == 15, "root, 10 chapters, the instructors' page, 3 back matter"
    built = {p for p in pages if p.startswith("book/")}
    assert built == listed, (sorted(listed - built), sorted(built - listed))


def problems(reports: dict[str, PageReport], kind: str) -> dict[str, list[str]]:
    """`kind` (blocked / failed / console_errors) of every visit that has any."""
    return {
        f"{path} ({width})": getattr(visit, kind)
        for path, report in reports.items()
        for width, visit in report.visits.items()
        if getattr(visit, kind)
    }


def test_no_page_requests_anything_outside_the_site(reports: dict[str, PageReport]) -> None:
    assert not (found := problems(reports, "blocked")), f"requests to other hosts: {found}"


def test_every_request_within_the_site_succeeds(reports: dict[str, PageReport]) -> None:
    assert not (found := problems(reports, "failed")), f"failed responses: {found}"


def test_no_javascript_errors_on_any_page(reports: dict[str, PageReport]) -> None:
    assert not (found := problems(reports, "console_errors")), f"console errors: {found}"


def test_math_is_rendered_by_mathjax(reports: dict[str, PageReport]) -> None:
    with_math = {path: r.math for path, r in reports.items() if r.math["total"]}
    assert len(with_math) >= 5, f"expected math on most chapters, found it on {list(with_math)}"
    bad = {
        path: math
        for path, math in with_math.items()
        if math["rendered"] != math["total"] or math["errors"] or math["raw_dollars"]
    }
    assert not bad, f"math left unrendered or with errors: {bad}"


def screenshot_path(kind: str, path: str) -> Path:
    return SCREENSHOT_DIR / kind / (path.replace("/", "__").removesuffix(".html") + ".png")


def test_screenshots_show_each_page_at_its_width(reports: dict[str, PageReport]) -> None:
    """Each page's screenshot is as wide as its viewport, at least as tall, and not blank:
    the grey levels vary and more than 1% of the pixels differ from the commonest colour."""
    bad = {}
    for path in reports:
        for kind, (width, height) in WIDTHS.items():
            with Image.open(screenshot_path(kind, path)) as image:
                pixels = np.asarray(image.convert("RGB"), dtype=np.int64)  # (H, W, 3)
            colours, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
            background = 1 - counts.max() / counts.sum()
            grey_std = float(pixels.mean(-1).std())
            if pixels.shape[1] != width or pixels.shape[0] < height:
                bad[f"{path} ({kind})"] = f"size {pixels.shape[1]}x{pixels.shape[0]}"
            elif grey_std < 5.0 or background < 0.01 or len(colours) < 16:
                bad[f"{path} ({kind})"] = f"blank? std {grey_std:.1f}, {len(colours)} colours"
    assert not bad, bad


def test_the_harness_records_outside_requests_errors_and_missing_files(
    browser: object, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(
        '<img src="https://cdn.example.org/x.png"><script src="missing.js"></script>'
        "<script>undefinedFunction()</script>"
    )
    with serve(tmp_path) as base_url:
        page, visit = SiteBrowser(browser, base_url).open("index.html")
        page.context.close()
    assert visit.blocked == ["https://cdn.example.org/x.png"]
    assert any("missing.js" in f for f in visit.failed)
    assert any("undefinedFunction" in e for e in visit.console_errors)
