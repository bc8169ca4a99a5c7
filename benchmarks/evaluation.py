"""Evaluation speed and the test NLL of every shipped model, beside published numbers.

For each shipped model: the test ELBO and the importance-sampled NLL with k samples over
the full 10,000-image test set (fixed binarization), and the wall-clock time of the NLL
evaluation. Published numbers: Burda, Grosse & Salakhutdinov (2016), Table 1, MNIST
(training data binarized dynamically, NLL estimated with k = 5000).

Usage: python benchmarks/evaluation.py [--k 1000] [--n-images 10000]
"""

from __future__ import annotations

import argparse
import time

from vae_tutorial.data import fixed_binarization, load_mnist
from vae_tutorial.evaluate import evaluate
from vae_tutorial.pretrained import available, metrics, pretrained

TEST_IMAGES = 10_000
PUBLISHED = [
    ("VAE, 1 stochastic layer (Burda et al. 2016, Table 1, k=1)", 86.76),
    ("IWAE, 2 stochastic layers, k=50 (Burda et al. 2016, Table 1; best)", 82.90),
]


def measure(k: int = 1000, n_images: int = TEST_IMAGES) -> list[dict[str, object]]:
    x = fixed_binarization(load_mnist("test").images[:n_images])
    rows = []
    for name in available():
        model = pretrained(name)
        start = time.perf_counter()
        result = evaluate(model, x, k=k, progress=False)
        rows.append({
            "model": name,
            "test_elbo": result.elbo,
            "test_nll": result.nll,
            "k": k,
            "n_images": n_images,
            "eval_seconds": time.perf_counter() - start,
            "train_seconds": metrics(name).get("train_seconds"),
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--n-images", type=int, default=TEST_IMAGES)
    args = parser.parse_args()
    for row in measure(args.k, args.n_images):
        print(row)
    for name, nll in PUBLISHED:
        print(f"published: {name}: NLL {nll:.2f}")


if __name__ == "__main__":
    main()
