"""Feature extractors: the shipped digits classifier, the Inception-v3 path (shapes and flow only,
random weights: the real ones are never downloaded in CI), the explicit resize step, and the
exercise checks of chapter 15."""
import os

import pytest
import torch

from ganbook import check
from ganbook import metrics as M
from ganbook.data import digits
from ganbook.metrics.features import resize, weights_path


def test_shipped_classifier_is_small_loads_safely_and_is_accurate():
    path = weights_path("digits")
    assert os.path.getsize(path) < 1_000_000
    state = torch.load(path, weights_only=True)                    # a plain state dict of tensors
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    net = M.digits_classifier()
    x, y = digits()
    held = M.digits_split()["heldout"]
    acc = float((M.extract(net, x[held]).argmax(1) == y[held]).double().mean())
    assert acc > 0.96                                              # on the 901 images it never saw
    f = M.extract(net.features, x[:10])
    assert f.shape == (10, 64) and f.dtype == torch.float64 and bool((f >= 0).all())   # after a ReLU


def test_digits_split_is_a_stratified_partition():
    split = M.digits_split(0)
    a, b = split["train"], split["heldout"]
    assert len(a) + len(b) == 1797 and len(set(a.tolist()) & set(b.tolist())) == 0
    _, y = digits()
    counts_a, counts_b = torch.bincount(y[a], minlength=10), torch.bincount(y[b], minlength=10)
    assert bool(((counts_b - counts_a) >= 0).all() and ((counts_b - counts_a) <= 1).all())
    assert torch.equal(M.digits_split(0)["train"], a)


def test_extract_does_not_depend_on_batch_size():
    net = M.digits_classifier()
    x, _ = digits()
    a = M.extract(net.features, x[:300], batch_size=300)
    b = M.extract(net.features, x[:300], batch_size=7)
    assert torch.allclose(a, b, atol=1e-5)


def test_classifier_rejects_bad_input():
    net = M.digits_classifier()
    with pytest.raises(ValueError, match=r"\(n, 1, 8, 8\)"):
        net(torch.zeros(2, 1, 28, 28))
    with pytest.raises(FileNotFoundError, match="train them"):
        M.features.load_classifier("/nonexistent/weights.pt")


def test_resize_modes_against_hand_computed_values():
    row = torch.tensor([[[[0.0, 4.0]]]]).expand(1, 1, 2, 2)       # a 2 × 2 image with columns 0 and 4
    # TensorFlow 1.x bilinear (align_corners=False): source x = i · 2/4 = 0, 0.5, 1, 1.5 → clamp at the
    # last pixel: 0, 2, 4, 4
    assert resize(row, 4, "tf1-bilinear")[0, 0, 0].tolist() == [0.0, 2.0, 4.0, 4.0]
    # PyTorch bilinear, half-pixel centres: source x = (i + 0.5)/2 − 0.5 = −0.25 (clamped), 0.25, 0.75, 1.25
    assert resize(row, 4, "bilinear")[0, 0, 0].tolist() == [0.0, 1.0, 3.0, 4.0]
    assert resize(row, 4, "nearest")[0, 0, 0].tolist() == [0.0, 0.0, 4.0, 4.0]
    assert resize(torch.zeros(3, 2, 8, 8), 299, "bicubic").shape == (3, 2, 299, 299)
    with pytest.raises(ValueError, match="mode must be one of"):
        resize(row, 4, "area")


def test_inception_shapes_and_weight_loading(tmp_path):
    torch.manual_seed(0)
    net = M.InceptionV3(resize_mode="bilinear").eval()
    # parameter names follow the pt_inception-2015-12-05 state dict (pytorch-fid / torch-fidelity)
    keys = net.state_dict().keys()
    for key in ("Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.running_var", "Mixed_5b.branch5x5_2.conv.weight",
                "Mixed_6e.branch7x7dbl_5.bn.bias", "Mixed_7c.branch3x3dbl_3b.conv.weight", "fc.weight", "fc.bias"):
        assert key in keys, key
    assert net.fc.weight.shape == (1008, 2048)
    x = torch.rand(1, 1, 8, 8) * 2 - 1                              # one channel, tiny: resized to 299
    with torch.no_grad():
        feats, logits = net(x)
    assert feats.shape == (1, 2048) and logits.shape == (1, 1008) and bool(torch.isfinite(feats).all())
    path = tmp_path / "inception.pt"
    torch.save(net.state_dict(), path)
    loaded = M.inception_v3(path, resize_mode="bilinear")
    with torch.no_grad():
        assert torch.allclose(loaded.features(x), feats, atol=1e-5)
    assert not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(FileNotFoundError, match="never downloads"):
        M.inception_v3(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="1 or 3 channels"):
        net.features(torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match="resize_mode"):
        M.InceptionV3(resize_mode="lanczos")


def _my_fid(a, b):
    from scipy.linalg import sqrtm

    c1, c2 = torch.cov(a.T).numpy(), torch.cov(b.T).numpy()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + c1.trace() + c2.trace() - 2 * sqrtm(c1 @ c2).real.trace())


def _my_kid(x, y):
    """The unbiased MMD² with k(a, b) = (aᵀb/d + 1)³ by a double loop over pairs (the U-statistic as
    written, independent of the package's blocked matrix code)."""
    x, y = x.double().numpy(), y.double().numpy()
    d = x.shape[1]
    k = lambda a, b: (float(a @ b) / d + 1.0) ** 3
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_exercise_checks_accept_solutions_and_reject_mistakes():
    check.fid_from_features(_my_fid)
    check.kid_unbiased(_my_kid)

    def biased_cov_fid(a, b):
        from scipy.linalg import sqrtm

        c1, c2 = torch.cov(a.T, correction=0).numpy(), torch.cov(b.T, correction=0).numpy()
        return float(((a.mean(0) - b.mean(0)) ** 2).sum() + c1.trace() + c2.trace() - 2 * sqrtm(c1 @ c2).real.trace())

    with pytest.raises(check.CheckFailed, match="biased covariances"):
        check.fid_from_features(biased_cov_fid)

    def biased_mmd(x, y):
        k = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3
        return float(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())

    with pytest.raises(check.CheckFailed, match="biased estimate"):
        check.kid_unbiased(biased_mmd)
