"""Confining the reader's code while it is graded: bubblewrap, a dropped user and limits.

`confine(argv, workdir, hidden, limits)` returns the command line that runs `argv`

- under bubblewrap (Debian's `bubblewrap`, `bwrap`) when it works here: no network (its
  own empty network namespace), its own process and IPC namespaces, the whole file system
  read-only, `/tmp` and the home folder empty and throwaway, the `hidden` folders (the
  book, the solutions, the autograders, the other submissions, the grades) replaced by
  empty ones, only `workdir` writable; run as root, it drops to the unprivileged user
  `nobody` with no capabilities (`setpriv`), so that the process limit applies;
- with `prlimit`: address space (`limits.memory_bytes`), processes and threads of that
  user (`limits.processes`), CPU seconds (`limits.cpu_seconds`). The wall-clock limit
  (`limits.wall_seconds`) is the caller's (`subprocess.run(timeout=...)`), and bubblewrap's
  `--die-with-parent` ends every process of the sandbox with it.

`isolation()` says which is in force: "bubblewrap" or "limits only" (no bubblewrap, or
one that cannot make namespaces here: then the reader's code can read and write what the
grading user can, and reach the network). Docker's `otter grade` is the stronger choice
where a Docker daemon runs (README, "Teaching with it").

It does not grade (`question.py`, `grading.py`). Reference: bwrap(1),
https://github.com/containers/bubblewrap; prlimit(1) and setpriv(1) of util-linux.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534  # the uid and gid of `nobody` on Debian


@dataclass(frozen=True)
class Limits:
    """What one question of one submission may use."""

    wall_seconds: float = 120.0  # per question, measured by the caller
    cpu_seconds: int = 240  # CPU time of the process (all its threads)
    memory_bytes: int = 8 * 2**30  # address space: importing torch alone maps ~3.4 GB
    processes: int = 256  # processes and threads of the sandbox's user


def _bwrap_prefix(workdir: Path, hidden: Sequence[Path]) -> list[str]:
    """bwrap's arguments: read-only root, throwaway /tmp and home, `hidden` emptied."""
    home = Path.home()
    keep = [Path(sys.prefix), Path(sys.base_prefix), Path(__file__).resolve().parents[1]]
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    tmp = Path("/tmp")
    for folder in sorted({tmp, home, *map(Path.resolve, hidden)}, key=lambda p: len(p.parts)):
        if folder.exists() and folder != Path("/"):
            args += [*(["--perms", "1777"] if folder == tmp else []), "--tmpfs", str(folder)]
            # what Python and the package need from inside a hidden folder comes back,
            # read-only, from its first level down (bwrap would make deeper mount points 0700)
            for inner in keep:
                if inner.is_relative_to(folder) and inner != folder:
                    top = folder / inner.relative_to(folder).parts[0]
                    args += ["--ro-bind", str(top), str(top)]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    args += ["--setenv", "HOME", str(workdir), "--setenv", "TMPDIR", "/tmp"]
    args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:  # root's process count has no limit: run as nobody
        args += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        args += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    else:
        args[1:1] = ["--unshare-user"]
    return args


def _limits_prefix(limits: Limits) -> list[str]:
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--cpu={limits.cpu_seconds}",
        "--",
    ]


@functools.cache
def isolation() -> str:
    """ "bubblewrap" if a sandboxed `true` runs here, else "limits only"."""
    if shutil.which("bwrap") is None or shutil.which("setpriv") is None:
        return "limits only"
    probe = Path("/tmp")
    try:
        result = subprocess.run(
            [*_bwrap_prefix(probe, []), "true"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "limits only"
    return "bubblewrap" if result.returncode == 0 else "limits only"


def confine(
    argv: Sequence[str], workdir: Path, hidden: Sequence[Path], limits: Limits
) -> list[str]:
    """The command that runs `argv` in `workdir`, confined as this machine allows."""
    prefix = _bwrap_prefix(workdir, hidden) if isolation() == "bubblewrap" else []
    return [*prefix, *_limits_prefix(limits), *argv]
