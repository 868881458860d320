"""Chapter 13a (ganbook.seqgan) against independent references: torch.nn.LSTMCell, brute-force enumeration of
every sequence of a tiny vocabulary, exact policy gradients, F.conv1d, and loops written out by hand."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from ganbook import seqgan

V3, T3 = 3, 3


def gens(n, seed=0):
    return [torch.Generator().manual_seed(seed + s) for s in range(n)]


def policy(vocab=V3, length=T3, members=1, seed=0, init="uniform", hidden=6, embed=4):
    return seqgan.LSTMPolicy(vocab, length, hidden=hidden, embed=embed, generators=gens(members, seed),
                             init=init).double()


def every(vocab=V3, length=T3):
    return torch.tensor(list(itertools.product(range(vocab), repeat=length)), dtype=torch.long)


def cell_log_probs(net, member, x):
    """Per-step log-softmax of sequences x (n, T) by torch.nn.LSTMCell with the member's weights copied in."""
    cell = torch.nn.LSTMCell(net.embed, net.hidden).double()
    with torch.no_grad():
        cell.weight_ih.copy_(net.w_ih[member].T)
        cell.weight_hh.copy_(net.w_hh[member].T)
        cell.bias_ih.copy_(net.b[member, 0])
        cell.bias_hh.zero_()
    n, T = x.shape
    h = c = torch.zeros(n, net.hidden, dtype=torch.float64)
    prev = torch.full((n,), net.vocab)
    out = []
    for t in range(T):
        h, c = cell(net.emb[member][prev], (h, c))
        logits = h @ net.w_out[member] + net.b_out[member, 0]
        out.append(torch.log_softmax(logits, -1).gather(1, x[:, t:t + 1]).squeeze(1))
        prev = x[:, t]
    return torch.stack(out, 1)


def test_policy_matches_lstm_cell_and_normalises():
    net = policy(members=2, seed=3, init="normal")
    xs = every()
    with torch.no_grad():
        lp = seqgan.sequence_log_prob(net, xs.expand(2, -1, -1))
        for m in range(2):
            ref = cell_log_probs(net, m, xs).sum(1)
            torch.testing.assert_close(lp[m], ref, rtol=1e-10, atol=1e-10)
            assert abs(float(torch.logsumexp(lp[m], 0))) < 1e-10           # Σ_x G(x) = 1 over all 27 sequences


def test_members_subset_and_independence():
    net = policy(members=3, seed=5)
    x = every()[None].expand(2, -1, -1)
    with torch.no_grad():
        sub = seqgan.sequence_log_prob(net, x, members=[2, 0])
        full = seqgan.sequence_log_prob(net, every()[None].expand(3, -1, -1))
    torch.testing.assert_close(sub, full[[2, 0]])
    single = policy(members=1, seed=7)          # generator stream seed + 0: member 0 of a net seeded 7
    assert torch.equal(single.w_hh[0], policy(members=3, seed=7).w_hh[0])


def test_sampling_frequencies_match_exact_probabilities():
    net = policy(seed=11, init="normal")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = net.sample(40_000, g)[0]
        p = seqgan.sequence_log_prob(net, every()[None])[0].exp()
    codes = (x * torch.tensor([V3 ** 2, V3, 1])).sum(1)
    freq = torch.bincount(codes, minlength=V3 ** T3).double() / len(codes)
    assert 0.5 * float((freq - p).abs().sum()) < 0.02                   # total variation


def test_nll_oracle_both_forms_match_enumeration():
    oracle, gen = policy(seed=21, init="normal"), policy(seed=31, init="normal")
    xs = every()[None]
    with torch.no_grad():
        lo = seqgan.sequence_log_prob(oracle, xs)[0]
        lg = seqgan.sequence_log_prob(gen, xs)[0]
        exact = float((lg.exp() * -lo).sum()) / T3
        x, logits = gen.sample(20_000, torch.Generator().manual_seed(1), return_logits=True)
        plain = float(seqgan.nll_oracle(oracle, x)[0])
        rb = float(seqgan.nll_oracle(oracle, x, sample_logits=logits)[0])
        per = -seqgan.sequence_log_prob(oracle, x)[0] / T3
    se = float(per.std()) / math.sqrt(len(per))
    assert abs(plain - exact) < 5 * se and abs(rb - exact) < 5 * se
    with pytest.raises(ValueError, match="sample_logits"):
        seqgan.nll_oracle(oracle, x, sample_logits=logits[:, :10])


def test_rollouts_keep_prefixes_and_complete_reward_is_d():
    net = policy(members=2, seed=41)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        x = net.sample(5, g)
        roll = seqgan.rollouts(net, x, 7, g)
    assert roll.shape == (2, T3 - 1, 7, 5, T3)
    for t in range(1, T3):
        assert torch.equal(roll[:, t - 1, :, :, :t], x[:, None, :, :t].expand(-1, 7, -1, -1))
    d = seqgan.SeqCNN(V3, T3, widths=(2,), filters=4, generators=gens(2, 9)).double()
    reward = lambda s: torch.sigmoid(d(s))  # noqa: E731
    q = seqgan.mc_rewards(net, reward, x, 3, g)
    with torch.no_grad():
        torch.testing.assert_close(q[..., -1], reward(x), rtol=0, atol=0)


def exact_q(net, f_table):
    """Q(x_<t, x_t) = E[f | x_1:t] for every sequence and t, by enumeration (G's conditional probabilities)."""
    xs = every()
    with torch.no_grad():
        p = seqgan.sequence_log_prob(net, xs[None])[0].exp()
    q = torch.zeros(len(xs), T3, dtype=torch.float64)
    for t in range(1, T3 + 1):
        for i, x in enumerate(xs):
            same = (xs[:, :t] == x[:t]).all(1)
            q[i, t - 1] = (p[same] * f_table[same]).sum() / p[same].sum()
    return q


def test_mc_q_matches_enumerated_q():
    net = policy(seed=51, init="normal")
    f_table = torch.rand(V3 ** T3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    codes = torch.tensor([V3 ** 2, V3, 1])
    reward = lambda s: f_table[(s * codes).sum(-1)]  # noqa: E731
    x = every()[None]
    q = seqgan.mc_rewards(net, reward, x, 4000, torch.Generator().manual_seed(4))[0]
    ref = exact_q(net, f_table)
    assert float((q - ref).abs().max()) < 0.04                          # ±4 SE of a mean of 4000 draws in [0, 1]
    torch.testing.assert_close(q[:, -1], ref[:, -1])


def _flat_grad(net):
    return torch.cat([p.grad.flatten() for p in net.parameters()])


def test_policy_gradient_equals_enumerated_gradient():
    """Eq. (ch13-pg): Σ_x G(x) Σ_t (Q − b) ∇ log G(x_t | x_<t) = ∇ Σ_x G(x) f(x), exactly, with exact Q."""
    net = policy(seed=61, init="normal")
    f_table = torch.rand(V3 ** T3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    xs = every()[None]
    net.zero_grad()
    (-(seqgan.sequence_log_prob(net, xs)[0].exp() * f_table).sum()).backward()
    truth = _flat_grad(net).clone()
    q = exact_q(net, f_table)
    with torch.no_grad():
        p = seqgan.sequence_log_prob(net, xs)[0].exp()
    for b in (0.0, 0.37):
        net.zero_grad()
        log_p = torch.log_softmax(net.logits(xs), -1).gather(-1, xs.unsqueeze(-1)).squeeze(-1)
        weight = (p * len(p))[None, :, None]                               # the mean over n becomes Σ_x G(x) ·
        seqgan.pg_surrogate(log_p, q[None] * weight, baseline=b * weight).backward()
        torch.testing.assert_close(_flat_grad(net), truth, rtol=1e-8, atol=1e-10)


def test_sampled_policy_gradient_with_one_rollout_is_unbiased():
    net = policy(seed=71, init="normal")
    f_table = torch.rand(V3 ** T3, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    codes = torch.tensor([V3 ** 2, V3, 1])
    reward = lambda s: f_table[(s * codes).sum(-1)]  # noqa: E731
    net.zero_grad()
    (-(seqgan.sequence_log_prob(net, every()[None])[0].exp() * f_table).sum()).backward()
    truth = _flat_grad(net).clone()
    g = torch.Generator().manual_seed(7)
    ests = []
    for _ in range(4):                                                     # 4 independent batches of 5,000
        with torch.no_grad():
            x = net.sample(5_000, g)
        q = seqgan.mc_rewards(net, reward, x, 1, g)
        net.zero_grad()
        log_p = torch.log_softmax(net.logits(x), -1).gather(-1, x.unsqueeze(-1)).squeeze(-1)
        seqgan.pg_surrogate(log_p, q, baseline=0.5).backward()
        ests.append(_flat_grad(net).clone())
    est = torch.stack(ests)
    se = est.std(0) / 2
    err = est.mean(0) - truth
    assert float(err.norm() / truth.norm()) < 0.1
    assert float((err.abs() <= 5 * se + 1e-6).double().mean()) > 0.9     # (an SE from 4 batches is itself rough)


def test_scheduled_sampling_at_zero_is_mle():
    net = policy(members=2, seed=81)
    x = every()[None].expand(2, -1, -1)
    torch.testing.assert_close(seqgan.scheduled_sampling_nll(net, x, 0.0, torch.Generator().manual_seed(0)),
                               seqgan.mle_nll(net, x))
    ref = -(cell_log_probs(net, 0, x[0]).sum(1) / T3).mean() - (cell_log_probs(net, 1, x[1]).sum(1) / T3).mean()
    torch.testing.assert_close(seqgan.mle_nll(net, x), ref)


def test_seqcnn_matches_conv1d():
    d = seqgan.SeqCNN(5, 6, embed=3, widths=(2, 3), filters=4, generators=gens(2, 13)).double()
    x = torch.randint(0, 5, (2, 7, 6), generator=torch.Generator().manual_seed(0))
    out = d(x)
    for m in range(2):
        e = d.emb[m][x[m]].transpose(1, 2)                                  # (n, E, T)
        feats = []
        for w, W, b in zip(d.widths, d.convs, d.conv_b):
            kernel = W[m].T.reshape(-1, w, 3).transpose(1, 2)               # (F, E, w): rows of W are (w, E)
            feats.append(torch.relu(F.conv1d(e, kernel, b[m, 0])).amax(-1))
        ref = torch.cat(feats, 1) @ d.head[m] + d.head_b[m, 0]
        torch.testing.assert_close(out[m], ref.squeeze(1))


def test_organ_reward_and_step_ratio():
    d, o = torch.rand(4, 5), torch.rand(4, 5)
    torch.testing.assert_close(seqgan.organ_reward(d, o, 1.0), d)
    torch.testing.assert_close(seqgan.organ_reward(d, o, 0.0), o)
    torch.testing.assert_close(seqgan.organ_reward(d, o, 0.3), 0.3 * d + 0.7 * o)
    lam = torch.tensor([[1.0], [0.0], [0.5], [0.2]])
    torch.testing.assert_close(seqgan.organ_reward(d, o, lam), lam * d + (1 - lam) * o)
    assert seqgan.step_ratio(torch.tensor([[0, 1, 2, 2, 0]])).tolist() == [0.5]
    with pytest.raises(ValueError, match="lam"):
        seqgan.organ_reward(d, o, 1.5)
    with pytest.raises(ValueError):
        seqgan.step_ratio(torch.tensor([[0.0, 1.0]]))


def test_rank_score_against_a_loop():
    g = torch.Generator().manual_seed(0)
    cand, ref, comp = (torch.randn(k, 4, generator=g, dtype=torch.float64) for k in (3, 5, 6))
    got = seqgan.rank_score(cand, ref, comp, gamma=2.5)
    cos = lambda a, b: float(a @ b / (a.norm() * b.norm()))  # noqa: E731
    for i in range(3):
        ps = []
        for u in ref:
            num = math.exp(2.5 * cos(cand[i], u))
            ps.append(num / (num + sum(math.exp(2.5 * cos(c, u)) for c in comp)))
        assert abs(float(got[i]) - sum(ps) / len(ps)) < 1e-12
    real, fake = torch.tensor([0.9, 0.6]), torch.tensor([0.2])
    torch.testing.assert_close(seqgan.rank_d_loss(real, fake),
                               -(math.log(0.9) + math.log(0.6)) / 2 - math.log(0.8) * torch.ones(()))


def test_bad_input_is_named():
    net = policy(members=2)
    with pytest.raises(TypeError, match="x"):
        net.logits(torch.zeros(2, 3, T3))
    with pytest.raises(ValueError, match="token ids"):
        net.logits(torch.full((2, 3, T3), V3))
    with pytest.raises(ValueError, match="member"):
        net.logits(torch.zeros(3, 3, T3, dtype=torch.long))
    with pytest.raises(ValueError, match="members"):
        net.sample(4, members=[5])
    with pytest.raises(ValueError, match="p_own"):
        seqgan.scheduled_sampling_nll(net, torch.zeros(2, 3, T3, dtype=torch.long), 1.5)
    with pytest.raises(TypeError, match="generators"):
        seqgan.LSTMPolicy(3, 3, generators=[])
    with pytest.raises(ValueError, match="init"):
        seqgan.LSTMPolicy(3, 3, generators=gens(1), init="zeros")
    with pytest.raises(ValueError, match="preset"):
        seqgan.preset("tpu")
    with pytest.raises(ValueError, match="rewards"):
        seqgan.pg_surrogate(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="widths"):
        seqgan.SeqCNN(3, 2, widths=(3,), generators=gens(1))
