"""Shipped models: the weights the book loads by default, and how they are exported.

Holds `available`, `metrics` and `pretrained(name)` (a ready VAE in eval mode), and
`export` (checkpoint -> float16 weights + a metrics JSON inside the package). Each
shipped model is `weights/NAME.pt` (a weights-only dict: model config and float16
state dict, loaded with `torch.load(weights_only=True)`) beside `weights/NAME.json`
(test ELBO, importance-sampled NLL with its k, binarization, training time, machine,
and the exact command that reproduces it). It does not train (`train.py`).
"""

from __future__ import annotations

import json
import os
import platform
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from .checkpoint import atomic_write, load_checkpoint, model_from_checkpoint, safe_load
from .errors import CheckpointError
from .model import VAE

ELBO_CHECK_IMAGES = 1000


def _folder() -> Path:
    return Path(str(resources.files("vae_tutorial") / "weights"))


def _machine() -> str:
    """CPU model, core count and torch version of this machine, for the metrics file."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def available() -> list[str]:
    """Names of the shipped models, e.g. ['mnist-best', 'mnist-z16', 'mnist-z2']."""
    return sorted(p.stem for p in _folder().glob("*.pt"))


def metrics(name: str) -> dict[str, Any]:
    """The metrics file of a shipped model (see the module docstring)."""
    _check_name(name)
    return json.loads((_folder() / f"{name}.json").read_text())


def _check_name(name: str) -> None:
    if name not in available():
        raise CheckpointError(
            f"no shipped model named {name!r}; available: {', '.join(available()) or 'none'}"
        )


def pretrained(name: str = "mnist-z16", device: str | torch.device = "cpu") -> VAE:
    """A shipped VAE, in eval mode, with float32 weights on `device`."""
    _check_name(name)
    path = _folder() / f"{name}.pt"
    return model_from_checkpoint(safe_load(path), path).to(device).eval()


def export(
    checkpoint: str | os.PathLike[str],
    name: str,
    command: str,
    k: int = 1000,
    data_dir: str | os.PathLike[str] | None = None,
    folder: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write NAME.pt (float16 weights) and NAME.json (metrics measured on the float16 model).

    The test ELBO and the NLL with k importance samples are measured on the full test set
    (fixed binarization), after rounding the weights to float16, so the metrics describe
    exactly the file that ships.
    """
    from .data import TEST_BINARIZATION_SEED, fixed_binarization, load_mnist
    from .evaluate import evaluate, evaluate_elbo

    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt, checkpoint)
    half = {key: value.half() for key, value in model.state_dict().items()}
    model.load_state_dict({key: value.float() for key, value in half.items()})
    model.eval()

    x = fixed_binarization(load_mnist("test", data_dir).images)
    result = evaluate(model, x, k=k, progress=progress)
    check = evaluate_elbo(model, x[:ELBO_CHECK_IMAGES]).elbo.mean().item()
    info = {
        "name": name,
        "model_config": ckpt["model_config"],
        "train_config": ckpt["train_config"],
        "epochs_trained": ckpt["epoch"],
        "test_elbo": result.elbo,
        "test_recon_ll": result.recon_ll,
        "test_kl": result.kl,
        "test_nll": result.nll,
        "test_bits_per_dim": result.bits_per_dim,
        "k": k,
        "n_test_images": result.n_images,
        f"test_elbo_first_{ELBO_CHECK_IMAGES}": check,
        "binarization": "dynamic for training; test set binarized once with seed "
        f"{TEST_BINARIZATION_SEED} (vae_tutorial.data.fixed_binarization)",
        "weights": "float16",
        "train_seconds": ckpt.get("train_seconds"),
        "machine": _machine(),
        "command": command,
    }
    out = Path(folder) if folder is not None else _folder()
    payload = {"model_config": ckpt["model_config"], "model": half}
    atomic_write(out / f"{name}.pt", lambda f: torch.save(payload, f))
    atomic_write(out / f"{name}.json", lambda f: f.write(json.dumps(info, indent=2).encode()))
    return info
