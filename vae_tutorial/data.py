"""MNIST and Fashion-MNIST as in-memory uint8 tensors, checksummed, and binarized batches.

Holds where the data lives (`resolve_data_dir`: the `--data-dir` flag, else the
`VAE_TUTORIAL_DATA` environment variable, else a per-user cache folder), `load_mnist`
and `load_fashion_mnist` (download when missing, SHA-256 check on first use, result
cached; Fashion-MNIST is also found where Debian's dataset-fashion-mnist puts it),
`binarize` and
`BinarizedBatches`, the training iterator: the whole dataset stays one uint8 tensor and
each batch is gathered, scaled and binarized in one vectorized step (no per-item Python
transforms, no DataLoader workers).

Binarization follows the literature's "dynamically binarized MNIST": every time an image
is used each pixel is drawn afresh as x_i ~ Bernoulli(intensity_i / 255). The test set is
binarized once with a fixed seed (`TEST_BINARIZATION_SEED`) so that numbers compare
across runs. Every random draw here is a function of (seed, epoch, step) only, so a run
resumed mid-epoch sees exactly the batches an uninterrupted run sees.

It does not hold the model or training. References: LeCun et al. (1998); Xiao et al.
(2017), Fashion-MNIST; on binarization, Salakhutdinov & Murray (2008) and Burda et al.
(2016), section 5.
"""

from __future__ import annotations

import gzip
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

SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
Split = Literal["train", "test"]


@dataclass(frozen=True)
class DatasetSpec:
    """Where an idx-format dataset lives and what its files must hash to.

    folder: the torchvision layout under the data root, <root>/<folder>/raw/.
    sha256: SHA-256 of each file's *uncompressed* content, so a gzipped copy and an
        extracted one check alike.
    system_dirs: read-only folders a system package may provide (gzipped files allowed).
    """

    name: str
    folder: str
    torchvision_class: str
    sha256: dict[str, str]
    system_dirs: tuple[str, ...] = ()


MNIST_SPEC = DatasetSpec(
    name="mnist",
    folder="MNIST",
    torchvision_class="MNIST",
    sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",  # noqa: E501
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",  # noqa: E501
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",  # noqa: E501
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",  # noqa: E501
    },
)
FASHION_MNIST_SPEC = DatasetSpec(
    name="fashion-mnist",
    folder="FashionMNIST",
    torchvision_class="FashionMNIST",
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",  # noqa: E501
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",  # noqa: E501
    },
    system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian: dataset-fashion-mnist
)  # hashes of the decompressed files of Debian's dataset-fashion-mnist 0.0~git20200523
DATASETS = {spec.name: spec for spec in (MNIST_SPEC, FASHION_MNIST_SPEC)}


def cache_dir() -> Path:
    """The per-user cache folder: $VAE_TUTORIAL_CACHE, else $XDG_CACHE_HOME/vae-tutorial."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-tutorial"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data root: `data_dir` if given, else $VAE_TUTORIAL_DATA, else <cache>/data.

    The root is the folder that holds `MNIST/raw/` (and `FashionMNIST/raw/`), as for
    torchvision.datasets.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR]).expanduser()
    return cache_dir() / "data"


def _raw_dir(root: Path, spec: DatasetSpec = MNIST_SPEC) -> Path:
    return root / spec.folder / "raw"


def _read(path: Path) -> bytes:
    """The file's content, decompressed when it ends in .gz."""
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc})") from exc


def _sha256(path: Path) -> str:
    return hashlib.sha256(_read(path)).hexdigest()


def _refetch_hint(root: Path, spec: DatasetSpec = MNIST_SPEC) -> str:
    flag = "" if spec is MNIST_SPEC else f" --dataset {spec.name}"
    return f"vae-tutorial download{flag} --data-dir {root}"


def _find(root: Path, spec: DatasetSpec, name: str) -> Path | None:
    """The first of <root>/<folder>/raw/NAME[.gz], then each system folder's NAME[.gz]."""
    folders = [_raw_dir(root, spec), *map(Path, spec.system_dirs)]
    for folder in folders:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def verify_files(root: Path, paths: dict[str, Path], spec: DatasetSpec = MNIST_SPEC) -> None:
    """Check files against `spec.sha256`, remembering files already verified.

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
    for name, path in paths.items():
        path = path.resolve()
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns, spec.sha256[name]]
        if record.get(str(path)) == stamp:
            continue
        try:
            ok = _sha256(path) == spec.sha256[name]
        except DataError:
            ok = False
        if not ok:
            raise DataError(
                f"{path} is corrupt or truncated ({stat.st_size} bytes, SHA-256 does not match); "
                f"fetch it again with: {_refetch_hint(root, spec)}"
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


def download(data_dir: str | os.PathLike[str] | None = None, dataset: str = "mnist") -> Path:
    """Fetch a dataset into the data root with torchvision, replacing files that fail their
    checksum. Returns the root. Raises DataError when offline, naming the folder and files.
    """
    import torchvision

    spec = DATASETS[dataset]
    root = resolve_data_dir(data_dir)
    raw = _raw_dir(root, spec)
    for name in spec.sha256:
        path = raw / name
        if path.exists() and _sha256(path) != spec.sha256[name]:
            path.unlink()
    try:
        for train in (True, False):
            getattr(torchvision.datasets, spec.torchvision_class)(
                str(root), train=train, download=True
            )
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(_missing_message(root, spec, f"the download failed: {first_line}")) from exc
    verify_files(root, {name: raw / name for name in spec.sha256}, spec)
    return root


def _missing_message(root: Path, spec: DatasetSpec, reason: str) -> str:
    where = _raw_dir(root, spec)
    extra = f" (or {', '.join(spec.system_dirs)})" if spec.system_dirs else ""
    return (
        f"{spec.folder} not found in {where}{extra}: {reason}. Expected the files "
        f"{', '.join(spec.sha256)} there. Point --data-dir or the {DATA_ENV_VAR} "
        f"environment variable at the folder that holds {spec.folder}/raw/, or run "
        f"'{_refetch_hint(root, spec)}' with internet access."
    )


def parse_idx(data: bytes) -> Tensor:
    """Decode an idx file of unsigned bytes (LeCun's format) into a uint8 tensor."""
    if len(data) < 4 or data[2] != 0x08:
        raise DataError("not an idx file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim :]
    if len(body) != int(np.prod(dims)):
        raise DataError(f"idx body has {len(body)} bytes, its header promises {dims}")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


@dataclass(frozen=True)
class MNIST:
    """One split of an MNIST-like dataset in memory: images (N, 28, 28) uint8, labels (N,) int64."""

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return self.images.shape[0]


def load_dataset(
    name: str = "mnist",
    split: Split = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download_missing: bool = True,
) -> MNIST:
    """Load one split of "mnist" or "fashion-mnist" as uint8 tensors.

    Files are looked up in <root>/<folder>/raw/ (plain or gzipped), then in the dataset's
    system folders, and downloaded into the root when missing and `download_missing`.

    Raises:
        DataError: the files are missing and cannot be downloaded, or fail their checksum.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    spec = DATASETS[name]
    root = resolve_data_dir(data_dir)
    names = SPLIT_FILES[split]
    paths = {n: _find(root, spec, n) for n in names}
    missing = [n for n, p in paths.items() if p is None]
    if missing:
        if not download_missing:
            raise DataError(_missing_message(root, spec, f"missing {', '.join(missing)}"))
        download(root, name)
        paths = {n: _raw_dir(root, spec) / n for n in names}
    found = {n: p for n, p in paths.items() if p is not None}
    verify_files(root, found, spec)
    images, labels = (parse_idx(_read(found[n])) for n in names)
    return MNIST(images, labels.long())


def load_mnist(
    split: Split = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> MNIST:
    """Load one split of MNIST (60,000 train or 10,000 test images), see `load_dataset`."""
    return load_dataset("mnist", split, data_dir, download)


def load_fashion_mnist(
    split: Split = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> MNIST:
    """Load one split of Fashion-MNIST (Xiao et al. 2017), see `load_dataset`."""
    return load_dataset("fashion-mnist", split, data_dir, download)


VALIDATION_SIZE = 10_000  # the last training images: the validation set when a run holds one out


def split_validation(images: Tensor) -> tuple[Tensor, Tensor]:
    """(fit, validation): all training images but the last `VALIDATION_SIZE`, and those.

    The split is fixed (the files' order, no shuffling), so every run that holds out a
    validation set holds out the same images: (60000, 28, 28) -> (50000, ...), (10000, ...).
    """
    if len(images) <= VALIDATION_SIZE:
        raise ValueError(
            f"a validation split needs more than {VALIDATION_SIZE:,} training images, got "
            f"{len(images):,}; load the full training split"
        )
    return images[:-VALIDATION_SIZE], images[-VALIDATION_SIZE:]


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
