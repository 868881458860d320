"""Chapter 12's joint generation (CoGAN, SD-GAN) against hand-built cases and brute force."""
import dataclasses

import pytest
import torch

from ganbook import joint as J


def test_negative_is_an_involution():
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    assert torch.equal(J.negative(J.negative(x)), x) and torch.equal(J.negative(x), -x)


def _classify(images):
    # a hand-made classifier: the class is the row (0..7) of the brightest pixel
    flat = images.reshape(images.shape[0], 8, 8)
    return flat.amax(2).argmax(1)


def _image(row):
    x = -torch.ones(64)
    x[8 * row + 3] = 1.0
    return x


def test_correspondence_rate_by_brute_force():
    g = torch.Generator().manual_seed(0)
    rows_a = torch.randint(0, 8, (2, 50), generator=g)
    rows_b = rows_a.clone()
    rows_b[0, :20] = (rows_b[0, :20] + 1) % 8         # member 0: 30 of 50 correspond
    a = torch.stack([torch.stack([_image(int(r)) for r in m]) for m in rows_a])
    b = -torch.stack([torch.stack([_image(int(r)) for r in m]) for m in rows_b])     # domain B = negatives
    rate, chance = J.correspondence_rate(a, b, _classify, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(rate, torch.tensor([0.6, 1.0], dtype=torch.float64))
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(5))
    brute = [sum(int(rows_a[e, i] == rows_b[e, perm[i]]) for i in range(50)) / 50 for e in range(2)]
    assert torch.allclose(chance, torch.tensor(brute, dtype=torch.float64))


def test_shared_trunk_with_opposite_heads_gives_exact_negatives():
    torch.manual_seed(0)
    G = J.CoupledGenerators(4, 16, 64, members=3, shared=[True, True, False])
    with torch.no_grad():
        for w, b in zip(G.heads[1].weights, G.heads[1].biases):
            w.copy_(-G.heads[0].weights[0])
            b.copy_(-G.heads[0].biases[0])
    z = torch.randn(3, 10, 4)
    a, b = G(z)
    assert torch.allclose(b[:2], -a[:2], atol=1e-6)               # tanh is odd: sharing + opposite renderers
    assert not torch.allclose(b[2], -a[2], atol=1e-3)             # the unshared member has its own trunk
    with torch.no_grad():
        for p in G.trunks[1].parameters():
            p.add_(1.0)
    a2, b2 = G(z)
    assert torch.equal(b2[:2], b[:2]) and not torch.allclose(b2[2], b[2])
    with pytest.raises(ValueError, match="shared"):
        J.CoupledGenerators(4, 16, members=3, shared=[True, False])


def test_shared_discriminator_tail():
    torch.manual_seed(1)
    D = J.CoupledDiscriminators(8, members=2, shared=[True, False])
    x = torch.randn(2, 5, 64)
    with torch.no_grad():
        for p in D.tails[1].parameters():
            p.mul_(3.0)
    out1 = D(x, 1)
    # member 0 uses tail 0 for domain B too: the same as recomputing with tail 0
    h = torch.nn.functional.leaky_relu(D.firsts[1](x), 0.2)
    assert torch.allclose(out1[0], D.tails[0](h)[0]) and torch.allclose(out1[1], D.tails[1](h)[1])
    with pytest.raises(ValueError, match="domain"):
        D(x, 2)


def test_same_class_pairs_are_distinct_images_of_one_class():
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2, 1, 0])
    i, j = J.same_class_pairs(labels, (4, 200), torch.Generator().manual_seed(0))
    assert i.shape == (4, 200) and bool((labels[i] == labels[j]).all()) and bool((i != j).all())
    # every other member of the class is reachable: class 0 has 4 images, each gets 3 partners
    seen = {(int(a), int(b)) for a, b in zip(i.flatten(), j.flatten()) if labels[a] == 0}
    assert len(seen) == 12
    with pytest.raises(TypeError, match="labels"):
        J.same_class_pairs(labels.float(), (2, 3), torch.Generator())


def test_siamese_discriminator_shares_the_embedding():
    torch.manual_seed(2)
    D = J.SiameseDiscriminator(8, members=2)
    x1, x2 = torch.randn(2, 4, 64), torch.randn(2, 4, 64)
    w = D.head.weights[0]
    with torch.no_grad():                                      # make the head symmetric in its two halves
        w[:, 8:].copy_(w[:, :8])
    assert torch.allclose(D(x1, x2), D(x2, x1), atol=1e-6)
    with pytest.raises(ValueError, match="x2"):
        D(x1)


def test_identity_agreement_is_one_when_the_generator_ignores_the_observation():
    from ganbook.nets import BatchedMLP

    torch.manual_seed(3)
    G = BatchedMLP(6, 64, (16,), members=2)
    with torch.no_grad():
        G.weights[0][:, 2:].zero_()                            # only z_I (2 dims) reaches the output
    agree = J.identity_agreement(G, n=50, identity_dim=2, classify=_classify, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(agree, torch.ones(2, dtype=torch.float64))


def test_training_runs():
    from ganbook.data import digits

    x, y = digits()
    p = dataclasses.replace(J.preset("cpu"), steps=2)
    G = J.train_cogan(x, p=p, members=4, shared=[True, True, False, False], seed=0)
    a, b = G(torch.randn(4, 3, p.z_dim))
    assert a.shape == b.shape == (4, 3, 64)
    for pairs in (True, False):
        Gs = J.train_sdgan(x, y, p=p, members=2, identity_dim=4, pairs=pairs, seed=0)
        assert Gs(torch.randn(2, 3, p.z_dim)).shape == (2, 3, 64)
    with pytest.raises(ValueError, match="identity_dim"):
        J.train_sdgan(x, y, p=p, members=2, identity_dim=p.z_dim)
    with pytest.raises(ValueError, match="preset"):
        J.preset("big")
