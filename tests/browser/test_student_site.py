"""The student site (`make student`: `_build/student/html`, or $STUDENT_SITE_DIR) holds no
solution: not in a page as the browser has it (its whole text, folded parts included),
not in `_sources/`, not in any notebook it serves; its launch links open the student
notebooks (the `student` branch) and its download button the page's student notebook.

The solutions are the lines `solution_text` takes from the book's notebooks (the
instructor edition). The same check run on the instructor site ($SITE_DIR) must find them,
so a check that cannot see a solution fails here too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
import yaml
from conftest import serve

from vae_tutorial.course.student_site import STUDENT_BRANCH, solution_text

ROOT = Path(__file__).resolve().parents[2]
CODE = {" ".join(line.split()) for lines in solution_text(ROOT / "book", ("code",)).values()
        for line in lines}  # fmt: skip
MARKUP = re.compile(r"[$`*_{}\[\]<>|\\#]")  # lines rendered differently in HTML


@pytest.fixture(scope="session")
def student_dir() -> Path:
    site = Path(os.environ.get("STUDENT_SITE_DIR", ROOT / "_build" / "student" / "html"))
    site = site if site.is_absolute() else ROOT / site
    if not (site / "index.html").is_file():
        pytest.fail(
            f"no student site at {site}: `make student` builds it into _build/student/html, "
            "`make test-site` the quick one into _build/quick/student/html; or set "
            "STUDENT_SITE_DIR"
        )
    return site


Lines = Callable[[str], set[str]]  # a file's name (stem) -> the solution lines to look for


@pytest.fixture(scope="session")
def solutions() -> dict[str, set[str]]:
    found = {name: {_norm(line) for line in lines} for name, lines in
             solution_text(ROOT / "book").items()}  # fmt: skip
    assert len(found) >= 8, sorted(found)  # every graded chapter has solutions
    return found


@pytest.fixture(scope="session")
def lines_for(solutions: dict[str, set[str]]) -> Lines:
    """A chapter's files are searched for its own solutions' lines; every file for the other
    chapters' lines too, except those the package's own code has (the book prints the
    package's functions by design: `answer_reveals` sees to those that answer an exercise)."""
    package = {
        _norm(line)
        for path in (ROOT / "vae_tutorial").rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    shared = {line for lines in solutions.values() for line in lines if line not in package}
    return lambda name: solutions.get(name, set()) | shared


def _norm(text: str) -> str:
    return " ".join(text.split())


def _notebook_text(path: Path) -> str:
    notebook = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    shown = []
    for cell in notebook.cells:
        shown.append(cell.source)
        for output in cell.get("outputs", []):
            shown.append(str(output.get("text", "")))
            shown.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(shown)


def file_leaks(site: Path, lines_for: Lines) -> list[str]:
    """(file, line) for each solution line that is a line of a notebook (its cells' sources
    and outputs) or text source the site serves."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".ipynb":
            text = _notebook_text(path)
        elif path.suffix in {".md", ".txt", ".py"}:
            text = path.read_text(encoding="utf-8", errors="replace")
        else:
            continue
        shown = {_norm(line) for line in text.splitlines()}
        where = path.relative_to(site)
        found.extend(f"{where}: {line!r}" for line in lines_for(path.stem) if line in shown)
    return found


def page_leaks(browser: object, base_url: str, pages: list[str], lines_for: Lines) -> list[str]:
    """Solution lines in the pages' text as the browser has it once loaded (folded dropdowns
    included), for pages of the site served at `base_url`."""
    context = browser.new_context()
    page = context.new_page()
    found = []
    try:
        for path in pages:
            page.goto(base_url + path, wait_until="load")
            text = page.evaluate("() => document.documentElement.textContent")
            shown, flat = {_norm(line) for line in text.splitlines()}, _norm(text)
            found.extend(
                f"{path}: {line!r}"
                for line in lines_for(Path(path).stem)
                if line in (shown if line in CODE else flat)  # code keeps its lines
            )
    finally:
        context.close()
    return found


def _in_html(lines: set[str]) -> set[str]:
    """The lines that read the same in a page's text: code, and prose without markup."""
    return {line for line in lines if not MARKUP.search(line) or "(" in line}


def test_no_solution_in_the_student_sites_files(student_dir: Path, lines_for: Lines) -> None:
    assert len(list((student_dir / "_sources" / "book").glob("*.ipynb"))) >= 11
    assert file_leaks(student_dir, lines_for) == []


def test_the_check_finds_the_solutions_in_the_instructor_site(
    site_dir: Path, solutions: dict[str, set[str]]
) -> None:
    leaks = file_leaks(site_dir, lambda name: solutions.get(name, set()))
    chapters = {re.search(r"book/(\w+)\.ipynb", leak)[1] for leak in leaks}
    assert chapters == set(solutions), sorted(set(solutions) - chapters)


def test_no_solution_in_the_student_pages_in_a_browser(
    student_dir: Path, browser: object, server: str, solutions: dict[str, set[str]],
    lines_for: Lines,
) -> None:  # fmt: skip
    pages = sorted(f"book/{p.name}" for p in (student_dir / "book").glob("*.html"))
    pages += ["search.html", "genindex.html"]
    assert len(pages) >= 16, pages
    with serve(student_dir) as base_url:
        leaks = page_leaks(browser, base_url, pages, lambda name: _in_html(lines_for(name)))
    assert leaks == []
    # ... and the same look at the instructor site ($SITE_DIR) sees each chapter's solutions
    for name, lines in sorted(solutions.items()):
        assert _in_html(lines), name
        assert page_leaks(
            browser, server, [f"book/{name}.html"], lambda _, ls=lines: _in_html(ls)
        ), name


def test_launch_and_download_buttons_give_the_student_notebooks(student_dir: Path) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    edition = student_dir.parent / "notebooks"
    notebooks = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
    for name in notebooks:
        html = unquote((student_dir / "book" / f"{name}.html").read_text(encoding="utf-8"))
        hrefs = set(re.findall(r'href="([^"]+)"', html))
        tree = f"lab/tree/book/{name}.ipynb"
        binder = f"https://mybinder.org/v2/gh/{repo}/{STUDENT_BRANCH}?urlpath={tree}"
        colab = (
            f"https://colab.research.google.com/github/{repo}/blob/{STUDENT_BRANCH}"
            f"/book/{name}.ipynb"
        )
        assert binder in hrefs, (name, sorted(h for h in hrefs if "binder" in h))
        assert colab in hrefs, (name, sorted(h for h in hrefs if "colab" in h))
        assert not [h for h in hrefs if "/blob/main/" in h or "/main?" in h], name
        assert f"../_sources/book/{name}.ipynb" in hrefs, name
        served = nbformat.read(student_dir / "_sources" / "book" / f"{name}.ipynb", 4)
        if (edition / f"{name}.ipynb").is_file():  # the chapter's student notebook
            handed_out = nbformat.read(edition / f"{name}.ipynb", 4)
            assert [c.source for c in served.cells] == [c.source for c in handed_out.cells]
        assert json.dumps(served).count("BEGIN SOLUTION") == 0, name
