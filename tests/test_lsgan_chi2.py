"""LSGAN at the optimal discriminator (chapter 3, section 3.8): the value C(G) of eq. (ch3-lsgan-cg)
equals (a + b − 2c)²/4 + (b − a)²/4 · χ²_Pearson(Q‖M), eq. (ch3-lsgan-mixture), but the generator's
gradient with D held at D* (eq. ch3-lsgan-ggen), computed through ``objectives.lsgan(...).g_loss``,
is not dC/dθ: the generator does not descend the χ². Q = P is a fixed point of both."""
import math

import pytest
import torch

from ganbook import data, objectives
from ganbook import divergences as dv

MP, SP, SQ = 0.0, 1.0, 1.1
X = torch.linspace(-12, 12, 40001, dtype=torch.float64)


def _normal(x: torch.Tensor, m, s: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def _d_star(x: torch.Tensor, theta, a: float, b: float, sq: float = SQ) -> torch.Tensor:
    p, q = _normal(x, MP, SP), _normal(x, theta, sq)
    return (b * p + a * q) / (p + q)                                    # eq. (ch3-lsgan-dstar)


def _value(theta: torch.Tensor, a: float, b: float, c: float, sq: float = SQ) -> torch.Tensor:
    """C(θ) = ½∫(p + q_θ)(D*_θ − c)², eq. (ch3-lsgan-cg), by the trapezoidal rule."""
    p, q = _normal(X, MP, SP), _normal(X, theta, sq)
    return 0.5 * torch.trapezoid((p + q) * (_d_star(X, theta, a, b, sq) - c) ** 2, X)


def _grad(fun, theta: float) -> float:
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(fun(th), th)
    return float(g)


def _chi2_to_mixture(theta: float) -> float:
    return dv.f_divergence_1d(data.gaussian_1d(theta, SQ), data.mixture([MP, theta], [SP, SQ]), "pearson",
                              -12, 12, n=40001)


def _generator_grad(theta: float, a: float, b: float, c: float, sq: float = SQ, n: int = 400_000) -> float:
    """d/dθ of the book's LSGAN g_loss on fakes θ + sq·z, with the discriminator frozen at D*_θ."""
    z = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    scores = _d_star(th + sq * z, theta, a, b, sq)                    # D* built at the current θ, then held
    (g,) = torch.autograd.grad(objectives.lsgan(a, b, c).g_loss(scores), th)
    return float(g)


@pytest.mark.parametrize("abc", [(-1.0, 1.0, 0.0), (0.0, 1.0, 1.0), (-2.0, 3.0, 1.0)])
def test_value_is_the_chi2_to_the_mixture(abc):
    a, b, c = abc
    for theta in (0.5, 1.5):
        C = float(_value(torch.tensor(theta, dtype=torch.float64), a, b, c))
        chi2 = _chi2_to_mixture(theta)
        assert C == pytest.approx((a + b - 2 * c) ** 2 / 4 + (b - a) ** 2 / 4 * chi2, abs=1e-6)   # gaussian_1d keeps SQ in float32
        # the factor: (b − a)²/4 on χ²(Q‖M), i.e. (b − a)²/8 on ∫(p − q)²/(p + q) = 2χ²(Q‖M)
        assert abs(C - ((a + b - 2 * c) ** 2 / 4 + (b - a) ** 2 / 2 * chi2)) > 1e-3


@pytest.mark.parametrize("abc", [(-1.0, 1.0, 0.0), (0.0, 1.0, 1.0)])
def test_generator_step_does_not_descend_the_value(abc):
    a, b, c = abc
    h = 2.0 ** -10                                                      # exact in float32 (gaussian_1d's dtype)
    for theta in (0.5, 1.5):
        dC = _grad(lambda th: _value(th, a, b, c), theta)
        dchi = (b - a) ** 2 / 4 * (_chi2_to_mixture(theta + h) - _chi2_to_mixture(theta - h)) / (2 * h)
        assert dC == pytest.approx(dchi, abs=1e-5)
        g_gen = _generator_grad(theta, a, b, c)
        # the generator's gradient by quadrature, eq. (ch3-lsgan-ggen): D* detached
        q_only = lambda th: 0.5 * torch.trapezoid(_normal(X, th, SQ) * (_d_star(X, th, a, b).detach() - c) ** 2, X)
        assert g_gen == pytest.approx(_grad(q_only, theta), abs=5e-3)
        assert abs(g_gen - dC) > 0.2 * abs(dC), (theta, g_gen, dC)


@pytest.mark.parametrize("abc", [(-1.0, 1.0, 0.0), (0.0, 1.0, 1.0)])
def test_data_distribution_is_a_fixed_point(abc):
    a, b, c = abc
    assert abs(_grad(lambda th: _value(th, a, b, c, sq=SP), MP)) < 1e-10
    assert abs(_generator_grad(MP, a, b, c, sq=SP)) < 1e-12
