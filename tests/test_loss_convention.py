"""The one loss convention of the package (ganbook.objectives' docstring, "Losses and penalties"):

* a discriminator loss is ``NAME_d_loss(real, fake, *, ...)`` of the critic's outputs;
* a generator loss is ``NAME_g_loss(fake, *, ...)`` (the real outputs, when needed, keyword-only);
* a penalty, or a loss that looks inside the critic, is ``NAME(D, real, fake, *, ...)`` of samples;
* everything else is keyword-only.

The test walks every module of the package, so a new loss that drifts from the convention fails here.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import ganbook

SKIP_PACKAGES = ("ganbook.check",)   # exercise checkers take the student's function, not outputs
LOSS_SUFFIXES = ("_d_loss", "_g_loss", "_loss", "_penalty")


def public_losses() -> dict[str, object]:
    found: dict[str, object] = {}
    for info in pkgutil.walk_packages(ganbook.__path__, "ganbook."):
        if info.name.startswith(SKIP_PACKAGES) or info.name.rsplit(".", 1)[-1].startswith("_") \
                or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, fn in vars(module).items():
            if (inspect.isfunction(fn) and not name.startswith("_") and name.endswith(LOSS_SUFFIXES)
                    and fn.__module__ == module.__name__):
                found[f"{module.__name__}.{name}"] = fn
    return found


def convention_error(name: str, fn) -> str | None:
    params = list(inspect.signature(fn).parameters.values())
    names = [p.name for p in params]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind in (p.VAR_POSITIONAL,) for p in params):
        return f"{name}{inspect.signature(fn)}: no *args"
    short = name.rsplit(".", 1)[-1]
    if names and names[0] == "D":                                   # looks inside the critic: samples
        want = [["D", "real", "fake"], ["D", "real_batches", "fake"]]
        if positional not in want:
            return f"{name}{inspect.signature(fn)}: a critic-first loss/penalty takes (D, real, fake, *, ...)"
    elif short.endswith("_penalty"):
        return f"{name}{inspect.signature(fn)}: a penalty takes the critic first: (D, real, fake, *, ...)"
    elif short.endswith("_g_loss"):
        if positional != ["fake"]:
            return f"{name}{inspect.signature(fn)}: a generator loss takes (fake, *, ...)"
    elif positional != ["real", "fake"]:
        return f"{name}{inspect.signature(fn)}: a loss takes (real, fake, *, ...)"
    return None


def test_the_walk_finds_the_book_losses():
    found = {k.rsplit(".", 1)[-1] for k in public_losses()}
    expected = {"minimax_d_loss", "nonsaturating_g_loss", "one_sided_smoothing_d_loss", "fgan_d_loss",
                "fgan_g_loss", "wasserstein_d_loss", "hinge_d_loss", "loss_sensitive_d_loss", "cramer_d_loss",
                "cramer_g_loss", "mmdgan_d_loss", "mmdgan_g_loss", "ebgan_d_loss", "began_d_loss",
                "gradient_penalty", "dragan_penalty", "r1_penalty", "lipschitz_penalty", "feature_matching_loss",
                "unrolled_g_loss", "veegan_d_loss", "veegan_g_loss", "madgan_d_loss", "madgan_g_loss"}
    assert expected <= found, f"missing: {sorted(expected - found)}"


def test_every_public_loss_follows_the_convention():
    errors = [e for name, fn in sorted(public_losses().items()) if (e := convention_error(name, fn))]
    assert not errors, "\n".join(errors)


def test_the_checker_rejects_drifting_signatures():
    """The rule itself can fail: signatures the package used to have are rejected."""
    def ebgan_d_loss(real_energy, fake_energy, margin): ...
    def cramer_g_loss(h_real, h_fake, h_fake2): ...
    def gradient_penalty(real, fake, D): ...
    def madgan_d_loss(real, fake, k): ...
    for fn in (ebgan_d_loss, cramer_g_loss, gradient_penalty, madgan_d_loss):
        assert convention_error(fn.__name__, fn) is not None, fn.__name__
    def hinge_d_loss(real, fake): ...
    def cramer_g_loss_ok(fake, *, real, fake2): ...
    assert convention_error("hinge_d_loss", hinge_d_loss) is None
    assert convention_error("cramer_g_loss", cramer_g_loss_ok) is None
