"""The graders of the book's exercises, one `check_*` per exercise, chapters 2-10.

Each grader calls the reader's function on inputs chosen so that the usual mistakes give
visibly different numbers (a posterior variance far from 1, log-weights near -500 nats,
end points of unequal length, KL values on both sides of the free-bits floor), compares the
result with the package's reference, and returns a `Verdict`: PASS, or FAIL with one line
per problem that names the mistake and the equation to reread. Graders never raise on the
reader's code (see `checking.py`), hold no random numbers in their verdicts (a notebook
can store and compare them) and never leave a changed model behind.

    chapter 2   check_linear_gaussian_posterior, check_linear_gaussian_elbo
    chapter 3   check_gaussian_kl, check_reparameterize
    chapter 4   check_calc_elbo, check_sample
    chapter 5   check_train_step
    chapter 6   check_reconstruct
    chapter 7   check_slerp
    chapter 8   check_iwae_estimate, check_active_units, check_iwae_loss
    chapter 9   check_free_bits, check_free_bits_step
    chapter 10  check_fixed_train_step, check_fixed_log_likelihood (find the bug)

Next to each grader, its `OwnWork` lists the package functions that answer the exercise
(unreachable while the reader's function runs, `tripwires.py`) and those it allows.
It does not hold the reference implementations: they are the package's own
(`toy`, `elbo`, `model`, `sampling`, `evaluate`, `train`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from ..advanced.objectives import IWAEObjective
from ..elbo import (
    bernoulli_log_likelihood,
    calc_elbo,
    gaussian_kl,
    importance_terms,
    iwae_bound,
    log_importance_weights,
    log_likelihood,
    log_mean_exp,
    model_elbo,
)
from ..evaluate import active_units, evaluate_elbo, evaluate_log_likelihood, kl_per_dimension
from ..model import VAE, gaussian_log_prob, reparameterize
from ..sampling import decode_probs, interpolate, latent_path, lerp, reconstruct, sample, slerp
from ..toy import LinearGaussian
from ..train import FreeBitsObjective, VAEObjective, train, train_epoch, train_step
from .checking import (
    OwnWork,
    StudentError,
    Verdict,
    call,
    call_on_model,
    close,
    diagnose,
    fields,
    grade,
    number,
    tensor,
)

BATCH, LATENT = 8, 4
NOISE_CALLS = 25  # calls of the reader's calc_elbo whose draws of z are pooled
SAMPLE_N = 4000  # images drawn from the reader's sampler
REPARAM_N = 20000  # draws per dimension for the reparameterization statistics
CALC_ELBO_CALL = "calc_elbo(model, x)"  # how the feedback names the reader's function
ELBO_FIELDS = ("elbo", "recon_ll", "kl")  # what it returns, in this order or by these names
TRAIN_LR = 1e-3  # the SGD step of check_train_step (plain SGD: the update shows the loss scale)

# (w, b, sigma, x): no 1s or 0s, so swapped variances and forgotten b show; w is not 2
# (w * 2 = w²) and 1 + w²/σ² is not a float32 number, so float32 answers are told apart.
TOY_CASES = (
    LinearGaussian(1.8, 0.5, 0.7),
    LinearGaussian(-1.3, -0.4, 1.5),
    LinearGaussian(0.7, 1.2, 0.5),
)
TOY_X = (1.7, 0.3, -2.0)


def grader_model(seed: int = 0, logvar_shift: float = -2.0) -> tuple[VAE, Tensor]:
    """A small random VAE whose q(z|x) is far from N(0, I), and 8 random binary images."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = VAE(latent_dim=LATENT)
    with torch.no_grad():  # sigma^2 = exp(-2) is far from sigma and from 1
        model.fc_mu.bias.add_(1.5)
        model.fc_logvar.bias.add_(logvar_shift)
    x = torch.bernoulli(torch.rand(BATCH, 1, 28, 28, generator=gen), generator=gen)
    return model, x


# ---------------------------------------------------------------------------- chapter 2


POSTERIOR_WORK = OwnWork(answers=(LinearGaussian.posterior, LinearGaussian.elbo))


def check_linear_gaussian_posterior(fn: Callable[[LinearGaussian, float], Any]) -> Verdict:
    """Grade `fn(model, x) -> (mean, var)` of p(z|x) for the model of eq. `linear-gaussian`.

    Reference: precision 1 + w^2 / sigma^2, mean = var * w (x - b) / sigma^2.
    """

    def body(problems: list[str]) -> None:
        for model, x in zip(TOY_CASES, TOY_X, strict=True):
            out = call(fn, model, x, name="posterior(model, x)")
            mean, var = (
                number(v, f"the posterior's {n}")
                for n, v in zip(
                    ("mean", "var"), fields(out, ("mean", "var"), "posterior"), strict=True
                )
            )
            ref_mean, ref_var = model.posterior(x)
            w, s2 = model.w, model.sigma**2
            if math.isclose(var, 1 / ref_var, rel_tol=1e-6):
                problems.append(
                    "you returned the precision 1 + w²/σ²: the variance is its "
                    "inverse (eq. `linear-gaussian`)"
                )
            elif math.isclose(var, 1 / (1 + w**2 / model.sigma), rel_tol=1e-6):
                problems.append("the precision is 1 + w²/σ² with the noise *variance* σ², not σ")
            elif not math.isclose(var, ref_var, rel_tol=1e-6):
                problems.append(
                    "the variance does not match 1 / (1 + w²/σ²) (eq. `linear-gaussian`)"
                )
            if math.isclose(mean, ref_var * w * x / s2, rel_tol=1e-6):
                problems.append("subtract the offset b: the mean is var · w (x − b) / σ²")
            elif not math.isclose(mean, ref_mean, rel_tol=1e-6):
                problems.append(
                    "the mean does not match var · w (x − b) / σ² (eq. `linear-gaussian`)"
                )
            if problems:
                return

    return grade("linear_gaussian_posterior", body, POSTERIOR_WORK)


TOY_ELBO_WORK = OwnWork(
    answers=(
        LinearGaussian.elbo,
        LinearGaussian.expected_log_likelihood,
        LinearGaussian.kl_to_prior,
        LinearGaussian.kl_to_posterior,
    )
)


def check_linear_gaussian_elbo(fn: Callable[[LinearGaussian, float, float, float], Any]) -> Verdict:
    """Grade `fn(model, x, m, s2) -> ELBO(q)` for q = N(m, s2), eq. `elbo`, in nats.

    Reference: `LinearGaussian.elbo`, E_q[log N(x; w z + b, sigma^2)] - KL(q || N(0, 1)).
    """

    def body(problems: list[str]) -> None:
        for model, x in zip(TOY_CASES, TOY_X, strict=True):
            # q = N(0.9, 0.3) first: its KL is not 0 and s2 is not 1, so each mistake shows
            for m, s2 in ((0.9, 0.3), (0.0, 1.0), model.posterior(x)):
                got = number(call(fn, model, x, m, s2, name="elbo(model, x, m, s2)"), "the ELBO")
                recon = model.expected_log_likelihood(x, m, s2)
                kl = model.kl_to_prior(m, s2)
                plug_in = recon + 0.5 * model.w**2 * s2 / model.sigma**2
                mistakes = {
                    "ELBO = E_q[log p(x|z)] − KL: you added the KL (eq. `elbo`)": recon + kl,
                    "E_q[(x − b − w z)²] = (x − b − w m)² + w² s2: the w² s2 term is missing "
                    "(you plugged z = m into the likelihood)": plug_in - kl,
                    "s2 is a variance: the KL of N(m, s2) from N(0, 1) is "
                    "(m² + s2 − log s2 − 1)/2 (eq. `kl-gauss`)": recon
                    - model.kl_to_prior(m, s2**2),
                    "that is log p(x), not the ELBO of this q: they agree only when q is the "
                    "exact posterior (eq. `elbo-identity`)": model.log_marginal(x),
                }
                if math.isclose(got, recon - kl, rel_tol=1e-6, abs_tol=1e-9):
                    continue
                line = next(
                    (k for k, v in mistakes.items() if math.isclose(got, v, rel_tol=1e-6)),
                    "the ELBO does not match E_q[log p(x|z)] − KL(q ‖ p(z)) (eq. `elbo`)",
                )
                problems.append(line)
                return

    return grade("linear_gaussian_elbo", body, TOY_ELBO_WORK)


# ---------------------------------------------------------------------------- chapter 3


KL_ANSWERS = (gaussian_kl, kl_per_dimension)
GAUSSIAN_KL_WORK = OwnWork(answers=(*KL_ANSWERS, calc_elbo, model_elbo))


def check_gaussian_kl(fn: Callable[[Tensor, Tensor], Any]) -> Verdict:
    """Grade `fn(mu, logvar) -> (B,)`: KL(N(mu, exp(logvar)) || N(0, I)), eq. `kl-gauss`."""

    def body(problems: list[str]) -> None:
        gen = torch.Generator().manual_seed(0)
        mu = 1.5 * torch.randn(5, 3, generator=gen)
        logvar = torch.rand(5, 3, generator=gen) * 3.5 - 2.0  # in [-2, 1.5]
        out = call(fn, mu.clone(), logvar.clone(), name="gaussian_kl(mu, logvar)")
        kl = tensor(out, "the KL", (5,), per_example=True)
        ref = gaussian_kl(mu, logvar).double()
        mistakes = {
            "the KL has the wrong sign: KL(q ‖ p) ≥ 0 (eq. `kl-gauss`)": -ref,
            "sum the KL over the latent dimensions, do not average them": ref / 3,
            "the KL has a factor 1/2 (eq. `kl-gauss`)": 2 * ref,
            "logvar is log σ², not log σ: σ² = exp(logvar) (eq. `kl-gauss`)": 0.5
            * (mu.pow(2) + (2 * logvar).exp() - 2 * logvar - 1).sum(1).double(),
            "the '− 1' of each dimension is missing (eq. `kl-gauss`)": ref + 1.5,
        }
        line = diagnose(kl, ref, mistakes, "the KL does not match eq. `kl-gauss`")
        if line:
            problems.append(line)

    return grade("gaussian_kl", body, GAUSSIAN_KL_WORK)


REPARAM_ANSWERS = (reparameterize, VAE.sample_posterior, VAE.forward)
REPARAMETERIZE_WORK = OwnWork(answers=REPARAM_ANSWERS)


def check_reparameterize(fn: Callable[[Tensor, Tensor], Any]) -> Verdict:
    """Grade `fn(mu, logvar) -> z (B, D)`: z = mu + exp(logvar / 2) * eps, eq. `reparam`.

    Checks the draws' statistics over 20000 rows and, against an autograd Jacobian, that
    dz/dmu = 1 and dz/dlogvar = (z - mu) / 2, which holds only for the reparameterized form.
    """

    def body(problems: list[str]) -> None:
        mu0 = torch.tensor([1.5, -0.7, 0.2])
        logvar0 = torch.tensor([-2.0, 0.8, -0.5])
        mu = mu0.expand(REPARAM_N, 3).clone().requires_grad_(True)
        logvar = logvar0.expand(REPARAM_N, 3).clone().requires_grad_(True)
        torch.manual_seed(0)
        raw = call(fn, mu, logvar, name="reparameterize(mu, logvar)")
        z = tensor(raw, "z", (REPARAM_N, 3))
        sigma = (0.5 * logvar0).exp().double()
        if (z - mu0.double()).abs().max() < 1e-6:
            problems.append(
                "z = mu: the noise is missing; z = mu + σ · eps, eps ~ N(0, I) (eq. `reparam`)"
            )
            return
        eps = (z - mu0.double()) / sigma  # (N, 3)
        if (eps[1:] - eps[:1]).abs().max() < 1e-9:
            problems.append(
                "every row got the same noise: draw eps of mu's shape (torch.randn_like(mu))"
            )
            return
        ratio = eps.std(0)
        if close(ratio, (0.5 * logvar0).exp().double(), rtol=0.05):
            problems.append(
                "exp(logvar) is the variance σ²: the standard deviation is "
                "σ = exp(logvar / 2) (eq. `reparam`)"
            )
            return
        if ((ratio - 1).abs() > 0.05).any() or (eps.mean(0).abs() > 0.05).any():
            problems.append("z does not follow N(mu, σ²) with σ = exp(logvar / 2) (eq. `reparam`)")
            return
        if not isinstance(raw, Tensor) or not raw.requires_grad:
            problems.append(
                "z carries no gradient to mu and logvar: compute z = mu + σ · eps "
                "from them, not with torch.normal or .detach() (eq. `reparam`)"
            )
            return
        g_mu, g_logvar = torch.autograd.grad(raw.sum(), (mu, logvar), allow_unused=True)
        want = 0.5 * (raw.detach() - mu.detach())  # dz/dlogvar of eq. reparam, per element
        if g_mu is None or not close(g_mu, torch.ones_like(g_mu)):
            problems.append("dz/dmu must be 1: z = mu + σ · eps (eq. `reparam`)")
        if g_logvar is None or not close(g_logvar, want, rtol=1e-3, atol=1e-5):
            problems.append(
                "dz/dlogvar must be σ · eps / 2: the noise has to be multiplied "
                "by σ = exp(logvar / 2) inside the graph (eq. `reparam`)"
            )

    return grade("reparameterize", body, REPARAMETERIZE_WORK)


# ---------------------------------------------------------------------------- chapter 4


@contextmanager
def _decoded_z(model: VAE) -> Iterator[list[Tensor]]:
    """Record every z that `model` decodes while the block runs (an instance attribute
    shadows the method, and is removed at the end)."""
    seen: list[Tensor] = []
    decode = model.decode

    def recording_decode(z: Tensor) -> Tensor:
        seen.append(z.detach())
        return decode(z)

    model.decode = recording_decode  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del model.decode


def _elbo_terms(fn: Callable, model: VAE, x: Tensor, restore: bool = True) -> tuple[Any, ...]:
    """The reader's (elbo, recon_ll, kl) of `x`, as returned; `restore`: the model is put
    back as it was (a change is a FAIL), else left as the call leaves it."""
    run = call_on_model if restore else call
    return fields(run(fn, model, x, name=CALC_ELBO_CALL), ELBO_FIELDS, CALC_ELBO_CALL)


def _saturated(model: VAE) -> VAE:
    """A copy of `model` whose decoder says "ink" with logit 100 at every pixel."""
    big = copy.deepcopy(model)
    last = big.decoder_conv[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(100.0)
    return big


ELBO_ANSWERS = (
    calc_elbo,
    model_elbo,
    evaluate_elbo,
    bernoulli_log_likelihood,
    importance_terms,
    log_importance_weights,
    iwae_bound,
    VAEObjective.__call__,
    FreeBitsObjective.__call__,
    IWAEObjective.__call__,
)
# model(x) draws z with the reparameterization trick: the exercise allows it.
CALC_ELBO_WORK = OwnWork(
    answers=(*ELBO_ANSWERS, *KL_ANSWERS, reparameterize, VAE.sample_posterior),
    allowed=(VAE.forward,),
)


def check_calc_elbo(fn: Callable[[VAE, Tensor], Any]) -> Verdict:
    """Grade `fn(model, x) -> (elbo, recon_ll, kl)`, each (B,) in nats, against eq. `elbo`.

    The KL is compared with eq. `kl-gauss`; the reconstruction term with the Bernoulli
    log-likelihood (eq. `bernoulli-likelihood`) of the very z the function decoded; those
    z, pooled over 25 calls, must be mu + sigma * eps with eps ~ N(0, I) (eq. `reparam`).
    The test model's sigma^2 = e^-2 makes z = mu and sigma = exp(logvar) fail.
    """

    def body(problems: list[str]) -> None:
        model, x = grader_model()
        torch.manual_seed(1)
        with _decoded_z(model) as seen:
            terms = _elbo_terms(fn, model, x)
        elbo, recon, kl = (
            tensor(t, f"the {n}", (BATCH,), per_example=True)
            for n, t in zip(ELBO_FIELDS, terms, strict=True)
        )

        with torch.no_grad():
            mu, logvar = model.encode(x)  # (B, D)
        ref_kl = gaussian_kl(mu, logvar).double()
        line = diagnose(
            kl,
            ref_kl,
            {
                "the KL has the wrong sign: KL(q ‖ p) ≥ 0 (eq. `kl-gauss`)": -ref_kl,
                "sum the KL over the latent dimensions instead of averaging them": ref_kl / LATENT,
                "logvar is log σ², not log σ: σ² = exp(logvar) (eq. `kl-gauss`)": 0.5
                * (mu.pow(2) + (2 * logvar).exp() - 2 * logvar - 1).sum(1).double(),
            },
            "the KL does not match the closed form of eq. `kl-gauss`",
        )
        if line:
            problems.append(line)
        if close(elbo, recon + kl) and not close(kl, torch.zeros_like(kl)):
            problems.append("ELBO = reconstruction − KL (eq. `elbo`); you added the KL")
        elif not close(elbo, recon - kl):
            problems.append("elbo must equal recon_ll − kl (eq. `elbo`)")

        if not seen:
            problems.append("decode a z with model.decode(z) (or model(x))")
            return
        z = seen[-1]  # (..., B, D)
        with torch.no_grad():
            expected = bernoulli_log_likelihood(model.decode(z), x)
            expected = expected.reshape(-1, BATCH).mean(0).double()  # (B,)
        line = diagnose(
            recon,
            expected,
            {
                "sum log p(x|z) over the 784 pixels; averaging divides it by 784": expected / 784,
                "log p(x|z) is minus the binary cross-entropy: the sign is flipped": -expected,
            },
            "log p(x|z) does not match the Bernoulli log-likelihood of eq. "
            "`bernoulli-likelihood` at the z you decoded",
        )
        if line:
            problems.append(line)

        problems.extend(_noise_problems(fn, model, x, mu, logvar))
        problems.extend(_underflow_problems(fn, model, x))
        problems.extend(_gradient_problems(fn, model, x))

    return grade("calc_elbo", body, CALC_ELBO_WORK)


def _noise_problems(fn: Callable, model: VAE, x: Tensor, mu: Tensor, logvar: Tensor) -> list[str]:
    """The decoded z, standardized with the reference mu and sigma, must look like N(0, I)."""
    draws = []
    torch.manual_seed(4)
    with torch.no_grad(), _decoded_z(model) as seen:
        for _ in range(NOISE_CALLS):
            _elbo_terms(fn, model, x)
            draws.append(seen[-1].reshape(-1, BATCH, LATENT))
    z = torch.cat(draws).double()  # (calls * S, B, D)
    eps = (z - mu.double()) / (0.5 * logvar.double()).exp()
    if eps.std() < 0.05:
        return [
            "z = mu: the noise is missing; draw z = mu + σ · eps with eps ~ N(0, I) (eq. `reparam`)"
        ]
    if abs(((z - mu.double()) / logvar.double().exp()).std().item() - 1) < 0.15:
        return [
            "exp(logvar) is the variance σ²: the standard deviation is σ = exp(logvar / 2) "
            "(eq. `reparam`)"
        ]
    if abs(eps.std().item() - 1) > 0.15 or abs(eps.mean().item()) > 0.15:
        return ["z must be a draw from q(z|x) = N(mu, σ²): z = mu + σ · eps (eq. `reparam`)"]
    return []


def _underflow_problems(fn: Callable, model: VAE, x: Tensor) -> list[str]:
    torch.manual_seed(2)
    recon = _elbo_terms(fn, _saturated(model), torch.zeros_like(x))[1]
    if isinstance(recon, Tensor) and not torch.isfinite(recon).all():
        return [
            "log p(x|z) is −inf for confident pixels: sigmoid(logits) underflows to 0 "
            "(or 1 − sigmoid to 0) and log(0) = −inf; compute it from logits with "
            "F.binary_cross_entropy_with_logits, never as log(sigmoid(logits))"
        ]
    return []


def _gradient_problems(fn: Callable, model: VAE, x: Tensor) -> list[str]:
    """Differentiate the reconstruction term alone: it must reach fc_mu and fc_logvar
    (torch.normal's gradients are zeros, a detached z's are None)."""
    torch.manual_seed(3)
    recon = _elbo_terms(fn, model, x, restore=False)[1]  # (B,), checked by the caller
    weights = (model.fc_mu.weight, model.fc_logvar.weight)
    grads = (
        torch.autograd.grad(recon.sum(), weights, allow_unused=True)
        if recon.requires_grad
        else (None, None)
    )
    if any(g is None or g.abs().sum() == 0 for g in grads):
        return [
            "no gradient reaches the encoder's mu and logvar through log p(x|z): draw "
            "z = mu + σ · eps from them (the reparameterization trick, eq. `reparam`), "
            "not with torch.normal, .detach() or under torch.no_grad()"
        ]
    return []


SAMPLE_WORK = OwnWork(answers=(sample, decode_probs, VAE.sample_prior, interpolate))


def check_sample(fn: Callable[[VAE, int], Any]) -> Verdict:
    """Grade `fn(model, n) -> (n, 1, 28, 28)`: Bernoulli means of z ~ N(0, I).

    The reference is eq. `generative-model`: z from the prior, then the decoder.
    """

    def body(problems: list[str]) -> None:
        model, _ = grader_model()
        used_encoder: list[bool] = []
        encode = model.encode

        def trap_encode(x: Tensor) -> tuple[Tensor, Tensor]:
            used_encoder.append(True)
            return encode(x)

        model.encode = trap_encode  # type: ignore[method-assign]
        torch.manual_seed(5)
        with torch.no_grad(), _decoded_z(model) as seen:
            out = call_on_model(fn, model, SAMPLE_N, name="sample(model, n)")
        if used_encoder:
            problems.append(
                "sampling needs no encoder: draw z from the prior N(0, I), "
                "not from q(z|x) (eq. `generative-model`)"
            )
        images = tensor(out, "the batch of samples", (SAMPLE_N, 1, 28, 28))
        if images.min() < 0 or images.max() > 1:
            problems.append("return probabilities: apply torch.sigmoid to the decoder's logits")
        elif set(images.unique().tolist()) <= {0.0, 1.0}:
            problems.append("return the Bernoulli means sigmoid(logits), not binary draws")
        if not seen:
            problems.append("decode z with model.decode(z)")
            return
        z = torch.cat([s.reshape(-1, LATENT) for s in seen])
        if (z.mean(0).abs() > 0.1).any() or ((z.std(0) - 1).abs() > 0.1).any():
            problems.append(
                "z must follow the prior N(0, I): torch.randn(n, model.latent_dim) "
                "(eq. `generative-model`)"
            )

    return grade("sample", body, SAMPLE_WORK)


# ---------------------------------------------------------------------------- chapter 5


def _flat(model: VAE) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()


def _rel(a: Tensor, b: Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def _sgd_steps(model: VAE, x: Tensor, loss_of: Callable[[VAE, Tensor], Tensor]) -> list:
    """[(loss, parameter change)] of two plain SGD steps on loss_of(copy, x), from `model`."""
    ref = copy.deepcopy(model)
    optimizer = torch.optim.SGD(ref.parameters(), lr=TRAIN_LR)
    steps = []
    for _ in range(2):
        before = _flat(ref)
        loss = loss_of(ref, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps.append((loss.item(), _flat(ref) - before))
    return steps


def _reader_step(
    fn: Callable[..., Any], model: VAE, args: tuple[Any, ...], name: str, seed: int
) -> tuple[float, Tensor]:
    """The loss the reader's step `fn(model, *args)` returns and the parameter change it made."""
    before = _flat(model)
    torch.manual_seed(seed)
    got = number(call(fn, model, *args, name=name), "the returned loss")
    delta = _flat(model) - before
    if delta.abs().max() == 0:
        raise StudentError(
            "the parameters did not change: call optimizer.step() after loss.backward()"
        )
    return got, delta


ZERO_GRAD = "gradients accumulate across steps: call optimizer.zero_grad() before loss.backward()"


def _accumulates(step: int, delta: Tensor, ref_steps: list) -> bool:
    """Whether the reader's second update is the sum of the reference's two."""
    return step == 1 and _rel(delta, ref_steps[0][1] + ref_steps[1][1]) < 1e-2


# The exercise says: vae_tutorial.calc_elbo gives the per-image terms.
TRAIN_STEP_WORK = OwnWork(
    answers=(train_step, train_epoch, train, *ELBO_ANSWERS),
    allowed=(calc_elbo, model_elbo),
)


def check_train_step(fn: Callable[[VAE, torch.optim.Optimizer, Tensor], Any]) -> Verdict:
    """Grade `fn(model, optimizer, x) -> loss`: one step on -mean_b ELBO_b, eq. `elbo`.

    Two steps of plain SGD from the same weights are compared with the reference (zero
    the gradients, backpropagate the batch-mean negative ELBO, step). The test model's
    sigma is about 3e-7, so the draw of z cannot change the update.
    """
    return _train_step_verdict(fn, "train_step")


def _train_step_verdict(fn: Callable[..., Any], exercise: str) -> Verdict:
    """check_train_step's checks, for the exercise named `exercise` (chapters 5 and 10)."""

    def body(problems: list[str]) -> None:
        model, x = grader_model(logvar_shift=-30.0)
        ref_steps = _sgd_steps(model, x, lambda m, x: -calc_elbo(m, x).elbo.mean())
        mine = copy.deepcopy(model)
        opt = torch.optim.SGD(mine.parameters(), lr=TRAIN_LR)
        name = f"{exercise}(model, optimizer, x)"
        for step, (ref_loss, ref_delta) in enumerate(ref_steps):
            got, delta = _reader_step(fn, mine, (opt, x), name, seed=10 + step)
            if math.isclose(got, -ref_loss, rel_tol=1e-4):
                problems.append(
                    "minimize the negative ELBO: loss = −elbo.mean(); minimizing the "
                    "ELBO itself makes the model worse (eq. `elbo`)"
                )
                return
            if (
                math.isclose(got, BATCH * ref_loss, rel_tol=1e-4)
                or _rel(delta, BATCH * ref_delta) < 1e-2
            ):
                problems.append(
                    "average the negative ELBO over the batch (.mean()), do not sum "
                    "it: the step size would grow with the batch size"
                )
                return
            if _accumulates(step, delta, ref_steps):
                problems.append(ZERO_GRAD)
                return
            if not math.isclose(got, ref_loss, rel_tol=1e-4):
                problems.append(
                    "return the loss of the batch before the update: −mean ELBO "
                    f"(expected {ref_loss:.2f}, got {got:.2f} nats)"
                )
                return
            if _rel(delta, ref_delta) > 1e-2:
                problems.append(
                    "the update differs from one step of the given optimizer on "
                    "−elbo.mean(): zero the gradients, backpropagate, step"
                )
                return

    return grade(exercise, body, TRAIN_STEP_WORK)


# ---------------------------------------------------------------------------- chapter 6


RECONSTRUCT_WORK = OwnWork(answers=(reconstruct, decode_probs, interpolate))


def check_reconstruct(fn: Callable[[VAE, Tensor], Any]) -> Verdict:
    """Grade `fn(model, x) -> (B, 1, 28, 28)`: Bernoulli means sigmoid(decode(mu(x)))."""

    def body(problems: list[str]) -> None:
        model, x = grader_model(logvar_shift=1.0)

        def reconstruction() -> Tensor:
            out = call_on_model(fn, model, x, name="reconstruct(model, x)")
            return tensor(out, "the reconstruction", (BATCH, 1, 28, 28))

        images = reconstruction()
        torch.manual_seed(7)
        again = reconstruction()
        ref = reconstruct(model, x, use_mean=True).double()
        with torch.no_grad():
            logits = model.decode(model.encode(x)[0]).double()
        if close(images, logits):
            problems.append("return probabilities: apply torch.sigmoid to the decoder's logits")
        elif set(images.unique().tolist()) <= {0.0, 1.0}:
            problems.append("return the Bernoulli means sigmoid(logits), not binary draws")
        elif not close(images, again):
            problems.append(
                "decode the posterior mean mu, not a draw z ~ q(z|x): the "
                "reconstruction should not change between calls"
            )
        elif not close(images, ref):
            problems.append(
                "the reconstruction is sigmoid(decode(mu)) with mu from model.encode(x)"
            )

    return grade("reconstruct", body, RECONSTRUCT_WORK)


# ---------------------------------------------------------------------------- chapter 7


# The straight line of the parallel case may be the package's lerp.
SLERP_WORK = OwnWork(answers=(slerp, latent_path, interpolate), allowed=(lerp,))


def check_slerp(fn: Callable[[Tensor, Tensor, Tensor], Any]) -> Verdict:
    """Grade `fn(z_a, z_b, t) -> (T, D)` against eq. `slerp`, with lerp when parallel."""

    def body(problems: list[str]) -> None:
        z_a = torch.tensor([2.0, 0.5, -1.0, 0.3, 1.2])
        z_b = torch.tensor([-0.8, 3.0, 1.6, -1.2, 0.2])  # z_a . z_b = -1.82
        t = torch.tensor([0.0, 0.1, 0.35, 0.5, 0.8, 1.0])
        name = "slerp(z_a, z_b, t)"
        raw = call(fn, z_a.clone(), z_b.clone(), t.clone(), name=name)
        if isinstance(raw, Tensor) and raw.shape == (6, 5) and not torch.isfinite(raw).all():
            problems.append(
                "NaN: compute the angle of the unit vectors, cos ω = z_a·z_b / "
                "(|z_a| |z_b|), and clamp it to [−1, 1] before arccos"
            )
            return
        path = tensor(raw, "the path", (6, 5))
        ref = slerp(z_a, z_b, t).double()
        unit = slerp(z_a / z_a.norm(), z_b / z_b.norm(), t).double()
        line = diagnose(
            path,
            ref,
            {
                "that is the straight line (lerp); slerp follows the great circle "
                "(eq. `slerp`)": lerp(z_a, z_b, t).double(),
                "t = 0 must give z_a and t = 1 must give z_b: the weights are swapped": slerp(
                    z_b, z_a, t
                ).double(),
                "use the unit vectors for the angle only: the path goes through z_a and z_b "
                "themselves (eq. `slerp`)": unit,
            },
            "the path does not match eq. `slerp`",
        )
        if line:
            problems.append(line)
            return
        z_p = torch.tensor([0.0, 1.5, 0.0, 0.0, 0.0])  # the angle to 2 z_p is exactly 0
        parallel = call(fn, z_p.clone(), 2 * z_p, t.clone(), name=name)
        if not isinstance(parallel, Tensor) or not torch.isfinite(parallel).all():
            problems.append(
                "for parallel z_a and z_b sin ω = 0: fall back to the straight line "
                "(lerp) when sin ω is tiny instead of dividing by zero"
            )
            return
        parallel = tensor(parallel, "the path between parallel vectors", (6, 5))
        if not close(parallel, lerp(z_p, 2 * z_p, t).double()):
            problems.append("between parallel vectors the path is the straight line (lerp)")

    return grade("slerp", body, SLERP_WORK)


# ---------------------------------------------------------------------------- chapter 8


IWAE_WORK = OwnWork(
    answers=(
        log_mean_exp,
        iwae_bound,
        log_likelihood,
        evaluate_log_likelihood,
        IWAEObjective.__call__,
    )
)


def check_iwae_estimate(fn: Callable[[Tensor], Any]) -> Verdict:
    """Grade `fn(log_w (K, B)) -> (B,)`: log (1/K) sum_k w_k, eq. `iwae`, computed stably.

    The log-weights are near -500 nats, as for an MNIST image, where exp() underflows.
    """

    def body(problems: list[str]) -> None:
        gen = torch.Generator().manual_seed(0)
        log_w = -500.0 + 3.0 * torch.randn(5, 3, generator=gen)  # (K, B), K != B
        raw = call(fn, log_w.clone(), name="iwae_estimate(log_w)")
        if isinstance(raw, Tensor) and raw.shape == (3,) and torch.isinf(raw).any():
            problems.append(
                "exp(log w) underflows to 0 at −500 nats, and log(0) = −inf: use "
                "torch.logsumexp (eq. `iwae`)"
            )
            return
        if isinstance(raw, Tensor) and raw.shape == (5,):
            problems.append("average over the K draws (dim 0), keep one value per image")
            return
        est = tensor(raw, "the estimate", (3,), per_example=True)
        ref = log_mean_exp(log_w.double())
        line = diagnose(
            est,
            ref,
            {
                "that is the mean of log w, the ELBO estimate (L_1); the IWAE bound is the log "
                "of the mean of the weights (eq. `iwae`)": log_w.double().mean(0),
                "subtract log K: the bound averages the K weights, it does not sum them "
                "(eq. `iwae`)": ref + math.log(5),
                "max_k log w_k is not the log of the mean weight (eq. `iwae`)": log_w.double().amax(
                    0
                ),
            },
            "the estimate does not match log (1/K) Σ_k w_k (eq. `iwae`)",
        )
        if line:
            problems.append(line)

    return grade("iwae_estimate", body, IWAE_WORK)


ACTIVE_UNITS_WORK = OwnWork(answers=(active_units,))


def check_active_units(fn: Callable[[Tensor, float], Any]) -> Verdict:
    """Grade `fn(mu (N, D), threshold) -> (D,) bool`: Var_x(E_q[z_u|x]) > threshold.

    The test means have variances 2, 0.5, 0.05, 0.005 and 1e-6 around offsets of a few
    units, so a standard deviation, an uncentred second moment or a fixed threshold all fail.
    """

    def body(problems: list[str]) -> None:
        gen = torch.Generator().manual_seed(0)
        noise = torch.randn(400, 5, generator=gen)
        noise = (noise - noise.mean(0)) / noise.std(0)  # exact unit variance per column
        offset = torch.tensor([3.0, -2.0, 0.5, 1.0, -1.0])
        mu = offset + noise * torch.tensor([2.0, 0.5, 0.05, 0.005, 1e-6]).sqrt()  # (N, D)
        for threshold in (0.01, 0.3):
            raw = call(fn, mu.clone(), threshold, name="active_units(mu, threshold)")
            if isinstance(raw, int | float) or (isinstance(raw, Tensor) and raw.dim() == 0):
                problems.append(
                    "return the (D,) boolean mask, one entry per dimension, "
                    "not the number of active units"
                )
                return
            if isinstance(raw, Tensor) and raw.shape == (400,):
                problems.append(
                    "take the variance over the N images (dim 0), one value per latent dimension"
                )
                return
            mask = tensor(raw, "the mask", (5,)) > 0.5
            ref = active_units(mu, threshold)
            if torch.equal(mask, ref):
                continue
            if torch.equal(mask, mu.std(0) > threshold):
                problems.append(
                    "compare the variance with the threshold, not the standard "
                    "deviation (Burda et al. 2016)"
                )
            elif torch.equal(mask, mu.pow(2).mean(0) > threshold):
                problems.append(
                    "the variance subtracts the mean over images: Var_x(E_q[z_u|x]), not E_x[mu²]"
                )
            elif torch.equal(mask, active_units(mu, 0.01)):  # the mask of a fixed 0.01
                problems.append("use the threshold argument instead of a fixed 0.01")
            else:
                problems.append("a unit is active when Var_x(E_q[z_u|x]) > threshold")
            return

    return grade("active_units", body, ACTIVE_UNITS_WORK)


IWAE_K = 5  # draws per image in check_iwae_loss (K != BATCH, so a wrong axis shows)
# The pieces of eq. `iwae` may be used; the package's bound and its log-mean-exp may not.
IWAE_LOSS_WORK = OwnWork(
    answers=(*IWAE_WORK.answers, importance_terms, log_importance_weights, calc_elbo, model_elbo),
    allowed=(bernoulli_log_likelihood, reparameterize, VAE.sample_posterior, VAE.log_prior),
)


def _iwae_reference(model: VAE, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    """-mean_b log (1/K) sum_k w_bk at the reader's draws z (K, B, D), with gradients
    through z = mu + sigma eps (eps read back from z), and the log-weights (K, B)."""
    mu, logvar = model.encode(x)  # (B, D)
    eps = ((z - mu) / torch.exp(0.5 * logvar)).detach()  # (K, B, D)
    z = mu + torch.exp(0.5 * logvar) * eps  # the same draws, differentiable in mu and logvar
    log_w = (
        bernoulli_log_likelihood(model.decode(z), x)
        + model.log_prior(z)
        - gaussian_log_prob(z, mu, logvar)
    )  # (K, B), eq. iwae
    return -log_mean_exp(log_w.double()).mean(), log_w.detach().double()


def check_iwae_loss(fn: Callable[[VAE, Tensor, int], Any]) -> Verdict:
    """Grade `fn(model, x, k) -> loss`: -mean_b log (1/k) sum_k w_bk, eq. `iwae`, with its gradient.

    The loss is compared with the reference at the very z the function decoded (log-weights
    near -550 nats, where exp underflows in float32), and its gradients with respect to the
    encoder's and decoder's weights with autograd's gradients of the reference.
    """

    def body(problems: list[str]) -> None:
        model, x = grader_model()
        before = _flat(model)
        torch.manual_seed(6)
        with _decoded_z(model) as seen:  # not call_on_model: restoring the weights in place
            raw = call(fn, model, x, IWAE_K, name="iwae_loss(model, x, k)")  # cuts the graph
        if not torch.equal(_flat(model), before):
            raise StudentError(
                "iwae_loss(model, x, k) changed the model's parameters: it must only compute "
                "the loss (no optimizer step)"
            )
        if isinstance(raw, Tensor) and raw.numel() == 1 and not torch.isfinite(raw).all():
            problems.append(
                "the loss is infinite or NaN: exp(log w) underflows to 0 at −550 nats; "
                "average the weights with torch.logsumexp(log_w, 0) − log k (eq. `iwae`)"
            )
            return
        if not isinstance(raw, Tensor) or raw.numel() != 1:
            raise StudentError(
                "return the loss as a one-element tensor (the mean over the batch), so that "
                f"loss.backward() works; got {type(raw).__name__}"
                + (f" of shape {tuple(raw.shape)}" if isinstance(raw, Tensor) else "")
            )
        if not seen:
            problems.append("decode the k draws with model.decode(z)")
            return
        z = torch.cat([s.reshape(-1, BATCH, LATENT) for s in seen])  # (K, B, D)
        if len(z) != IWAE_K:
            problems.append(f"draw k = {IWAE_K} codes per image from q(z|x), got {len(z)}")
            return
        ref, log_w = _iwae_reference(model, x, z)
        got = raw.double().reshape(())
        mistakes = {
            "that is the ELBO estimate (the mean of log w); the IWAE bound is the log of the "
            "mean weight (eq. `iwae`)": -log_w.mean(0).mean(),
            "subtract log k: the bound averages the k weights (eq. `iwae`)": -torch.logsumexp(
                log_w, 0
            ).mean(),
            "average over the k draws (dim 0) inside the log, then over the batch": -(
                torch.logsumexp(log_w, 1) - math.log(BATCH)
            ).mean(),
            "average the bound over the batch (.mean()), do not sum it": BATCH * ref.detach(),
            "minimize the negative bound: loss = −mean_b L_k": -ref.detach(),
        }
        wrong = "the loss does not match −mean_b log (1/k) Σ_k w_bk (eq. `iwae`)"
        line = diagnose(
            got.reshape(1),
            ref.detach().reshape(1),
            {k: v.reshape(1) for k, v in mistakes.items()},
            wrong,
        )
        if line:
            problems.append(line)
            return
        weights = (model.fc_mu.weight, model.fc_logvar.weight, model.decoder_conv[-1].weight)
        if not raw.requires_grad:
            problems.append("the loss carries no gradient: keep it in the graph (no .item())")
            return
        grads = torch.autograd.grad(raw, weights, allow_unused=True)
        ref_grads = torch.autograd.grad(ref, weights)
        for name, g, r in zip(("fc_mu", "fc_logvar", "decoder"), grads, ref_grads, strict=True):
            if g is None or not close(g, r, rtol=1e-3, atol=1e-5):
                problems.append(
                    f"the gradient to {name} differs from the bound's: draw z = mu + σ · eps "
                    "inside the graph (eq. `reparam`) and keep log q(z|x) a function of mu "
                    "and logvar"
                )
                return

    return grade("iwae_loss", body, IWAE_LOSS_WORK)


# ---------------------------------------------------------------------------- chapter 9


FREE_BITS_WORK = OwnWork(answers=(FreeBitsObjective.__call__,))


def check_free_bits(fn: Callable[[Tensor, float], Any]) -> Verdict:
    """Grade `fn(kl (B, D), free_bits) -> scalar`: sum_j max(lambda, mean_b KL_bj), eq. `free-bits`.

    The test KLs put one dimension above the floor, one below it, and one whose batch mean
    is above it while some of its examples are below, so clamping per example shows.
    """

    def body(problems: list[str]) -> None:
        kl = torch.tensor(
            [
                [2.0, 0.1, 0.9, 0.01],
                [1.5, 0.2, 0.1, 0.02],
                [2.5, 0.0, 1.4, 0.00],
                [1.0, 0.3, 0.2, 0.05],
                [1.75, 0.15, 0.65, 0.02],  # B = 5, D = 4: a mean over the wrong axis shows
            ]
        )
        per_dim = kl.double().mean(0)  # (D,) batch means: 1.75, 0.15, 0.65, 0.02 nats
        floors = (0.5, 0.25, 3.0)  # 3.0 is above the total KL, so a floor on the total shows
        got = []
        for free_bits in floors:
            raw = call(fn, kl.clone(), free_bits, name="free_bits_kl(kl, free_bits)")
            if isinstance(raw, Tensor) and raw.shape == (4,):
                problems.append(
                    "sum the floored KL over the latent dimensions: one number (eq. `free-bits`)"
                )
                return
            got.append(number(raw, "the free-bits KL"))

        def each(rule: Callable[[float], Tensor]) -> list[float]:
            return [rule(lam).item() for lam in floors]

        mistakes = {
            "floor each dimension's batch mean, not each example: max(λ, mean_b KL_bj) "
            "(eq. `free-bits`)": each(lambda lam: kl.double().clamp_min(lam).mean(0).sum()),
            "the floor applies per latent dimension, not to the total KL (eq. `free-bits`)": each(
                lambda lam: per_dim.sum().clamp_min(lam)
            ),
            "there is no floor: each dimension costs at least λ nats (eq. `free-bits`)": each(
                lambda lam: per_dim.sum()
            ),
            "free bits is a floor: max(λ, ·), not min (eq. `free-bits`)": each(
                lambda lam: per_dim.clamp_max(lam).sum()
            ),
            "average the KL over the batch before the floor, do not sum it": each(
                lambda lam: kl.double().sum(0).clamp_min(lam).sum()
            ),
            "use the free_bits argument as the floor λ": each(
                lambda lam: per_dim.clamp_min(0.5).sum()
            ),
        }

        def same(values: list[float]) -> bool:
            return all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(got, values, strict=True))

        if not same(each(lambda lam: per_dim.clamp_min(lam).sum())):
            problems.append(
                next(
                    (line for line, values in mistakes.items() if same(values)),
                    "the result does not match Σ_j max(λ, mean_b KL_bj) (eq. `free-bits`)",
                )
            )

    return grade("free_bits", body, FREE_BITS_WORK)


# The building blocks of chapters 3-5 may be used; the free-bits objective and the
# training loop may not.
FREE_BITS_STEP_WORK = OwnWork(
    answers=(FreeBitsObjective.__call__, *ELBO_ANSWERS, train_step, train_epoch, train),
    allowed=(calc_elbo, gaussian_kl, bernoulli_log_likelihood, reparameterize, VAE.forward),
)


def _free_bits_floor(model: VAE, x: Tensor) -> float:
    """A floor lambda above the batch-mean KL of the dimension whose examples spread most,
    but below some of its examples' KLs: flooring examples instead of the mean shows."""
    with torch.no_grad():
        mu, logvar = model.encode(x)
        kl = gaussian_kl(mu[..., None], logvar[..., None])  # (B, D) nats
    j = int(kl.std(0).argmax())
    return float(kl[:, j].mean() + 0.25 * kl[:, j].std())


def check_free_bits_step(fn: Callable[[VAE, torch.optim.Optimizer, Tensor, float], Any]) -> Verdict:
    """Grade `fn(model, optimizer, x, free_bits) -> loss`: one step on the free-bits loss.

    Loss = -mean_b log p(x_b|z_b) + sum_j max(lambda, mean_b KL_bj), eq. `free-bits`, the
    package's FreeBitsObjective with beta = 1. Two plain SGD steps are compared with the
    reference and with the usual mistakes; sigma is about 3e-7, so the draw of z does not
    change the update.
    """

    def body(problems: list[str]) -> None:
        model, x = grader_model(logvar_shift=-30.0)
        lam = _free_bits_floor(model, x)

        def terms(m: VAE, x: Tensor) -> tuple[Tensor, Tensor]:
            mu, logvar = m.encode(x)
            recon = bernoulli_log_likelihood(m.decode(reparameterize(mu, logvar)), x)  # (B,)
            return recon, gaussian_kl(mu[..., None], logvar[..., None])  # (B,), (B, D)

        def floored_examples(m: VAE, x: Tensor) -> Tensor:
            recon, kl = terms(m, x)
            return -recon.mean() + kl.clamp_min(lam).mean(0).sum()

        def unfloored(m: VAE, x: Tensor) -> Tensor:
            recon, kl = terms(m, x)
            return -recon.mean() + kl.mean(0).sum()

        def summed(m: VAE, x: Tensor) -> Tensor:
            recon, kl = terms(m, x)
            return -recon.sum() + kl.sum(0).clamp_min(lam).sum()

        objective = FreeBitsObjective(1.0, 0, lam)
        ref_steps = _sgd_steps(model, x, lambda m, x: objective(m, x, 0)[0])
        mistakes = {
            "floor each dimension's batch-mean KL, not each example's: "
            "max(λ, mean_b KL_bj) (eq. `free-bits`)": _sgd_steps(model, x, floored_examples),
            "the KL term has no floor per dimension (no floor, or one on the total KL): "
            "Σ_j max(λ, mean_b KL_bj) (eq. `free-bits`)": _sgd_steps(model, x, unfloored),
            "average over the batch (.mean()), do not sum: the step would grow with the "
            "batch size": _sgd_steps(model, x, summed),
        }
        mine = copy.deepcopy(model)
        optimizer = torch.optim.SGD(mine.parameters(), lr=TRAIN_LR)
        name = "free_bits_step(model, optimizer, x, free_bits)"
        for step, (ref_loss, ref_delta) in enumerate(ref_steps):
            got, delta = _reader_step(fn, mine, (optimizer, x, lam), name, seed=20 + step)
            if math.isclose(got, -ref_loss, rel_tol=1e-4):
                problems.append(
                    "minimize the loss −log p(x|z) + Σ_j max(λ, mean_b KL_bj); you "
                    "maximized it (eq. `free-bits`)"
                )
                return
            line = next(
                (k for k, steps in mistakes.items() if _rel(delta, steps[step][1]) < 1e-2), None
            )
            if line and _rel(delta, ref_delta) > 1e-2:
                problems.append(line)
                return
            if _accumulates(step, delta, ref_steps):
                problems.append(ZERO_GRAD)
                return
            if _rel(delta, ref_delta) > 1e-2:
                problems.append(
                    "the update differs from one step of the given optimizer on "
                    "−mean_b log p(x|z) + Σ_j max(λ, mean_b KL_bj), λ = free_bits "
                    f"(eq. `free-bits`; the loss should be {ref_loss:.2f} nats, yours is {got:.2f})"
                )
                return
            if not math.isclose(got, ref_loss, rel_tol=1e-4):
                problems.append(
                    "the returned loss is not the free-bits loss of the batch before the "
                    f"update, with λ = free_bits: expected {ref_loss:.2f}, got {got:.2f} nats"
                )
                return

    return grade("free_bits_step", body, FREE_BITS_STEP_WORK)


# ---------------------------------------------------------------------------- chapter 10


def check_fixed_train_step(fn: Callable[[VAE, torch.optim.Optimizer, Tensor], Any]) -> Verdict:
    """Grade chapter 10's fixed training step with check_train_step's checks."""
    return _train_step_verdict(fn, "fixed_train_step")


LIKELIHOOD_WORK = OwnWork(answers=ELBO_ANSWERS)
LL_BATCH = 4


def check_fixed_log_likelihood(fn: Callable[[Tensor, Tensor], Any]) -> Verdict:
    """Grade `fn(logits, x) -> (B,)`: log p(x|z) of eq. `bernoulli-likelihood`, stable.

    The logits reach ±224, where sigmoid rounds to 0 or 1 in float32, so log(sigmoid)
    is -inf and a clamp of p is off by many nats; at logits within ±3 both are right,
    which tells a clamp from other mistakes.
    """

    def body(problems: list[str]) -> None:
        gen = torch.Generator().manual_seed(0)
        x = torch.bernoulli(torch.full((LL_BATCH, 1, 28, 28), 0.5), generator=gen)
        confident = 60.0 * torch.randn(LL_BATCH, 1, 28, 28, generator=gen)
        moderate = torch.randn(LL_BATCH, 1, 28, 28, generator=gen)
        name = "fixed_log_likelihood(logits, x)"

        def log_likelihood(logits: Tensor) -> Tensor | None:
            raw = call(fn, logits.clone(), x.clone(), name=name)
            if isinstance(raw, Tensor) and raw.shape == (LL_BATCH,) and not raw.isfinite().all():
                return None
            return tensor(raw, "log p(x|z)", (LL_BATCH,), per_example=True)

        mild = log_likelihood(moderate)
        ref_mild = bernoulli_log_likelihood(moderate.double(), x.double())
        mistakes = {
            "log p(x|z) is minus the binary cross-entropy: the sign is flipped": -ref_mild,
            "sum log p(x|z) over the 784 pixels; averaging divides it by 784": ref_mild / 784,
        }
        if mild is None:
            problems.append("log p(x|z) is −inf or NaN even at logits within ±3")
            return
        wrong = "log p(x|z) does not match Σ_i x_i log p_i + (1 − x_i) log(1 − p_i)"
        line = diagnose(mild, ref_mild, mistakes, wrong + " (eq. `bernoulli-likelihood`)")
        if line:
            problems.append(line)
            return
        sure = log_likelihood(confident)
        if sure is None:
            problems.append(
                "still −inf or NaN at confident logits: sigmoid(l) rounds to 0 or 1, and "
                "log(0) = −inf; compute from the logits, −F.binary_cross_entropy_with_logits"
                "(logits, x, reduction='none') summed over pixels (or F.logsigmoid)"
            )
        elif not close(sure, bernoulli_log_likelihood(confident.double(), x.double())):
            problems.append(
                "finite but wrong at confident logits: clamping p hides the −inf by changing "
                "log p(x|z) by many nats; compute from the logits "
                "(F.binary_cross_entropy_with_logits or F.logsigmoid)"
            )

    return grade("fixed_log_likelihood", body, LIKELIHOOD_WORK)
