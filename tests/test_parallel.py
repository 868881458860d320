"""Data-parallel training (ganbook.parallel, chapter 6d), checked on the CPU with 2 gloo processes.

References, each independent of the code under test:
* the synchronised batch norm against ``nn.BatchNorm`` on the concatenated batch (forward, gradients,
  running statistics);
* 2 ranks (DDP, synchronised batch norm, a shard each) against one process training the unconverted
  networks (``nn.BatchNorm``, no DDP) on the whole global batch;
* a run stopped, checkpointed and resumed against the same run uninterrupted.

Tolerances. float64: every tensor of the checkpoints (parameters, running statistics, Adam's moments)
elementwise within rtol 1e-9 of the reference, with an absolute floor of 1e-9 times the tensor's
largest entry (only the order of sums differs; observed over seeds 0-4: at most ~4e-14 with the floor,
~3e-11 without it). This holds for every tensor because the DCGAN has no bias in a layer that feeds a
batch norm (ganbook.dcgan): such a bias has a gradient that is zero in exact arithmetic, pure rounding
noise in floating point, which Adam's normalised step turns into run-dependent moves in float32.
float32: only the networks' training-mode outputs, to 1e-2 (see the float32 test for why).
Resume: bit for bit (same processes, same machine, same operations).
The whole module spawns one pair of processes (~10 s).
"""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
import torch.distributed as dist
from torch import nn

from ganbook import parallel as P
from ganbook.dcgan import PRESETS
from ganbook.errors import TrainingDiverged

SMALL = dataclasses.replace(PRESETS["cpu"], width=8, batch=16)      # 8 images per rank with 2 ranks
STEPS = 4
WORLD = 2

needs_gloo = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with gloo is not available in this torch build")


# ----------------------------------------------------------------------- what the ranks compute

def _bn_inputs(shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A global batch with channel means far from 0 (so that E[x²] − E[x]² would lose digits), a
    weighting of the outputs (the loss is Σ y·w), and γ, β."""
    g = torch.Generator().manual_seed(7)
    c = shape[1]
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 0.3 + 5.0
    w = torch.randn(shape, generator=g, dtype=torch.float64)
    gamma, beta = 1 + 0.1 * torch.randn(c, generator=g, dtype=torch.float64), torch.randn(c, generator=g, dtype=torch.float64)
    return x, w, gamma, beta


BN_SHAPES = {"bn2d": (12, 3, 4, 5), "bn1d": (10, 6)}


def _rank_scenarios(folder: str) -> None:
    """Run on each of the 2 ranks (``P.spawn``): the synchronised batch norm on the rank's shard, then
    training runs whose checkpoints rank 0 writes."""
    rank, world = dist.get_rank(), dist.get_world_size()
    for name, shape in BN_SHAPES.items():
        x, w, gamma, beta = _bn_inputs(shape)
        bn = P.SyncBatchNorm(shape[1], momentum=0.3).double()
        with torch.no_grad():
            bn.weight.copy_(gamma)
            bn.bias.copy_(beta)
        xs = P.shard(x, rank, world).clone().requires_grad_(True)
        y = bn(xs)
        (y * P.shard(w, rank, world)).sum().backward()
        torch.save({"y": y.detach(), "x_grad": xs.grad, "weight_grad": bn.weight.grad, "bias_grad": bn.bias.grad,
                    "running_mean": bn.running_mean, "running_var": bn.running_var},
                   f"{folder}/{name}_rank{rank}.pt")
    P.train_each([
        dict(preset=SMALL, steps=STEPS, seed=0, out=f"{folder}/f64", dtype=torch.float64),
        dict(preset=SMALL, steps=STEPS, seed=0, out=f"{folder}/f32", dtype=torch.float32),
        dict(preset=SMALL, steps=STEPS, seed=0, out=f"{folder}/nosync", dtype=torch.float64, sync_batch_norm=False),
        dict(preset=SMALL, steps=STEPS // 2, seed=0, out=f"{folder}/half", dtype=torch.float64),
        dict(preset=SMALL, steps=STEPS, seed=0, out=f"{folder}/resumed", dtype=torch.float64,
             resume=f"{folder}/half/checkpoint.pt"),
    ])


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("torch.distributed with gloo is not available in this torch build")
    try:
        P.free_port()
    except OSError as err:
        pytest.skip(f"cannot open a TCP port on 127.0.0.1 for the process group: {err}")
    folder = tmp_path_factory.mktemp("ddp")
    P.spawn(_rank_scenarios, str(folder), world_size=WORLD, threads=1)
    return folder


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks: one thread is fastest, and two threads on a busy 2-core machine crawl."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _one_process(dtype: torch.dtype, steps: int = STEPS, **kw) -> P.Run:
    """The reference: one process, nn.BatchNorm, no DDP, the whole global batch."""
    run = P.train(SMALL, steps=steps, seed=0, dtype=dtype, **kw)
    assert not any(isinstance(m, P.SyncBatchNorm) for m in (*run.G.modules(), *run.D.modules()))
    return run


def _tensors(state: dict) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint's networks and Adam states, by a flat name."""
    out = {f"{key}.{name}": v for key in ("G", "D") for name, v in state[key].items()}
    for key in ("opt_g", "opt_d"):
        out |= {f"{key}.{i}.{k}": v for i, s in state[key]["state"].items() for k, v in s.items()}
    return out


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float) -> bool:
    """Elementwise |a − b| ≤ rtol·|b| + rtol·max|b| (a floor for entries far below the tensor's scale)."""
    if not b.is_floating_point():
        return torch.equal(a, b)
    return torch.allclose(a, b, rtol=rtol, atol=rtol * float(b.abs().max()))


# ------------------------------------------------------------------------------- batch norm

@needs_gloo
@pytest.mark.parametrize("name", sorted(BN_SHAPES))
def test_sync_batch_norm_equals_batch_norm_on_the_concatenated_batch(ranks, name):
    shape = BN_SHAPES[name]
    x, w, gamma, beta = _bn_inputs(shape)
    ref = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], momentum=0.3).double()
    with torch.no_grad():
        ref.weight.copy_(gamma)
        ref.bias.copy_(beta)
    xr = x.clone().requires_grad_(True)
    y_ref = ref(xr)
    (y_ref * w).sum().backward()
    got = [torch.load(ranks / f"{name}_rank{r}.pt", weights_only=True) for r in range(WORLD)]
    close = dict(rtol=1e-10, atol=1e-12)
    assert torch.allclose(torch.cat([g["y"] for g in got]), y_ref.detach(), **close)
    # the gradient reaching each rank's inputs goes through the global statistics (the backward all-reduce)
    assert torch.allclose(torch.cat([g["x_grad"] for g in got]), xr.grad, **close)
    # γ and β are used on each rank's slice only: the ranks' gradients add up to the full one (DDP sums them)
    assert torch.allclose(sum(g["weight_grad"] for g in got), ref.weight.grad, **close)
    assert torch.allclose(sum(g["bias_grad"] for g in got), ref.bias.grad, **close)
    for g in got:      # running statistics: the global mean and unbiased variance, the same on every rank
        assert torch.allclose(g["running_mean"], ref.running_mean, **close)
        assert torch.allclose(g["running_var"], ref.running_var, **close)
    # the comparison can fail: per-shard statistics (nn.BatchNorm on each shard alone) give other outputs
    local = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1]).double()
    with torch.no_grad():
        local.weight.copy_(gamma)
        local.bias.copy_(beta)
        y_local = torch.cat([local(P.shard(x, r, WORLD)) for r in range(WORLD)])
    assert (y_local - y_ref).abs().max() > 1e-2


@pytest.mark.parametrize("momentum", [0.1, None])
def test_sync_batch_norm_alone_is_batch_norm(momentum):
    """One process (no group): train-mode output, gradients, running statistics and eval mode."""
    g = torch.Generator().manual_seed(0)
    ref = nn.BatchNorm2d(4, momentum=momentum)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5, generator=g)
        ref.bias.normal_(generator=g)
    sync = P.convert_sync_batchnorm(nn.Sequential(ref_copy := nn.BatchNorm2d(4, momentum=momentum)))
    ref_copy.load_state_dict(ref.state_dict())
    assert isinstance(sync[0], P.SyncBatchNorm) and sync[0].weight is ref_copy.weight
    assert set(sync.state_dict()) == {f"0.{k}" for k in ref.state_dict()}
    for _ in range(3):
        x = torch.randn(8, 4, 3, 3, generator=g) * 2 + 3
        w = torch.randn(8, 4, 3, 3, generator=g)
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        ya, yb = ref(xa), sync(xb)
        (ya * w).sum().backward()
        (yb * w).sum().backward()
        assert torch.allclose(ya, yb, rtol=1e-5, atol=1e-5)
        assert torch.allclose(xa.grad, xb.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(ref.weight.grad, sync[0].weight.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(ref.running_mean, sync[0].running_mean, rtol=1e-5, atol=1e-6)
    assert torch.allclose(ref.running_var, sync[0].running_var, rtol=1e-5, atol=1e-6)
    assert int(ref.num_batches_tracked) == int(sync[0].num_batches_tracked) == 3
    ref.eval()
    sync.eval()
    x = torch.randn(5, 4, 3, 3, generator=g)
    assert torch.allclose(ref(x), sync(x), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- training equivalence

@needs_gloo
def test_ddp_float64_equals_one_process_on_the_global_batch(ranks, tmp_path):
    ref = _one_process(torch.float64, out=tmp_path)
    state = P.load_checkpoint(ranks / "f64" / "checkpoint.pt")
    assert state["step"] == STEPS and state["world_size"] == WORLD
    got, want = _tensors(state), _tensors(P.load_checkpoint(tmp_path / "checkpoint.pt"))
    assert got.keys() == want.keys() and any(".exp_avg_sq" in k for k in want)
    for name, value in want.items():       # parameters, running statistics, Adam's moments and step counts
        assert _close(got[name], value, rtol=1e-9), name
    # the losses that were logged are the global-batch losses of the one process
    assert torch.allclose(state["history"], torch.tensor(ref.history, dtype=torch.float64), rtol=1e-9, atol=1e-12)


@needs_gloo
def test_ddp_float32_computes_the_one_process_networks(ranks):
    """float32: Adam's step lr·m/(√v + eps) divides each coordinate by its own size, so a tiny gradient
    coordinate (|g| ~ eps = 1e-8, from a sum that cancels) whose leading digits differ between two summation
    orders gives steps that differ by a sizeable fraction of lr; the next steps carry that on, and in some
    seeds (3 of 20 observed, with the notebook's preset) the networks differ by ~1e-3 after six steps. Only a
    loose check here (the exact one is float64's)."""
    ref = _one_process(torch.float32)
    state = P.load_checkpoint(ranks / "f32" / "checkpoint.pt")
    G, D = P.build(SMALL, 0, torch.device("cpu"))
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    z = torch.randn(256, SMALL.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():                    # training mode: batch statistics, as in training
        fake_ref, fake = ref.G(z), G(z)
        assert (fake - fake_ref).abs().max() < 1e-2
        assert (D(fake_ref) - ref.D(fake_ref)).abs().max() < 1e-2


@needs_gloo
def test_unsynchronised_batch_norm_trains_another_function(ranks):
    """Per-rank statistics (nn.BatchNorm under DDP) do not give the one-process run: the equality
    above is a property of the synchronised batch norm, not of DDP alone."""
    ref = _one_process(torch.float64)
    state = P.load_checkpoint(ranks / "nosync" / "checkpoint.pt")
    diffs = [float((state["G"][n] - v).norm() / v.norm()) for n, v in ref.G.state_dict().items()
             if v.is_floating_point()]
    assert max(diffs) > 1e-3, diffs


# ---------------------------------------------------------------------------------- checkpoints

@needs_gloo
def test_ddp_resume_continues_identically(ranks):
    full = P.load_checkpoint(ranks / "f64" / "checkpoint.pt")
    resumed = P.load_checkpoint(ranks / "resumed" / "checkpoint.pt")
    for key in ("G", "D"):
        for name, value in full[key].items():
            assert torch.equal(resumed[key][name], value), (key, name)        # bit for bit
    for key in ("opt_g", "opt_d"):
        for i, s in full[key]["state"].items():
            for k, v in s.items():
                assert torch.equal(resumed[key]["state"][i][k], v), (key, i, k)
    assert torch.equal(resumed["history"], full["history"])
    # only rank 0 logs: one line per step
    lines = (ranks / "f64" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(1, STEPS + 1))


@needs_gloo
def test_a_two_rank_checkpoint_resumes_in_one_process(ranks):
    """The global batch does not depend on N, so a run may continue on another number of processes."""
    ref = _one_process(torch.float64)
    cont = _one_process(torch.float64, resume=ranks / "half" / "checkpoint.pt")
    for net, other in ((cont.G, ref.G), (cont.D, ref.D)):
        for (name, a), b in zip(net.state_dict().items(), other.state_dict().values()):
            assert _close(a, b, rtol=1e-9), name


def test_one_process_resume_is_bit_for_bit(tmp_path):
    full = _one_process(torch.float32, steps=5)
    P.train(SMALL, steps=2, seed=0, out=tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 2 and set(state) >= {"G", "D", "opt_g", "opt_d", "batches", "history"}
    cont = P.train(SMALL, steps=5, seed=0, resume=tmp_path / "checkpoint.pt")
    for net, other in ((full.G, cont.G), (full.D, cont.D)):
        for (name, a), b in zip(net.state_dict().items(), other.state_dict().values()):
            assert torch.equal(a, b), name
    assert cont.history == full.history


def test_nan_stops_with_a_clear_message(tmp_path):
    P.train(SMALL, steps=1, seed=0, out=tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    state["G"]["project.weight"][0, 0, 0] = math.nan
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(TrainingDiverged, match="diverged at step 2"):
        P.train(SMALL, steps=5, seed=0, resume=tmp_path / "bad.pt", check_every=2)


# ------------------------------------------------------------------------------------ the data

def test_shards_concatenate_to_the_global_batch_and_epochs_are_permutations():
    x = torch.arange(24.0).view(12, 2)
    assert torch.equal(torch.cat([P.shard(x, r, 3) for r in range(3)]), x)
    a = P.GlobalBatches(10, 4, 3, seed=5)
    b = P.GlobalBatches(10, 4, 3, seed=5)
    first = [a.next() for _ in range(2)]
    assert sorted(torch.cat([i for i, _, _ in first]).tolist()) == sorted(set(torch.cat([i for i, _, _ in first]).tolist()))
    for (i1, zd1, zg1), (i2, zd2, zg2) in zip(first, [b.next() for _ in range(2)]):   # same seed, same draws
        assert torch.equal(i1, i2) and torch.equal(zd1, zd2) and torch.equal(zg1, zg2)
    c = P.GlobalBatches(10, 4, 3, seed=5)
    c.next()
    c.load_state_dict(a.state_dict())            # a third step, epoch 2: a new permutation
    assert all(torch.equal(u, v) for u, v in zip(a.next(), c.next()))
    assert P.per_rank_batch(64, 4) == 16


# --------------------------------------------------------------------------------- bad arguments

def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="preset"):
        P.train("tpu")
    with pytest.raises(TypeError, match="preset"):
        P.train(3)
    with pytest.raises(ValueError, match="steps"):
        P.train(SMALL, steps=0)
    with pytest.raises(TypeError, match="steps"):
        P.train(SMALL, steps=2.5)
    with pytest.raises(ValueError, match="checkpoint_every"):
        P.train(SMALL, steps=1, checkpoint_every=-1)
    with pytest.raises(ValueError, match="dtype"):
        P.train(SMALL, steps=1, dtype=torch.float16)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            P.train(SMALL, steps=1, device="cuda")
    with pytest.raises(TypeError, match="sync_batch_norm"):
        P.train(SMALL, steps=1, sync_batch_norm="yes")
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        P.per_rank_batch(64, 3)
    with pytest.raises(ValueError, match="rank"):
        P.shard(torch.zeros(4, 2), 2, 2)
    with pytest.raises(ValueError, match="batch"):
        P.GlobalBatches(10, 11, 2, seed=0)
    with pytest.raises(TypeError, match="net"):
        P.convert_sync_batchnorm("not a module")
    with pytest.raises(ValueError, match=r"\(n, 4, \.\.\.\)"):
        P.SyncBatchNorm(4)(torch.randn(3, 5))
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        P.train(SMALL, steps=2, resume=tmp_path / "missing.pt")
    P.train(SMALL, steps=2, seed=0, out=tmp_path)
    with pytest.raises(ValueError, match="same --preset and --seed"):
        P.train(SMALL, steps=3, seed=1, resume=tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="must exceed the checkpoint's step 2"):
        P.train(SMALL, steps=2, seed=0, resume=tmp_path / "checkpoint.pt")
    with pytest.raises(TypeError, match="fn"):
        P.spawn("train")


@pytest.mark.parametrize("argv, message", [
    (["--preset", "tpu"], "invalid choice"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--checkpoint-every", "5"], "needs --out"),
    (["--resume", "/nonexistent/checkpoint.pt"], "no such file"),
    (["--threads", "0"], "--threads must be >= 1"),
])
def test_command_line_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        P.main(argv)
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_command_line_one_process(tmp_path, capsys):
    assert P.main(["--preset", "cpu", "--steps", "3", "--out", str(tmp_path), "--device", "cpu", "--threads", "1"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["world_size"] == 1 and summary["global_batch"] == PRESETS["cpu"].batch and summary["steps"] == 3
    assert summary["seconds_per_1000_iterations"] > 0
    assert P.load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3
    assert "per 1,000 iterations" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------- CUDA

@pytest.mark.cuda
def test_cuda_sync_batch_norm_and_a_run():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 8, 4, 4, generator=g, dtype=torch.float64) + 2
    ref, sync = nn.BatchNorm2d(8).double().cuda(), P.SyncBatchNorm(8).double().cuda()
    assert torch.allclose(ref(x.cuda()), sync(x.cuda()), rtol=1e-10, atol=1e-12)
    cpu = P.train(SMALL, steps=3, seed=0, dtype=torch.float64)
    gpu = P.train(SMALL, steps=3, seed=0, dtype=torch.float64, device="cuda")
    assert gpu.history and all(math.isfinite(v) for _, d, g_ in gpu.history for v in (d, g_))
    # another generator stream (CUDA's) draws other batches: the runs differ, both train
    assert len(gpu.history) == len(cpu.history) == 3
    amp = P.train(dataclasses.replace(PRESETS["gpu"], width=16, batch=32), steps=5, seed=0, device="cuda")
    assert all(math.isfinite(v) for _, d, g_ in amp.history for v in (d, g_))
