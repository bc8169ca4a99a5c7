"""Grading one question of one submission, in a process of its own.

`python -m vae_tutorial.course.question WORKDIR FD` is what the sandbox runs (`sandbox.py`):
WORKDIR holds `answer.py` (the code cells of the reader's answer to the question, as
handed in) and `test.py` (the question's otter test file, from the chapter's autograder,
read and deleted before the answer runs).
It imports the graders first, records what grading depends on (`integrity_snapshot`),
runs the answer, runs the question's test cases on the answer's globals (`run_ok_test`:
otter's OK format, run with the standard library's doctest as otter does, without
importing otter, which alone takes 4 s a process here), and checks that nothing grading
depends on was changed in between. It writes one JSON object,
{"score", "feedback"}, to the file descriptor FD, which the grading process
reads; what the reader's code prints goes to stdout and is not read.

Tampering (the graders, `Verdict`, the package, torch's functions and the test replaced
or patched) scores the question 0 with a line naming what was changed. The check runs in
the same process as the reader's code, so it detects tampering rather than making it
impossible: code written to defeat this very check could still hide it (README,
"Teaching with it"). It does not confine anything (`sandbox.py`) nor collect the
class's grades (`grading.py`), and imports neither nbformat nor otter (1.8 s and 4 s of
imports a process here). Reference: otter's OK test files,
https://otter-grader.readthedocs.io/en/latest/test_files/python_format.html
"""

from __future__ import annotations

import builtins
import doctest
import io
import json
import math
import numbers
import os
import re
import sys
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

ANSWER, TEST = "answer.py", "test.py"
_VERDICT_LINE = re.compile(r"^(?:AssertionError: )?((?:FAIL |- ).*)$")
_ERROR_LINE = re.compile(r"^\w+(?:Error|Exception): .*$")


def feedback_lines(output: str) -> list[str]:
    """The graders' verdict lines (FAIL ..., - ...) and any error line of a test's output."""
    found = []
    for line in (raw.strip() for raw in output.splitlines()):
        verdict = _VERDICT_LINE.match(line)
        if verdict:
            found.append(verdict.group(1))
        elif _ERROR_LINE.match(line):
            found.append(line)
    return found


def _watched() -> dict[str, Any]:
    """The namespaces whose entries grading reads: module dicts and class dicts."""
    import torch
    import torch.nn.functional

    import vae_tutorial
    from vae_tutorial import elbo, evaluate, model, sampling, toy
    from vae_tutorial.course import checking, derived, graders, tripwires

    train = sys.modules["vae_tutorial.train"]  # the name `vae_tutorial.train` is a function

    modules: list[ModuleType] = [
        builtins, math, doctest, torch, torch.nn.functional, vae_tutorial, elbo, evaluate,
        model, sampling, toy, train, checking, derived, graders, tripwires,
        sys.modules[__name__],
    ]  # fmt: skip
    classes = [
        torch.Tensor, model.VAE, train.FreeBitsObjective, checking.Verdict,
        doctest.DocTestRunner, doctest.DocTestParser,
    ]  # fmt: skip
    spaces: dict[str, Any] = {m.__name__: vars(m) for m in modules}
    spaces.update({f"{c.__module__}.{c.__qualname__}": c.__dict__ for c in classes})
    return spaces


Snapshot = dict[str, dict[str, tuple[Any, Any]]]


def integrity_snapshot() -> Snapshot:
    """{namespace: {name: (value, its code or None)}} of everything watched."""
    return {
        space: {
            name: (value, value.__code__ if isinstance(value, FunctionType) else None)
            for name, value in list(entries.items())
            if name != "_"  # the interpreter's last value, which doctest may set
        }
        for space, entries in _watched().items()
    }


def _torch_wrapped(old: Any, new: Any) -> bool:
    """Whether `new` is torch's own lazy wrapper of `old`: the first optimizer step imports
    torch._dynamo, which replaces torch.manual_seed by torch._disable_dynamo(manual_seed)."""
    import torch

    if not isinstance(new, FunctionType) or new.__closure__ is None:
        return False
    wrapper = torch._disable_dynamo(old)
    if new.__code__ is not wrapper.__code__:
        return False
    cells = dict(zip(new.__code__.co_freevars, new.__closure__, strict=True))
    return cells["fn"].cell_contents is old


def changed_since(snapshot: Snapshot) -> list[str]:
    """The watched names whose value (or function code) differs from `snapshot`, or is gone."""
    now = integrity_snapshot()
    changed = []
    for space, entries in snapshot.items():
        for name, (value, code) in entries.items():
            new_value, new_code = now.get(space, {}).get(name, (None, None))
            if new_value is value and new_code is code:
                continue
            if not _torch_wrapped(value, new_value):
                changed.append(f"{space}.{name}")
    return changed


def run_ok_test(source: str, answer_globals: dict[str, Any]) -> tuple[float, float, str]:
    """(score, possible, output) of an otter OK test file's `source` run on `answer_globals`.

    Each case is a doctest; `points` is the test's total (shared equally by its cases)
    or one number per case. The output is doctest's report of the failing examples.
    """
    spec: dict[str, Any] = {}
    exec(compile(source, TEST, "exec"), spec)
    test = spec["test"]
    cases = [case for suite in test["suites"] for case in suite["cases"]]
    points = test.get("points", 1)
    weights = (
        [points / len(cases)] * len(cases) if isinstance(points, numbers.Real) else list(points)
    )
    score, report = 0.0, io.StringIO()
    for i, (case, weight) in enumerate(zip(cases, weights, strict=True)):
        examples = doctest.DocTestParser().parse(case["code"], f"{test['name']} {i}")
        runner = doctest.DocTestRunner(verbose=False)
        name = f"{test['name']} {i}"
        case_test = doctest.DocTest(
            [e for e in examples if isinstance(e, doctest.Example)],
            answer_globals, name, None, None, case["code"],
        )  # fmt: skip
        failed = runner.run(case_test, out=report.write, clear_globs=False).failed
        score += 0.0 if failed else weight
    return score, float(sum(weights)), report.getvalue()


def grade_question(workdir: Path) -> dict[str, Any]:
    """Run the answer and the question's test in this process; the result as a dict."""
    test = (workdir / TEST).read_text()
    (workdir / TEST).unlink()  # out of the answer's sight
    snapshot = integrity_snapshot()
    answer_globals: dict[str, Any] = {"__name__": "__main__"}
    failure, score, possible, output = None, 0.0, 0.0, ""
    try:
        exec(compile((workdir / ANSWER).read_text(), "<your answer>", "exec"), answer_globals)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included
        failure = f"your answer cell raised {type(exc).__name__}: {str(exc)[:200]}"
    else:
        try:
            score, possible, output = run_ok_test(test, answer_globals)
        except BaseException as exc:
            failure = f"the test could not run ({type(exc).__name__}): {str(exc)[:200]}"
    changed = changed_since(snapshot)
    if changed:
        feedback = [
            f"tampering: your code changed {', '.join(changed[:3])}, which grading uses: "
            "this question scores 0"
        ]
        return {"score": 0.0, "feedback": feedback}
    if failure:
        return {"score": 0.0, "feedback": [failure]}
    return {"score": score, "possible": possible, "feedback": feedback_lines(output)}


def main(argv: list[str]) -> None:
    workdir, fd = Path(argv[0]), int(argv[1])
    grader = os.getpid()
    result = grade_question(workdir)
    if os.getpid() != grader:  # a process the answer forked: it has no verdict to give
        os._exit(0)
    with os.fdopen(fd, "w") as channel:
        channel.write(json.dumps(result))
    os._exit(0)  # no atexit handler or thread of the reader's runs after the verdict


if __name__ == "__main__":
    main(sys.argv[1:])
