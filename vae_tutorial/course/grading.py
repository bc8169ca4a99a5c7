"""Grading a class: each question of each submitted notebook, on its own, in a sandbox.

`grade_submissions(submissions, autograder, out)` finds every notebook under
`submissions` (`<student>/<chapter>.ipynb`, or `<student>.ipynb` for a single chapter),
tells its chapter from the notebook's metadata (otter writes `otter.assignment_name` into
the student edition) or else its file name, and grades each question of that chapter's
autograder zip separately: the answer cells (those otter marked with the question's name)
and the question's test run in a fresh process (`question.py`), confined by `sandbox.py`
(bubblewrap where it works: no network, read-only files, the book, solutions, autograders
and other submissions out of sight; memory, process and CPU limits) with a wall-clock
limit per question. A question that runs out of time, crashes its process or tampers
with its grader scores 0 with a line saying so; the notebook's other questions, and the
other students, are graded as usual. `grades.csv` and `grades.json` hold one row per
student: points per question, the total, the graders' feedback lines; `grades.json` also
says which isolation was in force. A submission that cannot be run (not a notebook, an
unknown chapter) gets zero for its chapter and a line saying why.

The zips are otter's own, unchanged: `otter run`, `otter grade` (Docker) and Gradescope
grade them as a whole notebook. It does not build them (`edition.py`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..errors import InputError
from .question import ANSWER, TEST
from .sandbox import Limits, confine, isolation


@dataclass
class StudentGrade:
    """One student's points per question ("chapter:question"), feedback and problems."""

    student: str
    points: dict[str, float] = field(default_factory=dict)
    feedback: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.points.values())


def question_points(autograder: Path) -> dict[str, float]:
    """{"chapter:question": points} of every autograder zip in the folder."""
    found = {}
    for path in sorted(autograder.glob("*.zip")):
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                if name.startswith("tests/") and name.endswith(".py"):
                    text = zf.read(name).decode()
                    points = re.search(r"'points':\s*([0-9.]+)", text)
                    found[f"{path.stem}:{Path(name).stem}"] = (
                        float(points.group(1)) if points else 0
                    )
    return found


def _chapter_of(path: Path, chapters: set[str]) -> str | None:
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:
        return None
    name = notebook.metadata.get("otter", {}).get("assignment_name")
    if name in chapters:
        return name
    return path.stem if path.stem in chapters else None


def _skipped(path: Path) -> bool:
    """Hidden files and folders (.ipynb_checkpoints, .DS_Store) and a zip's __MACOSX."""
    return path.name.startswith(".") or path.name == "__MACOSX"


def _handed_in(submissions: Path) -> list[Path]:
    """Every file under `submissions`, outside hidden folders, in order."""
    return sorted(
        p
        for p in submissions.rglob("*")
        if p.is_file()
        and not any(_skipped(Path(part)) for part in p.relative_to(submissions).parts)
    )


def _student_of(path: Path, submissions: Path) -> str:
    relative = path.relative_to(submissions)
    return relative.parts[0] if len(relative.parts) > 1 else path.stem


def answer_source(notebook: nbformat.NotebookNode, question: str) -> str:
    """The code cells otter marked as the answer to `question`, as one script.

    IPython's `%magic` and `!shell` lines are left out (the answer runs as plain Python).
    """
    cells = [
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and question in cell.metadata.get("otter", {}).get("tests", [])
    ]
    return "\n\n".join(
        "\n".join(
            f"# (left out: {line.strip()})" if line.lstrip().startswith(("%", "!")) else line
            for line in source.splitlines()
        )
        for source in cells
    )


def run_question(
    notebook: nbformat.NotebookNode, question: str, test: str, hidden: list[Path], limits: Limits
) -> tuple[float, list[str]]:
    """(score, feedback lines) of one question, graded in a confined process of its own."""
    answer = answer_source(notebook, question)
    if not answer.strip():
        return 0.0, [f"no answer cell for {question}: keep the cell the student edition gave you"]
    with tempfile.TemporaryDirectory(prefix="vae-grade-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o777)  # the sandbox runs as nobody
        (workdir / ANSWER).write_text(answer)
        (workdir / TEST).write_text(test)
        read, write = os.pipe()
        argv = [
            sys.executable,
            "-I",
            "-m",
            "vae_tutorial.course.question",
            str(workdir),
            str(write),
        ]
        process = subprocess.Popen(
            confine(argv, workdir, hidden, limits),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(write,),
            start_new_session=True,
        )
        os.close(write)
        with os.fdopen(read) as channel:
            try:
                _, stderr = process.communicate(timeout=limits.wall_seconds)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out, stderr = True, b""
            with contextlib.suppress(ProcessLookupError):  # whatever the answer left running
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            text = "" if timed_out else channel.read()
    if timed_out:
        return 0.0, [
            f"{question} timed out: it ran longer than {limits.wall_seconds:g} s "
            "(an endless loop?); scored 0"
        ]
    if not text:
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return 0.0, [
            f"{question} ended the grading process before its verdict (exit code "
            f"{process.returncode}: {tail[0][:200]}); scored 0"
        ]
    try:
        result = json.loads(text)
        return float(result["score"]), [str(line) for line in result["feedback"]]
    except (ValueError, KeyError, TypeError):
        return 0.0, [
            f"{question}: the grading process's verdict was garbled (tampering?); scored 0"
        ]


def _hidden_folders(submissions: Path, autograder: Path, out: Path) -> list[Path]:
    """What a submission must not read: the book and its solutions (the project's folder),
    the autograders, the other submissions and the grades."""
    project = Path(__file__).resolve().parents[2]
    checkout = (project / "pyproject.toml").exists() and (project / "book").is_dir()
    return [*([project] if checkout else []), submissions, autograder, out]


def grade_submissions(
    submissions: Path,
    autograder: Path,
    out: Path,
    jobs: int | None = None,
    limits: Limits | None = None,
) -> list[StudentGrade]:
    """Grade every notebook under `submissions`; write out/grades.csv and out/grades.json.

    `jobs` questions run at once (default: the number of CPUs); `limits` bound each one.
    """
    limits = limits or Limits()
    if not submissions.is_dir():
        raise InputError(f"{submissions} is not a folder: pass the folder of submitted notebooks")
    maxima = question_points(autograder)
    if not maxima:
        raise InputError(f"no autograder zips in {autograder}: run `make student` first")
    chapters = {q.split(":")[0] for q in maxima}
    grades: dict[str, StudentGrade] = {}
    work = []
    chosen: dict[tuple[str, str], Path] = {}
    for path in _handed_in(submissions):
        student = _student_of(path, submissions)
        grade = grades.setdefault(student, StudentGrade(student))
        name = path.relative_to(submissions).as_posix()
        if path.suffix != ".ipynb":
            grade.errors.append(f"{name}: not a notebook (.ipynb); not graded")
            continue
        chapter = _chapter_of(path, chapters)
        if chapter is None:
            grade.errors.append(
                f"{name}: not a notebook of the student edition (keep its file name or "
                "its metadata); not graded"
            )
        elif (student, chapter) in chosen:
            first = chosen[student, chapter].relative_to(submissions).as_posix()
            grade.errors.append(
                f"{name}: a second notebook of {chapter} (the first, {first}, is graded); "
                "not graded"
            )
        else:
            chosen[student, chapter] = path
            work.append((grade, chapter, path))
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir() and not _skipped(p)):
        grades.setdefault(folder.name, StudentGrade(folder.name, errors=["handed in no file"]))
    if not grades:
        raise InputError(
            f"{submissions} holds no submissions: expected <student>/<chapter>.ipynb "
            "or <student>.ipynb"
        )

    hidden = _hidden_folders(submissions, autograder, out)
    tests = _test_files(autograder)
    questions = [
        (grade, chapter, notebook, key)
        for grade, chapter, path in work
        if (notebook := _read(path, grade)) is not None
        for key in maxima
        if key.startswith(f"{chapter}:")
    ]

    def run(item: tuple[StudentGrade, str, nbformat.NotebookNode, str]) -> tuple[float, list[str]]:
        _, _, notebook, key = item
        return run_question(notebook, key.split(":", 1)[1], tests[key], hidden, limits)

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        for (grade, _, _, key), (score, lines) in zip(
            questions, pool.map(run, questions), strict=True
        ):
            grade.points[key] = score
            if lines:
                grade.feedback[key] = lines
    rows = sorted(grades.values(), key=lambda g: g.student)
    _write(rows, maxima, out)
    return rows


def _test_files(autograder: Path) -> dict[str, str]:
    """{"chapter:question": the text of its otter test file} of every autograder zip."""
    found = {}
    for path in sorted(autograder.glob("*.zip")):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.startswith("tests/") and name.endswith(".py"):
                    found[f"{path.stem}:{Path(name).stem}"] = zf.read(name).decode()
    return found


def _read(path: Path, grade: StudentGrade) -> nbformat.NotebookNode | None:
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # checked by _chapter_of already; a race or a partial file
        grade.errors.append(f"{path.name}: could not be read ({type(exc).__name__}); not graded")
        return None


def _write(rows: list[StudentGrade], maxima: dict[str, float], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *maxima, "total", "max", "feedback"])
        for g in rows:
            graded = [k for k in maxima if k in g.points]
            lines = [f"{k}: {line}" for k, ls in g.feedback.items() for line in ls] + g.errors
            writer.writerow([
                g.student,
                *(g.points.get(k, "") for k in maxima),
                g.total,
                sum(maxima[k] for k in graded),
                " | ".join(lines),
            ])  # fmt: skip
    report = {
        "isolation": isolation(),
        "max_points": maxima,
        "students": [
            {
                "student": g.student,
                "points": g.points,
                "total": g.total,
                "feedback": g.feedback,
                "errors": g.errors,
            }
            for g in rows
        ],
    }
    (out / "grades.json").write_text(json.dumps(report, indent=2))
