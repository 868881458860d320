"""Chapter 11b: SimGAN's refiner on a task with a known answer {shrivastava2017simgan}.

Synthetic images come with free labels but look wrong; a refiner R, trained adversarially against
unlabelled real images under a self-regularisation, eq. (ch11-simgan), makes them look real while keeping
their labels, and a classifier trained on refined images works better on real ones. Here the "real" domain
is the shapes data set seen through a known camera (:func:`camera`, a haze, eq. (ch11-haze)), so the
refiner is scored against the true answer as well as by the classifier protocol: :func:`simgan_task`
(the four draws), :class:`Refiner` (a local residual net), :func:`train_refiner` (with SimGAN's history
buffer; apply it with :func:`ganbook.translation.translate`), :class:`Classifier` / :func:`train_classifiers` (seeds side by side, paired across
training sets) and :func:`accuracy`. Tensors (E, n, C, S, S) hold E members (seeds) side by side.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from .dcgan import _from_channels, _to_channels
from .errors import check_finite
from .translation import PatchGAN, _check_images, adversarial_d_loss, self_regularised_g_loss

# ----------------------------------------------------------------------------------------- presets

@dataclass(frozen=True)
class Preset:
    """Sizes of chapter 11b's experiment: ``n`` synthetic and real training images (16×16), ``members``
    seeds side by side, the refiner's steps, batch, width, learning rate, self-regularisation weight and
    history size (eq. (ch11-simgan)), and the classifiers' steps, batch, width and learning rate."""

    name: str
    n: int = 2000
    members: int = 3
    refiner_steps: int = 500
    refiner_batch: int = 16
    refiner_width: int = 8
    refiner_lr: float = 5e-3
    weight: float = 10.0
    history: int = 64
    classifier_steps: int = 400
    classifier_batch: int = 32
    classifier_width: int = 8
    classifier_lr: float = 3e-3


PRESETS = {
    # cpu: chosen on seeds never used by the chapter (a sweep of the weight over 0–100 and of the buffer)
    "cpu": Preset("cpu"),
    # gpu: not yet run on a GPU — more images and steps, wider classifiers that reach higher accuracy
    "gpu": Preset("gpu", n=20_000, members=5, refiner_steps=5000, refiner_batch=64, refiner_width=32,
                  refiner_lr=1e-3, classifier_steps=4000, classifier_batch=128, classifier_width=32,
                  classifier_lr=1e-3),
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


# ------------------------------------------------------------------------------------------- task

AIRLIGHT = (0.9, 0.7, 0.4)   # the camera's haze colour (RGB in [0, 1]): a warm light
TRANSMISSION = 0.5           # the fraction of the scene's light that reaches the camera


def camera(images: torch.Tensor, airlight: tuple[float, float, float] = AIRLIGHT,
           transmission: float = TRANSMISSION) -> torch.Tensor:
    """The "real" domain's known camera, eq. (ch11-haze), a haze (veiling glare) on images in [−1, 1]: with u = (x + 1)/2
    the scene's light in [0, 1], it records t·u + (1 − t)·A, the transmission t of the scene plus the
    airlight A — the black background turns to (1 − t)·A and the object loses contrast. Deterministic and
    pixel-wise, so a local refiner can learn it from unlabelled real images alone; a classifier trained
    on black backgrounds answers (nearly) one class on it."""
    V.tensor(images, "images")
    a = torch.tensor(airlight, device=images.device, dtype=images.dtype).view(3, 1, 1)
    t = V.positive_float(transmission, "transmission")
    return 2 * (t * (images + 1) / 2 + (1 - t) * a) - 1


def simgan_task(n: int, size: int = 16, *, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
    """The refinement task from four successive draws of :func:`ganbook.data.shapes` with ``generator``:
    ``synthetic`` (n clean renders) with ``synthetic_labels``; ``real`` (n camera images, unlabelled for
    the GAN; ``real_labels`` only for the upper-reference classifier); ``real_test`` / ``real_test_labels``
    and ``synthetic_test`` / ``synthetic_test_labels`` (n // 2 each, for scoring)."""
    from .data import shapes

    n = V.positive_int(n, "n", minimum=4)
    out = {}
    for name, m, cam in (("synthetic", n, False), ("real", n, True), ("real_test", n // 2, True),
                         ("synthetic_test", n // 2, False)):
        b = shapes(m, size, generator=generator, device=device)
        out[name] = camera(b.images) if cam else b.images
        out[name + "_labels"] = b.factors["label"].to(b.images.device)
    return out


# ---------------------------------------------------------------------------------------- networks

class Refiner(nn.Module):
    """SimGAN's refiner, shrunk to a local residual net: R(x) = x + Δ(x), Δ a 3×3 convolution (w
    channels) then two 1×1 convolutions (LeakyReLU(0.2)), so each output pixel sees its 3×3
    neighbourhood only (a local refiner cannot move the object: the label stays valid) and R starts
    near the identity (the last layer's weights are scaled by 0.1). Linear output. ``members=E``."""

    def __init__(self, channels: int = 3, width: int = 16, *, members: int = 1):
        super().__init__()
        E = self.members = V.positive_int(members, "members")
        self.channels = C = V.positive_int(channels, "channels")
        w = V.positive_int(width, "width")
        self.net = nn.Sequential(nn.Conv2d(E * C, E * w, 3, 1, 1, groups=E), nn.LeakyReLU(0.2),
                                 nn.Conv2d(E * w, E * w, 1, groups=E), nn.LeakyReLU(0.2),
                                 nn.Conv2d(E * w, E * C, 1, groups=E))
        with torch.no_grad():
            self.net[-1].weight.mul_(0.1)
            self.net[-1].bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.members, self.channels)
        return x + _from_channels(self.net(_to_channels(x)), self.members)


class Classifier(nn.Module):
    """A small CNN for the classifier protocol, (E, n, 3, 16, 16) → logits (E, n, K): two 4×4 stride-2
    convolutions (w, 2w channels, LeakyReLU(0.2)) and a linear map of the 4×4 map to K classes (a 4×4
    convolution). ``members=E`` independent nets (grouped convolutions); :meth:`tile` repeats them."""

    def __init__(self, classes: int = 4, width: int = 8, *, members: int = 1, channels: int = 3, size: int = 16):
        super().__init__()
        E = self.members = V.positive_int(members, "members")
        self.channels, self.classes, self.size = channels, V.positive_int(classes, "classes"), size
        self.width = w = V.positive_int(width, "width")
        self.net = nn.Sequential(nn.Conv2d(E * channels, E * w, 4, 2, 1, groups=E), nn.LeakyReLU(0.2),
                                 nn.Conv2d(E * w, E * 2 * w, 4, 2, 1, groups=E), nn.LeakyReLU(0.2),
                                 nn.Conv2d(E * 2 * w, E * self.classes, size // 4, groups=E))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E = self.members
        return _from_channels(self.net(_to_channels(_check_images(x, E, self.channels))), E).flatten(2)

    def tile(self, copies: int) -> "Classifier":
        """A classifier of copies·E members: copy c of member e (member c·E + e) starts from member e's
        weights — the same seed trained on different data (the paired protocol)."""
        out = Classifier(self.classes, self.width, members=copies * self.members, channels=self.channels, size=self.size)
        out = out.to(next(self.parameters()).device)
        with torch.no_grad():
            for a, b in zip(out.parameters(), self.parameters()):
                a.copy_(b.repeat(copies, *([1] * (b.ndim - 1))))
        return out


# ---------------------------------------------------------------------------------------- training

def train_refiner(synthetic: torch.Tensor, real: torch.Tensor, *, members: int, steps: int = 500,
                  batch: int = 16, width: int = 8, lr: float = 5e-3, weight: float = 10.0,
                  history: int = 64, decay: bool = True, seed: int = 0) -> Refiner:
    """Train ``members`` SimGAN refiners side by side, eq. (ch11-simgan) {shrivastava2017simgan}: the
    refiner R (:class:`Refiner`) minimises softplus(−D(R(x))) averaged over D's patches plus ``weight``·
    mean |R(x) − x| (:func:`ganbook.translation.self_regularised_g_loss`) on synthetic images x (N, C, S, S);
    the local discriminator D (:class:`ganbook.translation.PatchGAN`, one logit per 10×10 patch) learns
    with the cross-entropy against unlabelled ``real`` images (M, C, S, S). ``history`` > 0: SimGAN's
    history buffer — D sees half refined images of the current step and half drawn at random from a
    buffer of ``history`` past refined images per member, whose drawn entries the other half of the
    current images then replace (0: D sees the current images only).
    ``decay``: both learning rates decay linearly to 0 (the last refiners of a GAN's oscillation settle).
    Each member draws its own batches. Returns R (E members)."""
    V.tensor(synthetic, "synthetic", ndim=4)
    V.tensor(real, "real", ndim=4)
    E = V.positive_int(members, "members")
    dev, C = synthetic.device, synthetic.shape[1]
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    R = Refiner(C, 2 * width, members=E).to(dev)
    D = PatchGAN(C, width, members=E).to(dev)
    opt_r = torch.optim.Adam(R.parameters(), lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr, betas=(0.5, 0.999))
    if decay:                                              # linear decay to 0: the last steps settle
        sched = [torch.optim.lr_scheduler.LambdaLR(o, lambda i: 1 - i / steps) for o in (opt_r, opt_d)]
    K, h = V.positive_int(history, "history", minimum=0), batch // 2
    ar = torch.arange(E, device=dev)[:, None]
    if K:
        with torch.no_grad():                             # the buffer starts with the initial refiner's images
            buffer = R(synthetic[torch.randint(0, synthetic.shape[0], (E, K), generator=g, device=dev)])
    for _ in range(steps):
        x = synthetic[torch.randint(0, synthetic.shape[0], (E, batch), generator=g, device=dev)]
        y = real[torch.randint(0, real.shape[0], (E, batch), generator=g, device=dev)]
        refined = R(x)
        fake = refined.detach()
        if K:
            j = torch.randint(0, K, (E, batch - h), generator=g, device=dev)
            past = buffer[ar, j]
            buffer[ar, j] = fake[:, h:]                               # replace what was drawn
            fake = torch.cat([fake[:, :h], past], 1)                  # half current, half past
        d = adversarial_d_loss(D(y), D(fake)).sum()
        opt_d.zero_grad(set_to_none=True)
        d.backward()
        opt_d.step()
        loss = self_regularised_g_loss(D(refined), refined=refined, synthetic=x, weight=weight).sum()
        opt_r.zero_grad(set_to_none=True)
        loss.backward()
        opt_r.step()
        if decay:
            for sc in sched:
                sc.step()
    check_finite(loss, "the refiner loss")
    return R


def train_classifiers(pools: torch.Tensor, labels: torch.Tensor, *, seeds: int, classes: int = 4, steps: int = 300,
                      batch: int = 32, width: int = 8, lr: float = 3e-3, seed: int = 0) -> Classifier:
    """Train classifiers on P training sets side by side: ``pools`` (P·E, N, C, S, S) with ``labels``
    (P·E, N) or (N,), E = ``seeds``; set p's member e (index p·E + e) starts from seed e's weights and
    reads the same batch indices as every other set's member e, so that the P classifiers of one seed
    differ by their training images only (paired comparisons). Cross-entropy, Adam. Returns the
    :class:`Classifier` (P·E members)."""
    V.tensor(pools, "pools", ndim=5)
    E = V.positive_int(seeds, "seeds")
    M, N = pools.shape[:2]
    if M % E:
        raise ValueError(f"pools must hold a multiple of seeds={E} sets, got {M}")
    dev = pools.device
    labels = labels.to(dev).expand(M, N)
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    net = Classifier(classes, width, members=E, channels=pools.shape[2], size=pools.shape[-1]).to(dev).tile(M // E)
    opt = torch.optim.Adam(net.parameters(), lr)
    ar = torch.arange(M, device=dev)[:, None]
    for _ in range(steps):
        idx = torch.randint(0, N, (E, batch), generator=g, device=dev).repeat(M // E, 1)
        logits = net(pools[ar, idx])
        loss = F.cross_entropy(logits.flatten(0, 1), labels[ar, idx].flatten(), reduction="none").view(M, batch).mean(1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    check_finite(loss, "the classifier loss")
    return net


@torch.no_grad()
def accuracy(net: Classifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each member's accuracy (E,) on the same test images (N, C, S, S) with labels (N,)."""
    V.tensor(images, "images", ndim=4)
    logits = net(images[None].expand(net.members, -1, -1, -1, -1))
    return (logits.argmax(2) == labels.to(logits.device)).float().mean(1)


__all__ = ["Preset", "PRESETS", "preset", "AIRLIGHT", "TRANSMISSION", "camera", "simgan_task", "Refiner", "Classifier", "train_refiner",
           "train_classifiers", "accuracy"]
