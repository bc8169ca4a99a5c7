"""Diagnose a trained VAE: the checks of the book's chapter "When a VAE goes wrong".

Holds `diagnose(model, x, k)`, which measures on a batch of images

- the active units (which latent dimensions the encoder uses, Burda et al. 2016) and the
  mean KL of each dimension,
- the range of the posterior log-variances,
- the ELBO and the importance-sampled estimate of log p(x) with k samples, and their gap,
- whether the images are binary (the Bernoulli likelihood is a likelihood only for
  {0, 1} pixels),

and returns them as a `Diagnosis` whose `warnings` name each problem found with its
likely cause and fix (`Finding`). Every number is per image, in nats, averaged over the
images given. The printed report numbers the latent dimensions from 1, z1 to zD, as the
book and its sliders do; the attributes index them from 0, as Python does (z6 is index 5).

It does not hold the estimators themselves (`evaluate.py`, `elbo.py`), and it cannot see
mistakes made outside the model: a wrong sign in a logged KL, a loss averaged over pixels
or a test set binarized by thresholding leave no trace in the weights. The chapter shows
those with experiments. It cannot tell a collapse caused by the objective (a KL weight
that is too large) from one caused by a decoder that models the data without z; both
look the same from here.

References: Burda, Grosse & Salakhutdinov (2016), active units and the importance-weighted
estimate; Bowman et al. (2016), KL warm-up; Kingma et al. (2016), free bits;
Loaiza-Ganem & Cunningham (2019), the Bernoulli likelihood on grey levels is unnormalized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .elbo import LatentVariableModel
from .evaluate import (
    active_units,
    evaluate_elbo,
    evaluate_log_likelihood,
    kl_per_dimension,
    posterior_statistics,
)

ACTIVE_THRESHOLD = 0.01
"""Var_x(E_q[z_u | x]) above which dimension u is active (Burda et al. 2016)."""

COLLAPSE_FRACTION = 0.5
"""Warn of posterior collapse when more than this fraction of the dimensions is inactive."""

LOGVAR_RANGE = (-30.0, 20.0)
"""Posterior log-variances outside this range are flagged (the clamp of diffusers' VAE)."""

FLOAT32_EXP_LIMIT = math.log(torch.finfo(torch.float32).max)
"""exp(logvar) overflows float32 to inf above this log-variance (about 88.72)."""


@dataclass(frozen=True)
class Finding:
    """One problem `diagnose` found: a short code, what was seen, likely cause, and fix.

    code is one of "non-finite", "log-variance", "posterior-collapse", "non-binary".
    """

    code: str
    problem: str
    cause: str
    fix: str

    def __str__(self) -> str:
        return f"{self.problem}: {self.cause} — {self.fix}"


@dataclass(frozen=True)
class Diagnosis:
    """What `diagnose` measured on N images; every value is in nats per image unless stated.

    Attributes:
        n_images: N.
        active: (D,) bool, the active dimensions (Var_x of the posterior mean > threshold).
        kl_per_dim: (D,) mean over images of each dimension's KL(q(z_u|x) || N(0, 1)).
        logvar_min, logvar_max: smallest and largest posterior log-variance seen (log nats²,
            i.e. log sigma² of z).
        elbo: mean ELBO (one posterior draw per image, analytic KL).
        log_likelihood: mean importance-sampled estimate of log p(x) with k samples.
        k: the number of importance samples.
        binary: whether every pixel of x is exactly 0 or 1.
        warnings: the problems found, each with its likely cause and fix.
    """

    n_images: int
    active: Tensor
    kl_per_dim: Tensor
    logvar_min: float
    logvar_max: float
    elbo: float
    log_likelihood: float
    k: int
    binary: bool
    warnings: tuple[Finding, ...]

    @property
    def latent_dim(self) -> int:
        """D, the number of latent dimensions."""
        return int(self.active.numel())

    @property
    def n_active(self) -> int:
        """How many dimensions are active."""
        return int(self.active.sum())

    @property
    def inactive(self) -> list[int]:
        """Indices (from 0) of the inactive dimensions; the report prints index u as z{u+1}."""
        return [int(i) for i in torch.nonzero(~self.active).flatten()]

    @property
    def kl(self) -> float:
        """Mean total KL(q(z|x) || p(z)), the rate: the sum of `kl_per_dim`."""
        return float(self.kl_per_dim.sum())

    @property
    def gap(self) -> float:
        """log_likelihood - elbo: a measured lower bound on how loose the ELBO is."""
        return self.log_likelihood - self.elbo

    @property
    def codes(self) -> list[str]:
        """The codes of the warnings, e.g. ["posterior-collapse"]."""
        return [w.code for w in self.warnings]

    def __str__(self) -> str:
        kind = "binary" if self.binary else "NOT binary"
        kl_dims = " ".join(f"{v:.2f}" for v in self.kl_per_dim.tolist())
        lines = [
            f"Diagnosis of {self.n_images} images ({kind}), latent dimensions D = "
            f"{self.latent_dim}",
            f"  active units     {self.n_active} of {self.latent_dim}"
            + (
                f" (inactive: {', '.join(f'z{u + 1}' for u in self.inactive)})"
                if self.inactive
                else ""
            ),
            f"  KL per dimension {kl_dims} nats (z1 to z{self.latent_dim}; total {self.kl:.2f})",
            f"  log-variance     from {self.logvar_min:.2f} to {self.logvar_max:.2f}",
            f"  ELBO             {self.elbo:.2f} nats per image (a lower bound)",
            f"  log p(x)         {self.log_likelihood:.2f} nats per image "
            f"(importance-sampled, k = {self.k}); gap to the ELBO {self.gap:.2f}",
        ]
        if not self.warnings:
            lines.append("  no warnings")
        lines += [f"  WARNING {w}" for w in self.warnings]
        return "\n".join(lines)


def diagnose(
    model: LatentVariableModel,
    x: Tensor,
    k: int = 100,
    threshold: float = ACTIVE_THRESHOLD,
    seed: int | None = None,
) -> Diagnosis:
    """Measure the usual failure signs of a VAE on the images x.

    Args:
        model: a VAE (anything `evaluate.py` accepts: encode, decode, posterior, ...).
        x: (N, 1, 28, 28) images with values in [0, 1]; N >= 2 for the active units.
        k: importance samples per image for the log-likelihood estimate (cost: k decoder
            passes per image).
        threshold: the variance above which a dimension counts as active.
        seed: noise seed of the ELBO and importance samples (None: the package's fixed
            evaluation seed, so that results repeat).

    Returns:
        A `Diagnosis`; print it for a readable report.
    """
    if x.dim() != 4 or x.shape[0] < 2:
        raise ValueError(f"diagnose needs a batch of at least 2 images (N, 1, 28, 28), got "
                         f"{tuple(x.shape)}")  # fmt: skip
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    noise = {} if seed is None else {"seed": seed}
    mu, logvar = posterior_statistics(model, x)  # (N, D) each
    active = active_units(mu, threshold)  # (D,)
    kl_dims = kl_per_dimension(mu, logvar)  # (D,) nats
    elbo = evaluate_elbo(model, x, **noise).elbo.mean().item()
    log_px = evaluate_log_likelihood(model, x, k, progress=False, **noise).mean().item()
    binary = bool(((x == 0) | (x == 1)).all())
    finite = [torch.isfinite(t).all().item() for t in (mu, logvar)]
    logvar_min = logvar.min().item() if finite[1] else float("nan")
    logvar_max = logvar.max().item() if finite[1] else float("nan")
    findings = _findings(
        all(finite) and math.isfinite(elbo) and math.isfinite(log_px),
        logvar,
        active,
        binary,
    )
    return Diagnosis(
        n_images=int(x.shape[0]),
        active=active,
        kl_per_dim=kl_dims,
        logvar_min=logvar_min,
        logvar_max=logvar_max,
        elbo=elbo,
        log_likelihood=log_px,
        k=k,
        binary=binary,
        warnings=tuple(findings),
    )


def _findings(finite: bool, logvar: Tensor, active: Tensor, binary: bool) -> list[Finding]:
    """The warnings of one diagnosis, most severe first."""
    findings: list[Finding] = []
    if not finite:
        findings.append(
            Finding(
                "non-finite",
                "the encoder or the bound returns NaN or infinite values",
                "training diverged, usually through a too-high learning rate that let the "
                f"log-variance grow until exp(logvar) overflowed (above {FLOAT32_EXP_LIMIT:.1f})",
                "restart from the last good checkpoint with a lower learning rate; clamp "
                f"logvar to [{LOGVAR_RANGE[0]:g}, {LOGVAR_RANGE[1]:g}] or clip gradients",
            )
        )
    lv = logvar[torch.isfinite(logvar)]
    low, high = LOGVAR_RANGE
    if lv.numel() and (lv.max().item() > high or lv.min().item() < low):
        findings.append(
            Finding(
                "log-variance",
                f"posterior log-variance reaches [{lv.min().item():.3g}, {lv.max().item():.3g}], "
                f"outside [{low:g}, {high:g}]",
                "the encoder's variance is running away (a too-high learning rate, or "
                f"no limit on logvar); exp(logvar) overflows float32 above "
                f"{FLOAT32_EXP_LIMIT:.1f} and the loss becomes NaN",
                f"lower the learning rate; clamp logvar to [{low:g}, {high:g}]",
            )
        )
    n_inactive = int((~active).sum())
    if n_inactive > COLLAPSE_FRACTION * active.numel():
        findings.append(
            Finding(
                "posterior-collapse",
                f"{n_inactive} of {active.numel()} dimensions inactive",
                "posterior collapse: in those dimensions q(z|x) does not change with x, so "
                "they tell the decoder nothing; usual causes are a KL weight that is too large "
                "(a loss averaged over pixels weighs the KL 784 times) or a decoder that "
                "models the images without z",
                "sum the log-likelihood over pixels with KL weight 1; try KL warm-up "
                "(warmup_epochs) or free bits (free_bits)",
            )
        )
    if not binary:
        findings.append(
            Finding(
                "non-binary",
                "the images are not binary (grey levels between 0 and 1)",
                "the Bernoulli likelihood (binary cross-entropy) is not a normalized "
                "likelihood of grey levels: its best value is minus the pixels' entropy, "
                "not 0, and its numbers do not compare with published NLLs",
                "binarize the images (dynamically for training, once with a fixed seed for "
                "testing) or use a likelihood for grey levels (continuous Bernoulli, Gaussian)",
            )
        )
    return findings
