"""Chapter 10a: inference with a GAN — BiGAN/ALI's joint discriminator, AGE's latent-space game,
and the linear probe that measures an encoder's features.

* :func:`joint` — the pair (x, z) a BiGAN/ALI discriminator sees, eq. (ch10-bigan);
* :func:`optimal_joint_discriminator` — D*(x, z) = p_E(x, z) / (p_E(x, z) + p_G(x, z)), eq. (ch10-bigan-dstar);
* :func:`fitted_gaussian_kl` — AGE's divergence: KL(N(m, diag s²) ‖ N(0, I)) of a batch of codes, eq. (ch10-age-kl);
* :func:`age_encoder_objective`, :func:`age_generator_objective` — the two players of AGE, eq. (ch10-age);
* :func:`linear_probe` — a closed-form ridge classifier on frozen features (seeds side by side).

The BiGAN losses themselves are chapter 2's (``objectives.gan``): the joint discriminator is an ordinary
discriminator whose input is the pair.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import _validate as V

__all__ = ["Preset", "PRESETS", "preset", "joint", "optimal_joint_discriminator", "fitted_gaussian_kl", "age_encoder_objective",
           "age_generator_objective", "linear_probe"]


@dataclass(frozen=True)
class Preset:
    """Sizes of chapter 10's digit experiments: ``steps`` updates per model, ``seeds`` side by side,
    ``hidden`` units of every MLP, ``z_dim`` the code size, ``batch`` the batch size."""

    steps: int
    seeds: int
    hidden: int
    z_dim: int
    batch: int


PRESETS = {
    "cpu": Preset(steps=600, seeds=3, hidden=128, z_dim=8, batch=64),     # seconds on a 2-core CPU
    "gpu": Preset(steps=5000, seeds=8, hidden=512, z_dim=16, batch=128),  # minutes on one GPU
}


def preset(name: str) -> Preset:
    """Chapter 10's ``PRESET``: ``"cpu"`` (the book's default, inside its time budget) or ``"gpu"``."""
    if name not in PRESETS:
        raise ValueError(f"PRESET must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def joint(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The discriminator's input (x, z) of eq. (ch10-bigan): images flattened, then the code appended,
    shape (..., n, d_x + d_z). ``x`` (..., n, ...) and ``z`` (..., n, d_z) share their leading axes."""
    V.tensor(x, "x", min_rows=1)
    V.tensor(z, "z", min_rows=1, finite=False)
    if z.dim() < 2:
        raise ValueError(f"z must have shape (..., n, d_z), got {tuple(z.shape)}")
    lead = z.shape[:-1]
    if tuple(x.shape[:len(lead)]) != tuple(lead):
        raise ValueError(f"x {tuple(x.shape)} and z {tuple(z.shape)} must share their leading axes {tuple(lead)}")
    return torch.cat([x.reshape(*lead, -1), z], dim=-1)


def optimal_joint_discriminator(p_encoder: torch.Tensor, p_generator: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-bigan-dstar): the optimal joint discriminator on a finite (x, z) table,
    p_E(x, z) / (p_E(x, z) + p_G(x, z)), where p_E(x, z) = p_data(x) p_E(z|x) and p_G(x, z) = p(z) p_G(x|z).
    Cells where both joints vanish get 1/2 (any value is optimal there)."""
    V.tensor(p_encoder, "p_encoder", finite=True)
    V.tensor(p_generator, "p_generator", finite=True)
    if p_encoder.shape != p_generator.shape:
        raise ValueError(f"p_encoder {tuple(p_encoder.shape)} and p_generator {tuple(p_generator.shape)} differ in shape")
    if bool((p_encoder < 0).any()) or bool((p_generator < 0).any()):
        raise ValueError("p_encoder and p_generator must be non-negative")
    total = p_encoder + p_generator
    return torch.where(total > 0, p_encoder / total.clamp_min(torch.finfo(total.dtype).tiny), torch.full_like(total, 0.5))


def fitted_gaussian_kl(codes: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-age-kl): fit N(m, diag s²) to a batch of codes (..., n, d) per dimension and return
    KL(N(m, diag s²) ‖ N(0, I)) = ½ Σ_j (s_j² + m_j² − 1 − log s_j²), shape (...,). AGE's divergence in latent space."""
    V.rows(codes, "codes")
    if codes.shape[-2] < 2:
        raise ValueError(f"codes needs at least 2 rows to fit a variance, got {tuple(codes.shape)}")
    m = codes.mean(-2)
    var = codes.var(-2, unbiased=False).clamp_min(1e-8)
    return 0.5 * (var + m ** 2 - 1.0 - var.log()).sum(-1)


def age_encoder_objective(real_codes: torch.Tensor, fake_codes: torch.Tensor, *, reconstruction: torch.Tensor,
                          weight: float = 10.0) -> torch.Tensor:
    """What AGE's encoder minimises, eq. (ch10-age): KL(E(x) ‖ prior) − KL(E(G(z)) ‖ prior) + λ_x·reconstruction,
    with the KLs of fitted Gaussians (:func:`fitted_gaussian_kl`) and ``reconstruction`` the data-space error
    ‖x − G(E(x))‖ (a scalar or one per seed). Summed over leading (seed) axes."""
    weight = V.positive_float(weight, "weight", allow_zero=True)
    return (fitted_gaussian_kl(real_codes) - fitted_gaussian_kl(fake_codes) + weight * reconstruction).sum()


def age_generator_objective(fake_codes: torch.Tensor, *, z: torch.Tensor, weight: float = 1000.0) -> torch.Tensor:
    """What AGE's generator minimises, eq. (ch10-age): KL(E(G(z)) ‖ prior) + λ_z ‖z − E(G(z))‖² (mean over the
    batch of the squared error per code). Summed over leading (seed) axes."""
    weight = V.positive_float(weight, "weight", allow_zero=True)
    V.rows(z, "z")
    if z.shape != fake_codes.shape:
        raise ValueError(f"z {tuple(z.shape)} and fake_codes {tuple(fake_codes.shape)} must have one shape")
    latent_error = (z - fake_codes).pow(2).sum(-1).mean(-1)
    return (fitted_gaussian_kl(fake_codes) + weight * latent_error).sum()


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, *, ridge: float = 1e-2) -> torch.Tensor:
    """Accuracy of a linear classifier on frozen features: ridge regression onto one-hot labels (closed form,
    features standardised on the training rows, a bias column unpenalised by centring), class = argmax.

    Features (..., n, d) (leading axes: seeds side by side), labels (n,); returns accuracies of shape (...,),
    computed in float64 so that the answer does not depend on the floating-point path."""
    V.rows(train_features, "train_features")
    V.rows(test_features, "test_features")
    if train_features.shape[-1] != test_features.shape[-1]:
        raise ValueError(f"train_features {tuple(train_features.shape)} and test_features "
                         f"{tuple(test_features.shape)} differ in width")
    for name, lab, feats in (("train_labels", train_labels, train_features), ("test_labels", test_labels, test_features)):
        V.tensor(lab, name, ndim=1, floating=False)
        if lab.shape[0] != feats.shape[-2]:
            raise ValueError(f"{name} has {lab.shape[0]} entries for {feats.shape[-2]} feature rows")
    ridge = V.positive_float(ridge, "ridge")
    a, b = train_features.double(), test_features.double()
    mu, sd = a.mean(-2, keepdim=True), a.std(-2, keepdim=True).clamp_min(1e-8)
    a, b = (a - mu) / sd, (b - mu) / sd
    k = int(max(train_labels.max(), test_labels.max())) + 1
    y = torch.nn.functional.one_hot(train_labels, k).double().to(a.device)
    prior = y.mean(0)
    y = y - prior                                             # centring replaces the bias column
    d = a.shape[-1]
    gram = a.transpose(-1, -2) @ a + ridge * a.shape[-2] * torch.eye(d, dtype=a.dtype, device=a.device)
    w = torch.linalg.solve(gram, a.transpose(-1, -2) @ y)
    pred = (b @ w + prior).argmax(-1)
    return (pred == test_labels.to(pred.device)).double().mean(-1)
