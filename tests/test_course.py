"""The course: graded exercises in chapters 2-10, the student edition, and class grading.

The student edition must hold no solution, run top to bottom before it is filled in, and
grade to zero; the instructor's solutions must grade to full marks; a submission with one
known mistake must lose exactly that question's points, with feedback naming the mistake.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from vae_tutorial.cli import main
from vae_tutorial.course import edition as edition_module
from vae_tutorial.course.edition import (
    REFERENCES,
    REVEALS_KEY,
    REVEALS_TAG,
    answer_reveals,
    build_student_edition,
    exercise_spans,
    questions,
    shown_answers,
    solution_leaks,
)
from vae_tutorial.course.grading import grade_submissions
from vae_tutorial.course.question import feedback_lines
from vae_tutorial.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
edition_doc = edition_module.__doc__ or ""
GRADED = [
    "02_elbo",
    "03_vae",
    "04_exercise_elbo",
    "05_training",
    "06_sampling",
    "07_latent_space",
    "08_evaluation",
    "09_going_further",
    "10_when_it_goes_wrong",
]
EXERCISE = re.compile(r":::\{exercise\}.*?\n:::", re.S)


def master(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The student edition, built once. `make test` has it built into VAE_TEST_EDITION,
    with the stamp its site step checks, so that step does not build it again."""
    where = os.environ.get("VAE_TEST_EDITION")
    out = Path(where) if where else tmp_path_factory.mktemp("edition") / "student"
    found = build_student_edition(BOOK, out)
    (out / ".stamp").touch()
    return out, found


def test_every_chapter_2_to_10_has_graded_questions(edition) -> None:
    out, found = edition
    assert sorted({q.chapter for q in found}) == GRADED
    chapters = sorted(p.stem for p in BOOK.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.stem for p in (out / "notebooks").glob("*.ipynb")) == chapters
    assert sorted(p.stem for p in (out / "autograder").glob("*.zip")) == GRADED


def test_every_exercise_has_a_difficulty_and_a_time_and_graded_ones_their_points() -> None:
    for path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        points = {q.name: q.points for q in questions(notebook, path.stem)}
        exercises = [m.group(0) for c in notebook.cells for m in EXERCISE.finditer(c.source)]
        assert exercises, path.name
        for text in exercises:
            assert "**Difficulty:**" in text and "**Time:** ~" in text, (path.name, text[:80])
        graded = [t for t in exercises if "(auto-graded)" in t]
        assert len(graded) == len(points), path.name
        assert sorted(
            float(re.search(r"\*\*Points:\*\* ([0-9.]+)", t).group(1)) for t in graded
        ) == sorted(points.values())


def _stub_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if "otter_answer_cell" in c.metadata.get("tags", [])]


def test_the_student_edition_holds_no_solution(edition) -> None:
    out, found = edition
    for chapter in sorted(p.stem for p in BOOK.glob("[0-9][0-9]_*.ipynb")):
        student = nbformat.read(out / "notebooks" / f"{chapter}.ipynb", as_version=4)
        assert solution_leaks(master(chapter), student) == [], chapter
        text = "\n".join(c.source for c in student.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN TESTS", "assert verdict.passed",
                       "{solution", "solution-start", "solution-end"):  # fmt: skip
            assert marker not in text, (chapter, marker)
        assert not [c for c in student.cells if c.cell_type == "raw"], chapter
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
        stubs = _stub_cells(student)
        assert len(stubs) == sum(q.chapter == chapter for q in found), chapter
        for cell in stubs:  # the reader's function with `...` as its body, or a number's `...`
            assert re.search(
                r"def my_\w+\(.*\):\n    \"\"\".*\"\"\"\n    \.\.\.\n|^my_\w+ = \.\.\.$",
                cell.source,
                re.M,
            ), cell.source


def chapters(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {
        p.stem: nbformat.read(p, as_version=4) for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    }


def marked() -> dict[tuple[str, int], tuple[str, str]]:
    """(chapter, cell) -> (question, "move" | "drop") of the book's `reveals-answer` cells."""
    return {
        (chapter, i): (
            cell.metadata[REVEALS_KEY]["question"],
            cell.metadata[REVEALS_KEY]["student"],
        )
        for chapter, notebook in chapters(BOOK).items()
        for i, cell in enumerate(notebook.cells)
        if REVEALS_TAG in cell.metadata.get("tags", [])
    }


def test_every_graded_question_names_the_package_code_that_answers_it() -> None:
    names = {q.name for chapter, nb in chapters(BOOK).items() for q in questions(nb, chapter)}
    assert set(REFERENCES) == names


def test_the_book_keeps_and_marks_every_printout_of_an_answer_before_its_exercise() -> None:
    """The instructor edition shows them where they are, each tagged with its question."""
    reveals = answer_reveals(chapters(BOOK), BOOK)
    assert len(reveals) >= 5  # chapters 2, 3 (two), 5 and 7 print a reference before its exercise
    assert {(r.chapter, r.cell): r.question for r in reveals} == {
        place: question for place, (question, _) in marked().items()
    }


def test_the_edition_module_lists_every_moved_and_dropped_cell() -> None:
    rows = re.findall(r"^    (\d\d_\w+) .*? (\d\d_\w+:\w+) +(moved|dropped)$", edition_doc, re.M)
    assert sorted(rows) == sorted(
        (chapter, question, {"move": "moved", "drop": "dropped"}[how])
        for (chapter, _), (question, how) in marked().items()
    )


def test_no_student_notebook_shows_an_answer_before_its_exercise(edition) -> None:
    """A marked cell comes right after its exercise, or is gone, with a note in its place;
    the instructors' solution notebooks keep every one where the book has it."""
    out, _ = edition
    students = chapters(out / "notebooks")
    assert [str(r) for r in answer_reveals(students, BOOK)] == []
    moved = {master(c).cells[i].source for (c, i), (_, how) in marked().items() if how == "move"}
    for (chapter, index), (question, how) in marked().items():
        source, name = master(chapter).cells[index].source, question.split(":")[1]
        student = students[chapter]
        places = [i for i, c in enumerate(student.cells) if c.source == source]
        notes = [c for c in student.cells if "Student edition" in c.source and name in c.source]
        assert len(notes) >= 1, (chapter, index)
        if how == "drop":  # nowhere in its chapter, not even after the exercise
            assert places == [], (chapter, index)
            assert not [c for c in student.cells if name in shown_answers(c, student, BOOK)]
            continue
        _, end = exercise_spans(student)[name]
        assert len(places) == 1 and places[0] > end, (chapter, index, places, end)
        between = student.cells[end + 1 : places[0]]  # a note, and what else moved there
        assert all(c.source in moved or "Student edition" in c.source for c in between)
        assert REVEALS_TAG not in student.cells[places[0]].metadata.get("tags", [])
    solutions = answer_reveals(chapters(out / "solutions"), BOOK)
    assert {(r.chapter, r.question) for r in solutions} == {
        (chapter, question) for (chapter, _), (question, _) in marked().items()
    }


def test_the_answer_check_reads_printed_and_included_code(tmp_path) -> None:
    """What a cell shows: its own lines, inspect.getsource of an import, a literalinclude."""
    (tmp_path / "code.py").write_text("def kl(mu, logvar):\n    return mu.var(dim=0) > threshold\n")
    cells = [
        nbformat.v4.new_code_cell("import inspect\n\nfrom vae_tutorial.sampling import slerp"),
        nbformat.v4.new_code_cell("print(inspect.getsource(slerp))"),
        nbformat.v4.new_markdown_cell("```{literalinclude} code.py\n:pyobject: kl\n```"),
        nbformat.v4.new_code_cell("x = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(-1)"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    found = [shown_answers(c, notebook, tmp_path) for c in cells[:4]]
    assert found == [set(), {"slerp"}, {"active_units"}, set()]  # 3: not the reference's line
    cells[3].source = "return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(-1)  # kl"
    assert shown_answers(cells[3], notebook, tmp_path) == {"gaussian_kl"}
    reveals = answer_reveals({"01_a": notebook}, tmp_path)
    assert [str(r) for r in reveals] == [
        "01_a cell 1 shows the answer to ?:slerp",
        "01_a cell 2 shows the answer to ?:active_units",
        "01_a cell 3 shows the answer to ?:gaussian_kl",
    ]
    unknown = nbformat.v4.new_code_cell("print(inspect.getsource(model.encode))")
    with pytest.raises(InputError, match="cannot tell what"):
        shown_answers(unknown, notebook, tmp_path)


def test_the_leak_check_finds_solutions_left_in() -> None:
    """The check itself can fail: the instructor's notebook leaks everything."""
    chapter = master("04_exercise_elbo")
    leaks = solution_leaks(chapter, chapter)
    assert any("solution code" in leak for leak in leaks)
    assert any("a solution block" in leak for leak in leaks)


def test_unfilled_student_notebooks_run_top_to_bottom(edition, monkeypatch) -> None:
    """Each exercise says it is not finished; later cells fall back to the package."""
    out, _ = edition
    monkeypatch.setenv("VAE_BOOK_QUICK", "1")
    for chapter in GRADED:
        notebook = nbformat.read(out / "notebooks" / f"{chapter}.ipynb", as_version=4)
        NotebookClient(notebook, timeout=900, resources={"metadata": {"path": str(BOOK)}}).execute()
        for cell in _stub_cells(notebook):
            printed = "".join(o.get("text", "") for o in cell.outputs)
            assert printed.startswith("FAIL ") and "not finished yet" in printed, (chapter, printed)
        fallbacks = [c for c in notebook.cells if "yours_or_reference(" in c.source]
        for cell in fallbacks:
            assert "using the package's" in "".join(o.get("text", "") for o in cell.outputs)


def _one_mistake(solution: Path, target: Path) -> None:
    """The chapter-4 solution with the KL's sign flipped."""
    notebook = nbformat.read(solution, as_version=4)
    correct = "kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)"
    cells = [c for c in notebook.cells if "def my_calc_elbo" in c.source]
    assert len(cells) == 1
    assert correct in cells[0].source
    cells[0].source = cells[0].source.replace(correct, "kl = -" + correct[len("kl = ") :])
    nbformat.write(notebook, target)


def test_grading_full_marks_zero_and_one_mistake(edition, tmp_path) -> None:
    out, found = edition
    subs = tmp_path / "submissions"
    for student in ("teacher", "blank", "one_mistake", "junk"):
        (subs / student).mkdir(parents=True)
    for chapter in GRADED:
        shutil.copy(out / "solutions" / f"{chapter}.ipynb", subs / "teacher")
        shutil.copy(out / "notebooks" / f"{chapter}.ipynb", subs / "blank")
    _one_mistake(out / "solutions" / "04_exercise_elbo.ipynb",
                 subs / "one_mistake" / "04_exercise_elbo.ipynb")  # fmt: skip
    shutil.copy(out / "solutions" / "02_elbo.ipynb", subs / "one_mistake")
    (subs / "junk" / "04_exercise_elbo.ipynb").write_text("this is not a notebook")

    rows = {r.student: r for r in grade_submissions(subs, out / "autograder", tmp_path / "g", 2)}
    full = sum(q.points for q in found)
    teacher, blank, mistake = rows["teacher"], rows["blank"], rows["one_mistake"]
    assert teacher.total == full and not teacher.feedback and not teacher.errors
    assert blank.total == 0 and len(blank.points) == len(found) and not blank.errors
    assert all("not finished yet" in " ".join(lines) for lines in blank.feedback.values())
    assert len(blank.feedback) == len(found)

    chapter_4 = {q.name: q.points for q in found if q.chapter == "04_exercise_elbo"}
    chapter_2 = {q.name: q.points for q in found if q.chapter == "02_elbo"}
    assert mistake.points["04_exercise_elbo:calc_elbo"] == 0
    assert mistake.points["04_exercise_elbo:sample"] == chapter_4["sample"]
    assert mistake.total == full - chapter_4["calc_elbo"] - sum(
        q.points for q in found if q.chapter not in ("02_elbo", "04_exercise_elbo")
    )
    assert sum(mistake.points[f"02_elbo:{n}"] for n in chapter_2) == sum(chapter_2.values())
    assert list(mistake.feedback) == ["04_exercise_elbo:calc_elbo"]
    assert any("the KL has the wrong sign" in line for line in mistake.feedback[
        "04_exercise_elbo:calc_elbo"])  # fmt: skip
    assert (
        rows["junk"].total == 0
        and "not a notebook of the student edition" in rows["junk"].errors[0]
    )

    with open(tmp_path / "g" / "grades.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["student"] for r in table] == ["blank", "junk", "one_mistake", "teacher"]
    assert float(table[3]["total"]) == full and float(table[3]["max"]) == full
    assert "the KL has the wrong sign" in table[2]["feedback"]
    report = json.loads((tmp_path / "g" / "grades.json").read_text())
    assert sum(report["max_points"].values()) == full and len(report["students"]) == 4


def test_feedback_lines_keep_the_verdict_and_errors_only() -> None:
    output = """kl results:
        Trying:
            assert verdict.passed, str(verdict)
        Exception raised:
            AssertionError: FAIL gaussian_kl: 1 problem(s)
              - the KL has the wrong sign: KL(q ‖ p) ≥ 0 (eq. `kl-gauss`)
    other results:
            NameError: name 'my_kl' is not defined"""
    assert feedback_lines(output) == [
        "FAIL gaussian_kl: 1 problem(s)",
        "- the KL has the wrong sign: KL(q ‖ p) ≥ 0 (eq. `kl-gauss`)",
        "NameError: name 'my_kl' is not defined",
    ]


def test_grade_command_names_a_missing_folder(tmp_path, capsys) -> None:
    assert main(["grade", str(tmp_path / "nowhere"), "--autograder", str(tmp_path)]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_each_autograder_zip_holds_what_otter_grade_and_gradescope_need(edition) -> None:
    """Otter's scale-out paths build their image from the zip alone: its environment.yml
    must install otter, CPU PyTorch and the book's package from the repository."""
    out, found = edition
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    package = f"vae-tutorial @ git+{repository['url']}@{repository['branch']}"
    for chapter in GRADED:
        with zipfile.ZipFile(out / "autograder" / f"{chapter}.zip") as zf:
            names = set(zf.namelist())
            assert {"run_autograder", "setup.sh", "environment.yml", "otter_config.json"} <= names
            assert {f"tests/{q.name}.py" for q in found if q.chapter == chapter} <= names
            pip = yaml.safe_load(zf.read("environment.yml"))["dependencies"][-1]["pip"]
            assert json.loads(zf.read("otter_config.json"))["assignment_name"] == chapter
        assert package in pip and "torch>=2.4" in pip, (chapter, pip)
        assert any(p.startswith("otter-grader") for p in pip)


def test_a_rebuilt_edition_keeps_the_student_site(tmp_path, monkeypatch) -> None:
    """`make grade` rebuilds the edition: its own folders start afresh, the site stays."""
    out = tmp_path / "student"
    (out / "html").mkdir(parents=True)
    (out / "html" / "index.html").write_text("the student site")
    (out / "notebooks").mkdir()
    (out / "notebooks" / "stale.ipynb").write_text("{}")
    monkeypatch.setattr(edition_module, "build_chapter", lambda path, out: [])
    build_student_edition(BOOK, out)
    assert (out / "html" / "index.html").read_text() == "the student site"
    assert not (out / "notebooks" / "stale.ipynb").exists()
