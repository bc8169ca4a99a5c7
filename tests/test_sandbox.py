"""Grading a class with hostile submissions: each is graded without harm, the rest as usual.

One class of chapter 3 (three questions: gaussian_kl, 2 points; reparameterize, 3 points;
reparam_gradient_variance, 2 points). Each hostile student's gaussian_kl answer does one
harmful thing; their other answers are right. Each must score 0 on gaussian_kl with a line
saying what happened and full marks on the others, and the honest student 7: a question
is graded on its own, in its own confined process (`vae_tutorial/course/sandbox.py`,
`question.py`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from vae_tutorial.course.edition import build_chapter
from vae_tutorial.course.grading import grade_submissions, run_question
from vae_tutorial.course.sandbox import Limits, confine, isolation
from vae_tutorial.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
WALL = 20.0  # seconds per question in these tests (a normal one takes 3-7 s here)
HONEST = (
    "def my_gaussian_kl(mu, logvar):\n    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)\n"
)
OUTSIDE = Path("/var/tmp/vae-grading-escape.txt")


def hostile(tmp: Path, port: int) -> dict[str, tuple[str, str]]:
    """{student: (their gaussian_kl answer cell, a phrase of the line it must get)}."""
    return {
        "endless_loop": ("def my_gaussian_kl(mu, logvar):\n    while True:\n        pass\n",
                         "timed out: it ran longer than 20 s"),
        "fork_loop": ("import os\nwhile True:\n    os.fork()\n" + HONEST, "BlockingIOError"),
        "writes_outside": (f"open({str(OUTSIDE)!r}, 'w').write('escaped')\n" + HONEST,
                           "your answer cell raised"),
        "writes_home": (f"open({str(Path.home() / 'vae-grading-escape.txt')!r}, 'w')\n" + HONEST,
                        "your answer cell raised"),
        "reads_solution": (f"SOLUTION = open({str(ROOT / 'book' / '03_vae.ipynb')!r}).read()\n"
                           + HONEST, "FileNotFoundError"),
        "reads_autograder": (f"ZIP = open({str(tmp / 'edition' / 'autograder' / '03_vae.zip')!r},"
                             " 'rb').read()\n" + HONEST, "FileNotFoundError"),
        "allocates_30gb": ("import torch\nBIG = torch.empty(30 * 2**30, dtype=torch.uint8)\n"
                           + HONEST, "can't allocate memory"),
        "network": (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
                    + HONEST, "your answer cell raised"),
        "sys_exit": ("import sys\nsys.exit(0)\n" + HONEST, "raised SystemExit"),
        "os_exit": ("import os\nos._exit(0)\n" + HONEST, "ended the grading process before"),
        "patched_verdict": ("import vae_tutorial.course.checking as c\n"
                            "c.Verdict.passed = property(lambda self: True)\n"
                            "def my_gaussian_kl(mu, logvar):\n    return mu.sum(1)\n",
                            "tampering: your code changed vae_tutorial.course.checking.Verdict"),
        "patched_allclose": ("import torch\ntorch.allclose = lambda *a, **k: True\n"
                             "def my_gaussian_kl(mu, logvar):\n    return mu.sum(1)\n",
                             "tampering: your code changed torch.allclose"),
        "patched_grader": ("from vae_tutorial.course import graders\n"
                           "graders.diagnose = lambda *a: ''\n"
                           "def my_gaussian_kl(mu, logvar):\n    return mu.sum(1)\n",
                           "tampering: your code changed vae_tutorial.course.graders.diagnose"),
    }  # fmt: skip


@pytest.fixture(scope="module")
def chapter_3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("class")
    build_chapter(ROOT / "book" / "03_vae.ipynb", tmp / "edition")
    return tmp


def _submission(solution: Path, answer: str, target: Path) -> None:
    """The instructor's solution with the gaussian_kl answer cell replaced by `answer`."""
    notebook = nbformat.read(solution, as_version=4)
    (cell,) = [
        c for c in notebook.cells if "gaussian_kl" in c.metadata.get("otter", {}).get("tests", [])
    ]
    cell.source = answer
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def test_isolation_in_force_is_bubblewrap_where_make_installs_it() -> None:
    """`make` installs Debian's bubblewrap when it runs as root with apt (as CI does)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("not root on Debian: make does not install bubblewrap here")
    assert isolation() == "bubblewrap"


def test_a_hostile_class_is_graded_without_harm(chapter_3: Path) -> None:
    if isolation() != "bubblewrap":
        pytest.skip("needs bubblewrap (Debian's bubblewrap; `make` installs it as root)")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    cases = hostile(chapter_3, port)
    solution = chapter_3 / "edition" / "solutions" / "03_vae.ipynb"
    subs = chapter_3 / "submissions"
    for student, (answer, _) in cases.items():
        _submission(solution, answer, subs / student / "03_vae.ipynb")
    _submission(solution, HONEST, subs / "honest" / "03_vae.ipynb")
    (subs / "junk").mkdir()
    (subs / "junk" / "03_vae.ipynb").write_text("{ this is not json")
    OUTSIDE.unlink(missing_ok=True)

    limits = Limits(wall_seconds=WALL, cpu_seconds=60, processes=64)
    rows = {
        r.student: r
        for r in grade_submissions(subs, chapter_3 / "edition" / "autograder",
                                   chapter_3 / "grades", jobs=2, limits=limits)
    }  # fmt: skip

    assert rows["honest"].total == 7 and not rows["honest"].feedback
    others = {"03_vae:reparameterize": 3.0, "03_vae:reparam_gradient_variance": 2.0}
    for student, (_, phrase) in cases.items():
        row = rows[student]
        assert row.points == {"03_vae:gaussian_kl": 0.0, **others}, student
        lines = row.feedback["03_vae:gaussian_kl"]
        assert any(phrase in line for line in lines), (student, lines)
        assert list(row.feedback) == ["03_vae:gaussian_kl"]
    assert rows["junk"].total == 0 and "not a notebook" in rows["junk"].errors[0]
    assert not OUTSIDE.exists()
    assert not (Path.home() / "vae-grading-escape.txt").exists()
    with pytest.raises(TimeoutError):  # nothing reached the grading machine's loopback
        listener.accept()
    listener.close()


def test_a_question_that_prints_and_forks_leaves_nothing_running(chapter_3: Path) -> None:
    """Whatever the answer started is gone when its question is graded."""
    marker = f"vae-grading-sleeper-{os.getpid()}"
    answer = (
        "import subprocess\n"
        f"subprocess.Popen(['sleep', '300', '{marker}'])\n"  # sleep ignores the extra word
        "print('lots of output ' * 10000)\n" + HONEST
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(answer)])
    notebook.cells[0].metadata["otter"] = {"tests": ["gaussian_kl"]}
    zip_path = chapter_3 / "edition" / "autograder" / "03_vae.zip"
    text = zipfile.ZipFile(zip_path).read("tests/gaussian_kl.py").decode()
    score, lines = run_question(
        notebook, "gaussian_kl", text, [chapter_3], Limits(wall_seconds=WALL)
    )
    assert (score, lines) == (2.0, [])
    survivors = [p for p in Path("/proc").glob("[0-9]*") if marker in _cmdline(p)]
    assert survivors == []


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_the_sandbox_command_hides_the_book_and_runs_as_nobody() -> None:
    if isolation() != "bubblewrap":
        pytest.skip("needs bubblewrap")
    book = str(ROOT / "book")
    probe = (
        f"import os, pathlib; print(os.getuid(), pathlib.Path({book!r}).exists(), "
        "len(list(pathlib.Path.home().iterdir())))"
    )
    with tempfile.TemporaryDirectory() as tmp:  # as grading makes them: /tmp/NAME
        Path(tmp).chmod(0o777)
        out = subprocess.run(
            confine([sys.executable, "-I", "-c", probe], Path(tmp), [ROOT], Limits()),
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
    uid = 65534 if os.geteuid() == 0 else os.geteuid()
    assert out.stdout.split() == [str(uid), "False", "0"]


def test_torch_s_own_lazy_wrapper_is_not_tampering_but_a_lookalike_is() -> None:
    """The first optimizer step imports torch._dynamo, which wraps torch.manual_seed: that
    is torch's doing. The same wrapper around another function is tampering."""
    import torch

    from vae_tutorial.course.question import changed_since, integrity_snapshot

    original = torch.manual_seed
    snapshot = integrity_snapshot()
    try:
        torch.manual_seed = torch._disable_dynamo(original)
        assert changed_since(snapshot) == []
        lookalike = torch._disable_dynamo(lambda seed: None)
        lookalike.__wrapped__ = original
        torch.manual_seed = lookalike
        assert changed_since(snapshot) == ["torch.manual_seed"]
    finally:
        torch.manual_seed = original
    assert changed_since(snapshot) == []


def test_bad_input_gets_one_line_and_costs_no_other_grade(chapter_3: Path, tmp_path: Path) -> None:
    solution = chapter_3 / "edition" / "solutions" / "03_vae.ipynb"
    autograder = chapter_3 / "edition" / "autograder"
    subs = tmp_path / "handed_in"
    _submission(solution, HONEST, subs / "alice" / "03_vae.ipynb")
    shutil.copy(subs / "alice" / "03_vae.ipynb", subs / "alice" / "copy.ipynb")  # by metadata
    (subs / "alice" / "notes.txt").write_text("my notes")
    (subs / "bob").mkdir()
    (subs / "carol").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), subs / "carol" / "lab1.ipynb")  # another course
    (subs / "__MACOSX" / "alice").mkdir(parents=True)
    (subs / "__MACOSX" / "alice" / "._03_vae.ipynb").write_bytes(b"\x00\x05")
    (subs / ".DS_Store").write_bytes(b"\x00")
    rows = {r.student: r for r in grade_submissions(subs, autograder, tmp_path / "g", jobs=2)}
    assert sorted(rows) == ["alice", "bob", "carol"]
    assert rows["alice"].total == 7 and rows["alice"].errors == [
        "alice/copy.ipynb: a second notebook of 03_vae (the first, alice/03_vae.ipynb, is "
        "graded); not graded",
        "alice/notes.txt: not a notebook (.ipynb); not graded",
    ]
    assert rows["bob"].errors == ["handed in no file"] and rows["bob"].total == 0
    assert rows["carol"].errors == [
        "carol/lab1.ipynb: not a notebook of the student edition (keep its file name or its "
        "metadata); not graded"
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no submissions: expected <student>/<chapter>"):
        grade_submissions(tmp_path / "empty", autograder, tmp_path / "g2")


def test_python_and_the_package_stay_visible_under_a_hidden_tmp(monkeypatch) -> None:
    """A checkout or virtualenv under /tmp (as a CI clone may be) comes back, read-only,
    after /tmp is replaced by an empty one."""
    from vae_tutorial.course import sandbox

    monkeypatch.setattr(sys, "prefix", "/tmp/clone/.venv")
    args = sandbox._bwrap_prefix(Path("/tmp/work"), [])
    tmpfs = args.index("/tmp", args.index("--tmpfs"))
    rebind = [
        i
        for i in range(len(args) - 2)
        if args[i : i + 3] == ["--ro-bind", "/tmp/clone", "/tmp/clone"]
    ]
    assert rebind and rebind[0] > tmpfs, args
    assert args[args.index("--bind") + 1] == "/tmp/work"
