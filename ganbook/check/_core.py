"""The engine behind every exercise check."""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Iterable

import torch


class CheckFailed(AssertionError):
    """A learner's function disagrees with the reference; the message says how."""


class Passed(str):
    """A check's success message. The check has printed it already, so Jupyter does not echo it again
    when the check call is the last line of a cell (it is still an ordinary ``str``)."""

    def _ipython_display_(self) -> None:
        pass


def passed(message: str, quiet: bool = False) -> Passed:
    """Print (unless ``quiet``) and return a check's one ✓ line."""
    if not quiet:
        print(message)
    return Passed(message)


NOT_IMPLEMENTED = "not implemented yet"


def not_implemented(name: str, why: str) -> CheckFailed:
    return CheckFailed(f"{name}: {NOT_IMPLEMENTED} — {why}")


def returned(value: Any, name: str) -> Any:
    """``value``, unless it is what an untouched template returns (None or ``...``)."""
    if value is None:
        raise not_implemented(name, "did you forget `return`? (your function returned None)")
    if value is Ellipsis:
        raise not_implemented(name, "your function returned `...` (the template's placeholder): "
                                    "replace it with your code and `return` the result.")
    return value


def raised(err: Exception, name: str, where: str) -> CheckFailed:
    """The CheckFailed for a learner's function that raised ``err`` on input ``where``."""
    if isinstance(err, NotImplementedError):
        return not_implemented(name, "your function raises NotImplementedError (the template's "
                                     "placeholder): replace it with your code and `return` the result.")
    return CheckFailed(f"{name}: your function raised {type(err).__name__}: {err}\n  on input {where}")


def learners(fn: Any, name: str) -> Callable:
    """``fn``, checked to be a callable that is the learner's own — not ganbook's implementation,
    which is what the check compares against: passing it would prove nothing (identity check)."""
    if not callable(fn):
        raise TypeError(f"the function to check must be callable, got {type(fn).__name__}")
    inner = fn
    while isinstance(inner, functools.partial):
        inner = inner.func
    inner = getattr(inner, "__func__", inner)                 # a bound method's function
    module = getattr(inner, "__module__", None) or ""
    if (module == "ganbook" or module.startswith("ganbook.")) and not module.startswith("ganbook.check"):
        qual = getattr(inner, "__qualname__", getattr(inner, "__name__", repr(inner)))
        raise CheckFailed(f"{name}: this is ganbook's own {module}.{qual}, the implementation the check "
                          "compares against — passing it proves nothing about your code. Write the function "
                          "yourself (e.g. in the answer cell's template) and pass yours.")
    return fn


def _describe(inputs: tuple, names: tuple[str, ...]) -> str:
    parts = []
    for n, v in zip(names, inputs):
        if isinstance(v, torch.Tensor):
            shown = v.flatten()[:4].tolist()
            more = "…" if v.numel() > 4 else ""
            parts.append(f"{n} = tensor of shape {tuple(v.shape)} starting {[round(float(a), 4) for a in shown]}{more}")
        else:
            parts.append(f"{n} = {v!r}")
    return "; ".join(parts)


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().double().cpu()
    if isinstance(value, (int, float)):
        return torch.tensor(float(value), dtype=torch.float64)
    if type(value).__module__ == "numpy":                     # np.float32, np.float64, np.ndarray, ...
        import numpy as np

        arr = np.asarray(value)
        if arr.dtype.kind in "fiub":
            return torch.from_numpy(arr.astype(np.float64))
    if isinstance(value, (tuple, list)):
        try:
            return torch.stack([_as_tensor(v, what) for v in value])
        except CheckFailed:
            raise
        except Exception:
            pass
    raise CheckFailed(f"{what} should be a number or a tensor, but it is a {type(value).__name__}")


def compare(fn: Callable, reference: Callable, cases: Iterable[tuple], *, name: str,
            arg_names: tuple[str, ...], atol: float = 1e-5, rtol: float = 1e-4,
            mistakes: dict[str, Callable] | None = None, quiet: bool = False,
            large_hint: str | None = None) -> str:
    """Call ``fn(*case)`` and ``reference(*case)`` for every case and compare the results.

    ``fn`` is called positionally, so the learner's argument names do not matter; ``arg_names`` only
    label the inputs in the messages.

    On the first mismatch raise :class:`CheckFailed` naming the inputs, the expected and the
    returned value, and — if the result equals one of the known ``mistakes`` (name → wrong
    function) — what the learner probably did. An untouched template (returning None or ``...``,
    or raising NotImplementedError) is told it is "not implemented yet". With ``large_hint``, a
    function right on the first cases but wrong on a case with large |inputs| (|x| ≥ 20) is given
    that hint (e.g. a clamped sigmoid). Returns the success message (and prints it, once)."""
    learners(fn, name)
    n = 0
    for case in cases:
        n += 1
        where = _describe(case, arg_names)
        expected = _as_tensor(reference(*case), "the reference")
        try:
            got_raw = fn(*[c.clone() if isinstance(c, torch.Tensor) else c for c in case])
        except CheckFailed:
            raise
        except Exception as err:  # the learner's code raised
            raise raised(err, name, where) from err
        got = _as_tensor(returned(got_raw, name), f"{name}: the value your function returned")
        if got.shape != expected.shape:
            hint = " (a scalar was expected: did you forget .mean() or .sum()?)" if expected.dim() == 0 else ""
            raise CheckFailed(f"{name}: your result has shape {tuple(got.shape)} but the expected shape is "
                              f"{tuple(expected.shape)}{hint}\n  on input {where}")
        if not bool(torch.isfinite(got).all()) and bool(torch.isfinite(expected).all()):
            raise CheckFailed(f"{name}: your result contains NaN or inf where the exact value is finite "
                              f"— is it numerically unstable (log of 0, exp overflow)? Work on logits with "
                              f"softplus / logsigmoid.\n  on input {where}")
        if not torch.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
            diff = float((got - expected).abs().max())
            msg = (f"{name}: wrong value. Expected {_short(expected)}, got {_short(got)} "
                   f"(largest difference {diff:.3g})\n  on input {where}")
            for label, wrong in (mistakes or {}).items():
                w = _as_tensor(wrong(*case), "mistake")
                if w.shape == got.shape and torch.allclose(got, w, atol=atol, rtol=rtol):
                    msg += f"\n  Hint: your result equals {label}."
                    break
            else:
                if large_hint and n > 1 and _largest(case) >= 20:    # right so far, wrong on large inputs
                    msg += f"\n  Hint: {large_hint}"
            raise CheckFailed(msg)
    if n == 0:
        raise ValueError("compare needs at least one case")
    return passed(f"✓ {name}: matches the reference on {n} inputs", quiet)


def _largest(case: tuple) -> float:
    return max((float(c.abs().max()) for c in case if isinstance(c, torch.Tensor) and c.numel()), default=0.0)


def _short(t: torch.Tensor) -> str:
    if t.dim() == 0:
        v = float(t)
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    vals = [round(float(a), 5) for a in t.flatten()[:4]]
    return f"{vals}{'…' if t.numel() > 4 else ''} (shape {tuple(t.shape)})"
