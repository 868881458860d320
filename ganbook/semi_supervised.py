"""Chapter 14 (first half): semi-supervised learning with GANs.

The discriminator is a K-class classifier with an extra "generated" class (Salimans et al.'s Improved
GAN): K logits l_1..l_K, the logit of the fake class fixed to 0 (the logit trick, eq. ch14-logit-trick),
so that D(x) = Z/(Z + 1) with Z = Σ_k exp l_k, i.e. logit D(x) = logsumexp_k l_k. Losses: the supervised
cross-entropy on labelled images (ch14-sup), the unsupervised GAN loss on unlabelled and generated images
(ch14-unsup), feature matching for the generator (ch14-fm); CatGAN's entropy objectives (ch14-catgan-d,
ch14-catgan-g) and Triple-GAN's discriminator loss and optimal discriminator (ch14-triple, ch14-triple-dstar).
The networks of Salimans et al.'s setup, seeds side by side: ``NoisyClassifier`` (weight normalisation,
Gaussian noise on the input and every hidden layer) and ``BatchNormGenerator`` (batch norm, softplus, tanh).

Shapes: logits ``(..., n, K)`` (leading axes are networks trained side by side, e.g. seeds of a
``nets.BatchedMLP``), labels ``(..., n)``, features ``(..., n, h)``. Every loss is a mean over samples
*and* over the leading axes (the package's convention for batched losses): multiply by the number of
networks side by side to give each its own unit-scale gradient.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V


@dataclass(frozen=True)
class Preset:
    """Sizes of chapter 14's experiments: ``seeds`` side by side and ``steps`` of the few-label digits run
    (``width`` hidden units, ``batch`` unlabelled and ``batch`` generated images per step, ``batch // 2``
    labelled ones); ``moons_seeds``, ``da_seeds`` and ``da_steps`` of the domain-adaptation runs;
    ``shallow_seeds`` and ``shallow_steps`` of the DANN paper's shallow network on the moons."""

    seeds: int
    steps: int
    width: int
    batch: int
    moons_seeds: int
    da_seeds: int
    da_steps: int
    shallow_seeds: int = 16
    shallow_steps: int = 1500


PRESETS = {
    "cpu": Preset(seeds=5, steps=1200, width=64, batch=48, moons_seeds=12, da_seeds=5, da_steps=400),
    "gpu": Preset(seeds=10, steps=6000, width=256, batch=100, moons_seeds=16, da_seeds=10, da_steps=3000,
                  shallow_seeds=64, shallow_steps=3000),
}


def preset(name: str) -> Preset:
    """Chapter 14's ``PRESET``: ``"cpu"`` (the book's default, inside its time budget) or ``"gpu"``."""
    if name not in PRESETS:
        raise ValueError(f"PRESET must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def _logits(x: object, name: str) -> torch.Tensor:
    V.tensor(x, name, finite=False)
    if x.dim() < 2 or x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ValueError(f"{name} must have shape (..., n, K) with n, K ≥ 1, got {tuple(x.shape)}")
    return x


def d_logit(logits: torch.Tensor) -> torch.Tensor:
    """The real/fake logit of a K+1-class discriminator whose fake-class logit is fixed to 0,
    eq. (ch14-logit-trick): log Z with Z = Σ_k exp l_k, so that D(x) = σ(log Z) = Z/(Z + 1).
    ``logits`` (..., n, K) → (..., n)."""
    return torch.logsumexp(_logits(logits, "logits"), dim=-1)


def real_probability(logits: torch.Tensor) -> torch.Tensor:
    """D(x) = Z/(Z + 1) = 1 − p(y = K+1 | x), eq. (ch14-logit-trick); (..., n, K) → (..., n)."""
    return torch.sigmoid(d_logit(logits))


def class_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The supervised term, eq. (ch14-sup): −E log p(y | x, y ≤ K), the softmax over the K real classes
    only (the fake logit drops out of the conditional). ``logits`` (..., n, K), ``labels`` (..., n) in
    0..K−1; mean over all samples."""
    _logits(logits, "logits")
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32):
        raise TypeError("labels must be an integer torch.Tensor of class indices")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels must have shape {tuple(logits.shape[:-1])} (logits without the class axis), "
                         f"got {tuple(labels.shape)}")
    K = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, K), labels.reshape(-1).long())


def k_plus_one_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The unsupervised term, eq. (ch14-unsup): −E_x log D(x) − E_z log(1 − D(G(z))) with
    D = Z/(Z + 1), from the K class logits of unlabelled real images (``real``, (..., n, K)) and of
    generated images (``fake``, (..., m, K)). In logits: softplus(−log Z_real) + softplus(log Z_fake)."""
    return F.softplus(-d_logit(_logits(real, "real"))).mean() + F.softplus(d_logit(_logits(fake, "fake"))).mean()


def feature_matching_g_loss(fake: torch.Tensor, *, real: torch.Tensor) -> torch.Tensor:
    """Feature matching, eq. (ch14-fm): ‖E f(x) − E f(G(z))‖², f the discriminator's last hidden layer;
    ``fake`` (..., m, h) and ``real`` (..., n, h) features, mean over the sample axis, squared distance
    summed over features, mean over leading axes. The real features are detached (the generator's loss)."""
    _logits(fake, "fake")
    _logits(real, "real")
    if fake.shape[:-2] != real.shape[:-2] or fake.shape[-1] != real.shape[-1]:
        raise ValueError(f"fake and real features must agree except in the sample axis, got "
                         f"{tuple(fake.shape)} and {tuple(real.shape)}")
    diff = real.detach().mean(-2) - fake.mean(-2)
    return (diff ** 2).sum(-1).mean()


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of probability vectors along the last axis, with 0 log 0 = 0."""
    V.tensor(p, "p", finite=False)
    return -(torch.xlogy(p, p)).sum(-1)


def catgan_terms(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(H[p(y|D)], E H[p(y|x,D)]) of a batch: the entropy of the batch's marginal class distribution
    and the mean conditional entropy, eq. (ch14-catgan-d); (..., n, K) → two tensors (...)."""
    p = torch.softmax(_logits(logits, "logits"), dim=-1)
    return entropy(p.mean(-2)), entropy(p).mean(-1)


def catgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """CatGAN's discriminator loss, eq. (ch14-catgan-d), to minimise:
    −H[p(y|D)] + E_x H[p(y|x,D)] − E_z H[p(y|G(z),D)] — confident on real data, with all classes used,
    uncertain on generated data. ``real``, ``fake``: class logits (..., n, K); mean over leading axes."""
    h_marg, h_cond = catgan_terms(real)
    _, h_fake = catgan_terms(fake)
    return (-h_marg + h_cond - h_fake).mean()


def catgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """CatGAN's generator loss, eq. (ch14-catgan-g), to minimise: −H_G[p(y|D)] + E_z H[p(y|G(z),D)],
    i.e. −I(x; y) over generated data: confidently classified samples spread over all classes."""
    h_marg, h_cond = catgan_terms(fake)
    return (-h_marg + h_cond).mean()


def triple_gan_d_loss(real: torch.Tensor, fake: torch.Tensor, *, fake_c: torch.Tensor,
                      alpha: float = 0.5) -> torch.Tensor:
    """Triple-GAN's discriminator loss, eq. (ch14-triple), to minimise (the negative of its value):
    −E_{p(x,y)} log D(x,y) − (1−α) E_{p_g} log(1 − D(x,y)) − α E_{p_c} log(1 − D(x,y)), from D's logits
    on labelled pairs (``real``), generated pairs (G(y,z), y) (``fake``) and pairs (x, C's label)
    (``fake_c``), all of shape (n,) or (..., n)."""
    for x, n in ((real, "real"), (fake, "fake"), (fake_c, "fake_c")):
        V.scores(x, n, batched=True)
    a = V.probability(alpha, "alpha")
    return F.softplus(-real).mean() + (1 - a) * F.softplus(fake).mean() + a * F.softplus(fake_c).mean()


def triple_gan_optimal_d(p: torch.Tensor, p_g: torch.Tensor, p_c: torch.Tensor, *, alpha: float = 0.5) -> torch.Tensor:
    """The optimal Triple-GAN discriminator for fixed C and G, eq. (ch14-triple-dstar):
    D*(x, y) = p(x, y) / (p(x, y) + p_α(x, y)), p_α = (1 − α) p_g + α p_c (densities on a common grid)."""
    for x, n in ((p, "p"), (p_g, "p_g"), (p_c, "p_c")):
        V.tensor(x, n)
    if not (p.shape == p_g.shape == p_c.shape):
        raise ValueError(f"p, p_g, p_c must have one shape, got {tuple(p.shape)}, {tuple(p_g.shape)}, {tuple(p_c.shape)}")
    a = V.probability(alpha, "alpha")
    return p / (p + (1 - a) * p_g + a * p_c)


def _layer_sizes(sizes: list[int], generators: list[torch.Generator], *, minimum: int, what: str) -> list[int]:
    """Validate a batched network's layer widths and its per-member generators; return the widths."""
    if len(sizes) < minimum:
        raise ValueError(f"sizes must name at least {what}, got {sizes}")
    if not generators or not all(isinstance(g, torch.Generator) for g in generators):
        raise TypeError("generators must be a non-empty list of torch.Generator")
    return [V.positive_int(n, f"sizes[{i}]") for i, n in enumerate(sizes)]


class NoisyClassifier(nn.Module):
    """Salimans et al.'s discriminator, ``members`` of them side by side: an MLP sizes[0] → … → sizes[-1]
    (leaky ReLU, slope 0.2) with weight normalisation, W = g · v/‖v‖ column by column (Salimans and
    Kingma), and Gaussian noise of standard deviation ``input_noise`` added to the input and
    ``hidden_noise`` to every hidden layer's output while training. Used unchanged as the labels-only
    classifier, as the K+1 discriminator and as CatGAN's, so that the three differ only in their losses.

    Member s starts from ``generators[s]`` (v standard normal / √fan_in, g = 1, biases 0).
    ``forward(x, noise=gen, members=slice)`` takes x of shape (members, n, sizes[0]) and returns the last
    hidden layer f(x) (before its noise: the features of eq. ch14-fm) and the logits, (members, n, ·);
    ``noise=None`` evaluates without noise; ``members`` selects a slice of the members."""

    def __init__(self, sizes: list[int], *, generators: list[torch.Generator], input_noise: float = 0.6,
                 hidden_noise: float = 0.5):
        super().__init__()
        sizes = _layer_sizes(sizes, generators, minimum=3, what="input, one hidden and output width")
        self.input_noise = V.positive_float(input_noise, "input_noise", allow_zero=True)
        self.hidden_noise = V.positive_float(hidden_noise, "hidden_noise", allow_zero=True)
        self.v, self.g, self.b = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for a, c in zip(sizes[:-1], sizes[1:]):
            self.v.append(nn.Parameter(torch.stack([torch.randn(a, c, generator=gen) for gen in generators]) / math.sqrt(a)))
            self.g.append(nn.Parameter(torch.ones(len(generators), 1, c)))
            self.b.append(nn.Parameter(torch.zeros(len(generators), 1, c)))

    def weight(self, i: int, members: slice = slice(None)) -> torch.Tensor:
        """Layer i's weight normalised column by column: g · v/‖v‖, shape (members, fan_in, fan_out)."""
        v = self.v[i][members]
        return v * (self.g[i][members] * (v * v).sum(1, keepdim=True).rsqrt())

    def forward(self, x: torch.Tensor, *, noise: torch.Generator | None,
                members: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
        def noisy(h: torch.Tensor, std: float) -> torch.Tensor:
            if noise is None or std == 0:
                return h
            return h + std * torch.randn(h.shape, generator=noise, device=h.device, dtype=h.dtype)

        h = noisy(x, self.input_noise)
        last = len(self.v) - 1
        for i in range(last):
            feat = F.leaky_relu(torch.baddbmm(self.b[i][members], h, self.weight(i, members)), 0.2)
            h = noisy(feat, self.hidden_noise)
        return feat, torch.baddbmm(self.b[last][members], h, self.weight(last, members))


class BatchNormGenerator(nn.Module):
    """Improved GAN's generator, ``members`` side by side: z → (linear, batch norm, softplus) per hidden
    layer → linear → tanh (images in [−1, 1]). Batch norm normalises each unit over the batch axis of
    its own member (no learned scale/shift: the next linear layer absorbs them). Linear layers start like
    ``nn.Linear`` from ``generators[s]``. (members, n, sizes[0]) → (members, n, sizes[-1])."""

    def __init__(self, sizes: list[int], *, generators: list[torch.Generator]):
        super().__init__()
        sizes = _layer_sizes(sizes, generators, minimum=2, what="two entries")
        self.w, self.b = nn.ParameterList(), nn.ParameterList()
        for a, c in zip(sizes[:-1], sizes[1:]):
            bound = 1 / math.sqrt(a)
            self.w.append(nn.Parameter(torch.stack([(torch.rand(a, c, generator=gen) * 2 - 1) * bound
                                                    for gen in generators])))
            self.b.append(nn.Parameter(torch.zeros(len(generators), 1, c)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for i in range(len(self.w)):
            h = torch.baddbmm(self.b[i], h, self.w[i])
            if i < len(self.w) - 1:
                h = h - h.mean(1, keepdim=True)
                h = F.softplus(h * ((h * h).mean(1, keepdim=True) + 1e-5).rsqrt())
        return torch.tanh(h)


def few_labels(labels: torch.Tensor, per_class: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices of ``per_class`` examples of each class drawn without replacement, class-major: the
    labelled subset of a semi-supervised experiment. ``labels`` (n,) integer."""
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32) or labels.dim() != 1:
        raise TypeError("labels must be a 1-D integer torch.Tensor")
    V.positive_int(per_class, "per_class")
    out = []
    for k in torch.unique(labels.cpu()).tolist():
        idx = torch.nonzero(labels.cpu() == k).squeeze(1)
        if idx.numel() < per_class:
            raise ValueError(f"class {k} has {idx.numel()} examples, fewer than per_class={per_class}")
        out.append(idx[torch.randperm(idx.numel(), generator=generator)[:per_class]])
    return torch.cat(out).to(labels.device)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of correct arg-max predictions over the sample axis: (..., n, K), (n,) or (..., n) → (...)."""
    _logits(logits, "logits")
    return (logits.argmax(-1) == labels).float().mean(-1)


def chance_log_k(K: int) -> float:
    """log K, the largest entropy of K classes (the bound of CatGAN's marginal-entropy term)."""
    return math.log(V.positive_int(K, "K"))


__all__ = ["PRESETS", "BatchNormGenerator", "NoisyClassifier", "Preset", "accuracy", "catgan_d_loss", "catgan_g_loss", "catgan_terms", "chance_log_k", "class_cross_entropy",
           "d_logit", "entropy", "feature_matching_g_loss", "few_labels", "k_plus_one_d_loss", "preset", "real_probability",
           "triple_gan_d_loss", "triple_gan_optimal_d"]
