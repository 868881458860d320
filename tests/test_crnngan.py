"""C-RNN-GAN (chapter 13b): the sinusoid data, the periodogram-peak estimator, the batched GRU and the
recurrent players, against independent references (closed forms, numpy's DFT, torch.nn.GRU, scipy)."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from ganbook import crnngan as C
from ganbook.divergences.ipm import wasserstein1_1d


def _gens(n, base=0):
    return [torch.Generator().manual_seed(base + s) for s in range(n)]


def test_sinusoids_follow_the_closed_form_and_ranges():
    b = C.sinusoids(50, 24, components=2, frequency=(1.5, 5.0), amplitude=(0.2, 0.6),
                    generator=torch.Generator().manual_seed(0))
    assert b.x.shape == (50, 24) and b.frequency.shape == (50, 2)
    assert float(b.frequency.min()) >= 1.5 and float(b.frequency.max()) <= 5.0
    assert float(b.amplitude.min()) >= 0.2 and float(b.amplitude.max()) <= 0.6
    t = np.arange(24)
    f, a, p = (v.double().numpy() for v in (b.frequency, b.amplitude, b.phase))
    ref = (a[..., None] * np.sin(2 * np.pi * f[..., None] * t / 24 + p[..., None])).sum(1)
    np.testing.assert_allclose(b.x.double().numpy(), ref, atol=1e-5)


@pytest.mark.parametrize("f,a,phase,T", [(3.3, 0.7, 0.4, 32), (2.0, 0.5, 2.0, 16), (5.75, 0.9, 5.0, 32),
                                         (1.8, 0.4, 1.0, 16)])
def test_periodogram_peak_recovers_a_known_sinusoid(f, a, phase, T):
    t = torch.arange(T, dtype=torch.float64)
    x = a * torch.sin(2 * math.pi * f * t / T + phase)
    f_hat, a_hat = C.periodogram_peak(x, pad=16)
    # leakage of the negative frequency shifts the peak by a fraction of a bin when f is a few cycles
    assert abs(float(f_hat) - f) < 0.15, (float(f_hat), f)
    assert abs(float(a_hat) - a) < 0.12 * a, (float(a_hat), a)


def test_periodogram_peak_is_the_argmax_of_numpys_dft_on_the_grid():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 20, generator=g, dtype=torch.float64)
    pad = 8
    f_hat, a_hat = C.periodogram_peak(x, pad=pad)
    xs = x.numpy() - x.numpy().mean(1, keepdims=True)
    grid = np.arange(0, 20 * pad // 2 + 1) / pad
    dft = np.abs(np.exp(-2j * np.pi * np.outer(grid, np.arange(20)) / 20) @ xs.T)     # brute force
    best = dft.argmax(0)
    np.testing.assert_allclose(f_hat.numpy(), grid[best])
    np.testing.assert_allclose(a_hat.numpy(), 2 * dft[best, np.arange(7)] / 20, rtol=1e-10)


def test_periodogram_peak_on_data_and_band():
    b = C.sinusoids(400, 32, frequency=(2.0, 6.0), generator=torch.Generator().manual_seed(2))
    f_hat, a_hat = C.periodogram_peak(b.x)
    assert float((f_hat - b.frequency[:, 0]).abs().max()) < 0.15
    assert float((a_hat - b.amplitude[:, 0]).abs().max()) < 0.1
    f_band, _ = C.periodogram_peak(b.x, band=(4.5, 7.0))
    assert float(f_band.min()) >= 4.5 and float(f_band.max()) <= 7.0


def test_w1_of_peak_frequencies_matches_scipy():
    g = torch.Generator().manual_seed(3)
    fa, _ = C.periodogram_peak(C.sinusoids(300, 16, frequency=(1.5, 4.0), generator=g).x)
    fb, _ = C.periodogram_peak(0.5 * torch.randn(200, 16, generator=g))
    assert wasserstein1_1d(fa, fb) == pytest.approx(wasserstein_distance(fa.numpy(), fb.numpy()), rel=1e-9)


def test_batched_gru_equals_torch_gru_member_by_member():
    E, n, T, d, H = 3, 5, 7, 2, 6
    gru = C.BatchedGRU(d, H, _gens(E))
    x = torch.randn(E, n, T, d, generator=torch.Generator().manual_seed(4))
    h0 = torch.randn(E, n, H, generator=torch.Generator().manual_seed(5))
    out = gru(x, h0)
    assert out.shape == (E, n, T, H)
    for e in range(E):
        ref = torch.nn.GRU(d, H, batch_first=True)
        with torch.no_grad():
            ref.weight_ih_l0.copy_(gru.w_ih[e].T)
            ref.weight_hh_l0.copy_(gru.w_hh[e].T)
            ref.bias_ih_l0.copy_(gru.b_ih[e, 0])
            ref.bias_hh_l0.copy_(gru.b_hh[e, 0])
        expected, _ = ref(x[e], h0[e][None])
        torch.testing.assert_close(out[e], expected, atol=1e-5, rtol=1e-5)


def test_generator_shapes_range_causality_and_independent_members():
    G = C.RecurrentGenerator(3, 8, generators=_gens(2, 10))
    eps = G.noise(4, 12, generator=torch.Generator().manual_seed(6))
    assert eps.shape == (2, 4, 12, 3)
    x = G(eps)
    assert x.shape == (2, 4, 12) and float(x.detach().abs().max()) < 1
    eps2 = eps.clone()
    eps2[:, :, 5] += 1.0                                      # change the noise of step 5 only
    x2 = G(eps2)
    torch.testing.assert_close(x2[:, :, :5], x[:, :, :5])     # the past does not see the future
    assert float((x2[:, :, 5:] - x[:, :, 5:]).detach().abs().max()) > 1e-4
    with torch.no_grad():
        G.w_out[1].mul_(2)                                    # member 1's weights only
    torch.testing.assert_close(G(eps)[0], x[0])


def test_discriminator_equals_a_bidirectional_torch_gru():
    E, n, T, H = 2, 3, 9, 5
    D = C.RecurrentDiscriminator(H, generators=_gens(E, 20))
    x = torch.randn(E, n, T, generator=torch.Generator().manual_seed(7))
    logits = D(x)
    assert logits.shape == (E, n)
    for e in range(E):
        ref = torch.nn.GRU(1, H, batch_first=True, bidirectional=True)
        with torch.no_grad():
            for suffix, m in (("", e), ("_reverse", E + e)):
                getattr(ref, "weight_ih_l0" + suffix).copy_(D.gru.w_ih[m].T)
                getattr(ref, "weight_hh_l0" + suffix).copy_(D.gru.w_hh[m].T)
                getattr(ref, "bias_ih_l0" + suffix).copy_(D.gru.b_ih[m, 0])
                getattr(ref, "bias_hh_l0" + suffix).copy_(D.gru.b_hh[m, 0])
        states, _ = ref(x[e][..., None])                       # (n, T, 2H): both directions at step t
        expected = (states @ D.w_out[e] + D.b_out[e]).squeeze(-1).mean(1)
        torch.testing.assert_close(logits[e], expected, atol=1e-5, rtol=1e-5)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="frequency"):
        C.sinusoids(5, 8, frequency=(1.0, 4.0))               # Nyquist is 4
    with pytest.raises(TypeError, match="amplitude"):
        C.sinusoids(5, 16, amplitude=0.5)
    with pytest.raises(ValueError, match="x must have shape"):
        C.periodogram_peak(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="band"):
        C.periodogram_peak(torch.zeros(3, 16), band=(9.0, 10.0))
    G = C.RecurrentGenerator(3, 8, generators=_gens(2))
    with pytest.raises(ValueError, match="eps must have shape"):
        G(torch.zeros(3, 4, 5, 3))
    with pytest.raises(TypeError, match="generators"):
        C.BatchedGRU(2, 3, [0, 1])
    with pytest.raises(ValueError, match="preset"):
        C.preset("tpu")
