"""The printed book: every chapter's title, typeset math, figures, a sane size.

Run by `make test-pdf`, on the PDF that `make pdf` writes (PDF_PATH names another).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[2]
PDF = Path(os.environ.get("PDF_PATH", ROOT / "_build" / "vae-book.pdf"))
# TeX the prose uses and no code cell prints (code cells legitimately hold r"$\log$" labels)
RAW_TEX = re.compile(r"\\(frac|mathbb|mid|operatorname|begin\{|sum_|mathrm)|\$\$")


@pytest.fixture(scope="module")
def reader() -> PdfReader:
    if not PDF.is_file():
        pytest.fail(f"{PDF} does not exist: run `make pdf` first (or set PDF_PATH)")
    return PdfReader(PDF)


@pytest.fixture(scope="module")
def text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def chapter_titles() -> list[str]:
    """The first heading of every page in the table of contents."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    titles = []
    for name in files:
        path = next(ROOT.glob(f"{name}.*"))
        if path.suffix == ".ipynb":
            source = nbformat.read(path, as_version=4).cells[0].source
        else:
            source = path.read_text()
        titles.append(re.search(r"^# (.+)$", source, re.M).group(1).replace("`", ""))
    return titles


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_every_chapter_title_is_in_the_pdf(text: str) -> None:
    squashed = _squash(text)
    missing = [t for t in chapter_titles() if _squash(t) not in squashed]
    assert len(chapter_titles()) >= 14 and not missing, missing


def test_no_raw_tex_is_left(text: str) -> None:
    """MathJax typeset every formula: no TeX source in the text layer."""
    assert not RAW_TEX.findall(text), RAW_TEX.findall(text)[:5]


def test_the_pdf_has_figures_and_page_numbers(reader: PdfReader, text: str) -> None:
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 20, f"only {images} images in the PDF"
    last = len(reader.pages)
    assert f"{last} / {last}" in (reader.pages[-1].extract_text() or "")


def test_the_size_is_sane(reader: PdfReader) -> None:
    pages, size_mb = len(reader.pages), PDF.stat().st_size / 1e6
    assert 60 <= pages <= 600, pages
    assert 0.5 <= size_mb <= 60, size_mb
