"""Checks for the coding exercises of chapter 8 (fighting mode collapse).

* :func:`minibatch_features` — o(xᵢ)_b = Σⱼ exp(−‖M_{i,b} − M_{j,b}‖₁) from M of shape (n, B, C),
  eq. (ch8-mbd); the reference is written here with explicit loops, independently of
  :func:`ganbook.collapse.minibatch_similarities`.
* :func:`pack` — PacGAN's packing (n, d) → (n/m, m·d), eq. (ch8-pack); the reference concatenates
  the rows jm, …, jm + m − 1 one by one.
"""
from __future__ import annotations

import torch

from ._core import compare


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mbd_reference(M: torch.Tensor) -> torch.Tensor:
    n, B, _ = M.shape
    out = torch.zeros(n, B, dtype=M.dtype)
    for i in range(n):
        for j in range(n):
            out[i] += torch.exp(-(M[i] - M[j]).abs().sum(-1))            # (B,)
    return out


def minibatch_features(fn) -> str:
    """Exercise 8.x: ``fn(M)`` with M of shape (n, B, C) returns the minibatch features o of shape
    (n, B), o[i, b] = Σⱼ exp(−Σ_c |M[i, b, c] − M[j, b, c]|), the sum over the whole batch (j = i
    included)."""
    g = _rng(8)
    cases = [(torch.randn(n, B, C, generator=g, dtype=torch.float64) * s,)
             for n, B, C, s in ((4, 3, 2, 0.5), (7, 5, 4, 1.0), (2, 1, 3, 0.2), (10, 2, 2, 3.0))]
    dup = torch.randn(3, 2, 2, generator=g, dtype=torch.float64)
    cases.append((torch.cat([dup, dup[:1]]),))                           # a duplicated sample
    mistakes = {
        "the features without the term j = i (each o is 1 too small); the sum runs over the whole batch":
            lambda M: _mbd_reference(M) - 1,
        "a sum of L1 *distances*: the similarity is exp(−distance), close to 1 for similar samples":
            lambda M: (M[:, None] - M[None, :]).abs().sum(-1).sum(1),
        "exp(−L2 distance): the paper uses the L1 norm over the C coordinates":
            lambda M: torch.exp(-(M[:, None] - M[None, :]).norm(dim=-1)).sum(1),
        "a sum over the wrong axis (the B kernels instead of the batch)":
            lambda M: torch.exp(-(M[:, None] - M[None, :]).abs().sum(-1)).sum(2),
    }
    return compare(fn, _mbd_reference, cases, name="minibatch_features", arg_names=("M",),
                   atol=1e-9, rtol=1e-7, mistakes=mistakes)


def _pack_reference(x: torch.Tensor, m: int) -> torch.Tensor:
    rows = [torch.cat([x[j * m + i] for i in range(m)]) for j in range(x.shape[0] // m)]
    return torch.stack(rows)


def pack(fn) -> str:
    """Exercise 8.x: ``fn(x, m)`` with x of shape (n, d), n a multiple of m, returns the packed
    batch of shape (n/m, m·d) whose row j concatenates samples jm, jm + 1, …, jm + m − 1."""
    g = _rng(9)
    cases = [(torch.randn(n, d, generator=g, dtype=torch.float64), m)
             for n, d, m in ((8, 2, 2), (12, 2, 3), (12, 3, 4), (5, 2, 1), (6, 1, 6))]
    mistakes = {
        "packs of samples j, j + n/m, j + 2n/m, … — valid in principle, but not the packing asked "
        "for (consecutive samples): use x.reshape(n // m, m * d)":
            lambda x, m: x.reshape(m, x.shape[0] // m, x.shape[1]).transpose(0, 1).reshape(x.shape[0] // m, -1),
        "coordinates of different samples mixed in one input (a reshape of xᵀ): keep each sample's d "
        "coordinates together":
            lambda x, m: x.T.reshape(x.shape[0] // m, -1) if x.shape[0] % m == 0 else x,
    }
    return compare(fn, _pack_reference, cases, name="pack", arg_names=("x", "m"),
                   atol=0.0, rtol=0.0, mistakes=mistakes)
