"""sample, reconstruct and interpolate."""

from __future__ import annotations

import math

import pytest
import torch

from vae_tutorial import VAE, InputError, interpolate, reconstruct, sample
from vae_tutorial.sampling import decode_probs, latent_path, slerp


def test_sample_returns_means_and_binary_draws(model: VAE) -> None:
    samples = sample(model, 10, generator=torch.Generator().manual_seed(0))
    assert samples.mean.shape == samples.binary.shape == (10, 1, 28, 28)
    assert samples.mean.min() >= 0 and samples.mean.max() <= 1
    assert set(samples.binary.unique().tolist()) <= {0.0, 1.0}
    again = sample(model, 10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(samples.mean, again.mean)
    assert model.training, "sample must restore the model's mode"


def test_sample_draws_z_from_the_standard_normal_prior(model: VAE, monkeypatch) -> None:
    seen: list[torch.Tensor] = []
    decode = model.decode
    monkeypatch.setattr(model, "decode", lambda z: seen.append(z) or decode(z))
    sample(model, 20_000, generator=torch.Generator().manual_seed(1))
    z = seen[0]
    assert z.shape == (20_000, 4)
    torch.testing.assert_close(z.mean(0), torch.zeros(4), atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(4), atol=0.03, rtol=0)


def test_binary_samples_follow_the_means(model: VAE) -> None:
    torch.manual_seed(0)
    samples = sample(model, 4000, generator=torch.Generator().manual_seed(2))
    freq, mean = samples.binary.mean(0), samples.mean.mean(0)
    assert (freq - mean).abs().max() < 0.05


def test_reconstruct_decodes_the_posterior_mean(model: VAE) -> None:
    x = torch.rand(3, 1, 28, 28)
    mu, _ = model.encode(x)
    torch.testing.assert_close(reconstruct(model, x), torch.sigmoid(model.decode(mu)))


@pytest.mark.parametrize("kind", ["linear", "slerp"])
def test_interpolation_starts_and_ends_at_the_two_posterior_means(model: VAE, kind: str) -> None:
    x = torch.rand(2, 1, 28, 28)
    frames = interpolate(model, x[0], x[1], steps=7, kind=kind)
    assert frames.shape == (7, 1, 28, 28)
    ends = decode_probs(model, model.encode(x)[0])
    torch.testing.assert_close(frames[[0, -1]], ends, atol=1e-5, rtol=1e-4)


def test_linear_path_midpoint_and_slerp_norm() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    torch.testing.assert_close(latent_path(a, b, 3)[1], torch.tensor([0.5, 0.5]))
    path = slerp(a, b, torch.linspace(0, 1, 9))
    torch.testing.assert_close(path.norm(dim=1), torch.ones(9))
    torch.testing.assert_close(path[4], torch.tensor([2**-0.5, 2**-0.5]))


def test_paths_between_unequal_end_points_weigh_each_end_correctly() -> None:
    a, b = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])  # unequal norms, 90 degrees
    t = torch.tensor([0.25])
    torch.testing.assert_close(latent_path(a, b, 5)[1], torch.tensor([1.5, 0.25]))
    expected = math.sin(0.75 * math.pi / 2) * a + math.sin(0.25 * math.pi / 2) * b  # eq. slerp
    torch.testing.assert_close(slerp(a, b, t)[0], expected)
    torch.testing.assert_close(latent_path(a, b, 5, "slerp")[1], expected)


def test_slerp_of_parallel_vectors_falls_back_to_linear() -> None:
    a = torch.tensor([1.0, 2.0])
    torch.testing.assert_close(latent_path(a, 3 * a, 3, "slerp")[1], 2 * a)


def test_interpolate_refuses_bad_arguments(model: VAE) -> None:
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match="steps"):
        interpolate(model, x[0], x[1], steps=1)
    with pytest.raises(ValueError, match="kind"):
        interpolate(model, x[0], x[1], kind="cubic")
    with pytest.raises(InputError, match="one 28x28 image"):
        interpolate(model, x, x[1])
