"""Chapter 12's editing module against brute force and the shapes' known factors."""
import dataclasses

import pytest
import torch

from ganbook import editing as ED
from ganbook import metrics
from ganbook.conditional_conv import hue_bin, rgb_to_hue


def test_attribute_direction_by_brute_force():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 20, 3, generator=g)
    score = torch.randn(2, 20, generator=g)
    v = ED.attribute_direction(z, score, 0.25)
    for e in range(2):
        order = sorted(range(20), key=lambda i: float(score[e, i]))
        hi = torch.stack([z[e, i] for i in order[-5:]]).mean(0)
        lo = torch.stack([z[e, i] for i in order[:5]]).mean(0)
        assert torch.allclose(v[e], hi - lo, atol=1e-6)
    # an attribute that is linear in z: the direction points along its gradient
    w = torch.tensor([1.0, 0.0, 0.0])
    z = torch.randn(1, 2000, 3, generator=g)
    v = ED.attribute_direction(z, z @ w)
    assert float(v[0, 0]) > 2 and float(v[0, 1:].abs().max()) < 0.3
    with pytest.raises(ValueError, match="score"):
        ED.attribute_direction(z, torch.zeros(1, 5))


def test_edit_scores_by_hand():
    before = {"x": torch.tensor([[0.0, 0.0, 0.0, 0.0]]), "y": torch.zeros(1, 4), "bin": torch.tensor([[0, 1, 2, 3]])}
    after = {"x": torch.tensor([[0.2, 0.05, 0.3, 0.3]]), "y": torch.tensor([[0.0, 0.0, 0.5, 0.0]]),
             "bin": torch.tensor([[0, 1, 2, 0]])}
    # moved right by >= 0.1: items 0, 2, 3; y kept: 0, 1, 3; bin kept: 0, 1, 2 -> only item 0
    s = ED.edit_scores(before, after, target="x", want=0.1, keep={"y": 0.1, "bin": 0})
    assert torch.allclose(s, torch.tensor([0.25], dtype=torch.float64))
    s = ED.edit_scores(before, after, target="bin", want=torch.tensor([[0, 1, 0, 0]]), keep={"y": 0.1})
    assert torch.allclose(s, torch.tensor([0.75], dtype=torch.float64))     # items 0, 1, 3 (item 2 has the wrong bin and moved)
    s = ED.edit_scores(before, after, target="x", want=-0.1, keep={})
    assert torch.allclose(s, torch.tensor([0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="keep"):
        ED.edit_scores(before, after, target="x", want=0.1, keep={"x": 0.1})


def test_read_factors_on_real_shapes():
    from ganbook.data import shapes

    b = shapes(200, 16, generator=torch.Generator().manual_seed(1))
    low = ED.edit_data(200, 8, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(low.high, b.images) and torch.equal(low.bins, hue_bin(rgb_to_hue(b.factors["color"])))
    f = ED.read_factors(low.low, metrics.shapes_classifier("cpu"))
    # the hue of an object's summed pixels is its colour's hue (every pixel is coverage x colour)
    assert float((f["bin"] == low.bins).float().mean()) > 0.97
    assert float((f["x"] - b.factors["x"]).abs().mean()) < 0.06


def test_generator_encoders_and_stage2_run():
    p = dataclasses.replace(ED.preset("cpu"), steps=2, encoder_steps=2, stage2_steps=2, batch=8)
    data = ED.edit_data(32, 8, generator=torch.Generator().manual_seed(2))
    G = ED.train_cgan(data, p=p, members=2, seed=0)
    y = torch.randint(0, 4, (2, 5))
    assert G(torch.randn(2, 5, p.z_dim), y).shape == (2, 5, 3, 8, 8)
    ez, ey = ED.train_icgan_encoders(G, data, p=p, seed=0)
    out = ED.icgan_edit(G, ez, data.low[:5], torch.zeros(5, dtype=torch.long))
    assert out.shape == (2, 5, 3, 8, 8)
    R = ED.train_stage2(G, data, p=p, seed=0)
    assert R(G(torch.randn(2, 5, p.z_dim), y)).shape == (2, 5, 3, 16, 16)
    with pytest.raises(ValueError, match="z must be"):
        G(torch.randn(3, 5, p.z_dim), y)
    with pytest.raises(TypeError, match="Preset"):
        ED.train_cgan(data, p=None, members=2)
