"""Faults provoked for real: SIGKILL at random moments and mid-write, then resume.

A tiny model (latent 4, 8/16 channels) on 1024 real MNIST images checkpoints after every
step; a training subprocess is killed with SIGKILL once it has passed a seeded random
step, after a further random 0-50 ms (so kills land inside steps and inside checkpoint
writes alike), and is resumed each time with `--resume`. Its final weights and history
must equal those of an uninterrupted run with the same seed, bit for bit; after every
kill the checkpoint on disk must load.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vae_tutorial import TrainConfig, VAEConfig, load_model, train
from vae_tutorial.checkpoint import load_checkpoint

SMALL = VAEConfig(latent_dim=4, channels=(8, 16), hidden_dim=32)
TINY_TOML = """
[model]
latent_dim = 4
channels = [8, 16]
hidden_dim = 32

[train]
epochs = 2
batch_size = 32
subset = 1024
eval_images = 64
checkpoint_every = 1
seed = 7
"""
KILLS = 8


def train_command(config: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "vae_tutorial", "train", "--config", str(config),
            "--out", str(out), "--no-progress", *extra]  # fmt: skip


def same_weights(a: Path, b: Path) -> bool:
    sa, sb = load_model(a).state_dict(), load_model(b).state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def logged_steps(out: Path) -> int:
    try:
        return len(json.loads((out / "history.json").read_text())["steps"].get("step", []))
    except (OSError, ValueError):
        return 0


def test_sigkill_at_random_points_loses_nothing(tmp_path: Path) -> None:
    """Kills land between and during steps; a kill inside a checkpoint write is tested
    deterministically by test_sigkill_during_a_checkpoint_write_keeps_the_previous_one."""
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    reference = tmp_path / "reference"
    subprocess.run(train_command(config, reference), check=True, capture_output=True, timeout=300)
    total_steps = load_checkpoint(reference / "checkpoint.pt")["global_step"]

    out = tmp_path / "killed"
    rng = random.Random(2024)
    # the last kill point leaves 12 steps (about 0.1 s here, 9 ms a step): more than the
    # 50 ms delay, so the run cannot finish before the kill lands
    targets = sorted(rng.sample(range(1, total_steps - 12), KILLS))
    killed_at = []
    for target in [*targets, None]:
        resume = ["--resume"] if (out / "checkpoint.pt").exists() else []
        proc = subprocess.Popen(train_command(config, out, *resume), stderr=subprocess.PIPE)
        if target is None:
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr.decode()
            break
        while logged_steps(out) < target and proc.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.05))
        assert proc.poll() is None, "the run finished before its kill point"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the kill, not the end of the run, stopped it"
        ckpt = load_checkpoint(out / "checkpoint.pt")  # never corrupt, never missing
        killed_at.append(ckpt["global_step"])
        assert target <= ckpt["global_step"] < total_steps
        assert len(ckpt["history"]["steps"]["step"]) == ckpt["global_step"]

    assert killed_at == sorted(killed_at), "a resumed run never went back to an older step"
    final, ref = (
        load_checkpoint(out / "checkpoint.pt"),
        load_checkpoint(reference / "checkpoint.pt"),
    )
    assert final["history"] == ref["history"], "history has gaps or duplicates"
    assert final["global_step"] == ref["global_step"] == 2 * 32
    assert same_weights(out / "checkpoint.pt", reference / "checkpoint.pt")
    assert not list(out.glob(".checkpoint.pt.*.tmp")), "stale temporary files are cleaned up"


KILL_DURING_WRITE = """
import os, signal, sys
from vae_tutorial.checkpoint import atomic_write

def half_then_die(f):
    f.write(b"partial checkpoint bytes")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

atomic_write(sys.argv[1], half_then_die)
"""


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path: Path) -> None:
    config = TrainConfig(model=SMALL, epochs=1, batch_size=64, subset=128, eval_images=32)
    train(config, tmp_path, progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    result = subprocess.run(
        [sys.executable, "-c", KILL_DURING_WRITE, str(tmp_path / "checkpoint.pt")]
    )
    assert result.returncode == -signal.SIGKILL
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert len(list(tmp_path.glob(".checkpoint.pt.*.tmp"))) == 1
    resumed = train(TrainConfig(**{**config.to_dict(), "epochs": 2}), tmp_path, resume=True,
                    progress=False)  # fmt: skip
    assert resumed.history.epochs["epoch"] == [0, 1]
    assert not list(tmp_path.glob(".checkpoint.pt.*.tmp"))


def test_same_seed_gives_bit_identical_runs(tmp_path: Path) -> None:
    config = TrainConfig(model=SMALL, epochs=2, batch_size=64, subset=256, eval_images=64)
    a = train(config, tmp_path / "a", progress=False)
    b = train(config, tmp_path / "b", progress=False)
    c = train(TrainConfig(**{**config.to_dict(), "seed": 1}), tmp_path / "c", progress=False)
    assert a.history == b.history and a.history != c.history
    assert same_weights(a.checkpoint, b.checkpoint)
    assert not same_weights(a.checkpoint, c.checkpoint)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_after_the_step_with_a_checkpoint(
    tmp_path: Path, signum: signal.Signals
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML.replace("checkpoint_every = 1", "checkpoint_every = 1000"))
    out = tmp_path / "run"
    proc = subprocess.Popen(train_command(config, out), stderr=subprocess.PIPE, text=True)
    while logged_steps(out) < 32 and proc.poll() is None:  # the end-of-epoch checkpoint
        time.sleep(0.002)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert f"Resume with: vae-tutorial train --resume --out {out}" in stderr
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert 32 < ckpt["global_step"] < 64, "stopped mid-epoch, after the step under way"
    assert len(ckpt["history"]["steps"]["step"]) == ckpt["global_step"]
