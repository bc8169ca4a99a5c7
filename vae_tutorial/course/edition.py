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
4. moves each cell tagged `reveals-answer` of otter's student notebook to just after its
   exercise, or drops it, leaving a note in its place (below),

and writes `OUT/notebooks/<chapter>.ipynb` (for students), `OUT/autograder/<chapter>.zip`
and `OUT/solutions/<chapter>.ipynb` (otter's solution notebook, for instructors, with every
cell where the book has it). A chapter without graded questions only loses its solutions
and outputs (and any `reveals-answer` cell, which can only be dropped there).
An unfilled function returns None, so its grader prints "not finished yet" in its own
cell and the notebook still runs top to bottom.

Some chapters print the package's own code before an exercise asks the reader to write
it. In the student edition no cell before an exercise shows its answer: such a cell
carries the tag `reveals-answer` and the metadata `reveals_answer: {question:
<chapter>:<name>, student: move | drop}` (its source and outputs stay as they are, for the
book and nbval). A cell moves when the chapter reads on without it and the code is worth
comparing after the exercise; it is dropped when its exercise is in a later chapter:

    chapter          the cell prints                  answers                     student
    02_elbo          LinearGaussian.elbo, .kl_to_pos  02_elbo:elbo                moved
    03_vae           elbo.gaussian_kl, and checks it  03_vae:gaussian_kl          moved
    03_vae           calc_elbo                        04_exercise_elbo:calc_elbo  dropped
    05_training      train_step                       05_training:train_step      moved
    07_latent_space  slerp                            07_latent_space:slerp       moved

("moved": to just after that exercise's answer cell, under a note; "dropped": gone from
the student notebook. Either way a note says so where the cell was.)

The other printouts (the encoder and decoder, the Bernoulli likelihood, `VAEObjective`,
chapter 6's `sample` after chapter 4's exercise, chapter 8's `log_likelihood`, which only
calls `log_mean_exp`, and the flow model's methods) answer no exercise that comes later.
`answer_reveals` finds every cell that shows, before a question, at least half the
distinctive lines of the question's `REFERENCES` (its own lines, what it prints with
`inspect.getsource`, what a `{literalinclude}` pulls in); the tests run it on the book
(it must find exactly the tagged cells) and on the student edition (it must find none).

`exercises` and `reading_minutes` read a chapter's exercise labels (difficulty, time,
points) and its length, for the instructors' page.

It does not grade anything (`grading.py`) and builds no web site: the student edition is
the notebooks (`student_site.py` builds the student site from them and the executed book).
Reference: otter-grader's notebook format,
https://otter-grader.readthedocs.io/en/latest/otter_assign/notebook_format.html
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets.config import Config

from ..errors import InputError

SOLUTION_TAG = "solution"
EDITION_FOLDERS = ("notebooks", "autograder", "solutions")  # what build_student_edition writes
IGNORE_TAG = "otter_ignore"
ASSIGNMENT_CONFIG = """# ASSIGNMENT CONFIG
name: {name}
init_cell: false
check_all_cell: false
export_cell: false
run_tests: false
solutions_pdf: false
requirements: requirements.txt
tests:
  files: true
"""
# What otter's grading image installs from the zip (`otter grade` on a Docker host,
# Gradescope): CPU-only PyTorch and the book's package from its repository (_config.yml).
AUTOGRADER_REQUIREMENTS = """--extra-index-url https://download.pytorch.org/whl/cpu
torch>=2.4
vae-tutorial @ git+{url}@{branch}
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
            fields = _fields(cell)
            found.append(Question(chapter, fields["name"], float(fields["points"])))
    return found


def _fields(cell: nbformat.NotebookNode) -> dict[str, str]:
    """The `key: value` lines of a `# BEGIN QUESTION` cell."""
    lines = cell.source.strip().splitlines()[1:]
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines if ":" in line)}


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
    for folder in EDITION_FOLDERS:
        (out / folder).mkdir(parents=True, exist_ok=True)
    if not found:  # no graded question: only the solutions and outputs go
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        _place_answer_cells(notebook, chapter)
        nbformat.write(notebook, out / "notebooks" / path.name)
        return []
    _tag_for_grading(notebook)
    notebook.cells.insert(0, nbformat.v4.new_raw_cell(ASSIGNMENT_CONFIG.format(name=chapter)))
    with tempfile.TemporaryDirectory() as tmp:
        master = Path(tmp) / path.name
        nbformat.write(notebook, master)
        (Path(tmp) / "requirements.txt").write_text(autograder_requirements(path.parent))
        dist = Path(tmp) / "dist"
        _otter_assign(master, dist)
        student = nbformat.read(dist / "student" / master.name, as_version=4)
        _place_answer_cells(student, chapter)
        nbformat.write(student, out / "notebooks" / master.name)
        shutil.copy(dist / "autograder" / master.name, out / "solutions" / master.name)
        (zipfile,) = (dist / "autograder").glob("*.zip")
        shutil.copy(zipfile, out / "autograder" / f"{chapter}.zip")
    return found


def autograder_requirements(book: Path) -> str:
    """requirements.txt of the autograder zips: the package from the repository that
    `_config.yml` (beside `book`) names, at its branch."""
    config = book.parent / "_config.yml"
    if not config.exists():
        raise InputError(f"no _config.yml beside {book}: the autograders install the package "
                         "from its `repository: url:`; build from the book's checkout")  # fmt: skip
    repository = yaml.safe_load(config.read_text()).get("repository", {})
    return AUTOGRADER_REQUIREMENTS.format(
        url=repository["url"], branch=repository.get("branch", "main")
    )


def build_student_edition(book: Path, out: Path) -> list[Question]:
    """The student edition of every chapter in `book`; the graded questions it holds."""
    chapters = sorted(book.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        raise InputError(f"no chapters (NN_*.ipynb) in {book}: pass the book's folder, e.g. book/")
    _check_answer_marks({p.stem: nbformat.read(p, as_version=4) for p in chapters})
    for folder in EDITION_FOLDERS:  # its own folders only: the student site stays
        shutil.rmtree(out / folder, ignore_errors=True)
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
            solution = inside or re.search(r"#\s*SOLUTION\s*$", line)  # otter's one-line form
            (solution_lines if solution else other_lines).add(line.strip())
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


# ------------------------------------------------------------ printouts that show an answer

REVEALS_TAG = "reveals-answer"
REVEALS_KEY = "reveals_answer"  # {"question": "<chapter>:<name>", "student": "move" | "drop"}
PLACEMENTS = ("move", "drop")

# What each graded question asks the reader to write, as the package's own code: the
# functions whose source a student must not see before the exercise.
REFERENCES: dict[str, tuple[str, ...]] = {
    "posterior": ("vae_tutorial.toy:LinearGaussian.posterior",),
    "elbo": (
        "vae_tutorial.toy:LinearGaussian.elbo",
        "vae_tutorial.toy:LinearGaussian.expected_log_likelihood",
        "vae_tutorial.toy:LinearGaussian.kl_to_prior",
    ),
    "gaussian_kl": ("vae_tutorial.elbo:gaussian_kl",),
    "reparameterize": ("vae_tutorial.model:reparameterize",),
    "calc_elbo": ("vae_tutorial.elbo:calc_elbo",),
    "sample": (
        "vae_tutorial.sampling:sample",
        "vae_tutorial.model:VAE.sample_prior",
        "vae_tutorial.sampling:decode_probs",
    ),
    "train_step": ("vae_tutorial.train:train_step",),
    "reconstruct": ("vae_tutorial.sampling:reconstruct",),
    "slerp": ("vae_tutorial.sampling:slerp",),
    "iwae_estimate": ("vae_tutorial.elbo:log_mean_exp",),
    "active_units": ("vae_tutorial.evaluate:active_units",),
    "free_bits": ("vae_tutorial.train:FreeBitsObjective.__call__",),
    "free_bits_step": ("vae_tutorial.train:FreeBitsObjective.__call__",),
    # Numbers derived by hand have no code to show. No one package function answers
    # iwae_loss (the reader writes the densities, the stable mean and the gradient path;
    # chapter 8 prints log_likelihood, the no-gradient estimate it builds on). The fixes of
    # chapter 10's find-the-bug items are chapter 3's log-likelihood and chapter 5's step,
    # shown there on purpose: those items grade finding the bug.
    "iwae_loss": (),
    "reparam_gradient_variance": (),
    "kl_value": (),
    "bits_per_dim": (),
    "beta_equivalence": (),
    "fixed_train_step": (),
    "fixed_log_likelihood": (),
}
MIN_LINE = 10  # shorter code lines (`else:`, `return z`) say nothing about an answer


def _resolve(dotted: str) -> Any:
    module, _, qualname = dotted.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _normal(line: str) -> str:
    """A code line without its indentation, trailing comment and inner spacing."""
    return " ".join(re.sub(r"\s+#[^\"']*$", "", line).split())


def _code_lines(text: str) -> set[str]:
    return {n for n in map(_normal, text.splitlines()) if len(n) >= MIN_LINE}


@cache
def reference_lines(dotted: str) -> frozenset[str]:
    """The distinctive lines of a reference's body (no signature, docstring or comments)."""
    source = textwrap.dedent(inspect.getsource(_resolve(dotted)))
    (node,) = ast.parse(source).body
    body = list(node.body)  # type: ignore[attr-defined]
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(body) > 1:
        body = body[1:]
    lines = source.splitlines()[body[0].lineno - 1 : body[-1].end_lineno]
    found = frozenset(_code_lines("\n".join(lines)) - {"pass", "..."})
    if not found:
        raise InputError(f"{dotted} has no code lines to recognize it by")
    return found


def _object_source(path: Path, pyobject: str) -> str:
    """The source of `Name` or `Class.method` in a Python file (literalinclude's :pyobject:)."""
    source = path.read_text()
    nodes: list[ast.stmt] = ast.parse(source).body
    node: ast.stmt | None = None
    for part in pyobject.split("."):
        node = next((n for n in nodes if getattr(n, "name", None) == part), None)
        if node is None:
            raise InputError(f"{path} has no {pyobject} (a literalinclude's :pyobject:)")
        nodes = getattr(node, "body", [])
    return ast.get_source_segment(source, node) or ""


_LITERALINCLUDE = re.compile(
    r"^(?:```+|:::+)\{literalinclude\}\s+(?P<path>\S+)[ \t]*\n(?P<options>(?::[\w-]+:.*\n?)*)",
    re.M,
)


def _imports(notebook: nbformat.NotebookNode) -> dict[str, ast.stmt]:
    """Each name a notebook's import statements bind, with the statement."""
    bound: dict[str, ast.stmt] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    bound.setdefault(name, node)
    return bound


def _printed_source(expr: ast.expr, imports: Mapping[str, ast.stmt]) -> str:
    """What `inspect.getsource(expr)` prints, for a dotted name the notebook imports."""
    parts: list[str] = []
    text = ast.unparse(expr)
    while isinstance(expr, ast.Attribute):
        parts.insert(0, expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name) or expr.id not in imports:
        raise InputError(
            f"cannot tell what inspect.getsource({text}) prints: pass it a function or "
            "class the notebook imports, or an attribute of one"
        )
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module([imports[expr.id]], []), "<notebook imports>", "exec"), namespace)
    obj = namespace[expr.id]
    for part in parts:
        obj = getattr(obj, part)
    return inspect.getsource(obj)


def shown_text(cell: nbformat.NotebookNode, notebook: nbformat.NotebookNode, folder: Path) -> str:
    """Everything a cell shows a reader: its source, its outputs, the source it prints with
    `inspect.getsource`, and the code a `{literalinclude}` pulls in (paths from `folder`)."""
    shown = [cell.source]
    for output in cell.get("outputs", []):
        shown.append(str(output.get("text", "")))
        shown.extend(str(v) for v in output.get("data", {}).values())
    if cell.cell_type == "code":
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            tree = None
        calls = [
            node
            for node in ast.walk(tree) if tree
            if isinstance(node, ast.Call) and node.args
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "getsource"
        ]  # fmt: skip
        imports = _imports(notebook) if calls else {}
        shown.extend(_printed_source(call.args[0], imports) for call in calls)
    elif cell.cell_type == "markdown":
        for m in _LITERALINCLUDE.finditer(cell.source):
            path = (folder / m["path"]).resolve()
            if not path.is_file():
                raise InputError(f"a literalinclude names {m['path']}, not a file from {folder}")
            pyobject = re.search(r"^:pyobject:\s*(\S+)", m["options"], re.M)
            shown.append(_object_source(path, pyobject[1]) if pyobject else path.read_text())
    return "\n".join(shown)


def shown_answers(
    cell: nbformat.NotebookNode, notebook: nbformat.NotebookNode, folder: Path
) -> set[str]:
    """The questions (names) whose reference code the cell shows: at least half of the
    distinctive lines of one of their `REFERENCES`."""
    lines = _code_lines(shown_text(cell, notebook, folder))
    return {
        name
        for name, refs in REFERENCES.items()
        if any(len(lines & reference_lines(r)) * 2 >= len(reference_lines(r)) for r in refs)
    }


def exercise_spans(notebook: nbformat.NotebookNode) -> dict[str, tuple[int, int]]:
    """The first and last cell of each question: its `# BEGIN QUESTION` and `# END QUESTION`
    cells in the book's notebooks; in otter's student and solution notebooks, which have
    no markers, its answer cell (otter's metadata `otter: tests:`) for both."""
    spans: dict[str, tuple[int, int]] = {}
    current, start = None, 0
    for i, cell in enumerate(notebook.cells):
        marker = _marker(cell)
        if marker == ("begin", "QUESTION"):
            current, start = _fields(cell)["name"], i
        elif marker == ("end", "QUESTION") and current:
            spans[current], current = (start, i), None
        for name in cell.metadata.get("otter", {}).get("tests", []):
            spans[name] = (i, i)
    return spans


@dataclass(frozen=True)
class Reveal:
    """A cell that shows the answer to a graded question before (or instead of) it."""

    chapter: str
    cell: int
    question: str  # "<chapter>:<name>"

    def __str__(self) -> str:
        return f"{self.chapter} cell {self.cell} shows the answer to {self.question}"


def answer_reveals(notebooks: Mapping[str, nbformat.NotebookNode], folder: Path) -> list[Reveal]:
    """Every cell of the chapters (all of a book or edition, by chapter name) that shows a
    graded question's reference code before that question, in its own chapter or an
    earlier one; a question no notebook holds is revealed wherever its code shows. (The
    question's own cells are not counted: `solution_leaks` checks those.)"""
    where = {
        name: (chapter, span)
        for chapter in sorted(notebooks)
        for name, span in exercise_spans(notebooks[chapter]).items()
    }
    found = []
    for chapter in sorted(notebooks):
        notebook = notebooks[chapter]
        for i, cell in enumerate(notebook.cells):
            for name in sorted(shown_answers(cell, notebook, folder)):
                home, (start, _) = where.get(name, ("?", (-1, -1)))
                if home == "?" or (chapter, i) < (home, start):
                    found.append(Reveal(chapter, i, f"{home}:{name}"))
    return found


# ------------------------------------------------------------ moving and dropping them

MOVED_NOTE = (
    "*Student edition:* the book prints some of the package's own code here. It answers the "
    "graded exercise `{name}` below, so this notebook prints it right after that exercise."
)
DROPPED_NOTE = (
    "*Student edition:* the book prints some of the package's own code here. It answers the "
    "graded exercise `{name}` of `{chapter}`, so this notebook leaves it out."
)
AFTER_NOTE = (
    "*Student edition:* the package's own code, which the book shows before this exercise, "
    "to compare with yours:"
)


def _answer_mark(cell: nbformat.NotebookNode, where: str) -> tuple[str, str, str]:
    """(chapter, question name, "move" | "drop") of a `reveals-answer` cell."""
    mark = cell.metadata.get(REVEALS_KEY)
    question = mark.get("question", "") if isinstance(mark, dict) else ""
    how = mark.get("student") if isinstance(mark, dict) else None
    chapter, _, name = question.partition(":")
    if not (chapter and name) or how not in PLACEMENTS:
        raise InputError(
            f"{where}: a `{REVEALS_TAG}` cell needs the metadata {REVEALS_KEY}: "
            '{"question": "<chapter>:<name>", "student": "move" or "drop"}, '
            f"not {mark!r}"
        )
    return chapter, name, how


def _check_answer_marks(notebooks: Mapping[str, nbformat.NotebookNode]) -> None:
    """Each `reveals-answer` cell names a question of the book that comes after it, and
    only one of its own chapter can be moved after."""
    spans = {
        (chapter, name): span
        for chapter, notebook in notebooks.items()
        for name, span in exercise_spans(notebook).items()
    }
    for chapter, notebook in notebooks.items():
        for i, cell in enumerate(notebook.cells):
            if REVEALS_TAG not in cell.metadata.get("tags", []):
                continue
            where = f"{chapter} cell {i}"
            home, name, how = _answer_mark(cell, where)
            if (home, name) not in spans:
                raise InputError(f"{where} names {home}:{name}, which is no graded question")
            if (chapter, i) > (home, spans[home, name][0]):
                raise InputError(f"{where} comes after the exercise {home}:{name}: untag it")
            if how == "move" and home != chapter:
                raise InputError(
                    f"{where} answers an exercise of {home}: it cannot be moved there; "
                    'make it "drop"'
                )


def _place_answer_cells(notebook: nbformat.NotebookNode, chapter: str) -> None:
    """Move each `reveals-answer` cell of a student notebook to just after its exercise
    (after otter's answer cell, in the book's order), or drop it; a note marks the place."""
    spans = exercise_spans(notebook)
    after: dict[int, list[nbformat.NotebookNode]] = {}
    cells = []
    for i, cell in enumerate(notebook.cells):
        if REVEALS_TAG not in cell.metadata.get("tags", []):
            cells.append(cell)
            continue
        home, name, how = _answer_mark(cell, f"{chapter} cell {i}")
        if how == "move":
            if home != chapter or name not in spans:
                raise InputError(f"{chapter} cell {i}: no exercise {home}:{name} to move it after")
            cell.metadata.tags.remove(REVEALS_TAG)
            if not cell.metadata.tags:
                del cell.metadata["tags"]
            del cell.metadata[REVEALS_KEY]
            after.setdefault(spans[name][1], []).append(cell)
        note = (MOVED_NOTE if how == "move" else DROPPED_NOTE).format(name=name, chapter=home)
        cells.append(nbformat.v4.new_markdown_cell(note))
    ends = {
        id(notebook.cells[end]): [nbformat.v4.new_markdown_cell(AFTER_NOTE), *moved]
        for end, moved in after.items()
    }
    notebook.cells = [c for cell in cells for c in (cell, *ends.get(id(cell), []))]
