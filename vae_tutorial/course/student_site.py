"""The student web site: the executed book's pages with the student edition's cells.

`build_student_site` writes `OUT/html/` (by default `_build/student/html/`) from two
things `make student` already has: the student edition of `edition.py`
(`OUT/notebooks/<chapter>.ipynb`, otter's student notebooks) and the executed book
(`_build/jupyter_execute/book/*.ipynb`, which `make book` writes; nothing is executed
again). In a build folder, `OUT/site-source/`, it writes a copy of the book in which

1. each chapter is its student notebook: no `solution`-tagged cell, otter's `...` in place
   of the solution code, no tests, the `reveals-answer` cells moved after their exercise
   or dropped (all as `edition.py` does it);
2. a code cell keeps the outputs the executed book stored for it only when the book has
   the same cell (its id) with the same source, so the exercises' answer cells, whose code
   is now `...`, show nothing, and a cell whose outputs print a line of a solution
   (`solution_leaks`) is cleared too (chapter 7's printout of `slerp`, moved after its
   exercise: the notebook prints it when run); the widgets' saved state comes along;
3. the pages that are no chapter (`instructors.ipynb`, the Markdown pages) lose their
   `solution`-tagged cells and keep their outputs;

and a `_config.yml` derived from the book's: `execute_notebooks: off`, the title marked
"student edition", static files and the site extension taken from the repository, and
`repository: branch:` set to the branch where the student notebooks are published
(`student` by default). That branch is where the launch buttons (Binder, Colab, a
JupyterHub) open a chapter: the repository's files with `book/` replaced by
`OUT/notebooks/`, which the instructor pushes (README, "Teaching with it"). The download
button serves the page's source notebook, which is the student one (with its outputs).
The site is built with `jupyter-book build` (warnings as errors) and moved to `OUT/html`.

`solution_text` lists what of the book's solutions the student site must not contain;
the browser tests check every file of the built site against it.

It does not write the student notebooks or the autograders (`edition.py`), does not
execute any chapter and does not publish the `student` branch. sphinx-exercise's
`hide_solutions` is not used: it hides solutions in the HTML only, they would stay in
`_sources/` and the downloads.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import yaml

from ..errors import InputError
from .edition import (
    SOLUTION_TAG,
    _place_answer_cells,
    _without_solutions,
    solution_leaks,
)

STUDENT_BRANCH = "student"
TITLE_SUFFIX = " (student edition)"
STUDENT_NOTE = (
    "*Student edition of the site:* its pages have no solutions, and its download and launch "
    "buttons give the student notebooks."
)


def _with_outputs(
    student: nbformat.NotebookNode,
    executed: nbformat.NotebookNode | None,
    master: nbformat.NotebookNode,
) -> nbformat.NotebookNode:
    """`student` with the executed book's outputs where the cell is the book's own.

    myst-nb keeps glued values out of the executed notebooks it writes, so a cell's glue
    outputs (`vae_tutorial.book.glue`) come from the master's stored outputs, which hold the
    quick build's values (scripts/store_checked_outputs.py).
    """
    stored = {c.get("id"): c for c in (executed.cells if executed else []) if c.cell_type == "code"}
    glued = {
        c.get("id"): [o for o in c.get("outputs", []) if _is_glue(o)]
        for c in master.cells
        if c.cell_type == "code"
    }
    if executed is not None and "widgets" in executed.metadata:  # the widgets' saved state
        student.metadata["widgets"] = executed.metadata["widgets"]
    for cell in student.cells:
        if cell.cell_type != "code":
            continue
        book = stored.get(cell.get("id"))
        if book is not None and book.source == cell.source:
            cell.outputs, cell.execution_count = book.outputs, book.execution_count
            if not any(_is_glue(o) for o in cell.outputs):
                cell.outputs = [*cell.outputs, *glued.get(cell.get("id"), [])]
        else:
            cell.outputs, cell.execution_count = [], None
        if cell.outputs and solution_leaks(master, _as_code(_output_text(cell))):
            cell.outputs, cell.execution_count = [], None
    return student


def _is_glue(output: nbformat.NotebookNode) -> bool:
    return any(k.startswith("application/papermill.record/") for k in output.get("data", {}))


def _output_text(cell: nbformat.NotebookNode) -> str:
    shown = []
    for output in cell.get("outputs", []):
        shown.append(str(output.get("text", "")))
        shown.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(shown)


def _as_code(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)])


def solution_text(book: Path, kinds: tuple[str, ...] = ("code", "markdown")) -> dict[str, set[str]]:
    """Per notebook of `book`: the lines of its solutions (solution-tagged cells, otter's
    `# BEGIN SOLUTION` blocks and one-line `# SOLUTION` form, as `solution_leaks` takes them)
    in its cells of `kinds`, at least 25 characters long (to say something), that no other
    part of the book (any notebook's other cells, the Markdown pages) has."""
    solutions: dict[str, set[str]] = {}
    other = {line.strip() for page in book.glob("*.md") for line in page.read_text().splitlines()}
    for path in sorted(book.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        mine = solutions.setdefault(path.stem, set())
        for cell in notebook.cells:
            inside = SOLUTION_TAG in cell.metadata.get("tags", [])
            code = cell.cell_type == "code"
            for line in cell.source.splitlines():
                if code and re.search(r"#\s*END SOLUTION", line):
                    inside = SOLUTION_TAG in cell.metadata.get("tags", [])
                solution = inside or (code and re.search(r"#\s*SOLUTION\s*$", line))
                (mine if solution and cell.cell_type in kinds else other).add(line.strip())
                if code and re.search(r"#\s*BEGIN SOLUTION", line):
                    inside = True
    found = {
        name: {
            line
            for line in lines - other
            if len(line) >= 25 and not re.fullmatch(r"[`:]+\{?solution.*", line)
        }
        for name, lines in solutions.items()
    }
    return {name: lines for name, lines in found.items() if lines}


def _site_config(root: Path, branch: str) -> dict:
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["title"] = config.get("title", "") + TITLE_SUFFIX
    config["execute"] = {**config.get("execute", {}), "execute_notebooks": "off"}
    config["exclude_patterns"] = ["_build", ".*", "**/.*"]
    config["repository"] = {**config.get("repository", {}), "branch": branch}
    sphinx = config.setdefault("sphinx", {})
    sphinx["local_extensions"] = {
        name: str((root / path).resolve())
        for name, path in sphinx.get("local_extensions", {}).items()
    }
    settings = sphinx.setdefault("config", {})
    settings["html_static_path"] = [
        str((root / p).resolve()) for p in settings.get("html_static_path", [])
    ]
    return config


def write_site_source(
    root: Path, executed: Path, edition: Path, source: Path, branch: str = STUDENT_BRANCH
) -> None:
    """The student copy of the book (`root`: the repository) in `source`, ready to build."""
    book = root / "book"
    if not (executed / "book").is_dir():
        raise InputError(
            f"no executed book in {executed}/book: build the book first (`make book`, or "
            "`VAE_BOOK_QUICK=1 make book` for the quick one), or point --executed at the "
            "jupyter_execute folder of a build"
        )
    if not (edition / "notebooks").is_dir():
        raise InputError(f"no student edition in {edition}: run `vae-tutorial student` first")
    if source.exists():
        shutil.rmtree(source)
    (source / "book").mkdir(parents=True)
    config = _site_config(root, branch)
    (source / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(root / "_toc.yml", source / "_toc.yml")
    for path in sorted(book.iterdir()):
        if path.suffix in {".md", ".bib"}:
            shutil.copy(path, source / "book" / path.name)
    for path in sorted(book.glob("*.ipynb")):
        master = nbformat.read(path, as_version=4)
        student_path = edition / "notebooks" / path.name
        if student_path.is_file():
            student = nbformat.read(student_path, as_version=4)
        else:  # not a chapter (the instructors' page): only the solutions go
            student = _without_solutions(nbformat.read(path, as_version=4))
            _place_answer_cells(student, path.stem)
            student.cells.insert(1, nbformat.v4.new_markdown_cell(STUDENT_NOTE))
        ran = executed / "book" / path.name
        executed_nb = nbformat.read(ran, as_version=4) if ran.is_file() else None
        nbformat.write(_with_outputs(student, executed_nb, master), source / "book" / path.name)


def build_student_site(
    root: Path, executed: Path, edition: Path, branch: str = STUDENT_BRANCH
) -> Path:
    """Write and build the student site: `edition/html`; returns that folder."""
    source = edition / "site-source"
    write_site_source(root, executed, edition, source, branch)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--all",
         "-W", "-n", "--keep-going"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise InputError(f"the student site did not build:\n{result.stdout[-3000:]}")
    html = edition / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.move(source / "_build" / "html", html)
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository")
    parser.add_argument("--executed", type=Path, default=Path("_build/jupyter_execute"))
    parser.add_argument("--edition", type=Path, default=Path("_build/student"))
    parser.add_argument("--branch", default=STUDENT_BRANCH, help="where launch buttons point")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        html = build_student_site(args.root, args.executed, args.edition, args.branch)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote the student site to {html} in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
