"""Graders for the exercises of chapter 4: the reader's `calc_elbo` and `sample`.

Holds `check_calc_elbo(fn)` and `check_sample(fn)`. Each runs the reader's function on a
small random VAE, compares it with the package's reference (`elbo.calc_elbo`,
`sampling.sample`) and returns a `Verdict` whose text names the usual mistakes:
the KL's sign, averaging over pixels instead of summing, log(sigmoid(.)) underflowing,
a z that carries no gradient to the encoder, sampling from the posterior instead of the
prior, logits instead of probabilities. Verdicts hold no random numbers, so a notebook
can store and compare them. It does not hold the reference implementations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .elbo import calc_elbo, gaussian_kl
from .model import VAE

BATCH, LATENT, STATS_CALLS = 8, 4, 100


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


def _setup(seed: int = 0) -> tuple[VAE, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = VAE(latent_dim=LATENT)
    with torch.no_grad():  # move q(z|x) away from the prior so that the KL is a few nats
        model.fc_mu.bias.add_(1.5)
        model.fc_logvar.bias.sub_(1.0)
    x = torch.bernoulli(torch.rand(BATCH, 1, 28, 28, generator=gen), generator=gen)
    return model, x


def _close(a: Tensor, b: Tensor, rtol: float = 1e-4, atol: float = 1e-3) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def _unpack(out: Any) -> tuple[Tensor, Tensor, Tensor]:
    if hasattr(out, "elbo"):
        return out.elbo, out.recon_ll, out.kl
    elbo, recon_ll, kl = out
    return elbo, recon_ll, kl


def check_calc_elbo(fn: Callable[[VAE, Tensor], Any]) -> Verdict:
    """Grade `fn(model, x) -> (elbo, recon_ll, kl)`, each (B,) in nats, against eq. `elbo`."""
    verdict = Verdict("calc_elbo")
    problems = verdict.problems
    model, x = _setup()
    try:
        torch.manual_seed(1)
        elbo, recon, kl = (t.detach() for t in _unpack(fn(model, x)))
    except Exception as exc:
        problems.append(f"calling calc_elbo(model, x) raised {type(exc).__name__}: {exc}")
        return verdict
    if any(t.shape != (BATCH,) for t in (elbo, recon, kl)):
        problems.append(
            f"return one value per image, shape ({BATCH},); got shapes "
            f"{[tuple(t.shape) for t in (elbo, recon, kl)]} (do not average over the batch)"
        )
        return verdict

    mu, logvar = (t.detach() for t in model.encode(x))
    kl_ref = gaussian_kl(mu, logvar)
    if _close(kl, -kl_ref):
        problems.append("the KL has the wrong sign: KL(q || p) >= 0, see eq. `kl-gauss`")
    elif _close(kl, kl_ref / LATENT):
        problems.append("sum the KL over the latent dimensions instead of averaging them")
    elif not _close(kl, kl_ref):
        problems.append("the KL does not match the closed form of eq. `kl-gauss`")
    if _close(elbo - recon, kl) and not _close(kl, torch.zeros_like(kl)):
        problems.append("ELBO = reconstruction - KL (eq. `elbo`); you added the KL")
    elif not _close(elbo - recon, -kl):
        problems.append("elbo must equal recon_ll - kl")

    with torch.no_grad():
        torch.manual_seed(1)
        recon_ref = calc_elbo(model, x).recon_ll
    if not _close(recon, recon_ref):
        problems.extend(_compare_recon_statistically(fn, model, x))

    big = _saturated(model)
    try:
        torch.manual_seed(2)
        _, recon_big, _ = _unpack(fn(big, torch.zeros_like(x)))
        if not torch.isfinite(recon_big).all():
            problems.append(
                "log p(x|z) is -inf for confident pixels: sigmoid(logits) underflows to 0 "
                "(or 1 - sigmoid to 0) and log(0) = -inf; compute it from logits with "
                "F.binary_cross_entropy_with_logits, never as log(sigmoid(logits))"
            )
    except Exception as exc:
        problems.append(f"with very confident logits calc_elbo raised {type(exc).__name__}")

    fresh, _ = _setup()
    torch.manual_seed(3)
    _, recon_grad, _ = _unpack(fn(fresh, x))
    if recon_grad.requires_grad:
        recon_grad.sum().backward()
    grad = fresh.fc_mu.weight.grad
    if grad is None or grad.abs().sum() == 0:
        problems.append(
            "no gradient reaches the encoder through log p(x|z): draw z = mu + sigma * eps "
            "with eps ~ N(0, I) (the reparameterization trick, eq. `reparam`)"
        )
    return verdict


def _compare_recon_statistically(
    fn: Callable[[VAE, Tensor], Any], model: VAE, x: Tensor
) -> list[str]:
    """A reader may draw the noise differently: compare E[recon_ll] over many calls."""
    torch.manual_seed(4)
    with torch.no_grad():
        draws = torch.stack([_unpack(fn(model, x))[1].detach() for _ in range(STATS_CALLS)])
        ref = calc_elbo(model, x, n_samples=STATS_CALLS).recon_ll
    mean, stderr = draws.mean(0), draws.std(0) / math.sqrt(STATS_CALLS) + 1e-3
    if _close(mean * 784, ref, rtol=0.05, atol=1.0):
        return ["sum log p(x|z) over the 784 pixels; averaging divides it by 784"]
    if ((mean - ref).abs() > 6 * stderr + 0.5).any():
        return ["log p(x|z) does not match the Bernoulli log-likelihood of eq. "
                "`bernoulli-likelihood` at z ~ q(z|x)"]  # fmt: skip
    return []


def _saturated(model: VAE) -> VAE:
    """A copy of `model` whose decoder says "ink" with logit 100 at every pixel."""
    big = VAE(config=model.config)
    big.load_state_dict(model.state_dict())
    last = big.decoder_conv[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(100.0)
    return big


def check_sample(fn: Callable[[VAE, int], Tensor]) -> Verdict:
    """Grade `fn(model, n) -> (n, 1, 28, 28)`: Bernoulli means of z ~ N(0, I).

    The reference is eq. `generative-model`: z from the prior, then the decoder.
    """
    verdict = Verdict("sample")
    problems = verdict.problems
    model, _ = _setup()
    used_encoder, seen_z = [], []
    decode = model.decode

    def trap_encode(x: Tensor) -> tuple[Tensor, Tensor]:
        used_encoder.append(True)
        return torch.zeros(x.shape[0], LATENT), torch.zeros(x.shape[0], LATENT)

    def record_decode(z: Tensor) -> Tensor:
        seen_z.append(z.detach())
        return decode(z)

    model.encode = trap_encode  # type: ignore[method-assign]
    model.decode = record_decode  # type: ignore[method-assign]
    n = 4000
    try:
        torch.manual_seed(5)
        with torch.no_grad():
            images = fn(model, n)
    except Exception as exc:
        problems.append(f"calling sample(model, n) raised {type(exc).__name__}: {exc}")
        return verdict
    if used_encoder:
        problems.append("sampling needs no encoder: draw z from the prior N(0, I), not from q(z|x)")
    if tuple(images.shape) != (n, 1, 28, 28):
        problems.append(f"return shape (n, 1, 28, 28); got {tuple(images.shape)}")
        return verdict
    if images.min() < 0 or images.max() > 1:
        problems.append("return probabilities: apply torch.sigmoid to the decoder's logits")
    elif set(images.unique().tolist()) <= {0.0, 1.0}:
        problems.append("return the Bernoulli means sigmoid(logits), not binary draws")
    if not seen_z:
        problems.append("decode z with model.decode(z)")
    else:
        z = torch.cat([s.reshape(-1, LATENT) for s in seen_z])
        if (z.mean(0).abs() > 0.1).any() or ((z.std(0) - 1).abs() > 0.1).any():
            problems.append("z must follow the prior N(0, I): use torch.randn(n, latent_dim)")
    return verdict
