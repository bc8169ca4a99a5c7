"""MNIST as in-memory uint8 tensors, checked against known checksums, and binarized batches.

Holds where the data lives (`resolve_data_dir`: the `--data-dir` flag, else the
`VAE_TUTORIAL_DATA` environment variable, else a per-user cache folder), `load_mnist`
(download when missing, SHA-256 check on first use, result cached), `binarize` and
`BinarizedBatches`, the training iterator: the whole dataset stays one uint8 tensor and
each batch is gathered, scaled and binarized in one vectorized step (no per-item Python
transforms, no DataLoader workers).

Binarization follows the literature's "dynamically binarized MNIST": every time an image
is used each pixel is drawn afresh as x_i ~ Bernoulli(intensity_i / 255). The test set is
binarized once with a fixed seed (`TEST_BINARIZATION_SEED`) so that numbers compare
across runs. Every random draw here is a function of (seed, epoch, step) only, so a run
resumed mid-epoch sees exactly the batches an uninterrupted run sees.

It does not hold the model or training. Reference: LeCun et al. (1998); on binarization,
Salakhutdinov & Murray (2008) and Burda et al. (2016), section 5.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .errors import DataError

DATA_ENV_VAR = "VAE_TUTORIAL_DATA"
CACHE_ENV_VAR = "VAE_TUTORIAL_CACHE"
TEST_BINARIZATION_SEED = 20160101

# SHA-256 of the four uncompressed idx files, as torchvision lays them out in MNIST/raw/.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
Split = Literal["train", "test"]


def cache_dir() -> Path:
    """The per-user cache folder: $VAE_TUTORIAL_CACHE, else $XDG_CACHE_HOME/vae-tutorial."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-tutorial"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data root: `data_dir` if given, else $VAE_TUTORIAL_DATA, else <cache>/data.

    The root is the folder that holds `MNIST/raw/`, as for torchvision.datasets.MNIST.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR]).expanduser()
    return cache_dir() / "data"


def _raw_dir(root: Path) -> Path:
    return root / "MNIST" / "raw"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _refetch_hint(root: Path) -> str:
    return f"vae-tutorial download --data-dir {root}"


def verify_mnist_files(root: Path, names: tuple[str, ...]) -> None:
    """Check each raw file against `MNIST_SHA256`, remembering files already verified.

    A file verified once is not hashed again while its size and modification time stay
    the same (the record lives in <cache>/verified-files.json).

    Raises:
        DataError: naming the corrupt or truncated file and the command to fetch it again.
    """
    record_path = cache_dir() / "verified-files.json"
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        record = {}
    changed = False
    for name in names:
        path = (_raw_dir(root) / name).resolve()
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns, MNIST_SHA256[name]]
        if record.get(str(path)) == stamp:
            continue
        if _sha256(path) != MNIST_SHA256[name]:
            raise DataError(
                f"{path} is corrupt or truncated ({stat.st_size} bytes, SHA-256 does not match); "
                f"fetch it again with: {_refetch_hint(root)}"
            )
        record[str(path)] = stamp
        changed = True
    if changed:
        try:
            record_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = record_path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(record, indent=1))
            os.replace(tmp, record_path)
        except OSError:
            pass  # a read-only cache only costs a re-hash next time


def download_mnist(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Fetch MNIST into the data root (replacing files that fail their checksum).

    Returns the root. Raises DataError when offline, naming the folder and the files.
    """
    import torchvision

    root = resolve_data_dir(data_dir)
    raw = _raw_dir(root)
    for name in MNIST_SHA256:
        path = raw / name
        if path.exists() and _sha256(path) != MNIST_SHA256[name]:
            path.unlink()
    try:
        for train in (True, False):
            torchvision.datasets.MNIST(str(root), train=train, download=True)
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(_missing_message(root, f"the download failed: {first_line}")) from exc
    verify_mnist_files(root, tuple(MNIST_SHA256))
    return root


def _missing_message(root: Path, reason: str) -> str:
    return (
        f"MNIST not found in {_raw_dir(root)}: {reason}. Expected the files "
        f"{', '.join(MNIST_SHA256)} there. Point --data-dir or the {DATA_ENV_VAR} "
        f"environment variable at the folder that holds MNIST/raw/, or run "
        f"'{_refetch_hint(root)}' with internet access."
    )


@dataclass(frozen=True)
class MNIST:
    """One split of MNIST in memory: images (N, 28, 28) uint8 in 0..255, labels (N,) int64."""

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return self.images.shape[0]


def load_mnist(
    split: Split = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> MNIST:
    """Load one split of MNIST as uint8 tensors, downloading it first when missing.

    Args:
        split: "train" (60,000 images) or "test" (10,000 images).
        data_dir: the data root (see `resolve_data_dir`).
        download: fetch the files when they are missing.

    Raises:
        DataError: the files are missing and cannot be downloaded, or fail their checksum.
    """
    from torchvision.datasets.mnist import read_image_file, read_label_file

    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = resolve_data_dir(data_dir)
    names = SPLIT_FILES[split]
    missing = [n for n in names if not (_raw_dir(root) / n).is_file()]
    if missing:
        if not download:
            raise DataError(_missing_message(root, f"missing {', '.join(missing)}"))
        download_mnist(root)
    verify_mnist_files(root, names)
    images_file, labels_file = (str(_raw_dir(root) / n) for n in names)
    return MNIST(read_image_file(images_file), read_label_file(labels_file).long())


def to_unit_interval(images: Tensor) -> Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) intensities in [0, 1]."""
    return images.unsqueeze(1).float().div_(255.0)


def binarize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One Bernoulli draw per pixel with p = intensity / 255: uint8 (N,28,28) -> (N,1,28,28)."""
    probs = to_unit_interval(images)
    return torch.bernoulli(probs, generator=generator)


def seeded_generator(*keys: int) -> torch.Generator:
    """A CPU generator whose seed is a well-mixed function of the integer keys."""
    seed = np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(seed) & (2**63 - 1))


def fixed_binarization(images: Tensor, seed: int = TEST_BINARIZATION_SEED) -> Tensor:
    """The evaluation binarization: one draw with a fixed seed, (N, 1, 28, 28) float32."""
    return binarize(images, seeded_generator(seed))


Binarization = Literal["dynamic", "fixed", "none"]


class BinarizedBatches:
    """Batches of (B, 1, 28, 28) float32 images from one in-memory uint8 tensor.

    Args:
        images: (N, 28, 28) uint8.
        batch_size: B; the last, smaller batch is kept.
        shuffle: a fresh permutation every epoch.
        binarization: "dynamic" (fresh Bernoulli draws every epoch), "fixed" (one draw,
            `TEST_BINARIZATION_SEED`), or "none" (grey levels in [0, 1]).
        seed: the permutation and the dynamic draws of (epoch, step) depend on it alone.
    """

    def __init__(
        self,
        images: Tensor,
        batch_size: int,
        shuffle: bool = True,
        binarization: Binarization = "dynamic",
        seed: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 3:
            raise ValueError(
                f"images must be uint8 (N, 28, 28), got {images.dtype} {tuple(images.shape)}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if binarization not in ("dynamic", "fixed", "none"):
            raise ValueError(f"binarization must be dynamic, fixed or none, got {binarization!r}")
        self.images = images
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.binarization = binarization
        self.seed = seed
        self._fixed = fixed_binarization(images) if binarization == "fixed" else None

    def __len__(self) -> int:
        return -(-self.images.shape[0] // self.batch_size)

    def order(self, epoch: int) -> Tensor:
        """The image indices of one epoch, (N,)."""
        n = self.images.shape[0]
        if not self.shuffle:
            return torch.arange(n)
        return torch.randperm(n, generator=seeded_generator(self.seed, epoch))

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Tensor]:
        """Yield the batches of `epoch`, skipping the first `start_step` (for resuming)."""
        order = self.order(epoch)
        for step in range(start_step, len(self)):
            idx = order[step * self.batch_size : (step + 1) * self.batch_size]  # (B,)
            if self._fixed is not None:
                yield self._fixed[idx]
            elif self.binarization == "none":
                yield to_unit_interval(self.images[idx])
            else:
                yield binarize(self.images[idx], seeded_generator(self.seed, epoch, step))

    def __iter__(self) -> Iterator[Tensor]:
        return self.epoch(0)
