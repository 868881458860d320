"""Checks for the exercises of chapter 3 (f-divergences and f-GAN)."""
from __future__ import annotations

import torch

from ..divergences import F_DIVERGENCES, fdivergence
from ._core import compare


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _name(name: object) -> str:
    if not isinstance(name, str) or name not in F_DIVERGENCES:
        raise ValueError(f"name must be one of {', '.join(F_DIVERGENCES)}, got {name!r}")
    return name


def conjugate(name: str, fn) -> str:
    """Exercise 3.x: ``fn(t)`` returns the convex conjugate f*(t) of the divergence ``name``,
    elementwise, for t in dom f* (a float64 tensor of shape (n,)), eq. (ch3-conjugate)."""
    d = fdivergence(_name(name))
    g = _rng(31)
    cases = [(d.activation(torch.randn(n, generator=g, dtype=torch.float64) * s),)
             for n, s in ((5, 0.5), (40, 2.0), (7, 4.0))]
    mistakes = {"f(t), the generator itself, not its conjugate": lambda t: d.f(t),
                "−f*(t): the sign of the conjugate is flipped": lambda t: -d.f_star(t)}
    if d.name == "kl":
        mistakes["e^t: the conjugate of u log u is e^(t − 1)"] = lambda t: torch.exp(t)
    for other in F_DIVERGENCES:                     # the conjugate of another row of the table
        o = fdivergence(other)
        if other != d.name:
            mistakes[f"the conjugate of the {o.label} divergence"] = lambda t, o=o: o.f_star(t)
    return compare(fn, d.f_star, cases, name=f"conjugate({name!r})", arg_names=("t",),
                   atol=1e-8, rtol=1e-6, mistakes=mistakes)


def _score_cases(seed: int, stable: bool):
    g = _rng(seed)
    cases = [(torch.randn(n, generator=g, dtype=torch.float64) * 2,
              torch.randn(m, generator=g, dtype=torch.float64) * 2) for n, m in ((6, 6), (64, 32), (3, 9))]
    if stable:                                      # a confident discriminator: |v| large
        big = torch.tensor([-60.0, -20.0, 0.0, 20.0, 60.0], dtype=torch.float64)
        cases.append((big, big.flip(0)))
    return cases


def fgan_d_loss(name: str, fn) -> str:
    """Exercise 3.x: ``fn(real, fake)`` returns the f-GAN discriminator loss
    −(E_P[g_f(v)] − E_Q[f*(g_f(v))]) of the divergence ``name`` (eq. ch3-fgan-d) as a scalar,
    from the raw scores v of a real and a generated batch, shapes (n,) and (m,). ``fn`` is called
    positionally, so its arguments may have any names."""
    d = fdivergence(_name(name))
    ref = lambda r, f: d.f_star_of_activation(f).mean() - d.activation(r).mean()
    mistakes = {
        "the bound E_P[g_f(v)] − E_Q[f*(g_f(v))] itself: the discriminator MAXIMISES the bound, "
        "so its loss is the negative": lambda r, f: -ref(r, f),
        "the loss with real and fake swapped": lambda r, f: ref(f, r),
        "the loss without the output activation g_f (T = v, then f*(v))":
            lambda r, f: d.f_star(f).mean() - r.mean(),
        "f(g_f(v)) where the conjugate f*(g_f(v)) belongs":
            lambda r, f: d.f(d.activation(f)).mean() - d.activation(r).mean(),
    }
    stable = d.name in ("gan", "js", "tv")          # their f*(g_f(v)) is finite for any v
    large = ("your function is right for moderate scores but wrong for large |v|: a clamp, or an ε inside "
             "a log, caps the loss there. Write g_f and f*(g_f) with F.softplus / F.logsigmoid, exact for any v.")
    return compare(fn, ref, _score_cases(32, stable), name=f"fgan_d_loss({name!r})",
                   arg_names=("real", "fake"), atol=1e-7, rtol=1e-6, mistakes=mistakes,
                   large_hint=large if stable else None)


def optimal_critic(name: str, fn) -> str:
    """Exercise 3.x: ``fn(p, q)`` (densities at the same points, float64 tensors of shape (n,),
    both > 0) returns the optimal critic T*(x) = f′(p(x)/q(x)) of the divergence ``name``
    (eq. ch3-tstar)."""
    d = fdivergence(_name(name))
    g = _rng(33)
    cases = [(torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.05,
              torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.05) for n in (4, 30)]
    cases.append((torch.tensor([0.3, 1.0, 2.0], dtype=torch.float64), torch.tensor([0.3, 2.0, 1.0], dtype=torch.float64)))
    ref = lambda p, q: d.f_prime(p / q)
    mistakes = {"f′(q/p): the ratio is upside down (T* = f′(p/q))": lambda p, q: d.f_prime(q / p),
                "f(p/q) instead of its derivative f′(p/q)": lambda p, q: d.f(p / q),
                "the density ratio p/q itself": lambda p, q: p / q}
    return compare(fn, ref, cases, name=f"optimal_critic({name!r})", arg_names=("p", "q"),
                   atol=1e-8, rtol=1e-6, mistakes=mistakes)
