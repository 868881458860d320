"""Two-sample tests with p-values, chapter 15: is the generated sample distinguishable from a
held-out real sample?

* :func:`mmd_permutation_test` — Gretton et al.'s kernel test: the unbiased MMD² with a Gaussian
  kernel (bandwidth by the median heuristic), calibrated by recomputing it after randomly
  reassigning the pooled samples to the two sides, eq. (ch15-permutation-p).
* :func:`classifier_two_sample_test` — Lopez-Paz & Oquab's C2ST: train a classifier to tell the
  two samples apart on one half, measure its accuracy on the other half; under the null
  hypothesis (same distribution) no classifier beats chance, so a binomial tail gives the p-value.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import _validate as V
from ..kernels import gaussian_kernel, mmd2_from_sums, pairwise_distances
from . import _common as C


@dataclass(frozen=True)
class TwoSampleTest:
    """A test statistic and its p-value (small: the samples differ)."""

    statistic: float
    p_value: float
    name: str

    def __str__(self) -> str:
        return f"{self.name} = {self.statistic:.4g}, p = {self.p_value:.4g}"


def median_bandwidth(z: torch.Tensor) -> float:
    """The median heuristic: the median distance between distinct rows of ``z`` (n, d)."""
    z = C.features(z, "z", min_rows=2)
    dist = pairwise_distances(z, z)                              # (n, n)
    iu = torch.triu_indices(z.shape[0], z.shape[0], offset=1, device=z.device)
    med = float(dist[iu[0], iu[1]].median())
    if med <= 0:
        raise ValueError("all rows of z coincide: the median heuristic bandwidth is 0")
    return med


def _mmd2_from_membership(k: torch.Tensor, member: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """Unbiased MMD² for every column of ``member`` (N, P) (1 where a pooled sample goes to the first
    side), from the pooled kernel matrix k (N, N): the kernel sums of each split, combined by
    :func:`ganbook.kernels.mmd2_from_sums`; shape (P,)."""
    ke = k @ member                                              # (N, P)
    s_aa = (member * ke).sum(0)                                  # Σ over first × first, diagonal included
    s_a_all = ke.sum(0)                                          # Σ over first × all
    total = k.sum()
    s_bb = total - 2 * s_a_all + s_aa                            # Σ over second × second
    s_ab = s_a_all - s_aa
    diag = torch.diagonal(k)
    tr_a = diag @ member
    tr_b = diag.sum() - tr_a
    return mmd2_from_sums(s_aa - tr_a, s_bb - tr_b, s_ab, m, n, unbiased=True)


def mmd_permutation_test(x: torch.Tensor, y: torch.Tensor, permutations: int = 500,
                         bandwidth: float | None = None, generator: torch.Generator | None = None,
                         max_samples: int = 6000) -> TwoSampleTest:
    """MMD permutation test between x (m, d) and y (n, d), eq. (ch15-permutation-p).

    Statistic: the unbiased MMD² with k(a, b) = exp(−‖a − b‖²/(2σ²)), σ = ``bandwidth`` or the
    median distance of the pooled sample. p-value: (1 + #{permuted MMD² ≥ observed})/(1 + P), which
    is a valid p-value (P(p ≤ α) ≤ α under the null) for any number P of permutations."""
    x, y = C.pair(x, y, names=("x", "y"), min_rows=2)
    permutations = V.positive_int(permutations, "permutations")
    V.generator(generator)
    m, n = x.shape[0], y.shape[0]
    if m + n > V.positive_int(max_samples, "max_samples"):
        raise ValueError(f"x and y hold {m + n} samples together; the pooled kernel matrix would have "
                         f"{(m + n) ** 2:,} entries. Subsample to at most max_samples = {max_samples}")
    z = torch.cat([x, y])                                        # (N, d)
    sigma = median_bandwidth(z) if bandwidth is None else V.positive_float(bandwidth, "bandwidth")
    k = gaussian_kernel(z, z, sigma)                             # (N, N), exp(−‖a − b‖²/(2σ²))
    observed = torch.zeros(m + n, 1, dtype=torch.float64, device=z.device)
    observed[:m] = 1
    stat = float(_mmd2_from_membership(k, observed, m, n)[0])
    where = C.generator_device(generator)
    # P random permutations at once: the ranks of i.i.d. uniforms are a uniform random permutation
    first = torch.rand(permutations, m + n, generator=generator, device=where).argsort(1)[:, :m]   # (P, m)
    member = torch.zeros(m + n, permutations, dtype=torch.float64, device=z.device)
    member.scatter_(0, first.T.to(z.device), 1.0)
    null = _mmd2_from_membership(k, member, m, n)
    p_value = (1 + int((null >= stat).sum())) / (1 + permutations)
    return TwoSampleTest(statistic=stat, p_value=p_value, name="MMD²")


def binomial_tail(correct: int, trials: int) -> float:
    """P(Binomial(trials, 1/2) ≥ correct), exactly (log-space sums, no overflow)."""
    V.positive_int(trials, "trials")
    V.positive_int(correct, "correct", minimum=0)
    if correct > trials:
        raise ValueError(f"correct = {correct} exceeds trials = {trials}")
    ks = torch.arange(correct, trials + 1, dtype=torch.float64)
    t = torch.tensor(float(trials), dtype=torch.float64)
    log_pmf = torch.lgamma(t + 1) - torch.lgamma(ks + 1) - torch.lgamma(t - ks + 1) - t * torch.log(torch.tensor(2.0, dtype=torch.float64))
    return float(torch.logsumexp(log_pmf, 0).exp().clamp(max=1.0))


def classifier_two_sample_test(x: torch.Tensor, y: torch.Tensor, hidden: int = 64, steps: int = 300,
                               lr: float = 1e-2, seed: int = 0, device: torch.device | str | None = None
                               ) -> TwoSampleTest:
    """C2ST between x (m, d) and y (n, d). Both samples are cut to the same size s = min(m, n) (a
    classifier that learnt unequal class frequencies would beat chance without telling anything
    apart); an MLP with one hidden layer is trained with full-batch Adam to tell a random half of
    each apart, and the statistic is its accuracy on the other halves, with p-value
    P(Binomial(n_test, 1/2) ≥ correct). Under the null hypothesis (same distribution) the trained
    classifier labels every fresh test point "x" with the same probability π, so the number
    correct is Binomial(n_test/2, π) + Binomial(n_test/2, 1 − π), a sum of Bernoulli variables with
    mean n_test/2; by Hoeffding's (1956) theorem its tail beyond n_test/2 + 1 is no heavier than that
    of Binomial(n_test, 1/2), so the p-value is valid."""
    x, y = C.pair(x, y, names=("x", "y"), min_rows=4)
    hidden = V.positive_int(hidden, "hidden")
    steps = V.positive_int(steps, "steps")
    lr = V.positive_float(lr, "lr")
    seed = V.positive_int(seed, "seed", minimum=0)
    dev = V.device_arg(device) if device is not None else x.device
    gen = torch.Generator().manual_seed(seed)
    size = min(x.shape[0], y.shape[0])
    px, py = torch.randperm(x.shape[0], generator=gen)[:size], torch.randperm(y.shape[0], generator=gen)[:size]
    hx = hy = size // 2
    xtr, xte = x[px[:hx].to(x.device)], x[px[hx:].to(x.device)]
    ytr, yte = y[py[:hy].to(y.device)], y[py[hy:].to(y.device)]
    train = torch.cat([xtr, ytr]).to(dev, torch.float32)
    test = torch.cat([xte, yte]).to(dev, torch.float32)
    t_train = torch.cat([torch.ones(hx), torch.zeros(hy)]).to(dev)
    t_test = torch.cat([torch.ones(xte.shape[0]), torch.zeros(yte.shape[0])]).to(dev)
    mean, std = train.mean(0), train.std(0).clamp(min=1e-6)     # standardise with training statistics
    train, test = (train - mean) / std, (test - mean) / std
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 1)).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_fn(net(train).squeeze(1), t_train).backward()
        opt.step()
    with torch.no_grad():
        correct = int(((net(test).squeeze(1) > 0).float() == t_test).sum())
    n_test = test.shape[0]
    return TwoSampleTest(statistic=correct / n_test, p_value=binomial_tail(correct, n_test), name="C2ST accuracy")
