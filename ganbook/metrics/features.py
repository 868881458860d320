"""Feature extractors for the sample-based metrics of chapter 15.

* :class:`SmallCNN` — a small classifier for 1 × 8 × 8 digits (and 1 × 28 × 28 MNIST): its
  penultimate layer (64 values after a ReLU) gives the *features* for FID, KID and precision/recall,
  its softmax the *probabilities* p(y|x) for IS and the MODE score. :func:`digits_classifier` loads
  the weights shipped in the package, trained by ``python -m ganbook.metrics.train_classifier``.
* :class:`ShapesCNN` — its sibling for the colour shapes of :func:`ganbook.data.shapes` (3 × S × S,
  S = 16, 32, …, 128, area-downsampled to 16 × 16): 64 features, 4 class logits, and a regression
  of the factors (position, scale, colour, symmetry-aware angle). :func:`shapes_classifier` loads
  the shipped weights (``... train_classifier --dataset shapes``).
* :class:`InceptionV3` — the Inception-v3 network of the FID/IS literature (the TensorFlow graph
  of 2015-12-05 as ported by pytorch-fid and torch-fidelity: parameter names match their
  ``pt_inception-2015-12-05`` state dict). Weights come only from a file the user gives
  (:func:`inception_v3`); nothing is downloaded. :func:`resize` is the explicit resizing step.
"""
from __future__ import annotations

import math
import os
from importlib import resources

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import shapes as S
from . import _common as C

WEIGHTS = {"digits": "digits_classifier.pt", "mnist": "mnist_classifier.pt", "shapes": "shapes_classifier.pt"}
IMAGE_SIZE = {"digits": 8, "mnist": 28, "shapes": 16}


class SmallCNN(nn.Module):
    """A small CNN classifier for one-channel square images in [−1, 1] (the book's range).

    3 × 3 convolution (32 channels), then stride-2 3 × 3 convolutions (64 channels) until the map
    is at most 4 × 4, a 64-unit layer (the features) and a linear head (the logits).

    The features are the 64 ReLU activations divided by a fixed ``feature_scale`` (a buffer saved
    with the weights), set after training so that E‖f‖²/64 = 1 on the training images: KID's kernel
    (fᵀg/d + 1)³ then weighs its constant, linear and higher terms as it does for Inception
    features, instead of being dominated by the cubic term."""

    num_features = 64   # read by torchmetrics when this module is passed as ``feature=``

    def __init__(self, image_size: int = 8, n_classes: int = 10):
        super().__init__()
        self.image_size = V.positive_int(image_size, "image_size", minimum=4)
        self.n_classes = V.positive_int(n_classes, "n_classes", minimum=2)
        layers: list[nn.Module] = [nn.Conv2d(1, 32, 3, padding=1), nn.ReLU()]
        size, width = image_size, 32
        while size > 4:
            layers += [nn.Conv2d(width, 64, 3, stride=2, padding=1), nn.ReLU()]
            size, width = (size + 1) // 2, 64
        layers += [nn.Flatten(), nn.Linear(width * size * size, self.num_features), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(self.num_features, n_classes)
        self.register_buffer("feature_scale", torch.ones(()))

    def _check(self, x: torch.Tensor) -> None:
        V.tensor(x, "x", ndim=4)
        if x.shape[1:] != (1, self.image_size, self.image_size):
            raise ValueError(f"x must have shape (n, 1, {self.image_size}, {self.image_size}), got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations divided by ``feature_scale``, shape (n, 64)."""
        self._check(x)
        return self.body(x) / self.feature_scale

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (n, n_classes)."""
        self._check(x)
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


# --- the shapes classifier -------------------------------------------------------------------------

# Symmetry order k of each class (square 4, circle 0, triangle 3, heart 1): the angle θ is
# identifiable only modulo 2π/k, so the net regresses (cos kθ, sin kθ), which is the same for all
# equivalent angles (nothing for the circle).
_ORDER = tuple(S.SYMMETRY[c] for c in S.CLASSES)
_MID_SCALE, _HALF_SCALE = (S.SCALE[0] + S.SCALE[1]) / 2, (S.SCALE[1] - S.SCALE[0]) / 2
N_TARGETS = 8       # x, y, scale, R, G, B, cos kθ, sin kθ — each mapped to about [−1, 1]


def factor_targets(factors: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The regression targets of :class:`ShapesCNN` from a :func:`ganbook.data.shapes` batch's
    ``factors`` (drawn with the default four classes): an (n, 8) tensor — x/0.3, y/0.3, scale mapped
    from [0.25, 0.45] to [−1, 1], 2·colour − 1 (three columns), cos kθ, sin kθ with k the class's
    symmetry order — and an (n,) mask, 1 where the angle is defined (every class but the circle)."""
    if not isinstance(factors, dict):
        raise TypeError(f"factors must be a dict of tensors (a ShapesBatch's factors), got {type(factors).__name__}")
    for key in ("label", "x", "y", "scale", "angle", "color"):
        if key not in factors:
            raise ValueError(f"factors must have the key {key!r}")
    label = factors["label"]
    if bool(((label < 0) | (label >= len(S.CLASSES))).any()):
        raise ValueError(f"factors['label'] must index the {len(S.CLASSES)} default classes {S.CLASSES}")
    k = torch.tensor(_ORDER, device=label.device, dtype=factors["angle"].dtype)[label]
    ka = k * factors["angle"]
    target = torch.cat([torch.stack([factors["x"] / S.POSITION, factors["y"] / S.POSITION,
                                     (factors["scale"] - _MID_SCALE) / _HALF_SCALE], 1),
                        2 * factors["color"] - 1, torch.stack([ka.cos(), ka.sin()], 1)], 1)
    return target, (k > 0).to(target.dtype)


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


class ShapesCNN(nn.Module):
    """A small CNN for the colour shapes of :func:`ganbook.data.shapes`: features, class logits
    and the factors of (n, 3, S, S) images in [−1, 1], for S = 16, 32, 48, …, 128.

    Input: an image larger than 16 × 16 is first area-downsampled to 16 × 16 (the mean of each
    (S/16) × (S/16) block). The data set renders one scene at every size (no draw depends on the
    size), and the 16 × 16 block means of a 64 × 64 rendering are close to the 16 × 16 rendering
    itself (the shape's coverage of each pixel, antialiased either way), so features of different
    sizes are comparable: a 64 × 64 generator can be scored against 16 × 16 references (the tests
    check that the FID between 16 × 16 and 64 × 64 real samples stays below a tenth of the FID of a
    3 × 3 blur; it is a few times the real-vs-real FID, as the two renderings' antialiasing differs
    slightly at corners). Details finer than a 16 × 16 pixel are invisible to these features: state
    the resolution with a score.

    Network: two 3 × 3 convolutions at 16 × 16 (16 channels), two stride-2 ones (32, then 16
    channels, 8 × 8 then 4 × 4), batch norm and ReLU after each; the 256 values of the last map
    and the spatial maximum of each channel of the second map (16 values: a maximum over positions
    reads the object's colour wherever it lies) feed a 64-unit layer: the features. Two linear
    heads read them: the 4 class logits, and the 8 regression outputs of :func:`factor_targets`
    (position, scale, colour, and (cos kθ, sin kθ) of the angle θ with the class's rotational
    symmetry order k). Training adds the regression's squared errors to the cross-entropy
    (:mod:`~ganbook.metrics.train_classifier`), so the features carry the factors as well as the class.

    The features are divided by ``feature_scale`` (a saved buffer) set after training so that
    E‖f‖²/64 = 1 on the training images, as in :class:`SmallCNN`."""

    num_features = 64   # read by torchmetrics when this module is passed as ``feature=``
    image_size = 16
    classes = S.CLASSES

    def __init__(self):
        super().__init__()
        self.n_classes = len(S.CLASSES)
        self.full = nn.Sequential(*_block(3, 16, 1), *_block(16, 16, 1))       # (n, 16, 16, 16)
        self.down = nn.Sequential(*_block(16, 32, 2), *_block(32, 16, 2))      # (n, 16, 4, 4)
        self.fc = nn.Linear(16 * 4 * 4 + 16, self.num_features)
        self.head = nn.Linear(self.num_features, self.n_classes)
        self.regress = nn.Linear(self.num_features, N_TARGETS)
        self.register_buffer("feature_scale", torch.ones(()))

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Check ``x`` (n, 3, S, S) and area-downsample it to (n, 3, 16, 16)."""
        V.tensor(x, "x", ndim=4)
        size = x.shape[-1]
        if x.shape[1] != 3 or x.shape[2] != size or size % 16 or not 16 <= size <= S.MAX_SIZE:
            raise ValueError(f"x must have shape (n, 3, S, S) with S a multiple of 16 from 16 to "
                             f"{S.MAX_SIZE} (shapes images), got {tuple(x.shape)}")
        return F.avg_pool2d(x, size // 16) if size > 16 else x

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The unscaled 64 features of prepared (n, 3, 16, 16) images."""
        g = self.full(x)
        h = self.down(g)
        return F.relu(self.fc(torch.cat([h.flatten(1), g.amax((2, 3))], 1)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 64 features divided by ``feature_scale``, shape (n, 64)."""
        return self.body(self.prepare(x)) / self.feature_scale

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (n, 4), in the order of :data:`ganbook.shapes.CLASSES`."""
        return self.head(self.body(self.prepare(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)

    def factors(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The predicted factors, in the units of :func:`ganbook.data.shapes`: ``label`` (n,) the
        most likely class, ``x``, ``y``, ``scale`` (n,), ``color`` (n, 3), and ``angle`` (n,) in
        [0, 2π/k) with k the predicted class's symmetry order — the angles the data set cannot tell
        apart are folded into that range (all of [0, 2π) for the heart) — and NaN where the
        predicted class is the circle, whose angle does not exist."""
        f = self.body(self.prepare(x))
        label = self.head(f).argmax(1)
        r = self.regress(f)
        k = torch.tensor(_ORDER, device=r.device, dtype=r.dtype)[label]
        period = 2 * math.pi / k.clamp(min=1)
        angle = torch.remainder(torch.atan2(r[:, 7], r[:, 6]) / k.clamp(min=1), period)
        return {"label": label, "x": S.POSITION * r[:, 0], "y": S.POSITION * r[:, 1],
                "scale": _MID_SCALE + _HALF_SCALE * r[:, 2], "color": (r[:, 3:6] + 1) / 2,
                "angle": torch.where(k > 0, angle, torch.full_like(angle, math.nan))}


def weights_path(dataset: str = "digits") -> str:
    """Path of the shipped state dict for ``dataset`` ("digits", "mnist" or "shapes")."""
    if dataset not in WEIGHTS:
        raise ValueError(f"dataset must be one of {sorted(WEIGHTS)}, got {dataset!r}")
    return str(resources.files("ganbook") / "weights" / WEIGHTS[dataset])


def load_classifier(path: str | os.PathLike, image_size: int = 8,
                    device: torch.device | str | None = None) -> SmallCNN:
    """A :class:`SmallCNN` with the state dict at ``path`` (loaded with ``weights_only=True``), in
    evaluation mode, without gradients."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no classifier weights at {path}; train them with "
                                f"python -m ganbook.metrics.train_classifier")
    net = SmallCNN(image_size=image_size)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.requires_grad_(False)
    return net.eval().to(V.device_arg(device))


def digits_classifier(device: torch.device | str | None = None) -> SmallCNN:
    """The shipped classifier for the 8 × 8 digits (``ganbook/weights/digits_classifier.pt``)."""
    return load_classifier(weights_path("digits"), image_size=8, device=device)


def mnist_classifier(path: str | os.PathLike | None = None, device: torch.device | str | None = None) -> SmallCNN:
    """The MNIST classifier: weights from ``path`` or from the package, where
    ``python -m ganbook.metrics.train_classifier --dataset mnist`` writes them (needs the optional
    MNIST data, so it is not shipped)."""
    return load_classifier(path or weights_path("mnist"), image_size=28, device=device)


def shapes_classifier(device: torch.device | str | None = None) -> ShapesCNN:
    """The shipped :class:`ShapesCNN` (``ganbook/weights/shapes_classifier.pt``, loaded with
    ``weights_only=True``), in evaluation mode, without gradients: the feature extractor for FID,
    KID and precision/recall on :func:`ganbook.data.shapes`, at 16 × 16 to 128 × 128."""
    path = weights_path("shapes")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no classifier weights at {path}; train them with "
                                f"python -m ganbook.metrics.train_classifier --dataset shapes")
    net = ShapesCNN()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.requires_grad_(False)
    return net.eval().to(V.device_arg(device))


def digits_split(seed: int = 0) -> dict[str, torch.Tensor]:
    """A stratified split of the 1,797 digits into two halves: ``"train"`` (the classifier is
    trained on it; chapters may train generators on it) and ``"heldout"`` (never seen by the
    classifier: its test accuracy is measured there, and evaluation references come from it).
    Each class is halved, its odd image going to the held-out side: 896 and 901 images.
    Returns index tensors; the split depends only on ``seed``."""
    from ..data import digits

    _, y = digits()
    gen = torch.Generator().manual_seed(V.positive_int(seed, "seed", minimum=0))
    train, held = [], []
    for c in range(10):
        idx = torch.nonzero(y == c).squeeze(1)
        idx = idx[torch.randperm(idx.numel(), generator=gen)]
        half = idx.numel() // 2
        train.append(idx[:half])
        held.append(idx[half:])
    return {"train": torch.cat(train).sort().values, "heldout": torch.cat(held).sort().values}


@torch.no_grad()
def extract(fn, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Apply ``fn`` (e.g. ``classifier.features`` or ``lambda x: classifier(x).softmax(1)``) to
    ``images`` in batches without gradients; returns float64 rows (n, k) on the images' device
    (the CPU for MPS images, which have no float64)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    V.tensor(images, "images", min_rows=1)
    batch_size = V.positive_int(batch_size, "batch_size")
    out = [C.to_float64(fn(images[s:s + batch_size])) for s in range(0, images.shape[0], batch_size)]
    return torch.cat(out)


# --- Inception-v3 ------------------------------------------------------------------------------

RESIZE_MODES = ("bilinear", "bicubic", "nearest", "tf1-bilinear")


def resize(x: torch.Tensor, size: int = 299, mode: str = "tf1-bilinear") -> torch.Tensor:
    """Resize images (n, c, h, w) to (n, c, size, size) — the explicit resizing step before Inception.

    ``mode``:

    * ``"tf1-bilinear"`` — bilinear interpolation as TensorFlow 1.x computed it (``align_corners=False``
      there means source coordinate = output index × in/out, no half-pixel offset), the resize of
      the original FID/IS code and of torch-fidelity; use it to compare with published numbers;
    * ``"bilinear"``, ``"bicubic"`` — PyTorch's ``F.interpolate`` with ``align_corners=False``
      (half-pixel centres, no antialiasing; pytorch-fid resizes with ``"bilinear"``);
    * ``"nearest"`` — pixel replication.

    The mode changes FID by more than many reported improvements: state it next to every number."""
    V.tensor(x, "x", ndim=4)
    size = V.positive_int(size, "size")
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    if mode == "nearest":
        return F.interpolate(x, size=(size, size), mode="nearest")
    if mode in ("bilinear", "bicubic"):
        return F.interpolate(x, size=(size, size), mode=mode, align_corners=False)
    return _resize_tf1(x, size)


def _tf1_axis(n_in: int, n_out: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    src = torch.arange(n_out, device=device, dtype=torch.float64) * (n_in / n_out)   # no half-pixel offset
    lo = src.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    return lo, hi, (src - lo).to(dtype)


def _resize_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    y0, y1, wy = _tf1_axis(x.shape[2], size, x.device, x.dtype)
    x0, x1, wx = _tf1_axis(x.shape[3], size, x.device, x.dtype)
    top = x[:, :, y0] * (1 - wy).view(1, 1, -1, 1) + x[:, :, y1] * wy.view(1, 1, -1, 1)     # (n, c, size, w)
    return top[..., x0] * (1 - wx) + top[..., x1] * wx                                      # (n, c, size, size)


class _Conv(nn.Module):
    """Convolution without bias + batch norm (eps 1e-3) + ReLU (the graph's basic unit)."""

    def __init__(self, c_in: int, c_out: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 3 × 3 average pooling ignores the zero padding
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _BlockA(nn.Module):          # 35 × 35 blocks (Mixed_5b–5d)
    def __init__(self, c_in: int, pool: int):
        super().__init__()
        self.branch1x1 = _Conv(c_in, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = _Conv(c_in, 48, 1), _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(c_in, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(c_in, pool, 1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg3(x))], 1)


class _BlockB(nn.Module):          # 35 → 17 reduction (Mixed_6a)
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = _Conv(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(c_in, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class _BlockC(nn.Module):          # 17 × 17 blocks with factorised 7 × 7 (Mixed_6b–6e)
    def __init__(self, c_in: int, c7: int):
        super().__init__()
        self.branch1x1 = _Conv(c_in, 192, 1)
        self.branch7x7_1 = _Conv(c_in, c7, 1)
        self.branch7x7_2 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _Conv(c_in, c7, 1)
        self.branch7x7dbl_2 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _Conv(c_in, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class _BlockD(nn.Module):          # 17 → 8 reduction (Mixed_7a)
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = _Conv(c_in, 192, 1), _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(c_in, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class _BlockE(nn.Module):          # 8 × 8 blocks with split 3 × 3 (Mixed_7b, 7c)
    def __init__(self, c_in: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool   # the 2015 graph max-pools in its last block (Mixed_7c)
        self.branch1x1 = _Conv(c_in, 320, 1)
        self.branch3x3_1 = _Conv(c_in, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _Conv(c_in, 448, 1)
        self.branch3x3dbl_2 = _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(c_in, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pooled)], 1)


class InceptionV3(nn.Module):
    """Inception-v3 (Szegedy et al. 2016) as frozen in the 2015-12-05 TensorFlow graph used by the FID
    and IS papers: 1,008 logits, 2,048-d pool features. Input: images (n, 3, h, w) in [−1, 1] (one
    channel is repeated to three); they are resized to 299 × 299 with ``resize_mode``.

    ``features(x)`` → (n, 2048) pool3 features (FID, KID, precision/recall);
    ``logits(x)`` → (n, 1008) logits without the bias (as torch-fidelity's ``logits_unbiased``,
    the IS convention); ``forward`` returns both."""

    num_features = 2048

    def __init__(self, resize_mode: str = "tf1-bilinear"):
        super().__init__()
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}")
        self.resize_mode = resize_mode
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = _BlockA(192, 32), _BlockA(256, 64), _BlockA(288, 64)
        self.Mixed_6a = _BlockB(288)
        self.Mixed_6b, self.Mixed_6c = _BlockC(768, 128), _BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = _BlockC(768, 160), _BlockC(768, 192)
        self.Mixed_7a = _BlockD(768)
        self.Mixed_7b, self.Mixed_7c = _BlockE(1280, max_pool=False), _BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        V.tensor(x, "x", ndim=4)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[1] != 3:
            raise ValueError(f"x must have 1 or 3 channels, got shape {tuple(x.shape)}")
        return resize(x, 299, self.resize_mode)                          # (n, 3, 299, 299)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._prepare(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))    # (n, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)                                     # (n, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))                        # (n, 192, 71, 71)
        x = F.max_pool2d(x, 3, stride=2)                                     # (n, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)                                                     # … (n, 2048, 8, 8)
        return x.mean((2, 3))                                                # (n, 2048)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.fc.weight.T                           # (n, 1008), no bias

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return f, f @ self.fc.weight.T


def inception_v3(weights: str | os.PathLike, resize_mode: str = "tf1-bilinear",
                 device: torch.device | str | None = None) -> InceptionV3:
    """Inception-v3 with the state dict in the file ``weights`` (pytorch-fid's
    ``pt_inception-2015-12-05-6726825d.pth`` or torch-fidelity's
    ``weights-inception-2015-12-05-6726825d.pth``), loaded with ``weights_only=True`` and strictly
    (every parameter name must match). Nothing is ever downloaded: fetch the file yourself.

    Inputs are images in [−1, 1] (the book's range; pytorch-fid maps [0, 1] there before the
    network, torch-fidelity maps uint8 u to (u − 128)/128, which differs by less than 0.5 %)."""
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be a path to a state-dict file, got {type(weights).__name__}")
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"no Inception weights at {weights!r}; ganbook never downloads them — save the "
                                f"pt_inception-2015-12-05 state dict there yourself")
    net = InceptionV3(resize_mode=resize_mode)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    net.requires_grad_(False)
    return net.eval().to(V.device_arg(device))
