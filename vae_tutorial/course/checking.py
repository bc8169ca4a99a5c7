"""How a grader runs the reader's code: verdicts, safe calls and output checks.

Holds `Verdict` (PASS, or FAIL with one line per problem), `grade` (runs a grader's body
and turns anything the reader's code does, an exception, a numpy array, a wrong shape, a
NaN, into a FAIL line instead of a crash), `call` and `call_on_model` (the latter puts the
model back exactly as it was if the reader's function changed it, and says so), the
output checks `tensor`, `number` and `fields`, and `yours_or_reference`, which lets a
chapter go on with the package's function until the reader's passes. It does not hold
the graders themselves (`graders.py`) nor anything about notebooks (`edition.py`,
`grading.py`).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from .tripwires import ReferenceCalled, forbidding

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Verdict:
    """The grade of one exercise: `passed`, and one line per problem found."""

    exercise: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.passed:
            return f"PASS {self.exercise}: every check agrees with the reference."
        lines = [f"FAIL {self.exercise}: {len(self.problems)} problem(s)"]
        return "\n".join([*lines, *(f"  - {p}" for p in self.problems)])

    __repr__ = __str__


class StudentError(Exception):
    """Raised inside a grader: the reader's code cannot be graded further; says why."""


@dataclass(frozen=True)
class OwnWork:
    """What an exercise asks the reader to write, as the package's functions.

    `answers`: the package functions that would answer it (each unreachable while the
    reader's function runs); `allowed`: those the exercise lets the reader call, with
    whatever they call in turn (chapter 5's step uses `calc_elbo`).
    """

    answers: tuple[Callable[..., Any], ...]
    allowed: tuple[Callable[..., Any], ...] = ()


_own_work: ContextVar[OwnWork | None] = ContextVar("own_work", default=None)


def yours_or_reference(
    fn: Callable[..., Any], grader: Callable[[Callable[..., Any]], Verdict], reference: F
) -> F:
    """The reader's `fn` if `grader` passes it, else the package's `reference`; says which."""
    verdict = grader(fn)
    if verdict.passed:
        print(f"using your {verdict.exercise}")
        return fn  # type: ignore[return-value]
    print(f"using the package's {verdict.exercise} until yours passes")
    return reference


def grade(exercise: str, body: Callable[[list[str]], None], own_work: OwnWork) -> Verdict:
    """Run `body(problems)`; whatever the reader's code does, return a Verdict.

    While `body` runs, every `call` of the reader's function keeps `own_work.answers` out
    of its reach.
    """
    verdict = Verdict(exercise)
    token = _own_work.set(own_work)
    try:
        body(verdict.problems)
    except StudentError as exc:
        verdict.problems.append(str(exc))
    except Exception as exc:  # the reader's output broke a check: still a verdict
        verdict.problems.append(
            f"your function's output could not be checked ({type(exc).__name__}: "
            f"{_first_line(exc)}); "
            "return the types and shapes the exercise asks for"
        )
    finally:
        _own_work.reset(token)
    return verdict


def call(fn: Callable[..., Any], *args: Any, name: str) -> Any:
    """fn(*args), with an unfinished exercise or an exception turned into a StudentError.

    A call of one of the exercise's `OwnWork.answers` (at any depth, except from inside
    an allowed function) is a StudentError naming it, whatever the reader's code did next.
    """
    own_work = _own_work.get() or OwnWork(answers=())
    failure, out = None, None
    with forbidding(own_work.answers, own_work.allowed) as tripped:
        try:
            out = fn(*args)
        except ReferenceCalled:
            pass
        except NotImplementedError:
            failure = f"not finished yet: {name} raises NotImplementedError; write its body"
        except (Exception, SystemExit) as exc:
            detail = _first_line(exc)
            failure = f"calling {name} raised {type(exc).__name__}" + (
                f": {detail}" if detail else ""
            )
    if tripped.called:
        raise StudentError(
            f"{name} calls the package's {tripped.called[0]}: this exercise asks you to "
            "write it yourself"
        )
    if tripped.tampered:
        raise StudentError(
            f"{name} switched off the grader's call tracer (sys.settrace): not graded"
        )
    if failure is not None:
        raise StudentError(failure)
    if out is None or out is Ellipsis:
        raise StudentError(
            f"not finished yet: {name} returns None; replace the `...` with your code "
            "and return the result"
        )
    return out


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def _restored(model: nn.Module, name: str) -> Iterator[None]:
    state = copy.deepcopy(model.state_dict())
    training = model.training
    try:
        yield
    finally:
        changed = [k for k, v in model.state_dict().items() if not torch.equal(v, state[k])]
        model.load_state_dict(state)
        model.train(training)
        model.zero_grad(set_to_none=True)
        if changed:
            raise StudentError(
                f"{name} changed the model's parameters ({', '.join(changed[:3])}): it must "
                "only compute, with no optimizer step or in-place update of the weights"
            )


def call_on_model(fn: Callable[..., Any], model: nn.Module, *args: Any, name: str) -> Any:
    """`call(fn, model, *args)`; the model is put back as it was, and a change is a FAIL."""
    with _restored(model, name):
        return call(fn, model, *args, name=name)


def tensor(
    value: Any, what: str, shape: Sequence[int], finite: bool = True, per_example: bool = False
) -> Tensor:
    """`value` as a float tensor of `shape`, or a StudentError naming what is wrong.

    `per_example`: the value holds one number per example (a wrong shape then says so).
    """
    if type(value).__module__.startswith("numpy"):
        raise StudentError(
            f"{what} is a numpy {type(value).__name__}; return a torch.Tensor "
            "(stay in torch: numpy cuts the gradient)"
        )
    if not isinstance(value, Tensor):
        raise StudentError(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        hint = " (one value per example: no mean or sum over the batch, no extra axes)"
        raise StudentError(
            f"{what} has shape {tuple(value.shape)}; expected {tuple(shape)}"
            + (hint if per_example else "")
        )
    if finite and not torch.isfinite(value).all():
        raise StudentError(f"{what} contains NaN or infinite values")
    return value.detach().double()


def number(value: Any, what: str) -> float:
    """`value` (a Python or numpy number, or a one-element tensor) as a finite float."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise StudentError(
                f"{what} must be one number; got a tensor of shape {tuple(value.shape)}"
            )
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise StudentError(f"{what} must be a number, got {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise StudentError(f"{what} is {value}, not a finite number")
    return float(value)


def fields(out: Any, names: Sequence[str], what: str) -> tuple[Any, ...]:
    """The parts of a tuple, list, named tuple, dict or object with attributes `names`."""
    if isinstance(out, dict) and all(n in out for n in names):
        return tuple(out[n] for n in names)
    if all(hasattr(out, n) for n in names) and not isinstance(out, Tensor):
        return tuple(getattr(out, n) for n in names)
    if isinstance(out, Sequence) and not isinstance(out, str) and len(out) == len(names):
        return tuple(out)
    raise StudentError(
        f"{what} must return {len(names)} values ({', '.join(names)}); got {type(out).__name__}"
    )


def close(a: Tensor, b: Tensor, rtol: float = 1e-4, atol: float = 1e-4) -> bool:
    """Same shape and equal up to rounding."""
    return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), rtol, atol))


def diagnose(value: Tensor, reference: Tensor, mistakes: dict[str, Tensor], wrong: str) -> str:
    """'' if value matches the reference, else the first mistake it matches, else `wrong`."""
    if close(value, reference):
        return ""
    for line, candidate in mistakes.items():
        if close(value, candidate):
            return line
    return wrong
