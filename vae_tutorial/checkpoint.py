"""Checkpoints: atomic writes, safe loading, and clear refusals of the wrong file.

Holds `atomic_write` (temporary file in the same folder, flush, fsync, rename: a kill
mid-write leaves the previous file intact), `save_checkpoint`, `load_checkpoint` (always
`torch.load(weights_only=True)` after checking every record's CRC-32, so no arbitrary
code is unpickled and no damaged byte loads) and `load_model`.
It does not decide when to checkpoint (that is `train.py`).

A checkpoint is a dict of tensors and plain Python values:
    format, format_version, package_version   what wrote it
    model_config, train_config                dicts of the dataclasses
    model, optimizer                          state dicts
    epoch, step_in_epoch, global_step         where training stands (the next step to run)
    history                                   per-step and per-epoch metrics so far
    rng_torch                                 torch's global RNG state (ByteTensor)
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from .architectures import build_model, config_from_dict
from .errors import CheckpointError
from .model import VAE

CHECKPOINT_FORMAT = "vae-tutorial-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
REQUIRED_KEYS = ("model_config", "model", "epoch", "step_in_epoch", "global_step", "history")


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that readers see either the old or the new content, never a part.

    `write(f)` fills a temporary file in the same folder; it is flushed, fsync-ed and
    renamed over `path`, and the folder entry is fsync-ed. On any error the temporary
    file is removed and `path` is untouched.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Atomically save a checkpoint dict (see the module docstring for its keys)."""
    from . import __version__

    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "package_version": __version__,
        **state,
    }
    atomic_write(path, lambda f: torch.save(payload, f))


def _is_zip(path: Path) -> bool:
    """Whether `path` is a zip archive (torch.save's format); damaged headers count as no."""
    try:
        return zipfile.is_zipfile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def safe_load(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """`torch.load(weights_only=True)` of a file, with one clear error for each way it fails.

    Every record's CRC-32 is checked first (zipfile's `testzip`): torch.load reads tensor
    bytes unchecked, so a flipped bit in a weight would otherwise load silently.

    Raises:
        CheckpointError: missing file; corrupt or truncated file (a record failing its
            CRC-32 included); a file that would need unsafe unpickling.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train one with 'vae-tutorial train'")
    if not _is_zip(path):
        raise CheckpointError(
            f"{path} is not a readable checkpoint: it is truncated, corrupt, or not a file "
            "written by 'vae-tutorial train'; resume from an earlier checkpoint or train again"
        )

    def corrupt(reason: str) -> str:
        return (
            f"{path} is corrupt or truncated ({reason}); "
            "delete it and resume from an earlier checkpoint or train again"
        )

    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # each record's CRC-32: torch.load checks none
    except Exception as exc:
        raise CheckpointError(corrupt(type(exc).__name__)) from exc
    if damaged is not None:
        raise CheckpointError(corrupt(f"record {damaged} fails its CRC-32 checksum"))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} holds objects that only unsafe unpickling could load; refusing it "
            "(only checkpoints written by vae-tutorial are accepted)"
        ) from exc
    except Exception as exc:
        raise CheckpointError(corrupt(type(exc).__name__)) from exc


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load (`safe_load`) and validate a training checkpoint.

    Raises:
        CheckpointError: as `safe_load`; not a vae-tutorial checkpoint; another format
            version; a required key missing.
    """
    path = Path(path)
    ckpt = safe_load(path, map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a vae-tutorial checkpoint (a bare state_dict or another "
            "program's file?); load weights saved by 'vae-tutorial train'"
        )
    version = ckpt.get("format_version")
    if version != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, this vae-tutorial reads format "
            f"{CHECKPOINT_FORMAT_VERSION}; use the package version that wrote it "
            f"({ckpt.get('package_version', 'unknown')}) or train again"
        )
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is incomplete")
    return ckpt


def model_from_checkpoint(
    ckpt: dict[str, Any], path: str | os.PathLike[str], latent_dim: int | None = None
) -> VAE:
    """Build the network a loaded checkpoint (or shipped weights file) describes, with its
    weights (float32): `ckpt` needs "model_config" and "model"."""
    try:
        config = config_from_dict(ckpt["model_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an invalid model_config: {exc}") from exc
    if latent_dim is not None and latent_dim != config.latent_dim:
        raise CheckpointError(
            f"{path} holds a model with latent_dim={config.latent_dim}, but latent_dim="
            f"{latent_dim} was asked for; pass --latent-dim {config.latent_dim} or pick "
            "the checkpoint of the model you want"
        )
    model = build_model(config)
    try:
        model.load_state_dict({k: v.float() for k, v in ckpt["model"].items()})
    except (RuntimeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the model config ({exc})") from exc
    return model


def load_model(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    latent_dim: int | None = None,
) -> VAE:
    """The trained VAE in a checkpoint, in eval mode on `device`.

    Args:
        latent_dim: if given, refuse a checkpoint of another latent size.
    """
    ckpt = load_checkpoint(path)
    return model_from_checkpoint(ckpt, path, latent_dim).to(device).eval()


def load_into(model: VAE, path: str | os.PathLike[str]) -> VAE:
    """Load a checkpoint's weights into an existing model, refusing another architecture."""
    ckpt = load_checkpoint(path)
    loaded = model_from_checkpoint(ckpt, path, model.latent_dim)
    if loaded.config != model.config:
        raise CheckpointError(
            f"{path} holds a model with config {loaded.config}, not {model.config}; "
            "use load_model(path) to build the model it holds"
        )
    model.load_state_dict(loaded.state_dict())
    return model
