"""The package's own exceptions (a leaf module: it imports nothing from ganbook, so the training
loop, the benchmark, the metrics and the Dirac-GAN code can all raise them without importing
each other)."""
from __future__ import annotations


class TrainingDiverged(RuntimeError):
    """Raised when a loss or a parameter becomes NaN or infinite."""


__all__ = ["TrainingDiverged"]
