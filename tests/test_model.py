"""The VAE's shapes, dtypes, gradients and input checks."""

from __future__ import annotations

import pytest
import torch

from vae_tutorial import VAE, InputError, VAEConfig, calc_elbo
from vae_tutorial.advanced import AdvancedVAE, AdvancedVAEConfig
from vae_tutorial.model import reparameterize


def test_shapes_and_dtypes(model: VAE) -> None:
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 4) and mu.dtype == torch.float32
    assert model.decode(mu).shape == (5, 1, 28, 28)
    assert model.decode(torch.randn(3, 5, 4)).shape == (3, 5, 1, 28, 28)
    logits, mu2, logvar2 = model(x)
    assert logits.shape == x.shape and mu2.shape == (5, 4) and logvar2.shape == (5, 4)


def test_default_latent_size_is_16() -> None:
    assert VAE().latent_dim == 16 and VAE().fc_mu.out_features == 16


def test_residual_variant_keeps_shapes() -> None:
    config = AdvancedVAEConfig(latent_dim=8, channels=(16, 32), hidden_dim=64, res_blocks=2)
    model = AdvancedVAE(config=config)
    assert model.decode(model.encode(torch.rand(2, 1, 28, 28))[0]).shape == (2, 1, 28, 28)


def test_float64_model_keeps_its_dtype(model: VAE) -> None:
    model = model.double()
    result = calc_elbo(model, torch.rand(2, 1, 28, 28, dtype=torch.float64))
    assert result.elbo.dtype == torch.float64


def test_gradients_flow_through_the_reparameterization(model: VAE) -> None:
    x = torch.bernoulli(torch.rand(4, 1, 28, 28))
    calc_elbo(model, x).recon_ll.sum().backward()  # the KL term is left out on purpose
    assert model.fc_mu.weight.grad.abs().sum() > 0
    assert model.fc_logvar.weight.grad.abs().sum() > 0


def test_reparameterize_has_the_posterior_moments() -> None:
    mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, 1.0]])
    z = reparameterize(mu, logvar, n_samples=100_000, generator=torch.Generator().manual_seed(0))
    assert z.shape == (100_000, 1, 2)
    torch.testing.assert_close(z.mean(0), mu, atol=0.03, rtol=0)
    torch.testing.assert_close(z.var(0), logvar.exp(), atol=0.05, rtol=0.02)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (
            torch.rand(3, 28, 28),
            r"^expected images of shape \(B, 1, 28, 28\), got \(3, 28, 28\) "
            r"\(add the channel axis with x.unsqueeze\(1\)\)$",
        ),
        (
            torch.rand(3, 1, 32, 32),
            r"^expected images of shape \(B, 1, 28, 28\), got \(3, 1, 32, 32\)$",
        ),
        (torch.rand(3, 1, 28, 28).tolist(), "^expected a torch.Tensor of images, got list$"),
        (
            torch.linspace(0.0, 1.5, 3 * 784).reshape(3, 1, 28, 28),
            r"^image values must lie in \[0, 1\] \(Bernoulli likelihood\), got range \[0, 1.5\]",
        ),
        (torch.rand(3, 1, 28, 28) * 255, r"\[0, 1\].*divide"),
        (
            torch.full((2, 1, 28, 28), float("nan")),
            "^images contain NaN or infinite values; clean the input first$",
        ),
        (
            torch.randint(0, 2, (2, 1, 28, 28)),
            r"^expected floating-point images in \[0, 1\], got dtype torch.int64; "
            r"convert uint8 pixels with x.float\(\) / 255$",
        ),
    ],
)
def test_bad_images_are_refused_with_a_clear_error(
    model: VAE, x: torch.Tensor, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        calc_elbo(model, x)


def test_sample_posterior_draws_once_by_default(model: VAE) -> None:
    q = model.posterior(torch.rand(3, 1, 28, 28))
    z, log_q = model.sample_posterior(q, generator=torch.Generator().manual_seed(0))
    assert z.shape == (1, 3, model.latent_dim) and log_q.shape == (1, 3)


def test_wrong_latent_size_is_refused(model: VAE) -> None:
    with pytest.raises(InputError, match="latent_dim=4"):
        model.decode(torch.randn(2, 16))
    with pytest.raises(InputError) as info:
        model.decode(torch.randn(5, 2, 16))  # (S, B, D) draws of the wrong size
    assert str(info.value) == (
        "z has last dimension 16 but this model has latent_dim=4; pass a tensor of shape (B, 4)"
    )


def test_the_convolutions_hold_their_weights_channels_last(model: VAE) -> None:
    """The layout oneDNN runs fastest on CPUs (the model's constructor sets it)."""
    convs = [
        m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)
    ]
    assert convs
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)


@pytest.mark.parametrize(
    "kwargs",
    [{"latent_dim": 0}, {"channels": (32,)}, {"hidden_dim": 0}, {"kernel_size": 3}],
)
def test_invalid_configs_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        VAEConfig(**kwargs)


def test_the_smallest_config_is_allowed_and_each_refusal_says_why() -> None:
    model = VAE(config=VAEConfig(latent_dim=1, channels=(1, 1), hidden_dim=1, kernel_size=2))
    assert model.encode(torch.rand(2, 1, 28, 28))[0].shape == (2, 1)
    refusals = {
        "latent_dim": (0, "latent_dim must be at least 1, got 0"),
        "channels": ((4, 0), "channels must be two positive numbers (28 -> 14 -> 7), got (4, 0)"),
        "hidden_dim": (0, "hidden_dim must be positive, got 0"),
        "kernel_size": (
            3,
            "kernel_size must be an even number >= 2 (so that stride 2 halves 28 -> 14 -> 7), "
            "got 3",
        ),
    }
    for field, (value, message) in refusals.items():
        with pytest.raises(ValueError) as info:
            VAEConfig(**{field: value})
        assert str(info.value) == message


def test_public_api_is_exported() -> None:
    import vae_tutorial
    from vae_tutorial import decode, encode

    for name in ("VAE", "encode", "decode", "calc_elbo", "log_likelihood", "sample"):
        assert name in vae_tutorial.__all__ and hasattr(vae_tutorial, name)
    model, x = VAE(latent_dim=3), torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(encode(model, x)[0], model.encode(x)[0])
    z = torch.zeros(2, 3)
    torch.testing.assert_close(decode(model, z), model.decode(z))


def test_layer_shapes_lists_every_leaf_layer_with_its_output_shape(model: VAE) -> None:
    """Against an independent walk: the leaf modules in data-flow order, shapes by hand."""
    from vae_tutorial.model import layer_shapes

    model.train()
    rows = layer_shapes(model, batch_size=3)
    assert model.training  # evaluated in eval mode, then put back
    c1, c2 = model.config.channels
    hidden, d = model.config.hidden_dim, model.latent_dim
    expected = [
        ("encoder.0", "Conv2d", (3, c1, 14, 14)),
        ("encoder.1", "ReLU", (3, c1, 14, 14)),
        ("encoder.2", "Conv2d", (3, c2, 7, 7)),
        ("encoder.3", "ReLU", (3, c2, 7, 7)),
        ("encoder.4", "Flatten", (3, c2 * 49)),
        ("encoder.5", "Linear", (3, hidden)),
        ("encoder.6", "ReLU", (3, hidden)),
        ("fc_mu", "Linear", (3, d)),
        ("fc_logvar", "Linear", (3, d)),
        ("decoder_fc.0", "Linear", (3, hidden)),
        ("decoder_fc.1", "ReLU", (3, hidden)),
        ("decoder_fc.2", "Linear", (3, c2 * 49)),
        ("decoder_fc.3", "ReLU", (3, c2 * 49)),
        ("decoder_conv.0", "ConvTranspose2d", (3, c1, 14, 14)),
        ("decoder_conv.1", "ReLU", (3, c1, 14, 14)),
        ("decoder_conv.2", "ConvTranspose2d", (3, 1, 28, 28)),
    ]
    assert rows == expected
    assert layer_shapes(model)[0][2][0] == 1  # one image by default
    # The hooks are removed: a later pass adds no rows.
    model(torch.rand(2, 1, 28, 28))
    assert len(rows) == len(expected)
