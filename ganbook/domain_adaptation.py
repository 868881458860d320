"""Chapter 14 (second half): unsupervised domain adaptation with adversarial training.

Labelled source data, unlabelled target data, a classifier wanted on the target. Pieces:

* the gradient reversal layer (:class:`GradientReversal`, :func:`grad_reverse`): identity forward,
  −λ · gradient backward, eq. (ch14-grl), so that one backward pass trains a domain classifier to
  separate the domains and the feature extractor to confuse it (DANN, eq. ch14-dann);
* :func:`dann_d_loss`, the domain classifier's cross-entropy (source = "real", target = "fake");
* :func:`dann_lambda`, DANN's schedule of λ;
* ARDA/WDGRL's critic on features: :func:`ganbook.objectives.ipm.wasserstein_d_loss` with
  :func:`ganbook.objectives.penalties.gradient_penalty` (eq. ch14-arda);
* the two tasks of the chapter: :func:`moons_task` (the inter-twinning moons, target rotated) and
  :func:`digits_task` (8×8 digits → rotated and rescaled digits);
* :func:`shallow_dann`: the DANN paper's shallow network (one sigmoid hidden layer, a logistic domain
  regressor, SGD with the annealed rate :func:`annealed_lr`), source-only / DANN / target labels paired;
* :func:`adapt`: source-only, DANN, ARDA, pixel-level adaptation and the target-label ceiling, each
  method × seed one member of batched networks, trained together; returns target accuracies.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from . import _validate as V
from .errors import TrainingDiverged
from .nets import BatchedMLP
from .objectives.ipm import wasserstein_d_loss
from .objectives.penalties import gradient_penalty

METHODS = ("source only", "DANN", "ARDA", "pixel-level", "target labels")


class GradientReversal(torch.autograd.Function):
    """Identity in the forward pass, gradient times −λ in the backward pass, eq. (ch14-grl)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:  # type: ignore[override]
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """R_λ(x) of eq. (ch14-grl): returns x; the gradient flowing back through it is multiplied by −λ."""
    V.tensor(x, "x", finite=False)
    lam = V.positive_float(lam, "lam", allow_zero=True)
    return GradientReversal.apply(x, lam)


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """DANN's schedule λ_p = 2/(1 + exp(−γ p)) − 1, p ∈ [0, 1] the training progress: 0 at the start
    (the domain classifier's noisy early signal is not fed back), → 1 at the end."""
    p = V.finite_float(progress, "progress")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"progress must lie in [0, 1], got {p}")
    return 2.0 / (1.0 + math.exp(-V.positive_float(gamma, "gamma") * p)) - 1.0


def dann_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The domain classifier's loss in DANN, eq. (ch14-dann): −E_s log d(f(x_s)) − E_t log(1 − d(f(x_t))),
    from the domain logits of source features (``real``) and target features (``fake``), shape (n,) or
    (..., n), mean over all entries. The survey's reading: source = real, target = fake."""
    V.scores(real, "real", batched=True)
    V.scores(fake, "fake", batched=True)
    return F.softplus(-real).mean() + F.softplus(fake).mean()


# -- the two tasks -------------------------------------------------------------------------------------
def rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate 2D points (n, 2) counter-clockwise about the origin by ``degrees``."""
    V.tensor(x, "x", ndim=2, last_dim=2)
    a = math.radians(V.finite_float(degrees, "degrees"))
    r = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=x.dtype, device=x.device)
    return x @ r.T


def labelled_moons(n: int, noise: float = 0.1, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The two inter-twinning moons (scikit-learn's ``make_moons`` geometry, centred) with their labels:
    points (n, 2) and labels (n,) — 0 the upper moon, 1 the lower one."""
    V.positive_int(n, "n")
    V.positive_float(noise, "noise", allow_zero=True)
    device = V.device_arg(device)
    t = math.pi * torch.rand(n, generator=generator)
    y = (torch.rand(n, generator=generator) < 0.5).long()
    upper = y == 0
    x = torch.stack([torch.where(upper, torch.cos(t), 1 - torch.cos(t)),
                     torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))], 1) - torch.tensor([0.5, 0.25])
    x = x + noise * torch.randn(n, 2, generator=generator)
    return x.to(device), y.to(device)


def moons_task(degrees: float = 35.0, n: int = 300, noise: float = 0.1, generator: torch.Generator | None = None,
               device: torch.device | str | None = None, *, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """The DANN paper's toy: labelled source moons; target = fresh moons rotated by ``degrees``
    (unlabelled for adaptation; ``yt`` is used only by the target-label ceiling), and a rotated test set.
    Every point set is multiplied by ``scale`` (the authors' code: noise 0.05, then × 2) before the
    rotation. Keys: xs, ys (source), xt, yt (target training pool), xt_test, yt_test."""
    k = V.positive_float(scale, "scale")
    xs, ys = labelled_moons(n, noise, generator, device)
    xt, yt = labelled_moons(n, noise, generator, device)
    xe, ye = labelled_moons(1000, noise, generator, device)
    return {"xs": k * xs, "ys": ys, "xt": rotate(k * xt, degrees), "yt": yt, "xt_test": rotate(k * xe, degrees),
            "yt_test": ye}


def transform_digits(images: torch.Tensor, degrees: float = 30.0, scale: float = 0.8) -> torch.Tensor:
    """Rotate each 8×8 image by ``degrees`` and shrink it by ``scale`` about its centre (bilinear
    resampling, background −1): the target domain of the chapter. (n, 1, 8, 8) → (n, 1, 8, 8)."""
    V.tensor(images, "images", ndim=4)
    V.finite_float(degrees, "degrees")
    s = V.positive_float(scale, "scale")
    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]],
                         dtype=images.dtype, device=images.device) / s
    grid = F.affine_grid(theta.expand(images.shape[0], 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def digits_task(degrees: float = 30.0, scale: float = 0.8, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
    """Digits → transformed digits: the source is the training half of ``metrics.digits_split(0)`` (896
    images, flattened to 64); the target is the held-out half through :func:`transform_digits`, split at
    random into a training pool (unlabelled for adaptation) and a test set. Keys as :func:`moons_task`."""
    from .data import digits
    from .metrics import digits_split

    x, y = digits()
    split = digits_split(0)
    held = split["heldout"][torch.randperm(len(split["heldout"]), generator=generator)]
    half = len(held) // 2
    xt_all = transform_digits(x[held], degrees, scale).flatten(1)
    d = V.device_arg(device)
    return {"xs": x[split["train"]].flatten(1).to(d), "ys": y[split["train"]].to(d),
            "xt": xt_all[:half].to(d), "yt": y[held[:half]].to(d),
            "xt_test": xt_all[half:].to(d), "yt_test": y[held[half:]].to(d)}


# -- the DANN paper's shallow network -----------------------------------------------------------------
SHALLOW_METHODS = ("source only", "DANN", "target labels")


def annealed_lr(progress: float, lr: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """DANN's learning-rate schedule μ_p = μ₀ / (1 + α p)^β, p ∈ [0, 1] the training progress (Ganin et al.
    2016: α = 10, β = 0.75)."""
    p = V.finite_float(progress, "progress")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"progress must lie in [0, 1], got {p}")
    return V.positive_float(lr, "lr") / (1.0 + V.positive_float(alpha, "alpha", allow_zero=True) * p) ** \
        V.positive_float(beta, "beta", allow_zero=True)


def _check_task_and_methods(task: dict, methods, allowed) -> None:
    """A task dict has its six tensors (see :func:`moons_task`, :func:`digits_task`); ``methods`` is a
    non-empty subset of ``allowed``."""
    for key in ("xs", "ys", "xt", "yt", "xt_test", "yt_test"):
        if key not in task:
            raise ValueError(f"task must have the key {key!r} (see moons_task / digits_task)")
    unknown = [m for m in methods if m not in allowed]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {allowed}, got {list(methods)}")


def shallow_dann(task: dict[str, torch.Tensor], *, seed: int = 0, seeds: int = 16, steps: int = 1500,
                 batch: int = 32, hidden: int = 15, lr: float = 2.0, momentum: float = 0.9, weight: float = 1.0,
                 methods: Sequence[str] = SHALLOW_METHODS) -> dict[str, torch.Tensor]:
    """Ganin et al.'s shallow DANN (their Algorithm 1, the network of their toy experiment) for ``seeds``
    seeds side by side: features h = sigmoid(W x + b) with ``hidden`` units, a softmax label classifier on h,
    and a *logistic* domain regressor on h (no hidden layer) behind a reversal layer with
    λ_p = ``weight`` · dann_lambda(p), eq. (ch14-dann); SGD with ``momentum`` and the annealed rate
    :func:`annealed_lr`. Methods: "source only" (no domain term), "DANN", "target labels" (the ceiling:
    trained on the target pool's labels). Seed s of every method starts from the same weights (uniform in
    ±√(6/(fan_in + fan_out)) as in the authors' code, domain regressor and biases 0) and sees the same
    source and target batches, so the comparison is paired; with ``weight`` = 0, DANN *is* source-only.
    Returns {method: target test accuracies (seeds,)}."""
    _check_task_and_methods(task, methods, SHALLOW_METHODS)
    S, steps, B = V.positive_int(seeds, "seeds"), V.positive_int(steps, "steps"), V.positive_int(batch, "batch")
    H = V.positive_int(hidden, "hidden")
    V.positive_float(weight, "weight", allow_zero=True)
    V.probability(momentum, "momentum")
    xs, ys, xt, yt = task["xs"], task["ys"], task["xt"], task["yt"]
    dev, d, K = xs.device, xs.shape[1], int(torch.cat([ys, yt]).max()) + 1
    methods = list(methods)
    n_m, M = len(methods), len(methods) * S                         # member m: method m // S, seed m % S
    gens = _member_generators(seed, 6, S)

    def uniform(a: int, b: int) -> torch.Tensor:
        e = math.sqrt(6.0 / (a + b))
        return torch.stack([(2 * torch.rand(a, b, generator=g) - 1) * e for g in gens]).repeat(n_m, 1, 1).to(dev)

    W, V_ = uniform(d, H).requires_grad_(), uniform(H, K).requires_grad_()
    b, c = torch.zeros(M, 1, H, device=dev, requires_grad=True), torch.zeros(M, 1, K, device=dev, requires_grad=True)
    w_d, b_d = torch.zeros(S, H, 1, device=dev, requires_grad=True), torch.zeros(S, 1, 1, device=dev, requires_grad=True)
    opt = torch.optim.SGD([W, b, V_, c, w_d, b_d], lr=lr, momentum=momentum)
    g = torch.Generator(device=dev).manual_seed(seed)
    target = torch.tensor([m == "target labels" for m in methods], device=dev).repeat_interleave(S)
    group = {m: slice(i * S, (i + 1) * S) for i, m in enumerate(methods)}
    for step in range(steps):
        p = step / steps
        opt.param_groups[0]["lr"] = annealed_lr(p, lr)
        i_s = torch.randint(0, len(xs), (S, B), generator=g, device=dev).repeat(n_m, 1)   # one batch per seed,
        i_t = torch.randint(0, len(xt), (S, B), generator=g, device=dev).repeat(n_m, 1)   # shared by its methods
        x_lab = torch.where(target[:, None, None], xt[i_t], xs[i_s])
        y_lab = torch.where(target[:, None], yt[i_t], ys[i_s])
        h = torch.sigmoid(torch.baddbmm(b, torch.cat([x_lab, xt[i_t]], 1), W))            # (M, 2B, H)
        loss = F.cross_entropy(torch.baddbmm(c, h[:, :B], V_).reshape(-1, K), y_lab.reshape(-1)) * M
        if "DANN" in group:                                                               # eq. (ch14-dann)
            s = torch.baddbmm(b_d, grad_reverse(h[group["DANN"]], weight * dann_lambda(p)), w_d).squeeze(-1)
            loss = loss + dann_d_loss(s[:, :B], s[:, B:]) * S
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 and not bool(torch.isfinite(loss)):
            raise TrainingDiverged(f"shallow_dann: the loss is {float(loss)} at step {step}")
    with torch.no_grad():
        h = torch.sigmoid(torch.baddbmm(b, task["xt_test"].expand(M, -1, -1), W))
        acc = (torch.baddbmm(c, h, V_).argmax(-1) == task["yt_test"]).float().mean(-1)
    return {m: acc[group[m]].cpu() for m in methods}


# -- all methods side by side -------------------------------------------------------------------------
def _member_generators(seed: int, offset: int, n: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(10_000 * seed + 100 * offset + s) for s in range(n)]


def adapt(task: dict[str, torch.Tensor], *, seed: int = 0, seeds: int = 5, steps: int = 600, batch: int = 64,
          hidden: int = 64, lr: float = 5e-3, weight: float = 3.0, critic_weight: float = 0.3, gp_weight: float = 10.0,
          content: float = 1.0, beta1: float = 0.5,
          methods: Sequence[str] = METHODS) -> dict[str, torch.Tensor]:
    """Train every method of ``methods`` (names from :data:`METHODS`) for ``seeds`` seeds side by side and
    return {method: target test accuracies (seeds,)}.

    One feature extractor f (an MLP with ``hidden`` units, ReLU features) and a linear label classifier c
    per member, trained on source labels (the target-label ceiling: on target labels). DANN adds a domain
    classifier on f behind a gradient reversal layer with λ = ``weight`` · dann_lambda(p), eq. (ch14-dann);
    ARDA a critic on f behind a reversal layer with λ = ``critic_weight`` · dann_lambda(p), the Wasserstein
    loss and a gradient penalty of weight ``gp_weight`` on interpolated features, eq. (ch14-arda); pixel-level adaptation a residual translator T(x) = x + t(x) trained, again through a
    reversal layer, against a discriminator on the *inputs* (target vs translated source), with a content
    loss ``content`` · ‖t(x)‖², and c ∘ f trained on source and translated source, eq. (ch14-pixel).
    Every adversarial pair is updated simultaneously by one backward pass (one Adam: ``lr``, β₁ = ``beta1``)."""
    _check_task_and_methods(task, methods, METHODS)
    S, steps, B = V.positive_int(seeds, "seeds"), V.positive_int(steps, "steps"), V.positive_int(batch, "batch")
    xs, ys, xt, yt = task["xs"], task["ys"], task["xt"], task["yt"]
    dev, d, K = xs.device, xs.shape[1], int(torch.cat([ys, yt]).max()) + 1
    V.positive_float(weight, "weight", allow_zero=True)
    V.positive_float(critic_weight, "critic_weight", allow_zero=True)
    V.probability(beta1, "beta1")
    methods = list(methods)
    M = len(methods) * S                                           # member m: method m // S, seed m % S
    f = BatchedMLP(d, hidden, (hidden,), generators=_member_generators(seed, 0, M)).to(dev)
    c = BatchedMLP(hidden, K, (), generators=_member_generators(seed, 1, M)).to(dev)
    dom = BatchedMLP(hidden, 1, (hidden,), generators=_member_generators(seed, 2, S), squeeze=True).to(dev)
    crit = BatchedMLP(hidden, 1, (hidden,), generators=_member_generators(seed, 3, S), squeeze=True).to(dev)
    trans = BatchedMLP(d, d, (hidden,), generators=_member_generators(seed, 4, S)).to(dev)
    disc = BatchedMLP(d, 1, (hidden,), generators=_member_generators(seed, 5, S), squeeze=True).to(dev)
    with torch.no_grad():
        trans.weights[-1].zero_()                                  # T starts as the identity
        trans.biases[-1].zero_()
    params = [p for net in (f, c, dom, crit, trans, disc) for p in net.parameters()]
    opt = torch.optim.Adam(params, lr=lr, betas=(beta1, 0.999))
    g = torch.Generator(device=dev).manual_seed(seed)
    use_target = torch.tensor([m == "target labels" for m in methods], device=dev).repeat_interleave(S)
    group = {m: slice(i * S, (i + 1) * S) for i, m in enumerate(methods)}

    def feats(x: torch.Tensor) -> torch.Tensor:
        return F.relu(f(x))

    for step in range(steps):
        lam = weight * dann_lambda(step / max(steps - 1, 1))
        i_s = torch.randint(0, len(xs), (M, B), generator=g, device=dev)
        i_t = torch.randint(0, len(xt), (M, B), generator=g, device=dev)
        x_lab = torch.where(use_target[:, None, None], xt[i_t], xs[i_s])          # (M, B, d)
        y_lab = torch.where(use_target[:, None], yt[i_t], ys[i_s])
        x_tgt = xt[torch.randint(0, len(xt), (M, B), generator=g, device=dev)]    # unlabelled target rows
        loss = torch.zeros((), device=dev)
        if "pixel-level" in group:                                                 # eq. (ch14-pixel)
            sl = group["pixel-level"]
            x_src = x_lab[sl]
            x_ada = x_src + trans(x_src)                                           # T(x_s)
            scores = disc(torch.cat([x_tgt[sl], grad_reverse(x_ada, lam)], 1))   # target = "real"
            loss = loss + (dann_d_loss(scores[:, :B], scores[:, B:]) + content * ((x_ada - x_src) ** 2).mean()) * S
            x_lab = torch.cat([x_lab[:sl.start], x_ada, x_lab[sl.stop:]], 0)      # c learns on T(x_s)
        h = feats(torch.cat([x_lab, x_tgt], 1))                                    # (M, 2B, hidden)
        loss = loss + F.cross_entropy(c(h[:, :B]).reshape(-1, K), y_lab.reshape(-1)) * M
        if "DANN" in group:
            r = grad_reverse(h[group["DANN"]], lam)
            s = dom(r)
            loss = loss + dann_d_loss(s[:, :B], s[:, B:]) * S
        if "ARDA" in group:
            hr = h[group["ARDA"]]
            s = crit(grad_reverse(hr, critic_weight * dann_lambda(step / max(steps - 1, 1))))
            src, tgt = hr[:, :B].detach().reshape(S * B, hidden), hr[:, B:].detach().reshape(S * B, hidden)
            gp = gradient_penalty(crit, src, tgt, weight=gp_weight, generator=g)
            loss = loss + (wasserstein_d_loss(s[:, :B].reshape(-1), s[:, B:].reshape(-1)) + gp) * S
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 and not bool(torch.isfinite(loss)):
            raise TrainingDiverged(f"adapt: the loss is {float(loss)} at step {step}")
    with torch.no_grad():
        xe = task["xt_test"].expand(M, -1, -1)
        acc = (c(feats(xe)).argmax(-1) == task["yt_test"]).float().mean(-1)
    return {m: acc[group[m]].cpu() for m in methods}


__all__ = ["GradientReversal", "METHODS", "SHALLOW_METHODS", "adapt", "annealed_lr", "dann_d_loss", "dann_lambda",
           "digits_task", "grad_reverse", "labelled_moons", "moons_task", "rotate", "shallow_dann", "transform_digits"]
