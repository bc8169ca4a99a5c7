"""Training end to end on real MNIST, checkpoints, resuming, and the refusals."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import io
import math
import os
import re
import signal
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import TINY

from vae_tutorial import (
    VAE,
    CheckpointError,
    TrainConfig,
    TrainingDivergedError,
    VAEConfig,
    calc_elbo,
    load_model,
    train,
)
from vae_tutorial.advanced import IWAEObjective
from vae_tutorial.advanced.model import AdvancedVAEConfig
from vae_tutorial.checkpoint import (
    CHECKPOINT_FORMAT_VERSION,
    load_checkpoint,
    load_into,
    save_checkpoint,
)
from vae_tutorial.data import (
    DataError,
    fixed_binarization,
    load_mnist,
    resolve_data_dir,
    seeded_generator,
    split_validation,
)
from vae_tutorial.evaluate import evaluate_elbo
from vae_tutorial.train import (
    FreeBitsObjective,
    History,
    TrainingInterrupted,
    VAEObjective,
    lr_at,
    make_objective,
    resolve_device,
    train_step,
)

train_module = importlib.import_module("vae_tutorial.train")  # the package exports train()


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_a_short_run_improves_the_test_elbo(tmp_path: Path, mnist_test_images) -> None:
    config = TrainConfig(**{**TINY, "subset": 512, "epochs": 3, "model": VAEConfig(latent_dim=8)})
    torch.manual_seed(config.seed)
    untrained = evaluate_elbo(VAE(config=config.model), mnist_test_images).elbo.mean()
    started = time.perf_counter()
    result = train(config, tmp_path, progress=False)
    assert 0 < result.seconds < time.perf_counter() - started
    assert result.model.latent_dim == 8 and all(
        w.is_contiguous(memory_format=torch.channels_last)
        for w in result.model.parameters()
        if w.dim() == 4
    )
    epochs, step_elbo = result.history.epochs, result.history.steps["elbo"]
    assert epochs["epoch"] == [0, 1, 2] and epochs["step"] == [8, 16, 24]  # index, steps done
    assert len(step_elbo) == 3 * 8  # 512 images in batches of 64
    assert set(result.history.steps) == {"step", "epoch", "elbo", "recon_ll", "kl", "beta"}
    assert result.history.steps["epoch"] == [e for e in range(3) for _ in range(8)]
    epoch_means = [sum(step_elbo[8 * e : 8 * (e + 1)]) / 8 for e in range(3)]
    assert epochs["train_elbo"] == pytest.approx(epoch_means, rel=1e-12)
    final = evaluate_elbo(result.model, mnist_test_images)  # eval_images: the same 256
    assert [epochs[f"test_{term}"][-1] for term in ("elbo", "recon_ll", "kl")] == pytest.approx(
        [getattr(final, term).mean().item() for term in ("elbo", "recon_ll", "kl")], rel=1e-6
    )
    test_elbo = epochs["test_elbo"]
    assert test_elbo[-1] > test_elbo[0] > untrained.item()
    assert test_elbo[-1] > -250, "three epochs on 512 images reach about -200 nats"
    assert (tmp_path / "history.json").exists()
    assert History.load(tmp_path / "history.json") == result.history


def test_checkpoint_round_trips_exactly(tiny_run: Path) -> None:
    ckpt = load_checkpoint(tiny_run)
    model = load_model(tiny_run)
    assert not model.training
    for key, value in ckpt["model"].items():
        assert torch.equal(model.state_dict()[key], value)
    assert TrainConfig.from_dict(ckpt["train_config"]) == TrainConfig(**TINY)
    assert ckpt["epoch"] == 1 and ckpt["step_in_epoch"] == 0 and ckpt["global_step"] == 4
    assert {"model", "optimizer", "history", "rng_torch"} <= ckpt.keys()


def test_kl_warmup_schedule() -> None:
    objective = VAEObjective(beta=2.0, warmup_steps=10)
    assert [objective.beta_at(s) for s in (0, 5, 10, 50)] == [0.0, 1.0, 2.0, 2.0]
    assert VAEObjective(beta=0.5).beta_at(0) == 0.5
    assert [VAEObjective(beta=0.5, warmup_steps=1).beta_at(s) for s in (0, 1)] == [0.0, 0.5]
    torch.manual_seed(0)
    x = torch.bernoulli(torch.rand(2, 1, 28, 28))
    _, metrics = objective(VAE(latent_dim=4), x, step=5)
    assert metrics["beta"] == 1.0  # the loss's weight at that step is what the log shows


def test_iwae_objective_matches_torch_distributions() -> None:
    torch.manual_seed(3)
    model = VAE(latent_dim=4)
    x = torch.bernoulli(torch.full((6, 1, 28, 28), 0.3))
    k = 7
    torch.manual_seed(11)
    loss, metrics = IWAEObjective(k)(model, x, step=0)
    torch.manual_seed(11)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        std = torch.exp(0.5 * logvar)
        z = mu + std * torch.randn(k, *mu.shape)  # (k, B, D), the same draws
        prior = torch.distributions.Normal(0.0, 1.0)
        posterior = torch.distributions.Normal(mu, std)
        logits = model.decode(z.flatten(0, 1)).view(k, 6, -1)
        log_px_z = torch.distributions.Bernoulli(logits=logits).log_prob(x.view(1, 6, -1)).sum(-1)
        log_w = log_px_z + prior.log_prob(z).sum(-1) - posterior.log_prob(z).sum(-1)  # (k, B)
        bound = torch.logsumexp(log_w, 0) - torch.log(torch.tensor(float(k)))
    torch.testing.assert_close(loss.detach(), -bound.mean(), rtol=1e-5, atol=1e-4)
    assert metrics["iwae"] == pytest.approx(bound.mean().item(), abs=1e-3)
    assert metrics["elbo"] == pytest.approx(log_w.mean().item(), abs=1e-3)
    assert metrics["iwae"] >= metrics["elbo"]
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_iwae_objective_refuses_a_kl_weight() -> None:
    with pytest.raises(ValueError, match=r"iwae_samples > 1 .* set beta = 1"):
        TrainConfig(iwae_samples=5, beta=0.5)
    with pytest.raises(ValueError, match="iwae_samples must be at least 1"):
        TrainConfig(iwae_samples=0)


def test_iwae_phase_config_and_learning_rate_schedule() -> None:
    config = TrainConfig(epochs=4, lr=1e-3, lr_schedule="cosine", iwae_samples=5,
                         iwae_from_epoch=2, iwae_lr=3e-4)  # fmt: skip
    assert [config.iwae_samples_at(e) for e in range(4)] == [1, 1, 5, 5]
    steps_per_epoch = 10
    lrs = [lr_at(config, step, steps_per_epoch) for step in (0, 10, 19, 20, 30, 39)]
    # Two cosine phases: 1e-3 over epochs 0-1, then 3e-4 over epochs 2-3.
    expected = [1e-3, 5e-4, 1e-3 * (1 + math.cos(math.pi * 19 / 20)) / 2, 3e-4, 1.5e-4,
                3e-4 * (1 + math.cos(math.pi * 19 / 20)) / 2]  # fmt: skip
    assert lrs == pytest.approx(expected)
    constant = TrainConfig(epochs=4, iwae_samples=5, iwae_from_epoch=2, iwae_lr=3e-4)
    assert [lr_at(constant, s, 10) for s in (0, 19, 20, 39)] == [1e-3, 1e-3, 3e-4, 3e-4]
    pair = TrainConfig(epochs=4, iwae_samples=2, iwae_from_epoch=2)  # no iwae_lr: lr goes on
    assert [pair.phase(e) for e in (1, 2)] == [(0, 2, 1e-3), (2, 4, 1e-3)]
    assert lr_at(config, 40, steps_per_epoch) == lr_at(config, 50, steps_per_epoch) == 0.0  # done
    whole_run = TrainConfig(epochs=4, iwae_samples=5, iwae_lr=3e-4, lr_schedule="cosine")
    assert whole_run.iwae_samples_at(0) == 5 and lr_at(whole_run, 0, 10) == pytest.approx(1e-3)
    for bad, message in [
        ({"iwae_from_epoch": 2}, "set iwae_samples > 1"),
        ({"iwae_samples": 5, "iwae_from_epoch": 4}, "less than epochs"),
        ({"iwae_samples": 5, "iwae_lr": 0.0}, "iwae_lr must be a positive number"),
        ({"iwae_samples": 5, "iwae_from_epoch": -1}, "non-negative"),
    ]:
        with pytest.raises(ValueError, match=message):
            TrainConfig(epochs=4, **bad)


def test_make_objective_builds_the_loss_the_config_asks_for_in_each_epoch() -> None:
    free = make_objective(TrainConfig(beta=0.5, free_bits=0.25), epoch=0, warmup_steps=7)
    assert type(free) is FreeBitsObjective
    assert (free.beta, free.warmup_steps, free.free_bits) == (0.5, 7, 0.25)
    plain = make_objective(TrainConfig(beta=0.5), epoch=0, warmup_steps=7)
    assert type(plain) is VAEObjective and (plain.beta, plain.warmup_steps) == (0.5, 7)
    phased = TrainConfig(epochs=2, iwae_samples=3, iwae_from_epoch=1)
    assert type(make_objective(phased, epoch=0, warmup_steps=0)) is VAEObjective
    iwae = make_objective(phased, epoch=1, warmup_steps=0)
    assert type(iwae) is IWAEObjective and iwae.iwae_samples == 3


def test_each_step_trains_at_the_scheduled_rate_and_checkpoints_on_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adam's lr at every step is lr_at's; a checkpoint every `checkpoint_every` steps inside
    an epoch, none at its last step (the end-of-epoch save follows) and one per epoch end."""
    config = TrainConfig(
        **{**TINY, "epochs": 2, "lr_schedule": "cosine", "checkpoint_every": 2, "warmup_epochs": 1}
    )
    lrs, saves = [], []
    step_of, save_of = train_module.train_step, train_module._save

    def recording_step(model, optimizer, objective, x, step):
        assert optimizer.defaults["fused"] is True  # one kernel per update, not a loop
        lrs.append(optimizer.param_groups[0]["lr"])
        return step_of(model, optimizer, objective, x, step)

    def recording_save(run, *args):
        saves.append((run.epoch, run.step_in_epoch))
        save_of(run, *args)

    monkeypatch.setattr(train_module, "train_step", recording_step)
    monkeypatch.setattr(train_module, "_save", recording_save)
    result = train(config, tmp_path, progress=False)
    assert result.history.steps["beta"] == [min(1.0, step / 4) for step in range(8)]  # warm-up
    assert lrs == [lr_at(config, step, 4) for step in range(8)]  # 256 images, batches of 64
    assert len(set(lrs)) == 8  # the cosine changes it at every step
    assert saves == [(0, 2), (1, 0), (1, 2), (2, 0)]  # global steps 2 and 6, the epochs' ends


INF, NAN = float("inf"), float("nan")
REFUSED_CONFIGS = [
    ({"model": 16}, "model must be a VAEConfig or a dict of one"),
    ({"epochs": 0}, "epochs must be at least 1"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"lr": 0.0}, "lr must be a positive number"),
    ({"lr": INF}, "lr must be a positive number"),
    ({"seed": -1}, "seed must be non-negative"),
    ({"lr_schedule": "step"}, "lr_schedule must be one of ('constant', 'cosine')"),
    ({"beta": -0.5}, "beta must be non-negative"),
    ({"beta": INF}, "beta must be non-negative"),
    ({"warmup_epochs": -1}, "warmup_epochs must be non-negative"),
    ({"free_bits": NAN}, "free_bits must be a non-negative number of nats per dimension"),
    (
        {"free_bits": 0.5, "iwae_samples": 2},
        "free_bits needs the plain VAE's closed-form KL: use it with iwae_samples = 1 "
        "and no residual blocks or flows, or set free_bits = 0",
    ),
    ({"iwae_samples": 0}, "iwae_samples must be at least 1 (1 = the ELBO)"),
    (
        {"iwae_samples": 2, "beta": 0.5},
        "iwae_samples > 1 trains the IWAE bound, which has no KL weight: "
        "set beta = 1 and warmup_epochs = 0, or iwae_samples = 1",
    ),
    ({"iwae_from_epoch": -1}, "iwae_from_epoch must be non-negative"),
    (
        {"iwae_from_epoch": 2, "epochs": 4},
        "iwae_from_epoch starts an IWAE phase: set iwae_samples > 1 as well",
    ),
    (
        {"iwae_samples": 2, "iwae_from_epoch": 4, "epochs": 4},
        "iwae_from_epoch must be less than epochs, or the IWAE phase never starts",
    ),
    (
        {"iwae_samples": 2, "iwae_lr": INF},
        "iwae_lr must be a positive number (or absent: the IWAE phase uses lr)",
    ),
    ({"subset": 0}, "subset must be at least 1"),
    ({"eval_images": 0}, "eval_images must be at least 1"),
    ({"checkpoint_every": 0}, "checkpoint_every must be at least 1"),
]


@pytest.mark.parametrize(("fields", "message"), REFUSED_CONFIGS)
def test_each_config_refusal_names_its_field(fields: dict, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        TrainConfig(**fields)
    assert str(refused.value) == message


def test_config_bounds_are_inclusive() -> None:
    edge = TrainConfig(
        batch_size=1, beta=0.0, free_bits=0.0, seed=0, subset=1, eval_images=1, checkpoint_every=1
    )
    assert (edge.batch_size, edge.subset, edge.eval_images, edge.checkpoint_every) == (1, 1, 1, 1)
    assert TrainConfig(epochs=2, iwae_samples=2, iwae_from_epoch=1).iwae_samples_at(1) == 2


def test_resolve_device_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    for name, message in [
        ("cuda:1", "device 'cuda:1' asked for, but no CUDA GPU is available; use cpu"),
        ("mps", "device 'mps' asked for, but MPS is not available; use cpu"),
        ("gpu", "unknown device 'gpu'; use cpu, cuda, cuda:N or mps"),
        ("meta", "unsupported device 'meta'; use cpu, cuda, cuda:N or mps"),
    ]:
        with pytest.raises(ValueError) as refused:
            resolve_device(name)
        assert str(refused.value) == message
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("mps") == torch.device("mps")


def test_training_data_comes_from_the_data_dir_argument_shuffled_by_the_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_root = resolve_data_dir()
    monkeypatch.setenv("VAE_TUTORIAL_DATA", str(tmp_path / "empty"))

    def no_download(root, name):
        raise DataError(f"this test downloads nothing ({name} into {root})")

    monkeypatch.setattr(importlib.import_module("vae_tutorial.data"), "download", no_download)
    config = TrainConfig(**{**TINY, "seed": 7})
    batches, x_test, split = train_module._load_data(config, real_root)
    assert split == "test"  # no validation split asked for: the per-epoch ELBO is the test set's
    train_images, test_images = load_mnist("train", real_root), load_mnist("test", real_root)
    assert torch.equal(batches.images, train_images.images[:256]) and len(batches) == 4
    assert torch.equal(x_test, fixed_binarization(test_images.images[:256]))
    expected = torch.randperm(256, generator=seeded_generator(7, 0))  # shuffled, by the seed
    assert torch.equal(batches.order(0), expected)
    assert train(config, tmp_path / "run", data_dir=real_root, progress=False).history.steps
    with pytest.raises(DataError, match=re.escape(f"nothing (mnist into {tmp_path / 'empty'})")):
        train(config, tmp_path / "run2", progress=False)


def test_an_elbo_run_extended_by_an_iwae_phase_matches_a_run_planned_that_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    phased = TrainConfig(**{**TINY, "epochs": 2, "iwae_samples": 2, "iwae_from_epoch": 1,
                            "iwae_lr": 3e-4})  # fmt: skip
    straight = train(phased, tmp_path / "straight", progress=False)
    steps = straight.history.steps
    assert "iwae" not in VAEObjective()(VAE(), torch.zeros(2, 1, 28, 28), 0)[1]
    assert len(steps["iwae"]) == len(steps["elbo"]) == 8
    assert steps["iwae"][:4] == steps["elbo"][:4], "epoch 0 trains the ELBO (L_1)"
    later = zip(steps["iwae"][4:], steps["elbo"][4:], strict=True)
    assert all(bound > elbo for bound, elbo in later), "epoch 1 trains L_2 > mean log-weight"

    train(TrainConfig(**TINY), tmp_path / "extended", progress=False)
    extended = train(phased, tmp_path / "extended", resume=True, progress=False)
    assert extended.history == straight.history
    assert_same_weights(extended.model, straight.model)

    other_k = TrainConfig(**{**phased.to_dict(), "iwae_samples": 3})
    with pytest.raises(CheckpointError, match=r"iwae_samples: 2 -> 3"):
        train(other_k, tmp_path / "straight", resume=True, progress=False)

    # Stopped inside the IWAE phase (epoch 1, two steps in), resumed: the same run again.
    train_module = importlib.import_module("vae_tutorial.train")  # the package exports train()
    real_step, calls = train_module.train_step, []

    def step_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            signal.raise_signal(signal.SIGINT)  # handled by train(): stop after this step
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", step_then_stop)
    with pytest.raises(TrainingInterrupted):
        train(phased, tmp_path / "split", progress=False)
    monkeypatch.undo()
    resumed = train(phased, tmp_path / "split", resume=True, progress=False)
    assert resumed.history == straight.history
    assert_same_weights(resumed.model, straight.model)


def test_load_model_names_the_checkpoint_it_refuses(tiny_run: Path, tmp_path: Path) -> None:
    """Each refusal written out in full; a checkpoint of another architecture loads as it."""
    from vae_tutorial.checkpoint import safe_load

    latent = load_checkpoint(tiny_run)["model_config"]["latent_dim"]
    refusals: dict[Path, str] = {}
    with pytest.raises(CheckpointError) as info:
        load_model(tiny_run, latent_dim=latent + 1)
    assert str(info.value) == (
        f"{tiny_run} holds a model with latent_dim={latent}, but latent_dim={latent + 1} was "
        f"asked for; pass --latent-dim {latent} or pick the checkpoint of the model you want"
    )
    folder = tmp_path / "run{0}"  # braces in a folder name are printed as they are
    folder.mkdir()
    junk = folder / "junk.pt"
    junk.write_bytes(b"not a zip archive")
    refusals[junk] = (
        f"{junk} is not a readable checkpoint: it is truncated, corrupt, or not a file "
        "written by 'vae-tutorial train'; resume from an earlier checkpoint or train again"
    )
    original = tiny_run.read_bytes()
    bad_directory = folder / "directory.pt"  # the central directory's first signature broken
    at = original.index(b"PK\x01\x02")
    bad_directory.write_bytes(original[:at] + b"XX" + original[at + 2 :])
    refusals[bad_directory] = (
        f"{bad_directory} is corrupt or truncated (BadZipFile); "
        "delete it and resume from an earlier checkpoint or train again"
    )
    other_zip = tmp_path / "other.zip"  # a sound zip archive, but not one torch.save wrote
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("notes.txt", "hello")
    refusals[other_zip] = (
        f"{other_zip} is corrupt or truncated (RuntimeError); "
        "delete it and resume from an earlier checkpoint or train again"
    )
    unsafe = tmp_path / "unsafe.pt"  # would need a class unpickled: never loaded
    torch.save({"config": argparse.Namespace(lr=1.0)}, unsafe)
    refusals[unsafe] = (
        f"{unsafe} holds objects that only unsafe unpickling could load; refusing it "
        "(only checkpoints written by vae-tutorial are accepted)"
    )
    ckpt = load_checkpoint(tiny_run)
    ckpt["model_config"] = {**ckpt["model_config"], "latent_dim": 0}
    bad_config = tmp_path / "config.pt"
    save_checkpoint(bad_config, ckpt)
    refusals[bad_config] = f"{bad_config} has an invalid model_config: " + (
        "latent_dim must be at least 1, got 0"
    )
    for path, message in refusals.items():
        with pytest.raises(CheckpointError) as info:
            load_model(path)
        assert str(info.value) == message

    small = VAE(latent_dim=3)
    other = tmp_path / "small.pt"
    save_checkpoint(other, {**load_checkpoint(tiny_run), "model_config": small.config.to_dict(),
                            "model": small.state_dict()})  # fmt: skip
    assert load_model(other).latent_dim == 3
    assert safe_load(tiny_run)["format"] == "vae-tutorial-checkpoint"  # on the CPU by default


def test_resuming_a_checkpoint_whose_weights_do_not_fit_names_it(
    tiny_run: Path, tmp_path: Path
) -> None:
    ckpt = load_checkpoint(tiny_run)  # the shared run is only read
    ckpt["model"].pop(next(iter(ckpt["model"])))
    broken = tmp_path / "checkpoint.pt"
    save_checkpoint(broken, ckpt)
    config = TrainConfig.from_dict(ckpt["train_config"])
    with pytest.raises(CheckpointError, match=re.escape(f"{broken}: weights do not fit")):
        train(config, tmp_path, resume=True, progress=False)


def test_resuming_after_ctrl_c_matches_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    config = TrainConfig(**{**TINY, "epochs": 2, "checkpoint_every": 3})
    straight = train(config, tmp_path / "straight", progress=False)

    calls = {"n": 0}
    original = VAEObjective.__call__

    def interrupt_at_step_5(self, model, x, step):
        calls["n"] += 1
        if calls["n"] == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, model, x, step)

    monkeypatch.setattr(VAEObjective, "__call__", interrupt_at_step_5)
    with pytest.raises(TrainingInterrupted) as raised:
        train(config, tmp_path / "split", progress=False)
    ckpt_path = tmp_path / "split" / "checkpoint.pt"
    assert str(raised.value).startswith("stopped at epoch 2, step 5; checkpoint saved. ")
    assert str(raised.value).endswith(f"vae-tutorial train --resume --out {ckpt_path.parent}")
    saved = load_checkpoint(ckpt_path)
    assert (saved["global_step"], saved["epoch"], saved["step_in_epoch"]) == (5, 1, 1)
    monkeypatch.setattr(VAEObjective, "__call__", original)
    # One step of epoch 1 is done: an IWAE phase from epoch 1 would change a begun epoch.
    iwae_from_1 = TrainConfig(**{**config.to_dict(), "iwae_samples": 3, "iwae_from_epoch": 1})
    refusal = re.escape(f"{ckpt_path} was trained with another config (iwae_samples: 1 -> 3")
    with pytest.raises(CheckpointError, match=refusal):
        train(iwae_from_1, tmp_path / "split", resume=True, progress=False)
    capsys.readouterr()
    every_step = functools.partial(train_module.tqdm, mininterval=0)  # draw each update
    monkeypatch.setattr(train_module, "tqdm", every_step)
    resumed = train(config, tmp_path / "split", resume=True, progress=True)
    frames = [f for f in capsys.readouterr().err.split("\r") if f]  # tqdm redraws after \r
    assert frames[0].startswith("epoch 2/2:  25%") and "| 1/4 [" in frames[0]  # 1 of 4 done
    assert frames[-2].startswith("epoch 2/2: 100%") and "| 4/4 [" in frames[-2]
    running = sum(resumed.history.steps["elbo"][4:]) / 4  # the mean of epoch 2's steps
    assert f"elbo={running:.1f}]" in frames[-2] and frames[-1].strip() == ""  # then cleared

    assert resumed.history == straight.history
    assert_same_weights(resumed.model, straight.model)


def test_more_epochs_can_be_added_on_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "runs" / "tiny"  # folders that do not exist yet are made
    one = train(TrainConfig(**TINY), out, resume=True, progress=False)  # nothing to resume yet
    assert one.history.steps["step"] == list(range(4))
    assert capsys.readouterr().err == ""  # progress=False: no bar
    two = train(TrainConfig(**{**TINY, "epochs": 2}), out, resume=True)
    assert "epoch 2/2" in capsys.readouterr().err  # the progress bar is on by default
    assert len(one.history.epochs["epoch"]) == 1 and two.history.epochs["epoch"] == [0, 1]
    assert two.history.steps["step"] == list(range(8))


def test_resuming_keeps_the_training_time_and_may_change_the_device(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """train_seconds adds up over resumes (a checkpoint without it counts from 0); with the
    clock stopped during the resumed epoch, the total is exactly the saved time."""
    train_module = importlib.import_module("vae_tutorial.train")  # the package exports train()
    monkeypatch.setattr(train_module.time, "perf_counter", lambda: 5.0)  # a stopped clock
    ckpt = load_checkpoint(tiny_run)
    ckpt["train_config"]["device"] = "cuda"  # as if trained on a GPU
    config = TrainConfig.from_dict({**ckpt["train_config"], "epochs": 2, "device": "cpu"})
    for saved, expected in ((1234.5, 1234.5), (None, 0.0)):
        out = tmp_path / str(saved)
        if saved is None:
            del ckpt["train_seconds"]  # written before the field existed
        else:
            ckpt["train_seconds"] = saved
        out.mkdir()
        save_checkpoint(out / "checkpoint.pt", ckpt)
        train(config, out, resume=True, progress=False)  # "cuda" -> "cpu": allowed
        assert load_checkpoint(out / "checkpoint.pt")["train_seconds"] == expected


def test_a_refused_resume_lists_every_difference(tiny_run: Path) -> None:
    other = TrainConfig(**{**TINY, "lr": 0.5, "seed": 3})
    with pytest.raises(CheckpointError) as info:
        train(other, tiny_run.parent, resume=True, progress=False)
    assert str(info.value) == (
        f"{tiny_run} was trained with another config (lr: 0.001 -> 0.5, seed: 0 -> 3); resume "
        "with the same config (epochs and device may change, and the IWAE settings while no "
        "epoch begun or done belongs to an IWAE phase) or use a new output folder"
    )


def test_a_checkpoint_names_the_format_and_package_version_that_wrote_it(tiny_run: Path) -> None:
    import vae_tutorial

    ckpt = load_checkpoint(tiny_run)
    assert (ckpt["format"], ckpt["format_version"]) == ("vae-tutorial-checkpoint", 1)
    assert ckpt["package_version"] == vae_tutorial.__version__


def test_existing_checkpoint_is_not_overwritten(tiny_run: Path) -> None:
    before = tiny_run.read_bytes()
    with pytest.raises(CheckpointError) as refused:
        train(TrainConfig(**TINY), tiny_run.parent, progress=False)
    assert str(refused.value) == (
        f"{tiny_run} already exists; continue it with --resume (resume=True in Python) or "
        "choose another output folder"
    )
    with pytest.raises(CheckpointError, match="another config"):
        train(TrainConfig(**{**TINY, "lr": 0.5}), tiny_run.parent, resume=True, progress=False)
    assert tiny_run.read_bytes() == before


def test_nan_loss_stops_training_and_keeps_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TrainConfig(**{**TINY, "checkpoint_every": 2})
    original = VAEObjective.__call__

    def nan_at_step_3(self, model, x, step):
        loss, metrics = original(self, model, x, step)
        return (loss * float("nan") if step == 3 else loss), metrics

    monkeypatch.setattr(VAEObjective, "__call__", nan_at_step_3)
    ckpt_path = tmp_path / "checkpoint.pt"
    message = (
        f"loss became nan at step 3 (epoch 1); likely cause: the learning rate (lr={config.lr}) "
        f"is too high. The last good checkpoint {ckpt_path} is unchanged: lower --lr and "
        "train again, or --resume with a smaller --lr"
    )
    with pytest.raises(TrainingDivergedError) as raised:
        train(config, tmp_path, progress=False)
    assert str(raised.value) == message
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["global_step"] == 2 and len(ckpt["history"]["steps"]["step"]) == 2


def test_truncated_checkpoints_are_refused_at_every_length(tiny_run: Path, tmp_path: Path) -> None:
    original = tiny_run.read_bytes()
    broken = tmp_path / "broken.pt"
    n = len(original)
    cuts = sorted({*range(0, 64), *range(0, n, n // 50), *range(n - 256, n)})
    for cut in cuts:
        broken.write_bytes(original[:cut])
        with pytest.raises(CheckpointError, match=r"truncated|corrupt"):
            load_model(broken)
    broken.write_bytes(original)  # the same path with every byte loads the same weights
    assert_same_weights(load_model(broken), load_model(tiny_run))
    assert tiny_run.read_bytes() == original


def zip_records(data: bytes) -> list[tuple[str, int, int, int]]:
    """(name, local header start, payload start, payload end) of each record of a zip file,
    from the central directory and the local headers (PKWARE APPNOTE 4.3.7)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    records = []
    for info in infos:
        start = info.header_offset
        assert data[start : start + 4] == b"PK\x03\x04", info.filename
        name_len, extra_len = struct.unpack("<HH", data[start + 26 : start + 30])
        payload = start + 30 + name_len + extra_len
        records.append((info.filename, start, payload, payload + info.compress_size))
    return records


def raw_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.detach().contiguous().numpy().tobytes()


def test_corrupted_checkpoint_bytes_are_refused(tiny_run: Path, tmp_path: Path) -> None:
    """Each flipped byte has one definite outcome, decided from where it lies in the zip:
    the signature of a record or of the end-of-central-directory record, or any byte of a
    record's content (tensors and data.pkl: their CRC-32 no longer matches): refused with
    CheckpointError; any other header, directory or end-record byte (which of them a
    reader needs depends on the zip reader): refused, or loaded with the original weights.
    """
    original = tiny_run.read_bytes()
    n = len(original)
    weights = load_checkpoint(tiny_run)["model"]
    records = zip_records(original)
    tensors = [r for r in records if re.fullmatch(r".*/data/\d+", r[0])]
    assert len(tensors) >= len(weights), "every weight tensor has its own record"
    eocd = n - 22
    assert original[eocd : eocd + 4] == b"PK\x05\x06"
    must_refuse = set(range(eocd, eocd + 4))
    for _, start, _, _ in records[::4]:
        must_refuse.update(range(start, start + 4))
    for _, _, payload, end in [
        *tensors[::3],
        next(r for r in records if r[0].endswith("data.pkl")),
    ]:
        must_refuse.update(range(payload, end, max(1, (end - payload) // 7)))
    positions = sorted({*range(0, n, n // 40), *range(n - 98, n), *must_refuse})
    broken = tmp_path / "flipped.pt"
    outcomes = {"refused": 0, "refused by its checksum": 0, "same weights": 0}
    for position in positions:
        data = bytearray(original)
        data[position] ^= 0xFF
        broken.write_bytes(bytes(data))
        in_record = any(payload <= position < end for _, _, payload, end in records)
        if position in must_refuse or in_record:
            message = "CRC-32" if in_record else r"corrupt|truncated|unsafe"
            with pytest.raises(CheckpointError, match=message):
                load_model(broken)
            outcomes["refused by its checksum" if in_record else "refused"] += 1
            continue
        try:
            model = load_model(broken)
        except CheckpointError as exc:
            assert re.search(r"corrupt|truncated|unsafe|not a", str(exc)), str(exc)
            outcomes["refused"] += 1
            continue
        for key, value in model.state_dict().items():  # a header byte nobody reads
            assert raw_bytes(value) == raw_bytes(weights[key]), f"byte {position}: {key}"
        outcomes["same weights"] += 1
    assert all(count > 0 for count in outcomes.values()), outcomes


def test_other_files_are_refused_with_clear_errors(tiny_run: Path, tmp_path: Path) -> None:
    bare = tmp_path / "state_dict.pt"
    torch.save(VAE(latent_dim=16).state_dict(), bare)
    with pytest.raises(CheckpointError, match="not a vae-tutorial checkpoint"):
        load_model(bare)

    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "vae-tutorial-checkpoint", "payload": argparse.Namespace(a=1)}, unsafe)
    with pytest.raises(CheckpointError, match="unsafe unpickling"):
        load_model(unsafe)

    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_model(text)

    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_model(tmp_path / "missing.pt")

    future = tmp_path / "future.pt"
    ckpt = load_checkpoint(tiny_run)
    save_checkpoint(future, {k: v for k, v in ckpt.items() if not k.startswith("format")})
    payload = torch.load(future, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, future)
    with pytest.raises(CheckpointError, match="format 99"):
        load_model(future)


def test_load_checkpoint_names_what_it_refuses(tiny_run: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_run)
    other, future, older = tmp_path / "other.pt", tmp_path / "future.pt", tmp_path / "older.pt"
    torch.save({"format": "another-program"}, other)
    torch.save({**ckpt, "format_version": 99, "package_version": "9.9.0"}, future)
    torch.save(
        {k: v for k, v in ckpt.items() if k != "package_version"} | {"format_version": 0}, older
    )
    incomplete = tmp_path / "incomplete.pt"
    torch.save({k: v for k, v in ckpt.items() if k not in ("model", "history")}, incomplete)
    reads = f"this vae-tutorial reads format {CHECKPOINT_FORMAT_VERSION}"
    for path, message in [
        (other, f"{other} is not a vae-tutorial checkpoint (a bare state_dict or another "
                "program's file?); load weights saved by 'vae-tutorial train'"),
        (future, f"{future} has checkpoint format 99, {reads}; use the package version that "
                 "wrote it (9.9.0) or train again"),
        (older, f"{older} has checkpoint format 0, {reads}; use the package version that "
                "wrote it (unknown) or train again"),
        (incomplete, f"{incomplete} lacks model, history; it is incomplete"),
    ]:  # fmt: skip
        with pytest.raises(CheckpointError) as refused:
            load_checkpoint(path)
        assert str(refused.value) == message


def test_checkpoint_of_another_latent_size_is_refused(tiny_run: Path) -> None:
    with pytest.raises(CheckpointError, match=r"latent_dim=16.*latent_dim=2 was asked for"):
        load_model(tiny_run, latent_dim=2)
    model = VAE(latent_dim=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match="latent_dim"):
        load_into(model, tiny_run)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_config_files_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[model]\nlatent_dim = 2\nchannels = [8, 16]\n\n[train]\nepochs = 3\n")
    config = TrainConfig.from_toml(path)
    assert config.model == VAEConfig(latent_dim=2, channels=(8, 16)) and config.epochs == 3
    assert config.lr == 1e-3
    path.write_text("[train]\nlatent_dim = 2\nepochs = 3\nchannels = [8, 16]\n")  # older layout
    assert TrainConfig.from_toml(path).model == VAEConfig(latent_dim=2, channels=(8, 16))
    path.write_text("latent_dims = 2\n")
    with pytest.raises(ValueError, match="unknown config keys latent_dims"):
        TrainConfig.from_toml(path)
    with pytest.raises(ValueError) as info:
        TrainConfig.from_dict({"epochz": 3, "latent_dims": 2})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    known |= {f.name for f in dataclasses.fields(AdvancedVAEConfig)}  # accepted at the top
    assert str(info.value) == (
        f"unknown config keys epochz, latent_dims; known keys: {', '.join(sorted(known))}"
    )
    for bad in ({"epochs": 0}, {"batch_size": 0}, {"lr": -1.0}, {"beta": float("nan")}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="unknown device"):
        train(TrainConfig(device="tpu"), tmp_path / "x", progress=False)


def test_training_on_fashion_mnist(tmp_path: Path) -> None:
    config = TrainConfig(**{**TINY, "dataset": "fashion-mnist"})
    result = train(config, tmp_path, progress=False)
    assert load_checkpoint(result.checkpoint)["train_config"]["dataset"] == "fashion-mnist"
    with pytest.raises(ValueError, match="dataset must be one of mnist, fashion-mnist"):
        TrainConfig(dataset="cifar")


def test_resuming_a_checkpoint_written_before_a_config_field_existed(tmp_path: Path) -> None:
    train(TrainConfig(**TINY), tmp_path, progress=False)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    del ckpt["train_config"]["dataset"]
    save_checkpoint(
        tmp_path / "checkpoint.pt", {k: v for k, v in ckpt.items() if not k.startswith("format")}
    )
    resumed = train(TrainConfig(**{**TINY, "epochs": 2}), tmp_path, resume=True, progress=False)
    assert resumed.history.epochs["epoch"] == [0, 1]


def test_train_step_is_one_adam_update_of_the_objective() -> None:
    torch.manual_seed(0)
    model = VAE(latent_dim=4)
    reference = VAE(latent_dim=4)
    reference.load_state_dict(model.state_dict())
    x = torch.bernoulli(torch.full((8, 1, 28, 28), 0.3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    expected_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)
    torch.manual_seed(1)
    metrics = train_step(model, optimizer, VAEObjective(), x, step=0)
    torch.manual_seed(1)
    loss = -calc_elbo(reference, x).elbo.mean()  # the same draws, by hand
    expected_optimizer.zero_grad()
    loss.backward()
    expected_optimizer.step()
    assert metrics["elbo"] == pytest.approx(-loss.item())
    for (name, a), b in zip(
        model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=name)


def test_train_step_refuses_a_nan_loss_before_updating() -> None:
    model = VAE(latent_dim=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def nan_objective(model, x, step):
        return torch.tensor(float("nan"), requires_grad=True), {}

    with pytest.raises(TrainingDivergedError, match="loss became nan at step 7"):
        train_step(model, optimizer, nan_objective, torch.zeros(2, 1, 28, 28), step=7)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_model_table_inside_the_train_table_overrides_the_top_level_one(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[model]\nlatent_dim = 2\nchannels = [8, 16]\n\n"
        "[train]\nepochs = 3\n\n[train.model]\nlatent_dim = 5\n"
    )
    config = TrainConfig.from_toml(path)
    assert config.model == VAEConfig(latent_dim=5, channels=(8, 16)) and config.epochs == 3


def test_load_into_copies_the_weights_of_a_checkpoint_of_the_same_architecture(
    tiny_run: Path,
) -> None:
    reference = load_checkpoint(tiny_run)["model"]  # the raw saved tensors
    torch.manual_seed(123)
    model = VAE()  # the tiny run's architecture, other random weights
    assert load_into(model, tiny_run) is model
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, reference[key].float(), rtol=0, atol=0)


def test_load_into_names_the_file_and_the_mismatch(tiny_run: Path) -> None:
    with pytest.raises(CheckpointError, match=r"latent_dim=16, but latent_dim=2 was asked") as e:
        load_into(VAE(latent_dim=2), tiny_run)
    assert str(e.value).startswith(f"{tiny_run} holds")
    other = VAE(config=VAEConfig(channels=(8, 16)))  # same latent size, other layers
    with pytest.raises(CheckpointError) as e:
        load_into(other, tiny_run)
    assert str(e.value).startswith(f"{tiny_run} holds a model with config")
    assert str(e.value).endswith("; use load_model(path) to build the model it holds")


def test_atomic_write_fills_a_hidden_temporary_file_beside_the_target(tmp_path: Path) -> None:
    from vae_tutorial.checkpoint import atomic_write

    target = tmp_path / "run" / "checkpoint.pt"
    target.parent.mkdir()
    seen: list[list[str]] = []

    def write(f) -> None:
        f.write(b"new")
        seen.append(sorted(p.name for p in target.parent.iterdir()))

    previous_umask = os.umask(0o022)
    try:
        atomic_write(target, write)
    finally:
        os.umask(previous_umask)
    assert len(seen[0]) == 1 and re.fullmatch(r"\.checkpoint\.pt\..+\.tmp", seen[0][0])
    assert target.read_bytes() == b"new" and sorted(target.parent.iterdir()) == [target]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644, "0o666 less the umask, not mkstemp's 0600"


def test_atomic_write_leaves_the_old_file_on_error(tmp_path: Path) -> None:
    from vae_tutorial.checkpoint import atomic_write

    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def fail(f) -> None:
        f.write(b"new but incomplete")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["file.bin"]


def test_split_validation_holds_out_the_last_ten_thousand() -> None:
    images = torch.arange(60_000).view(60_000, 1, 1).expand(60_000, 2, 2)
    fit, validation = split_validation(images)
    assert fit.shape == (50_000, 2, 2) and validation.shape == (10_000, 2, 2)
    assert fit[-1, 0, 0] == 49_999 and validation[0, 0, 0] == 50_000  # fixed, in file order
    with pytest.raises(ValueError, match="more than 10,000 training images, got 9,000"):
        split_validation(images[:9_000])


def test_a_validation_run_never_reads_the_test_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_load = train_module.load_dataset

    def no_test_set(name: str, split: str = "train", *args, **kwargs):
        assert split != "test", "a run with a validation split read the test set"
        return real_load(name, split, *args, **kwargs)

    train_images = load_mnist("train").images
    monkeypatch.setattr(train_module, "load_dataset", no_test_set)
    config = TrainConfig(**{**TINY, "validation": True, "eval_images": 128})
    batches, x_eval, split = train_module._load_data(config, None)
    assert split == "validation" and len(x_eval) == 128
    assert torch.equal(x_eval, fixed_binarization(train_images[50_000:50_128]))
    assert torch.equal(batches.images, train_images[: config.subset])
    whole = train_module._load_data(TrainConfig(validation=True), None)[0]
    assert len(whole.images) == 50_000  # every training image but the validation set
    result = train(config, tmp_path, progress=False)
    epochs = result.history.epochs
    assert not any(key.startswith("test_") for key in epochs)
    final = evaluate_elbo(result.model, x_eval)
    assert [epochs[f"validation_{t}"][-1] for t in ("elbo", "recon_ll", "kl")] == pytest.approx(
        [getattr(final, t).mean().item() for t in ("elbo", "recon_ll", "kl")], rel=1e-6
    )
    with pytest.raises(ValueError, match="subset must be at most 50,000 with validation"):
        TrainConfig(validation=True, subset=50_001)
