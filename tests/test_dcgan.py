"""ganbook.dcgan: grouped members equal separate networks; the guidelines switch what they say."""
import dataclasses

import pytest
import torch
from torch import nn

from ganbook import ablation, dcgan
from ganbook.dcgan import Discriminator, Generator, Guidelines

VARIANTS = [Guidelines(), Guidelines(strided=False), Guidelines(batch_norm=False), Guidelines(batch_norm_ends=True),
            Guidelines(leaky_discriminator=False), Guidelines(tanh_output=False), Guidelines(fc_hidden=8)]


def member(grouped: nn.Module, single: nn.Module, e: int) -> nn.Module:
    """Copy member e's block of every parameter and buffer of ``grouped`` into ``single`` (members=None)."""
    E = grouped.members
    src = grouped.state_dict()
    out = {}
    for name, t in single.state_dict().items():
        s = src[name]
        out[name] = s.chunk(E, dim=0)[e].reshape(t.shape).clone() if s.dim() else s.clone()
    single.load_state_dict(out)
    return single


@pytest.mark.parametrize("g", VARIANTS, ids=lambda g: str(g))
@pytest.mark.parametrize("size,channels", [(8, 1), (16, 3)])
def test_members_equal_separate_networks(g, size, channels):
    torch.manual_seed(0)
    E, n = 3, 6
    G = Generator(5, size, channels, 4, guidelines=g, members=E).double()
    D = Discriminator(size, channels, 4, guidelines=g, members=E).double()
    z = torch.randn(E, n, 5, dtype=torch.float64)
    x = G(z)
    logits = D(x)
    assert x.shape == (E, n, channels, size, size) and logits.shape == (E, n)
    logits.square().sum().backward()                  # a loss that sums the members' losses
    for e in range(E):
        Gs = member(G, Generator(5, size, channels, 4, guidelines=g).double(), e)
        Ds = member(D, Discriminator(size, channels, 4, guidelines=g).double(), e)
        xs = Gs(z[e])
        ls = Ds(xs)
        torch.testing.assert_close(xs, x[e], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ls, logits[e], rtol=1e-10, atol=1e-12)
        ls.square().sum().backward()
        for (name, p), ps in zip(G.named_parameters(), Gs.parameters()):
            torch.testing.assert_close(p.grad.chunk(E, dim=0)[e].reshape(ps.shape), ps.grad,
                                       rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("size", dcgan.SIZES)
def test_shapes_and_range(size):
    G, D = Generator(8, size, 3, 4), Discriminator(size, 3, 4)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 3, size, size)
    assert float(x.detach().abs().max()) <= 1.0
    assert D(x).shape == (5,)
    # depth: log2(size / base) (transposed) convolutions, base 2 at 8x8 and 4 above
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == {8: 2, 16: 2, 32: 3, 64: 4}[size]


def _count(net, kind):
    return sum(isinstance(m, kind) for m in net.modules())


def test_guideline_switches():
    full_g, full_d = Generator(4, 16, 3, 4), Discriminator(16, 3, 4)
    # batch norm: G after the projection and its hidden convolution, D after its second convolution
    assert _count(full_g, nn.BatchNorm2d) == 2 and _count(full_d, nn.BatchNorm2d) == 1
    ends = Guidelines(batch_norm_ends=True)
    assert _count(Generator(4, 16, 3, 4, guidelines=ends), nn.BatchNorm2d) == 3
    assert _count(Discriminator(16, 3, 4, guidelines=ends), nn.BatchNorm2d) == 2
    nobn = Guidelines(batch_norm=False)
    assert _count(Generator(4, 16, 3, 4, guidelines=nobn), nn.BatchNorm2d) == 0
    assert _count(Discriminator(16, 3, 4, guidelines=nobn), nn.BatchNorm2d) == 0
    pool = Guidelines(strided=False)
    assert _count(Discriminator(16, 3, 4, guidelines=pool), nn.MaxPool2d) == 2
    assert _count(Generator(4, 16, 3, 4, guidelines=pool), nn.ConvTranspose2d) == 0
    assert _count(full_d, nn.LeakyReLU) == 2
    assert _count(Discriminator(16, 3, 4, guidelines=Guidelines(leaky_discriminator=False)), nn.LeakyReLU) == 0
    lin = Generator(4, 16, 3, 4, guidelines=Guidelines(tanh_output=False))
    assert _count(lin, nn.Tanh) == 0 and _count(full_g, nn.Tanh) == 1
    fc = Discriminator(16, 3, 4, guidelines=Guidelines(fc_hidden=7))
    assert fc.hidden.weight.shape == (1, 4 * 2 * 16, 7) and full_d.hidden is None


def test_bad_inputs():
    with pytest.raises(ValueError, match="image_size"):
        Generator(4, 12)
    with pytest.raises(TypeError, match="guidelines"):
        Discriminator(8, guidelines={"strided": False})
    with pytest.raises(TypeError, match="strided"):
        Guidelines(strided=1)
    with pytest.raises(ValueError, match="fc_hidden"):
        Guidelines(fc_hidden=-1)
    G = Generator(4, 8, 1, 4, members=2)
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match="z must have 3 dimension"):
        G(torch.randn(5, 4))
    D = Discriminator(8, 1, 4)
    with pytest.raises(ValueError, match="x must have shape"):
        D(torch.randn(5, 3, 8, 8))
    with pytest.raises(ValueError, match="preset"):
        dcgan.preset("tpu")
    with pytest.raises(ValueError, match="unknown variant"):
        ablation.variants(["no guidelines at all"])


def test_train_runs_and_scores_are_finite():
    """A few steps of two members; the scores of samples against real features are finite."""
    p = dataclasses.replace(dcgan.preset("cpu"), width=4, batch=8)
    data = dcgan.real_images(p, 64, generator=torch.Generator().manual_seed(0))
    assert data.shape == (64, 1, 8, 8)
    m = ablation.train(p, Guidelines(), data, members=2, seed=0, steps=3)
    x = ablation.samples(m.G_avg, 12, generator=torch.Generator().manual_seed(1))
    assert x.shape == (2, 12, 1, 8, 8) and bool(torch.isfinite(x).all())


def test_divergence_stops_with_a_message():
    p = dataclasses.replace(dcgan.preset("cpu"), width=4, batch=8, lr=1e30)
    data = dcgan.real_images(p, 32, generator=torch.Generator().manual_seed(0))
    from ganbook.errors import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="NaN or infinite"):
        ablation.train(p, Guidelines(batch_norm=False, tanh_output=False), data, members=1, seed=0, steps=50,
                       check_every=5)


def test_verdict_against_hand_computed_standard_errors():
    # mean 1, sample std 0.1 -> SE 0.1/sqrt(3) = 0.0577: far from 0
    assert ablation.verdict(torch.tensor([0.9, 1.0, 1.1], dtype=torch.float64)) == "hurts"
    assert ablation.verdict(torch.tensor([-0.9, -1.0, -1.1], dtype=torch.float64)) == "helps"
    # mean 0.1, std 1 -> SE 0.577 > mean/2: no detectable effect
    assert ablation.verdict(torch.tensor([1.1, -0.9, 0.1], dtype=torch.float64)) == "no detectable effect"
    mean, se = ablation.mean_se(torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64))
    assert mean == 3.0 and abs(se - (7.0 ** 0.5) / 3 ** 0.5) < 1e-12      # std of (1, 2, 6) is sqrt(7)


def test_record_writes_a_table_that_parses(tmp_path):
    p = dataclasses.replace(dcgan.preset("cpu"), width=4, batch=8, steps=2, seeds=2)
    names = ["DCGAN (all guidelines)", "no batch norm"]
    text = ablation.record(p, torch.device("cpu"), str(tmp_path), seed_start=7, names=names, stem="t",
                           command="python -m ganbook.ablation --steps 2")
    assert (tmp_path / "t.md").read_text() == text and (tmp_path / "t.png").stat().st_size > 0
    rows = ablation.parse_table(text)
    assert set(rows) == {"floor", *names}
    # the floor is the FID of the digits' two halves, computed independently here
    from ganbook import metrics
    from ganbook.data import digits

    x = digits()[0]
    split = metrics.digits_split(0)
    net = metrics.digits_classifier()
    floor = metrics.fid(metrics.extract(net.features, x[split["heldout"]]), metrics.extract(net.features, x[split["train"]]))
    assert abs(rows["floor"] - floor) <= 5e-4 * floor + 1e-3
    assert all(rows[n]["fid"] > rows["floor"] for n in names)          # 2 steps: far from the data
    with pytest.raises(ValueError, match="Real-vs-real"):
        ablation.parse_table("| a | b |")
    assert ablation.recorded("no_such_table.md") is None
    with pytest.raises(ValueError, match="name"):
        ablation.recorded("../weights/digits_classifier.pt")
