"""ganbook.conditional: conditional networks, AC-GAN's losses and the exact toy of its bias."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

from ganbook import conditional as C


def test_discriminator_shapes_and_members_independent():
    for kind in C.KINDS:
        D = C.discriminator(kind, 6, 3, (8,), members=2)
        x, y = torch.randn(2, 5, 6), torch.randint(0, 3, (2, 5))
        out = D(x, y)
        if kind == "acgan":
            assert out[0].shape == (2, 5) and out[1].shape == (2, 5, 3)
        else:
            assert out.shape == (2, 5)
            # member 1's inputs do not change member 0's outputs
            x2 = x.clone()
            x2[1] += 1
            assert torch.equal(D(x2, y)[0], out[0])


def test_projection_is_psi_plus_inner_product():
    torch.manual_seed(0)
    D = C.ProjectionD(4, 3, (5, 6), members=1)
    x, y = torch.randn(1, 7, 4), torch.randint(0, 3, (1, 7))
    phi = D.net.features(x)[0]
    w, b = D.net.weights[-1][0], D.net.biases[-1][0]
    ref = (phi @ w + b).squeeze(-1) + (D.embed[0][y[0]] * phi).sum(-1)
    assert torch.allclose(D(x, y)[0], ref, atol=1e-6)


def test_acgan_losses_against_hand_written_cross_entropy():
    g = torch.Generator().manual_seed(1)
    sr, sf = torch.randn(2, 8, generator=g), torch.randn(2, 8, generator=g)
    cr, cf = torch.randn(2, 8, 4, generator=g), torch.randn(2, 8, 4, generator=g)
    yr, yf = torch.randint(0, 4, (2, 8), generator=g), torch.randint(0, 4, (2, 8), generator=g)
    bce = lambda s, t: F.binary_cross_entropy_with_logits(s, torch.full_like(s, t))   # noqa: E731
    ce = lambda c, y: -torch.log_softmax(c, -1).gather(-1, y[..., None]).mean()        # noqa: E731
    ref_d = bce(sr, 1.0) + bce(sf, 0.0) + 0.5 * (ce(cr, yr) + ce(cf, yf))
    got_d = C.acgan_d_loss((sr, cr), (sf, cf), real_labels=yr, fake_labels=yf, class_weight=0.5)
    assert torch.allclose(got_d, ref_d, atol=1e-6)
    ref_g = bce(sf, 1.0) + 0.5 * ce(cf, yf)
    assert torch.allclose(C.acgan_g_loss((sf, cf), fake_labels=yf, class_weight=0.5), ref_g, atol=1e-6)


def test_jsd_closed_form():
    p = torch.tensor([1.0, 0.0], dtype=torch.float64)
    q = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert abs(float(C.jsd(p, q)) - math.log(2)) < 1e-12
    assert float(C.jsd(p, p)) == 0.0


def test_toy_without_class_loss_keeps_p_and_with_it_narrows_classes():
    """λ = 0: the data q = p is a stationary point (zero gradient, brute-force finite differences agree).
    λ = 1: it is not, and the optimum's conditional laws move away from the boundary x = 0 and narrow (the
    bias of AC-GAN)."""
    assert float(C.toy_gradient_at_data(0.0).abs().max()) < 1e-12
    grad1 = C.toy_gradient_at_data(1.0)
    x, p = C.toy_gaussians()
    dq = torch.zeros_like(p)
    dq[0, 150], dq[0, 100] = -1e-3, 1e-3          # class 0: mass from the boundary x = 0 to x = −2
    assert float((grad1 * dq).sum()) < -1e-5      # moving class-0 mass away from the boundary lowers the loss
    r1 = C.acgan_toy(1.0, steps=800)
    m, s = C.moments(r1.x, r1.q)
    assert bool((s < 0.9).all()) and float(m[1] - m[0]) > 2.4
    wrong_side = float((r1.q[0] * (r1.x > 0)).sum())
    assert wrong_side < 0.01 < float((r1.p[0] * (r1.x > 0)).sum())


def test_toy_objective_gradient_is_against_a_fixed_classifier():
    """The class term's gradient equals −π_c log D*(c|x) with D* frozen (not differentiated)."""
    x, p = C.toy_gaussians(points=21)
    q = torch.softmax(torch.randn(2, 21, dtype=torch.float64), 1).requires_grad_(True)
    loss = C.acgan_toy_objective(q, p, 1.0) - C.jsd(p.sum(0) / 2, q.sum(0) / 2)
    (grad,) = torch.autograd.grad(loss, q)
    post = (p + q.detach()) / (p + q.detach()).sum(0)
    assert torch.allclose(grad, -0.5 * post.log(), atol=1e-12)


def test_train_and_sample_tiny():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(50, 6) * 2 - 1
    y = torch.randint(0, 3, (50,), generator=g)
    for kind in C.KINDS:
        run = C.train(kind, x, y, 3, C.preset("cpu", steps=5, hidden=(8,), batch=4), members=2, generator=g)
        assert run.d_loss.shape == (5,)
        s = C.sample(run.G, torch.tensor([0, 1, 2]), 3, generator=g)
        assert s.shape == (2, 3, 6) and float(s.abs().max()) <= 1


def test_bad_input():
    with pytest.raises(ValueError, match="kind"):
        C.discriminator("wgan", 4, 2)
    with pytest.raises(ValueError, match="y must lie"):
        C.one_hot(torch.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="long"):
        C.one_hot(torch.tensor([0, 1], dtype=torch.int32), 3)
    with pytest.raises(ValueError, match="preset"):
        C.preset("tpu")
    with pytest.raises(ValueError, match="class_weight"):
        C.acgan_toy(-1.0)
    with pytest.raises(ValueError, match="y must have shape"):
        C.train("cgan", torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), 2, C.preset("cpu"), members=1)


# --- ganbook.conditional_conv: the convolutional conditional GAN on shapes ---------------------------

def test_rgb_to_hue_matches_colorsys_and_shapes_colours():
    import colorsys

    from ganbook import conditional_conv as CC
    from ganbook import shapes as S

    g = torch.Generator().manual_seed(3)
    h, s, v = torch.rand(3, 200, generator=g)
    rgb = S._hsv_to_rgb(h, 0.6 + 0.4 * s, 0.7 + 0.3 * v)
    ref = torch.tensor([colorsys.rgb_to_hsv(*map(float, c))[0] for c in rgb])
    assert torch.allclose(CC.rgb_to_hue(rgb), ref, atol=1e-5)
    assert torch.allclose(CC.rgb_to_hue(rgb.double()), h.double(), atol=1e-5)     # the drawn hue comes back
    assert float(CC.rgb_to_hue(torch.tensor([0.5, 0.5, 0.5]))) == 0.0              # grey: hue 0 by convention
    assert CC.hue_bin(torch.tensor([0.0, 0.249, 0.25, 0.99, 1.0])).tolist() == [0, 0, 1, 3, 0]
    with pytest.raises(ValueError, match="rgb"):
        CC.rgb_to_hue(torch.rand(4, 2))


def test_foreground_hue_is_exact_on_real_shapes():
    from ganbook import conditional_conv as CC
    from ganbook.data import shapes

    b = shapes(300, 16, generator=torch.Generator().manual_seed(5))
    hue, found = CC.foreground_hue(b.images)
    assert bool(found.all())
    true = CC.rgb_to_hue(b.factors["color"])
    diff = (hue - true).abs()
    assert float(torch.minimum(diff, 1 - diff).max()) < 1e-4
    empty = -torch.ones(2, 3, 16, 16)                                             # black images: no object
    assert not CC.foreground_hue(empty)[1].any()


def test_condition_places_two_one_hots():
    from ganbook import conditional_conv as CC

    labels, bins = torch.tensor([0, 3, 2]), torch.tensor([1, 0, 3])
    c = CC.condition(labels, bins)
    ref = torch.zeros(3, 8)
    for i, (k, b) in enumerate(zip(labels.tolist(), bins.tolist())):
        ref[i, k] = 1.0
        ref[i, 4 + b] = 1.0
    assert torch.equal(c, ref)
    with pytest.raises(ValueError, match="one shape"):
        CC.condition(labels, bins[:2])


def test_conv_projection_is_psi_plus_brute_force_inner_product():
    from ganbook import conditional_conv as CC

    torch.manual_seed(0)
    D = CC.CondProjectionD(8, 16, 4, members=2).requires_grad_(False)
    with torch.no_grad():
        D.embed.normal_()
    x = torch.randn(2, 5, 3, 16, 16)
    c = CC.condition(torch.randint(0, 4, (2, 5)), torch.randint(0, 4, (2, 5)))
    with torch.no_grad():
        out, phi = D(x, c), D.net.features(x)
        # the last feature map straight from the grouped convolutions: (n, E·c, b, b), member e in block e
        maps = D.net.body(x.permute(1, 0, 2, 3, 4).reshape(5, 6, 16, 16))
    k = D.net.c_last
    for e in range(2):
        for i in range(5):
            pooled = [float(maps[i, e * k + ch].sum()) for ch in range(k)]          # sum over positions
            proj = sum(float(c[e, i, j]) * float(D.embed[e, j, ch]) * pooled[ch] for j in range(8) for ch in range(k))
            psi = float(phi[e, i] @ D.net.head.weight[e, :, 0] + D.net.head.bias[e, 0, 0])
            assert abs(float(out[e, i]) - (psi + proj)) < 1e-4
            for cls in range(4):                                                    # class logits e_kᵀ pool(φ)
                ref = sum(float(D.embed[e, cls, ch]) * pooled[ch] for ch in range(k))
                assert abs(float(D.class_logits(phi)[e, i, cls]) - ref) < 1e-4


def test_conv_members_are_independent():
    from ganbook import conditional_conv as CC

    torch.manual_seed(1)
    G = CC.CondGenerator(6, 8, 16, 4, members=2)
    D = CC.CondProjectionD(8, 16, 4, members=2)
    z = torch.randn(2, 7, 6)
    c = CC.condition(torch.randint(0, 4, (2, 7)), torch.randint(0, 4, (2, 7)))
    x = G(z, c)
    assert x.shape == (2, 7, 3, 16, 16) and float(x.detach().abs().max()) <= 1
    z2, x2 = z.clone(), x.detach().clone()
    z2[1] += 1.0
    x2[1] += 1.0
    assert torch.equal(G(z2, c)[0], x[0])                                         # member 1's noise leaves member 0 alone
    assert torch.equal(D(x2, c)[0], D(x.detach(), c)[0])
    with pytest.raises(ValueError, match="c must"):
        G(z, c[..., :5])


def test_conv_train_smoke_and_accuracies_on_real_images():
    from ganbook import conditional_conv as CC
    from ganbook import metrics

    p = CC.preset("cpu", steps=3, data=64, width=4, batch=8)
    data = CC.shapes_data(p, generator=torch.Generator().manual_seed(0))
    run = CC.train(p, data, members=2, seed=0)
    assert run.losses.shape == (3, 2) and bool(torch.isfinite(run.losses).all())
    extra = CC.train(CC.preset("cpu", steps=2, data=64, width=4, batch=8, stem=4, mismatch=1.0, real_class=1.0),
                     data, members=2, seed=0)
    assert extra.D.stem is not None and bool(torch.isfinite(extra.losses).all())
    x, labels, bins = CC.sample_grid(run.G, 2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 32, 3, 16, 16) and labels.tolist()[:4] == [0, 0, 0, 0] and bins.tolist()[:4] == [0, 0, 1, 1]
    # on real images with their own labels and bins, both accuracies are (nearly) 1
    acc_c, acc_h = CC.accuracies(data.images[None], data.labels, data.bins, metrics.shapes_classifier())
    assert float(acc_c[0]) > 0.95 and float(acc_h[0]) == 1.0
    with pytest.raises(ValueError, match="preset"):
        CC.preset("tpu")


def test_conv_shapes_data_position_narrows_the_centres_only():
    """position = 0: every object's coverage centroid is the canvas centre (computed from the pixels); the
    labels and colours are those of the full data set drawn from the same seed; bad values are refused."""
    from ganbook import conditional_conv as CC

    full = CC.shapes_data(CC.preset("cpu", data=50, image_size=32), generator=torch.Generator().manual_seed(3))
    cen = CC.shapes_data(CC.preset("cpu", data=50, image_size=32, position=0.0), generator=torch.Generator().manual_seed(3))
    assert torch.equal(full.labels, cen.labels) and torch.equal(full.bins, cen.bins)
    m = (cen.images.amax(1) + 1) / 2                                       # (n, 32, 32) coverage × brightness
    w = torch.arange(32, dtype=torch.float32) - 15.5
    cx = (m.sum(1) * w).sum(1) / m.sum((1, 2))
    cy = (m.sum(2) * w).sum(1) / m.sum((1, 2))
    # the centroid of a shape is its centre (module docstring); the heart's tip makes antialiasing asymmetric
    assert float(cx.abs().max()) < 0.3 and float(cy.abs().max()) < 0.3
    mf = (full.images.amax(1) + 1) / 2
    assert float(((mf.sum(1) * w).sum(1) / mf.sum((1, 2))).abs().max()) > 2       # the full data set moves them
    with pytest.raises(ValueError, match="position"):
        CC.shapes_data(CC.preset("cpu", data=8, position=1.5))


def test_fused_adam_matches_the_reference_adam():
    """conditional.adam (fused on the CPU) against torch's default single-tensor Adam on the same gradients."""
    p = C.preset("cpu", lr=1e-2)
    a = [torch.nn.Parameter(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))]
    b = [torch.nn.Parameter(a[0].detach().clone())]
    opt_a, opt_b = C.adam(a, p), torch.optim.Adam(b, lr=p.lr, betas=p.betas, foreach=False)
    for k in range(5):
        grad = torch.randn(3, 4, generator=torch.Generator().manual_seed(k + 1))
        a[0].grad, b[0].grad = grad.clone(), grad.clone()
        opt_a.step()
        opt_b.step()
    assert torch.allclose(a[0], b[0], atol=1e-6)


def test_train_kinds_returns_one_run_per_kind_and_refuses_bad_kinds():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x, y = torch.rand(30, 4) * 2 - 1, torch.randint(0, 3, (30,), generator=g)
    p = C.preset("cpu", steps=4, hidden=(8,), batch=4)
    runs = C.train_kinds(("cgan", "acgan"), x, y, 3, p, members=[2, 3], generator=g)
    assert [r.G.members for r in runs.values()] == [2, 3] and runs["acgan"].d_loss.shape == (4,)
    assert C.sample(runs["acgan"].G, torch.arange(3), 3, generator=g).shape == (3, 3, 4)
    with pytest.raises(ValueError, match="kinds"):
        C.train_kinds(("cgan", "cgan"), x, y, 3, p, members=[1, 1])
    with pytest.raises(ValueError, match="kinds"):
        C.train_kinds(("cgan",), x, y, 3, p, members=[1, 1])


def test_conv_step_fake_class_adds_the_hand_computed_cross_entropy_to_g_loss():
    """G's optional class term: fake_class × −log softmax(e_kᵀ pool φ(G(z, c)))_y, computed here by hand from
    the class logits; with fake_class = 0 the step is the plain conditional game."""
    from ganbook import conditional_conv as CC

    torch.manual_seed(2)
    G = CC.CondGenerator(6, 8, 16, 4, members=2)
    D = CC.CondProjectionD(8, 16, 4, members=2)
    real = torch.rand(2, 5, 3, 16, 16) * 2 - 1
    labels = torch.randint(0, 4, (2, 5))
    c = CC.condition(labels, torch.randint(0, 4, (2, 5)))
    z = torch.randn(2, 5, 6)
    out = {}
    for w in (0.0, 0.7):
        g, d = copy.deepcopy(G), copy.deepcopy(D)
        opt = [torch.optim.SGD(m.parameters(), lr=0.0) for m in (g, d)]     # lr 0: the losses of one state
        out[w] = CC.step(g, d, opt[0], opt[1], real, c, z, c, fake_class=w)
        if w:
            with torch.no_grad():
                logits = d.class_logits(d.features(g(z, c)))                     # (2, 5, 4)
                log_p = logits - logits.exp().sum(-1, keepdim=True).log()
                ce = -sum(float(log_p[e, i, labels[e, i]]) for e in range(2) for i in range(5)) / 10
    assert torch.allclose(out[0.7][0], out[0.0][0])                              # D's loss unchanged
    assert abs(float(out[0.7][1] - out[0.0][1]) - 0.7 * ce) < 1e-4


def test_record_writes_a_table_that_parse_record_reads_back(tmp_path):
    from ganbook import conditional_conv as CC

    p = CC.preset("cpu", steps=2, data=48, width=4, batch=8, stem=4, mismatch=1.0, real_class=1.0, fake_class=1.0)
    text = CC.record(p, "cpu", str(tmp_path), members=2, seed_start=7, name="t", command="cmd --x")
    assert text.startswith("`cmd --x`") and (tmp_path / "t.md").read_text(encoding="utf-8") == text
    got = CC.parse_record(text)
    assert got["class"].shape == (2,) and bool(((got["class"] >= 0) & (got["class"] <= 1)).all())
    assert float(got["real_class"]) > 0.9 and float(got["real_colour"]) == 1.0   # the instrument on real images
    with pytest.raises(ValueError, match="record"):
        CC.parse_record("no table here")
