"""Print the one-page (singlehtml) build of the book to a PDF with a real browser, offline.

Usage: python site/print_pdf.py _build/pdf/_build/singlehtml _build/vae-book.pdf

Opens the page in Debian's Chromium through Playwright (never a browser Playwright would
download), waits until MathJax has typeset every formula and the widgets have drawn their
first frame, switches to the print stylesheet and writes an A4 PDF with page numbers.
Jupyter Book 1's own `pdfhtml` builder is not used: it asks Playwright for a downloaded
browser and fails offline. `make pdf` runs the build and this script.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FOOTER = (
    '<div style="font-size: 8px; width: 100%; text-align: center;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
# The print view of the one-page book: no navigation, every chapter on a new page.
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-content, .headerlink, .toggle-secondary-sidebar { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
section > h2 { break-before: page; }
details { display: block; }
"""


def one_page(build: Path) -> Path:
    """The book's single page, copied to the build's root, where its links point.

    With the book's root document in `book/`, Jupyter Book's singlehtml build writes the
    page to `book/index.html` (and a redirect to it at the root), but links its
    `_static/` and `_images/` as if it sat at the root.
    """
    redirect = build / "index.html"
    if not redirect.is_file():
        raise SystemExit(f"{redirect} does not exist: build the singlehtml book first (make pdf)")
    target = re.search(r'url=([^"]+)"', redirect.read_text())
    page = build / target.group(1) if target else redirect
    printable = build / "print.html"
    printable.write_text(page.read_text())
    return printable


def print_pdf(build: Path, out: Path, timeout_ms: int = 120_000) -> float:
    """Write `out` from the singlehtml build folder `build`; the seconds it took."""
    index = one_page(build)
    start = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(index.resolve().as_uri(), wait_until="networkidle", timeout=timeout_ms)
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=timeout_ms)  # fmt: skip
        page.evaluate("MathJax.startup.promise")
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media="print")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(
            path=str(out),
            format="A4",
            print_background=True,
            margin={"top": "15mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
            display_header_footer=True,
            header_template="<div></div>",
            footer_template=FOOTER,
        )
        browser.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path, help="the singlehtml build folder")
    parser.add_argument("out", type=Path, help="the PDF to write")
    args = parser.parse_args()
    seconds = print_pdf(args.build, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {seconds:.0f} s")


if __name__ == "__main__":
    main()
