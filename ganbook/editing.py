"""Editing generated and real images through the latent space, and coarse-to-fine generation (chapter 12).

All on :func:`ganbook.data.shapes`, whose factors are known and readable: the shapes classifier's regressor
(:meth:`ganbook.metrics.ShapesCNN.factors`) reads position and scale, and the object's hue is read from
the pixels (:func:`ganbook.conditional_conv.foreground_hue`, chapter 9), so every edit is *measured*:
did the target factor change, and did the others stay?

* :class:`CondGenerator` — a conditional MLP generator G(z, y) of 8×8 shapes with y the one-hot hue
  bin (4 colour classes), trained by :func:`train_cgan` (the conditional GAN of chapter 9,
  non-saturating); the coarse stage of the two-stage model below.
* :func:`attribute_direction` — latent arithmetic {radford2016dcgan}: the mean code of samples with a
  high attribute minus the mean code of samples with a low one, eq. (ch12-latent-arithmetic);
  :func:`edit_scores` measures an edit.
* :func:`train_icgan_encoders` — IcGAN {perarnau2016icgan}: an encoder E_z trained on generated pairs
  (G(z, y), z) and an encoder E_y trained on labelled real images; a real image x is edited as
  G(E_z(x), y'), eq. (ch12-icgan).
* :func:`train_stage2` — StackGAN's idea {zhang2017stackgan}: a second generator refines the first
  stage's 8×8 output into a 16×16 image (an :class:`ganbook.superres.SRGenerator` of factor 2, trained
  adversarially against real 16×16 images), eq. (ch12-stackgan).

Every network has E members (seeds) side by side.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from .conditional_conv import HUE_BINS, foreground_hue, hue_bin, rgb_to_hue
from .dcgan import Discriminator
from .errors import check_finite
from .nets import BatchedMLP
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss
from .superres import SRGenerator, downsample, upsample


@dataclass(frozen=True)
class Preset:
    """Sizes of the editing runs: stage 1 (8×8 MLP GAN) and stage 2 (8 → 16 refiner)."""

    name: str
    low: int              # stage-1 side
    z_dim: int
    hidden: int
    batch: int
    steps: int
    lr: float
    seeds: int
    encoder_steps: int
    stage2_width: int
    stage2_steps: int
    n_train: int
    n_eval: int


PRESETS = {
    "cpu": Preset("cpu", 8, 8, 128, 64, 400, 1e-3, 3, 200, 8, 100, 4000, 500),
    "gpu": Preset("gpu", 16, 32, 1024, 128, 20_000, 2e-4, 5, 5000, 64, 10_000, 20_000, 5000),
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


@dataclass
class EditData:
    """Training shapes for this chapter's editing runs: ``high`` (N, 3, 2s, 2s) images, ``low`` their
    2×2 block means (N, 3, s, s) — stage 1's images — and ``bins`` (N,) the hue bin of each colour."""

    high: torch.Tensor
    low: torch.Tensor
    bins: torch.Tensor


def edit_data(n: int, low: int = 8, *, generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> EditData:
    """``n`` shapes at side 2·``low`` with their downsampled versions and hue bins."""
    from .shapes import shapes

    b = shapes(V.positive_int(n, "n"), 2 * V.positive_int(low, "low"), generator=generator, device=device)
    return EditData(b.images, downsample(b.images, 2), hue_bin(rgb_to_hue(b.factors["color"])))


# ----------------------------------------------------------------------------------------- stage 1

class CondGenerator(nn.Module):
    """G(z, y): [z, onehot(y)] → an s×s colour image in [−1, 1] (``tanh``), an MLP of two hidden layers;
    E members. z (E, n, z_dim), y (E, n) long → (E, n, 3, s, s)."""

    def __init__(self, z_dim: int, hidden: int, side: int = 8, n_bins: int = HUE_BINS, *, members: int):
        super().__init__()
        self.z_dim, self.side, self.n_bins = V.positive_int(z_dim, "z_dim"), V.positive_int(side, "side"), n_bins
        self.members = V.positive_int(members, "members")
        self.net = BatchedMLP(z_dim + n_bins, 3 * side * side, (hidden, hidden), members=members)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        V.tensor(z, "z", ndim=3)
        if z.shape[0] != self.members or z.shape[-1] != self.z_dim or y.shape != z.shape[:2]:
            raise ValueError(f"z must be ({self.members}, n, {self.z_dim}) and y ({self.members}, n), got "
                             f"{tuple(z.shape)} and {tuple(y.shape)}")
        h = self.net(torch.cat([z, F.one_hot(y, self.n_bins).to(z.dtype)], -1))
        return torch.tanh(h).view(*z.shape[:2], 3, self.side, self.side)


def train_cgan(data: EditData, *, p: Preset, members: int, seed: int = 0) -> CondGenerator:
    """Train ``members`` conditional GANs side by side on (data.low, data.bins). D is an MLP on
    [x, onehot(y)] (LeakyReLU) with two outputs: the real/fake logit, trained with the cross-entropy
    (non-saturating G loss, chapters 2 and 9), and AC-GAN's auxiliary hue-bin logits (eq. (ch9-acgan-lc)),
    trained on real images; G adds their cross-entropy on its requested bin (at the CPU budget a
    concatenated code alone is ignored, as chapter 9 found). The requested codes of generated batches
    are those of random real images."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    E = V.positive_int(members, "members")
    dev = data.low.device
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    G = CondGenerator(p.z_dim, p.hidden, p.low, members=E).to(dev)
    D = BatchedMLP(3 * p.low * p.low + HUE_BINS, 1 + HUE_BINS, (p.hidden,), members=E,
                   activation="leaky_relu").to(dev)
    opt_g = torch.optim.Adam(G.parameters(), p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), p.lr, betas=(0.5, 0.999))
    flat = data.low.flatten(1)
    onehot = F.one_hot(data.bins, HUE_BINS).to(flat.dtype)
    ce = lambda logits, y: F.cross_entropy(logits.flatten(0, 1), y.flatten())     # noqa: E731
    for _ in range(p.steps):
        i, j = torch.randint(0, flat.shape[0], (2, E, p.batch), generator=g, device=dev)
        fake = G(torch.randn(E, p.batch, p.z_dim, generator=g, device=dev), data.bins[j]).flatten(2)
        real_out = D(torch.cat([flat[i], onehot[i]], -1))
        fake_out = D(torch.cat([fake.detach(), onehot[j]], -1))
        d = minimax_d_loss(real_out[..., 0], fake_out[..., 0]) + ce(real_out[..., 1:], data.bins[i])
        opt_d.zero_grad(set_to_none=True)
        (E * d).backward()
        opt_d.step()
        out = D(torch.cat([fake, onehot[j]], -1))
        loss = nonsaturating_g_loss(out[..., 0]) + ce(out[..., 1:], data.bins[j])
        opt_g.zero_grad(set_to_none=True)
        (E * loss).backward()
        opt_g.step()
    check_finite(loss, "the conditional GAN loss")
    return G


# -------------------------------------------------------------------------------------- measuring

@torch.no_grad()
def read_factors(images: torch.Tensor, net) -> dict[str, torch.Tensor]:
    """What an edit is measured with: the regressor's position ``x``, ``y`` and ``scale`` (the shapes
    classifier ``net`` on the images, upsampled to 16×16 by pixel repetition if smaller), and the hue
    ``bin`` of the object's pixels (−1 where no object is found). images (..., 3, s, s) → (...,) each."""
    V.tensor(images, "images")
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:])
    if x.shape[-1] < 16:
        x = upsample(x, 16 // x.shape[-1], "nearest")
    f = net.factors(x)
    hue, found = foreground_hue(images)
    out = {k: f[k].view(lead) for k in ("x", "y", "scale")}
    out["bin"] = torch.where(found, hue_bin(hue), torch.full_like(hue_bin(hue), -1))
    return out


def edit_scores(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], *, target: str,
                want: torch.Tensor | float, keep: dict[str, float]) -> torch.Tensor:
    """The fraction of successful edits along the last axis, eq. (ch12-edit-success): the target factor
    reached what was asked — for ``target="bin"`` the hue bin equals ``want``; for a continuous factor
    it moved by at least ``want`` (signed: a negative ``want`` asks for a decrease) — AND every factor
    named in ``keep`` stayed within its tolerance (|after − before| ≤ tol; for "bin", tol is ignored:
    the bin must not change). Factors from :func:`read_factors`, shape (..., n) → (...,)."""
    if target not in after:
        raise ValueError(f"target must be one of {sorted(after)}, got {target!r}")
    if target == "bin":
        ok = after["bin"] == want
    else:
        w = float(want)
        ok = (after[target] - before[target]) * (1 if w >= 0 else -1) >= abs(w)
    for name, tol in keep.items():
        if name == target or name not in after:
            raise ValueError(f"keep must name factors other than the target among {sorted(after)}, got {name!r}")
        ok = ok & ((after[name] == before[name]) if name == "bin" else ((after[name] - before[name]).abs() <= tol))
    return ok.double().mean(-1)


def attribute_direction(z: torch.Tensor, score: torch.Tensor, fraction: float = 0.25) -> torch.Tensor:
    """Latent arithmetic, eq. (ch12-latent-arithmetic): the mean code of the ``fraction`` of samples with
    the highest attribute ``score`` minus the mean code of the ``fraction`` with the lowest.
    z (E, n, d), score (E, n) → (E, d)."""
    V.tensor(z, "z", ndim=3)
    V.tensor(score, "score", ndim=2)
    if score.shape != z.shape[:2]:
        raise ValueError(f"score must have shape {tuple(z.shape[:2])}, got {tuple(score.shape)}")
    f = V.probability(fraction, "fraction", open_interval=True)
    k = max(1, int(f * z.shape[1]))
    order = score.argsort(1)
    take = lambda idx: z.gather(1, idx[..., None].expand(-1, -1, z.shape[-1])).mean(1)   # noqa: E731
    return take(order[:, -k:]) - take(order[:, :k])


# ------------------------------------------------------------------------------------------- IcGAN

def train_icgan_encoders(G: CondGenerator, data: EditData, *, p: Preset, seed: int = 0
                         ) -> tuple[BatchedMLP, BatchedMLP]:
    """IcGAN's two encoders {perarnau2016icgan}, eq. (ch12-icgan), E members each (one per member of G):
    E_z (image → z) minimises ‖E_z(G(z, y)) − z‖² on *generated* pairs (the only images whose z is
    known); E_y (image → hue-bin logits) minimises the cross-entropy on *labelled real* images. MLPs with
    one hidden layer. Returns (E_z, E_y)."""
    E, dev = G.members, data.low.device
    d = 3 * G.side * G.side
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    enc_z = BatchedMLP(d, G.z_dim, (p.hidden,), members=E).to(dev)
    enc_y = BatchedMLP(d, HUE_BINS, (p.hidden,), members=E).to(dev)
    opt = torch.optim.Adam([*enc_z.parameters(), *enc_y.parameters()], p.lr)
    flat = data.low.flatten(1)
    for _ in range(p.encoder_steps):
        z = torch.randn(E, p.batch, G.z_dim, generator=g, device=dev)
        y = torch.randint(0, HUE_BINS, (E, p.batch), generator=g, device=dev)
        with torch.no_grad():
            x = G(z, y).flatten(2)
        i = torch.randint(0, flat.shape[0], (E, p.batch), generator=g, device=dev)
        loss = ((enc_z(x) - z) ** 2).mean() + F.cross_entropy(enc_y(flat[i]).flatten(0, 1), data.bins[i].flatten())
        opt.zero_grad(set_to_none=True)
        (E * loss).backward()
        opt.step()
    check_finite(loss, "the encoders' loss")
    return enc_z, enc_y


@torch.no_grad()
def icgan_edit(G: CondGenerator, enc_z: BatchedMLP, images: torch.Tensor, y_new: torch.Tensor) -> torch.Tensor:
    """Edit real images (N, 3, s, s) into hue bins ``y_new`` (N,), every member: G(E_z(x), y'),
    eq. (ch12-icgan). → (E, N, 3, s, s)."""
    V.tensor(images, "images", ndim=4)
    E = G.members
    z = enc_z(images.flatten(1)[None].expand(E, -1, -1))
    return G(z, y_new[None].expand(E, -1))


# ---------------------------------------------------------------------------------------- StackGAN

def train_stage2(G1: CondGenerator, data: EditData, *, p: Preset, seed: int = 0) -> SRGenerator:
    """StackGAN's second stage {zhang2017stackgan}, eq. (ch12-stackgan): a refiner R (an
    :class:`~ganbook.superres.SRGenerator` of factor 2: the bicubic upsampling of its input plus learned
    detail) turns stage-1 samples G1(z, y) (s×s, held fixed) into 2s×2s images, trained with the
    non-saturating loss against real 2s×2s images (a DCGAN discriminator). E members, member e refining
    G1's member e. Returns R."""
    E, dev = G1.members, data.high.device
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    R = SRGenerator(2, p.stage2_width, 1, members=E).to(dev)
    D = Discriminator(2 * G1.side, 3, p.stage2_width, members=E).to(dev)
    opt_r = torch.optim.Adam(R.parameters(), p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), p.lr, betas=(0.5, 0.999))
    for _ in range(p.stage2_steps):
        i, j = torch.randint(0, data.high.shape[0], (2, E, p.batch // 2), generator=g, device=dev)
        with torch.no_grad():
            coarse = G1(torch.randn(E, p.batch // 2, G1.z_dim, generator=g, device=dev), data.bins[j])
        fine = R(coarse)
        d = minimax_d_loss(D(data.high[i]), D(fine.detach()))
        opt_d.zero_grad(set_to_none=True)
        (E * d).backward()
        opt_d.step()
        loss = nonsaturating_g_loss(D(fine))
        opt_r.zero_grad(set_to_none=True)
        (E * loss).backward()
        opt_r.step()
    check_finite(loss, "the stage-2 loss")
    return R


__all__ = ["Preset", "PRESETS", "preset", "EditData", "edit_data", "CondGenerator", "train_cgan", "read_factors",
           "edit_scores", "attribute_direction", "train_icgan_encoders", "icgan_edit", "train_stage2"]
