"""The student site's pages: which outputs of the executed book a student cell keeps, what
counts as a solution's text, and the derived configuration (no build here: the browser
tests check the built site, tests/browser/test_student_site.py)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from vae_tutorial.course.student_site import (
    STUDENT_BRANCH,
    _site_config,
    _with_outputs,
    solution_text,
)

ROOT = Path(__file__).resolve().parents[1]
v4 = nbformat.v4
SOLUTION = "    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)"


def _code(source: str, cell_id: str, text: str = "") -> nbformat.NotebookNode:
    cell = v4.new_code_cell(source, id=cell_id)
    if text:
        cell.outputs = [v4.new_output("stream", name="stdout", text=text)]
        cell.execution_count = 1
    return cell


def test_a_cell_keeps_its_outputs_only_when_it_is_the_books_own_and_prints_no_solution():
    master = v4.new_notebook(cells=[
        _code("x = 1\nprint(x)", "a"),
        _code(f"def f(mu, logvar):\n    # BEGIN SOLUTION\n{SOLUTION}\n    # END SOLUTION", "b"),
        _code("print(inspect.getsource(f))", "c"),
    ])  # fmt: skip
    executed = v4.new_notebook(cells=[
        _code("x = 1\nprint(x)", "a", "1\n"),
        _code(master.cells[1].source, "b", "PASS\n"),
        _code("print(inspect.getsource(f))", "c", f"def f(mu, logvar):\n{SOLUTION}\n"),
    ])  # fmt: skip
    student = v4.new_notebook(cells=[
        _code("x = 1\nprint(x)", "a"),
        _code("def f(mu, logvar):\n    ...", "b"),
        _code("print(inspect.getsource(f))", "c"),
        _code("y = 2", "new"),
    ])  # fmt: skip
    executed.metadata["widgets"] = {"state": {}}
    shown = _with_outputs(student, executed, master)
    assert shown.metadata["widgets"] == {"state": {}}  # the widgets' saved state
    assert shown.cells[0].outputs[0].text == "1\n"  # the book's cell: its outputs
    assert shown.cells[1].outputs == []  # the answer cell, now `...`: none
    assert shown.cells[2].outputs == []  # prints a solution line: cleared
    assert shown.cells[3].outputs == [] and shown.cells[3].execution_count is None
    assert _with_outputs(student, None, master).cells[0].outputs == []


def test_solution_text_takes_every_kind_of_solution_and_nothing_the_book_shows_elsewhere(
    tmp_path: Path,
):
    shared = "loss = -calc_elbo(model, x).elbo.mean()  # the loss"
    notebook = v4.new_notebook(cells=[
        _code(f"def f(mu, logvar):\n    # BEGIN SOLUTION\n{SOLUTION}\n    # END SOLUTION", "b"),
        _code("answer = 0.1625  # SOLUTION", "d"),
        v4.new_markdown_cell(":::{solution} ex\nThe KL is a sum over the latent dimensions.\n:::",
                             metadata={"tags": ["solution"]}),
        _code(f"# BEGIN SOLUTION\n{shared}\n# END SOLUTION", "e"),
    ])  # fmt: skip
    nbformat.write(notebook, tmp_path / "03_vae.ipynb")
    (tmp_path / "appendix.md").write_text(shared + "\n")
    assert solution_text(tmp_path)["03_vae"] == {
        SOLUTION.strip(),
        "answer = 0.1625  # SOLUTION",
        "The KL is a sum over the latent dimensions.",
    }
    assert "answer = 0.1625  # SOLUTION" not in solution_text(tmp_path, ("markdown",))["03_vae"]
    book = solution_text(ROOT / "book")
    assert {f"{n:02d}" for n in range(2, 11)} <= {name[:2] for name in book}


def test_the_site_config_executes_nothing_and_launches_the_student_branch():
    config = _site_config(ROOT, STUDENT_BRANCH)
    book = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["repository"] == {**book["repository"], "branch": "student"}
    assert config["title"].endswith("(student edition)")
    for path in config["sphinx"]["config"]["html_static_path"]:
        assert Path(path).is_absolute() and path.startswith(str(ROOT))
    assert config["launch_buttons"] == book["launch_buttons"]
