"""A linear-Gaussian latent-variable model, small enough that everything is exact.

    z ~ N(0, 1),    x | z ~ N(w z + b, sigma^2)                        eq. `linear-gaussian`

Its marginal p(x) = N(b, w^2 + sigma^2), its posterior p(z|x) and the ELBO of any
Gaussian q(z) = N(m, s^2) all have closed forms, so chapter 2 can show the identity
log p(x) = ELBO(q) + KL(q || p(z|x)) (eq. `elbo-identity`) number for number and watch
the gap close as q improves. It does not hold the VAE (`model.py`).

Reference: Bishop (2006), Pattern Recognition and Machine Learning, section 2.3.3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LinearGaussian:
    """The scalar model of eq. `linear-gaussian` with weight w, offset b and noise sigma."""

    w: float = 2.0
    b: float = 0.5
    sigma: float = 0.8

    def log_marginal(self, x: float) -> float:
        """log p(x) = log N(x; b, w^2 + sigma^2)."""
        var = self.w**2 + self.sigma**2
        return -0.5 * (math.log(2 * math.pi * var) + (x - self.b) ** 2 / var)

    def posterior(self, x: float) -> tuple[float, float]:
        """Mean and variance of p(z|x).

        The precision is 1 + w^2 / sigma^2 and the mean is var * w (x - b) / sigma^2.
        """
        var = 1.0 / (1.0 + self.w**2 / self.sigma**2)
        return var * self.w * (x - self.b) / self.sigma**2, var

    def expected_log_likelihood(self, x: float, m: float, s2: float) -> float:
        """E_{z ~ N(m, s2)}[log N(x; w z + b, sigma^2)], the reconstruction term."""
        sq = (x - self.b - self.w * m) ** 2 + self.w**2 * s2
        return -0.5 * (math.log(2 * math.pi * self.sigma**2) + sq / self.sigma**2)

    def kl_to_prior(self, m: float, s2: float) -> float:
        """KL(N(m, s2) || N(0, 1)) = (m^2 + s2 - log s2 - 1) / 2, eq. `kl-gauss` with D = 1."""
        return 0.5 * (m**2 + s2 - math.log(s2) - 1.0)

    def elbo(self, x: float, m: float, s2: float) -> float:
        """ELBO(q) = E_q[log p(x|z)] - KL(q || p(z)) for q = N(m, s2), eq. `elbo`."""
        return self.expected_log_likelihood(x, m, s2) - self.kl_to_prior(m, s2)

    def kl_to_posterior(self, x: float, m: float, s2: float) -> float:
        """KL(N(m, s2) || p(z|x)), the gap log p(x) - ELBO(q)."""
        mp, vp = self.posterior(x)
        return 0.5 * (math.log(vp / s2) + (s2 + (m - mp) ** 2) / vp - 1.0)
