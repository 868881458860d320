"""Figures of the book: 2D samples over the target density, loss curves, discriminator surfaces,
sample grids, and animations that play in the HTML page (``to_jshtml``)."""
from __future__ import annotations

from typing import Sequence

import torch

from . import _validate as V
from .data import GaussianMixture


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _ax(ax, figsize=(4, 4)):
    if ax is None:
        _, ax = _plt().subplots(figsize=figsize)
    return ax


def _limits(target: GaussianMixture | None, samples: torch.Tensor | None, pad: float = 0.5):
    pts = []
    if target is not None:
        pts.append(target.means.detach().cpu())
    if samples is not None:
        pts.append(samples.detach().cpu())
    p = torch.cat(pts)
    lo, hi = p.min(0).values - pad, p.max(0).values + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def density_2d(target: GaussianMixture, ax=None, xlim=None, ylim=None, resolution: int = 200, cmap: str = "Greys"):
    """Shade the log-density of a 2D mixture (clipped, so narrow modes stay visible)."""
    if not isinstance(target, GaussianMixture) or target.dim != 2:
        raise ValueError("target must be a 2D ganbook.data.GaussianMixture")
    ax = _ax(ax)
    if xlim is None or ylim is None:
        xlim, ylim = _limits(target, None)
    xs = torch.linspace(*xlim, resolution)
    ys = torch.linspace(*ylim, resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    lp = target.to("cpu").log_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(resolution, resolution)
    lp = lp.clamp(min=float(lp.max()) - 12)
    ax.imshow(lp.numpy(), origin="lower", extent=(*xlim, *ylim), cmap=cmap, alpha=0.6, aspect="auto")
    return ax


def samples_2d(samples: torch.Tensor, target: GaussianMixture | None = None, ax=None, title: str | None = None,
               color: str = "tab:orange", size: float = 3.0, show_centres: bool = True, lims=None):
    """Scatter 2D samples over the target's density with its mode centres marked."""
    V.tensor(samples, "samples", ndim=2, last_dim=2, min_rows=1, finite=False)
    ax = _ax(ax)
    xlim, ylim = lims if lims is not None else _limits(target, samples if target is None else None)
    if target is not None:
        density_2d(target, ax, xlim, ylim)
        if show_centres:
            m = target.means.cpu()
            ax.scatter(m[:, 0], m[:, 1], marker="x", c="k", s=25, linewidths=1, label="mode centres")
    s = samples.detach().float().cpu()
    ax.scatter(s[:, 0], s[:, 1], s=size, c=color, alpha=0.6, label="samples")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def loss_curves(history, ax=None, smooth: int = 25, title: str | None = "losses"):
    """Discriminator and generator losses against steps (moving average over ``smooth`` steps)."""
    ax = _ax(ax, (5, 3))
    import numpy as np

    for name, values in (("discriminator", history.d_loss), ("generator", history.g_loss)):
        v = np.asarray(values, dtype=float)
        if len(v) == 0:
            raise ValueError("history holds no steps: train first")
        k = max(1, min(smooth, len(v)))
        avg = np.convolve(v, np.ones(k) / k, mode="valid")
        ax.plot(np.asarray(history.step[k - 1:]), avg, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


@torch.no_grad()
def discriminator_surface(D: torch.nn.Module, xlim: Sequence[float], ylim: Sequence[float], ax=None,
                          resolution: int = 120, probability: bool = True, title: str | None = None):
    """Colour the plane by the discriminator's output: σ(D(x)) when ``probability`` (a logit
    discriminator), else the raw score (a critic)."""
    ax = _ax(ax)
    dev = next(D.parameters()).device
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), resolution)
    ys = torch.linspace(float(ylim[0]), float(ylim[1]), resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(dev)
    was = D.training
    D.eval()
    s = D(pts).float().cpu().reshape(resolution, resolution)
    D.train(was)
    if probability:
        s = torch.sigmoid(s)
    im = ax.imshow(s.numpy(), origin="lower", extent=(*xlim, *ylim), cmap="coolwarm", aspect="auto",
                   vmin=0 if probability else None, vmax=1 if probability else None)
    _plt().colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="D(x)" if probability else "critic")
    if title:
        ax.set_title(title)
    return ax


def image_grid(images: torch.Tensor, nrow: int = 8, ax=None, title: str | None = None, value_range=(-1.0, 1.0)):
    """Show images (n, c, h, w) with values in ``value_range`` as one grid."""
    V.tensor(images, "images", ndim=4, min_rows=1, finite=False)
    V.positive_int(nrow, "nrow")
    x = images.detach().float().cpu()
    lo, hi = value_range
    x = ((x - lo) / (hi - lo)).clamp(0, 1)
    n, c, h, w = x.shape
    ncol = nrow
    nrows = (n + ncol - 1) // ncol
    canvas = torch.ones(c, nrows * (h + 1) + 1, ncol * (w + 1) + 1)
    for i in range(n):
        r, q = divmod(i, ncol)
        canvas[:, 1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = x[i]
    ax = _ax(ax, (ncol * 0.45 + 0.5, nrows * 0.45 + 0.5))
    if c == 1:
        ax.imshow(canvas[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(canvas.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def animate_samples(snapshots: Sequence[torch.Tensor], steps: Sequence[int], target: GaussianMixture | None = None,
                    interval: int = 150, figsize=(4, 4), lims=None):
    """An animation of generated 2D samples over training (one frame per snapshot). Show it in a
    notebook or the HTML book with :func:`to_html`."""
    from matplotlib import animation

    if len(snapshots) == 0 or len(snapshots) != len(steps):
        raise ValueError(f"need as many snapshots as steps (≥ 1), got {len(snapshots)} and {len(steps)}")
    plt = _plt()
    fig, ax = plt.subplots(figsize=figsize)
    lims = lims if lims is not None else _limits(target, torch.cat(list(snapshots)) if target is None else None)
    samples_2d(snapshots[0], target, ax=ax, lims=lims)
    scat = ax.collections[-1]
    title = ax.set_title(f"step {steps[0]}")

    def update(i):
        scat.set_offsets(snapshots[i].detach().cpu().numpy())
        title.set_text(f"step {steps[i]}")
        return scat, title

    anim = animation.FuncAnimation(fig, update, frames=len(snapshots), interval=interval, blit=False)
    plt.close(fig)
    return anim


def to_html(anim):
    """Render a matplotlib animation as self-contained HTML/JavaScript (plays without a kernel)."""
    from IPython.display import HTML

    return HTML(anim.to_jshtml(default_mode="loop"))


# --------------------------------------------------------------------------- figure sizes for the page

#: Pixels per inch of the book's figures (matplotlib's inline backend draws at 100 dpi).
DPI = 100
#: Width of the text column of the HTML book (sphinx-book-theme) in pixels, and of a cell tagged
#: ``full-width`` (136 % of the column), in which multi-panel figures are shown.
COLUMN_PX = 688
FULL_WIDTH_PX = 935
#: The widest figure (inches at :data:`DPI`) in the column and in a full-width cell: the page
#: shrinks it by at most 1.2, so 10-point text (13.9 px drawn) stays above 10 px (11.6 px).
#: tests/test_site.py allows 1.3: the saved figure's tight box pads it and grows by what sticks
#: out of the axes grid (up to 5 % in the book's figures).
SHRINK = 1.2
COLUMN_WIDTH = SHRINK * COLUMN_PX / DPI
FULL_WIDTH = SHRINK * FULL_WIDTH_PX / DPI


def fit(figsize: Sequence[float], full: bool = True) -> tuple[float, float]:
    """A figure size (inches) that stays legible on the book's page: wider than the text column
    allows, the figure is scaled down, keeping its aspect ratio, to the width of a ``full-width``
    cell (``full=True``, for multi-panel figures; tag the cell ``full-width``) or of the column.

    Text keeps its point size, so a smaller figure has relatively larger text: at most
    :data:`SHRINK` times shrunk on the page, 10-point labels are at least 10 px high. Use it as
    ``plt.subplots(1, 4, figsize=gb.plot.fit((16, 3.3)))``; in Jupyter and Colab the figure is
    simply a little smaller.
    """
    if not isinstance(figsize, (tuple, list)) or len(figsize) != 2:
        raise TypeError(f"figsize must be a (width, height) pair in inches, got {figsize!r}")
    w, h = (float(v) for v in figsize)
    if not (w > 0 and h > 0) or w != w or h != h or w == float("inf") or h == float("inf"):
        raise ValueError(f"figsize must be two positive finite numbers, got {figsize!r}")
    if not isinstance(full, bool):
        raise TypeError(f"full must be True or False, got {full!r}")
    limit = FULL_WIDTH if full else COLUMN_WIDTH
    scale = min(1.0, limit / w)
    return (round(w * scale, 3), round(h * scale, 3))
