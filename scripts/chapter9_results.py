"""Summarize chapter 9's training runs into vae_tutorial/results/chapter9.json.

Usage:
    bash scripts/chapter9_sweep.sh          # trains every run, then calls this script
    python scripts/chapter9_results.py [--runs runs/ch9] [--only NAME ...]

Every run trains on the first 50,000 training images and watches the ELBO on the last
10,000 (the validation set) after every epoch, so the chapter makes its choices on
validation curves. For every config in configs/ch9/ whose run has finished, this records the
config, the command that reproduces it, the per-epoch history (train ELBO, and the
validation ELBO, its reconstruction term and KL), the per-step KL and ELBO averaged over
windows of `WINDOW` steps, and, measured once on the final model, the test-set numbers: the
ELBO and its terms on all 10,000 test images; on the first `NLL_IMAGES` of them the ELBO
again and the importance-sampled NLL (`K` samples), each with its standard error over the
images and that of their paired difference, the gap; the posterior's active units, KL per
dimension and log-variance range, the rate decomposition (`evaluate.rate_decomposition`),
and 8 test reconstructions and 8 prior samples as uint8 thumbnails. Chapter 9 reads only
this file, so the book build trains none of these runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from vae_tutorial import TrainConfig, reconstruct, sample
from vae_tutorial.book import encode_thumbnails
from vae_tutorial.checkpoint import load_checkpoint, model_from_checkpoint
from vae_tutorial.data import fixed_binarization, load_dataset
from vae_tutorial.estimators import mean_standard_error
from vae_tutorial.evaluate import (
    active_units,
    evaluate_elbo,
    evaluate_log_likelihood,
    kl_per_dimension,
    posterior_statistics,
    rate_decomposition,
)

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 25  # steps averaged per stored point of the per-step curves
K = 100  # importance samples for the NLL
NLL_IMAGES = 2000  # first test images for the NLL
THUMBNAILS = 8


def windowed(values: list[float], window: int = WINDOW) -> list[float]:
    """Means of consecutive windows of `window` values (the last one may be shorter)."""
    chunks = [values[i : i + window] for i in range(0, len(values), window)]
    return [sum(chunk) / len(chunk) for chunk in chunks]


def summarize(name: str, config_path: Path, run_dir: Path) -> dict:
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    config = TrainConfig.from_dict(ckpt["train_config"])
    if ckpt["epoch"] < config.epochs:
        raise SystemExit(f"{run_dir} has trained {ckpt['epoch']} of {config.epochs} epochs")
    model = model_from_checkpoint(ckpt, run_dir).eval()
    x = fixed_binarization(load_dataset(config.dataset, "test").images)
    mu, logvar = posterior_statistics(model, x)
    decomposition = rate_decomposition(model, x)
    terms = evaluate_elbo(model, x)  # (N,) each, nats per image
    start = time.perf_counter()
    log_px = evaluate_log_likelihood(model, x[:NLL_IMAGES], k=K, progress=False)  # (n,)
    nll_seconds = time.perf_counter() - start
    elbo_n = terms.elbo[:NLL_IMAGES]  # (n,), the same images as the NLL
    history = ckpt["history"]
    return {
        "name": name,
        "command": f"vae-tutorial train --config {config_path.relative_to(ROOT)} "
        f"--out runs/ch9/{name}",
        "train_config": ckpt["train_config"],
        "train_seconds": ckpt.get("train_seconds"),
        "epochs": history["epochs"],
        "steps": {
            "window": WINDOW,
            "kl": windowed(history["steps"]["kl"]),
            "elbo": windowed(history["steps"]["elbo"]),
            "beta": windowed(history["steps"]["beta"]),
        },
        "active_units": int(active_units(mu).sum()),
        "kl_per_dimension": kl_per_dimension(mu, logvar).tolist(),
        "logvar_range": [logvar.min().item(), logvar.max().item()],
        "rate_decomposition": decomposition._asdict(),
        "test": {
            "n_images": x.shape[0],
            "elbo": terms.elbo.mean().item(),
            "elbo_se": mean_standard_error(terms.elbo),
            "recon_ll": terms.recon_ll.mean().item(),
            "kl": terms.kl.mean().item(),
        },
        "nll": {
            "value": -log_px.mean().item(),
            "se": mean_standard_error(log_px),
            "elbo": elbo_n.mean().item(),
            "elbo_se": mean_standard_error(elbo_n),
            "gap": (log_px - elbo_n).mean().item(),
            "gap_se": mean_standard_error(log_px - elbo_n),
            "k": K,
            "n_images": NLL_IMAGES,
            "seconds": nll_seconds,
        },
        "reconstructions": encode_thumbnails(reconstruct(model, x[:THUMBNAILS])),
        "test_images": encode_thumbnails(x[:THUMBNAILS]),
        "samples": encode_thumbnails(
            sample(model, THUMBNAILS, torch.Generator().manual_seed(0)).mean
        ),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "ch9")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "vae_tutorial" / "results" / "chapter9.json"
    )
    parser.add_argument(
        "--only", nargs="*", default=None, help="summarize these runs, keep the file's others"
    )
    args = parser.parse_args(argv)
    previous = json.loads(args.out.read_text())["runs"] if args.out.exists() else {}
    results = {}
    for config_path in sorted((ROOT / "configs" / "ch9").glob("*.toml")):
        name = config_path.stem
        if args.only is not None and name not in args.only:
            if name in previous:
                results[name] = previous[name]
            continue
        if not (args.runs / name / "checkpoint.pt").exists():
            print(f"skipping {name}: no run in {args.runs / name}")
            continue
        results[name] = summarize(name, config_path, args.runs / name)
        run = results[name]
        print(
            f"{name}: validation ELBO {run['epochs']['validation_elbo'][-1]:.2f}, "
            f"test ELBO {run['test']['elbo']:.2f}, NLL {run['nll']['value']:.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": results}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
