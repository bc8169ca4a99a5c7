"""The package's exceptions: one class per kind of thing that can go wrong.

Each error message names the problem and the fix, so that the command line can print
it as one line and a notebook reader knows what to do next. Nothing here imports torch.
"""

from __future__ import annotations


class VAETutorialError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(VAETutorialError, ValueError):
    """A tensor handed to the model has the wrong shape, range or values."""


class DataError(VAETutorialError, FileNotFoundError):
    """The dataset is missing, cannot be downloaded, or fails its checksum."""


class CheckpointError(VAETutorialError):
    """A checkpoint file is missing, corrupt, unsafe, or belongs to another model."""


class TrainingDivergedError(VAETutorialError):
    """The training loss became NaN or infinite."""
