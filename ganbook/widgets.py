"""Interactive explorers (ipywidgets). Each has a static twin that draws the same picture for a
few fixed settings, which the HTML book shows (widgets need a live kernel to update)."""
from __future__ import annotations

import math

import torch

from .data import GaussianMixture, gaussian_1d, mixture
from .divergences import js_1d, log_density


def optimal_discriminator_figure(p: GaussianMixture, mu: float, sigma: float, ax=None, lo: float = -6.0,
                                 hi: float = 6.0):
    """Draw p_data, p_g = N(mu, sigma²) and D*(x) = p_data/(p_data + p_g) (eq. ch2-dstar) on one
    axis, and report V(G, D*) next to 2·JS − log 4. Returns (ax, value, 2·JS − log 4)."""
    import matplotlib.pyplot as plt

    q = gaussian_1d(mu, sigma)
    x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
    lp = log_density(p, "p")(x)
    lq = log_density(q, "p_g")(x)
    d_star = torch.sigmoid(lp - lq)                                  # p/(p+q) = σ(log p − log q)
    # V(G, D*) = ∫ p log D* + q log(1 − D*)
    integrand = lp.exp() * torch.nn.functional.logsigmoid(lp - lq) + lq.exp() * torch.nn.functional.logsigmoid(lq - lp)
    value = float(torch.trapezoid(integrand, x))
    jsd_form = 2 * js_1d(p, q, lo, hi) - math.log(4)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    ax.plot(x, lp.exp(), label=r"$p_{data}$")
    ax.plot(x, lq.exp(), label=r"$p_g$")
    ax.plot(x, d_star, "k--", label=r"$D^*(x)$")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"$V(G,D^*)$ = {value:.3f},  2JS − log 4 = {jsd_form:.3f}", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    return ax, value, jsd_form


def default_target() -> GaussianMixture:
    """The bimodal 1D target of chapter 2: ½N(−2, 0.5²) + ½N(2, 0.5²)."""
    return mixture([-2.0, 2.0], [0.5, 0.5])


def optimal_discriminator_explorer(p: GaussianMixture | None = None):
    """Sliders for the generator's mean and standard deviation; the figure shows D* and
    V(G, D*) against 2·JS − log 4 as they move. Returns the ipywidgets container."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    p = p if p is not None else default_target()
    mu = W.FloatSlider(value=0.0, min=-4.0, max=4.0, step=0.1, description="mean of p_g")
    sigma = W.FloatSlider(value=1.0, min=0.2, max=3.0, step=0.05, description="std of p_g")
    out = W.Output()

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3))
            optimal_discriminator_figure(p, mu.value, sigma.value, ax=ax)
            display(fig)
            plt.close(fig)

    mu.observe(redraw, names="value")
    sigma.observe(redraw, names="value")
    redraw()
    return W.VBox([W.HBox([mu, sigma]), out])


def optimal_discriminator_static(p: GaussianMixture | None = None,
                                 settings=((0.0, 1.0), (-2.0, 0.5), (0.0, 2.2), (2.0, 0.5))):
    """The static twin of :func:`optimal_discriminator_explorer`: one panel per (mean, std), two
    panels a row so that the figure fits the book's text column (:func:`ganbook.plot.fit`)."""
    import matplotlib.pyplot as plt

    from .plot import fit

    p = p if p is not None else default_target()
    ncols = min(2, len(settings))
    nrows = math.ceil(len(settings) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=fit((3.4 * ncols, 2.6 * nrows), full=False),
                             sharey=True, squeeze=False)
    axes = axes.ravel()
    for ax, (m, s) in zip(axes, settings):
        optimal_discriminator_figure(p, m, s, ax=ax)
        ax.set_xlabel(f"p_g = N({m}, {s}²)")
    for ax in axes[len(settings):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
