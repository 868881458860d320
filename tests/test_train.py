"""The shared training loop: determinism, checkpoint/resume, n_critic, divergence, bad input."""
import functools
import math

import pytest
import torch

import ganbook
from ganbook import data, nets, train
from ganbook.objectives import penalties


def _trainer(seed=0, **kw):
    ganbook.seed(seed)
    G = nets.mlp(2, 2, (32, 32))
    D = nets.mlp(2, 1, (32, 32), squeeze=True)
    kw.setdefault("batch_size", 64)
    return train.Trainer(G, D, "nonsaturating", data.ring().sample, data.latent(2), seed=seed, **kw)


def _params(t):
    return torch.cat([p.detach().flatten() for p in [*t.G.parameters(), *t.D.parameters()]])


def test_same_seed_same_run():
    a, b = _trainer(), _trainer()
    a.run(30, progress=False)
    b.run(30, progress=False)
    assert torch.equal(_params(a), _params(b))
    assert a.history.d_loss == b.history.d_loss
    c = _trainer(seed=1)
    c.run(30, progress=False)
    assert not torch.equal(_params(a), _params(c))


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    straight = _trainer(n_critic=2)
    straight.run(40, progress=False, snapshot_every=10, snapshot_z=torch.zeros(5, 2))

    first = _trainer(n_critic=2)
    first.run(17, progress=False, snapshot_every=10, snapshot_z=torch.zeros(5, 2))
    path = tmp_path / "ckpt.pt"
    first.save(path)
    resumed = _trainer(seed=123, n_critic=2)            # fresh networks and a different stream
    resumed.load(path)                                  # torch.load(..., weights_only=True)
    resumed.run(23, progress=False, snapshot_every=10, snapshot_z=torch.zeros(5, 2))

    assert torch.equal(_params(straight), _params(resumed))
    assert straight.history.d_loss == resumed.history.d_loss
    assert straight.history.g_loss == resumed.history.g_loss
    assert straight.history.snapshot_steps == resumed.history.snapshot_steps == [0, 10, 20, 30, 40]
    for s1, s2 in zip(straight.history.snapshots, resumed.history.snapshots):
        assert torch.equal(s1, s2)


def _gp_trainer(seed=0):
    return _trainer(seed, n_critic=2, d_regularizer=functools.partial(penalties.gradient_penalty, weight=10.0))


def test_penalty_noise_comes_from_the_run_s_own_stream():
    """The gradient penalty draws its ε from the trainer's generator, so a run is a function of its
    seed: disturbing torch's global stream between two runs changes nothing."""
    a, b = _gp_trainer(), _gp_trainer()
    torch.manual_seed(1)
    a.run(6, progress=False)
    torch.manual_seed(2)                                # a different global stream for the second run
    b.run(6, progress=False)
    assert torch.equal(_params(a), _params(b))
    assert a.history.d_loss == b.history.d_loss


def test_resume_with_a_noisy_penalty_equals_the_uninterrupted_run(tmp_path):
    straight = _gp_trainer()
    straight.run(10, progress=False)
    first = _gp_trainer()
    first.run(4, progress=False)
    first.save(tmp_path / "ckpt.pt")
    resumed = _gp_trainer(seed=5)
    resumed.load(tmp_path / "ckpt.pt")
    torch.manual_seed(99)                               # whatever the global stream holds now
    resumed.run(6, progress=False)
    assert torch.equal(_params(straight), _params(resumed))
    assert straight.history.d_loss == resumed.history.d_loss


def test_n_critic_updates_the_discriminator_n_times_per_step():
    t = _trainer(n_critic=3)
    calls = {"d": 0, "g": 0}
    d_step, g_step = t.d_step, t.g_step
    t.d_step = lambda: (calls.__setitem__("d", calls["d"] + 1), d_step())[1]
    t.g_step = lambda: (calls.__setitem__("g", calls["g"] + 1), g_step())[1]
    t.run(4, progress=False)
    assert calls == {"d": 12, "g": 4} and t.steps_done == 4


def test_regularizer_and_post_step_are_applied():
    seen = {}

    def reg(D, real, fake, *, generator):
        seen["shapes"] = (tuple(real.shape), tuple(fake.shape))
        seen["generator"] = generator
        return torch.zeros((), requires_grad=False)

    def clip(D):
        for p in D.parameters():
            p.data.clamp_(-0.01, 0.01)

    t = _trainer(d_regularizer=reg, d_post_step=clip)
    t.run(3, progress=False)
    assert seen["shapes"] == ((64, 2), (64, 2))
    assert seen["generator"] is t.rng                   # the penalty draws from the run's stream
    assert max(float(p.detach().abs().max()) for p in t.D.parameters()) <= 0.01


def test_callback_records_extras():
    t = _trainer()
    t.run(10, progress=False, callback=lambda tr: {"step_twice": 2 * tr.steps_done}, callback_every=5)
    assert t.history.extra_steps == [5, 10] and t.history.extras["step_twice"] == [10.0, 20.0]


def test_divergence_stops_with_a_message():
    ganbook.seed(0)
    G, D = nets.mlp(2, 2, (8,)), nets.mlp(2, 1, (8,), squeeze=True)
    bad_data = lambda n, g: torch.full((n, 2), float("inf"))
    t = train.Trainer(G, D, "nonsaturating", bad_data, data.latent(2), batch_size=8)
    with pytest.raises(train.TrainingDiverged, match="diverged at step 0"):
        t.run(5, progress=False)


def test_progress_is_quiet_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert train.progress_enabled() is False


@pytest.mark.parametrize("kw, match", [
    ({"batch_size": 0}, "batch_size"),
    ({"n_critic": 0}, "n_critic"),
    ({"amp": True}, "amp"),
    ({"seed": -1}, "seed"),
    ({"d_regularizer": 10.0}, "d_regularizer"),
    ({"d_post_step": "clip"}, "d_post_step"),
])
def test_bad_trainer_arguments(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _trainer(**kw)


def test_bad_run_arguments():
    t = _trainer()
    with pytest.raises(ValueError, match="snapshot_z"):
        t.run(2, snapshot_every=1)
    with pytest.raises(ValueError, match="callback"):
        t.run(2, callback_every=1)
    with pytest.raises(TypeError, match="G must be"):
        train.Trainer("G", t.D, "minimax", data.ring().sample, data.latent(2))
    with pytest.raises(ValueError, match="not a Trainer checkpoint"):
        t.load_state_dict({"G": {}})


def test_losses_reach_the_history_in_batches_and_divergence_names_its_step():
    """Losses stay on the device between checks; the history (read at any time) holds every step, and
    a loss that turns non-finite mid-run is reported with its own step, at the next check."""
    t = _trainer()
    t.check_every = 7
    for _ in range(10):
        d, g = t.step()
        assert isinstance(d, torch.Tensor) and d.dim() == 0
    assert t.history.step == list(range(1, 11)) and len(t.history.d_loss) == len(t.history.g_loss) == 10
    assert all(math.isfinite(v) for v in t.history.d_loss + t.history.g_loss)

    ganbook.seed(0)
    G, D = nets.mlp(2, 2, (8,)), nets.mlp(2, 1, (8,), squeeze=True)
    calls = {"n": 0}

    def real(n, g):                      # finite for 12 batches, then infinite
        calls["n"] += 1
        return torch.full((n, 2), float("inf")) if calls["n"] > 12 else torch.randn(n, 2, generator=g)

    t = train.Trainer(G, D, "nonsaturating", real, data.latent(2), batch_size=8, check_every=50)
    with pytest.raises(train.TrainingDiverged, match="diverged at step 12: the discriminator loss"):
        t.run(30, progress=False)
