"""The package's equation labels against the book: each cited label exists, and each
equation is implemented in exactly one place."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import nbformat

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "vae_tutorial"
CITED = re.compile(r"eq\. `([a-z0-9-]+)`")
IMPLEMENTED = re.compile(r"#\s*eq\. ([a-z0-9-]+)")
DEFINED = re.compile(r"\$\$\s*\(([a-z0-9-]+)\)")


def book_labels() -> set[str]:
    """Every equation label the book defines with `$$ ... $$ (label)`."""
    texts = [p.read_text() for p in (ROOT / "book").glob("*.md")]
    for path in (ROOT / "book").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        texts += [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
    return {label for text in texts for label in DEFINED.findall(text)}


def package_sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_label_the_package_cites_is_defined_in_the_book() -> None:
    defined = book_labels()
    assert {"elbo", "reparam", "kl-gauss", "iwae"} <= defined, "the parser finds the labels"
    missing = {
        f"{path}: {label}"
        for path, text in package_sources().items()
        for label in CITED.findall(text) + IMPLEMENTED.findall(text)
        if label not in defined
    }
    assert not missing, f"labels cited but not defined in the book: {sorted(missing)}"


def test_each_equation_is_implemented_in_exactly_one_place() -> None:
    places = Counter(
        label for text in package_sources().values() for label in IMPLEMENTED.findall(text)
    )
    assert places["reparam"] >= 1 and places["kl-gauss"] >= 1
    repeated = {label: n for label, n in places.items() if n > 1}
    assert not repeated, f"equations implemented more than once (# eq. LABEL): {repeated}"
