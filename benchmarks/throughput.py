"""Training throughput: the package's loop against a conventional PyTorch pipeline.

All rows train the default model (`configs/mnist-z16.toml` architecture, Adam) on real
MNIST in this process, for the same number of steps:
- conventional: torchvision.datasets.MNIST + ToTensor + DataLoader(shuffle=True),
  a Bernoulli draw per batch, the model in PyTorch's default (NCHW) layout, Adam's
  default update, batch 128 -- what a textbook script does;
- package: `vae_tutorial.train` itself (in-memory uint8 data binarized per batch,
  channels-last layout, fused Adam), with evaluation and checkpoints pushed out of the
  way, at batch 128 (the shipped configs) and at batch 256 (the larger-batch lever);
- compute only: the package's training step repeated on one batch already in memory, no
  data pipeline at all. No loader can beat it, so it bounds every data-side lever;
- torch.compile (optional, `--compile`): the compute-only step with inductor compiling
  the whole step, or only the model's layers, with the one-off compile time.

It also reports the achieved FLOP/s as a fraction of this machine's peak, taken as the
FLOP/s of a large float32 matrix multiply measured in the same run, and the images per
second a training step would reach at that peak: the ceiling of any CPU lever.

Usage: python benchmarks/throughput.py [--steps N] [--compile]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from vae_tutorial import VAE, TrainConfig, VAEConfig, train
from vae_tutorial.data import resolve_data_dir
from vae_tutorial.train import VAEObjective

BATCH = 128
LARGE_BATCH = 256
MATMUL_SIZE = 4096
WARMUP_STEPS = 5
TABLE_ROWS = [  # (pipeline, batch, key of `measure`), compared with the conventional one
    ("vae_tutorial.train", BATCH, "package_img_per_s"),
    ("vae_tutorial.train", LARGE_BATCH, "package_b256_img_per_s"),
    ("training step alone, no data", BATCH, "compute_only_img_per_s"),
    ("training step alone, no data", LARGE_BATCH, "compute_only_b256_img_per_s"),
    ("training step alone, torch.compile of the whole step", BATCH, "compiled_img_per_s"),
    ("training step alone, torch.compile of the model's layers", BATCH, "compiled_model_img_per_s"),
    ("training step at the matmul peak (ceiling)", "", "img_per_s_at_peak"),
]


def conventional(steps: int) -> float:
    """Images per second of the textbook pipeline for `steps` optimizer steps."""
    dataset = torchvision.datasets.MNIST(
        str(resolve_data_dir()), train=True, transform=transforms.ToTensor()
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    torch.manual_seed(0)
    model = VAE(latent_dim=16).to(memory_format=torch.contiguous_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    objective = VAEObjective()
    start = time.perf_counter()
    for step, (x, _) in enumerate(loader):
        if step == WARMUP_STEPS:
            start = time.perf_counter()
        if step == steps + WARMUP_STEPS:
            break
        loss, _ = objective(model, torch.bernoulli(x), step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * BATCH / (time.perf_counter() - start)


def package(steps: int, batch_size: int = BATCH) -> float:
    """Images per second of `vae_tutorial.train` for `steps` optimizer steps."""
    config = TrainConfig(model=VAEConfig(latent_dim=16), epochs=1, batch_size=batch_size,
                         subset=steps * batch_size, eval_images=1,
                         checkpoint_every=10**9)  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train(config, out, progress=False)
        return steps * batch_size / (time.perf_counter() - start)


def _step_on_one_batch(batch_size: int, compile_model: bool = False) -> Callable[[], None]:
    """The package's training step (channels-last model, fused Adam) on a fixed batch.

    compile_model: run the model's three nn.Sequential stacks through torch.compile.
    """
    torch.manual_seed(0)
    model = VAE(latent_dim=16)
    if compile_model:
        for name in ("encoder", "decoder_fc", "decoder_conv"):
            setattr(model, name, torch.compile(getattr(model, name)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    objective = VAEObjective()
    x = torch.bernoulli(torch.full((batch_size, 1, 28, 28), 0.13))
    x = x.contiguous(memory_format=torch.channels_last)  # (B, 1, 28, 28)

    def step() -> None:
        loss, _ = objective(model, x, 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _images_per_second(step: Callable[[], None], steps: int, batch_size: int) -> float:
    for _ in range(WARMUP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


def compute_only(steps: int, batch_size: int = BATCH) -> float:
    """Images per second of the bare training step, no data pipeline."""
    return _images_per_second(_step_on_one_batch(batch_size), steps, batch_size)


def compiled(steps: int, whole_step: bool, batch_size: int = BATCH) -> tuple[float, float]:
    """(images per second, seconds of the first step) of the bare step under torch.compile.

    whole_step: compile the whole step (loss, backward, Adam); else only the model's layers.
    """
    if whole_step:
        step = torch.compile(_step_on_one_batch(batch_size))
    else:
        step = _step_on_one_batch(batch_size, compile_model=True)
    start = time.perf_counter()
    step()
    compile_seconds = time.perf_counter() - start
    return _images_per_second(step, steps, batch_size), compile_seconds


def train_flops_per_image() -> float:
    """FLOPs of one forward and backward pass of the objective, per image."""
    model = VAE(latent_dim=16)
    x = torch.bernoulli(torch.full((BATCH, 1, 28, 28), 0.2))
    with FlopCounterMode(display=False) as counter:
        loss, _ = VAEObjective()(model, x, 0)
        loss.backward()
    return counter.get_total_flops() / BATCH


def matmul_flops_per_second(repeats: int = 20) -> float:
    """FLOP/s of a MATMUL_SIZE^2 float32 matrix product: this machine's practical peak."""
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    a @ a
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return repeats * 2 * MATMUL_SIZE**3 / (time.perf_counter() - start)


def measure(steps: int = 400, with_compile: bool = False) -> dict[str, float]:
    conv = conventional(steps)
    rows = {
        "conventional_img_per_s": conv,
        "package_img_per_s": package(steps),
        "package_b256_img_per_s": package(steps // 2, LARGE_BATCH),
        "compute_only_img_per_s": compute_only(steps),
        "compute_only_b256_img_per_s": compute_only(steps // 2, LARGE_BATCH),
    }
    if with_compile:
        rows["compiled_img_per_s"], rows["compile_seconds"] = compiled(steps, whole_step=True)
        rows["compiled_model_img_per_s"], _ = compiled(steps, whole_step=False)
    flops = train_flops_per_image()
    peak = matmul_flops_per_second()
    pkg = rows["package_img_per_s"]
    rows |= {
        "speedup": pkg / conv,
        "speedup_b256": rows["package_b256_img_per_s"] / conv,
        "speedup_compute_only": rows["compute_only_img_per_s"] / conv,
        "train_mflop_per_image": flops / 1e6,
        "achieved_gflop_per_s": pkg * flops / 1e9,
        "matmul_gflop_per_s": peak / 1e9,
        "fraction_of_peak": pkg * flops / peak,
        "img_per_s_at_peak": peak / flops,
        "speedup_at_peak": peak / flops / conv,
        "fraction_of_peak_for_3x": 3 * conv * flops / peak,
        "threads": torch.get_num_threads(),
    }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    for key, value in measure(args.steps, args.compile).items():
        print(f"{key:<30}{value:12.3f}")


if __name__ == "__main__":
    main()
