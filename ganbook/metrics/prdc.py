"""Precision, recall, density and coverage with k-nearest-neighbour balls, chapter 15,
eqs. (ch15-precision)–(ch15-coverage).

Each real sample xᵢ gets the ball B(xᵢ, NND_k(xᵢ)) whose radius is the distance to its k-th
nearest *other* real sample (each fake sample yⱼ likewise within the fake set). With N real and M
fake samples:

* precision (Kynkäänniemi et al.) = 1/M Σⱼ 1[yⱼ lies in some real ball]           — fidelity
* recall                          = 1/N Σᵢ 1[xᵢ lies in some fake ball]           — diversity
* density (Naeem et al.)          = 1/(kM) Σⱼ Σᵢ 1[yⱼ ∈ B(xᵢ, NND_k(xᵢ))]        — fidelity
* coverage                        = 1/N Σᵢ 1[some yⱼ lies in B(xᵢ, NND_k(xᵢ))]     — diversity

"lies in" is the strict inequality ‖y − x‖ < radius, as in the authors' released code. Distances are
float64 and computed in blocks of rows, so memory stays bounded for 10k × 10k comparisons; the
k-NN radii within one set only compute the blocks on and above the diagonal.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _validate as V
from . import _common as C


@dataclass(frozen=True)
class PRDC:
    """Result of :func:`prdc`."""

    precision: float
    recall: float
    density: float
    coverage: float

    def __str__(self) -> str:
        return (f"precision {self.precision:.4f}, recall {self.recall:.4f}, "
                f"density {self.density:.4f}, coverage {self.coverage:.4f}")


def _knn_sq_radii(x: torch.Tensor, k: int, block: int) -> torch.Tensor:
    """Squared distance from each row of x (n, d) to its k-th nearest other row, shape (n,).

    Keeps the k + 1 smallest squared distances of each row (the row itself, at 0, included) while
    visiting each pair of row blocks once."""
    n = x.shape[0]
    sq = (x * x).sum(1)                                               # (n,)
    best = torch.full((n, k + 1), float("inf"), dtype=torch.float64, device=x.device)
    blocks = list(C.row_blocks(n, block))
    for bi, (s1, e1) in enumerate(blocks):
        for s2, e2 in blocks[bi:]:
            d2 = C.sq_dists(x[s1:e1], x[s2:e2], sq[s2:e2])            # (e1 − s1, e2 − s2)
            if s1 == s2:
                d2.fill_diagonal_(0.0)
            best[s1:e1] = torch.cat([best[s1:e1], d2], 1).topk(k + 1, dim=1, largest=False).values
            if s1 != s2:
                best[s2:e2] = torch.cat([best[s2:e2], d2.T], 1).topk(k + 1, dim=1, largest=False).values
    return best[:, k]


def knn_radii(x: torch.Tensor, k: int = 5, block: int = C.CHUNK) -> torch.Tensor:
    """NND_k: the distance from each row of ``x`` (n, d) to its k-th nearest other row, float64 (n,)."""
    x = C.features(x, "x")
    k = V.positive_int(k, "k")
    if x.shape[0] < k + 1:
        raise ValueError(f"x has {x.shape[0]} rows; the k-th nearest neighbour needs at least k + 1 = {k + 1}")
    return _knn_sq_radii(x, k, V.positive_int(block, "block")).sqrt()


def prdc(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 5, block: int = C.CHUNK) -> PRDC:
    """Precision, recall, density and coverage of ``fake_features`` (M, d) against
    ``real_features`` (N, d) with k-NN balls, eqs. (ch15-precision)–(ch15-coverage)."""
    real, fake = C.pair(real_features, fake_features, names=("real_features", "fake_features"))
    k = V.positive_int(k, "k")
    block = V.positive_int(block, "block")
    for name, x in (("real_features", real), ("fake_features", fake)):
        if x.shape[0] < k + 1:
            raise ValueError(f"{name} has {x.shape[0]} rows; k = {k} nearest neighbours need at least {k + 1}")
    r2_real = _knn_sq_radii(real, k, block)                           # (N,)
    r2_fake = _knn_sq_radii(fake, k, block)                           # (M,)
    n, m = real.shape[0], fake.shape[0]
    real_sq = (real * real).sum(1)
    in_real_ball = 0                                                  # fakes inside ≥ 1 real ball
    ball_hits = 0                                                     # Σⱼ Σᵢ 1[yⱼ ∈ B(xᵢ)]
    covered = torch.zeros(n, dtype=torch.bool, device=real.device)    # real balls holding ≥ 1 fake
    recalled = torch.zeros(n, dtype=torch.bool, device=real.device)   # reals inside ≥ 1 fake ball
    for s, e in C.row_blocks(m, block):
        d2 = C.sq_dists(fake[s:e], real, real_sq)                     # (e − s, N)
        inside = d2 < r2_real.unsqueeze(0)                            # yⱼ ∈ B(xᵢ)
        in_real_ball += int(inside.any(1).sum())
        ball_hits += int(inside.sum())
        covered |= inside.any(0)
        recalled |= (d2 < r2_fake[s:e].unsqueeze(1)).any(0)           # xᵢ ∈ B(yⱼ)
    return PRDC(precision=in_real_ball / m, recall=float(recalled.double().mean()),
                density=ball_hits / (k * m), coverage=float(covered.double().mean()))
