"""Every number the prose of chapters 5, 8 and 10 states comes from a computation.

A number typed into a markdown cell drifts silently when a model or a seed changes. So each
digit string in the prose of these chapters must be one that a cell of the same chapter
produces: in a stored output (the outputs nbval compares, and the values the chapter glues
with `myst_nb.glue`, which the prose shows with `{glue:text}`) or in a code cell's source
(a constant the reader sees in the code). What is not produced by a cell must be on the
short allow-list below, with the reason it is a fixed number and not a result.

Not scanned: the contents of roles ({glue:text}, {eq}, {ref}, {cite}, ...), inline code and
code blocks, link targets and issue numbers (owner/repo#123), directive options, and
references to chapters, sections, exercises and algorithms by number. Integers 0 to 9 are
not checked: they count epochs, steps or layers in words' stead ("3 epochs", "2 steps"),
too common to bind one by one. Signs and thousands separators are ignored, so "−91.96"
matches a printed "-91.96" and "60,000" a printed "60000".
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).parents[1] / "book"
CHAPTERS = ["05_training", "08_evaluation", "10_when_it_goes_wrong"]

ALLOWED: dict[str, dict[str, str]] = {
    "05_training": {
        "200": "TrainConfig.checkpoint_every's default (vae_tutorial/train.py), a setting",
        "2,048": "the training images of quick mode, QUICK.train_subset (vae_tutorial/book.py)",
        "543.4": "784 ln 2, the log-likelihood of a coin flip per pixel (arithmetic)",
        "391": "batches of 128 in 50,000 images, ceil(50000 / 128) (arithmetic)",
        "30": "the shipped model's epochs (configs/mnist-z16.toml)",
    },
    "08_evaluation": {
        "500": "the test images of quick mode, QUICK.test_images (vae_tutorial/book.py)",
        "104": "float32's exp rounds to 0 below about -103.97 (half its smallest subnormal)",
        "0.0005": "the grader's tolerance (BITS_PER_DIM in vae_tutorial/course/derived.py)",
        "0.1840": "100 / (784 ln 2), the exercise's answer worked out by hand (arithmetic)",
        "550": "where the IWAE grader's log-weights lie (check_iwae_loss, graders.py)",
        "0.01": "Burda et al.'s threshold for an active unit (published)",
        "3,300": "Burda et al.'s training epochs (published)",
        "66": "the ELBO epochs of mnist-best (configs/mnist-best.toml)",
    },
    "10_when_it_goes_wrong": {
        "12": "z5 to z16, the dimensions the exercise zeroes, counted (arithmetic)",
        "88.72": "ln of float32's largest value, where exp overflows (a constant)",
        "79.4": "the test bound reported in abdulfatir/normalizing-flows#2 (published)",
        "86.5": "the paper's bound quoted in that thread (published)",
        "224": "the largest logit the likelihood grader uses (check_fixed_log_likelihood)",
        "49": "784 / 16, the KL weight of the Keras exercise (arithmetic)",
    },
}

NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?![\w])")
NOT_SCANNED = [
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"\{[a-z:]+\}`[^`]*`"),  # roles: {glue:text}`x:.2f`, {eq}`elbo`, {cite}`k`
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]*>"),  # HTML tags
    re.compile(r"[\w.-]+/[\w.-]+#\d+"),  # issue references, owner/repo#123
    re.compile(r"^:[a-z-]+:.*$", re.M),  # directive options (:label:, :class:)
    re.compile(r"\*\*(?:Time|Points):\*\*\s*~?\d+"),  # an exercise's minutes and points
    re.compile(
        r"\b(?:[Cc]hapters?|[Ss]ections?|[Aa]ppendix|[Ee]xercises?|[Aa]lgorithm|[Pp]art)"
        r"\s+\d+(?:\s*(?:,|and|to|–|-)\s*\d+)*"
    ),
]


def normalized(token: str) -> str:
    return token.lstrip("-−").replace(",", "")


def numbers_in(text: str) -> set[str]:
    return {normalized(m.group()) for m in NUMBER.finditer(text)}


def prose_numbers(text: str) -> set[str]:
    """The checked digit strings of one markdown cell."""
    for pattern in NOT_SCANNED:
        text = pattern.sub(" ", text)
    found = numbers_in(text)
    return {n for n in found if "." in n or int(n) >= 10}


def produced(nb: nbformat.NotebookNode) -> set[str]:
    """Every digit string in the code cells' sources and stored outputs (glued values too)."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts.append(cell.source)
        for output in cell.get("outputs", []):
            texts.append(str(output.get("text", "")))
            texts += [str(value) for value in output.get("data", {}).values()]
    return numbers_in("\n".join(texts))


def unexplained(name: str) -> dict[str, list[str]]:
    """Per markdown cell id, the digit strings that no cell produces and no entry allows."""
    nb = nbformat.read(BOOK / f"{name}.ipynb", as_version=4)
    known = produced(nb) | {normalized(n) for n in ALLOWED[name]}
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            missing = sorted(prose_numbers(cell.source) - known)
            if missing:
                found[cell.id] = missing
    return found


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_number_in_the_prose_comes_from_a_cell(name: str) -> None:
    found = unexplained(name)
    assert not found, (
        f"{name}: numbers in the prose that no cell produces (glue them from the cell that "
        f"computes them, or add them to ALLOWED with a reason): {found}"
    )


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_allowed_number_is_still_in_the_prose(name: str) -> None:
    nb = nbformat.read(BOOK / f"{name}.ipynb", as_version=4)
    prose = set().union(*(prose_numbers(c.source) for c in nb.cells if c.cell_type == "markdown"))
    stale = sorted(n for n in ALLOWED[name] if normalized(n) not in prose)
    assert not stale, f"{name}: allow-list entries the prose no longer uses: {stale}"


def test_the_scanner_sees_typed_numbers_and_skips_roles() -> None:
    text = (
        "The ELBO is −101.44 nats, {glue:text}`elbo:.2f` here, on 10,000 images "
        "(chapter 9, {eq}`elbo`, `lr=0.1`, pytorch/examples#824)."
    )
    assert prose_numbers(text) == {"101.44", "10000"}
