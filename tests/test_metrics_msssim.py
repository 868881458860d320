"""SSIM and MS-SSIM against independent references: scikit-image's SSIM (Wang et al.'s Gaussian
window, population covariances) and a numpy/scipy transcription of Wang et al.'s MS-SSIM."""
import pytest
import scipy.ndimage
import torch
from skimage.metrics import structural_similarity

from ganbook import metrics as M
from ganbook.metrics.msssim import WANG_WEIGHTS


def _images(n, size, seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 1, size, size, generator=g, dtype=torch.float64)
    smooth = torch.nn.functional.avg_pool2d(base, 3, stride=1, padding=1)          # some structure
    other = (smooth + 0.1 * torch.randn(smooth.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return smooth, other


def test_ssim_equals_scikit_image():
    x, y = _images(4, 32, 0)
    got = M.ssim(x, y, value_range=(0.0, 1.0))
    for i in range(4):
        ref = structural_similarity(x[i, 0].numpy(), y[i, 0].numpy(), data_range=1.0, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False)
        assert float(got[i]) == pytest.approx(ref, rel=1e-10)
    # the value range only shifts the pixels: images in (−1, 1) with value_range (−1, 1) give the same SSIM
    assert torch.allclose(M.ssim(2 * x - 1, 2 * y - 1, value_range=(-1.0, 1.0)), got, atol=1e-12)


def _wang_msssim(a, b, weights, sigma=1.5, L=1.0):
    """Wang et al. (2003), transcribed with scipy: cs at every scale, SSIM at the last, 2 × 2 block
    means between scales, windows at valid positions only (the border of width r is cropped)."""
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    r = int(3.5 * sigma + 0.5)
    f = lambda z: scipy.ndimage.gaussian_filter(z, sigma, truncate=3.5, mode="reflect")[r:-r, r:-r]
    out = 1.0
    for j, w in enumerate(weights):
        mx, my = f(a), f(b)
        vx, vy, vxy = f(a * a) - mx ** 2, f(b * b) - my ** 2, f(a * b) - mx * my
        cs = (2 * vxy + c2) / (vx + vy + c2)
        if j == len(weights) - 1:
            val = (((2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)) * cs).mean()
        else:
            val = cs.mean()
        out *= max(val, 0.0) ** w
        h, wd = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
        a = a[:h, :wd].reshape(h // 2, 2, wd // 2, 2).mean((1, 3))
        b = b[:h, :wd].reshape(h // 2, 2, wd // 2, 2).mean((1, 3))
    return out


def test_ms_ssim_equals_wang_transcription():
    x, y = _images(3, 176, 1)                                   # 11 · 2⁴ = 176: five scales fit
    got = M.ms_ssim(x, y, value_range=(0.0, 1.0), weights=WANG_WEIGHTS)
    for i in range(3):
        assert float(got[i]) == pytest.approx(_wang_msssim(x[i, 0].numpy(), y[i, 0].numpy(), WANG_WEIGHTS), rel=1e-10)


def test_ms_ssim_properties():
    x, y = _images(5, 8, 2)
    kw = dict(value_range=(0.0, 1.0), weights=(0.3, 0.7), window=3, sigma=0.8)
    assert torch.allclose(M.ms_ssim(x, x, **kw), torch.ones(5, dtype=torch.float64), atol=1e-12)
    one_scale = M.ms_ssim(x, y, value_range=(0.0, 1.0), weights=(1.0,), window=3, sigma=0.8)
    assert torch.allclose(one_scale, M.ssim(x, y, value_range=(0.0, 1.0), window=3, sigma=0.8).clamp(min=0))
    # diversity: a set of copies of one image scores 1, distinct images less
    assert M.ms_ssim_diversity(x[:1].repeat(6, 1, 1, 1), pairs=20, **kw) == pytest.approx(1.0)
    assert M.ms_ssim_diversity(torch.cat([x, y]), pairs=50, generator=torch.Generator().manual_seed(0), **kw) < 0.9


def test_ms_ssim_rejects_bad_input():
    x, y = _images(2, 8, 3)
    with pytest.raises(ValueError, match="need images of at least 176"):
        M.ms_ssim(x, y)                                         # 11-pixel window, 5 scales on 8 × 8
    with pytest.raises(ValueError, match="same shape"):
        M.ms_ssim(x, y[:, :, :6, :6], weights=(1.0,), window=3)
    with pytest.raises(ValueError, match="odd"):
        M.ssim(x, y, window=4)
    with pytest.raises(ValueError, match="low < high"):
        M.ssim(x, y, value_range=(1.0, 0.0), window=3)
    with pytest.raises(ValueError, match="4 dimension"):
        M.ssim(x[0], y[0], window=3)
