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


def test_interpolate_defaults_to_ten_frames_on_the_straight_line(model: VAE) -> None:
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        mu = model.encode(x)[0].double()  # (2, D)
    t = torch.arange(10, dtype=torch.float64)[:, None] / 9  # by hand: 0, 1/9, ..., 1
    path = ((1 - t) * mu[0] + t * mu[1]).float()  # (10, D)
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(path))
    torch.testing.assert_close(interpolate(model, x[0], x[1]), expected, atol=1e-5, rtol=1e-4)


def test_interpolate_names_the_image_that_is_not_one_image(model: VAE) -> None:
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(InputError, match=r"^x_a must be one 28x28 image"):
        interpolate(model, x, x[1])
    with pytest.raises(InputError, match=r"^x_b must be one 28x28 image"):
        interpolate(model, x[0], x)


def test_latent_path_of_two_steps_is_the_two_end_points_in_their_dtype() -> None:
    a, b = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 3.0, 1.0])
    torch.testing.assert_close(latent_path(a, b, 2), torch.stack([a, b]), rtol=0, atol=0)
    a64, b64 = a.double(), b.double()
    path = latent_path(a64, b64, 4)
    assert path.dtype == torch.float64
    t = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)[:, None] / 3
    torch.testing.assert_close(path, (1 - t) * a64 + t * b64, rtol=1e-15, atol=1e-15)


def test_reconstruct_from_a_draw_decodes_mu_plus_sigma_eps() -> None:
    torch.manual_seed(0)
    model = VAE(latent_dim=4)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        eps = torch.randn(1, 3, 4, generator=torch.Generator().manual_seed(5))[0]
        expected = torch.sigmoid(model.decode(mu + torch.exp(0.5 * logvar) * eps))
    got = reconstruct(model, x, use_mean=False, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(got, reconstruct(model, x), atol=1e-4)


def test_slerp_of_short_vectors_follows_their_angle() -> None:
    """Norms well below 1: the eps guard of the denominator must not change the angle."""
    a, b = torch.tensor([0.3, 0.0]), torch.tensor([0.2, 0.2])
    omega = math.pi / 4  # by hand: the angle between (1, 0) and (1, 1)
    t = torch.tensor([0.0, 0.5, 1.0])
    expected = torch.stack(
        [(math.sin((1 - s) * omega) * a + math.sin(s * omega) * b) / math.sin(omega) for s in t]
    )
    torch.testing.assert_close(slerp(a, b, t), expected)


@pytest.mark.parametrize("scale", [3.0, -3.0])
def test_slerp_of_parallel_vectors_whose_cosine_rounds_past_one(scale: float) -> None:
    """For (1, 1, 1) and ±3 (1, 1, 1) float32 gives cos = ±1.0000001: clamped, not NaN."""
    a = torch.ones(3)
    cos = torch.dot(a, scale * a) / (a.norm() * (scale * a).norm())
    assert abs(cos.item()) > 1.0  # the case this test is about
    t = torch.linspace(0, 1, 5)
    torch.testing.assert_close(
        slerp(a, scale * a, t), (1 - t)[:, None] * a + t[:, None] * scale * a
    )


def test_one_sample_is_fine_and_zero_is_refused_by_name(model: VAE) -> None:
    assert sample(model, 1).mean.shape == (1, 1, 28, 28)
    with pytest.raises(ValueError, match=r"^n must be at least 1, got 0$"):
        sample(model, 0)


def test_the_pixel_draws_come_from_the_generator_after_the_prior_draws(model: VAE) -> None:
    """By hand: z ~ N(0, I), then x ~ Bernoulli(sigmoid(decode(z))), one CPU generator."""
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(5, 4, generator=gen)
    with torch.no_grad():
        mean = torch.sigmoid(model.decode(z))
    binary = torch.bernoulli(mean, generator=gen)
    torch.manual_seed(99)  # the global stream must not matter
    got = sample(model, 5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(got.mean, mean)
    assert torch.equal(got.binary, binary)
