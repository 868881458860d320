"""Input checks shared by every public function: clear errors that name the argument."""
from __future__ import annotations

import math
from typing import Sequence

import torch


def tensor(x: object, name: str, *, ndim: int | Sequence[int] | None = None,
           last_dim: int | None = None, floating: bool = True, finite: bool = True,
           min_rows: int | None = None) -> torch.Tensor:
    """Check that ``x`` is a tensor of the expected rank, width and dtype; return it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got shape {tuple(x.shape)}")
    if last_dim is not None and (x.dim() == 0 or x.shape[-1] != last_dim):
        raise ValueError(f"{name} must have last dimension {last_dim}, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if min_rows is not None and (x.dim() == 0 or x.shape[0] < min_rows):
        raise ValueError(f"{name} needs at least {min_rows} row(s), got shape {tuple(x.shape)}")
    if finite and x.is_floating_point() and x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def scores(x: object, name: str, *, batched: bool = False) -> torch.Tensor:
    """A loss's input: a floating-point batch of scores (logits, critic values, energies), shape (n,),
    n ≥ 1. With ``batched=True``, for a loss that is a mean over all its entries (the GAN losses), also
    with leading axes, e.g. (S, n) for S seeds trained side by side, whose sum over seeds is S times
    the mean. Only the shape and dtype are checked (free); whether the values are finite is the
    training loop's check, made once every few steps, because reading a tensor's values on the host
    waits for the device."""
    tensor(x, name, ndim=None if batched else 1, min_rows=1, finite=False)
    if x.numel() == 0:
        raise ValueError(f"{name} must be a non-empty batch of scores, got shape {tuple(x.shape)}")
    return x


def rows(x: object, name: str) -> torch.Tensor:
    """A batch of rows, shape (..., n, d) with n ≥ 1 (leading dimensions, e.g. seeds, allowed)."""
    tensor(x, name, min_rows=1)
    if x.dim() < 2 or x.shape[-2] == 0:
        raise ValueError(f"{name} must have shape (..., n, d) with n >= 1, got {tuple(x.shape)}")
    return x


def same_device(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.device != b.device:
        raise ValueError(f"{name_a} is on {a.device} but {name_b} is on {b.device}; move both to one device")


def positive_int(x: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{name} must be an int, got {type(x).__name__}")
    if x < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {x}")
    return x


def positive_float(x: object, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {x}")
    return x


def finite_float(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return x


def probability(x: object, name: str, *, open_interval: bool = False) -> float:
    x = finite_float(x, name)
    if open_interval and not 0 < x < 1:
        raise ValueError(f"{name} must lie in (0, 1), got {x}")
    if not 0 <= x <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {x}")
    return x


def device_arg(device: object, name: str = "device") -> torch.device:
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"{name}={device!r} is not a device name ({err})") from None
    raise TypeError(f"{name} must be a str, torch.device or None, got {type(device).__name__}")


def available_device(device: object, name: str = "device") -> torch.device:
    """:func:`device_arg`, and the device must exist on this machine (as ``ganbook.device`` checks)."""
    dev = device_arg(device, name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={str(device)!r}: CUDA is not available on this machine "
                         "(ganbook.device() picks the best device there is)")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if not (mps is not None and mps.is_available()):
            raise ValueError(f"{name}={str(device)!r}: MPS is not available on this machine "
                             "(ganbook.device() picks the best device there is)")
    return dev


def generator(gen: object, name: str = "generator") -> torch.Generator | None:
    if gen is not None and not isinstance(gen, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(gen).__name__}")
    return gen
