"""Execute chapters in quick mode and keep only the outputs that nbval compares.

Usage: python scripts/store_checked_outputs.py book/02_elbo.ipynb [more notebooks]

Each notebook is executed with VAE_BOOK_QUICK=1 (as the tests run it). Then the outputs
of cells tagged `nbval-check-output` are kept (text only, and the values that myst-nb's
`glue` records, which nbval compares as well) and every other output is removed, with
their execution counts and volatile metadata (nbval needs the counts of the checked
cells), so that git holds no images and notebook diffs stay readable. The site build
executes the chapters afresh anyway.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CHECK_TAG = "nbval-check-output"
TEXT_MIMES = ("text/plain",)
GLUE_PREFIX = "application/papermill.record/"  # what myst-nb's glue() records, kept whole


def keep_checked_outputs(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        cell.setdefault("id", uuid.uuid4().hex[:8])  # cells added by hand may lack one
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if CHECK_TAG not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stdout":
                if kept and kept[-1].output_type == "stream":
                    kept[-1].text += out.text  # one block however the kernel flushed it
                else:
                    kept.append(out)
            elif out.output_type in ("execute_result", "display_data"):
                glued = "scrapbook" in out.metadata  # a glued value: nbval compares it too
                keep = (lambda k: k.startswith(GLUE_PREFIX)) if glued else TEXT_MIMES.__contains__
                out.data = {k: v for k, v in out.data.items() if keep(k)}
                out.metadata = {"scrapbook": out.metadata["scrapbook"]} if glued else {}
                if out.data:
                    kept.append(out)
        cell.outputs = kept


def main(paths: list[str]) -> None:
    os.environ["VAE_BOOK_QUICK"] = "1"
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
        keep_checked_outputs(nb)
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, path)
        print(f"stored checked outputs of {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
