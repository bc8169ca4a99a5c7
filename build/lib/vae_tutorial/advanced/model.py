"""The evaluation chapter's best model: the plain VAE plus residual stages and two flows.

Holds `AdvancedVAEConfig` (the plain `VAEConfig` plus res_blocks, flow_steps,
prior_flow_steps, flow_hidden), `ResidualBlock` and `AdvancedVAE`, a `VAE` subclass whose
posterior may be an inverse autoregressive flow (eq. `iaf`) conditioned on the encoder's
features h, whose prior may be a masked autoregressive flow (eq. `flow-prior`), and whose
ELBO therefore estimates the KL by sampling when it has no closed form. It does not hold
the flows themselves (`flows.py`) or the plain model (`vae_tutorial/model.py`).

    q(z|x):  z_0 = mu + sigma * eps (eq. `reparam`), z_T = IAF(z_0; h)
    log q(z_T|x) = log N(z_0; mu, sigma^2) - log|det dz_T/dz_0|
    KL(q || p) ~ 1/S sum_s [log q(z_s|x) - log p(z_s)],  z_s ~ q(z|x)

References: He et al. (2016), residual networks; Kingma et al. (2016), IAF;
Papamakarios et al. (2017), MAF; Chen et al. (2017), a flow prior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..elbo import ELBO, calc_elbo, check_n_samples, importance_terms
from ..model import IMAGE_SHAPE, VAE, VAEConfig, check_images
from .flows import IAF, FlowPrior


@dataclass(frozen=True)
class AdvancedVAEConfig(VAEConfig):
    """`VAEConfig` plus the advanced model's numbers.

    Attributes:
        res_blocks: residual 3x3 blocks after each strided convolution (0 = plain net).
        flow_steps: inverse autoregressive flow steps on top of the Gaussian posterior
            (0 = the diagonal Gaussian).
        prior_flow_steps: masked autoregressive flow steps of a learned prior p(z)
            (0 = the standard normal prior N(0, I)).
        flow_hidden: width of each flow step's MADE hidden layers.
    """

    res_blocks: int = 0
    flow_steps: int = 0
    prior_flow_steps: int = 0
    flow_hidden: int = 320

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.res_blocks < 0:
            raise ValueError(f"res_blocks must be non-negative, got {self.res_blocks}")
        if min(self.flow_steps, self.prior_flow_steps) < 0 or self.flow_hidden < 1:
            raise ValueError(
                "flow_steps and prior_flow_steps must be non-negative and flow_hidden positive"
            )
        if self.flow_steps + self.prior_flow_steps > 0 and self.latent_dim < 2:
            raise ValueError(
                f"an autoregressive flow needs latent_dim >= 2, got {self.latent_dim}; "
                "set flow_steps = prior_flow_steps = 0"
            )

    @property
    def is_plain(self) -> bool:
        """True when the numbers describe the plain VAE (no residual blocks, no flows)."""
        return self.res_blocks == 0 and self.flow_steps == 0 and self.prior_flow_steps == 0


class ResidualBlock(nn.Module):
    """x + conv3x3(relu(conv3x3(relu(x)))), shape preserving."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ContextPosterior(NamedTuple):
    """q(z|x) of a batch: Gaussian mu and logvar (B, D) and the encoder features h (B, H)
    that the flow posterior (eq. `iaf`) is conditioned on."""

    mu: Tensor
    logvar: Tensor
    h: Tensor


def _stage(conv: nn.Module, channels: int, res_blocks: int) -> list[nn.Module]:
    return [conv, *(ResidualBlock(channels) for _ in range(res_blocks)), nn.ReLU()]


class AdvancedVAE(VAE):
    """The plain `VAE` with residual stages, an optional IAF posterior and a flow prior.

    Args:
        latent_dim: D; overrides the config's field when given.
        config: the architecture (an `AdvancedVAEConfig`).
    """

    config: AdvancedVAEConfig

    def __init__(
        self, latent_dim: int | None = None, config: AdvancedVAEConfig | None = None
    ) -> None:
        super().__init__(latent_dim, config or AdvancedVAEConfig())
        config = self.config
        c1, c2 = config.channels
        k, pad = config.kernel_size, (config.kernel_size - 2) // 2
        if config.res_blocks > 0:
            r = config.res_blocks
            self.encoder = nn.Sequential(
                *_stage(nn.Conv2d(IMAGE_SHAPE[0], c1, k, stride=2, padding=pad), c1, r),
                *_stage(nn.Conv2d(c1, c2, k, stride=2, padding=pad), c2, r),
                nn.Flatten(),  # (B, C2*7*7)
                nn.Linear(c2 * self.feature_shape[1] * self.feature_shape[2], config.hidden_dim),
                nn.ReLU(),
            )
            self.decoder_conv = nn.Sequential(
                *(ResidualBlock(c2) for _ in range(r)),
                *_stage(nn.ConvTranspose2d(c2, c1, k, stride=2, padding=pad), c1, r),
                nn.ConvTranspose2d(c1, IMAGE_SHAPE[0], k, stride=2, padding=pad),
            )
        self.flow = (
            IAF(config.latent_dim, config.flow_hidden, config.hidden_dim, config.flow_steps)
            if config.flow_steps > 0
            else None
        )
        self.prior_flow = (
            FlowPrior(config.latent_dim, config.flow_hidden, config.prior_flow_steps)
            if config.prior_flow_steps > 0
            else None
        )
        self.to(memory_format=torch.channels_last)

    @property
    def closed_form_kl(self) -> bool:
        """True for the diagonal-Gaussian posterior and N(0, I) prior of eq. `kl-gauss`."""
        return self.flow is None and self.prior_flow is None

    def posterior(self, x: Tensor) -> ContextPosterior:
        """x (B,1,28,28) -> ContextPosterior(mu, logvar (B,D), h (B,H))."""
        h = self.encoder(x)  # (B, hidden_dim)
        return ContextPosterior(self.fc_mu(h), self.fc_logvar(h), h)

    def sample_posterior(
        self, q: ContextPosterior, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """S draws z ~ q(z|x) and log q(z|x): (S,B,D), (S,B) nats; eq. `reparam`, then eq. `iaf`."""
        z, log_q = super().sample_posterior(q, n_samples, generator)  # (S, B, D), (S, B)
        if self.flow is not None:
            z, log_det = self.flow(z, q.h)  # h (B, H) broadcasts over the S draws
            log_q = log_q - log_det
        return z, log_q

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z): z (..., D) -> (...,) nats; N(0, I), or the learned eq. `flow-prior`."""
        if self.prior_flow is not None:
            return self.prior_flow.log_prob(z)
        return super().log_prior(z)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z ~ p(z): (n, D) on the model's device (base noise from a CPU `generator`)."""
        u = super().sample_prior(n, generator)  # (n, D) ~ N(0, I)
        if self.prior_flow is None:
            return u
        with torch.no_grad():
            return self.prior_flow.transform(u)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One pass: x -> (logits (B,1,28,28) of a posterior draw, base mu, base logvar (B,D))."""
        q = self.posterior(x)
        z, _ = self.sample_posterior(q)  # (1, B, D)
        return self.decode(z[0]), q.mu, q.logvar

    def elbo(self, x: Tensor, n_samples: int = 1, generator: torch.Generator | None = None) -> ELBO:
        """ELBO of each image, eq. `elbo`: (B,) nats each; the KL is sampled when it must be.

        Without flows this is `calc_elbo` (closed-form KL). With a flow, both terms are
        averaged over the same `n_samples` draws: KL ~ mean_s [log q(z_s|x) - log p(z_s)].
        """
        if self.closed_form_kl:
            return calc_elbo(self, x, n_samples, generator)
        check_images(x)
        check_n_samples(n_samples)
        terms = importance_terms(self, x, n_samples, generator)  # each (S, B)
        recon_ll = terms.log_px_z.mean(0)  # (B,)
        kl = (terms.log_qz - terms.log_pz).mean(0)  # (B,), Monte-Carlo KL(q || p)
        return ELBO(recon_ll - kl, recon_ll, kl)
