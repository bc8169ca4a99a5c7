"""The student edition: every chapter without its solutions, and an autograder per chapter.

A chapter's graded exercises are marked in its notebook with otter-grader's cells (raw
cells `# BEGIN QUESTION` ... `# END QUESTION` around the exercise, a `# BEGIN SOLUTION`
block around the cell that defines the reader's function, whose body sits between
`# BEGIN SOLUTION` / `# END SOLUTION` comments, and a `# BEGIN TESTS` block that asserts the
package's grader passes). Every other solution (the `{solution}` blocks, the gated
`{solution-start}` ... `{solution-end}` cells) carries the cell tag `solution`.

`build_student_edition` then, for each chapter with questions,

1. drops the `solution`-tagged cells (nbconvert's TagRemovePreprocessor),
2. tags every code cell outside the questions `otter_ignore`, so the autograder runs
   only the exercises (each question's cell imports what it uses), with no data or
   training, and a broken cell elsewhere in a submission cannot cost points,
3. runs `otter assign`, which replaces the solution code by `...`, removes the tests and
   outputs, and writes the autograder zip,

and writes `OUT/notebooks/<chapter>.ipynb` (for students), `OUT/autograder/<chapter>.zip`
and `OUT/solutions/<chapter>.ipynb` (otter's solution notebook, for instructors). A chapter
without graded questions only loses its solutions and outputs.
An unfilled function returns None, so its grader prints "not finished yet" in its own
cell and the notebook still runs top to bottom.

`exercises` and `reading_minutes` read a chapter's exercise labels (difficulty, time,
points) and its length, for the instructors' page.

It does not grade anything (`grading.py`) and builds no student web site: the student
edition is the notebooks. Reference: otter-grader's notebook format,
https://otter-grader.readthedocs.io/en/latest/otter_assign/notebook_format.html
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets.config import Config

from ..errors import InputError

SOLUTION_TAG = "solution"
IGNORE_TAG = "otter_ignore"
ASSIGNMENT_CONFIG = """# ASSIGNMENT CONFIG
name: {name}
init_cell: false
check_all_cell: false
export_cell: false
run_tests: false
solutions_pdf: false
tests:
  files: true
"""
_BEGIN, _END = re.compile(r"#\s*BEGIN\s+(\w+)", re.I), re.compile(r"#\s*END\s+(\w+)", re.I)
SOLUTION_TEXT = re.compile(r"\{solution(-start|-end)?\}")


@dataclass(frozen=True)
class Question:
    """One graded exercise: its otter name, its points, and the chapter it belongs to."""

    chapter: str
    name: str
    points: float


def _marker(cell: nbformat.NotebookNode) -> tuple[str, str] | None:
    """('begin'|'end', block) for an otter raw marker cell, else None."""
    if cell.cell_type != "raw" or not cell.source.strip():
        return None
    first = cell.source.strip().splitlines()[0]
    for kind, pattern in (("begin", _BEGIN), ("end", _END)):
        m = pattern.fullmatch(first.strip())
        if m:
            return kind, m.group(1).upper()
    return None


def questions(notebook: nbformat.NotebookNode, chapter: str) -> list[Question]:
    """The graded questions a chapter declares (`# BEGIN QUESTION` raw cells)."""
    found = []
    for cell in notebook.cells:
        if _marker(cell) == ("begin", "QUESTION"):
            fields = dict(
                line.split(":", 1) for line in cell.source.strip().splitlines()[1:] if ":" in line
            )
            found.append(Question(chapter, fields["name"].strip(), float(fields["points"])))
    return found


@dataclass(frozen=True)
class Exercise:
    """An exercise as its chapter labels it: difficulty (1-3 stars) and minutes."""

    chapter: str
    label: str
    stars: int
    minutes: int
    points: float | None  # None: not auto-graded


_EXERCISE = re.compile(
    r":::\{exercise\}\n:label: (?P<label>[\w-]+)\n\n\*\*Difficulty:\*\* (?P<stars>★+)☆* .*?"
    r"\*\*Time:\*\* ~(?P<minutes>\d+) min(?: · \*\*Points:\*\* (?P<points>[\d.]+))?"
)


def exercises(path: Path) -> list[Exercise]:
    """Every exercise of a chapter, in order, with its difficulty, time and points."""
    notebook = nbformat.read(path, as_version=4)
    return [
        Exercise(path.stem, m["label"], len(m["stars"]), int(m["minutes"]),
                 float(m["points"]) if m["points"] else None)
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for m in _EXERCISE.finditer(cell.source)
    ]  # fmt: skip


READING_WPM = 150  # words per minute for prose with equations


def reading_minutes(path: Path) -> int:
    """A chapter's prose (markdown outside math and code blocks) at 150 words per minute,
    rounded up to 5 minutes."""
    notebook = nbformat.read(path, as_version=4)
    text = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    text = re.sub(r"\$\$.*?\$\$|```.*?```", " ", text, flags=re.S)
    words = len(re.findall(r"[A-Za-z]{2,}", text))
    return math.ceil(words / READING_WPM / 5) * 5


def _tag_for_grading(notebook: nbformat.NotebookNode) -> None:
    """`otter_ignore` on every code cell outside the questions."""
    depth = 0
    for cell in notebook.cells:
        marker = _marker(cell)
        if marker:
            depth += 1 if marker[0] == "begin" else -1
            continue
        if cell.cell_type == "code" and depth == 0:
            tags = cell.metadata.setdefault("tags", [])
            if IGNORE_TAG not in tags:
                tags.append(IGNORE_TAG)


def _without_solutions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {SOLUTION_TAG}
    config.TagRemovePreprocessor.enabled = True
    stripped, _ = TagRemovePreprocessor(config=config).preprocess(notebook, {})
    return stripped


def _otter_assign(master: Path, dist: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otter", "assign", str(master), str(dist)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InputError(
            f"otter assign failed on {master.name}: {result.stderr.strip()[-2000:]}; "
            "check the chapter's BEGIN/END QUESTION, SOLUTION and TESTS cells"
        )


def build_chapter(path: Path, out: Path) -> list[Question]:
    """Write one chapter's student notebook (and autograder, if graded); its questions."""
    chapter = path.stem
    notebook = _without_solutions(nbformat.read(path, as_version=4))
    found = questions(notebook, chapter)
    for folder in ("notebooks", "autograder", "solutions"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    if not found:  # no graded question: only the solutions and outputs go
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, out / "notebooks" / path.name)
        return []
    _tag_for_grading(notebook)
    notebook.cells.insert(0, nbformat.v4.new_raw_cell(ASSIGNMENT_CONFIG.format(name=chapter)))
    with tempfile.TemporaryDirectory() as tmp:
        master = Path(tmp) / path.name
        nbformat.write(notebook, master)
        dist = Path(tmp) / "dist"
        _otter_assign(master, dist)
        shutil.copy(dist / "student" / master.name, out / "notebooks" / master.name)
        shutil.copy(dist / "autograder" / master.name, out / "solutions" / master.name)
        (zipfile,) = (dist / "autograder").glob("*.zip")
        shutil.copy(zipfile, out / "autograder" / f"{chapter}.zip")
    return found


def build_student_edition(book: Path, out: Path) -> list[Question]:
    """The student edition of every chapter in `book`; the graded questions it holds."""
    chapters = sorted(book.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        raise InputError(f"no chapters (NN_*.ipynb) in {book}: pass the book's folder, e.g. book/")
    if out.exists():
        shutil.rmtree(out)
    found: list[Question] = []
    for path in chapters:
        found.extend(build_chapter(path, out))
    return found


def solution_leaks(master: nbformat.NotebookNode, student: nbformat.NotebookNode) -> list[str]:
    """What of the master's solutions is still in the student notebook (should be [])."""
    solution_lines, other_lines = set(), set()
    for cell in master.cells:
        if cell.cell_type != "code":
            continue
        inside = SOLUTION_TAG in cell.metadata.get("tags", [])
        for line in cell.source.splitlines():
            if re.search(r"#\s*END SOLUTION", line):
                inside = SOLUTION_TAG in cell.metadata.get("tags", [])
            (solution_lines if inside else other_lines).add(line.strip())
            if re.search(r"#\s*BEGIN SOLUTION", line):
                inside = True
    solution_lines -= other_lines | {""}
    leaks = []
    for cell in student.cells:
        if SOLUTION_TEXT.search(cell.source):
            leaks.append(f"a solution block: {cell.source[:60]!r}")
        if cell.cell_type == "code":
            leaks.extend(
                f"solution code: {line.strip()!r}"
                for line in cell.source.splitlines()
                if line.strip() in solution_lines
            )
    return leaks
