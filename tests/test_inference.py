"""ganbook.inference (chapter 10a): BiGAN's optimal joint discriminator, AGE's fitted-Gaussian KL, the linear
probe — each against an independent reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from ganbook import inference


def test_optimal_joint_discriminator_maximises_the_value_and_gives_js():
    g = torch.Generator().manual_seed(0)
    p_e = torch.rand(4, 3, generator=g, dtype=torch.float64); p_e /= p_e.sum()
    p_g = torch.rand(4, 3, generator=g, dtype=torch.float64) ** 2; p_g /= p_g.sum()
    d = inference.optimal_joint_discriminator(p_e, p_g)
    value = float((p_e * d.log() + p_g * (1 - d).log()).sum())
    js = jensenshannon(p_e.flatten().numpy(), p_g.flatten().numpy()) ** 2
    assert value == pytest.approx(2 * js - math.log(4), abs=1e-12)
    # brute force: a grid search per cell finds the same maximiser
    grid = torch.linspace(1e-4, 1 - 1e-4, 20001, dtype=torch.float64)
    for i in range(4):
        for j in range(3):
            best = grid[(p_e[i, j] * grid.log() + p_g[i, j] * (1 - grid).log()).argmax()]
            assert abs(float(best - d[i, j])) < 1e-4


def test_optimal_joint_discriminator_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        inference.optimal_joint_discriminator(torch.ones(2, 2), torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        inference.optimal_joint_discriminator(-torch.ones(2), torch.ones(2))
    d = inference.optimal_joint_discriminator(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.0]))
    assert d.tolist() == [0.5, 1.0]


def test_joint_concatenates_and_checks_axes():
    x, z = torch.randn(3, 5, 1, 8, 8), torch.randn(3, 5, 4)
    out = inference.joint(x, z)
    assert out.shape == (3, 5, 68)
    assert torch.equal(out[..., :64], x.reshape(3, 5, 64)) and torch.equal(out[..., 64:], z)
    with pytest.raises(ValueError, match="leading axes"):
        inference.joint(torch.randn(4, 64), torch.randn(5, 2))
    with pytest.raises(TypeError):
        inference.joint([1.0], z)


def test_fitted_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    codes = 0.7 * torch.randn(2, 500, 3, generator=g, dtype=torch.float64) + 0.3
    m, var = codes.mean(-2), codes.var(-2, unbiased=False)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(m, var.sqrt()),
                                            torch.distributions.Normal(torch.zeros_like(m), torch.ones_like(m))).sum(-1)
    torch.testing.assert_close(inference.fitted_gaussian_kl(codes), ref)
    with pytest.raises(ValueError, match="2 rows"):
        inference.fitted_gaussian_kl(torch.randn(1, 3))


def test_age_objectives_combine_their_terms():
    g = torch.Generator().manual_seed(2)
    real, fake, z = (torch.randn(2, 64, 4, generator=g) for _ in range(3))
    rec = torch.tensor([0.5, 0.25])
    e = inference.age_encoder_objective(real, fake, reconstruction=rec, weight=10.0)
    want = (inference.fitted_gaussian_kl(real) - inference.fitted_gaussian_kl(fake) + 10 * rec).sum()
    torch.testing.assert_close(e, want)
    gl = inference.age_generator_objective(fake, z=z, weight=2.0)
    want = (inference.fitted_gaussian_kl(fake) + 2.0 * (z - fake).pow(2).sum(-1).mean(-1)).sum()
    torch.testing.assert_close(gl, want)
    with pytest.raises(ValueError, match="one shape"):
        inference.age_generator_objective(fake, z=z[:, :10])
    with pytest.raises(ValueError, match="weight"):
        inference.age_encoder_objective(real, fake, reconstruction=rec, weight=-1.0)


def test_linear_probe_matches_a_numpy_ridge_classifier():
    g = torch.Generator().manual_seed(3)
    centres = torch.randn(4, 5, generator=g, dtype=torch.float64) * 2
    ytr, yte = torch.randint(0, 4, (300,), generator=g), torch.randint(0, 4, (200,), generator=g)
    xtr = centres[ytr] + torch.randn(300, 5, generator=g, dtype=torch.float64)
    xte = centres[yte] + torch.randn(200, 5, generator=g, dtype=torch.float64)
    acc = inference.linear_probe(xtr[None], ytr, xte[None], yte, ridge=0.01)
    # independent reference: numpy least squares with an explicit bias column and the same ridge penalty
    a, b = xtr.numpy(), xte.numpy()
    mu, sd = a.mean(0), a.std(0, ddof=1)
    a, b = (a - mu) / sd, (b - mu) / sd
    A = np.hstack([a, np.ones((300, 1))])
    Y = np.eye(4)[ytr.numpy()]
    reg = 0.01 * 300 * np.diag([1.0] * 5 + [0.0])
    W = np.linalg.solve(A.T @ A + reg, A.T @ Y)
    ref = float((np.hstack([b, np.ones((200, 1))]) @ W).argmax(1).__eq__(yte.numpy()).mean())
    assert float(acc[0]) == pytest.approx(ref, abs=1e-12)
    assert float(acc[0]) > 0.6                                  # separable clusters are classified
    with pytest.raises(ValueError, match="entries"):
        inference.linear_probe(xtr[None], ytr[:10], xte[None], yte)


def test_preset():
    assert inference.preset("cpu").seeds >= 3
    with pytest.raises(ValueError, match="PRESET"):
        inference.preset("tpu")
