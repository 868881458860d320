"""Chapter 9, sections 9.1–9.4: conditional GANs — CGAN, the projection discriminator and AC-GAN — with seeds side by side.

Every network here is a :class:`ganbook.nets.BatchedMLP` of ``members`` independent copies (seeds, or
settings), trained in one pass; images are flattened to vectors (8×8 digits: 64 values; shapes: 3·S·S).

* CGAN {mirza2014conditional}: G(z, y) and D(x, y) both read the one-hot label concatenated to their
  input, eq. (ch9-cgan-value); the optimal D is eq. (ch9-cgan-dstar).
* Projection discriminator {miyato2018cgans}: D(x, y) = ψ(φ(x)) + e_yᵀφ(x), eq. (ch9-projection).
* AC-GAN {odena2017acgan}: D reads x alone and has two heads, the source logit and class logits;
  D maximises L_S + L_C, G maximises L_C − L_S, eqs. (ch9-acgan-ls), (ch9-acgan-lc).
* The exact toy of AC-GAN's bias: class-conditional 1D Gaussians on a grid, eq. (ch9-acgan-generator).

Losses follow :mod:`ganbook.objectives`: a d-loss ``(real, fake, *, ...)`` of D's outputs, a g-loss
``(fake, *, ...)``. Presets: ``preset("cpu")`` (live, seconds) and ``preset("gpu")`` (wider, longer).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from .errors import TrainingDiverged
from .nets import BatchedMLP
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss

KINDS = ("cgan", "projection", "acgan")
LABEL_SCALE = 8.0     # CGAN's D reads [x, 8·onehot(y)]: see ConcatD


@dataclass(frozen=True)
class Preset:
    """Sizes of a chapter-9 run: latent size, hidden widths, steps, batch per member, Adam's settings,
    and the weight λ of AC-GAN's class loss."""

    name: str
    z_dim: int = 16
    hidden: tuple[int, ...] = (128, 128)
    steps: int = 800
    batch: int = 64
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.99)
    class_weight: float = 1.0
    ema: float = 0.995


PRESETS = {
    "cpu": Preset("cpu"),
    "gpu": Preset("gpu", z_dim=32, hidden=(512, 512, 512), steps=20_000, batch=256, lr=2e-4),
}


def preset(name: str, **overrides) -> Preset:
    """The named preset (``"cpu"`` or ``"gpu"``), with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **overrides)


def one_hot(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Labels (n,) long → float one-hot rows (n, n_classes)."""
    V.positive_int(n_classes, "n_classes", minimum=2)
    V.tensor(y, "y", floating=False)
    if y.dtype != torch.long:
        raise TypeError(f"y must be a long tensor of labels, got {y.dtype}")
    if bool(((y < 0) | (y >= n_classes)).any()):
        raise ValueError(f"y must lie in [0, {n_classes})")
    return F.one_hot(y, n_classes).to(torch.get_default_dtype())


def _one_hot(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """:func:`one_hot` without the value check (which reads the labels on the host): for training loops."""
    return F.one_hot(y, n_classes).to(torch.get_default_dtype())


# --- networks ---------------------------------------------------------------------------------------

class Generator(nn.Module):
    """G(z, c) = tanh(MLP([z, c])) for ``members`` copies, eq. (ch9-cgan-value): c is the condition
    (a one-hot label, or InfoGAN's code). Input (members, n, z_dim + c_dim) → (members, n, x_dim)."""

    def __init__(self, z_dim: int, c_dim: int, x_dim: int, hidden: Sequence[int] = (128, 128), *, members: int = 1):
        super().__init__()
        self.z_dim, self.c_dim = V.positive_int(z_dim, "z_dim"), V.positive_int(c_dim, "c_dim", minimum=0)
        self.net = BatchedMLP(z_dim + c_dim, x_dim, hidden, members=members)
        self.members = members

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if z.dim() != 3 or z.shape[0] != self.members or z.shape[2] != self.z_dim:
            raise ValueError(f"z must have shape ({self.members}, n, {self.z_dim}), got {tuple(z.shape)}")
        if c.shape[:2] != z.shape[:2] or c.shape[2] != self.c_dim:
            raise ValueError(f"c must have shape ({self.members}, {z.shape[1]}, {self.c_dim}), got {tuple(c.shape)}")
        return torch.tanh(self.net(torch.cat([z, c], dim=2)))


class ConcatD(nn.Module):
    """CGAN's discriminator: one logit D(x, y) = MLP([x, s·onehot(y)]), eq. (ch9-cgan-value), s = LABEL_SCALE = 8.
    Concatenation is the same as adding a learned vector W_y to the first layer's pre-activation; with
    nn.Linear's initialisation W_y starts as small as one pixel's weights, and the label is then ignored for
    hundreds of steps. Scaling the one-hot by 8 (the same as an 8× larger initial W_y and learning rate on
    it) lets D read the label from the start (tuned on digits, seeds 0–4 of the tuning block)."""

    def __init__(self, x_dim: int, n_classes: int, hidden: Sequence[int] = (128, 128), *, members: int = 1):
        super().__init__()
        self.n_classes = n_classes
        self.net = BatchedMLP(x_dim + n_classes, 1, hidden, members=members, activation="leaky_relu", squeeze=True)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, LABEL_SCALE * _one_hot(y, self.n_classes)], dim=-1))


class ProjectionD(nn.Module):
    """The projection discriminator, eq. (ch9-projection): D(x, y) = ψ(φ(x)) + e_yᵀ φ(x), with φ an MLP's
    last hidden layer, ψ a linear unit and e_y a learned embedding of the class {miyato2018cgans}."""

    def __init__(self, x_dim: int, n_classes: int, hidden: Sequence[int] = (128, 128), *, members: int = 1):
        super().__init__()
        hidden = list(hidden)
        self.n_classes = n_classes
        self.net = BatchedMLP(x_dim, 1, hidden, members=members, activation="leaky_relu", squeeze=True)
        bound = 1 / math.sqrt(hidden[-1])
        self.embed = nn.Parameter(torch.empty(members, n_classes, hidden[-1]).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = self.net.features(x)                                        # (members, n, h)
        psi = torch.baddbmm(self.net.biases[-1], phi, self.net.weights[-1]).squeeze(-1)   # ψ(φ(x)): the last linear layer
        e_y = torch.gather(self.embed, 1, y[..., None].expand(*y.shape, phi.shape[-1]))   # (members, n, h)
        return psi + (e_y * phi).sum(-1)


class ACGAND(nn.Module):
    """AC-GAN's discriminator: D reads x alone and returns (source logit (members, n),
    class logits (members, n, K)), eqs. (ch9-acgan-ls), (ch9-acgan-lc)."""

    def __init__(self, x_dim: int, n_classes: int, hidden: Sequence[int] = (128, 128), *, members: int = 1):
        super().__init__()
        self.n_classes = n_classes
        self.net = BatchedMLP(x_dim, 1 + n_classes, hidden, members=members, activation="leaky_relu")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        return out[..., 0], out[..., 1:]


def discriminator(kind: str, x_dim: int, n_classes: int, hidden: Sequence[int] = (128, 128), *,
                  members: int = 1) -> nn.Module:
    """The discriminator of ``kind``: ``"cgan"`` (concatenation), ``"projection"`` or ``"acgan"``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    cls = {"cgan": ConcatD, "projection": ProjectionD, "acgan": ACGAND}[kind]
    return cls(V.positive_int(x_dim, "x_dim"), V.positive_int(n_classes, "n_classes", minimum=2), hidden,
               members=V.positive_int(members, "members"))


# --- losses -----------------------------------------------------------------------------------------

def class_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """−L_C for one batch, eq. (ch9-acgan-lc): the cross-entropy −E log D(c = y | x) of the class logits
    (..., K) against labels (...,), averaged."""
    V.tensor(logits, "logits", finite=False)
    if logits.shape[:-1] != y.shape:
        raise ValueError(f"logits {tuple(logits.shape)} must be labels {tuple(y.shape)} plus a class axis")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def acgan_d_loss(real: tuple[torch.Tensor, torch.Tensor], fake: tuple[torch.Tensor, torch.Tensor], *,
                 real_labels: torch.Tensor, fake_labels: torch.Tensor, class_weight: float = 1.0) -> torch.Tensor:
    """AC-GAN's discriminator loss −(L_S + λ L_C), eqs. (ch9-acgan-ls), (ch9-acgan-lc): the source
    cross-entropy plus λ times the class cross-entropy on real AND generated samples. ``real`` and
    ``fake`` are D's (source logits, class logits)."""
    V.positive_float(class_weight, "class_weight", allow_zero=True)
    return (minimax_d_loss(real[0], fake[0])
            + class_weight * (class_cross_entropy(real[1], real_labels) + class_cross_entropy(fake[1], fake_labels)))


def acgan_g_loss(fake: tuple[torch.Tensor, torch.Tensor], *, fake_labels: torch.Tensor,
                 class_weight: float = 1.0) -> torch.Tensor:
    """AC-GAN's generator loss −(λ L_C − L_S) in its non-saturating form: −E log D(real | G(z, c))
    + λ · (−E log D(c | G(z, c))), eq. (ch9-acgan-g)."""
    V.positive_float(class_weight, "class_weight", allow_zero=True)
    return nonsaturating_g_loss(fake[0]) + class_weight * class_cross_entropy(fake[1], fake_labels)


# --- training ---------------------------------------------------------------------------------------

@dataclass
class Run:
    """A trained conditional pair: ``G``, the generator with exponentially averaged weights (what we
    sample from, eq. (ch9-ema)), ``G_last`` its last iterate, D (``members`` copies each), the kind, and
    the losses every step, ``d_loss`` and ``g_loss`` of shape (steps,) (summed over members)."""

    kind: str
    G: Generator
    G_last: Generator
    D: nn.Module
    d_loss: torch.Tensor
    g_loss: torch.Tensor


@torch.no_grad()
def average(avg: nn.Module, net: nn.Module, decay: float) -> None:
    """θ̄ ← decay·θ̄ + (1 − decay)·θ, eq. (ch9-ema): an exponential moving average of the generator's weights
    {yazici2019unusual}, which smooths the iterates' oscillation around the game's equilibrium."""
    torch._foreach_lerp_(list(avg.parameters()), list(net.parameters()), 1 - decay)


_FUSED_ON_CPU = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)   # torch ≥ 2.4


def adam(params, p: Preset) -> torch.optim.Adam:
    """Adam with the preset's learning rate and betas; the fused kernel (one pass over all the parameters,
    several times faster for these small networks) on CUDA and, from torch 2.4, on the CPU; the default
    elsewhere."""
    params = list(params)
    kind = params[0].device.type
    fused = kind == "cuda" or (kind == "cpu" and _FUSED_ON_CPU)
    return torch.optim.Adam(params, lr=p.lr, betas=p.betas, fused=fused or None)


def _batch(x: torch.Tensor, y: torch.Tensor, members: int, n: int, gen: torch.Generator | None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of n rows with replacement for each member: (members, n, x_dim) and (members, n)."""
    idx = torch.randint(0, x.shape[0], (members, n), device=x.device, generator=gen)
    return x[idx], y[idx]


def _d_loss(kind: str, D: nn.Module, real: torch.Tensor, real_y: torch.Tensor, fake: torch.Tensor,
            fake_y: torch.Tensor, p: Preset) -> torch.Tensor:
    """D's loss for one kind, from one pass of D over the real then the generated batch (n rows each)."""
    both = D(torch.cat([real, fake], 1), torch.cat([real_y, fake_y], 1))
    n = real.shape[1]
    if kind == "acgan":
        (s_r, s_f), (c_r, c_f) = (o.split(n, 1) for o in both)
        return acgan_d_loss((s_r, c_r), (s_f, c_f), real_labels=real_y, fake_labels=fake_y, class_weight=p.class_weight)
    return minimax_d_loss(*both.split(n, 1))


def _g_loss(kind: str, D: nn.Module, fake: torch.Tensor, fake_y: torch.Tensor, p: Preset) -> torch.Tensor:
    """G's loss for one kind: non-saturating, plus AC-GAN's class term."""
    if kind == "acgan":
        return acgan_g_loss(D(fake), fake_labels=fake_y, class_weight=p.class_weight)
    return nonsaturating_g_loss(D(fake, fake_y))


def _member_slice(G: Generator, lo: int, hi: int) -> Generator:
    """A generator of members lo … hi − 1 of ``G`` (copied weights; no draw from the random stream)."""
    with torch.device("meta"):
        out = Generator(G.z_dim, G.c_dim, G.net.out_dim, G.net.sizes[1:-1], members=hi - lo)
    out = out.to_empty(device=G.net.weights[0].device)
    with torch.no_grad():
        for a, b in zip(out.parameters(), G.parameters()):
            a.copy_(b[lo:hi])
    return out.requires_grad_(False)


def train(kind: str, x: torch.Tensor, y: torch.Tensor, n_classes: int, p: Preset, *, members: int,
          generator: torch.Generator | None = None) -> Run:
    """Train ``members`` conditional GANs of ``kind`` side by side: :func:`train_kinds` with one kind."""
    return train_kinds((kind,), x, y, n_classes, p, members=(members,), generator=generator)[kind]


def train_kinds(kinds: Sequence[str], x: torch.Tensor, y: torch.Tensor, n_classes: int, p: Preset, *,
                members: Sequence[int], generator: torch.Generator | None = None) -> dict[str, Run]:
    """Train ``members[i]`` conditional GANs of ``kinds[i]`` for every i, all side by side, on flattened data
    ``x`` (N, x_dim) in [−1, 1] with labels ``y`` (N,): Adam, one D and one G step per iteration, labels of
    the generated batch drawn uniformly. One batched generator holds every member (each kind's members a
    block of it); each kind has its own discriminator. Nothing couples the members: the summed loss gives
    each its own gradient. ``generator`` (on x's device) draws the batches, z and labels; the weights come
    from the global torch stream. Raises TrainingDiverged on a non-finite loss (checked once, at the end)."""
    V.tensor(x, "x", ndim=2)
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},), got {tuple(y.shape)}")
    kinds, members = list(kinds), [V.positive_int(m, "members[i]") for m in members]
    if len(kinds) != len(members) or len(set(kinds)) != len(kinds) or not kinds:
        raise ValueError(f"kinds must be distinct, with one count in members each; got {kinds} and {members}")
    dev, M = x.device, sum(members)
    G = Generator(p.z_dim, n_classes, x.shape[1], p.hidden, members=M).to(dev)
    Ds = [discriminator(k, x.shape[1], n_classes, p.hidden, members=m).to(dev) for k, m in zip(kinds, members)]
    G_avg = copy.deepcopy(G).requires_grad_(False)
    opt_g, opt_d = adam(G.parameters(), p), adam([w for D in Ds for w in D.parameters()], p)
    ends = torch.tensor(members).cumsum(0).tolist()
    blocks = list(zip(kinds, Ds, [0] + ends[:-1], ends))                  # (kind, D, first member, last + 1)
    hist = torch.empty(p.steps, 2, len(kinds), device=dev)
    counts = torch.tensor(members, dtype=hist.dtype, device=dev)          # each member: its own mean loss
    for t in range(p.steps):
        real, real_y = _batch(x, y, M, p.batch, generator)
        z = torch.randn(M, p.batch, p.z_dim, device=dev, generator=generator)
        fake_y = torch.randint(0, n_classes, (M, p.batch), device=dev, generator=generator)
        fake = G(z, _one_hot(fake_y, n_classes))
        d_losses = torch.stack([_d_loss(k, D, real[a:b], real_y[a:b], fake[a:b].detach(), fake_y[a:b], p)
                                for k, D, a, b in blocks])
        opt_d.zero_grad(set_to_none=True)
        (d_losses @ counts).backward()
        opt_d.step()
        for D in Ds:
            D.requires_grad_(False)                      # G's step: no gradient for D's weights (unused)
        g_losses = torch.stack([_g_loss(k, D, fake[a:b], fake_y[a:b], p) for k, D, a, b in blocks])
        opt_g.zero_grad(set_to_none=True)
        (g_losses @ counts).backward()
        opt_g.step()
        for D in Ds:
            D.requires_grad_(True)
        average(G_avg, G, p.ema)
        hist[t] = torch.stack([d_losses.detach(), g_losses.detach()])
    if not bool(torch.isfinite(hist).all()):
        raise TrainingDiverged(f"{kinds}: a loss became NaN or infinite during training")
    return {k: Run(k, _member_slice(G_avg, a, b), _member_slice(G, a, b), D, hist[:, 0, i], hist[:, 1, i])
            for i, (k, D, a, b) in enumerate(blocks)}


@torch.no_grad()
def sample(G: Generator, labels: torch.Tensor, n_classes: int, *, generator: torch.Generator | None = None,
           z: torch.Tensor | None = None) -> torch.Tensor:
    """Samples (members, n, x_dim) of every member for the requested ``labels`` (n,), one z per row
    (shared by the members, so that they are compared on the same noise), or the given ``z``
    (members, n, z_dim)."""
    dev = next(G.parameters()).device
    if z is None:
        z = torch.randn(labels.shape[0], G.z_dim, device=dev, generator=generator).expand(G.members, -1, -1)
    c = one_hot(labels, n_classes).expand(G.members, -1, -1)
    return G(z, c)


# --- the exact toy of AC-GAN's bias ------------------------------------------------------------------

@dataclass
class ToyResult:
    """The optimum of eq. (ch9-acgan-generator) on a grid: q (K, M) class-conditional probabilities
    on the grid points ``x`` (M,), and the target p (K, M)."""

    x: torch.Tensor
    p: torch.Tensor
    q: torch.Tensor


def toy_gaussians(means: Sequence[float] = (-1.0, 1.0), std: float = 1.0, lo: float = -6.0, hi: float = 6.0,
                  points: int = 301) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid x (M,) and class-conditional probabilities p(x_m | c) (K, M), each row summing to 1: the
    normal densities N(μ_c, σ²) at the grid points, normalised on the grid (float64)."""
    V.positive_float(std, "std")
    V.positive_int(points, "points", minimum=3)
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    mu = torch.as_tensor(list(means), dtype=torch.float64)[:, None]
    logp = -0.5 * ((x - mu) / std) ** 2
    return x, torch.softmax(logp, dim=1)


def jsd(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence (nats) between distributions on the last axis (entries ≥ 0, sum 1)."""
    m = (p + q) / 2
    kl = lambda a, b: torch.where(a > 0, a * (a.clamp_min(1e-300).log() - b.clamp_min(1e-300).log()), 0).sum(-1)  # noqa: E731
    return (kl(p, m) + kl(q, m)) / 2


def acgan_toy_objective(q: torch.Tensor, p: torch.Tensor, class_weight: float,
                        prior: torch.Tensor | None = None, classifier: str = "pooled") -> torch.Tensor:
    """The loss AC-GAN's generator descends against optimal discriminators, eq. (ch9-acgan-generator):
    JSD(p_X, q_X) + λ Σ_c π_c E_{q(x|c)}[−log D*(c | x)], where D*(c | x) = (p(c, x) + q(c, x)) / (p_X + q_X)
    is the classifier of the pooled real and generated data, HELD FIXED (detached) while G moves — G
    follows the gradient of its loss against the current D, it does not differentiate through D's
    optimum. Rows of ``q`` and ``p`` (K, M) are class-conditional distributions on one grid; ``prior``
    π (K,), uniform by default. ``classifier="real"`` uses the real data's posterior p(c | x) instead (a class
    head trained on real images only)."""
    if classifier not in ("pooled", "real"):
        raise ValueError(f"classifier must be 'pooled' or 'real', got {classifier!r}")
    if q.shape != p.shape or q.dim() != 2:
        raise ValueError(f"q and p must have one shape (K, M), got {tuple(q.shape)} and {tuple(p.shape)}")
    V.positive_float(class_weight, "class_weight", allow_zero=True)
    K = p.shape[0]
    prior = torch.full((K,), 1.0 / K, dtype=p.dtype) if prior is None else prior
    pj, qj = prior[:, None] * p, prior[:, None] * q                     # joints p(c, x), q(c, x)
    with torch.no_grad():
        both = pj + qj if classifier == "pooled" else pj
        post = both / both.sum(0).clamp_min(1e-300)                    # D*(c | x) on real ∪ fake (or real)
    ce = -(qj * post.clamp_min(1e-300).log()).sum()
    return jsd(pj.sum(0), qj.sum(0)) + class_weight * ce


def toy_gradient_at_data(class_weight: float, means: Sequence[float] = (-1.0, 1.0), std: float = 1.0,
                         points: int = 301) -> torch.Tensor:
    """The gradient of eq. (ch9-acgan-generator) with respect to q at q = p (K, M): zero (up to rounding)
    when the data are a stationary point of AC-GAN's generator, as for λ = 0."""
    _, p = toy_gaussians(means, std, points=points)
    q = p.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(acgan_toy_objective(q, p, class_weight), q)
    return grad


def acgan_toy(class_weight: float, means: Sequence[float] = (-1.0, 1.0), std: float = 1.0, *,
              steps: int = 200, lr: float = 0.1, points: int = 301, classifier: str = "pooled") -> ToyResult:
    """Minimise eq. (ch9-acgan-generator) over ALL class-conditional distributions q(·|c) on the grid (a
    softmax of free logits, started at p), by Adam in float64: λ > 0 shows AC-GAN's bias. 200 steps reach the
    optimum's moments to 1e-3 (400 or 800 steps change the standard deviations by < 0.005). (With λ = 0 the
    loss depends on the marginal q_X only, the conditionals are not determined, and Adam drifts along the flat
    directions: use :func:`toy_gradient_at_data` to see that q = p is then stationary.)"""
    V.positive_float(class_weight, "class_weight", allow_zero=True)
    x, p = toy_gaussians(means, std, points=points)
    logits = p.log().clone().requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=lr)
    for _ in range(steps):
        loss = acgan_toy_objective(torch.softmax(logits, 1), p, class_weight, classifier=classifier)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return ToyResult(x, p, torch.softmax(logits.detach(), 1))


def moments(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each row of probabilities ``w`` (K, M) on the grid ``x`` (M,)."""
    mean = (w * x).sum(-1)
    return mean, ((w * (x - mean[:, None]) ** 2).sum(-1)).sqrt()
