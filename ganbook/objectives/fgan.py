"""f-GAN and least-squares GAN objectives (chapter 3).

f-GAN (Nowozin et al., 2016): the discriminator outputs an unconstrained score v = V_ω(x); the
output activation g_f maps it into dom f*, T = g_f(v), and the two players play the saddle point
of the variational bound, eq. (ch3-fgan-objective):

    F(θ, ω) = E_P[g_f(V_ω(x))] − E_{Q_θ}[f*(g_f(V_ω(x)))].

* discriminator loss  d_loss(real, fake) = −F = E_Q[f*(g_f(v))] − E_P[g_f(v)]   (eq. ch3-fgan-d);
* generator loss, "saddle"      g_loss(fake) = −E_Q[f*(g_f(v))]   (F without its P-term, eq. ch3-fgan-g);
* generator loss, "activation"  g_loss(fake) = −E_Q[g_f(v)]        (the paper's practical variant,
  section 3.2; for the GAN divergence it is exactly the non-saturating loss).

g_f and f* come from ``ganbook.divergences.fdivergence(name)``, the same objects the exact
divergences use; f*(g_f(v)) is evaluated in its simplified, numerically stable form.

LSGAN (Mao et al., 2017), eq. (ch3-lsgan):
d_loss = ½E_P[(v − b)²] + ½E_Q[(v − a)²],  g_loss = ½E_Q[(v − c)²].
"""
from __future__ import annotations

import torch

from .. import _validate as V
from ..divergences import F_DIVERGENCES, FDivergence, fdivergence
from .registry import Objective, register

GENERATOR_LOSSES = ("saddle", "activation")


def _divergence(divergence: str | FDivergence) -> FDivergence:
    """The :class:`FDivergence` that ``divergence`` (one or its name) stands for."""
    return fdivergence(divergence, "divergence")


def fgan_d_loss(real: torch.Tensor, fake: torch.Tensor, *, divergence: str | FDivergence) -> torch.Tensor:
    """−(E_P[g_f(v)] − E_Q[f*(g_f(v))]), eq. (ch3-fgan-d): minus the variational bound (ch3-bound)
    at the critic T = g_f ∘ V. ``real``, ``fake``: the critic's raw scores v on a real and a
    generated batch, shape (n,); ``divergence``: an :class:`FDivergence` or its name. Returns a
    0-dim tensor."""
    d = _divergence(divergence)
    V.scores(real, "real")
    V.scores(fake, "fake")
    return d.f_star_of_activation(fake).mean() - d.activation(real).mean()


def fgan_g_loss(fake: torch.Tensor, *, divergence: str | FDivergence, generator_loss: str = "saddle") -> torch.Tensor:
    """The generator's loss from the critic's raw scores ``fake`` on a generated batch:
    −E_Q[f*(g_f(v))] ("saddle", eq. ch3-fgan-g) or −E_Q[g_f(v)] ("activation", the variant of
    section 3.2 of the f-GAN paper). ``divergence``: an :class:`FDivergence` or its name."""
    d = _divergence(divergence)
    V.scores(fake, "fake")
    if generator_loss == "saddle":
        return -d.f_star_of_activation(fake).mean()
    if generator_loss == "activation":
        return -d.activation(fake).mean()
    raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")


def fgan(name: str, generator_loss: str = "saddle"):
    """The f-GAN objective for the f-divergence ``name`` (one of ``divergences.F_DIVERGENCES``)
    as an :class:`~ganbook.objectives.Objective`. ``objectives.get("fgan:<name>")`` returns the
    ``"saddle"`` form; ``generator_loss="activation"`` gives the paper's practical variant."""
    d = fdivergence(name)
    if generator_loss not in GENERATOR_LOSSES:
        raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")
    suffix = "" if generator_loss == "saddle" else f"({generator_loss})"
    return Objective(f"fgan:{d.name}{suffix}",
                     lambda real, fake: fgan_d_loss(real, fake, divergence=d),
                     lambda fake: fgan_g_loss(fake, divergence=d, generator_loss=generator_loss))


def lsgan(a: float = 0.0, b: float = 1.0, c: float = 1.0):
    """Least-squares GAN, eq. (ch3-lsgan): D regresses real scores to ``b`` and fake scores to
    ``a``; G pushes fake scores to ``c``. Defaults (a, b, c) = (0, 1, 1); (−1, 1, 0) satisfies
    b − c = 1, b − a = 2, the choice for which C(G), the generator's objective evaluated at the optimal
    discriminator, is χ²(Q‖M) = ½∫(p − q)²/(p + q) with no additive constant (eq. ch3-lsgan-mixture).
    C(G) is a value, not what the generator descends: its steps against D* follow eq. (ch3-lsgan-ggen)."""
    a, b, c = V.finite_float(a, "a"), V.finite_float(b, "b"), V.finite_float(c, "c")
    if a == b:
        raise ValueError(f"lsgan needs a ≠ b (the targets for fake and real), got a = b = {a}")

    def d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        V.scores(real, "real")
        V.scores(fake, "fake")
        return 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake - a) ** 2).mean()

    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        V.scores(fake, "fake")
        return 0.5 * ((fake - c) ** 2).mean()

    known = {(0.0, 1.0, 1.0): "lsgan", (-1.0, 1.0, 0.0): "lsgan:chi2"}
    return Objective(known.get((a, b, c), f"lsgan(a={a:g}, b={b:g}, c={c:g})"), d_loss, g_loss)


def _register() -> None:
    for n in F_DIVERGENCES:
        register(f"fgan:{n}", lambda n=n: fgan(n))
    register("lsgan", lambda: lsgan())
    register("lsgan:chi2", lambda: lsgan(-1.0, 1.0, 0.0))


_register()
