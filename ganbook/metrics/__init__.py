"""Measurements of what a generator learned.

* :mod:`.modes` — the mode-coverage protocol for mixtures (modes captured, high-quality
  fraction, reverse KL over modes).
"""
from .modes import ModeStats, mode_stats

__all__ = ["ModeStats", "mode_stats"]
