"""Joint generation with a known correspondence: CoGAN and SD-GAN on digits (chapter 12).

* **CoGAN** {liu2016cogan}: two GANs, one per domain, trained on *unpaired* samples of each domain. The
  generators share their first layers (which decode the high-level content of z), the discriminators
  their last layers; eq. (ch12-cogan). Domain A: the 8×8 digits; domain B: their negatives,
  :func:`negative` — a known one-to-one map, so that a generated pair (G_A(z), G_B(z)) can be checked:
  :func:`correspondence_rate` is the fraction of pairs whose digit, read by the shipped digits classifier
  on G_A(z) and on negative⁻¹(G_B(z)) = −G_B(z), agrees. :func:`train_cogan` trains weight-shared pairs
  and the no-sharing control (``shared=False``) with the same code.
* **SD-GAN** {donahue2018sdgan}: the latent code split into an identity part z_I and an observation part
  z_O; pairs G(z_I, z_O¹), G(z_I, z_O²) are shown to a Siamese discriminator next to real pairs of one
  identity (here: two different images of the same digit class), eq. (ch12-sdgan).
  :func:`train_sdgan` with ``pairs=False`` is the control: the same generator trained by a discriminator
  that sees single images.

Every network is a :class:`ganbook.nets.BatchedMLP`, E members (seeds) side by side.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from .errors import check_finite
from .nets import BatchedMLP
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss


@dataclass(frozen=True)
class Preset:
    """Sizes of the joint-generation runs (MLPs on 64-pixel digits; the ``gpu`` preset only trains longer
    and wider)."""

    name: str
    z_dim: int
    hidden: int
    batch: int
    steps: int
    lr: float
    seeds: int
    n_eval: int


PRESETS = {
    "cpu": Preset("cpu", 16, 64, 64, 600, 1e-3, 5, 1000),
    "gpu": Preset("gpu", 32, 512, 128, 10_000, 2e-4, 5, 10_000),
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def negative(images: torch.Tensor) -> torch.Tensor:
    """The known map between CoGAN's domains: x ↦ −x in [−1, 1] (white ink on black ↔ black on white).
    It is its own inverse."""
    V.tensor(images, "images")
    return -images


# ------------------------------------------------------------------------------------------- CoGAN

def _sharing(shared: object, members: int) -> torch.Tensor:
    """(E,) booleans from one boolean or a list of E."""
    if isinstance(shared, bool):
        return torch.full((members,), shared)
    out = torch.as_tensor(shared)
    if out.dtype != torch.bool or out.shape != (members,):
        raise ValueError(f"shared must be a bool or {members} booleans (one per member), got {shared!r}")
    return out


class CoupledGenerators(nn.Module):
    """G_A, G_B: z (E, n, z_dim) → two images (E, n, P) each (P = 64 pixels), eq. (ch12-cogan).

    The *trunk* (two layers, ReLU) decodes z into k feature channels per pixel, (E, n, P, k): the layout,
    the high-level content. Each domain's *head* is per-pixel — one affine map k → 1 shared by all
    pixels, then ``tanh`` — the low-level rendering (ink colour, contrast). ``shared=True``: one trunk
    for both domains (CoGAN); ``False``: one trunk each (two independent GANs fed the same z); a list of E
    booleans: member by member (so CoGAN and its control train side by side; an unshared member's
    second trunk is simply unused when it shares). The head's locality is CoGAN's design made explicit:
    in the paper the unshared last layer is a small transposed convolution, which can render but not
    rearrange."""

    def __init__(self, z_dim: int, hidden: int, out_dim: int = 64, channels: int = 4, *, members: int,
                 shared: bool = True):
        super().__init__()
        self.members = V.positive_int(members, "members")
        self.register_buffer("shared", _sharing(shared, members))
        self.out_dim, self.channels = V.positive_int(out_dim, "out_dim"), V.positive_int(channels, "channels")
        self.trunks = nn.ModuleList([BatchedMLP(z_dim, out_dim * channels, (hidden,), members=members)
                                     for _ in range(2)])
        self.heads = nn.ModuleList([BatchedMLP(channels, 1, (), members=members) for _ in range(2)])

    def _render(self, h: torch.Tensor, head: BatchedMLP) -> torch.Tensor:
        E, n = h.shape[:2]
        pix = F.relu(h).reshape(E, n * self.out_dim, self.channels)        # every pixel a row
        return torch.tanh(head(pix)).view(E, n, self.out_dim)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_a = self.trunks[0](z)
        h_b = torch.where(self.shared[:, None, None], h_a, self.trunks[1](z))
        return self._render(h_a, self.heads[0]), self._render(h_b, self.heads[1])


class CoupledDiscriminators(nn.Module):
    """D_A, D_B: images (E, n, P) → logits (E, n). Each domain's *first* layer (P → h, LeakyReLU(0.2)) reads
    the low-level rendering; the *tail* (one hidden layer and the logit) reads the h features;
    ``shared=True``: one tail for both domains (CoGAN); ``False`` or a list of E booleans as in
    :class:`CoupledGenerators`."""

    def __init__(self, hidden: int, in_dim: int = 64, *, members: int, shared: bool | list[bool] = True):
        super().__init__()
        self.register_buffer("shared", _sharing(shared, members))
        self.firsts = nn.ModuleList([BatchedMLP(in_dim, hidden, (), members=members) for _ in range(2)])
        self.tails = nn.ModuleList([BatchedMLP(hidden, 1, (hidden,), members=members, squeeze=True,
                                               activation="leaky_relu") for _ in range(2)])

    def forward(self, x: torch.Tensor, domain: int) -> torch.Tensor:
        if domain not in (0, 1):
            raise ValueError(f"domain must be 0 (A) or 1 (B), got {domain!r}")
        h = F.leaky_relu(self.firsts[domain](x), 0.2)
        if domain == 0:
            return self.tails[0](h)
        return torch.where(self.shared[:, None], self.tails[0](h), self.tails[1](h))


def _pools(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split digits (N, 1, 8, 8) into two disjoint halves (even and odd rows), flattened: domain A's pool
    and the pool whose negatives are domain B's — no image appears in both, so there are no pairs."""
    flat = images.flatten(1)
    return flat[0::2], negative(flat[1::2])


def train_cogan(images: torch.Tensor, *, p: Preset, members: int, shared: bool | list[bool] = True,
                seed: int = 0) -> CoupledGenerators:
    """Train ``members`` coupled GANs side by side on *unpaired* domains: A = half of ``images``
    (N, 1, 8, 8) in [−1, 1], B = the negatives of the other half. Each step: both discriminators, then
    both generators from one z (non-saturating), eq. (ch12-cogan). Returns the generators."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    V.tensor(images, "images", ndim=4)
    E = V.positive_int(members, "members")
    dev = images.device
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    a_pool, b_pool = _pools(images)
    G = CoupledGenerators(p.z_dim, p.hidden, a_pool.shape[1], members=E, shared=shared).to(dev)
    D = CoupledDiscriminators(p.hidden, a_pool.shape[1], members=E, shared=shared).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), p.lr, betas=(0.5, 0.999))
    for _ in range(p.steps):
        a = a_pool[torch.randint(0, a_pool.shape[0], (E, p.batch), generator=g, device=dev)]
        b = b_pool[torch.randint(0, b_pool.shape[0], (E, p.batch), generator=g, device=dev)]
        fa, fb = G(torch.randn(E, p.batch, p.z_dim, generator=g, device=dev))
        d = minimax_d_loss(D(a, 0), D(fa.detach(), 0)) + minimax_d_loss(D(b, 1), D(fb.detach(), 1))
        opt_d.zero_grad(set_to_none=True)
        (E * d).backward()
        opt_d.step()
        loss = nonsaturating_g_loss(D(fa, 0)) + nonsaturating_g_loss(D(fb, 1))
        opt_g.zero_grad(set_to_none=True)
        (E * loss).backward()
        opt_g.step()
    check_finite(loss, "the CoGAN loss")
    return G


@torch.no_grad()
def correspondence_rate(a: torch.Tensor, b: torch.Tensor, classify, inverse=negative,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The fraction of generated pairs that correspond under the known map, eq. (ch12-correspondence), per
    member: a[e, i] and ``inverse``(b[e, i]) are given the same class by ``classify`` ((m, 1, s, s) → (m,)
    labels). Returns (rate, chance): ``chance`` is the same fraction for the pairs (a[e, i], b[e, π(i)])
    with π a random permutation — the agreement that two *independent* generators with these class
    frequencies reach (a collapsed pair that always draws the same digit has rate = chance = 1).
    a, b: (E, n, s·s) → two (E,) tensors."""
    V.tensor(a, "a", ndim=3)
    V.tensor(b, "b", ndim=3)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    E, n, d = a.shape
    side = int(round(d ** 0.5))
    ya = classify(a.reshape(E * n, 1, side, side)).view(E, n)
    yb = classify(inverse(b).reshape(E * n, 1, side, side)).view(E, n)
    perm = torch.randperm(n, generator=generator, device=generator.device if generator is not None else "cpu")
    return (ya == yb).double().mean(1), (ya == yb[:, perm.to(yb.device)]).double().mean(1)


# ------------------------------------------------------------------------------------------ SD-GAN

class SiameseDiscriminator(nn.Module):
    """SD-GAN's discriminator on pairs, eq. (ch12-sdgan): one embedding network f (two layers, LeakyReLU,
    the same weights for both images) and a head on the concatenation [f(x₁), f(x₂)] → logit.
    x1, x2 (E, n, 64) → (E, n). With ``pairs=False`` it is an ordinary discriminator on x1 alone."""

    def __init__(self, hidden: int, in_dim: int = 64, *, members: int, pairs: bool = True):
        super().__init__()
        self.pairs = bool(pairs)
        self.embed = BatchedMLP(in_dim, hidden, (hidden,), members=members)
        self.head = BatchedMLP(hidden * (2 if pairs else 1), 1, (), members=members, squeeze=True)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        h = F.leaky_relu(self.embed(x1), 0.2)
        if self.pairs:
            if x2 is None:
                raise ValueError("x2 must be given: this discriminator judges pairs")
            h = torch.cat([h, F.leaky_relu(self.embed(x2), 0.2)], -1)
        return self.head(h)


def same_class_pairs(labels: torch.Tensor, shape: tuple[int, int], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (i, j) of shape ``shape`` of two *different* images of the same class, uniformly among
    classes' members: SD-GAN's real pairs (same identity, two observations)."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.dtype != torch.long:
        raise TypeError("labels must be a 1-D tensor of integer class labels (torch.long)")
    dev = labels.device
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels)
    starts = torch.cumsum(counts, 0) - counts
    i = torch.randint(0, labels.shape[0], shape, generator=generator, device=dev)
    c = labels[i]
    # a uniformly drawn other member of the same class: offset 1 … count−1 in the class's block
    off = (torch.rand(shape, generator=generator, device=dev) * (counts[c] - 1)).long() + 1
    rank = torch.empty_like(order)
    rank[order] = torch.arange(labels.shape[0], device=dev)
    j_rank = starts[c] + (rank[i] - starts[c] + off) % counts[c]
    return i, order[j_rank]


def train_sdgan(images: torch.Tensor, labels: torch.Tensor, *, p: Preset, members: int, identity_dim: int,
                pairs: bool = True, seed: int = 0) -> BatchedMLP:
    """Train ``members`` SD-GAN generators G(z_I, z_O) side by side (z = [z_I, z_O], identity_dim + the
    rest of p.z_dim): each step draws one z_I and two z_O per pair and shows the pair to the Siamese
    discriminator next to real same-class pairs, eq. (ch12-sdgan). ``pairs=False``: the control, a
    discriminator on single images (real and generated images one at a time). Returns G (an MLP:
    (E, n, z_dim) → (E, n, 64), linear output; apply ``tanh``)."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    V.tensor(images, "images", ndim=4)
    k = V.positive_int(identity_dim, "identity_dim")
    if k >= p.z_dim:
        raise ValueError(f"identity_dim must be below z_dim={p.z_dim}, got {k}")
    E = V.positive_int(members, "members")
    dev = images.device
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    flat = images.flatten(1)
    G = BatchedMLP(p.z_dim, flat.shape[1], (p.hidden, p.hidden), members=E).to(dev)
    D = SiameseDiscriminator(p.hidden, flat.shape[1], members=E, pairs=pairs).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), p.lr, betas=(0.5, 0.999))
    for _ in range(p.steps):
        i, j = same_class_pairs(labels, (E, p.batch), g)
        x1, x2 = flat[i], flat[j]
        zi = torch.randn(E, p.batch, k, generator=g, device=dev)
        zo = torch.randn(2, E, p.batch, p.z_dim - k, generator=g, device=dev)
        f1 = torch.tanh(G(torch.cat([zi, zo[0]], -1)))
        f2 = torch.tanh(G(torch.cat([zi, zo[1]], -1)))
        if pairs:
            d = minimax_d_loss(D(x1, x2), D(f1.detach(), f2.detach()))
        else:        # the control: single images, real and generated
            d = minimax_d_loss(D(torch.cat([x1, x2], 1)), D(torch.cat([f1, f2], 1).detach()))
        opt_d.zero_grad(set_to_none=True)
        (E * d).backward()
        opt_d.step()
        loss = nonsaturating_g_loss(D(f1, f2) if pairs else D(torch.cat([f1, f2], 1)))
        opt_g.zero_grad(set_to_none=True)
        (E * loss).backward()
        opt_g.step()
    check_finite(loss, "the SD-GAN loss")
    return G


@torch.no_grad()
def identity_agreement(G: BatchedMLP, *, n: int, identity_dim: int, classify, generator: torch.Generator,
                       same_identity: bool = True) -> torch.Tensor:
    """Per member, the fraction of generated pairs G(z_I, z_O¹), G(z_I', z_O²) that ``classify`` puts in
    the same class, with z_I' = z_I (``same_identity``) or an independent draw. (E,)."""
    E, z_dim = G.members, G.in_dim
    k = V.positive_int(identity_dim, "identity_dim")
    dev = next(G.parameters()).device                       # codes drawn on the generator's device, moved to G's
    zi = torch.randn(2, E, n, k, generator=generator, device=generator.device).to(dev)
    zo = torch.randn(2, E, n, z_dim - k, generator=generator, device=generator.device).to(dev)
    other = zi[0] if same_identity else zi[1]
    x1 = torch.tanh(G(torch.cat([zi[0], zo[0]], -1))).reshape(E * n, 1, 8, 8)
    x2 = torch.tanh(G(torch.cat([other, zo[1]], -1))).reshape(E * n, 1, 8, 8)
    return (classify(x1) == classify(x2)).view(E, n).double().mean(1)


__all__ = ["Preset", "PRESETS", "preset", "negative", "CoupledGenerators", "CoupledDiscriminators", "train_cogan",
           "correspondence_rate", "SiameseDiscriminator", "same_class_pairs", "train_sdgan", "identity_agreement"]
