"""The `vae-tutorial` command line, run as a user would run it (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from vae_tutorial import load_model
from vae_tutorial.checkpoint import load_checkpoint
from vae_tutorial.data import fixed_binarization, load_mnist
from vae_tutorial.evaluate import evaluate_log_likelihood


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vae_tutorial", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_train_with_a_validation_split(tmp_path: Path) -> None:
    out = tmp_path / "run"
    flags = ["--subset", "128", "--epochs", "1", "--batch-size", "64", "--eval-images", "50"]
    trained = run("train", *flags, "--validation", "--out", str(out), "--no-progress")
    assert trained.returncode == 0, trained.stderr
    assert "validation ELBO" in trained.stdout and "test ELBO" not in trained.stdout
    saved = load_checkpoint(out / "checkpoint.pt")
    assert saved["train_config"]["validation"] is True
    assert set(saved["history"]["epochs"]) >= {"validation_elbo", "validation_kl"}
    refused = run("train", "--validation", "--subset", "50001", "--out", str(tmp_path / "x"))
    assert refused.returncode == 2 and "subset must be at most 50,000" in refused.stderr


def test_train_evaluate_sample_interpolate(tmp_path: Path) -> None:
    out = tmp_path / "run"
    trained = run(
        "train",
        "--subset",
        "256",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--eval-images",
        "100",
        "--latent-dim",
        "8",
        "--out",
        str(out),
        "--no-progress",
    )
    assert trained.returncode == 0, trained.stderr
    assert "test ELBO" in trained.stdout and (out / "checkpoint.pt").exists()
    ckpt = str(out / "checkpoint.pt")

    report = tmp_path / "eval.json"
    evaluated = run(
        "evaluate",
        "--checkpoint",
        ckpt,
        "--k",
        "20",
        "--n-images",
        "50",
        "--json",
        str(report),
        "--no-progress",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(report.read_text())
    assert result["n_images"] == 50 and result["k"] == 20
    assert 0.0 < result["nll"] <= -result["elbo"] + 1.0, "binary images: 0 < NLL <= -ELBO"
    model = load_model(ckpt)
    x = fixed_binarization(load_mnist("test").images[:50])
    log_px = evaluate_log_likelihood(model, x, k=20, progress=False)  # log p(x), not its negative
    assert result["nll"] == pytest.approx(-log_px.mean().item(), abs=1e-4)
    assert f"{result['nll']:.2f}" in evaluated.stdout

    sampled = run(
        "sample", "--checkpoint", ckpt, "--n", "12", "--nrow", "4", "--out", str(tmp_path / "s.png")
    )
    assert sampled.returncode == 0, sampled.stderr
    assert Image.open(tmp_path / "s.png").size == (2 * (4 * 30 + 2), 2 * (3 * 30 + 2))

    strip = run(
        "interpolate",
        "--checkpoint",
        ckpt,
        "--steps",
        "5",
        "--kind",
        "slerp",
        "--out",
        str(tmp_path / "i.png"),
    )
    assert strip.returncode == 0, strip.stderr
    assert Image.open(tmp_path / "i.png").size == (2 * (5 * 30 + 2), 2 * 32)


@pytest.mark.parametrize("command", ["train", "evaluate", "sample", "interpolate", "download"])
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0 and "usage: vae-tutorial" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--epochs", "-1"], "--epochs: expected a positive integer, got '-1'"),
        (["train", "--batch-size", "0"], "--batch-size: expected a positive integer"),
        (["train", "--lr", "nan"], "--lr: expected a positive number"),
        (["train", "--device", "tpu"], "--device: unknown device 'tpu'"),
        (["train", "--iwae-samples", "0"], "--iwae-samples: expected a positive integer"),
        (["train", "--iwae-samples", "5", "--beta", "0.5"], "iwae_samples > 1 trains the IWAE"),
        (["train", "--iwae-from-epoch", "3"], "set iwae_samples > 1 as well"),
        (["train", "--iwae-samples", "5", "--iwae-from-epoch", "10"], "less than epochs"),
        (["train", "--iwae-lr", "0"], "--iwae-lr: expected a positive number"),
        (["train", "--out", "/proc/version/x"], "--out: cannot write to /proc/version/x"),
        (["train", "--config", "missing.toml"], "--config: no such file"),
        (["evaluate"], "the following arguments are required: --checkpoint"),
        (["evaluate", "--checkpoint", "missing.pt"], "no such file: missing.pt"),
        (["sample", "--checkpoint", "x.pt", "--out", "grid.jpg"], "must end in .png"),
        (["interpolate", "--checkpoint", "x.pt", "--steps", "1"], "at least 2"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "x.pt").write_bytes(b"")  # exists, so only the flag under test is wrong
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert result.stdout == ""


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[train]\nepochz = 3\n")
    result = run("train", "--config", str(config), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "unknown config keys epochz" in result.stderr


def test_runtime_errors_exit_1_with_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"\x00" * 100)
    result = run("evaluate", "--checkpoint", str(bogus))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"vae-tutorial: error: {bogus} is not a readable checkpoint: it is truncated, corrupt, "
        "or not a file written by 'vae-tutorial train'; resume from an earlier checkpoint "
        "or train again"
    ]
    missing = run("train", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1


def test_resume_continues_with_the_runs_own_config(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = ["--subset", "128", "--batch-size", "64", "--eval-images", "50", "--no-progress"]
    started = run("train", "--epochs", "1", "--latent-dim", "8", "--out", str(out), *first)
    assert started.returncode == 0, started.stderr
    resumed = run("train", "--resume", "--epochs", "2", "--out", str(out), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert "at epoch 2/2" in resumed.stdout
    assert load_model(out / "checkpoint.pt").latent_dim == 8
