"""ganbook.latent: interpolation and truncation against closed forms and brute force."""
import math

import pytest
import torch

from ganbook import latent


def test_lerp_endpoints_and_midpoint():
    a, b = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    path = latent.lerp(a, b, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert path.shape == (3, 3, 5)
    assert torch.allclose(path[0], a) and torch.allclose(path[2], b)
    assert torch.allclose(path[1], (a + b) / 2)


def test_slerp_great_circle_2d():
    """In 2-D, slerp between unit vectors at angles 0 and θ is the unit vector at angle tθ."""
    th = 1.2
    a = torch.tensor([1.0, 0.0], dtype=torch.float64)
    b = torch.tensor([math.cos(th), math.sin(th)], dtype=torch.float64)
    t = torch.linspace(0, 1, 7, dtype=torch.float64)
    out = latent.slerp(a, b, t)
    ref = torch.stack([torch.cos(t * th), torch.sin(t * th)], 1)
    assert torch.allclose(out, ref, atol=1e-12)


def test_slerp_keeps_norm_when_norms_equal_and_falls_back_when_parallel():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(100, 64, generator=g, dtype=torch.float64)
    b = torch.randn(100, 64, generator=g, dtype=torch.float64)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    mid = latent.slerp(a, b, 0.5)
    assert torch.allclose(mid.norm(dim=1), a.norm(dim=1), rtol=1e-10)
    assert torch.allclose(latent.slerp(a, 2 * a, 0.5), 1.5 * a)          # parallel: lerp


def test_lerp_midpoint_norm_shrinks_by_sqrt2():
    """For independent z, z' ~ N(0, I_d): ‖(z + z')/2‖² has mean d/2 exactly."""
    g = torch.Generator().manual_seed(1)
    d = 64
    a, b = torch.randn(20000, d, generator=g), torch.randn(20000, d, generator=g)
    m = latent.lerp(a, b, 0.5).pow(2).sum(1).mean()
    assert abs(float(m) - d / 2) < 0.02 * d


def test_truncated_normal_bounds_and_distribution():
    g = torch.Generator().manual_seed(2)
    z = latent.truncated_normal(20000, 4, 1.0, generator=g)
    assert float(z.abs().max()) <= 1.0
    # variance of N(0,1) truncated to [−1, 1]: 1 − 2φ(1)/(2Φ(1) − 1)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    var = 1 - 2 * phi / math.erf(1 / math.sqrt(2))
    assert abs(float(z.var()) - var) < 0.01


def test_truncate_and_arithmetic():
    z = torch.randn(10, 3)
    assert torch.allclose(latent.truncate(z, 1.0), z)
    assert torch.allclose(latent.truncate(z, 0.0), torch.zeros_like(z))
    c = torch.ones(10, 3)
    assert torch.allclose(latent.truncate(z, 0.5, c), (z + 1) / 2)
    a, b, d = torch.randn(4, 3), torch.randn(5, 3), torch.randn(6, 3)
    assert torch.allclose(latent.arithmetic(a, b, d), a.mean(0) - b.mean(0) + d.mean(0))


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        latent.lerp(torch.zeros(3), torch.zeros(4), 0.5)
    with pytest.raises(TypeError, match="a must"):
        latent.slerp([1.0], torch.zeros(1), 0.5)
    with pytest.raises(ValueError, match="psi"):
        latent.truncate(torch.zeros(2), 1.5)
    with pytest.raises(ValueError, match="threshold"):
        latent.truncated_normal(3, 2, -1.0)
