"""Shipped models against their metrics files; the book's sizes and cached runs."""

from __future__ import annotations

import importlib
import math
import signal
from pathlib import Path

import pytest
import torch
from conftest import TINY

from vae_tutorial import CheckpointError, TrainConfig, log_likelihood
from vae_tutorial import book as book_module
from vae_tutorial.book import FULL, QUICK, cached_train, run_dir, sizes
from vae_tutorial.checkpoint import load_checkpoint
from vae_tutorial.data import fixed_binarization, load_mnist, seeded_generator
from vae_tutorial.evaluate import evaluate_elbo
from vae_tutorial.pretrained import ELBO_CHECK_IMAGES, available, export, metrics, pretrained

ELBO_TOLERANCE = 0.1  # nats per image; the check is deterministic on one machine
NLL_CHECK_IMAGES = 100


def test_the_book_models_ship() -> None:
    assert {"mnist-z16", "mnist-z2", "mnist-best"} <= set(available())


@pytest.mark.parametrize("name", available())
def test_shipped_model_matches_its_metrics_file(name: str) -> None:
    info = metrics(name)
    model = pretrained(name)
    assert not model.training and model.latent_dim == info["model_config"]["latent_dim"]
    x = fixed_binarization(load_mnist("test").images[:ELBO_CHECK_IMAGES])
    terms = evaluate_elbo(model, x)
    elbo = terms.elbo.mean().item()
    assert elbo == pytest.approx(info[f"test_elbo_first_{ELBO_CHECK_IMAGES}"], abs=ELBO_TOLERANCE)
    assert info["k"] >= 1000 and info["n_test_images"] == 10_000
    # The full-test-set means against the first 1000 images, recomputed: within four
    # standard errors of the slice's mean (a sample of the set the file averages over).
    for key, values in [("test_elbo", terms.elbo), ("test_recon_ll", terms.recon_ll),
                        ("test_kl", terms.kl)]:  # fmt: skip
        stderr = values.std().item() / ELBO_CHECK_IMAGES**0.5
        assert abs(values.mean().item() - info[key]) < 4 * stderr, key
    # The NLL: the gap -ELBO - NLL per image, recomputed with the file's k on a slice
    # (fixed seed); the gap varies far less between images than the NLL itself.
    n = NLL_CHECK_IMAGES
    with torch.no_grad():
        ll = log_likelihood(model, x[:n], k=info["k"], generator=seeded_generator(5))
    gap = -terms.elbo[:n] + ll  # (n,) = -ELBO - NLL of each image
    stderr = gap.std().item() / n**0.5
    assert abs(gap.mean().item() - (-info["test_elbo"] - info["test_nll"])) < 4 * stderr
    assert info["test_bits_per_dim"] == pytest.approx(info["test_nll"] / (784 * math.log(2)))
    assert info["command"].startswith("vae-tutorial train --config configs/")
    assert Path(__file__).parents[1].joinpath(info["command"].split()[3]).is_file()


def test_unknown_pretrained_name_is_refused() -> None:
    with pytest.raises(CheckpointError, match="no shipped model named 'mnist-z99'"):
        pretrained("mnist-z99")


def test_export_writes_float16_weights_and_metrics(tiny_run: Path, tmp_path: Path) -> None:
    info = export(tiny_run, "tiny", "vae-tutorial train ...", k=2, folder=tmp_path, progress=False)
    payload = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in payload["model"].values())
    assert (tmp_path / "tiny.json").exists() and info["k"] == 2
    assert info["test_nll"] is not None and info["weights"] == "float16"


def test_quick_mode_changes_sizes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(book_module.QUICK_ENV_VAR, raising=False)
    assert sizes() == FULL and FULL.train_subset is None
    monkeypatch.setenv(book_module.QUICK_ENV_VAR, "1")
    assert sizes() == QUICK and QUICK.train_subset < 60_000
    assert 0 < QUICK.hand_loop_steps < FULL.hand_loop_steps


def test_cached_train_trains_once(monkeypatch: pytest.MonkeyPatch) -> None:
    config = TrainConfig(**TINY)
    assert run_dir(config) != run_dir(TrainConfig(**{**TINY, "seed": 1}))
    model, history = cached_train(config, progress=False)
    calls = []
    monkeypatch.setattr(book_module, "train", lambda *a, **k: calls.append(1))
    again, history_again = cached_train(config, progress=False)
    assert calls == [] and history_again == history
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_pretrained_is_callable_from_the_package_root() -> None:
    import vae_tutorial

    model = vae_tutorial.pretrained("mnist-z2")
    assert isinstance(model, vae_tutorial.VAE) and model.latent_dim == 2


def test_retrain_env_var_trains_the_recorded_config(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = {**metrics("mnist-z2"), "train_config": {**TINY, "model": {"latent_dim": 2}}}
    monkeypatch.setattr(book_module, "metrics", lambda name: recorded)
    monkeypatch.delenv(book_module.RETRAIN_ENV_VAR, raising=False)
    shipped = book_module.model_for_chapter("mnist-z2", progress=False)
    monkeypatch.setenv(book_module.RETRAIN_ENV_VAR, "1")
    retrained = book_module.model_for_chapter("mnist-z2", progress=False)
    assert (
        run_dir(TrainConfig.from_dict(recorded["train_config"])).joinpath("checkpoint.pt").exists()
    )
    assert not torch.equal(retrained.fc_mu.weight, shipped.fc_mu.weight)
    x = fixed_binarization(load_mnist("test").images[:64])
    assert evaluate_elbo(retrained, x).elbo.mean() < evaluate_elbo(shipped, x).elbo.mean()


def test_ordering_settles_finds_the_last_change_of_ranking() -> None:
    from vae_tutorial.book import ordering_settles

    curves = {"a": [1.0, 5.0, 5.0, 6.0], "b": [2.0, 3.0, 7.0, 7.0], "c": [3.0, 4.0, 9.0, 9.5]}
    assert ordering_settles(curves) == 3  # epoch 2 ranks b, c, a; epochs 3 and 4 rank a, b, c
    assert ordering_settles({"a": [1.0, 2.0], "b": [3.0, 4.0]}) == 1
    assert ordering_settles({"a": [2.0, 1.0], "b": [1.0, 2.0]}) == 2
    with pytest.raises(ValueError, match="same number of epochs"):
        ordering_settles({"a": [1.0], "b": [1.0, 2.0]})


def test_thumbnails_round_trip_to_the_nearest_grey_level() -> None:
    from vae_tutorial.book import decode_thumbnails, encode_thumbnails

    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    back = decode_thumbnails(encode_thumbnails(images))
    assert back.shape == (3, 1, 28, 28)
    assert (back - images).abs().max() <= 0.5 / 255 + 1e-6


def test_chapter9_results_match_the_configs_that_produce_them() -> None:
    from vae_tutorial.book import shipped_results

    runs = shipped_results("chapter9")["runs"]
    configs = Path(__file__).parents[1] / "configs" / "ch9"
    assert {"beta-0", "beta-1", "beta-4", "warmup-5", "free-bits-0.5"} <= set(runs)
    for name, run in runs.items():
        config = TrainConfig.from_toml(configs / f"{name}.toml")
        assert TrainConfig.from_dict(run["train_config"]) == config, name
        assert (
            run["command"]
            == f"vae-tutorial train --config configs/ch9/{name}.toml --out runs/ch9/{name}"
        )
        assert config.validation, f"{name} makes its choices on the validation set"
        assert "test_elbo" not in run["epochs"], "the curves never look at the test set"
        assert len(run["epochs"]["validation_elbo"]) == config.epochs, "the run finished"
        terms = ("validation_elbo", "validation_recon_ll", "validation_kl")
        elbo, recon, kl = (run["epochs"][k][-1] for k in terms)
        assert elbo == pytest.approx(recon - kl, abs=1e-3) and kl >= 0
        test = run["test"]
        assert test["n_images"] == 10_000 and test["kl"] >= 0
        assert test["elbo"] == pytest.approx(test["recon_ll"] - test["kl"], abs=1e-3)
        nll = run["nll"]  # on the first n_images test images, with the ELBO of the same images
        assert nll["value"] > 0 and nll["se"] > 0 and nll["elbo_se"] > 0 and nll["gap_se"] > 0
        assert nll["gap"] == pytest.approx(-nll["value"] - nll["elbo"], abs=1e-3)
        assert nll["gap"] > 0, "the importance-sampled estimate lies above the ELBO"
    with pytest.raises(FileNotFoundError, match="no shipped results"):
        shipped_results("chapter99")


@pytest.mark.parametrize("name", ["beta-0", "beta-1", "beta-4", "warmup-5", "free-bits-0.5"])
def test_chapter9_runs_start_as_their_configs_train(name: str, tmp_path: Path, monkeypatch) -> None:
    """The first window of each shipped run, recomputed: its config trained for that many
    steps (then stopped as Ctrl-C stops it) logs the same mean ELBO, KL and beta."""
    from vae_tutorial.book import shipped_results

    train_module = importlib.import_module("vae_tutorial.train")  # the package exports train()

    run = shipped_results("chapter9")["runs"][name]
    window = run["steps"]["window"]
    real_step, calls = train_module.train_step, []

    def step_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == window:
            signal.raise_signal(signal.SIGINT)  # handled by train(): stop after this step
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", step_then_stop)
    config = TrainConfig.from_dict(run["train_config"])
    with pytest.raises(train_module.TrainingInterrupted):
        train_module.train(config, tmp_path, progress=False)
    steps = load_checkpoint(tmp_path / "checkpoint.pt")["history"]["steps"]
    assert len(steps["elbo"]) == window
    for key in ("elbo", "kl", "beta"):
        recomputed = sum(steps[key]) / window
        assert recomputed == pytest.approx(run["steps"][key][0], rel=1e-4, abs=1e-5), key
