"""Chapter 9, section 9.5: InfoGAN and semi-supervised InfoGAN — the variational (Barber–Agakov) lower bound on
the mutual information I(c; G(z, c)), its closed-form Gaussian case, the Hungarian matching accuracy of a
categorical code, and the mutual information gap (MIG) of continuous codes against known factors.

* The bound, eq. (ch9-ba-bound): I(c; x) ≥ H(c) + E_{p(c, x)} log Q(c | x), equality iff Q = p(c | x)
  {barber2003im}; InfoGAN maximises it with Q sharing D's body {chen2016infogan}.
* Semi-supervised InfoGAN adds −E log Q(y | x) on a few labelled real images, eq. (ch9-ss-infogan)
  {spurr2017ssinfogan}.
* :func:`hungarian_accuracy`: the best one-to-one matching of clusters to labels
  (``scipy.optimize.linear_sum_assignment``); :func:`mig`: eq. (ch9-mig) {chen2018isolating}.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Sequence

import torch
import torch.nn.functional as F

from . import _validate as V
from .conditional import Generator, _one_hot, adam
from .errors import TrainingDiverged
from .nets import BatchedMLP
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss


# --- the bound ---------------------------------------------------------------------------------------

def ba_bound(log_q: torch.Tensor, entropy_c: float | torch.Tensor) -> torch.Tensor:
    """Monte Carlo estimate of the Barber–Agakov bound, eq. (ch9-ba-bound): H(c) + mean of log Q(c_i | x_i)
    over pairs (c_i, x_i) drawn from p(c, x). ``log_q`` (..., n) → (...,)."""
    V.tensor(log_q, "log_q", finite=False)
    return entropy_c + log_q.mean(-1)


def gaussian_mi(noise_std: float) -> float:
    """I(c; x) for c ~ N(0, 1), x = c + σε, ε ~ N(0, 1): ½ log(1 + 1/σ²) nats, eq. (ch9-gauss-mi)."""
    s = V.positive_float(noise_std, "noise_std")
    return 0.5 * math.log1p(1 / s ** 2)


def gaussian_ba_bound(slope: float, var: float, noise_std: float) -> float:
    """The bound of eq. (ch9-ba-bound) in closed form for the Gaussian pair of :func:`gaussian_mi` and
    Q(c | x) = N(a x, s²), eq. (ch9-gauss-bound): ½ log(2πe) − ½ log(2π s²) − E(c − a x)² / (2 s²) with
    E(c − a x)² = (1 − a)² + a²σ². Equal to I exactly at a = 1/(1 + σ²), s² = σ²/(1 + σ²)."""
    a = V.finite_float(slope, "slope")
    s2 = V.positive_float(var, "var")
    sig = V.positive_float(noise_std, "noise_std")
    mse = (1 - a) ** 2 + a ** 2 * sig ** 2
    return 0.5 * math.log(2 * math.pi * math.e) - 0.5 * math.log(2 * math.pi * s2) - mse / (2 * s2)


def categorical_entropy(k: int) -> float:
    """H(c) = log k nats of a uniform categorical code with k values."""
    return math.log(V.positive_int(k, "k"))


def gaussian_log_q(mean: torch.Tensor, c: torch.Tensor, std: float = 1.0) -> torch.Tensor:
    """log N(c; mean, std²) summed over the last axis: InfoGAN's Q for continuous codes with a fixed
    standard deviation (a scaled squared error)."""
    return (-0.5 * ((c - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)


# --- scores ------------------------------------------------------------------------------------------

def confusion(pred: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Counts (k, k): entry (i, j) = #{pred = i, label = j}."""
    V.positive_int(k, "k")
    if pred.shape != labels.shape or pred.dim() != 1:
        raise ValueError(f"pred and labels must be 1-D of one shape, got {tuple(pred.shape)}, {tuple(labels.shape)}")
    if bool(((pred < 0) | (pred >= k) | (labels < 0) | (labels >= k)).any()):
        raise ValueError(f"pred and labels must lie in [0, {k})")
    return torch.bincount(pred.long() * k + labels.long(), minlength=k * k).reshape(k, k)


def hungarian_accuracy(pred: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Accuracy of clusters ``pred`` against ``labels`` under the best one-to-one relabelling of the
    clusters (the assignment problem, solved by ``scipy.optimize.linear_sum_assignment``)."""
    from scipy.optimize import linear_sum_assignment

    cm = confusion(pred.cpu(), labels.cpu(), k).numpy()
    rows, cols = linear_sum_assignment(cm, maximize=True)
    return float(cm[rows, cols].sum()) / pred.shape[0]


def discretize(v: torch.Tensor, bins: int = 20) -> torch.Tensor:
    """Each column of ``v`` (n, d) cut into ``bins`` equal-width bins between its min and max → (n, d) long."""
    V.tensor(v, "v", ndim=2)
    V.positive_int(bins, "bins", minimum=2)
    lo, hi = v.min(0).values, v.max(0).values
    u = (v - lo) / (hi - lo).clamp_min(1e-12)
    return (u * bins).long().clamp(0, bins - 1)


def discrete_mi(a: torch.Tensor, b: torch.Tensor) -> float:
    """Plug-in mutual information (nats) of two discrete sequences (n,) of non-negative integers."""
    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(f"a and b must be 1-D of one shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    joint = torch.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).double() / a.shape[0]
    pa, pb = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    nz = joint > 0
    return float((joint[nz] * (joint[nz] / (pa * pb).expand_as(joint)[nz]).log()).sum())


def discrete_entropy(a: torch.Tensor) -> float:
    """Plug-in entropy (nats) of a discrete sequence (n,)."""
    p = torch.bincount(a).double() / a.shape[0]
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def mig(codes: torch.Tensor, factors: torch.Tensor, bins: int = 20) -> tuple[float, torch.Tensor]:
    """Mutual information gap, eq. (ch9-mig): for each factor v_j, the gap between the largest and the
    second largest I(c_k; v_j) over codes, divided by H(v_j), averaged over factors. Codes (n, K ≥ 2)
    and factors (n, J) are discretised into ``bins`` bins (:func:`discretize`) unless already integer.
    Returns (MIG, the MI matrix (K, J))."""
    if codes.dim() != 2 or codes.shape[1] < 2:
        raise ValueError(f"codes must have shape (n, K) with K ≥ 2, got {tuple(codes.shape)}")
    if factors.dim() != 2 or factors.shape[0] != codes.shape[0]:
        raise ValueError(f"factors must have shape ({codes.shape[0]}, J), got {tuple(factors.shape)}")
    dc = codes if not codes.is_floating_point() else discretize(codes, bins)
    df = factors if not factors.is_floating_point() else discretize(factors, bins)
    mi = torch.tensor([[discrete_mi(dc[:, k], df[:, j]) for j in range(df.shape[1])]
                       for k in range(dc.shape[1])], dtype=torch.float64)
    h = torch.tensor([discrete_entropy(df[:, j]) for j in range(df.shape[1])], dtype=torch.float64)
    top = mi.sort(0, descending=True).values
    return float(((top[0] - top[1]) / h).mean()), mi


def circles(n: int, size: int = 16, *, generator: torch.Generator | None = None,
            device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A named subset of the shapes' factors for disentanglement scores: ``n`` circles of one colour (white)
    on black, whose only factors are the centre x, y and the radius, drawn uniformly over the shapes data
    set's ranges (:mod:`ganbook.shapes`: x, y ∈ [−0.3, 0.3], radius ∈ [0.25, 0.45]). Returns flattened
    images (n, size²) in [−1, 1] and the factors (n, 3) = (x, y, radius), on ``device``."""
    from . import shapes as S

    V.positive_int(n, "n")
    V.generator(generator)
    where = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(n, 3, generator=generator, device=where)
    lo, hi = S.SCALE
    factors = torch.stack([S.POSITION * (2 * u[:, 0] - 1), S.POSITION * (2 * u[:, 1] - 1), lo + (hi - lo) * u[:, 2]], 1)
    factors = factors.to(V.device_arg(device))
    f = {"label": torch.full((n,), S.CLASSES.index("circle"), device=factors.device), "x": factors[:, 0],
         "y": factors[:, 1], "scale": factors[:, 2], "angle": torch.zeros(n, device=factors.device)}
    masks = S.render_masks(f, size)                                             # (n, 1, size, size)
    return (2 * masks - 1).reshape(n, -1), factors


# --- training -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preset:
    """Sizes of an InfoGAN run on flattened images: noise size, codes (one categorical with ``n_cat``
    values, ``n_cont`` uniform continuous codes in [−1, 1]), widths, steps, batch, Adam, the weight λ of the
    information term, and the weight of the supervised term of ss-InfoGAN."""

    name: str
    z_dim: int = 16
    n_cat: int = 10
    n_cont: int = 2
    hidden: tuple[int, ...] = (128, 128)
    steps: int = 600
    batch: int = 64
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.99)
    info_weight: float = 1.0
    cont_weight: float = 0.5
    label_weight: float = 1.0
    code_scale: float = 4.0


PRESETS = {
    "cpu": Preset("cpu", hidden=(64, 64)),
    "gpu": Preset("gpu", z_dim=62, hidden=(512, 512, 512), steps=20_000, batch=256, lr=2e-4),
}


def preset(name: str, **overrides) -> Preset:
    """The named preset (``"cpu"`` or ``"gpu"``), with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **overrides)


class InfoD(torch.nn.Module):
    """D and Q as one network (Q shares D's body, as in InfoGAN): the outputs are the source logit, the
    categorical code's logits (n_cat) and the continuous codes' means (n_cont)."""

    def __init__(self, x_dim: int, n_cat: int, n_cont: int, hidden: Sequence[int], *, members: int):
        super().__init__()
        self.n_cat, self.n_cont = n_cat, n_cont
        self.net = BatchedMLP(x_dim, 1 + n_cat + n_cont, hidden, members=members, activation="leaky_relu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.net(x)
        return out[..., 0], out[..., 1:1 + self.n_cat], out[..., 1 + self.n_cat:]


@dataclass
class Run:
    """A trained InfoGAN: G, D/Q, the number of labels each member saw, the per-step history of the
    information bound's estimate for the categorical code (steps, members), and ``D_init``, a copy of D/Q
    at initialisation (an untrained encoder of the same architecture: a paired control)."""

    G: Generator
    D: InfoD
    n_labels: torch.Tensor
    info: torch.Tensor
    D_init: InfoD | None = None


def codes(p: Preset, members: int, n: int, device: torch.device, generator: torch.Generator | None
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the codes: a uniform categorical c_cat (members, n) and uniform c_cont (members, n, n_cont) in [−1, 1]."""
    cat = torch.randint(0, p.n_cat, (members, n), device=device, generator=generator)
    cont = 2 * torch.rand(members, n, p.n_cont, device=device, generator=generator) - 1
    return cat, cont


def train(x: torch.Tensor, p: Preset, *, members: int, labels: torch.Tensor | None = None,
          n_labels: Sequence[int] | None = None, generator: torch.Generator | None = None) -> Run:
    """Train ``members`` InfoGANs side by side on flattened images ``x`` (N, x_dim), eq. (ch9-infogan):
    D minimises the source loss, G minimises the non-saturating loss, and G and Q both minimise
    −λ·(bound of eq. (ch9-ba-bound)) for the categorical and continuous codes. With ``labels`` (N,) and
    ``n_labels`` (one count per member), member m also sees its first ``n_labels[m]`` labelled images
    (a stratified draw from ``generator``) and Q minimises their cross-entropy, eq. (ch9-ss-infogan):
    semi-supervised InfoGAN; a count of 0 is plain InfoGAN."""
    V.tensor(x, "x", ndim=2)
    members = V.positive_int(members, "members")
    dev = x.device
    counts = torch.zeros(members, dtype=torch.long, device=dev)
    if n_labels is not None:
        if labels is None or labels.shape != (x.shape[0],):
            raise ValueError("n_labels needs labels of shape (N,)")
        if len(n_labels) != members:
            raise ValueError(f"n_labels must have one count per member ({members}), got {len(n_labels)}")
        counts = torch.as_tensor([V.positive_int(c, "n_labels[i]", minimum=0) for c in n_labels], device=dev)
        if int(counts.max()) > x.shape[0]:
            raise ValueError("a count in n_labels exceeds the number of images")
        order = labelled_order(labels, p.n_cat, generator)
    G = Generator(p.z_dim, p.n_cat + p.n_cont, x.shape[1], p.hidden, members=members).to(dev)
    D = InfoD(x.shape[1], p.n_cat, p.n_cont, p.hidden, members=members).to(dev)
    D_init = copy.deepcopy(D).requires_grad_(False)
    opt_d, opt_g = adam(D.parameters(), p), adam(G.parameters(), p)
    info = torch.empty(p.steps, members, device=dev)
    h_cat = categorical_entropy(p.n_cat)
    for t in range(p.steps):
        real = x[torch.randint(0, x.shape[0], (members, p.batch), device=dev, generator=generator)]
        z = torch.randn(members, p.batch, p.z_dim, device=dev, generator=generator)
        cat, cont = codes(p, members, p.batch, dev, generator)
        fake = G(z, torch.cat([p.code_scale * _one_hot(cat, p.n_cat), cont], dim=2))
        batches = [real, fake.detach()]
        if n_labels is not None:                                       # ss-InfoGAN: a batch of labelled images
            pick = labelled_batch(order, counts, p.batch, generator)
            batches.append(x[pick])
        src, logit, mean = D(torch.cat(batches, 1))                    # one pass over all the batches
        src_r, src_f = src[:, :p.batch], src[:, p.batch:2 * p.batch]
        logit_f, mean_f = logit[:, p.batch:2 * p.batch], mean[:, p.batch:2 * p.batch]
        log_q = -F.cross_entropy(logit_f.transpose(1, 2), cat, reduction="none")     # (members, n)
        mi_term = info_term(log_q, mean_f, cont, p)
        d_loss = minimax_d_loss(src_r, src_f) + p.info_weight * mi_term
        if n_labels is not None:
            d_loss = d_loss + p.label_weight * labelled_cross_entropy(logit[:, 2 * p.batch:], labels[pick], counts)
        opt_d.zero_grad(set_to_none=True)
        (d_loss * members).backward()
        opt_d.step()
        D.requires_grad_(False)            # G's step: Q's share of the bound is trained in D's step above
        src_f, logit_f, mean_f = D(fake)
        log_q = -F.cross_entropy(logit_f.transpose(1, 2), cat, reduction="none")
        g_loss = nonsaturating_g_loss(src_f) + p.info_weight * info_term(log_q, mean_f, cont, p)
        opt_g.zero_grad(set_to_none=True)
        (g_loss * members).backward()
        opt_g.step()
        D.requires_grad_(True)
        info[t] = ba_bound(log_q.detach(), h_cat)
    if not bool(torch.isfinite(info).all()):
        raise TrainingDiverged("InfoGAN: the information term became NaN or infinite during training")
    return Run(G, D, counts, info, D_init)


def info_term(log_q: torch.Tensor, mean: torch.Tensor, cont: torch.Tensor, p: Preset) -> torch.Tensor:
    """−(bound of eq. (ch9-ba-bound)) up to the constant H(c): −E log Q(c_cat | x) − w·E log Q(c_cont | x),
    the continuous part a Gaussian of unit standard deviation (a halved squared error), w = ``cont_weight``."""
    return -log_q.mean() + p.cont_weight * 0.5 * ((mean - cont) ** 2).sum(-1).mean()


def labelled_order(labels: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
    """A permutation of the data whose every prefix is as balanced over the k classes as possible (round
    robin over classes, each class shuffled by ``generator``): the first n images are the n labels."""
    per_class = []
    for c in range(k):
        idx = torch.nonzero(labels == c).flatten()
        perm = torch.randperm(idx.numel(), device=idx.device, generator=generator)
        per_class.append(idx[perm])
    rounds = max(len(i) for i in per_class)
    rows = [torch.stack([i[r] for i in per_class if r < len(i)]) for r in range(rounds)]
    return torch.cat(rows)


def labelled_batch(order: torch.Tensor, counts: torch.Tensor, n: int, generator: torch.Generator | None
                   ) -> torch.Tensor:
    """Indices (members, n) of a batch drawn with replacement from each member's labelled images, the
    first ``counts[m]`` of ``order`` (:func:`labelled_order`; a member without labels gets image order[0])."""
    u = torch.rand(counts.shape[0], n, device=order.device, generator=generator)
    return order[(u * counts.clamp_min(1)[:, None]).long()]


def labelled_cross_entropy(logits: torch.Tensor, y: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """ss-InfoGAN's term, eq. (ch9-ss-infogan): the cross-entropy of Q's categorical logits (members, n, k)
    on each member's labelled batch y (members, n), averaged over members; members with no labels
    (``counts`` 0) contribute 0."""
    ce = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1)         # (members,)
    return (ce * (counts > 0)).sum() / counts.shape[0]


def supervised_term(D: InfoD, x: torch.Tensor, labels: torch.Tensor, order: torch.Tensor, counts: torch.Tensor,
                    p: Preset, generator: torch.Generator | None) -> torch.Tensor:
    """ss-InfoGAN's term, eq. (ch9-ss-infogan), on a fresh labelled batch (:func:`labelled_batch`) through D:
    the cross-entropy of Q's categorical head (members with no labels contribute 0)."""
    pick = labelled_batch(order, counts, p.batch, generator)
    _, logits, _ = D(x[pick])
    return labelled_cross_entropy(logits, labels[pick], counts)


@torch.no_grad()
def predict(D: InfoD, x: torch.Tensor) -> torch.Tensor:
    """Q's categorical code for real images x (N, x_dim), every member: (members, N) argmax."""
    _, logits, _ = D(x.expand(D.net.members, -1, -1))
    return logits.argmax(-1)


@torch.no_grad()
def accuracies(D: InfoD, x: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Hungarian accuracy of every member's categorical code on (x, labels): (members,) float64."""
    pred = predict(D, x)
    return torch.tensor([hungarian_accuracy(pr, labels, k) for pr in pred], dtype=torch.float64)
