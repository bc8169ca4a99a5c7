"""Training throughput: the package's loop against a conventional PyTorch pipeline.

Both train the default model (`configs/mnist-z16.toml` architecture, batch 128, Adam)
for the same number of steps on real MNIST in this process:
- conventional: torchvision.datasets.MNIST + ToTensor + DataLoader, Bernoulli draw per batch;
- package: `vae_tutorial.train` itself (in-memory uint8 data binarized per batch,
  channels-last layout, fused Adam), with evaluation and checkpoints pushed out of the way.
It also reports the package loop's achieved FLOP/s as a fraction of this machine's peak,
taken as the FLOP/s of a large float32 matrix multiply measured in the same run.

Usage: python benchmarks/throughput.py [--steps N]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from vae_tutorial import VAE, TrainConfig, train
from vae_tutorial.data import resolve_data_dir
from vae_tutorial.train import VAEObjective

BATCH = 128
MATMUL_SIZE = 4096


def conventional(steps: int) -> float:
    """Images per second of the textbook pipeline for `steps` optimizer steps."""
    dataset = torchvision.datasets.MNIST(
        str(resolve_data_dir()), train=True, transform=transforms.ToTensor()
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    torch.manual_seed(0)
    model = VAE(latent_dim=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    objective = VAEObjective()
    start = time.perf_counter()
    for step, (x, _) in enumerate(loader):
        if step == steps:
            break
        loss, _ = objective(model, torch.bernoulli(x), step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * BATCH / (time.perf_counter() - start)


def package(steps: int) -> float:
    """Images per second of `vae_tutorial.train` for `steps` optimizer steps."""
    config = TrainConfig(latent_dim=16, epochs=1, batch_size=BATCH, subset=steps * BATCH,
                         eval_images=1, checkpoint_every=10**9)  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train(config, out, progress=False)
        return steps * BATCH / (time.perf_counter() - start)


def train_flops_per_image() -> float:
    """FLOPs of one forward and backward pass of the objective, per image."""
    model = VAE(latent_dim=16)
    x = torch.bernoulli(torch.full((BATCH, 1, 28, 28), 0.2))
    with FlopCounterMode(display=False) as counter:
        loss, _ = VAEObjective()(model, x, 0)
        loss.backward()
    return counter.get_total_flops() / BATCH


def matmul_flops_per_second(repeats: int = 20) -> float:
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    a @ a
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return repeats * 2 * MATMUL_SIZE**3 / (time.perf_counter() - start)


def measure(steps: int = 400) -> dict[str, float]:
    conv = conventional(steps)
    pkg = package(steps)
    flops = train_flops_per_image()
    peak = matmul_flops_per_second()
    return {
        "conventional_img_per_s": conv,
        "package_img_per_s": pkg,
        "speedup": pkg / conv,
        "train_mflop_per_image": flops / 1e6,
        "achieved_gflop_per_s": pkg * flops / 1e9,
        "matmul_gflop_per_s": peak / 1e9,
        "fraction_of_peak": pkg * flops / peak,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    result = measure(parser.parse_args().steps)
    for key, value in result.items():
        print(f"{key:<26}{value:12.3f}")


if __name__ == "__main__":
    main()
