"""Seeds and determinism: `set_seed`, called once at the top of every chapter and run.

Seeds Python's `random`, NumPy and torch (CPU and every GPU), and asks torch for
deterministic algorithms, so that the same code, seed and machine give bit-identical
results. It does not make different machines or thread counts agree to the last bit:
floating-point sums depend on how work is split.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed every random number generator in use and (optionally) force determinism."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
