"""The package's own exceptions (a leaf module: it imports nothing from ganbook, so the training
loop, the benchmark, the metrics and the Dirac-GAN code can all raise them without importing
each other)."""
from __future__ import annotations


class TrainingDiverged(RuntimeError):
    """Raised when a loss or a parameter becomes NaN or infinite."""


def check_finite(loss, what: str) -> None:
    """Raise :class:`TrainingDiverged` naming ``what`` if the tensor ``loss`` holds a NaN or an infinity
    (one host sync: call it once per check, not every step)."""
    if not bool(loss.isfinite().all()):
        raise TrainingDiverged(f"{what} became NaN/inf; lower the learning rate")


__all__ = ["TrainingDiverged", "check_finite"]
