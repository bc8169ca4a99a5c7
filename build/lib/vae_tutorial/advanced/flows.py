"""Autoregressive flows: a posterior q(z|x) and a prior p(z) beyond the diagonal Gaussian.

Holds `MaskedLinear`, `MADE` (the masked network that gives an affine autoregressive map
its shift m and log-scale s), `IAF` (inverse autoregressive flow on the posterior, fed
the encoder's features h) and `FlowPrior` (a masked autoregressive flow as a learned
prior). `AdvancedVAE` (`advanced/model.py`) uses them when `flow_steps` /
`prior_flow_steps` > 0 (the evaluation chapter's `mnist-best`); the book's plain `VAE`
keeps the diagonal Gaussian posterior and the N(0, I) prior. It does not hold the encoder
(`advanced/model.py`) or the bound (`elbo.py`).

    z_0 = mu + sigma * eps                                     eq. `reparam`
    z_t = m_t(z_{t-1}, h) + exp(s_t(z_{t-1}, h)) * z_{t-1}     eq. `iaf`
    log q(z_T|x) = log N(z_0; mu, sigma^2) - sum_t sum_i s_t,i
    u_t = (u_{t-1} - m_t(u_{t-1})) * exp(-s_t(u_{t-1})), u_0 = z
    log p(z) = log N(u_T; 0, I) - sum_t sum_i s_t,i            eq. `flow-prior`

Output i of m and s depends only on the inputs before i (in the step's order), so each
step's Jacobian is triangular with diagonal exp(+-s) and its log-determinant is a sum.
Both densities the bounds need (log q of a posterior draw, log p of any z) take one pass
per step; only drawing from the prior is sequential (one pass per dimension).

Every step starts as the identity (m = 0, s = 0): a flow model begins as the plain VAE.

References: Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling (2016), Improved
Variational Inference with Inverse Autoregressive Flow; Papamakarios, Pavlakou & Murray
(2017), Masked Autoregressive Flow for Density Estimation; Germain, Gregor, Murray &
Larochelle (2015), MADE; Chen et al. (2017), Variational Lossy Autoencoder (flow prior).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..model import gaussian_log_prob


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (out_features, in_features).

    The mask follows from the architecture, so it is rebuilt, never saved with the weights.
    """

    def __init__(self, mask: Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(latent_dim: int, hidden_dim: int, reverse: bool) -> tuple[Tensor, Tensor, Tensor]:
    """MADE masks (input->hidden, hidden->hidden, hidden->output) for one autoregressive order.

    Input/output unit i gets degree d_i (1..D, reversed when `reverse`), hidden units cycle
    through 1..D-1; a hidden unit sees inputs of degree <= its own, an output sees hidden
    units of strictly smaller degree, so output i depends on inputs of degree < d_i only.
    """
    if latent_dim < 2:
        raise ValueError(f"an autoregressive flow needs latent_dim >= 2, got {latent_dim}")
    degree_io = torch.arange(1, latent_dim + 1)
    if reverse:
        degree_io = degree_io.flip(0)
    degree_h = torch.arange(hidden_dim) % (latent_dim - 1) + 1
    return (
        degree_h[:, None] >= degree_io[None, :],  # (H, D)
        degree_h[:, None] >= degree_h[None, :],  # (H, H)
        degree_io[:, None] > degree_h[None, :],  # (D, H)
    )


class MADE(nn.Module):
    """Shift m and log-scale s of an affine autoregressive map: output i sees inputs before i.

    Two masked hidden layers (ELU); the optional context h (e.g. the encoder's features)
    feeds every hidden unit. The output layers start at zero, so m = s = 0.

    Args:
        latent_dim: D.
        hidden_dim: width of the two hidden layers.
        context_dim: size of h (0 = no context).
        reverse: autoregressive order D..1 instead of 1..D.
    """

    def __init__(self, latent_dim: int, hidden_dim: int, context_dim: int, reverse: bool) -> None:
        super().__init__()
        mask_in, mask_hidden, mask_out = made_masks(latent_dim, hidden_dim, reverse)
        self.input = MaskedLinear(mask_in)
        self.context = nn.Linear(context_dim, hidden_dim) if context_dim > 0 else None
        self.hidden = MaskedLinear(mask_hidden)
        self.shift = MaskedLinear(mask_out)
        self.log_scale = MaskedLinear(mask_out)
        for layer in (self.shift, self.log_scale):
            nn.init.zeros_(layer.weight)  # start as the identity map
            nn.init.zeros_(layer.bias)

    def forward(self, z: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """z (..., D), h (..., C) broadcastable against z -> m (..., D), s (..., D)."""
        a = self.input(z)  # (..., H)
        if self.context is not None:
            a = a + self.context(h)
        a = F.elu(self.hidden(F.elu(a)))  # (..., H)
        return self.shift(a), self.log_scale(a)


class IAF(nn.Module):
    """Posterior flow: z_t = m_t + exp(s_t) * z_{t-1}, (m_t, s_t) = MADE_t(z_{t-1}, h), eq. `iaf`.

    The variable order is reversed between steps.
    """

    def __init__(self, latent_dim: int, hidden_dim: int, context_dim: int, steps: int) -> None:
        super().__init__()
        self.steps = nn.ModuleList(
            MADE(latent_dim, hidden_dim, context_dim, reverse=t % 2 == 1) for t in range(steps)
        )

    def forward(self, z: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """z_0 (..., D), h (..., C) -> z_T (..., D), sum_t log|det dz_t/dz_{t-1}| (...,) nats."""
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for made in self.steps:
            shift, log_scale = made(z, h)
            z = shift + torch.exp(log_scale) * z  # eq. iaf
            log_det = log_det + log_scale.sum(-1)
        return z, log_det


class FlowPrior(nn.Module):
    """A learned prior p(z): a masked autoregressive flow (MAF) of N(0, I), eq. `flow-prior`.

    Density direction, one parallel pass per step: u_t = (u_{t-1} - m_t) * exp(-s_t) with
    (m_t, s_t) = MADE_t(u_{t-1}), u_0 = z; log p(z) = log N(u_T; 0, I) - sum_t sum_i s_t,i.
    Sampling inverts each step, one dimension per pass (D passes per step).
    """

    def __init__(self, latent_dim: int, hidden_dim: int, steps: int) -> None:
        super().__init__()
        self.steps = nn.ModuleList(
            MADE(latent_dim, hidden_dim, 0, reverse=t % 2 == 1) for t in range(steps)
        )

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) of z (..., D): (...,) in nats, eq. `flow-prior`."""
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for made in self.steps:
            shift, log_scale = made(z)
            z = (z - shift) * torch.exp(-log_scale)  # eq. flow-prior
            log_det = log_det - log_scale.sum(-1)
        return gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z)) + log_det

    def transform(self, u: Tensor) -> Tensor:
        """Map base draws u (..., D) ~ N(0, I) to prior draws z (..., D): each step inverted."""
        for made in reversed(self.steps):
            y = torch.zeros_like(u)
            for _ in range(u.shape[-1]):  # pass i fixes dimension i of the order
                shift, log_scale = made(y)
                y = u * torch.exp(log_scale) + shift
            u = y
        return u
