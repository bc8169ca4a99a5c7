"""A chapter opened on its own (Colab, a download) installs the package and runs.

Every chapter's first code cell installs the book's package from the repository URL of
`_config.yml` when it is not importable, and keeps an installed PyTorch. The slow test
does it for real: a wheel of the package, a fresh virtual environment outside the
repository holding only PyTorch and a kernel, and chapter 6 copied into an empty folder
and executed there in quick mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = [*sorted(BOOK.glob("[0-9][0-9]_*.ipynb")), BOOK / "instructors.ipynb"]


def first_code_cell(path: Path) -> nbformat.NotebookNode:
    return next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def test_every_chapter_starts_by_installing_the_package_from_the_configured_repository() -> None:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    cells = {path.name: first_code_cell(path) for path in CHAPTERS}
    sources = {cell.source for cell in cells.values()}
    assert len(sources) == 1, "the chapters' bootstrap cells differ"
    (source,) = sources
    assert f'"vae-tutorial @ git+{url}"' in source
    assert "keep = [f\"torch=={version('torch')}\"]" in source
    assert all("bootstrap" in cell.metadata.get("tags", []) for cell in cells.values())


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                            cwd=cwd, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[1])
"""


@pytest.mark.slow
def test_a_downloaded_chapter_runs_in_a_fresh_environment(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building in place would leave build/ in the repo
    shutil.copytree(ROOT / "vae_tutorial", source / "vae_tutorial",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    wheels = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, source)
    (wheel,) = wheels.glob("vae_tutorial-*.whl")

    venv = tmp_path / "fresh"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    torch_version = version("torch")  # as pip knows it (no local "+cu..." part)
    _run(python, "-m", "pip", "install", "--quiet", f"torch=={torch_version}", "ipykernel",
         "nbclient")  # fmt: skip
    assert "vae_tutorial" not in _run(python, "-m", "pip", "list")

    folder = tmp_path / "downloads"
    folder.mkdir()
    chapter = folder / "06_sampling.ipynb"
    shutil.copy(ROOT / "book" / chapter.name, chapter)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(VAE_BOOK_QUICK="1", VAE_TUTORIAL_PACKAGE=str(wheel),
               PATH=f"{venv / 'bin'}:{env['PATH']}")  # fmt: skip
    _run(python, "-c", EXECUTE, chapter, folder, env=env, cwd=folder)

    executed = nbformat.read(chapter, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert not errors
    installed = json.loads(_run(python, "-m", "pip", "list", "--format", "json"))
    versions = {p["name"].lower(): p["version"] for p in installed}
    assert versions["vae-tutorial"] == "0.1.0"
    assert versions["torch"] == torch_version  # the reader's PyTorch was kept
    location = _run(python, "-c", "import vae_tutorial; print(vae_tutorial.__file__)", cwd=folder)
    assert str(venv) in location and str(ROOT) not in location
