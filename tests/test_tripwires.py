"""A graded answer that hands the work to the package FAILs, by every path to the package.

For each grader: the package's answer reached by its top-level name, its module attribute,
`from ... import`, an alias saved before the grader ran, a bound method, or a package
function that calls it, must FAIL with one line naming the package function. The honest
variants of the batteries (`test_graders.py`) still pass, including those that use what
an exercise allows (`calc_elbo` in chapter 5's step, `model(x)` in chapter 4).
"""

from __future__ import annotations

import math
import re
import sys
import threading
import types

import pytest
import torch
from torch import nn

import vae_tutorial
import vae_tutorial.elbo
import vae_tutorial.evaluate
import vae_tutorial.model
import vae_tutorial.sampling
import vae_tutorial.toy
from vae_tutorial.course import graders as g
from vae_tutorial.course.tripwires import forbidding
from vae_tutorial.elbo import calc_elbo, gaussian_kl, log_mean_exp
from vae_tutorial.model import Posterior, reparameterize
from vae_tutorial.sampling import decode_probs, reconstruct, slerp
from vae_tutorial.toy import LinearGaussian
from vae_tutorial.train import FreeBitsObjective, VAEObjective, train_step

# aliases taken at import time, long before any grader runs
saved_kl = vae_tutorial.elbo.gaussian_kl
saved_slerp = vae_tutorial.sampling.slerp
saved_elbo = vae_tutorial.calc_elbo
saved_posterior = LinearGaussian.posterior


class FakeEncoder(nn.Module):
    """A 'model' whose encoder returns given (mu, logvar) and whose decoder says 0: enough
    for calc_elbo or an objective to compute a KL from it."""

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        super().__init__()
        self.mu, self.logvar = mu, logvar
        self.weight = nn.Parameter(torch.zeros(1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu, self.logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*z.shape[:-1], 1, 28, 28, dtype=z.dtype)


def kl_through_calc_elbo(mu, logvar):
    return calc_elbo(FakeEncoder(mu, logvar), torch.zeros(len(mu), 1, 28, 28)).kl


def free_bits_through_the_objective(kl, lam):
    """Every KL term of FreeBitsObjective is 0.5 mu² at logvar = 0: mu = sqrt(2 kl)."""
    kl = kl.double()  # float32 would round away the floor under the 543-nat constant
    model = FakeEncoder((2 * kl).sqrt(), torch.zeros_like(kl))
    x = torch.zeros(len(kl), 1, 28, 28, dtype=torch.float64)
    loss, _ = FreeBitsObjective(1.0, 0, lam)(model, x, 0)
    return loss - 784 * math.log(2)  # minus the reconstruction term of all-zero logits


def step_with_the_package(model, optimizer, x):
    return -train_step(model, optimizer, VAEObjective(), x, 0)["elbo"]


def step_with_the_objective(model, optimizer, x):
    loss, _ = VAEObjective()(model, x, 0)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def free_bits_step_with_the_objective(model, optimizer, x, free_bits):
    loss, _ = FreeBitsObjective(1.0, 0, free_bits)(model, x, 0)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def elbo_with_the_package_likelihood(model, x):
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    recon = vae_tutorial.elbo.bernoulli_log_likelihood(model.decode(z), x)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)
    return recon - kl, recon, kl


ELBO_FN = "vae_tutorial.elbo.calc_elbo"
DELEGATIONS = [
    # (grader, answer, the package function its FAIL line names)
    (
        g.check_linear_gaussian_posterior,
        lambda m, x: m.posterior(x),
        "toy.LinearGaussian.posterior",
    ),
    (g.check_linear_gaussian_posterior, saved_posterior, "toy.LinearGaussian.posterior"),
    (
        g.check_linear_gaussian_posterior,
        lambda m, x: vae_tutorial.toy.LinearGaussian.posterior(m, x),
        "toy.LinearGaussian.posterior",
    ),
    (g.check_linear_gaussian_elbo, lambda m, x, a, s2: m.elbo(x, a, s2), "LinearGaussian.elbo"),
    (
        g.check_linear_gaussian_elbo,
        lambda m, x, a, s2: m.expected_log_likelihood(x, a, s2) - m.kl_to_prior(a, s2),
        "LinearGaussian.expected_log_likelihood",
    ),
    (g.check_gaussian_kl, vae_tutorial.elbo.gaussian_kl, "vae_tutorial.elbo.gaussian_kl"),
    (g.check_gaussian_kl, lambda mu, lv: gaussian_kl(mu, lv), "vae_tutorial.elbo.gaussian_kl"),
    (g.check_gaussian_kl, lambda mu, lv: saved_kl(mu, lv), "vae_tutorial.elbo.gaussian_kl"),
    (g.check_gaussian_kl, kl_through_calc_elbo, ELBO_FN),
    (g.check_reparameterize, lambda mu, lv: reparameterize(mu, lv), "model.reparameterize"),
    (
        g.check_reparameterize,
        lambda mu, lv: vae_tutorial.model.VAE.sample_posterior(None, Posterior(mu, lv))[0][0],
        "vae_tutorial.model.VAE.sample_posterior",
    ),
    (g.check_calc_elbo, lambda m, x: tuple(vae_tutorial.calc_elbo(m, x)), ELBO_FN),
    (g.check_calc_elbo, lambda m, x: vae_tutorial.elbo.calc_elbo(m, x), ELBO_FN),
    (g.check_calc_elbo, lambda m, x: saved_elbo(m, x), ELBO_FN),
    (g.check_calc_elbo, lambda m, x: vae_tutorial.elbo.model_elbo(m, x), "elbo.model_elbo"),
    (g.check_calc_elbo, elbo_with_the_package_likelihood, "elbo.bernoulli_log_likelihood"),
    (g.check_sample, lambda m, n: vae_tutorial.sample(m, n).mean, "vae_tutorial.sampling.sample"),
    (g.check_sample, lambda m, n: decode_probs(m, torch.randn(n, 4)), "sampling.decode_probs"),
    (
        g.check_sample,
        lambda m, n: torch.sigmoid(m.decode(m.sample_prior(n))),
        "vae_tutorial.model.VAE.sample_prior",
    ),
    (g.check_train_step, step_with_the_package, "vae_tutorial.train.train_step"),
    (g.check_train_step, step_with_the_objective, "vae_tutorial.train.VAEObjective.__call__"),
    (g.check_reconstruct, lambda m, x: reconstruct(m, x), "vae_tutorial.sampling.reconstruct"),
    (g.check_reconstruct, vae_tutorial.reconstruct, "vae_tutorial.sampling.reconstruct"),
    (
        g.check_reconstruct,
        lambda m, x: decode_probs(m, m.encode(x)[0]),
        "vae_tutorial.sampling.decode_probs",
    ),
    (g.check_slerp, slerp, "vae_tutorial.sampling.slerp"),
    (g.check_slerp, lambda a, b, t: saved_slerp(a, b, t), "vae_tutorial.sampling.slerp"),
    (g.check_iwae_estimate, log_mean_exp, "vae_tutorial.elbo.log_mean_exp"),
    (
        g.check_iwae_estimate,
        lambda lw: vae_tutorial.elbo.log_mean_exp(lw, 0),
        "vae_tutorial.elbo.log_mean_exp",
    ),
    (g.check_active_units, vae_tutorial.evaluate.active_units, "evaluate.active_units"),
    (
        g.check_iwae_loss,
        lambda m, x, k: -vae_tutorial.elbo.iwae_bound(m, x, k).mean(),
        "vae_tutorial.elbo.iwae_bound",
    ),
    (
        g.check_iwae_loss,
        lambda m, x, k: -log_mean_exp(vae_tutorial.elbo.log_importance_weights(m, x, k)).mean(),
        "vae_tutorial.elbo.log_importance_weights",
    ),
    (g.check_free_bits, free_bits_through_the_objective, "FreeBitsObjective.__call__"),
    (g.check_free_bits_step, free_bits_step_with_the_objective, "FreeBitsObjective.__call__"),
    (g.check_fixed_train_step, step_with_the_package, "vae_tutorial.train.train_step"),
    (
        g.check_fixed_log_likelihood,
        vae_tutorial.elbo.bernoulli_log_likelihood,
        "vae_tutorial.elbo.bernoulli_log_likelihood",
    ),
]


def test_each_delegation_passes_without_the_tripwires() -> None:
    """The delegations are right answers: without the wires they would score full marks
    (each path is real), so the FAILs below are the wires' doing."""
    for grader, answer, _ in DELEGATIONS:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("vae_tutorial.course.checking.forbidding", _no_wires)
            assert grader(answer).passed, (grader.__name__, answer)


def _no_wires(answers, allowed=()):
    return forbidding((), ())


@pytest.mark.parametrize(
    ("grader", "answer", "reference"),
    DELEGATIONS,
    ids=[f"{grader.__name__}-{i}" for i, (grader, _, _) in enumerate(DELEGATIONS)],
)
def test_a_delegating_answer_fails_naming_the_package_function(grader, answer, reference) -> None:
    verdict = grader(answer)
    assert not verdict.passed
    (line,) = verdict.problems
    assert line.endswith(": this exercise asks you to write it yourself"), line
    called = re.search(r"calls the package's (vae_tutorial\.\S+): ", line)
    assert called and called.group(1).endswith(reference), line


def honest_kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(1)


def test_catching_the_tripwire_gains_nothing() -> None:
    def sly(mu, logvar):
        try:
            return gaussian_kl(mu, logvar)
        except BaseException:
            return honest_kl(mu, logvar)

    (line,) = g.check_gaussian_kl(sly).problems
    assert "calls the package's vae_tutorial.elbo.gaussian_kl" in line


def test_a_function_rebuilt_from_the_reference_code_trips() -> None:
    rebuilt = types.FunctionType(gaussian_kl.__code__, vae_tutorial.elbo.__dict__)
    (line,) = g.check_gaussian_kl(lambda mu, lv: rebuilt(mu, lv)).problems
    assert "vae_tutorial.elbo.gaussian_kl" in line


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_started_by_the_answer_trips() -> None:
    def threaded(mu, logvar):
        out = {}
        worker = threading.Thread(target=lambda: out.setdefault("kl", gaussian_kl(mu, logvar)))
        worker.start()
        worker.join()
        return out.get("kl", honest_kl(mu, logvar))

    (line,) = g.check_gaussian_kl(threaded).problems
    assert "vae_tutorial.elbo.gaussian_kl" in line


def test_switching_the_tracer_off_is_tampering() -> None:
    def untraced(mu, logvar):
        sys.settrace(None)
        return gaussian_kl(mu, logvar)

    before = sys.gettrace()
    (line,) = g.check_gaussian_kl(untraced).problems
    assert line == (
        "gaussian_kl(mu, logvar) switched off the grader's call tracer (sys.settrace): not graded"
    )
    assert sys.gettrace() is before


def test_the_wires_are_down_after_the_grader() -> None:
    """Outside a grader's call of the reader's function, the package works as usual, and the
    tracer that was set before (coverage, a debugger) is back."""
    before = sys.gettrace()
    assert g.check_gaussian_kl(lambda mu, lv: gaussian_kl(mu, lv)).problems
    assert sys.gettrace() is before
    mu = torch.zeros(2, 3)
    assert torch.equal(gaussian_kl(mu, mu), torch.zeros(2))


def test_allowed_functions_may_call_forbidden_ones() -> None:
    """Chapter 5 allows calc_elbo, which calls gaussian_kl; chapter 4 allows model(x), which
    calls reparameterize: both honest answers pass (the batteries hold more)."""

    def step(model, optimizer, x):
        loss = -calc_elbo(model, x).elbo.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    assert g.check_train_step(step).passed

    def elbo_via_forward(model, x):
        logits, mu, logvar = model(x)
        recon = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none"
        ).sum((1, 2, 3))
        kl = honest_kl(mu, logvar)
        return recon - kl, recon, kl

    assert g.check_calc_elbo(elbo_via_forward).passed


def test_the_grader_itself_uses_the_package_outside_the_window() -> None:
    """The grader computes its reference with the package's functions: an honest answer
    passes although the same functions are off limits to the answer."""
    assert g.check_gaussian_kl(honest_kl).passed
    assert g.check_slerp(
        lambda a, b, t: vae_tutorial.sampling.lerp(a, b, t)
    ).problems == [  # lerp is allowed: the verdict is about the path, not the call
        "that is the straight line (lerp); slerp follows the great circle (eq. `slerp`)"
    ]
