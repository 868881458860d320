"""Mode statistics on hand-made samples whose answer is known exactly."""
import math

import pytest
import torch

from ganbook import data, metrics


def test_samples_at_five_centres():
    ring = data.ring()
    x = ring.means[[0, 1, 2, 3, 4]].repeat(20, 1)                 # 100 samples, 5 modes equally
    s = metrics.mode_stats(x, ring)
    assert s.modes == 5 and s.hq_fraction == 1.0
    assert math.isclose(s.reverse_kl, math.log(8 / 5), rel_tol=1e-9)   # Σ (1/5) log((1/5)·8)


def test_all_modes_uniformly_gives_zero_reverse_kl():
    grid = data.grid()
    s = metrics.mode_stats(grid.means.repeat(4, 1), grid)
    assert (s.modes, s.hq_fraction) == (25, 1.0) and abs(s.reverse_kl) < 1e-12


def test_threshold_is_three_standard_deviations():
    ring = data.ring()                                              # std 0.01
    centre = ring.means[2]
    inside = centre + torch.tensor([0.0299, 0.0])                   # 2.99 σ
    outside = centre + torch.tensor([0.0, 0.0301])                  # 3.01 σ
    s = metrics.mode_stats(torch.stack([inside, outside]), ring)
    assert s.hq_fraction == 0.5 and s.modes == 1 and s.counts[2] == 1


def test_one_mode_takes_all_and_nothing_is_high_quality():
    ring = data.ring()
    s = metrics.mode_stats(ring.means[[6]].repeat(10, 1), ring)
    assert s.modes == 1 and math.isclose(s.reverse_kl, math.log(8), rel_tol=1e-9)
    far = metrics.mode_stats(torch.zeros(10, 2), ring)              # the centre of the ring: 100 σ away
    assert far.modes == 0 and far.hq_fraction == 0.0 and far.reverse_kl == math.inf


def test_mixed_quality_counts():
    ring = data.ring()
    x = torch.cat([ring.means[[0]].repeat(3, 1), ring.means[[1]].repeat(1, 1), torch.zeros(4, 2)])
    s = metrics.mode_stats(x, ring)
    q = torch.tensor([0.75, 0.25], dtype=torch.float64)
    assert s.modes == 2 and s.hq_fraction == 0.5
    assert math.isclose(s.reverse_kl, float((q * torch.log(q * 8)).sum()), rel_tol=1e-9)


def test_bad_input():
    with pytest.raises(TypeError, match="target"):
        metrics.mode_stats(torch.zeros(3, 2), "ring")
    with pytest.raises(ValueError, match="samples"):
        metrics.mode_stats(torch.zeros(3, 3), data.ring())
    with pytest.raises(ValueError, match="threshold"):
        metrics.mode_stats(torch.zeros(3, 2), data.ring(), threshold=0)
