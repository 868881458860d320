"""ganbook.infogan: the Barber–Agakov bound, Hungarian accuracy and MIG against independent references."""
import itertools
import math

import pytest
import torch

from ganbook import infogan


def test_gaussian_bound_is_tight_at_the_posterior_and_below_elsewhere():
    for s in (0.3, 1.0, 2.5):
        mi = infogan.gaussian_mi(s)
        a, v = 1 / (1 + s ** 2), s ** 2 / (1 + s ** 2)
        assert abs(infogan.gaussian_ba_bound(a, v, s) - mi) < 1e-12
        for da, dv in ((0.1, 0.0), (0.0, 0.3), (-0.2, -0.1)):
            assert infogan.gaussian_ba_bound(a + da, v * (1 + dv), s) < mi


def test_gaussian_bound_matches_monte_carlo():
    """The closed form equals the Monte Carlo estimate H(c) + mean log Q(c|x) from samples."""
    g = torch.Generator().manual_seed(0)
    s, a, v = 0.7, 0.5, 0.4
    c = torch.randn(400000, generator=g, dtype=torch.float64)
    x = c + s * torch.randn(400000, generator=g, dtype=torch.float64)
    log_q = -0.5 * (c - a * x) ** 2 / v - 0.5 * math.log(2 * math.pi * v)
    est = float(infogan.ba_bound(log_q, 0.5 * math.log(2 * math.pi * math.e)))
    assert abs(est - infogan.gaussian_ba_bound(a, v, s)) < 5e-3


def test_discrete_bound_gap_is_expected_kl():
    """For a discrete joint, H(c) + E log Q(c|x) = I(c;x) − E_x KL(p(c|x) ‖ Q(c|x)) (brute force)."""
    g = torch.Generator().manual_seed(1)
    joint = torch.rand(3, 5, generator=g, dtype=torch.float64)
    joint /= joint.sum()
    pc, px = joint.sum(1), joint.sum(0)
    post = joint / px
    q = torch.softmax(torch.randn(3, 5, generator=g, dtype=torch.float64), 0)
    hc = float(-(pc * pc.log()).sum())
    mi = float((joint * (joint / (pc[:, None] * px)).log()).sum())
    bound = hc + float((joint * q.log()).sum())
    kl = float((px * (post * (post / q).log()).sum(0)).sum())
    assert abs(bound - (mi - kl)) < 1e-12
    assert abs(hc + float((joint * post.log()).sum()) - mi) < 1e-12


def test_hungarian_accuracy_against_brute_force():
    g = torch.Generator().manual_seed(2)
    k = 4
    labels = torch.randint(0, k, (200,), generator=g)
    pred = torch.where(torch.rand(200, generator=g) < 0.7, (labels + 1) % k, torch.randint(0, k, (200,), generator=g))
    best = max(float((torch.tensor(perm)[pred] == labels).double().mean())
               for perm in itertools.permutations(range(k)))
    assert abs(infogan.hungarian_accuracy(pred, labels, k) - best) < 1e-12
    assert infogan.hungarian_accuracy((labels + 2) % k, labels, k) == 1.0


def test_discrete_mi_against_sklearn_and_mig():
    sk = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(3)
    a = torch.randint(0, 5, (3000,), generator=g)
    b = (a + torch.randint(0, 2, (3000,), generator=g)) % 5
    assert abs(infogan.discrete_mi(a, b) - sk.mutual_info_score(a.numpy(), b.numpy())) < 1e-9
    assert abs(infogan.discrete_entropy(a) - sk.mutual_info_score(a.numpy(), a.numpy())) < 1e-9
    # codes = the factors themselves, one each, plus a noise code: MIG = 1 exactly
    f = torch.randint(0, 6, (3000, 2), generator=g)
    noise = torch.randint(0, 6, (3000, 1), generator=g)
    score, mi = infogan.mig(torch.cat([f, noise], 1), f)
    assert mi.shape == (3, 2)
    h = torch.tensor([infogan.discrete_entropy(f[:, j]) for j in range(2)], dtype=torch.float64)
    second = torch.stack([mi[1, 0], mi[0, 1]]).maximum(mi[2])
    assert abs(score - float(((h - second) / h).mean())) < 1e-12
    # a code that mixes both factors equally: small gap
    mixed = (f[:, :1] + f[:, 1:]).expand(-1, 2).contiguous()
    assert infogan.mig(mixed, f)[0] < 0.05


def test_labelled_order_is_balanced():
    labels = torch.arange(10).repeat_interleave(30)
    order = infogan.labelled_order(labels, 10, torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == list(range(300))
    assert torch.bincount(labels[order[:20]], minlength=10).tolist() == [2] * 10


def test_train_runs_and_semi_supervised_learns_labels():
    """Tiny run: 2 members, one with 0 labels and one with 200; the supervised member's Q agrees with
    the labels better than chance by far (a 3-class toy of separated clusters)."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    centres = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]])
    labels = torch.randint(0, 3, (600,), generator=g)
    x = (centres[labels] + 0.1 * torch.randn(600, 4, generator=g)).clamp(-1, 1)
    p = infogan.preset("cpu", n_cat=3, n_cont=1, hidden=(32,), steps=150, batch=32, z_dim=2)
    run = infogan.train(x, p, members=2, labels=labels, n_labels=[0, 200], generator=g)
    assert run.info.shape == (150, 2)
    acc = infogan.accuracies(run.D, x, labels, 3)
    assert acc.shape == (2,) and float(acc[1]) > 0.9
    pred = infogan.predict(run.D, x)
    assert pred.shape == (2, 600)


def test_circles_factors_match_their_pixels_and_the_initial_copy_is_untrained():
    """Independent reference: the circle's centre and radius from its pixels (the coverage's centroid and
    area, area = πr² up to the ramp's ≈ 0.26 pixel² of :mod:`ganbook.shapes`)."""
    x, f = infogan.circles(200, 32, generator=torch.Generator().manual_seed(0))
    assert x.shape == (200, 32 * 32) and f.shape == (200, 3)
    assert float(f[:, :2].abs().max()) <= 0.3 and float(f[:, 2].min()) >= 0.25 and float(f[:, 2].max()) <= 0.45
    m = (x.reshape(200, 32, 32) + 1) / 2                                   # coverage in [0, 1]
    centres = (torch.arange(32) * 2 + 1) / 32 - 1                          # pixel centres, canvas units
    area = m.sum((1, 2))
    cx = (m.sum(1) * centres).sum(1) / area
    cy = (m.sum(2) * centres.flip(0)).sum(1) / area                        # rows count from the top, y up
    r = ((area - 0.26) / math.pi).sqrt() * 2 / 32                          # pixels² → canvas units
    assert float((cx - f[:, 0]).abs().max()) < 0.01 and float((cy - f[:, 1]).abs().max()) < 0.01
    assert float((r - f[:, 2]).abs().max()) < 0.01
    p = infogan.preset("cpu", n_cat=1, n_cont=3, hidden=(16,), steps=3, batch=8, z_dim=2)
    torch.manual_seed(0)
    run = infogan.train(x, p, members=2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    infogan.Generator(p.z_dim, p.n_cat + p.n_cont, x.shape[1], p.hidden, members=2)
    fresh = infogan.InfoD(x.shape[1], p.n_cat, p.n_cont, p.hidden, members=2)   # the same draws as train's D
    for a, b, c in zip(run.D_init.parameters(), fresh.parameters(), run.D.parameters()):
        assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_input():
    with pytest.raises(ValueError, match="pred and labels"):
        infogan.hungarian_accuracy(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="codes"):
        infogan.mig(torch.zeros(5, 1), torch.zeros(5, 1))
    with pytest.raises(ValueError, match="noise_std"):
        infogan.gaussian_mi(0.0)
    with pytest.raises(ValueError, match="preset"):
        infogan.preset("tpu")
    with pytest.raises(ValueError, match="n_labels"):
        infogan.train(torch.zeros(10, 4), infogan.preset("cpu", steps=1), members=2, n_labels=[0, 1])


def test_info_bound_check_accepts_a_correct_bound_and_rejects_mistakes():
    from ganbook.check import CheckFailed
    from ganbook.check.conditioning import info_bound

    def mine(logits, c):
        return math.log(logits.shape[-1]) + torch.log_softmax(logits, -1).gather(-1, c[:, None]).mean()

    info_bound(mine, quiet=True)
    wrong = (lambda lg, c: torch.log_softmax(lg, -1).gather(-1, c[:, None]).mean(),                 # no H(c)
             lambda lg, c: math.log(lg.shape[-1]) + torch.softmax(lg, -1).gather(-1, c[:, None]).mean(),
             lambda lg, c: math.log(lg.shape[-1]) + lg.gather(-1, c[:, None]).mean())
    for fn in wrong:
        with pytest.raises(CheckFailed):
            info_bound(fn, quiet=True)
