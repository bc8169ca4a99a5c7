"""The convolutional VAE: a Gaussian encoder q(z|x) and a Bernoulli decoder p(x|z).

Holds `VAEConfig` (every architectural number), `VAE` (`encode`, `decode`, `forward`, and
the three distributions the bounds use: `posterior` with `sample_posterior`, `log_prior`,
`sample_prior`), the reparameterized draw `reparameterize` and the Gaussian log-density.
It does not hold the loss (`elbo.py`), sampling images (`sampling.py`), training
(`train.py`), or the evaluation chapter's richer model with residual blocks and flows
(`advanced/`, built on this one).

    encoder  x (B,1,28,28) -conv-> (B,C1,14,14) -conv-> (B,C2,7,7) -fc-> h -> mu, logvar (B,D)
    decoder  z (B,D) -fc-> h -fc-> (B,C2,7,7) -convT-> (B,C1,14,14) -convT-> logits (B,1,28,28)

Every (transposed) convolution has stride 2.

The decoder returns logits of independent Bernoulli pixels (book eq. `bernoulli-likelihood`);
probabilities are `torch.sigmoid(logits)`. Working with logits keeps the log-likelihood
numerically stable.

References: Kingma & Welling (2014), Auto-Encoding Variational Bayes;
Rezende, Mohamed & Wierstra (2014), Stochastic Backpropagation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .errors import InputError

IMAGE_SHAPE: tuple[int, int, int] = (1, 28, 28)
LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class VAEConfig:
    """Every number that fixes the architecture.

    Attributes:
        latent_dim: D, the size of z.
        channels: output channels of the strided (stride 2) convolutions of the encoder;
            the decoder mirrors them. Two layers take 28x28 to 7x7.
        hidden_dim: width of the fully connected layer between the convolutions and z.
        kernel_size: kernel of the strided (transposed) convolutions.
    """

    latent_dim: int = 16
    channels: tuple[int, ...] = (32, 64)
    hidden_dim: int = 256
    kernel_size: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {self.latent_dim}")
        if len(self.channels) != 2 or min(self.channels) < 1:
            raise ValueError(
                f"channels must be two positive numbers (28 -> 14 -> 7), got {self.channels}"
            )
        if self.hidden_dim < 1:
            raise ValueError(f"hidden_dim must be positive, got {self.hidden_dim}")
        if self.kernel_size < 2 or self.kernel_size % 2:
            raise ValueError(
                "kernel_size must be an even number >= 2 (so that stride 2 halves 28 -> 14 "
                f"-> 7), got {self.kernel_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


class Posterior(NamedTuple):
    """q(z|x) = N(mu, diag(exp(logvar))) of a batch: mu and logvar, each (B, D)."""

    mu: Tensor
    logvar: Tensor


class VAE(nn.Module):
    """Convolutional VAE with a diagonal-Gaussian posterior and Bernoulli likelihood.

    Args:
        latent_dim: D, the size of the latent code z.
        config: the full architecture; `latent_dim` overrides its field when both are given.

    Shapes: x is (B, 1, 28, 28) with values in [0, 1]; z is (B, D).
    """

    def __init__(self, latent_dim: int | None = None, config: VAEConfig | None = None) -> None:
        super().__init__()
        config = config or VAEConfig()
        if latent_dim is not None and latent_dim != config.latent_dim:
            config = type(config)(**{**config.to_dict(), "latent_dim": latent_dim})
        self.config = config
        c1, c2 = config.channels
        k, pad = config.kernel_size, (config.kernel_size - 2) // 2
        self.feature_shape = (c2, IMAGE_SHAPE[1] // 4, IMAGE_SHAPE[2] // 4)
        n_features = c2 * self.feature_shape[1] * self.feature_shape[2]

        self.encoder = nn.Sequential(
            nn.Conv2d(IMAGE_SHAPE[0], c1, k, stride=2, padding=pad),  # (B, C1, 14, 14)
            nn.ReLU(),
            nn.Conv2d(c1, c2, k, stride=2, padding=pad),  # (B, C2, 7, 7)
            nn.ReLU(),
            nn.Flatten(),  # (B, C2*7*7)
            nn.Linear(n_features, config.hidden_dim),
            nn.ReLU(),
        )
        self.fc_mu = nn.Linear(config.hidden_dim, config.latent_dim)
        self.fc_logvar = nn.Linear(config.hidden_dim, config.latent_dim)

        self.decoder_fc = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden_dim),
            nn.ReLU(),
            nn.Linear(config.hidden_dim, n_features),
            nn.ReLU(),
        )
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, k, stride=2, padding=pad),  # (B, C1, 14, 14)
            nn.ReLU(),
            nn.ConvTranspose2d(c1, IMAGE_SHAPE[0], k, stride=2, padding=pad),  # (B, 1, 28, 28)
        )
        self.to(memory_format=torch.channels_last)  # oneDNN runs these convolutions faster

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior parameters: x (B,1,28,28) -> mu (B,D), logvar (B,D) of q(z|x)."""
        check_image_shape(x)
        h = self.encoder(x)  # (B, hidden_dim)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """Bernoulli logits of p(x|z): z (..., D) -> logits (..., 1, 28, 28)."""
        if z.shape[-1] != self.latent_dim:
            raise InputError(
                f"z has last dimension {z.shape[-1]} but this model has latent_dim="
                f"{self.latent_dim}; pass a tensor of shape (B, {self.latent_dim})"
            )
        lead = z.shape[:-1]
        h = self.decoder_fc(z.reshape(-1, self.latent_dim))  # (N, C2*7*7)
        logits = self.decoder_conv(h.view(-1, *self.feature_shape))  # (N, 1, 28, 28)
        return logits.view(*lead, *IMAGE_SHAPE)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One reparameterized pass: x -> (logits (B,1,28,28), mu (B,D), logvar (B,D))."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)  # (B, D)
        return self.decode(z), mu, logvar

    def posterior(self, x: Tensor) -> Posterior:
        """q(z|x) of a batch, for `sample_posterior`: x (B,1,28,28) -> Posterior(mu, logvar)."""
        return Posterior(*self.encode(x))

    def sample_posterior(
        self, q: Posterior, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """S draws z ~ q(z|x) (eq. `reparam`) and their log q(z|x): (S,B,D), (S,B) nats."""
        z = reparameterize(q.mu, q.logvar, n_samples, generator)  # (S, B, D)
        return z, gaussian_log_prob(z, q.mu, q.logvar)

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z) of the standard normal prior: z (..., D) -> (...,) nats."""
        return gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z ~ N(0, I): (n, D) on the model's device (noise from a CPU `generator`)."""
        z = torch.randn(n, self.latent_dim, generator=generator)  # (n, D)
        return z.to(next(self.parameters()).device)


def reparameterize(
    mu: Tensor,
    logvar: Tensor,
    n_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw z ~ q(z|x) as a differentiable function of (mu, logvar), eq. `reparam`.

    z = mu + sigma * eps with eps ~ N(0, I) and sigma = exp(logvar / 2).

    Args:
        mu, logvar: (B, D) posterior parameters.
        n_samples: None for one sample of shape (B, D); S for S samples, shape (S, B, D).
        generator: optional torch.Generator for the noise (reproducible evaluation).
    """
    shape = mu.shape if n_samples is None else (n_samples, *mu.shape)
    eps = torch.randn(shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps  # eq. reparam


def gaussian_log_prob(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag(exp(logvar))) = -1/2 sum_j ((z_j - mu_j)^2 / sigma_j^2 + log sigma_j^2
    + log 2 pi): z (..., D), mu and logvar broadcastable -> (...,) nats."""
    return -0.5 * ((z - mu).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


def encode(model: VAE, x: Tensor) -> tuple[Tensor, Tensor]:
    """Function form of `VAE.encode`: x (B,1,28,28) -> mu (B,D), logvar (B,D) of q(z|x)."""
    return model.encode(x)


def decode(model: VAE, z: Tensor) -> Tensor:
    """Function form of `VAE.decode`: z (..., D) -> Bernoulli logits (..., 1, 28, 28)."""
    return model.decode(z)


def check_image_shape(x: Tensor) -> None:
    """Raise `InputError` unless x is a floating tensor of shape (B, 1, 28, 28)."""
    if not isinstance(x, Tensor):
        raise InputError(f"expected a torch.Tensor of images, got {type(x).__name__}")
    if x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        hint = " (add the channel axis with x.unsqueeze(1))" if x.dim() == 3 else ""
        raise InputError(f"expected images of shape (B, 1, 28, 28), got {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise InputError(
            f"expected floating-point images in [0, 1], got dtype {x.dtype}; "
            "convert uint8 pixels with x.float() / 255"
        )


def check_images(x: Tensor) -> None:
    """Raise `InputError` unless x is (B,1,28,28), finite, with every value in [0, 1]."""
    check_image_shape(x)
    if not torch.isfinite(x).all():
        raise InputError("images contain NaN or infinite values; clean the input first")
    lo, hi = x.min().item(), x.max().item()
    if lo < 0.0 or hi > 1.0:
        raise InputError(
            f"image values must lie in [0, 1] (Bernoulli likelihood), got range "
            f"[{lo:.3g}, {hi:.3g}]; divide uint8 pixels by 255"
        )


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode and no-grad for the block, then restore its mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def layer_shapes(model: VAE, batch_size: int = 1) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, layer type, output shape) of every leaf layer, in the order data flows.

    Runs `encode` then `decode` on a (batch_size, 1, 28, 28) batch of zeros with forward
    hooks; the decoder is fed the posterior mean.
    """
    rows: list[tuple[str, str, tuple[int, ...]]] = []
    hooks = [
        module.register_forward_hook(
            lambda mod, _inp, out, name=name: rows.append(
                (name, type(mod).__name__, tuple(out.shape))
            )
        )
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    try:
        with evaluating(model):
            mu, _ = model.encode(torch.zeros(batch_size, *IMAGE_SHAPE))
            model.decode(mu)
    finally:
        for hook in hooks:
            hook.remove()
    return rows
