"""Dirac-GAN (chapter 7): the smallest GAN in which gradient play fails to converge.

Following Mescheder et al. (2018), the generator is a point mass p_θ = δ_θ on the real line, the
data are δ₀ and the discriminator is linear, D_ψ(x) = ψx (a logit; the book's convention: large
on real data). With f(t) = log σ(t) = −softplus(−t) the GAN value is, eq. (ch7-dirac-value),

    V(θ, ψ) = f(D_ψ(0)) + f(−D_ψ(θ)) = f(0) + f(−ψθ),

which the discriminator maximises and the generator minimises. The unique equilibrium is
(θ, ψ) = (0, 0). Gradient play follows the *vector field*

    v(θ, ψ) = (−∂_θ L_G(θ, ψ), ∂_ψ L_D(θ, ψ)),

where L_G is what the generator minimises and L_D what the discriminator maximises (they differ
for the non-saturating loss and when a regulariser is added). Mescheder et al. write the logit with
the opposite sign (ψ ↦ −ψ): trajectories are mirrored, eigenvalues are the same.

Everything is computed with autograd from the two objectives: :func:`vector_field` differentiates
them, :func:`jacobian` differentiates the field at a point, :func:`eigenvalues` returns the
eigenvalues of that Jacobian. The closed forms of the chapter (eqs. (ch7-dirac-eig-gan), (ch7-dirac-alt) and (ch7-dirac-eig-reg)) are *not*
used here; the tests and the notebook compare against them.

Methods (``method=``):

* ``"minimax"`` — saturating generator loss (the registry's ``"minimax"``), L_G = L_D = V;
* ``"nonsaturating"`` — L_G = −f(ψθ) = −log D(G(z));
* ``"wgan"`` — f(t) = t: V = −ψθ (no Lipschitz constraint, as in the paper's analysis);
* ``"wgan-gp"`` — WGAN with the penalty (γ/2)(|∇ₓD| − g₀)² = (γ/2)(|ψ| − g₀)² on the critic;
* ``"r1"`` — the GAN with the zero-centred penalty (γ/2)|∇ₓD(0)|² = (γ/2)ψ² on the discriminator;
* ``"instance-noise"`` — the GAN with N(0, σ²) noise added to real and generated samples (the
  expectation over the noise by Gauss–Hermite quadrature);
* ``"consensus"`` — consensus optimisation: v − γ ∇(½‖v‖²) with v the GAN field.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import grad

from . import _validate as V
from .errors import TrainingDiverged

METHODS = ("minimax", "nonsaturating", "wgan", "wgan-gp", "r1", "instance-noise", "consensus")


def f_log_sigmoid(t: torch.Tensor) -> torch.Tensor:
    """f(t) = log σ(t) = −softplus(−t); f′(0) = 1/2, f″(0) = −1/4."""
    return -F.softplus(-t)


def _method(method: object) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {type(method).__name__}")
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    return method


@functools.lru_cache(maxsize=4)
def _hermite(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of E_{ε~N(0,1)}[h(ε)] ≈ Σ wᵢ h(εᵢ) (Gauss–Hermite, probabilists' scaling)."""
    x, w = np.polynomial.hermite.hermgauss(n)
    return torch.tensor(x * math.sqrt(2.0), dtype=torch.float64), torch.tensor(w / math.sqrt(math.pi), dtype=torch.float64)


def objectives(theta: torch.Tensor, psi: torch.Tensor, method: str = "minimax", gamma: float = 1.0,
               sigma: float = 0.5, g0: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_G, L_D) elementwise for tensors θ, ψ of one shape: the generator minimises L_G, the
    discriminator maximises L_D, eq. (ch7-dirac-value) and its variants (module docstring).
    For ``"consensus"`` these are the GAN's objectives; the correction lives in :func:`vector_field`."""
    method = _method(method)
    f = f_log_sigmoid
    if method in ("wgan", "wgan-gp"):
        value = -psi * theta                                               # E_data D − E_G D
        l_d = value - 0.5 * gamma * (psi.abs() - g0) ** 2 if method == "wgan-gp" else value
        return value, l_d
    if method == "instance-noise":
        eps, w = _hermite()
        eps = (sigma * eps).to(theta).reshape((-1,) + (1,) * theta.dim())   # (q, 1, ..., 1)
        w = w.to(theta).reshape(eps.shape)
        value = (w * (f(psi * eps) + f(-psi * (theta + eps)))).sum(0)      # E_ε f(ψε) + E_ε f(−ψ(θ+ε))
        return value, value
    value = f(psi * 0.0) + f(-psi * theta)
    if method == "nonsaturating":
        return -f(psi * theta), value
    if method == "r1":
        return value, value - 0.5 * gamma * psi ** 2
    return value, value                                                    # "minimax", "consensus"


def vector_field(theta: torch.Tensor | float, psi: torch.Tensor | float, method: str = "minimax", gamma: float = 1.0,
                 sigma: float = 0.5, g0: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """v(θ, ψ) = (−∂_θ L_G, ∂_ψ L_D), eq. (ch7-dirac-field), elementwise for θ, ψ of one shape
    (float64). ``"consensus"`` returns v − γ ∇(½‖v‖²), the consensus field of eq. (ch7-dirac-eig-reg).

    The partial derivatives are taken with :func:`torch.func.grad` (each argument an independent
    input), so the result can itself be differentiated — :func:`jacobian` does that."""
    method = _method(method)
    V.positive_float(gamma, "gamma", allow_zero=True)
    V.positive_float(sigma, "sigma")
    V.finite_float(g0, "g0")
    theta = torch.as_tensor(theta, dtype=torch.float64)
    psi = torch.as_tensor(psi, dtype=torch.float64)
    if theta.shape != psi.shape:
        raise ValueError(f"theta and psi must have the same shape, got {tuple(theta.shape)} and {tuple(psi.shape)}")
    V.tensor(theta.detach(), "theta")
    V.tensor(psi.detach(), "psi")
    base = "minimax" if method == "consensus" else method
    l_g = lambda t, p: objectives(t, p, base, gamma, sigma, g0)[0].sum()
    l_d = lambda t, p: objectives(t, p, base, gamma, sigma, g0)[1].sum()

    def field(th: torch.Tensor, ps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return -grad(l_g, argnums=0)(th, ps), grad(l_d, argnums=1)(th, ps)

    if not (theta.requires_grad or psi.requires_grad):
        # fast path (trajectories, plots): ordinary autograd on fresh leaves gives the same partials
        co = method == "consensus"
        with torch.enable_grad():
            th, ps = theta.detach().requires_grad_(True), psi.detach().requires_grad_(True)
            (d_theta,) = torch.autograd.grad(l_g(th, ps), th, create_graph=co)
            (d_psi,) = torch.autograd.grad(l_d(th, ps), ps, create_graph=co)
            v_theta, v_psi = -d_theta, d_psi
            if co:
                g_theta, g_psi = torch.autograd.grad(0.5 * (v_theta ** 2 + v_psi ** 2).sum(), (th, ps))
                v_theta, v_psi = v_theta - gamma * g_theta, v_psi - gamma * g_psi
        return v_theta.detach(), v_psi.detach()
    v_theta, v_psi = field(theta, psi)
    if method == "consensus":                         # ∇ of ½‖v‖², each point independent
        half_norm = lambda th, ps: 0.5 * sum((c ** 2).sum() for c in field(th, ps))
        g_theta, g_psi = grad(half_norm, argnums=(0, 1))(theta, psi)
        v_theta, v_psi = v_theta - gamma * g_theta, v_psi - gamma * g_psi
    return v_theta, v_psi


def _point(point: object) -> torch.Tensor:
    if not isinstance(point, (tuple, list)) or len(point) != 2:
        raise ValueError(f"point must be (theta, psi), got {point!r}")
    return torch.tensor([V.finite_float(point[0], "point[0]"), V.finite_float(point[1], "point[1]")], dtype=torch.float64)


def jacobian(method: str = "minimax", point: tuple[float, float] = (0.0, 0.0), **kw: float) -> torch.Tensor:
    """The 2×2 Jacobian ∂v/∂(θ, ψ) of :func:`vector_field` at ``point``, by autograd (float64).
    Rows: (v_θ, v_ψ); columns: (θ, ψ)."""
    x0 = _point(point)
    if _method(method) == "wgan-gp" and float(x0[1]) == 0.0:
        raise ValueError("the WGAN-GP field is not differentiable at psi = 0 (the penalty (|psi| - g0)^2 has a kink "
                         "there), so its Jacobian does not exist at the equilibrium")

    def field(x: torch.Tensor) -> torch.Tensor:
        vt, vp = vector_field(x[0], x[1], method, **kw)
        return torch.stack([vt, vp])

    return torch.autograd.functional.jacobian(field, x0)


def eigenvalues(method: str = "minimax", point: tuple[float, float] = (0.0, 0.0), **kw: float) -> torch.Tensor:
    """Eigenvalues (complex, shape (2,)) of the Jacobian of the field at ``point``: the equilibrium is
    locally attracting for small continuous-time steps iff all real parts are < 0."""
    return torch.linalg.eigvals(jacobian(method, point, **kw))


def update_eigenvalues(method: str = "minimax", h: float = 0.1, alternating: bool = False,
                       point: tuple[float, float] = (0.0, 0.0), **kw: float) -> torch.Tensor:
    """Eigenvalues of the Jacobian of one training *step* with step size h at ``point``:
    simultaneous, F(x) = x + h v(x), Jacobian I + hJ; alternating (θ first, then ψ at the new θ),
    Jacobian of the composition, eq. (ch7-dirac-alt). Discrete iterates converge locally iff all
    moduli are < 1."""
    V.positive_float(h, "h")
    x0 = _point(point)
    if _method(method) == "wgan-gp" and float(x0[1]) == 0.0:
        raise ValueError("the WGAN-GP field is not differentiable at psi = 0, see jacobian()")

    def step(x: torch.Tensor) -> torch.Tensor:
        return torch.stack(_step(x[0], x[1], method, h, alternating, **kw))

    return torch.linalg.eigvals(torch.autograd.functional.jacobian(step, x0))


def _step(theta: torch.Tensor, psi: torch.Tensor, method: str, h: float, alternating: bool,
          **kw: float) -> tuple[torch.Tensor, torch.Tensor]:
    vt, vp = vector_field(theta, psi, method, **kw)
    theta_new = theta + h * vt
    if alternating:                                   # the discriminator sees the updated generator
        _, vp = vector_field(theta_new, psi, method, **kw)
    return theta_new, psi + h * vp


def trajectory(method: str = "minimax", start: tuple[float, float] = (1.0, 1.0), steps: int = 200, h: float = 0.1,
               alternating: bool = False, **kw: float) -> torch.Tensor:
    """Iterates of simultaneous (θ and ψ from the same point) or alternating (θ first, then ψ)
    gradient steps of size h from ``start``; shape (steps + 1, 2), float64."""
    V.positive_int(steps, "steps", minimum=0)
    V.positive_float(h, "h")
    if len(start) != 2:
        raise ValueError(f"start must be (theta, psi), got {start!r}")
    theta = torch.tensor(V.finite_float(start[0], "start[0]"), dtype=torch.float64)
    psi = torch.tensor(V.finite_float(start[1], "start[1]"), dtype=torch.float64)
    out = [torch.stack([theta, psi])]
    for _ in range(steps):
        theta, psi = _step(theta, psi, method, h, alternating, **kw)
        if not bool(torch.isfinite(theta) & torch.isfinite(psi)):
            raise TrainingDiverged(f"Dirac-GAN {method!r} diverged after {len(out)} steps (h = {h})")
        out.append(torch.stack([theta, psi]))
    return torch.stack(out)


def field_grid(method: str = "minimax", lim: float = 2.0, n: int = 21, **kw: float
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(Θ, Ψ, V_θ, V_ψ) on an n × n grid of [−lim, lim]², for a quiver or stream plot."""
    V.positive_float(lim, "lim")
    V.positive_int(n, "n", minimum=2)
    ticks = torch.linspace(-lim, lim, n, dtype=torch.float64)
    th, ps = torch.meshgrid(ticks, ticks, indexing="xy")
    vt, vp = vector_field(th, ps, method, **kw)
    return th, ps, vt, vp


__all__ = ["METHODS", "f_log_sigmoid", "objectives", "vector_field", "jacobian", "eigenvalues",
           "update_eigenvalues", "trajectory", "field_grid"]
