"""Tripwires: while a grader runs the reader's function, the package's answers are off limits.

Every graded exercise asks the reader to write something the package already holds
(`gaussian_kl`, `calc_elbo`, `slerp`, ...). A one-line answer that calls the package's
function would pass any grader that only compares outputs, so while the reader's function
runs, `forbidding(answers, allowed)` watches every Python call (`sys.settrace`, and
`threading.settrace` for threads the reader starts). A call that enters the code of one
of `answers` trips the wire, unless a function of `allowed` is on the call stack below it
(chapter 5's step may use `calc_elbo`, which itself calls `gaussian_kl`): the call raises
`ReferenceCalled`, and the grader turns it into one FAIL line naming the package function
and saying that the exercise asks to write it.

The wire is tied to each function's code object, not to a name, so every path to it trips:
the top-level name, the module attribute, `from ... import`, an alias saved before the
call, a bound method, a function rebuilt from its `__code__`. The grader computes its own
reference outside the window, so it may call the same functions. A reader's code that
switches the tracer off is caught as tampering (`Tripped.tampered`).

It does not sandbox anything (a process that runs the reader's code can always be
changed by it: `sandbox.py` confines each graded question) and does not decide which
functions answer which exercise: the graders list them next to each `check_*`.
Reference: https://docs.python.org/3/library/sys.html#sys.settrace
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any


class ReferenceCalled(BaseException):
    """Raised inside the reader's code when it calls one of the package's answers.

    A BaseException, so that an `except Exception` of the reader's does not swallow it
    (the call is recorded in `Tripped` before it is raised, so catching it gains nothing).
    """


def qualified_name(fn: Callable[..., Any]) -> str:
    """'vae_tutorial.elbo.gaussian_kl' for the function, the method or the callable class."""
    return f"{fn.__module__}.{fn.__qualname__}"


def code_of(fn: Callable[..., Any]) -> CodeType:
    """The code object that runs when `fn` is called (decorators unwrapped; a class's __call__)."""
    target = inspect.unwrap(fn.__call__ if isinstance(fn, type) else fn)
    return target.__code__


@dataclass
class Tripped:
    """What the window saw: the package functions called, and whether the tracer was switched."""

    called: list[str] = field(default_factory=list)
    tampered: bool = False


@contextmanager
def forbidding(
    answers: Iterable[Callable[..., Any]], allowed: Iterable[Callable[..., Any]] = ()
) -> Iterator[Tripped]:
    """Within the block, a call of any of `answers` raises ReferenceCalled and is recorded.

    A call made (at any depth) from inside one of `allowed` passes. The tracer that was
    set before (a debugger, coverage) is put back afterwards.
    """
    allowed_codes = {code_of(fn) for fn in allowed}
    names = {code_of(fn): qualified_name(fn) for fn in answers}
    names = {code: name for code, name in names.items() if code not in allowed_codes}
    tripped = Tripped()

    def inside_allowed(frame: FrameType) -> bool:
        caller = frame.f_back
        while caller is not None:
            if caller.f_code in allowed_codes:
                return True
            caller = caller.f_back
        return False

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        name = names.get(frame.f_code)
        if event == "call" and name is not None and not inside_allowed(frame):
            tripped.called.append(name)
            raise ReferenceCalled(name)

    before, before_threads = sys.gettrace(), threading.gettrace()
    sys.settrace(tracer)
    threading.settrace(tracer)
    try:
        yield tripped
    finally:
        # a tripped wire unsets the tracer itself (an exception in a tracer does that)
        tripped.tampered = not tripped.called and sys.gettrace() is not tracer
        sys.settrace(before)
        threading.settrace(before_threads)  # type: ignore[arg-type]
