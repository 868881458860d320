"""ganbook.refiner (chapter 11b): the haze camera against its closed form, the refiner's start at the
identity and its members' independence, the history buffer's training smoke test, the paired classifiers
(identical training sets give identical members) and the accuracy against a brute-force count."""
import pytest
import torch

from ganbook import refiner as R
from ganbook.translation import translate


def test_camera_is_the_haze_closed_form():
    x = torch.full((1, 3, 2, 2), -1.0)                       # black
    x[0, :, 0, 0] = 1.0                                      # one white pixel
    y = R.camera(x, airlight=(0.8, 0.6, 0.2), transmission=0.25)
    a = torch.tensor([0.8, 0.6, 0.2])
    assert torch.allclose(y[0, :, 1, 1], 2 * 0.75 * a - 1)            # background: (1 − t)·A, in [−1, 1]
    assert torch.allclose(y[0, :, 0, 0], 2 * (0.25 + 0.75 * a) - 1)   # white: t + (1 − t)·A
    with pytest.raises(ValueError, match="transmission"):
        R.camera(x, transmission=0.0)


def test_task_draws_four_disjoint_sets_and_hazes_the_real_ones():
    t = R.simgan_task(20, generator=torch.Generator().manual_seed(0))
    assert t["synthetic"].shape == (20, 3, 16, 16) and t["real_test"].shape == (10, 3, 16, 16)
    assert float(t["synthetic"].min()) == -1.0                        # black backgrounds
    assert float(t["real"].min()) > -1.0 + 1e-3                       # no black left under the haze
    assert not torch.equal(t["synthetic"], R.camera(t["synthetic"]))
    with pytest.raises(ValueError, match="n"):
        R.simgan_task(2)


def test_refiner_starts_near_the_identity_and_members_are_independent():
    torch.manual_seed(0)
    ref = R.Refiner(3, 8, members=2)
    x = torch.rand(2, 5, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        out = ref(x)
    assert float((out - x).abs().mean()) < 0.05
    x2 = x.clone()
    x2[1] += 0.5
    with torch.no_grad():
        assert torch.equal(ref(x2)[0], ref(x)[0])
    with pytest.raises(ValueError):
        ref(torch.rand(3, 5, 3, 16, 16))


def test_train_refiner_with_and_without_history_runs_and_is_finite():
    t = R.simgan_task(40, generator=torch.Generator().manual_seed(1))
    for history in (0, 8):
        ref = R.train_refiner(t["synthetic"], t["real"], members=2, steps=3, batch=4, width=4, history=history)
        out = translate(ref, t["synthetic"][:6])
        assert out.shape == (2, 6, 3, 16, 16) and bool(torch.isfinite(out).all()) and float(out.abs().max()) <= 1
    with pytest.raises(ValueError, match="history"):
        R.train_refiner(t["synthetic"], t["real"], members=1, steps=1, history=-1)


def test_paired_classifiers_identical_sets_give_identical_members_and_accuracy_counts():
    t = R.simgan_task(40, generator=torch.Generator().manual_seed(2))
    x = t["synthetic"][None].expand(2, -1, -1, -1, -1)
    pools = torch.cat([x, x, R.camera(x)])                                 # sets 0 and 1 identical
    net = R.train_classifiers(pools, t["synthetic_labels"], seeds=2, steps=5, batch=8, width=4)
    test = t["synthetic_test"]
    with torch.no_grad():
        logits = net(test[None].expand(6, -1, -1, -1, -1))
    assert torch.allclose(logits[0:2], logits[2:4], atol=1e-6)             # same seed, same data: same net
    assert not torch.allclose(logits[0:2], logits[4:6], atol=1e-3)         # different data: different net
    acc = R.accuracy(net, test, t["synthetic_test_labels"])
    brute = [sum(int(logits[e, i].argmax()) == int(t["synthetic_test_labels"][i]) for i in range(len(test))) / len(test)
             for e in range(6)]
    assert torch.allclose(acc, torch.tensor(brute), atol=1e-6)
    with pytest.raises(ValueError, match="seeds"):
        R.train_classifiers(pools[:5], t["synthetic_labels"], seeds=2, steps=1)
