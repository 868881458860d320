"""SSIM and multi-scale SSIM (Wang et al. 2004; 2003), and MS-SSIM *diversity*, chapter 15,
eqs. (ch15-ssim) and (ch15-msssim).

For two images x, y and a Gaussian window w, local means μ, variances σ² and covariance σ_xy are
w-weighted averages; with C₁ = (K₁L)², C₂ = (K₂L)² (L the dynamic range, K₁ = 0.01, K₂ = 0.03),

    l = (2μ_xμ_y + C₁)/(μ_x² + μ_y² + C₁),   cs = (2σ_xy + C₂)/(σ_x² + σ_y² + C₂),   SSIM = mean(l · cs).

Windows are applied without padding ("valid" positions only, as in the authors' MATLAB code), so
border handling never enters. MS-SSIM = mean(l_M · cs_M)^{β_M} Π_{j<M} mean(cs_j)^{β_j}, eq.
(ch15-msssim): the mean contrast-structure at every finer scale j = 1…M−1 and, at the coarsest, the
mean of the product l · cs (the maps are multiplied before averaging, as in Wang et al.'s code);
the image is halved by 2 × 2 averaging between scales. Negative factors (possible for unrelated
images) are clipped at 0 before the powers.

Odena et al. use the mean MS-SSIM of random pairs of generated images of one class as a
*diversity* score: the higher, the more alike the samples — a collapsed generator scores 1.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _validate as V
from . import _common as C

# Wang et al. (2003): the five scale weights for 11 × 11 windows at 256-pixel images.
WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(size: int, sigma: float, dtype: torch.dtype = torch.float64,
                    device: torch.device | None = None) -> torch.Tensor:
    """A normalised 1-D Gaussian window of odd ``size``, shape (size,)."""
    size = V.positive_int(size, "size")
    if size % 2 == 0:
        raise ValueError(f"size must be odd, got {size}")
    sigma = V.positive_float(sigma, "sigma")
    t = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def _images(x: object, name: str) -> torch.Tensor:
    V.tensor(x, name, ndim=4)
    return C.to_float64(x)


def _filter(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, valid positions only: (n, c, h, w) → (n, c, h − s + 1, w − s + 1)."""
    c = x.shape[1]
    s = w.numel()
    x = F.conv2d(x, w.view(1, 1, s, 1).expand(c, 1, s, 1), groups=c)
    return F.conv2d(x, w.view(1, 1, 1, s).expand(c, 1, 1, s), groups=c)


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, c1: float, c2: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image means of the luminance · contrast-structure map and of the contrast-structure map."""
    mx, my = _filter(x, w), _filter(y, w)
    sxx = _filter(x * x, w) - mx * mx
    syy = _filter(y * y, w) - my * my
    sxy = _filter(x * y, w) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    return (lum * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def _setup(x, y, value_range, window, sigma):
    x, y = _images(x, "x"), _images(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2):
        raise TypeError(f"value_range must be a pair (low, high), got {value_range!r}")
    lo, hi = V.finite_float(value_range[0], "value_range[0]"), V.finite_float(value_range[1], "value_range[1]")
    if hi <= lo:
        raise ValueError(f"value_range must satisfy low < high, got {value_range!r}")
    w = gaussian_window(window, sigma, device=x.device)
    # shift to [0, L] so that the luminance term compares non-negative intensities
    return x - lo, y - lo, hi - lo, w


def ssim(x: torch.Tensor, y: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0), window: int = 11,
         sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """SSIM of each pair of images x[i], y[i] (n, c, h, w), eq. (ch15-ssim); shape (n,), float64.

    ``value_range`` is the range the pixels live in (the book's images: (−1, 1)); the window is an
    odd-sized Gaussian, applied at valid positions only."""
    x, y, L, w = _setup(x, y, value_range, window, sigma)
    if min(x.shape[-2:]) < window:
        raise ValueError(f"images of size {tuple(x.shape[-2:])} are smaller than the window {window}")
    return _ssim_terms(x, y, w, (k1 * L) ** 2, (k2 * L) ** 2)[0]


def ms_ssim(x: torch.Tensor, y: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0),
            weights: tuple[float, ...] = WANG_WEIGHTS, window: int = 11, sigma: float = 1.5,
            k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Multi-scale SSIM of each pair x[i], y[i] (n, c, h, w), eq. (ch15-msssim); shape (n,), float64.

    One scale per entry of ``weights`` (β_j); the image is halved by 2 × 2 averaging between scales
    and the coarsest scale must still hold a window. For the 8 × 8 digits the book uses two scales
    and a 3 × 3 window (see chapter 15)."""
    x, y, L, w = _setup(x, y, value_range, window, sigma)
    if not isinstance(weights, (tuple, list)) or len(weights) == 0:
        raise TypeError(f"weights must be a non-empty tuple of exponents, got {weights!r}")
    betas = [V.positive_float(b, f"weights[{i}]", allow_zero=True) for i, b in enumerate(weights)]
    need = window * 2 ** (len(betas) - 1)
    if min(x.shape[-2:]) < need:
        raise ValueError(f"{len(betas)} scales with a {window}-pixel window need images of at least "
                         f"{need} × {need} pixels, got {tuple(x.shape[-2:])}; use fewer weights or a smaller window")
    c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2
    out = torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    for j, beta in enumerate(betas):
        full, cs = _ssim_terms(x, y, w, c1, c2)
        factor = full if j == len(betas) - 1 else cs          # luminance only at the coarsest scale
        out = out * factor.clamp(min=0.0) ** beta
        if j < len(betas) - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return out


def ms_ssim_diversity(images: torch.Tensor, pairs: int = 500, generator: torch.Generator | None = None,
                      **kwargs) -> float:
    """Mean MS-SSIM over ``pairs`` random pairs of distinct images of ``images`` (n, c, h, w)
    (Odena et al.'s diversity score: lower means more diverse). ``kwargs`` go to :func:`ms_ssim`."""
    x = _images(images, "images")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"images needs at least 2 images, got {n}")
    pairs = V.positive_int(pairs, "pairs")
    V.generator(generator)
    where = generator.device if generator is not None else torch.device("cpu")
    i = torch.randint(0, n, (pairs,), generator=generator, device=where)
    j = (i + torch.randint(1, n, (pairs,), generator=generator, device=where)) % n     # j ≠ i
    return float(ms_ssim(x[i.to(x.device)], x[j.to(x.device)], **kwargs).mean())
