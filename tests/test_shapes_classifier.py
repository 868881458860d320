"""The shapes classifier (features for FID/KID/precision–recall on ganbook.data.shapes): the shipped
weights are small, load safely and are accurate on fresh images from seeds never used in training
(the data set's own factors are the reference), retraining repeats bit for bit, the input checks,
the area downsampling against a reshape-mean, and what its FID sees: two disjoint real samples are
close, a blurred copy is far, another rendering size is close."""
from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn.functional as F

from ganbook import metrics as M
from ganbook import shapes as S
from ganbook.metrics import train_classifier as T
from ganbook.metrics.features import ShapesCNN, weights_path

TRAIN_SEED = 0          # the generator seed of the shipped run; every seed below differs from it


def images(seed: int, n: int = 2000, size: int = 16, background: str = "plain") -> S.ShapesBatch:
    return S.shapes(n, size, generator=torch.Generator().manual_seed(seed), background=background)


@pytest.fixture(scope="module")
def net() -> ShapesCNN:
    return M.shapes_classifier()


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_shipped_weights_are_small_and_a_plain_state_dict():
    path = weights_path("shapes")
    assert os.path.getsize(path) < 200 * 1024
    state = torch.load(path, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert set(state) == set(ShapesCNN().state_dict())
    assert float(state["feature_scale"]) > 0


@pytest.mark.parametrize("background, seed", [("plain", 11), ("textured", 12)])
def test_class_accuracy_on_fresh_images_at_two_sizes(net, background, seed):
    for size, n in ((16, 2000), (64, 1000)):     # the same scenes, rendered at 16 × 16 and at 64 × 64
        b = images(seed, n, size, background)
        pred = M.extract(net, b.images).argmax(1)
        assert float((pred == b.factors["label"]).double().mean()) >= 0.97, (background, size)


def test_factor_regression_errors_on_fresh_images(net):
    for seed, background in ((13, "plain"), (14, "textured")):
        b = images(seed, 2000, 16, background)
        with torch.no_grad():
            pred = net.factors(b.images)
        truth = b.factors
        assert pred["color"].shape == (2000, 3) and all(pred[k].shape == (2000,) for k in ("x", "y", "scale", "angle"))
        rmse = {k: float((pred[k] - truth[k]).pow(2).mean().sqrt()) for k in ("x", "y", "scale", "color")}
        # canvas units: a 16 × 16 pixel is 0.125 wide; x, y span 0.6, the scale 0.2, each colour channel ≈ 1
        assert rmse["x"] < 0.05 and rmse["y"] < 0.05, rmse
        assert rmse["scale"] < 0.05 and rmse["color"] < 0.08, rmse
        # the angle modulo the symmetry of the true class (2π/k), where the class is right and has one
        k = torch.tensor([S.SYMMETRY[c] for c in S.CLASSES])[truth["label"]]
        circle = truth["label"] == S.CLASSES.index("circle")
        right = pred["label"] == truth["label"]
        assert bool(pred["angle"][right & circle].isnan().all())
        ok = right & ~circle
        period = 2 * math.pi / k[ok]
        assert bool(((pred["angle"][ok] >= 0) & (pred["angle"][ok] < period)).all())
        diff = torch.remainder(pred["angle"][ok] - truth["angle"][ok], period)
        err = torch.minimum(diff, period - diff)
        assert math.degrees(float(err.median())) < 10


def test_retraining_repeats_bit_for_bit_and_depends_on_the_seed(one_thread):
    a = T.train_shapes(seed=3, epochs=1, n=1024).state_dict()
    b = T.train_shapes(seed=3, epochs=1, n=1024).state_dict()
    c = T.train_shapes(seed=4, epochs=1, n=1024).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc.weight"], c["fc.weight"])
    # feature_scale: E‖f‖²/64 = 1 on the last epoch's images, recomputed here from the unscaled features
    net = ShapesCNN()
    net.load_state_dict(a)
    net.eval()
    x, *_ = T.shapes_training_images(1024, torch.Generator().manual_seed(5))
    with torch.no_grad():
        f = net.features(x).double()
    assert 0.5 < float(f.pow(2).sum(1).mean() / 64) < 2.0      # fresh images from the same distribution


def test_training_images_mix_backgrounds_and_sizes():
    x, label, target, mask = T.shapes_training_images(512, torch.Generator().manual_seed(0))
    assert x.shape == (512, 3, 16, 16) and label.shape == (512,) and target.shape == (512, 8)
    assert bool((target.abs() <= 1 + 1e-6).all())                   # every target mapped into [−1, 1]
    assert torch.equal(mask, (label != S.CLASSES.index("circle")).float())
    textured = (x > -1 + 1e-6).flatten(1).all(1)                      # no pixel left at the plain black
    assert int(textured.sum()) == 256                                  # half of the images


def test_features_logits_factors_shapes_and_area_downsampling(net):
    b = images(21, 8, 64)
    x64 = b.images
    x16 = x64.reshape(8, 3, 16, 4, 16, 4).mean((3, 5))              # the area mean, written out
    with torch.no_grad():
        f64, f16 = net.features(x64), net.features(x16)
        logits = net.logits(x64)
        fac = net.factors(images(21, 8, 32).images)
    assert f64.shape == (8, 64) and bool((f64 >= 0).all())          # after a ReLU
    assert torch.allclose(f64, f16, atol=1e-5)
    assert logits.shape == (8, 4) and torch.equal(net(x64), logits)
    assert set(fac) == {"label", "x", "y", "scale", "color", "angle"} and fac["label"].dtype == torch.long
    assert not any(p.requires_grad for p in net.parameters()) and not net.training


def test_bad_input_is_rejected(net):
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3, S, S\)"):
        net.features(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match="multiple of 16"):
        net.features(torch.zeros(2, 3, 24, 24))
    with pytest.raises(ValueError, match="multiple of 16"):
        net.logits(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="multiple of 16"):
        net.factors(torch.zeros(2, 3, 16, 32))
    with pytest.raises(ValueError, match="x must have 4 dimension"):
        net.features(torch.zeros(3, 16, 16))
    with pytest.raises(ValueError, match="NaN"):
        net.features(torch.full((1, 3, 16, 16), math.nan))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        net.features([[0.0]])
    with pytest.raises(ValueError, match="dataset must be one of"):
        weights_path("cifar")
    with pytest.raises(ValueError, match="seed"):
        T.train_shapes(seed=-1)


def blur(x: torch.Tensor) -> torch.Tensor:
    """3 × 3 box blur with replicated borders."""
    return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def test_fid_and_kid_separate_real_from_corrupted_and_ignore_the_rendering_size(net):
    # measured over 10 disjoint seed pairs: real-vs-real FID 0.02–0.14, blurred 21–24; KID real-vs-real
    # within ±0.015, blurred ≥ 2.3; another rendering size (64 × 64, area-downsampled) 0.18–0.61
    a, b = images(31).images, images(32).images
    fa, fb = M.extract(net.features, a), M.extract(net.features, b)
    f_blur = M.extract(net.features, blur(b))
    real = M.fid(fa, fb)
    blurred = M.fid(fa, f_blur)
    assert real < 0.5 and blurred > 20 * real and blurred > 5
    gen = torch.Generator().manual_seed(0)
    kid_real, kid_blur = M.kid(fa, fb, subsets=20, generator=gen), M.kid(fa, f_blur, subsets=20, generator=gen)
    assert abs(kid_real.mean) < 0.05 and kid_blur.mean > 0.5
    other_size = M.fid(fa, M.extract(net.features, images(32, size=64).images))
    assert other_size < 2.0 and other_size < 0.1 * blurred


def test_class_histogram_of_a_generator_that_drops_two_classes(net):
    """The class histogram is metrics.class_stats of the predicted labels: a sampler drawing only
    squares and circles shows 2 of 4 modes and reverse KL ≈ log 2 against the uniform classes."""
    full = M.class_stats(M.extract(net, images(41).images).argmax(1), 4, min_count=20)
    assert full.modes == 4 and full.reverse_kl < 0.01
    two = S.shapes(2000, 16, generator=torch.Generator().manual_seed(42), classes=("square", "circle"))
    dropped = M.class_stats(M.extract(net, two.images).argmax(1), 4, min_count=20)
    assert dropped.modes == 2 and abs(dropped.reverse_kl - math.log(2)) < 0.05


@pytest.mark.cuda
def test_cuda_features_match_the_cpu():
    cpu, gpu = M.shapes_classifier(), M.shapes_classifier(device="cuda")
    x = images(51, 500, 32, "textured").images
    with torch.no_grad():
        a, b = cpu.features(x), gpu.features(x.cuda())
    assert b.device.type == "cuda" and torch.allclose(a, b.cpu(), atol=1e-3, rtol=1e-3)
