"""Time each chapter's execution, for the "For instructors" page.

Usage: python scripts/chapter_timings.py

Executes every chapter (book/NN_*.ipynb) top to bottom as `make book` does, in full mode
with the shipped models and an empty run cache (so the training that chapters 5 and 10 do
is counted, as on a reader's first run), one after the other, and writes
`vae_tutorial/results/chapter_timings.json`: the machine (CPU model, cores, torch threads),
the date, and the wall-clock seconds of each chapter. MNIST must be readable
(VAE_TUTORIAL_DATA or the default cache).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "vae_tutorial" / "results" / "chapter_timings.json"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    os.environ.pop("VAE_BOOK_QUICK", None)
    os.environ["VAE_TUTORIAL_CACHE"] = tempfile.mkdtemp(prefix="vae-timings-")
    seconds = {}
    for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            notebook, timeout=1800, resources={"metadata": {"path": str(path.parent)}}
        ).execute()
        seconds[path.stem] = round(time.perf_counter() - start, 1)
        print(f"{path.stem:<28}{seconds[path.stem]:>8.1f} s", flush=True)
    OUT.write_text(
        json.dumps(
            {
                "machine": {
                    "cpu": cpu_model(),
                    "cores": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                },
                "date": datetime.date.today().isoformat(),
                "mode": "full mode, shipped models, empty run cache (a reader's first run)",
                "seconds": seconds,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
