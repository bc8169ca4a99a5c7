"""Data root resolution, checksums, clear errors for missing data, and binarized batches."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch

from vae_tutorial import DataError, load_mnist
from vae_tutorial import data as data_module
from vae_tutorial.data import (
    DATA_ENV_VAR,
    FASHION_MNIST_SPEC,
    MNIST_SPEC,
    SPLIT_FILES,
    BinarizedBatches,
    DatasetSpec,
    fixed_binarization,
    load_fashion_mnist,
    parse_idx,
    resolve_data_dir,
    seeded_generator,
)


def test_data_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(data_module.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    assert resolve_data_dir() == tmp_path / "cache" / "data"
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"


def test_real_mnist_is_uint8_in_memory() -> None:
    train, test = load_mnist("train"), load_mnist("test")
    assert train.images.shape == (60_000, 28, 28) and test.images.shape == (10_000, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert set(test.labels.unique().tolist()) == set(range(10))


def test_missing_data_folder_names_folder_variable_and_files(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_mnist("test", tmp_path / "nowhere", download=False)
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in message
    assert DATA_ENV_VAR in message and "t10k-images-idx3-ubyte" in message
    assert not (tmp_path / "nowhere").exists(), "a failed load must not create folders"


def test_offline_download_failure_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://...")

    monkeypatch.setattr("torchvision.datasets.MNIST", offline)
    with pytest.raises(DataError, match="download failed: Error downloading") as info:
        load_mnist("train", tmp_path)
    assert "\n" not in str(info.value) and DATA_ENV_VAR in str(info.value)


def copy_test_split(tmp_path: Path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(resolve_data_dir() / "MNIST" / "raw" / name, raw / name)
        (raw / name).chmod(0o644)
    return raw


def test_truncated_and_corrupted_files_are_refused(tmp_path: Path) -> None:
    raw = copy_test_split(tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    original = labels.read_bytes()
    cuts = sorted(
        {*range(0, 32), *range(0, len(original), 97), *range(len(original) - 32, len(original))}
    )
    for cut in cuts:
        labels.write_bytes(original[:cut])
        with pytest.raises(
            DataError, match="t10k-labels-idx1-ubyte is corrupt or truncated"
        ) as info:
            load_mnist("test", tmp_path, download=False)
        assert f"vae-tutorial download --data-dir {tmp_path}" in str(info.value)
    for position in [0, 7, 8, 100, 5000, len(original) - 1]:
        flipped = bytearray(original)
        flipped[position] ^= 0x01
        labels.write_bytes(bytes(flipped))
        with pytest.raises(DataError, match="corrupt or truncated"):
            load_mnist("test", tmp_path, download=False)
    labels.write_bytes(original)
    restored = load_mnist("test", tmp_path, download=False)
    # the labels are the bytes after the 8-byte idx header (magic 2049, count 10,000)
    assert original[:8] == (2049).to_bytes(4, "big") + (10_000).to_bytes(4, "big")
    assert restored.labels.tolist() == list(original[8:])


def test_checksums_are_cached_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_test_split(tmp_path)
    monkeypatch.setenv("VAE_TUTORIAL_CACHE", str(tmp_path / "no" / "cache" / "yet"))
    load_mnist("test", tmp_path)
    record = data_module.cache_dir() / "verified-files.json"  # where the docs say it is
    written = record.stat().st_mtime_ns
    assert (
        str((tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").resolve()) in record.read_text()
    )
    calls: list[Path] = []
    real_sha = data_module._sha256
    monkeypatch.setattr(data_module, "_sha256", lambda p: calls.append(p) or real_sha(p))
    load_mnist("test", tmp_path)
    assert calls == [] and record.stat().st_mtime_ns == written  # nothing new: not rewritten
    images = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-1])
    with pytest.raises(DataError):
        load_mnist("test", tmp_path)
    assert [p.name for p in calls] == ["t10k-images-idx3-ubyte"]


@pytest.mark.parametrize("spec", [MNIST_SPEC, FASHION_MNIST_SPEC], ids=lambda s: s.name)
def test_known_checksums_are_those_of_the_real_files(spec: DatasetSpec) -> None:
    """Each recorded SHA-256 against hashlib on the (decompressed) file it names."""
    folders = [resolve_data_dir() / spec.folder / "raw", *map(Path, spec.system_dirs)]
    expected_names = {name for pair in SPLIT_FILES.values() for name in pair}
    assert set(spec.sha256) == expected_names
    for name, recorded in spec.sha256.items():
        found = [f / n for f in folders for n in (name, f"{name}.gz") if (f / n).is_file()]
        assert found, f"{name} is not in {folders}"
        content = found[0].read_bytes()
        if found[0].suffix == ".gz":
            content = gzip.decompress(content)
        assert hashlib.sha256(content).hexdigest() == recorded, name


def test_dynamic_binarization_redraws_each_epoch_and_is_reproducible() -> None:
    images = load_mnist("test").images[:500]
    batches = BinarizedBatches(images, batch_size=100, seed=3)
    e0, e0_again, e1 = (torch.cat(list(batches.epoch(e))) for e in (0, 0, 1))
    assert e0.shape == (500, 1, 28, 28) and set(e0.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(e0, e0_again)
    assert not torch.equal(e0, e1)
    sorted_e0 = e0[batches.order(0).argsort()]
    sorted_e1 = e1[batches.order(1).argsort()]
    assert not torch.equal(sorted_e0, sorted_e1), "the same image must be drawn afresh"


def test_dynamic_binarization_is_bernoulli_of_the_intensities() -> None:
    images = load_mnist("test").images[:1].expand(4000, 28, 28).contiguous()
    draws = torch.cat(list(BinarizedBatches(images, 1000, shuffle=False).epoch(0)))
    freq = draws.mean(0)  # (1, 28, 28)
    assert (freq - images[0].float() / 255).abs().max() < 0.04


def test_resumed_epoch_yields_the_same_remaining_batches() -> None:
    images = load_mnist("test").images[:640]
    batches = BinarizedBatches(images, batch_size=64, seed=1)
    full = list(batches.epoch(2))
    tail = list(batches.epoch(2, start_step=4))
    assert len(full) == 10 and len(tail) == 6
    for a, b in zip(full[4:], tail, strict=True):
        torch.testing.assert_close(a, b)


def test_fixed_binarization_never_changes() -> None:
    images = load_mnist("test").images[:300]
    batches = BinarizedBatches(images, 128, shuffle=False, binarization="fixed")
    torch.testing.assert_close(torch.cat(list(batches.epoch(0))), torch.cat(list(batches.epoch(5))))
    torch.testing.assert_close(torch.cat(list(batches.epoch(0))), fixed_binarization(images))


def test_batches_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="uint8"):
        BinarizedBatches(torch.rand(10, 28, 28), 4)
    with pytest.raises(ValueError, match="batch_size"):
        BinarizedBatches(torch.zeros(10, 28, 28, dtype=torch.uint8), 0)
    with pytest.raises(ValueError) as refused:
        BinarizedBatches(torch.zeros(10, 28, 28, dtype=torch.uint8), 4, binarization="otsu")
    assert str(refused.value) == "binarization must be dynamic, fixed or none, got 'otsu'"
    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    assert [b.shape[0] for b in BinarizedBatches(images, 1)] == [1, 1, 1]  # the smallest batch
    default_seed = BinarizedBatches(images, 1, shuffle=True).order(5)
    assert torch.equal(default_seed, torch.randperm(3, generator=seeded_generator(0, 5)))


def test_seeded_generators_are_those_the_shipped_runs_were_trained_with() -> None:
    """The keys (seed, epoch, ...) map to the same torch seeds in every version: NumPy's
    SeedSequence of the keys, its first 64-bit word, the top bit cleared (torch seeds are
    63-bit here). The shipped checkpoints' binarized batches, and the book's numbers, depend
    on them; the function is unchanged since those runs, and these are its values."""
    recorded = {(0, 0): 6569863346532939966, (1, 0): 7434755675892716031,
                (2, 5): 1632077066521499768}  # fmt: skip
    assert {k: seeded_generator(*k).initial_seed() for k in recorded} == recorded


def test_fashion_mnist_loads_from_the_system_package(tmp_path: Path) -> None:
    train = load_fashion_mnist("train", tmp_path / "empty-root", download=False)
    test = load_fashion_mnist("test", tmp_path / "empty-root", download=False)
    assert train.images.shape == (60_000, 28, 28) and test.images.shape == (10_000, 28, 28)
    assert train.images.dtype == torch.uint8 and set(test.labels.unique().tolist()) == set(
        range(10)
    )
    assert not torch.equal(test.images, load_mnist("test").images)


def test_corrupt_gzip_in_the_data_root_is_refused(tmp_path: Path) -> None:
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    source = Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read_bytes()
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(source[: len(source) // 2])
    shutil.copy("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", raw)
    with pytest.raises(
        DataError,
        match=r"t10k-labels-idx1-ubyte.gz is corrupt or truncated.*--dataset fashion-mnist",
    ):
        load_fashion_mnist("test", tmp_path)


def test_a_gzip_spoilt_after_its_checksum_was_recorded_is_refused_when_read(
    tmp_path: Path,
) -> None:
    """Same size and modification time: the checksum record skips it, reading it fails."""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(f"/usr/share/datasets/fashion-mnist/{name}", raw)
    load_fashion_mnist("test", tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte.gz"
    stamp = labels.stat()
    labels.write_bytes(bytes(stamp.st_size))
    os.utime(labels, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    with pytest.raises(DataError) as refused:
        load_fashion_mnist("test", tmp_path)
    assert str(refused.value).startswith(f"{labels} is not a readable gzip file (Not a gzipped")


def test_cache_dir_follows_the_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAE_TUTORIAL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_module.cache_dir() == tmp_path / "xdg" / "vae-tutorial"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_module.cache_dir() == tmp_path / "home" / ".cache" / "vae-tutorial"
    monkeypatch.setenv("VAE_TUTORIAL_CACHE", str(tmp_path / "mine"))
    assert data_module.cache_dir() == tmp_path / "mine"


def test_parse_idx_refuses_inconsistent_files() -> None:
    header = bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big")
    assert parse_idx(header + bytes(range(5))).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(DataError, match="header promises"):
        parse_idx(header + bytes(4))
    with pytest.raises(DataError) as refused:
        parse_idx(b"PK\x03\x04")
    assert str(refused.value) == "not an idx file of unsigned bytes"
    assert parse_idx(bytes([0, 0, 8, 0, 7])).tolist() == 7  # no dimensions: one number
    with pytest.raises(DataError) as refused:
        parse_idx(bytes([0, 0, 8, 0]))  # a header alone
    assert str(refused.value) == "idx body has 0 bytes, its header promises []"
    big = [2**24 + 1, 2**24 + 2]  # four-byte big-endian sizes, every byte counts
    for header, promised in [(bytes([0, 0, 8, 0]), []), (bytes([0, 0, 8, 2]), big)]:
        header += b"".join(n.to_bytes(4, "big") for n in promised)
        with pytest.raises(DataError) as refused:
            parse_idx(header + bytes(3))
        assert str(refused.value) == f"idx body has 3 bytes, its header promises {promised}"


def test_dynamic_draws_depend_on_the_epoch_without_shuffling() -> None:
    images = load_mnist("test").images[:300]
    batches = BinarizedBatches(images, batch_size=100, shuffle=False, seed=3)
    e0, e0_again, e1 = (torch.cat(list(batches.epoch(e))) for e in (0, 0, 1))
    torch.testing.assert_close(e0, e0_again)
    assert torch.equal(batches.order(0), batches.order(1)), "no shuffling: the same order"
    assert not torch.equal(e0, e1), "the same image, in the same place, must be drawn afresh"
    assert (e0 != e1).float().mean() > 0.01


def test_len_and_iteration_of_datasets_and_batches() -> None:
    mnist = load_mnist("test")
    assert len(mnist) == 10_000 == mnist.images.shape[0]
    images = mnist.images[:10]
    batches = BinarizedBatches(images, batch_size=4, seed=3)
    assert len(batches) == 3  # 4 + 4 + 2
    for got, want in zip(iter(batches), batches.epoch(0), strict=True):
        assert torch.equal(got, want)
    assert not all(torch.equal(a, b) for a, b in zip(iter(batches), batches.epoch(1), strict=True))


def test_download_replaces_only_the_files_that_fail_their_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline: each file that fails its checksum is deleted before the (failed) fetch."""
    fetched: list[tuple[str, bool]] = []

    def offline(root: str, train: bool, download: bool) -> None:
        fetched.append((root, train))
        raise RuntimeError("no network")

    monkeypatch.setattr("torchvision.datasets.MNIST", offline)
    monkeypatch.setattr("torchvision.datasets.FashionMNIST", offline)
    raw = copy_test_split(tmp_path)  # two real MNIST files, checksums right
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "elsewhere"))
    (raw / "train-images-idx3-ubyte").write_bytes(b"not mnist")
    with pytest.raises(DataError, match="download failed: no network") as info:
        data_module.download(tmp_path)  # MNIST by default, into the folder given
    assert f"MNIST not found in {raw}" in str(info.value)
    assert fetched == [(str(tmp_path), True)]
    assert not (raw / "train-images-idx3-ubyte").exists()
    assert (raw / "t10k-images-idx3-ubyte").exists() and (raw / "t10k-labels-idx1-ubyte").exists()

    fashion = tmp_path / "FashionMNIST" / "raw"
    fashion.mkdir(parents=True)
    (fashion / "t10k-labels-idx1-ubyte").write_bytes(b"not fashion")
    (raw / "train-labels-idx1-ubyte").write_bytes(b"left alone: not the dataset asked for")
    with pytest.raises(DataError, match="FashionMNIST not found"):
        data_module.download(tmp_path, "fashion-mnist")
    assert not (fashion / "t10k-labels-idx1-ubyte").exists()
    assert (raw / "train-labels-idx1-ubyte").exists()


def fake_torchvision(real_raw: Path, calls: list, truncate: str | None = None):
    """A torchvision dataset class that "downloads" by linking the real files."""

    def fetch(root: str, train: bool, download: bool) -> None:
        calls.append((root, train, download))
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        prefix = "train" if train else "t10k"
        for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
            if name == truncate:
                (raw / name).write_bytes((real_raw / name).read_bytes()[:100])
            elif not (raw / name).exists():
                (raw / name).symlink_to(real_raw / name)

    return fetch


def test_download_fetches_both_splits_into_the_root_and_verifies_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_raw = resolve_data_dir() / "MNIST" / "raw"
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "elsewhere"))
    calls: list = []
    monkeypatch.setattr("torchvision.datasets.MNIST", fake_torchvision(real_raw, calls))
    root = tmp_path / "root"
    assert data_module.download(root) == root
    assert calls == [(str(root), True, True), (str(root), False, True)]
    assert load_mnist("test", root, download=False).images.shape == (10_000, 28, 28)

    calls.clear()
    broken = fake_torchvision(real_raw, calls, truncate="t10k-labels-idx1-ubyte")
    monkeypatch.setattr("torchvision.datasets.MNIST", broken)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as info:
        data_module.download(tmp_path / "other")
    assert str(info.value).endswith(f"vae-tutorial download --data-dir {tmp_path / 'other'}")


def test_download_of_fashion_mnist_checks_the_fashion_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files share MNIST's names: they must be checked against Fashion-MNIST's hashes."""
    system = Path(FASHION_MNIST_SPEC.system_dirs[0])
    calls: list = []

    def fetch(root: str, train: bool, download: bool, truncate: bool = False) -> None:
        calls.append((root, train, download))
        raw = Path(root) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        prefix = "train" if train else "t10k"
        for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
            data = gzip.decompress((system / f"{name}.gz").read_bytes())
            (raw / name).write_bytes(data[:100] if truncate and not train else data)

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", fetch)
    root = tmp_path / "root"
    assert data_module.download(root, "fashion-mnist") == root
    assert calls == [(str(root), True, True), (str(root), False, True)]
    monkeypatch.setattr(
        "torchvision.datasets.FashionMNIST",
        lambda root, train, download: fetch(root, train, download, truncate=True),
    )
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is corrupt") as info:
        data_module.download(tmp_path / "other", "fashion-mnist")
    assert str(info.value).endswith(
        f"vae-tutorial download --dataset fashion-mnist --data-dir {tmp_path / 'other'}"
    )


def test_load_fashion_mnist_without_download_does_not_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list = []
    monkeypatch.setattr("torchvision.datasets.FashionMNIST", lambda *a, **k: calls.append(a))
    no_system_copy = dataclasses.replace(FASHION_MNIST_SPEC, system_dirs=())
    monkeypatch.setitem(data_module.DATASETS, "fashion-mnist", no_system_copy)
    with pytest.raises(DataError, match="FashionMNIST not found"):
        load_fashion_mnist("test", tmp_path, download=False)
    assert calls == []


def test_a_download_error_without_a_message_is_named_by_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError()

    monkeypatch.setattr("torchvision.datasets.MNIST", offline)
    with pytest.raises(DataError, match=r"the download failed: ConnectionError\. Expected"):
        data_module.download(tmp_path)


def test_the_missing_data_message_in_full(tmp_path: Path) -> None:
    """Written out by hand: the folder, the files, the variable and the command to run."""
    raw = tmp_path / "MNIST" / "raw"
    with pytest.raises(DataError) as info:
        load_mnist("test", tmp_path, download=False)
    assert str(info.value) == (
        f"MNIST not found in {raw}: missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte. "
        "Expected the files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte there. Point --data-dir or the "
        f"{DATA_ENV_VAR} environment variable at the folder that holds MNIST/raw/, or run "
        f"'vae-tutorial download --data-dir {tmp_path}' with internet access."
    )
    message = data_module._missing_message(tmp_path, FASHION_MNIST_SPEC, "a reason")
    assert message.startswith(
        f"FashionMNIST not found in {tmp_path / 'FashionMNIST' / 'raw'} "
        "(or /usr/share/datasets/fashion-mnist): a reason. Expected the files "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    )
    assert message.endswith(
        f"'vae-tutorial download --dataset fashion-mnist --data-dir {tmp_path}' "
        "with internet access."
    )


def test_loaders_default_to_the_train_split_and_to_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_mnist().images.shape == (60_000, 28, 28)
    assert torch.equal(data_module.load_dataset().images, load_mnist("train").images)
    assert len(load_fashion_mnist(data_dir=tmp_path)) == 60_000  # the system package

    def offline(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no network")

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", offline)
    no_system_copy = dataclasses.replace(FASHION_MNIST_SPEC, system_dirs=())
    monkeypatch.setitem(data_module.DATASETS, "fashion-mnist", no_system_copy)
    with pytest.raises(DataError, match="download failed: no network"):
        load_fashion_mnist("test", tmp_path)


def test_load_dataset_names_what_it_refuses() -> None:
    for call, message in [
        (lambda: data_module.load_dataset("cifar"),
         "dataset must be one of mnist, fashion-mnist, got 'cifar'"),
        (lambda: data_module.load_dataset("mnist", "val"),
         "split must be 'train' or 'test', got 'val'"),
    ]:  # fmt: skip
        with pytest.raises(ValueError) as refused:
            call()
        assert str(refused.value) == message


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")]
)
def test_missing_files_are_downloaded_into_the_root_then_read_from_there(
    name: str, folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = data_module.load_dataset(name, "test")
    fetched: list[tuple[Path, str]] = []

    def fake_download(root: Path, dataset: str) -> None:  # what download() leaves behind
        fetched.append((root, dataset))
        raw = root / folder / "raw"  # torchvision's layout
        raw.mkdir(parents=True)
        for kind, values in (("images-idx3", reference.images), ("labels-idx1", reference.labels)):
            dims = b"".join(n.to_bytes(4, "big") for n in values.shape)
            body = values.to(torch.uint8).numpy().tobytes()
            (raw / f"t10k-{kind}-ubyte").write_bytes(bytes([0, 0, 8, values.dim()]) + dims + body)

    monkeypatch.setattr(data_module, "download", fake_download)
    spec = dataclasses.replace(data_module.DATASETS[name], system_dirs=())  # no system copy
    monkeypatch.setitem(data_module.DATASETS, name, spec)
    root = tmp_path / "fresh"
    test_set = data_module.load_dataset(name, "test", root)
    assert fetched == [(root, name)]
    assert torch.equal(test_set.images, reference.images)
    assert torch.equal(test_set.labels, reference.labels)


def test_grey_level_batches_are_the_intensities_in_order() -> None:
    images = load_mnist("test").images[:10]
    batches = BinarizedBatches(images, 4, shuffle=False, binarization="none")
    got = torch.cat(list(batches.epoch(3)))
    torch.testing.assert_close(got, images[:, None].float() / 255, rtol=0, atol=0)


def test_orders_and_draws_depend_on_seed_epoch_and_step() -> None:
    images = load_mnist("test").images[:1].expand(8, 28, 28).contiguous()  # one image, 8x
    a = BinarizedBatches(images, 4, seed=3)
    b = BinarizedBatches(images, 4, seed=4)
    assert not torch.equal(a.order(0), a.order(1))  # another epoch, another order
    assert not torch.equal(a.order(0), b.order(0))  # another seed, another order
    first, second = list(BinarizedBatches(images, 4, shuffle=False, seed=3).epoch(0))
    assert not torch.equal(first, second)  # the same image, redrawn at the next step
    assert not torch.equal(next(a.epoch(0)), next(b.epoch(0)))  # another seed, other draws
