"""Dirac-GAN (ganbook.dirac, chapter 7) against closed forms derived by hand.

With f(t) = log σ(t): f′(0) = 1/2, f″(0) = −1/4. In the book's sign convention the GAN field is
v(θ, ψ) = (ψ σ(ψθ), −θ σ(ψθ)); its Jacobian at the equilibrium is [[0, a], [−a, 0]] with a = f′(0),
so the eigenvalues are ±ia. A regulariser adds a negative entry in the ψψ corner:
R1: −γ; instance noise: 2σ²f″(0). Consensus optimisation adds −γJᵀJ = −γa²I.
"""
from __future__ import annotations

import cmath

import pytest
import torch

from ganbook import dirac

A = 0.5          # f′(0)
F2 = -0.25       # f″(0)


def _sorted(ev: torch.Tensor) -> list[complex]:
    return sorted((complex(e) for e in ev), key=lambda c: (round(c.real, 9), c.imag))


def _close(ev: torch.Tensor, expected: list[complex], tol: float = 1e-9) -> None:
    got = _sorted(ev)
    want = sorted(expected, key=lambda c: (round(c.real, 9), c.imag))
    for g, w in zip(got, want):
        assert abs(g - w) < tol, (got, want)


def test_gan_field_matches_hand_derivation():
    g = torch.Generator().manual_seed(0)
    th, ps = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    vt, vp = dirac.vector_field(th, ps, "minimax")
    s = torch.sigmoid(ps * th)
    assert torch.allclose(vt, ps * s, atol=1e-12)
    assert torch.allclose(vp, -th * s, atol=1e-12)
    # the saturating field is a rotation: v ⟂ (θ, ψ) everywhere
    assert torch.allclose(vt * th + vp * ps, torch.zeros_like(th), atol=1e-12)


def test_nonsaturating_field_shrinks_radius_in_continuous_time():
    # θ' = ψσ(−ψθ)... d/dt ½r² = θψ(σ(−ψθ) − σ(ψθ)) = −θψ tanh(ψθ/2) ≤ 0
    g = torch.Generator().manual_seed(1)
    th, ps = torch.randn(200, generator=g, dtype=torch.float64), torch.randn(200, generator=g, dtype=torch.float64)
    vt, vp = dirac.vector_field(th, ps, "nonsaturating")
    radial = vt * th + vp * ps
    assert torch.allclose(radial, -th * ps * torch.tanh(th * ps / 2), atol=1e-12)


@pytest.mark.parametrize("method,expected", [
    ("minimax", [complex(0, A), complex(0, -A)]),
    ("nonsaturating", [complex(0, A), complex(0, -A)]),
    ("wgan", [1j, -1j]),
])
def test_unregularised_eigenvalues_are_imaginary(method, expected):
    _close(dirac.eigenvalues(method), expected)


@pytest.mark.parametrize("gamma", [0.3, 1.0, 2.5])
def test_r1_eigenvalues(gamma):
    disc = cmath.sqrt(gamma**2 / 4 - A**2)
    # γ = 2a: a double eigenvalue of a non-diagonalisable Jacobian, which any eigensolver finds
    # only to about √ε ≈ 1.5e-8 (torch 2.1's LAPACK: 3.3e-9 off), not to 1e-9.
    tol = 1e-7 if gamma == 2 * A else 1e-9
    _close(dirac.eigenvalues("r1", gamma=gamma), [-gamma / 2 + disc, -gamma / 2 - disc], tol)


@pytest.mark.parametrize("sigma", [0.2, 0.5, 1.5, 3.0])
def test_instance_noise_eigenvalues(sigma):
    re = sigma**2 * F2
    disc = cmath.sqrt(sigma**4 * F2**2 - A**2)
    _close(dirac.eigenvalues("instance-noise", sigma=sigma), [re + disc, re - disc], tol=1e-8)


@pytest.mark.parametrize("gamma", [0.1, 1.0, 3.0])
def test_consensus_eigenvalues(gamma):
    _close(dirac.eigenvalues("consensus", gamma=gamma), [complex(-gamma * A**2, A), complex(-gamma * A**2, -A)])


def test_wgan_gp_has_no_jacobian_at_equilibrium():
    with pytest.raises(ValueError, match="not differentiable"):
        dirac.eigenvalues("wgan-gp")


@pytest.mark.parametrize("h", [0.05, 0.3, 1.0])
def test_simultaneous_steps_expand_alternating_steps_preserve_area(h):
    # simultaneous: eigenvalues 1 ± iha, modulus √(1 + h²a²) > 1
    sim = dirac.update_eigenvalues("minimax", h=h)
    _close(sim, [complex(1, h * A), complex(1, -h * A)])
    # alternating: Jacobian [[1, ha], [−ha, 1 − h²a²]], det 1, trace 2 − h²a²; |λ| = 1 for ha < 2
    alt = dirac.update_eigenvalues("minimax", h=h, alternating=True)
    tr = 2 - (h * A) ** 2
    lam = (tr + cmath.sqrt(tr**2 - 4)) / 2
    _close(alt, [lam, lam.conjugate()])
    assert all(abs(abs(complex(e)) - 1) < 1e-12 for e in alt)


def test_trajectories():
    # simultaneous steps of the saturating GAN: ‖x + hv‖² = ‖x‖² + h²‖v‖² (v ⟂ x): strictly growing
    sim = dirac.trajectory("minimax", start=(1.0, 0.5), steps=300, h=0.2)
    r = sim.norm(dim=1)
    assert bool((r[1:] > r[:-1]).all())
    # R1 with γ = 1 (double eigenvalue −1/2): converges to the equilibrium
    assert float(dirac.trajectory("r1", start=(1.0, 0.5), steps=400, h=0.2, gamma=1.0)[-1].norm()) < 1e-6


def test_validation():
    with pytest.raises(ValueError, match="method"):
        dirac.vector_field(0.0, 0.0, "vanilla")
    with pytest.raises(TypeError, match="method"):
        dirac.vector_field(0.0, 0.0, 3)
    with pytest.raises(ValueError, match="same shape"):
        dirac.vector_field(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="h"):
        dirac.trajectory("minimax", h=-1.0)
    with pytest.raises(ValueError, match="point"):
        dirac.jacobian("minimax", point=(0.0,))
    with pytest.raises(ValueError, match="sigma"):
        dirac.vector_field(0.0, 0.0, "instance-noise", sigma=0.0)


@pytest.mark.parametrize("method", dirac.METHODS)
def test_fast_and_differentiable_paths_agree(method):
    g = torch.Generator().manual_seed(3)
    th, ps = torch.randn(20, generator=g, dtype=torch.float64), torch.randn(20, generator=g, dtype=torch.float64)
    fast = dirac.vector_field(th, ps, method)
    slow = dirac.vector_field(th.clone().requires_grad_(True), ps.clone().requires_grad_(True), method)
    assert torch.allclose(fast[0], slow[0].detach(), atol=1e-12) and torch.allclose(fast[1], slow[1].detach(), atol=1e-12)
