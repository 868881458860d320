"""The package on every device: objectives, penalties, the trainer (with resume), the benchmark's
batched runs and the metrics give on an accelerator what they give on the CPU.

Tests marked ``cuda`` run only where CUDA is available (``tests/conftest.py`` skips them
elsewhere); ``.ci/gpu_check.sh`` runs them on a GPU machine. The CPU twin of each runs everywhere,
so the comparison code itself is exercised in CI. MPS has no float64: the metrics' float64 work
goes to the CPU (``float64_device``), checked here without a Mac.
"""
import pytest
import torch

import ganbook
from ganbook import bench, data, nets, objectives, train
from ganbook import metrics as M
from ganbook.metrics import _common as C
from ganbook.objectives import penalties as P

DEVICES = [pytest.param("cpu"), pytest.param("cuda", marks=pytest.mark.cuda)]


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return torch.allclose(a.detach().cpu().double(), b.detach().cpu().double(), rtol=rtol, atol=atol)


# -- objectives and penalties ------------------------------------------------------------------

@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name", objectives.names())
def test_every_objective_on_device_matches_cpu(dev, name):
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(64, generator=g), torch.randn(64, generator=g) - 0.5
    for scores in (real, fake):
        scores.requires_grad_(True)
    ref_d = objectives.get(name).d_loss(real, fake)
    ref_g = objectives.get(name).g_loss(fake)
    r, f = real.detach().to(dev).requires_grad_(True), fake.detach().to(dev).requires_grad_(True)
    obj = objectives.get(name)
    d, gl = obj.d_loss(r, f), obj.g_loss(f)
    assert d.device.type == gl.device.type == dev
    assert _close(d, ref_d) and _close(gl, ref_g), (name, float(d), float(ref_d), float(gl), float(ref_g))
    (grad_f,) = torch.autograd.grad(gl, f)
    (ref_grad_f,) = torch.autograd.grad(ref_g, fake)
    assert grad_f.device.type == dev and _close(grad_f, ref_grad_f)


def _critic(dev: str) -> torch.nn.Module:
    ganbook.seed(0)
    return nets.mlp(2, 1, (16, 16), squeeze=True).to(dev)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("penalty", [P.gradient_penalty, P.dragan_penalty, P.r1_penalty, P.r2_penalty])
def test_every_penalty_on_device_matches_cpu(dev, penalty):
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g) + 1.0
    kw = {"generator": torch.Generator().manual_seed(2)} if penalty in (P.gradient_penalty, P.dragan_penalty) else {}
    ref = penalty(_critic("cpu"), real, fake, **kw)
    kw = {"generator": torch.Generator().manual_seed(2)} if kw else {}
    D = _critic(dev)
    value = penalty(D, real.to(dev), fake.to(dev), **kw)
    assert value.device.type == dev and float(value.detach()) > 0
    assert _close(value, ref), (penalty.__name__, float(value.detach()), float(ref.detach()))
    value.backward()                       # the penalty is differentiable in D's weights there
    grads = [p.grad for p in D.parameters() if p.grad is not None]   # the last bias has none
    assert len(grads) >= 4 and all(gr.device.type == dev for gr in grads)


@pytest.mark.parametrize("dev", DEVICES)
def test_clipping_on_device(dev):
    D = _critic(dev)
    P.clip_weights(D, 0.01)
    assert all(p.device.type == dev and float(p.abs().max()) <= 0.01 for p in D.parameters())


# -- the trainer, with resume --------------------------------------------------------------------

def _trainer(dev: str, seed: int = 0) -> train.Trainer:
    ganbook.seed(seed)
    G = nets.mlp(2, 2, (32, 32))
    D = nets.mlp(2, 1, (32, 32), squeeze=True)
    return train.Trainer(G, D, "nonsaturating", data.ring().sample, data.latent(2), batch_size=64,
                         seed=seed, device=dev, n_critic=2)


def _params(t: train.Trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten().cpu() for p in [*t.G.parameters(), *t.D.parameters()]])


@pytest.mark.parametrize("dev", DEVICES)
def test_resume_on_device_equals_uninterrupted_run(dev, tmp_path):
    z = torch.zeros(5, 2)
    straight = _trainer(dev)
    straight.run(30, progress=False, snapshot_every=10, snapshot_z=z)
    first = _trainer(dev)
    first.run(13, progress=False, snapshot_every=10, snapshot_z=z)
    first.save(tmp_path / "ckpt.pt")
    resumed = _trainer(dev, seed=99)                   # fresh networks, another random stream
    resumed.load(tmp_path / "ckpt.pt")
    assert resumed.rng.device.type == "cpu"
    resumed.run(17, progress=False, snapshot_every=10, snapshot_z=z)
    assert all(p.device.type == dev for p in resumed.G.parameters())
    # one device, one sequence of kernels: the resumed run is the uninterrupted one
    assert _close(_params(straight), _params(resumed), rtol=1e-6, atol=1e-7)
    assert resumed.history.snapshot_steps == [0, 10, 20, 30]
    assert straight.history.d_loss == pytest.approx(resumed.history.d_loss, rel=1e-5)


@pytest.mark.cuda
def test_checkpoint_moves_between_cpu_and_cuda(tmp_path):
    a = _trainer("cuda")
    a.run(5, progress=False)
    a.save(tmp_path / "gpu.pt")
    b = _trainer("cpu", seed=7)
    b.load(tmp_path / "gpu.pt")                        # a GPU checkpoint resumes on the CPU
    assert b.steps_done == 5 and _close(_params(a), _params(b), rtol=0, atol=0)
    b.save(tmp_path / "cpu.pt")
    c = _trainer("cuda", seed=8)
    c.load(tmp_path / "cpu.pt")                        # and back
    assert torch.equal(c.rng.get_state(), a.rng.get_state())
    c.run(2, progress=False)


def test_load_state_dict_accepts_a_random_state_on_another_device(tmp_path):
    t = _trainer("cpu")
    state = t.state_dict()
    state["rng"] = state["rng"].clone()
    t2 = _trainer("cpu", seed=3)
    t2.load_state_dict(state)
    assert torch.equal(t2.rng.get_state(), t.rng.get_state())


# -- the benchmark's batched runs ----------------------------------------------------------------

@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("method", ["gan", "pacgan4"])
def test_bench_train_on_device(dev, method):
    result = bench.train_method(method, "ring", seeds=[0, 1], steps=30, device=dev)
    assert len(result.stats) == 2
    assert all(p.device.type == dev for p in result.run.G.parameters())
    for s in result.stats:
        assert 0 <= s.modes <= 8 and 0.0 <= s.hq_fraction <= 1.0


# -- metrics ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dev", DEVICES)
def test_metrics_on_device_match_cpu(dev):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 8, generator=g), torch.randn(300, 8, generator=g) * 1.2 + 0.1
    for fn in (M.fid, lambda x, y: M.kid(x, y, subsets=5, subset_size=100, generator=torch.Generator().manual_seed(1)).mean,
               lambda x, y: M.prdc(x, y, k=5).precision,
               lambda x, y: M.mmd_permutation_test(x, y, permutations=50,
                                                   generator=torch.Generator().manual_seed(2)).statistic):
        ref, val = fn(a, b), fn(a.to(dev), b.to(dev))
        assert val == pytest.approx(ref, rel=1e-6, abs=1e-9)
    imgs = torch.rand(4, 1, 192, 192, generator=g)
    ref = M.ms_ssim(imgs, imgs.flip(0))
    val = M.ms_ssim(imgs.to(dev), imgs.flip(0).to(dev))
    assert _close(val, ref, rtol=1e-9)
    ring = data.ring()
    x = ring.sample(2000, torch.Generator().manual_seed(3))
    assert M.mode_stats(x.to(dev), ring) == M.mode_stats(x, ring)


def test_float64_work_leaves_mps_for_the_cpu():
    assert C.float64_device(torch.device("mps")) == torch.device("cpu")
    assert C.float64_device("cpu") == torch.device("cpu")
    assert C.float64_device(torch.device("cuda", 1)) == torch.device("cuda", 1)


def test_every_metric_converts_through_float64_device(monkeypatch):
    """A fake device check: every metric's float64 conversion asks ``float64_device`` where to
    compute, so on MPS (no float64) the work goes to the CPU instead of crashing."""
    asked: list[str] = []
    real = C.float64_device

    def spy(device):
        asked.append(torch.device(device).type)
        return real(device)

    monkeypatch.setattr(C, "float64_device", spy)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 4, generator=g), torch.randn(200, 4, generator=g)
    calls = {
        "fid": lambda: M.fid(a, b),
        "frechet_distance": lambda: M.frechet_distance(a.mean(0), torch.eye(4), b.mean(0), torch.eye(4)),
        "kid": lambda: M.kid(a, b, subsets=3, subset_size=50, generator=torch.Generator().manual_seed(1)),
        "mmd2_unbiased": lambda: M.mmd2_unbiased(a, b),
        "prdc": lambda: M.prdc(a, b, k=3),
        "ms_ssim": lambda: M.ms_ssim(torch.rand(2, 1, 192, 192, generator=g), torch.rand(2, 1, 192, 192, generator=g)),
        "extract": lambda: M.extract(lambda x: x * 2, a),
        "mmd_permutation_test": lambda: M.mmd_permutation_test(a, b, permutations=5),
    }
    for name, call in calls.items():
        asked.clear()
        call()
        assert asked, f"{name} converted to float64 without asking float64_device"
