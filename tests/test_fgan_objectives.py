"""f-GAN and LSGAN objectives (chapter 3) against the formulas of the f-GAN table written out
independently in NumPy, against the GAN losses of chapter 2, and against scipy's divergences:
the critic that maximises the objective between two discrete distributions recovers D_f."""
import math

import numpy as np
import pytest
import torch
from scipy import optimize, stats
from scipy.spatial.distance import jensenshannon

from ganbook import check, objectives
from ganbook import divergences as dv

NAMES = dv.F_DIVERGENCES
L2 = math.log(2)


def _softplus(x):
    return np.logaddexp(0.0, x)


# g_f and f* typed from the table of chapter 3 (f-GAN table; JS with the ½ of JS's definition)
TABLE = {
    "kl": (lambda v: v, lambda t: np.exp(t - 1)),
    "reverse_kl": (lambda v: -np.exp(-v), lambda t: -1 - np.log(-t)),
    "pearson": (lambda v: v, lambda t: t ** 2 / 4 + t),
    "neyman": (lambda v: 1 - np.exp(-v), lambda t: 2 - 2 * np.sqrt(1 - t)),
    "hellinger": (lambda v: 1 - np.exp(-v), lambda t: t / (1 - t)),
    "js": (lambda v: 0.5 * (L2 - np.log1p(np.exp(-v))), lambda t: -0.5 * np.log(2 - np.exp(2 * t))),
    "gan": (lambda v: -np.log1p(np.exp(-v)), lambda t: -np.log(1 - np.exp(t))),
    "tv": (lambda v: 0.5 * np.tanh(v), lambda t: t),
}


@pytest.fixture
def scores():
    g = torch.Generator().manual_seed(0)
    return torch.randn(50, generator=g, dtype=torch.float64) * 1.5, torch.randn(40, generator=g, dtype=torch.float64) * 1.5


@pytest.mark.parametrize("name", NAMES)
def test_losses_match_the_table(name, scores):
    r, f = scores
    g, fs = TABLE[name]
    rn, fn = r.numpy(), f.numpy()
    bound = np.mean(g(rn)) - np.mean(fs(g(fn)))
    obj = objectives.get(f"fgan:{name}")
    assert obj.name == f"fgan:{name}"
    assert float(obj.d_loss(r, f)) == pytest.approx(-bound, rel=1e-10, abs=1e-12)
    assert float(obj.g_loss(f)) == pytest.approx(-np.mean(fs(g(fn))), rel=1e-10, abs=1e-12)
    alt = objectives.fgan(name, generator_loss="activation")
    assert float(alt.g_loss(f)) == pytest.approx(-np.mean(g(fn)), rel=1e-10, abs=1e-12)
    assert float(alt.d_loss(r, f)) == float(obj.d_loss(r, f))


def test_gan_row_is_the_gan_of_chapter_2(scores):
    """GAN divergence: d_loss is the binary cross-entropy, the saddle generator loss is the
    minimax (saturating) loss, the 'activation' variant the non-saturating loss."""
    r, f = scores
    s = lambda x: 1 / (1 + np.exp(-x))
    bce = -np.mean(np.log(s(r.numpy()))) - np.mean(np.log(1 - s(f.numpy())))
    gan = objectives.get("fgan:gan")
    assert float(gan.d_loss(r, f)) == pytest.approx(bce, rel=1e-10)
    assert float(gan.g_loss(f)) == pytest.approx(float(objectives.get("minimax").g_loss(f)), rel=1e-12)
    ns = objectives.fgan("gan", generator_loss="activation")
    assert float(ns.g_loss(f)) == pytest.approx(float(objectives.get("nonsaturating").g_loss(f)), rel=1e-12)


@pytest.mark.parametrize("name", ["gan", "js", "tv", "pearson"])
def test_stable_for_confident_discriminators(name):
    v = torch.tensor([-200.0, -50.0, 0.0, 50.0, 200.0], requires_grad=True)
    obj = objectives.get(f"fgan:{name}")
    if name == "pearson":
        v = torch.tensor([-1e3, 0.0, 1e3], requires_grad=True)
    loss = obj.d_loss(v, v.flip(0)) + obj.g_loss(v)
    (grad,) = torch.autograd.grad(loss, v)
    assert torch.isfinite(loss) and bool(torch.isfinite(grad).all())


def _discrete_reference(name, p, q):
    pd = lambda lam: float(stats.power_divergence(p, q, lambda_=lam).statistic)
    return {"kl": float(stats.entropy(p, q)), "reverse_kl": float(stats.entropy(q, p)),
            "pearson": pd("pearson"), "neyman": pd("neyman"), "hellinger": pd("freeman-tukey") / 4,
            "js": float(jensenshannon(p, q)) ** 2, "gan": 2 * float(jensenshannon(p, q)) ** 2 - math.log(4),
            "tv": 0.5 * float(np.abs(p - q).sum())}[name]


@pytest.mark.parametrize("name", NAMES)
def test_maximising_the_objective_recovers_the_divergence(name):
    """Real and fake 'samples' are atoms repeated in proportion to p and q (p = (1,2,3,4)/10,
    q = (4,3,2,1)/10); one free score per atom. The maximum of −d_loss over the scores is
    D_f(P‖Q) (scipy), reached where g_f(v) = T* = f′(p/q) (eq. ch3-tstar)."""
    counts_p, counts_q = np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])
    p, q = counts_p / 10, counts_q / 10
    obj = objectives.get(f"fgan:{name}")
    idx_p = torch.as_tensor(np.repeat(np.arange(4), counts_p))
    idx_q = torch.as_tensor(np.repeat(np.arange(4), counts_q))

    def loss(v_np):
        v = torch.tensor(v_np, dtype=torch.float64, requires_grad=True)
        val = obj.d_loss(v[idx_p], v[idx_q])
        (g,) = torch.autograd.grad(val, v)
        return float(val.detach()), g.numpy()

    res = optimize.minimize(loss, np.zeros(4), jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 500})
    assert -res.fun == pytest.approx(_discrete_reference(name, p, q), rel=1e-5, abs=1e-6)
    d = dv.fdivergence(name)
    t = d.activation(torch.tensor(res.x, dtype=torch.float64))
    t_star = d.f_prime(torch.tensor(p / q))
    assert torch.allclose(t, t_star, atol=2e-3)


def test_objectives_train_with_the_shared_trainer():
    """A few steps of the book's Trainer with every fgan objective on a 1D problem: finite losses."""
    from ganbook import data, nets, train

    target = data.mixture([-1.0, 1.0], [0.3, 0.3])
    for name in NAMES:
        torch.manual_seed(0)
        G, D = nets.mlp(1, 1, hidden=(16,)), nets.mlp(1, 1, hidden=(16,), squeeze=True)
        t = train.Trainer(G, D, objectives.get(f"fgan:{name}"), target.sample, data.latent(1), batch_size=32, seed=0)
        h = t.run(5, progress=False)
        assert len(h.d_loss) == 5 and all(math.isfinite(x) for x in h.d_loss + h.g_loss)


def test_fgan_losses_take_the_divergence_by_keyword(scores):
    """fgan_d_loss(real, fake, *, divergence) and fgan_g_loss(fake, *, divergence, generator_loss):
    the divergence is an FDivergence or its name, and the registered objective gives the same values."""
    from ganbook.objectives.fgan import fgan_d_loss, fgan_g_loss

    r, f = scores
    obj = objectives.get("fgan:hellinger")
    for div in ("hellinger", dv.fdivergence("hellinger")):
        assert torch.equal(fgan_d_loss(r, f, divergence=div), obj.d_loss(r, f))
        assert torch.equal(fgan_g_loss(f, divergence=div), obj.g_loss(f))
        assert torch.equal(fgan_g_loss(f, divergence=div, generator_loss="activation"),
                           objectives.fgan("hellinger", generator_loss="activation").g_loss(f))
    with pytest.raises(TypeError):
        fgan_d_loss(r, f, "kl")                                            # keyword-only
    with pytest.raises(ValueError, match="divergence='wasserstein'"):
        fgan_d_loss(r, f, divergence="wasserstein")
    with pytest.raises(TypeError, match="divergence must be"):
        fgan_g_loss(f, divergence=3)
    with pytest.raises(ValueError, match="generator_loss"):
        fgan_g_loss(f, divergence="kl", generator_loss="heuristic")


# -- LSGAN ------------------------------------------------------------------------------------
def test_lsgan_losses(scores):
    r, f = scores
    rn, fn = r.numpy(), f.numpy()
    for (a, b, c), name in (((0, 1, 1), "lsgan"), ((-1, 1, 0), "lsgan:chi2")):
        obj = objectives.get(name)
        assert obj.name == name
        assert float(obj.d_loss(r, f)) == pytest.approx(0.5 * np.mean((rn - b) ** 2) + 0.5 * np.mean((fn - a) ** 2))
        assert float(obj.g_loss(f)) == pytest.approx(0.5 * np.mean((fn - c) ** 2))
    custom = objectives.lsgan(a=-2, b=3, c=0.5)
    assert float(custom.d_loss(r, f)) == pytest.approx(0.5 * np.mean((rn - 3) ** 2) + 0.5 * np.mean((fn + 2) ** 2))


@pytest.mark.parametrize("abc", [(-1.0, 1.0, 0.0), (0.0, 1.0, 1.0), (-2.0, 3.0, 0.5)])
def test_lsgan_optimal_discriminator_and_chi2_link(abc):
    """D* = (b p + a q)/(p + q); at D*, C = ½E_P[(D* − c)²] + ½E_Q[(D* − c)²]
    = (a + b − 2c)²/4 + (b − a)²/8 · Σ (p − q)²/(p + q), and Σ (p − q)²/(p + q) = 2 χ²_Pearson(Q‖M)
    with M = (P + Q)/2 (scipy). With (a, b, c) = (−1, 1, 0): 2C = Σ (p − q)²/(p + q)."""
    a, b, c = abc
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    obj = objectives.lsgan(a, b, c)

    def weighted(v_np):                           # E_P, E_Q as weighted sums over the atoms
        v = torch.tensor(v_np, dtype=torch.float64, requires_grad=True)
        val = 0.5 * (torch.tensor(p) * (v - b) ** 2).sum() + 0.5 * (torch.tensor(q) * (v - a) ** 2).sum()
        (g,) = torch.autograd.grad(val, v)
        return float(val.detach()), g.numpy()

    res = optimize.minimize(weighted, np.zeros(6), jac=True, method="BFGS", options={"gtol": 1e-12})
    d_star = (b * p + a * q) / (p + q)
    assert np.allclose(res.x, d_star, atol=1e-6)
    # the book's loss at D* on samples that are the atoms with weights: same minimiser
    v = torch.tensor(d_star)
    assert float(obj.d_loss(v, v)) == pytest.approx(0.5 * np.mean((d_star - b) ** 2) + 0.5 * np.mean((d_star - a) ** 2))
    C = 0.5 * np.sum(p * (d_star - c) ** 2) + 0.5 * np.sum(q * (d_star - c) ** 2)
    delta = np.sum((p - q) ** 2 / (p + q))
    assert C == pytest.approx((a + b - 2 * c) ** 2 / 4 + (b - a) ** 2 / 8 * delta, rel=1e-12)
    m = (p + q) / 2
    assert delta == pytest.approx(2 * stats.power_divergence(q, m, lambda_="pearson").statistic, rel=1e-12)
    assert delta == pytest.approx(2 * dv.f_divergence_discrete(torch.tensor(q), torch.tensor(m), "pearson"), rel=1e-12)


# -- registry and bad input ---------------------------------------------------------------------
def test_registry_and_errors():
    names = set(objectives.names())
    assert {f"fgan:{n}" for n in NAMES} | {"lsgan", "lsgan:chi2", "minimax", "nonsaturating"} <= names
    with pytest.raises(ValueError, match="name='wasserstein'"):
        objectives.fgan("wasserstein")
    with pytest.raises(ValueError, match="generator_loss"):
        objectives.fgan("kl", generator_loss="heuristic")
    with pytest.raises(ValueError, match="a ≠ b"):
        objectives.lsgan(1.0, 1.0, 0.0)
    with pytest.raises(TypeError, match="a must be a number"):
        objectives.lsgan("0")
    obj = objectives.get("fgan:kl")
    with pytest.raises(TypeError, match="real must be a torch.Tensor"):
        obj.d_loss([1.0], torch.zeros(2))
    with pytest.raises(ValueError, match="fake must have 1 dimension"):
        obj.d_loss(torch.zeros(3), torch.zeros(3, 1))
    assert torch.isnan(obj.g_loss(torch.tensor([0.0, float("nan")])))      # values are the loop's check


# -- the exercise checks accept right answers and reject typical wrong ones --------------------
def test_checks_of_chapter_3():
    import torch.nn.functional as F

    check.conjugate("hellinger", lambda t: t / (1 - t))
    with pytest.raises(check.CheckFailed, match="Hint: your result equals e\\^t"):
        check.conjugate("kl", torch.exp)
    with pytest.raises(check.CheckFailed, match="the generator itself"):
        check.conjugate("pearson", lambda t: (t - 1) ** 2)
    check.fgan_d_loss("gan", lambda r, f: F.softplus(f).mean() + F.softplus(-r).mean())
    with pytest.raises(check.CheckFailed, match="MAXIMISES"):
        check.fgan_d_loss("kl", lambda r, f: r.mean() - torch.exp(f - 1).mean())
    with pytest.raises(check.CheckFailed, match="NaN or inf"):
        check.fgan_d_loss("gan", lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()))
    check.optimal_critic("reverse_kl", lambda p, q: -q / p)
    with pytest.raises(check.CheckFailed, match="upside down"):
        check.optimal_critic("reverse_kl", lambda p, q: -p / q)
    with pytest.raises(ValueError, match="name must be one of"):
        check.conjugate("chi2", torch.exp)


# -- chapter 3's stacked critics -------------------------------------------------------------------
def test_stacked_critics_are_the_separate_networks():
    """Chapters 3a and 3b train K critics as one nets.BatchedMLP.from_nets([...]): member k computes
    exactly what nets[k] computes, and stacking draws nothing from the global stream (the networks
    created after it are the same as without it)."""
    from ganbook import nets

    torch.manual_seed(0)
    mlps = [nets.mlp(1, 1, hidden=(8, 8)) for _ in range(3)]
    state = torch.get_rng_state()
    stacked = nets.BatchedMLP.from_nets(mlps)
    assert torch.equal(torch.get_rng_state(), state)
    x = torch.randn(3, 5, 1)
    out = stacked(x)                                                       # (3, 5, 1)
    for k, net in enumerate(mlps):
        assert torch.allclose(out[k], net(x[k]), atol=1e-6)
    scores = nets.BatchedMLP.from_nets([nets.mlp(2, 1, hidden=(4,), squeeze=True) for _ in range(2)], squeeze=True)
    assert scores(torch.zeros(2, 7, 2)).shape == (2, 7)
