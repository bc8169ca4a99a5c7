"""Using a trained VAE: samples from the prior, reconstructions and latent interpolation.

Holds `sample` (z ~ N(0, I) through the decoder), `reconstruct`, the latent paths
`lerp` and `slerp`, and `interpolate` between the posterior means of two images. It
does not hold the model (`model.py`), the objective (`elbo.py`) or plotting
(`plotting.py`). All functions run without gradients and leave the model's mode as
they found it.

References: Kingma & Welling (2014); White (2016), Sampling Generative Networks
(spherical interpolation).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .errors import InputError
from .model import IMAGE_SHAPE, VAE, check_images, evaluating

IMAGE_NUMEL = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]

PathKind = Literal["linear", "slerp"]


class Samples(NamedTuple):
    """Decoder outputs for n latent codes, each (n, 1, 28, 28).

    mean: the Bernoulli means p = sigmoid(logits), the usual "sample" picture.
    binary: one binary draw x ~ Bernoulli(p), a true sample of p(x|z).
    """

    mean: Tensor
    binary: Tensor


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def decode_probs(model: VAE, z: Tensor) -> Tensor:
    """Bernoulli means sigmoid(decode(z)) for z (..., D) -> (..., 1, 28, 28), no grad."""
    with evaluating(model):
        return torch.sigmoid(model.decode(z.to(_device(model))))


def sample(model: VAE, n: int, generator: torch.Generator | None = None) -> Samples:
    """Draw n images from the model: z ~ p(z), x ~ p(x|z), eq. `generative-model`.

    Args:
        model: a VAE.
        n: number of samples.
        generator: optional CPU torch.Generator for the prior and pixel draws.

    Returns:
        Samples(mean, binary), each (n, 1, 28, 28) on the model's device.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    z = model.sample_prior(n, generator)  # (n, D) from the prior
    mean = decode_probs(model, z)
    binary = torch.bernoulli(mean.cpu(), generator=generator).to(mean.device)
    return Samples(mean, binary)


def reconstruct(
    model: VAE, x: Tensor, use_mean: bool = True, generator: torch.Generator | None = None
) -> Tensor:
    """Bernoulli means of p(x|z) at z = mu(x), or at one draw z ~ q(z|x).

    Args:
        x: (B, 1, 28, 28) images in [0, 1].
        use_mean: decode the posterior mean mu (deterministic) rather than a draw; a draw
            comes from the model's own posterior sampler (with its flow, if it has one).
        generator: optional torch.Generator for the draw.

    Returns:
        (B, 1, 28, 28) probabilities.
    """
    check_images(x)
    with evaluating(model):
        q = model.posterior(x.to(_device(model)))
        z = q.mu if use_mean else model.sample_posterior(q, 1, generator)[0][0]  # (B, D)
        return torch.sigmoid(model.decode(z))


def lerp(z_a: Tensor, z_b: Tensor, t: Tensor) -> Tensor:
    """Linear path (1 - t) z_a + t z_b: z_a, z_b (D,), t (T,) -> (T, D)."""
    t = t[:, None]  # (T, 1)
    return (1.0 - t) * z_a + t * z_b


def slerp(z_a: Tensor, z_b: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical path along the great circle from z_a to z_b, eq. `slerp`.

    slerp(t) = sin((1-t) omega)/sin(omega) z_a + sin(t omega)/sin(omega) z_b,
    omega = angle(z_a, z_b). Falls back to `lerp` when the two are (anti)parallel.
    Shapes: z_a, z_b (D,), t (T,) -> (T, D).
    """
    cos = torch.dot(z_a, z_b) / (z_a.norm() * z_b.norm()).clamp_min(eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < 1e-4:
        return lerp(z_a, z_b, t)
    t = t[:, None]  # (T, 1)
    return (torch.sin((1.0 - t) * omega) * z_a + torch.sin(t * omega) * z_b) / torch.sin(omega)


def latent_path(z_a: Tensor, z_b: Tensor, steps: int, kind: PathKind = "linear") -> Tensor:
    """`steps` points from z_a to z_b (both included) along a linear or spherical path."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two end points), got {steps}")
    if kind not in ("linear", "slerp"):
        raise ValueError(f"kind must be 'linear' or 'slerp', got {kind!r}")
    t = torch.linspace(0.0, 1.0, steps, dtype=z_a.dtype, device=z_a.device)
    return (lerp if kind == "linear" else slerp)(z_a, z_b, t)


def interpolate(
    model: VAE, x_a: Tensor, x_b: Tensor, steps: int = 10, kind: PathKind = "linear"
) -> Tensor:
    """Decode a path between the posterior means of two images.

    Args:
        x_a, x_b: single images, (1, 28, 28) or (1, 1, 28, 28), values in [0, 1].
        steps: number of frames, end points included.
        kind: "linear" or "slerp".

    Returns:
        (steps, 1, 28, 28) Bernoulli means; frame 0 decodes mu(x_a), frame -1 mu(x_b).
    """
    for name, image in (("x_a", x_a), ("x_b", x_b)):
        if image.numel() != IMAGE_NUMEL:
            raise InputError(
                f"{name} must be one 28x28 image, shape (1, 28, 28), got {tuple(image.shape)}"
            )
    pair = torch.stack([x_a, x_b]).reshape(2, *IMAGE_SHAPE)  # (2, 1, 28, 28)
    check_images(pair)
    with evaluating(model):
        mu, _ = model.encode(pair.to(_device(model)))  # (2, D)
    return decode_probs(model, latent_path(mu[0], mu[1], steps, kind))
