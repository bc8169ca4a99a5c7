"""Grading a class: each submitted notebook through its chapter's otter autograder.

`grade_submissions(submissions, autograder, out)` finds every notebook under
`submissions` (`<student>/<chapter>.ipynb`, or `<student>.ipynb` for a single chapter),
tells its chapter from the notebook's metadata (otter writes `otter.assignment_name` into
the student edition) or else its file name, runs `otter run` with that chapter's
autograder zip (no Docker: the submission runs in this environment's kernel), and writes
`grades.csv` and `grades.json` with one row per student: points per question, the total,
and the graders' feedback lines. A submission that cannot be run (not a notebook, an
unknown chapter) gets zero for its chapter and a line saying why; nothing stops the class.

It does not build the autograders (`edition.py`). Reference: `otter run`,
https://otter-grader.readthedocs.io/en/latest/cli_reference.html#otter-run
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..errors import InputError

RUN_TIMEOUT_S = 600  # one notebook through `otter run`
_VERDICT_LINE = re.compile(r"^(?:AssertionError: )?((?:FAIL |- ).*)$")
_ERROR_LINE = re.compile(r"^\w+(?:Error|Exception): .*$")


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


def _student_of(path: Path, submissions: Path) -> str:
    relative = path.relative_to(submissions)
    return relative.parts[0] if len(relative.parts) > 1 else path.stem


def feedback_lines(output: str) -> list[str]:
    """The graders' verdict lines (FAIL ..., - ...) and any error line in otter's output."""
    found = []
    for line in (raw.strip() for raw in output.splitlines()):
        verdict = _VERDICT_LINE.match(line)
        if verdict:
            found.append(verdict.group(1))
        elif _ERROR_LINE.match(line):
            found.append(line)
    return found


def run_one(notebook: Path, autograder_zip: Path) -> dict[str, tuple[float, list[str]]]:
    """{question: (score, feedback lines)} of one notebook, through `otter run`."""
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "otter", "run", "-a", str(autograder_zip), "-o", tmp,
             str(notebook)],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )  # fmt: skip
        results = Path(tmp) / "results.json"
        if result.returncode != 0 or not results.exists():
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise InputError(f"the autograder could not run {notebook.name}: {tail[0]}")
        tests = json.loads(results.read_text())["tests"]
    return {
        t["name"]: (float(t.get("score") or 0.0), feedback_lines(t.get("output", "")))
        for t in tests
        if "max_score" in t and t["name"] != "Public Tests"
    }


def grade_submissions(
    submissions: Path, autograder: Path, out: Path, jobs: int | None = None
) -> list[StudentGrade]:
    """Grade every notebook under `submissions`; write out/grades.csv and out/grades.json.

    `jobs` notebooks run at once (default: the number of CPUs).
    """
    if not submissions.is_dir():
        raise InputError(f"{submissions} is not a folder: pass the folder of submitted notebooks")
    maxima = question_points(autograder)
    if not maxima:
        raise InputError(f"no autograder zips in {autograder}: run `make student` first")
    chapters = {q.split(":")[0] for q in maxima}
    grades: dict[str, StudentGrade] = {}
    work = []
    for path in sorted(submissions.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        student = _student_of(path, submissions)
        grade = grades.setdefault(student, StudentGrade(student))
        chapter = _chapter_of(path, chapters)
        if chapter is None:
            grade.errors.append(
                f"{path.name}: not a notebook of the student edition (keep its file name or "
                "its metadata); not graded"
            )
        else:
            work.append((grade, chapter, path))

    def run(item: tuple[StudentGrade, str, Path]) -> dict[str, tuple[float, list[str]]]:
        grade, chapter, path = item
        try:
            return run_one(path, autograder / f"{chapter}.zip")
        except (InputError, subprocess.TimeoutExpired) as exc:
            grade.errors.append(str(exc))
            return {}

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        for (grade, chapter, _), scores in zip(work, pool.map(run, work), strict=True):
            for key in (k for k in maxima if k.startswith(f"{chapter}:")):
                score, lines = scores.get(key.split(":", 1)[1], (0.0, []))
                grade.points[key] = score
                if lines:
                    grade.feedback[key] = lines
    rows = sorted(grades.values(), key=lambda g: g.student)
    _write(rows, maxima, out)
    return rows


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
