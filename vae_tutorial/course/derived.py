"""Graders of the numbers a reader derives by hand: a variance, a KL, bits per dimension, a β.

Each item is a `DerivedNumber`: the exact value, the tolerance the exercise states, and
the values the usual slips give, each with the hint it earns. `check_number` grades the
reader's number against it: PASS within the tolerance; otherwise the hint of the nearest
slip it matches, or a line saying whether it is close. The exact values are derived in
each item's comment (and in the chapter's folded solution).

    chapter 3   check_reparam_gradient_variance
    chapter 4   check_kl_value
    chapter 8   check_bits_per_dim
    chapter 9   check_beta_equivalence

It does not hold the graders of functions (`graders.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .checking import StudentError, Verdict, number

CLOSE = 10  # within CLOSE tolerances of the value, the answer is called close


@dataclass(frozen=True)
class DerivedNumber:
    """A number to derive: its value, the tolerance stated in the exercise, its slips."""

    exercise: str
    value: float
    tolerance: float  # absolute, in the unit of the value
    unit: str
    slips: tuple[tuple[float, str], ...] = ()


def check_number(item: DerivedNumber, answer: Any) -> Verdict:
    """PASS if |answer - item.value| <= item.tolerance; else the hint of a matching slip."""
    verdict = Verdict(item.exercise)
    try:
        if answer is Ellipsis or answer is None:
            raise StudentError(f"not finished yet: replace the `...` by your {item.exercise}")
        got = number(answer, f"your {item.exercise}")
    except StudentError as exc:
        verdict.problems.append(str(exc))
        return verdict
    if abs(got - item.value) <= item.tolerance:
        return verdict
    slips = [(abs(got - v), hint) for v, hint in item.slips if abs(got - v) <= item.tolerance]
    if slips:
        verdict.problems.append(min(slips)[1])
    elif abs(got - item.value) <= CLOSE * item.tolerance:
        verdict.problems.append(
            f"close, but not within ±{item.tolerance:g} {item.unit}: carry more digits through "
            "the arithmetic"
        )
    else:
        verdict.problems.append(f"{got:g} {item.unit} is not it: rederive it step by step")
    return verdict


# Var_eps[d/dmu (mu + sigma eps)^2] = Var[2 (mu + sigma eps)] = 4 sigma^2 = 0.36 at sigma = 0.3
REPARAM_GRADIENT_VARIANCE = DerivedNumber(
    "reparam_gradient_variance",
    value=4 * 0.3**2,
    tolerance=0.005,
    unit="",
    slips=(
        (0.3**2, "the factor 2 of the gradient 2(μ + σε) is squared too: Var[2σε] = 4σ²"),
        (2 * 0.3**2, "Var[2σε] = 2² σ²: a constant factor comes out of a variance squared"),
        (2 * 0.3, "the variance of σε is σ², not σ: Var[2σε] = 4σ²"),
        (
            4 * (1.0 + 0.3**2),
            "that is E[g²]; the variance subtracts the squared mean (2μ)²: Var[g] = E[g²] − (2μ)²",
        ),
    ),
)

# KL(N(m, diag s2) || N(0, I)) = 1/2 sum_j (m_j^2 + s2_j - log s2_j - 1), eq. kl-gauss, with
# m = (1, -1), s2 = (0.25, 4): 1/2 (0.25 + log 4 + 4 - log 4) = 1/2 (1 + 0.25 - log 0.25 - 1
# + 1 + 4 - log 4 - 1) = 2.125 nats (the two log terms cancel)
_M, _S2 = (1.0, -1.0), (0.25, 4.0)


def _kl(m: tuple[float, ...], s2: tuple[float, ...], minus_one: bool = True) -> float:
    return 0.5 * sum(a * a + v - math.log(v) - minus_one for a, v in zip(m, s2, strict=True))


KL_VALUE = DerivedNumber(
    "kl_value",
    value=_kl(_M, _S2),
    tolerance=0.005,
    unit="nats",
    slips=(
        (_kl(_M, _S2, minus_one=False), "each dimension has a '− 1' (eq. `kl-gauss`)"),
        (2 * _kl(_M, _S2), "the KL has a factor 1/2 (eq. `kl-gauss`)"),
        (
            _kl(_M, tuple(math.sqrt(v) for v in _S2)),
            "0.25 and 4 are the variances σ², not the standard deviations",
        ),
        (_kl(_M, tuple(v * v for v in _S2)), "0.25 and 4 are already σ²: do not square them"),
        (-_kl(_M, _S2), "a KL divergence is never negative: check the signs"),
    ),
)

# 100 nats per image over 784 pixels, in bits: 100 / (784 ln 2) = 0.18402 bits per dimension
_NATS = 100.0
BITS_PER_DIM = DerivedNumber(
    "bits_per_dim",
    value=_NATS / (784 * math.log(2)),
    tolerance=0.0005,
    unit="bits/dim",
    slips=(
        (_NATS / 784, "that is nats per dimension: divide by ln 2 to turn nats into bits"),
        (_NATS / math.log(2), "that is bits per image: divide by the 784 dimensions"),
        (_NATS / (784 * math.log(10)), "bits are base-2: divide by ln 2, not ln 10"),
        (_NATS * math.log(2) / 784, "one bit is ln 2 nats: divide the nats by ln 2, not multiply"),
    ),
)

# argmax E_q[log p(x|z)] - beta KL = argmax (1/beta) E_q[log p(x|z)] - KL: for beta = 4 the
# ELBO of the likelihood p(x|z)^t with t = 1/beta = 0.25
_BETA = 4.0
BETA_EQUIVALENCE = DerivedNumber(
    "beta_equivalence",
    value=1 / _BETA,
    tolerance=0.001,
    unit="",
    slips=(
        (
            _BETA,
            "divide the β-objective by β: the KL keeps weight 1 and the log-likelihood gets 1/β",
        ),
        (-1 / _BETA, "the tempered log-likelihood keeps its sign: t log p(x|z) with t > 0"),
        (1.0, "β ≠ 1 changes the objective: the log-likelihood's weight becomes 1/β"),
    ),
)


def check_reparam_gradient_variance(answer: Any) -> Verdict:
    """Grade Var_eps of the one-draw reparameterization gradient of E[z²], eq. `reparam`."""
    return check_number(REPARAM_GRADIENT_VARIANCE, answer)


def check_kl_value(answer: Any) -> Verdict:
    """Grade KL(N((1, −1), diag(0.25, 4)) ‖ N(0, I)) in nats, eq. `kl-gauss`: 2.125."""
    return check_number(KL_VALUE, answer)


def check_bits_per_dim(answer: Any) -> Verdict:
    """Grade 100 nats per MNIST image in bits per dimension: 100 / (784 ln 2)."""
    return check_number(BITS_PER_DIM, answer)


def check_beta_equivalence(answer: Any) -> Verdict:
    """Grade the likelihood exponent t that makes the β = 4 objective an ELBO: 1/β."""
    return check_number(BETA_EQUIVALENCE, answer)
