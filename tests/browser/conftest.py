"""Fixtures for the real-browser tests of the built site.

The site (default `_build/html`, or $SITE_DIR) is served on 127.0.0.1 by a thread of this
process and opened in Debian's Chromium, driven by Playwright. Every request to another
host is blocked and recorded; console errors, page errors and failed responses are
recorded too. Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_SCHEMES = {"data", "blob", "about"}
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="session")
def site_dir() -> Path:
    site = Path(os.environ.get("SITE_DIR", ROOT / "_build" / "html"))
    if not site.is_absolute():
        site = ROOT / site
    if not (site / "index.html").is_file():
        pytest.fail(
            f"no built site at {site}: build it first (`make test-site` builds the quick "
            "site into _build/quick/_build/html, `make book` the full one into _build/html) "
            "or point SITE_DIR at a built site"
        )
    return site


@pytest.fixture(scope="session")
def pages(site_dir: Path) -> list[str]:
    """Every HTML page of the site, as paths relative to its root."""
    found = sorted(
        p.relative_to(site_dir).as_posix()
        for p in site_dir.rglob("*.html")
        if "_static" not in p.parts and "_sources" not in p.parts
    )
    assert "index.html" in found
    return found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def server(site_dir: Path) -> Iterator[str]:
    with serve(site_dir) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file() and shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's browser (`apt-get install chromium`; "
            "`make install` does it when run as root) or set CHROMIUM to its path"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """What happened while one page loaded."""

    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class SiteBrowser:
    """Opens pages of the served site with every other host blocked and recorded."""

    def __init__(self, browser: object, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.netloc = urlsplit(base_url).netloc

    def _is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in LOCAL_SCHEMES or parts.netloc == self.netloc

    def open(self, page_path: str, width: int = 1280, height: int = 900) -> tuple[object, Visit]:
        """A new page at `page_path`, loaded until the network is idle and MathJax is done."""
        visit = Visit()
        context = self.browser.new_context(viewport={"width": width, "height": height})

        def route(route: object) -> None:
            if self._is_local(route.request.url):
                route.continue_()
            else:
                visit.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: visit.console_errors.append(f"uncaught: {e}"))
        page.on(
            "response",
            lambda r: visit.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page.goto(self.base_url + page_path, wait_until="networkidle")
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        return page, visit


@pytest.fixture(scope="session")
def site(browser: object, server: str) -> SiteBrowser:
    return SiteBrowser(browser, server)
