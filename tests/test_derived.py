"""The graders of derived numbers: the value within its tolerance passes, each slip is named.

The exact values are recomputed here independently (torch.distributions for the KL, a
Monte-Carlo variance for the gradient, the definition of a bit), not read from the items.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vae_tutorial.course import derived as d

PASS = None


def test_the_values_agree_with_independent_references() -> None:
    q = Normal(torch.tensor([1.0, -1.0], dtype=torch.float64), torch.tensor([0.5, 2.0]).double())
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum().item()
    assert d.KL_VALUE.value == pytest.approx(kl, abs=1e-12) == pytest.approx(2.125)
    eps = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mu = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    (grads,) = torch.autograd.grad((mu + 0.3 * eps).pow(2).sum(), mu, create_graph=False)
    per_draw = 2 * (1.0 + 0.3 * eps)  # autograd's gradient of each draw, summed above
    assert grads.item() == pytest.approx(per_draw.sum().item())
    assert per_draw.var().item() == pytest.approx(d.REPARAM_GRADIENT_VARIANCE.value, rel=5e-3)
    assert d.BITS_PER_DIM.value == pytest.approx(100 / 784 / math.log(2))
    assert d.BITS_PER_DIM.value == pytest.approx(100 / 784 * math.log2(math.e))
    assert d.BETA_EQUIVALENCE.value == 0.25


def test_no_slip_is_within_the_tolerance_of_the_value_or_of_another_slip() -> None:
    for item in (d.REPARAM_GRADIENT_VARIANCE, d.KL_VALUE, d.BITS_PER_DIM, d.BETA_EQUIVALENCE):
        values = [item.value, *(v for v, _ in item.slips)]
        for i, a in enumerate(values):
            for b in values[i + 1 :]:
                assert abs(a - b) > 2 * item.tolerance, (item.exercise, a, b)


BATTERIES = {
    d.check_reparam_gradient_variance: [
        (0.36, PASS),
        (4 * 0.3**2, PASS),
        (torch.tensor(0.3604), PASS),
        (np.float32(0.36), PASS),
        (0.09, "the factor 2 of the gradient"),
        (0.18, "comes out of a variance squared"),
        (0.6, "the variance of σε is σ², not σ"),
        (4.36, "that is E[g²]"),
        (0.37, "close, but not within ±0.005"),
        (3.0, "is not it"),
        (..., "not finished yet"),
        ("0.36", "must be a number"),
    ],
    d.check_kl_value: [
        (2.125, PASS),
        (torch.tensor([2.1251]), PASS),
        (17 / 8, PASS),
        (3.125, "'− 1'"),
        (4.25, "factor 1/2"),
        (1.25, "not the standard deviations"),
        (8.03125, "do not square them"),
        (-2.125, "never negative"),
        (2.14, "close, but not within ±0.005 nats"),
        (float("nan"), "not a finite number"),
        (torch.tensor([2.125, 2.125]), "must be one number"),
        (None, "not finished yet"),
    ],
    d.check_bits_per_dim: [
        (0.184, PASS),
        (100 / (784 * math.log(2)), PASS),
        (np.float64(0.1843), PASS),
        (100 / 784, "nats per dimension"),
        (100 / math.log(2), "bits per image"),
        (100 / (784 * math.log(10)), "not ln 10"),
        (100 * math.log(2) / 784, "not multiply"),
        (0.187, "close, but not within ±0.0005 bits/dim"),
        (1.0, "is not it"),
        (..., "not finished yet"),
    ],
    d.check_beta_equivalence: [
        (0.25, PASS),
        (1 / 4, PASS),
        (torch.tensor(0.2504), PASS),
        (4, "divide the β-objective by β"),
        (-0.25, "keeps its sign"),
        (1, "β ≠ 1 changes the objective"),
        (0.255, "close, but not within ±0.001"),
        (0.5, "is not it"),
        (..., "not finished yet"),
        ([0.25], "must be a number"),
    ],
}
CASES = [
    pytest.param(grader, answer, phrase, id=f"{grader.__name__}-{i}")
    for grader, battery in BATTERIES.items()
    for i, (answer, phrase) in enumerate(battery)
]


@pytest.mark.parametrize(("grader", "answer", "phrase"), CASES)
def test_battery(grader, answer, phrase) -> None:
    verdict = grader(answer)
    exercise = grader.__name__.removeprefix("check_")
    assert verdict.exercise == exercise
    if phrase is PASS:
        assert str(verdict) == f"PASS {exercise}: every check agrees with the reference."
    else:
        (line,) = verdict.problems
        assert phrase in line, line


def test_each_battery_has_ten_answers_right_and_wrong() -> None:
    for grader, battery in BATTERIES.items():
        phrases = [p for _, p in battery]
        assert len(battery) >= 10 and phrases.count(PASS) >= 2, grader.__name__
        assert len(phrases) - phrases.count(PASS) >= 6, grader.__name__


def test_the_edge_of_the_tolerance() -> None:
    """The tolerance the exercise states is inclusive; one step past it fails."""
    item = d.KL_VALUE
    assert d.check_kl_value(item.value + item.tolerance * 0.999).passed
    assert not d.check_kl_value(item.value + item.tolerance * 1.001).passed
