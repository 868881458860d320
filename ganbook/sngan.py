"""SNGAN against WGAN-GP against the plain DCGAN, chapter 6b: one data set, one budget, paired seeds.

    python -m ganbook.sngan --preset cpu --out DIR        # the chapter's live table, outside the notebook
    python -m ganbook.sngan --preset gpu --out DIR        # shapes 32×32, wider nets, longer (one GPU)

Three recipes share the generator (the DCGAN generator of :mod:`ganbook.dcgan`, all guidelines), the
data, the minibatches, the noise, the generator's optimiser and the number of generator updates; they
differ in the discriminator and its loss (:data:`METHODS`):

* ``"DCGAN"`` — chapter 6a's full DCGAN, trained by :func:`ganbook.ablation.gan_step`: batch norm in D,
  the non-saturating loss, eqs. (ch2-value) and (ch2-g-ns);
* ``"SNGAN"`` — the same D without batch norm, every layer spectrally normalised, eq. (ch6-sn), one
  power-iteration step per D update (:mod:`ganbook.spectral`, per member), the same non-saturating loss;
* ``"WGAN-GP"`` — the same D without batch norm or normalisation, the Wasserstein loss, eq. (ch4-kr),
  with the gradient penalty λ = 10, eq. (ch4-gp), at interpolates; one critic step per generator step
  instead of the paper's five, so that the three recipes cost about the same.

All three use one optimiser: Adam with β = (0, 0.9) (WGAN-GP's) and a discriminator learning rate three
times the generator's (the two time-scale update rule, which stands in for WGAN-GP's extra critic steps).

E seeds train side by side as the E members of one grouped network (:mod:`ganbook.dcgan`); member e of
every recipe starts from the same generator and sees the same batches, so differences between recipes
are paired by seed. Scores are :func:`ganbook.ablation.score`'s FID, KID and class statistics with the
classifier shipped for the preset's data.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import os
import time
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from torch.nn.utils import parametrize

from . import _validate as V
from . import ablation, dcgan, spectral
from .ablation import Models, Scores
from .dcgan import Guidelines, Preset
from .errors import TrainingDiverged
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss
from .objectives.ipm import hinge_d_loss, wasserstein_d_loss, wasserstein_g_loss
from .objectives.penalties import gradient_penalty

LOSSES = ("nonsaturating", "hinge", "wasserstein")


@dataclass(frozen=True)
class Method:
    """A discriminator and its training rule. ``loss``: ``"nonsaturating"`` (eqs. (ch2-value),
    (ch2-g-ns)), ``"hinge"`` (eq. (ch4-hinge), generator loss −E f) or ``"wasserstein"`` (eq. (ch4-kr)).
    ``batch_norm``: D follows DCGAN's batch-norm guideline (False: no normalisation layer in D).
    ``spectral``: every layer of D spectrally normalised, eq. (ch6-sn). ``gp_weight``: λ of the gradient
    penalty, eq. (ch4-gp) (0: none). ``n_critic``: D updates per G update. ``lr_d_scale``: D's learning
    rate over G's (> 1: the two time-scale update rule). ``betas``: Adam's (β₁, β₂) for both networks
    (None: the preset's)."""

    name: str
    loss: str = "nonsaturating"
    batch_norm: bool = True
    spectral: bool = False
    gp_weight: float = 0.0
    n_critic: int = 1
    lr_d_scale: float = 1.0
    betas: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for flag in ("batch_norm", "spectral"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be a bool, got {type(getattr(self, flag)).__name__}")
        V.positive_float(self.gp_weight, "gp_weight", allow_zero=True)
        V.positive_int(self.n_critic, "n_critic")
        V.positive_float(self.lr_d_scale, "lr_d_scale")
        if self.betas is not None:
            if not isinstance(self.betas, tuple) or len(self.betas) != 2:
                raise ValueError(f"betas must be a pair (β₁, β₂) or None, got {self.betas!r}")
            for b in self.betas:
                if not 0 <= V.finite_float(b, "betas") < 1:
                    raise ValueError(f"betas must lie in [0, 1), got {self.betas!r}")
        if self.gp_weight > 0 and self.batch_norm:
            raise ValueError("a gradient penalty needs a D without batch norm (per-sample gradients); "
                             "set batch_norm=False")
        if self.spectral and self.batch_norm:
            raise ValueError("spectral=True with batch_norm=True: batch norm rescales each channel by its batch "
                             "statistics, which undoes the normalised layers' Lipschitz constant")

    @property
    def plain(self) -> bool:
        """True for chapter 6a's DCGAN step (:func:`ganbook.ablation.gan_step`)."""
        return (self.loss == "nonsaturating" and self.batch_norm and not self.spectral and self.gp_weight == 0
                and self.n_critic == 1)


# One optimiser for all three (Adam, β = (0, 0.9), D's learning rate 3 × G's: the two time-scale update
# rule), so that the rows differ only in the discriminator and its loss.
_TTUR = dict(lr_d_scale=3.0, betas=(0.0, 0.9))
METHODS: dict[str, Method] = {
    "DCGAN": Method("DCGAN", **_TTUR),
    "SNGAN": Method("SNGAN", batch_norm=False, spectral=True, **_TTUR),
    "WGAN-GP": Method("WGAN-GP", loss="wasserstein", batch_norm=False, gp_weight=10.0, n_critic=1, **_TTUR),
}

PRESETS: dict[str, Preset] = {
    "cpu": Preset("cpu", "digits", 8, 1, z_dim=16, width=16, batch=64, steps=300, lr=1e-3, seeds=5, ema=0.99),
    "gpu": Preset("gpu", "shapes", 32, 3, z_dim=64, width=64, batch=128, steps=20_000, lr=2e-4, amp=True,
                  seeds=5, ema=0.999),
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``) of this comparison."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def _method(method: object) -> Method:
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)} or a Method, got {method!r}")
        return METHODS[method]
    if not isinstance(method, Method):
        raise TypeError(f"method must be a Method or a name, got {type(method).__name__}")
    return method


def build(p: Preset, method: Method | str, members: int, seed: int, device: torch.device) -> Models:
    """Networks for ``members`` seeds and their Adam optimisers. The generator is built first from
    ``seed``, as :func:`ganbook.ablation.build` builds it, so member e of every method starts from the
    same generator; spectral normalisation's vectors u come from a generator of their own."""
    method = _method(method)
    betas = method.betas or p.betas
    if method.plain:
        m = ablation.build(p, Guidelines(), members, seed, device)
        G, D = m.G, m.D
    else:
        V.positive_int(members, "members")
        torch.manual_seed(seed)
        G = dcgan.Generator(p.z_dim, p.image_size, p.channels, p.width, members=members).to(device)
        D = dcgan.Discriminator(p.image_size, p.channels, p.width,
                                guidelines=Guidelines(batch_norm=method.batch_norm), members=members).to(device)
    if method.spectral:
        spectral.apply_spectral_norm(D, members=members, generator=torch.Generator(device=device).manual_seed(seed))
    return Models(G, D, torch.optim.Adam(G.parameters(), lr=p.lr, betas=betas),
                  torch.optim.Adam(D.parameters(), lr=p.lr * method.lr_d_scale, betas=betas), copy.deepcopy(G))


def _d_loss(method: Method, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if method.loss == "nonsaturating":
        return minimax_d_loss(real, fake)
    if method.loss == "hinge":
        return hinge_d_loss(real.flatten(), fake.flatten())
    return wasserstein_d_loss(real.flatten(), fake.flatten())


def _g_loss(method: Method, fake: torch.Tensor) -> torch.Tensor:
    if method.loss == "nonsaturating":
        return nonsaturating_g_loss(fake)
    return wasserstein_g_loss(fake.flatten())                      # hinge and Wasserstein: −E f(G(z))


def member_critic(D: dcgan.Discriminator, n: int):
    """D as a critic of single samples: (E·n, C, S, S) → (E·n,), rows e·n … e·n + n − 1 scored by member
    e. The form of :mod:`ganbook.objectives.penalties` (one score per row); without batch norm in D a
    row's gradient is that of its own member's score."""
    E = D.members

    def critic(x: torch.Tensor) -> torch.Tensor:
        return D(x.reshape(E, n, *x.shape[1:])).reshape(-1)

    return critic


def d_step(m: Models, method: Method, real: torch.Tensor, fake: torch.Tensor,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """One D update on ``real`` and ``fake`` (E, n, C, S, S) (``fake`` detached here). Without batch norm
    both batches go through D in one call (with batch norm, one call each, as in chapter 6a); a spectrally
    normalised D computes its weights once, so it takes exactly one power-iteration step per update. The
    penalty (if any) draws its interpolation weights from ``generator``."""
    E, n = real.shape[:2]
    fake = fake.detach()
    with parametrize.cached() if method.spectral else contextlib.nullcontext():   # one W̄ per update
        if method.batch_norm:                                               # batch statistics of each batch alone
            loss = E * _d_loss(method, m.D(real), m.D(fake))                # E × mean = sum of the members' losses
        else:
            scores = m.D(torch.cat([real, fake], dim=1))                   # (E, 2n): one forward, one power step
            loss = E * _d_loss(method, scores[:, :n], scores[:, n:])
        if method.gp_weight > 0:
            loss = loss + E * gradient_penalty(member_critic(m.D, n), real.flatten(0, 1), fake.flatten(0, 1),
                                               weight=method.gp_weight, generator=generator)
    m.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    m.opt_d.step()
    return loss.detach()


def g_step(m: Models, method: Method, fake: torch.Tensor) -> torch.Tensor:
    """One G update through D's current weights: a spectrally normalised D is read in eval mode (the σ of
    its last update, no power step; D has no batch norm, so nothing else changes)."""
    E = m.G.members
    if method.spectral:
        m.D.eval()
    try:
        loss = E * _g_loss(method, m.D(fake))
    finally:
        m.D.train()
    m.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    m.opt_g.step()
    return loss.detach()


def train(p: Preset, method: Method | str, data: torch.Tensor, *, members: int, seed: int,
          steps: int | None = None, check_every: int = 100) -> Models:
    """Train ``members`` seeds of ``method`` for ``steps`` generator updates (default: the preset's) on
    ``data`` (N, C, S, S). Each step draws every member's minibatch (with replacement) and noise from one
    stream seeded by ``seed``, as :func:`ganbook.ablation.train` does, then takes ``n_critic`` D updates
    (the first on those draws, further ones on fresh draws) and one G update on the first draw's fake
    batch. Losses are checked for NaN/inf once every ``check_every`` steps (one host sync)."""
    method = _method(method)
    V.tensor(data, "data", ndim=4)
    steps = V.positive_int(p.steps if steps is None else steps, "steps")
    check_every = V.positive_int(check_every, "check_every")
    device = data.device
    m = build(p, method, members, seed, device)
    gen = torch.Generator(device=device).manual_seed(seed)
    gp_gen = torch.Generator(device=device).manual_seed(seed + 1_000_003)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=p.amp and device.type == "cuda")
    draw = lambda: (data[torch.randint(0, data.shape[0], (members, p.batch), generator=gen, device=device)],  # noqa: E731
                    torch.randn(members, p.batch, p.z_dim, generator=gen, device=device))
    losses = torch.zeros(2, device=device)
    for step in range(1, steps + 1):
        real, z = draw()
        with autocast:
            if method.plain:
                d_loss, g_loss = ablation.gan_step(m, real, z)
            else:
                fake = m.G(z)
                d_loss = d_step(m, method, real, fake, gp_gen)
                for _ in range(method.n_critic - 1):
                    real2, z2 = draw()
                    with torch.no_grad():
                        fake2 = m.G(z2)
                    d_loss = d_step(m, method, real2, fake2, gp_gen)
                g_loss = g_step(m, method, fake)
        ablation.average_weights(m.G_avg, m.G, p.ema)
        losses += torch.stack([d_loss.float(), g_loss.float()])
        if step % check_every == 0 or step == steps:                        # one host sync per check
            if not bool(torch.isfinite(losses).all()):
                raise TrainingDiverged(f"{method.name}: a loss became NaN or infinite by step {step}")
            losses.zero_()
    return m


# ----------------------------------------------------------------------------------------- comparison

@dataclass(frozen=True)
class Comparison:
    """Per-seed scores of each method (:class:`ganbook.ablation.Scores`, tensors of shape (E,); member e is
    the same seed in every method), each method's wall-clock seconds for training, its trained networks,
    and the run's settings."""

    scores: dict[str, Scores]
    seconds: dict[str, float]
    models: dict[str, Models]
    steps: int
    members: int
    seed: int
    preset: str


def compare(p: Preset, data: torch.Tensor, held: ablation.Heldout, net: torch.nn.Module, *,
            members: int | None = None, seed: int = 0, steps: int | None = None,
            methods: Sequence[str] | dict[str, Method] = tuple(METHODS), n_samples: int | None = None) -> Comparison:
    """Train every method on ``data`` with ``members`` seeds (default: the preset's) and ``steps``
    generator updates (default: the preset's), and score the running average of each generator's
    weights (as chapter 6a does) on ``n_samples`` samples per seed (default: as many as ``held`` has
    images) with :func:`ganbook.ablation.score`, the classifier ``net`` and the held-out images ``held``
    (:func:`ganbook.ablation.heldout`)."""
    members = V.positive_int(p.seeds if members is None else members, "members")
    steps = V.positive_int(p.steps if steps is None else steps, "steps")
    table = methods if isinstance(methods, dict) else {name: _method(name) for name in methods}
    if not table:
        raise ValueError("methods must name at least one method")
    n = V.positive_int(len(held.images) if n_samples is None else n_samples, "n_samples")
    scores, seconds, models = {}, {}, {}
    for name, method in table.items():
        start = time.perf_counter()
        m = train(p, method, data, members=members, seed=seed, steps=steps)
        if data.device.type == "cuda":
            torch.cuda.synchronize(data.device)
        seconds[name] = time.perf_counter() - start
        gen = torch.Generator(device=data.device).manual_seed(seed + 7)     # the same z for every method
        fakes = ablation.samples(m.G_avg, n, generator=gen)
        models[name] = m
        scores[name] = ablation.score(fakes, held.features, held.labels, net, n_classes=held.n_classes,
                                      generator=gen)
    return Comparison(scores, seconds, models, steps, members, seed, p.name)


def paired(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error of the per-seed differences a − b (same seeds: a paired comparison)."""
    V.tensor(a, "a", ndim=1)
    V.tensor(b, "b", ndim=1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must hold the same seeds, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return ablation.mean_se(a.double() - b.double())


def verdict(a: str, b: str, diff: float, se: float, *, lower_is_better: bool = True) -> str:
    """The book's wording for a paired difference ``diff`` = a − b with standard error ``se``: "a beats b"
    (or "b beats a") only where |diff| exceeds its standard error, otherwise "no detectable effect"."""
    diff, se = V.finite_float(diff, "diff"), V.positive_float(se, "se", allow_zero=True)
    if abs(diff) <= se:
        return "no detectable effect"
    a_better = (diff < 0) == lower_is_better
    return f"{a} beats {b}" if a_better else f"{b} beats {a}"


METRICS = (("fid", "FID", True), ("kid", "KID ×10³", True), ("modes", "classes", False),
           ("reverse_kl", "reverse KL", True))


def table(c: Comparison) -> str:
    """The comparison as Markdown: mean ± standard error per method, then every pair's paired
    differences of FID and KID with the verdict of :func:`verdict`."""
    if not isinstance(c, Comparison):
        raise TypeError(f"c must be a Comparison, got {type(c).__name__}")
    rows = ["| method | " + " | ".join(label for _, label, _ in METRICS) + " | seconds |",
            "|---" * (len(METRICS) + 2) + "|"]
    for name, s in c.scores.items():
        cells = [f"{mu:.3g} ± {se:.2g}" for mu, se in (ablation.mean_se(getattr(s, key)) for key, _, _ in METRICS)]
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {c.seconds[name]:.1f} |")
    rows += ["", "| paired difference (same seeds) | FID | verdict | KID ×10³ | verdict |", "|---|---|---|---|---|"]
    names = list(c.scores)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            cells = []
            for key in ("fid", "kid"):
                d, se = paired(getattr(c.scores[a], key), getattr(c.scores[b], key))
                cells += [f"{d:+.3g} ± {se:.2g}", verdict(a, b, d, se)]
            rows.append(f"| {a} − {b} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def record(p: Preset, device: torch.device, out: str, *, seed_start: int = 100) -> str:
    """Run :func:`compare` at preset ``p`` with the seed block ``seed_start`` (p.seeds members; the settings
    were tuned on other seeds) and write ``sngan_<preset>.md`` (the table) and ``sngan_<preset>.png`` (8
    samples of the first seed of each method, one row per method) to ``out``; returns the table."""
    data = dcgan.real_images(p, generator=torch.Generator().manual_seed(seed_start), device=device)
    net = ablation.feature_net(p, device)
    c = compare(p, data, ablation.heldout(p, net, device), net, seed=seed_start)
    text = table(c)
    lines = [f"Preset: {dcgan.describe(p)}; seed block {seed_start} ({p.seeds} seeds); device {device}; "
             f"{c.steps} generator updates per method.", ""]
    lines += [f"- {name}: {describe(method)}" for name, method in METHODS.items()]
    with open(os.path.join(out, f"sngan_{p.name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n\n" + text + "\n")
    from .plot import image_grid

    gen = torch.Generator(device=device).manual_seed(seed_start)
    grid = torch.cat([ablation.samples(m.G_avg, 8, generator=gen)[0] for m in c.models.values()])
    ax = image_grid(grid.cpu(), nrow=8, title="rows: " + ", ".join(c.models))
    ax.figure.savefig(os.path.join(out, f"sngan_{p.name}.png"), dpi=120, bbox_inches="tight")
    return text


def describe(method: Method | str) -> str:
    """The method's settings on one line."""
    method = _method(method)
    parts = [f"loss={method.loss}", f"D batch norm={method.batch_norm}", f"spectral norm={method.spectral}"]
    if method.gp_weight:
        parts.append(f"gradient penalty λ={method.gp_weight:g}")
    parts += [f"n_critic={method.n_critic}", f"lr_D/lr_G={method.lr_d_scale:g}"]
    if method.betas is not None:
        parts.append(f"betas={method.betas}")
    return ", ".join(parts)


def sigma_errors(D: dcgan.Discriminator) -> torch.Tensor:
    """For a spectrally normalised grouped D: the relative error |σ̃ − σ|/σ of the persistent power
    iteration's estimate σ̃ = uᵀWv (the stored vectors) against the exact σ (SVD) of every member's
    block, one row per layer, shape (layers, E)."""
    rows = []
    for m in D.modules():
        if parametrize.is_parametrized(m, "weight"):
            sn = m.parametrizations.weight[0]
            if not isinstance(sn, spectral.SpectralNorm) or sn.members is None:
                continue
            with torch.no_grad():
                w = m.parametrizations.weight.original
                matrix = spectral.as_matrix(w, sn.dim, sn.members).double()
                estimate = (sn.u.double() * torch.bmm(matrix, sn.v.double().unsqueeze(2)).squeeze(2)).sum(1)
                exact = torch.linalg.matrix_norm(matrix, ord=2)
            rows.append((estimate - exact).abs() / exact)
    if not rows:
        raise ValueError("D has no layer spectrally normalised per member (spectral.apply_spectral_norm(D, members=E))")
    return torch.stack(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    parser.add_argument("--out", default="sngan_comparison")
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed-start", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="override the preset's generator updates")
    parser.add_argument("--seeds", type=int, default=None, help="override the preset's number of seeds")
    args = parser.parse_args(argv)
    from . import device as pick

    torch.set_num_threads(V.positive_int(args.threads, "--threads"))
    os.makedirs(args.out, exist_ok=True)
    p = preset(args.preset)
    if args.steps is not None:
        p = replace(p, steps=V.positive_int(args.steps, "--steps"))
    if args.seeds is not None:
        p = replace(p, seeds=V.positive_int(args.seeds, "--seeds", minimum=2))
    print(record(p, pick(args.device), args.out, seed_start=args.seed_start))


if __name__ == "__main__":
    main()
