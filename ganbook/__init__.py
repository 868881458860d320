"""ganbook: the helper package of the executable GAN textbook.

Submodules are imported on first use (``ganbook.data``, ``ganbook.nets``, ...), so that
``import ganbook`` stays fast and has no side effects.

The package map mirrors the book. Core: ``data`` (toy and shipped data sets; ``shapes``, the procedural
colour images with known factors), ``nets`` (the MLP
builder, the one batched MLP ``nets.BatchedMLP``, DCGAN pairs), ``nets_ae``; ``divergences``
(``classic``: chapter 1's KL/JS; ``fdiv``: chapter 3's f-divergence table; ``ipm``: chapter 4's MMD,
energy distance, W1) on the leaf ``kernels`` (the one kernel and MMD² core, also used by
``metrics``); ``objectives`` (one module per chapter: ``gan``, ``fgan``, ``ipm``, ``penalties``,
``energy``, ``smoothing``, registered by name in the leaf ``objectives.registry``); ``collapse``
(``discriminator``: chapter 8a, ``game``: chapter 8b, ``rejection``: discriminator rejection
sampling); ``dcgan`` (chapter 6a's networks, seeds side by side as grouped convolutions, and the
``cpu``/``gpu`` presets), ``spectral`` (chapter 6b: spectral normalization and Lipschitz bounds),
``architectures`` (chapter 6c: LAPGAN, GRAN, LR-GAN, Stacked GAN, GoGAN), ``parallel`` (chapter 6d:
data-parallel training, ``torchrun -m ganbook.parallel``); ``train`` (the Trainer), ``dirac`` (chapter 7),
``metrics`` (chapter 15), ``errors``; chapter 10's leaves ``inference`` (BiGAN/ALI, AGE, the linear probe),
``vae`` (ELBO, importance-weighted bound, VAE-GAN, α-GAN, the density-ratio trick), ``discrete`` (MaliGAN/BSGAN
weights, ARAE codes, Langevin and PPGN steps), ``metric_learning`` (Siamese and triplet objectives, k-NN).
On top of the core, never imported by it: ``ablation`` (chapter 6a's guideline ablation,
``python -m ganbook.ablation``), ``sngan`` (chapter 6b's comparison, ``python -m ganbook.sngan``),
``bench`` (chapter 8's benchmark: ``methods``, ``protocol``, ``report``, ``python -m ganbook.bench``),
``conditional``, ``conditional_conv``, ``infogan``, ``latent`` (chapter 9: CGAN, projection and AC-GAN discriminators
(``conditional_conv``: convolutional, on shapes with class and colour codes), InfoGAN
and its mutual-information bound, interpolation and truncation), ``rl`` (chapter 16: tabular MDPs and exact
solvers, MaxEnt IRL and guided-cost-learning identities, GAIL and behaviour cloning),
``translation`` (chapter 11: tasks with known answers on shapes, U-Net, PatchGAN, pix2pix, one unpaired loss
with the weights of CycleGAN, DiscoGAN, DualGAN and DistanceGAN, PAN, SimGAN's loss), ``refiner`` (chapter 11b:
SimGAN's refiner with its history buffer on hazy shapes, and the classifier protocol), ``superres``, ``editing`` and
``joint`` (chapter 12: SRGAN on shapes with PSNR/SSIM against FID/KID; latent arithmetic, IcGAN encoders and a
two-stage StackGAN-style model; CoGAN and SD-GAN on digits),
``seqgan`` (chapter 13a: the LSTM oracle and policy, MLE, scheduled sampling, Monte Carlo rollouts, SeqGAN,
ORGAN and RankGAN rewards), ``crnngan`` and ``video`` (chapter 13b: C-RNN-GAN on sums of sinusoids; VGAN and
MoCoGAN on moving shapes), ``semi_supervised`` and ``domain_adaptation`` (chapter 14: the K+1-class
discriminator, CatGAN, Triple-GAN; gradient reversal, DANN, pixel-level adaptation, ARDA), ``assign``
(graded nbgrader assignments from the chapters, ``python -m ganbook.assign``),
``check`` (exercise checks), ``plot``, ``widgets``, ``teach``.

Every loss and penalty follows one signature, stated in :mod:`ganbook.objectives`: a discriminator
loss ``NAME_d_loss(real, fake, *, ...)`` of the critic's outputs, a generator loss
``NAME_g_loss(fake, *, ...)``, a penalty ``NAME_penalty(D, real, fake, *, weight, generator)`` of samples.
"""
from __future__ import annotations

import importlib
import random
from typing import TYPE_CHECKING

import torch

__version__ = "0.1.0"

_SUBMODULES = (
    "ablation",
    "architectures",
    "bench",
    "check",
    "collapse",
    "conditional",
    "conditional_conv",
    "crnngan",
    "data",
    "dcgan",
    "dirac",
    "discrete",
    "divergences",
    "domain_adaptation",
    "editing",
    "errors",
    "inference",
    "infogan",
    "joint",
    "kernels",
    "latent",
    "metric_learning",
    "metrics",
    "nets",
    "nets_ae",
    "objectives",
    "parallel",
    "plot",
    "refiner",
    "rl",
    "semi_supervised",
    "seqgan",
    "shapes",
    "sngan",
    "spectral",
    "superres",
    "train",
    "translation",
    "vae",
    "video",
    "widgets",
)

__all__ = ["device", "seed", "__version__", *_SUBMODULES]

if TYPE_CHECKING:  # pragma: no cover - for static analysers only
    from . import check, data, divergences, metrics, nets, objectives, plot, train, widgets  # noqa: F401


def device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the device the book computes on: ``cuda`` → ``mps`` → ``cpu``.

    ``prefer`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``None``) asks for one device;
    asking for an accelerator that is absent raises a ``ValueError`` instead of silently
    falling back, so that a notebook run with ``DEVICE = "cuda"`` really runs on the GPU.
    ``None`` or ``"auto"`` picks the best available one.
    """
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(f"device(prefer=...) expects a str, torch.device or None, got {type(prefer).__name__}")
    if prefer is None or prefer == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(prefer)
    except RuntimeError as err:
        raise ValueError(f"device(prefer={prefer!r}): not a device name ({err})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device(prefer={prefer!r}): CUDA is not available on this machine")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device(prefer={prefer!r}): MPS is not available on this machine")
    return dev


def seed(value: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) with ``value``; return a CPU ``torch.Generator``
    seeded with the same value, for code that wants an explicit random stream."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"seed(value=...) expects an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"seed(value={value}): expected a non-negative int")
    random.seed(value)
    try:
        import numpy as np

        np.random.seed(value % 2**32)
    except ImportError:  # pragma: no cover
        pass
    torch.manual_seed(value)
    return torch.Generator().manual_seed(value)


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ganbook' has no attribute {name!r}")
