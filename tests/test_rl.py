"""Chapter 16 (ganbook.rl): tabular MDPs, exact solvers, guided cost learning's identities, BC and GAIL,
checked against independent references: brute-force enumeration written here in plain Python, linear
solves of the Bellman equations (numpy), scipy's scalar minimiser, sampling frequencies."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from ganbook import rl


def _brute_return(mdp: rl.TabularMDP, policy: np.ndarray, reward: np.ndarray) -> float:
    """E[Σ_t r(s_t, a_t)] by summing over every (action, next state) path: plain Python."""
    P, init, T = mdp.P.numpy(), mdp.init.numpy(), mdp.horizon
    S, A = reward.shape
    total = 0.0
    for s0 in range(S):
        stack = [(s0, 0, init[s0], 0.0)]
        while stack:
            s, t, prob, ret = stack.pop()
            if prob == 0:
                continue
            if t == T:
                total += prob * ret
                continue
            for a in range(A):
                for s2 in range(S):
                    stack.append((s2, t + 1, prob * policy[s, a] * P[s, a, s2], ret + reward[s, a]))
    return total


def test_gridworld_transitions():
    mdp = rl.gridworld(3, slip=0.4, horizon=5, pits=((1, 1),))
    P = mdp.P
    assert torch.allclose(P.sum(-1), torch.ones(9, 4, dtype=P.dtype))
    # from the top-left corner, "right" reaches (0, 1) with 1 − 3·0.4/4 = 0.7; left/up bump the wall
    assert math.isclose(float(P[0, 0, 1]), 0.7) and math.isclose(float(P[0, 0, 0]), 0.2)
    assert math.isclose(float(P[0, 0, 3]), 0.1)
    # from (0, 1), "down" would enter the pit (1, 1): back to the start (0, 0) with 0.7 + 0.1 (slip left)
    assert float(P[:, :, 4].sum()) == 0 and math.isclose(float(P[1, 2, 0]), 0.8)
    assert torch.equal(P[8, :, 8], torch.ones(4, dtype=P.dtype))          # the goal absorbs
    assert float(mdp.reward[8].sum()) == 4 and float(mdp.reward.sum()) == 4
    assert not mdp.deterministic and rl.gridworld(3, slip=0.0).deterministic


def test_value_iteration_against_policy_evaluation():
    mdp = rl.gridworld(4, slip=0.2, pits=((1, 2),))
    gamma = 0.9
    Q = rl.value_iteration(mdp, gamma)
    pi = rl.greedy_policy(Q).numpy()
    P, r = mdp.P.numpy(), mdp.reward.numpy()
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = (pi * r).sum(1)
    v = np.linalg.solve(np.eye(16) - gamma * P_pi, r_pi)        # exact value of the greedy policy
    q = r + gamma * P @ v
    assert np.allclose(q, Q.numpy(), atol=1e-9)                  # it is the fixed point …
    assert np.allclose(v, q.max(1), atol=1e-9)                   # … and no action improves on it


def test_state_distributions_and_return_against_brute_force():
    mdp = rl.gridworld(2, slip=0.3, horizon=3)
    g = torch.Generator().manual_seed(0)
    policy = torch.softmax(torch.randn(4, 4, generator=g, dtype=torch.float64), -1)
    reward = torch.randn(4, 4, generator=g, dtype=torch.float64)
    want = _brute_return(mdp, policy.numpy(), reward.numpy())
    assert math.isclose(float(rl.expected_return(mdp, policy, reward)), want, rel_tol=1e-12)
    both = torch.stack([policy, torch.full_like(policy, 0.25)])
    got = rl.expected_return(mdp, both, reward)
    assert got.shape == (2,) and math.isclose(float(got[0]), want, rel_tol=1e-12)
    d = rl.state_distributions(mdp, policy)
    assert d.shape == (3, 4) and torch.allclose(d.sum(-1), torch.ones(3, dtype=d.dtype))


def test_sampling_matches_exact_state_distribution():
    mdp = rl.gridworld(3, slip=0.3, horizon=6)
    policy = torch.softmax(torch.randn(2, 9, 4, generator=torch.Generator().manual_seed(1),
                                       dtype=torch.float64), -1)
    n = 20000
    s, a = rl.sample_trajectories(mdp, policy, n, generator=torch.Generator().manual_seed(2))
    assert s.shape == a.shape == (2, n, 6)
    freq = torch.nn.functional.one_hot(s, 9).double().mean(1)                # (2, T, S)
    exact = rl.state_distributions(mdp, policy)
    se = (exact * (1 - exact) / n).sqrt()
    assert ((freq - exact).abs() <= 5 * se + 1e-12).all()


def test_soft_value_iteration_against_enumeration():
    mdp = rl.gridworld(2, slip=0.0, horizon=3)
    cost = torch.rand(4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    nxt = mdp.P.argmax(-1)
    # plain enumeration of the 4³ action sequences from the start state
    costs = []
    for seq in itertools.product(range(4), repeat=3):
        s, c = 0, 0.0
        for a in seq:
            c += float(cost[s, a])
            s = int(nxt[s, a])
        costs.append(c)
    log_z = math.log(sum(math.exp(-c) for c in costs))
    policy, v0 = rl.soft_value_iteration(mdp, -cost)
    assert math.isclose(float(v0[0]), log_z, rel_tol=1e-12)
    st, ac = rl.enumerate_trajectories(mdp)
    assert st.shape == (64, 3)
    c_tau = rl.trajectory_cost(cost, st, ac)
    assert np.allclose(sorted(c_tau.tolist()), sorted(costs))
    q = rl.trajectory_log_prob(mdp, policy, st, ac).exp()
    assert torch.allclose(q, torch.softmax(-c_tau, 0), atol=1e-14)
    # the soft-optimal sampler attains the MaxEnt RL minimum −log Z
    assert math.isclose(float(rl.maxent_rl_objective(c_tau, q)), -log_z, rel_tol=1e-12)
    assert math.isclose(float(rl.expected_return(mdp, policy, -cost, timed=True)), -float((q * c_tau).sum()),
                        rel_tol=1e-12)


@pytest.fixture
def gcl_problem():
    torch.manual_seed(0)
    mdp = rl.gridworld(3, slip=0.0, horizon=3)
    st, ac = rl.enumerate_trajectories(mdp)
    g = torch.Generator().manual_seed(4)
    p_data = torch.softmax(-rl.trajectory_cost(2 * torch.rand(9, 4, generator=g, dtype=torch.float64), st, ac), 0)
    theta = torch.randn(9, 4, generator=g, dtype=torch.float64)
    sampler = torch.softmax(2 * torch.randn(9, 4, generator=g, dtype=torch.float64), -1)
    q = rl.trajectory_log_prob(mdp, sampler, st, ac).exp()
    return mdp, st, ac, p_data, theta, q


def test_gcl_generator_loss_is_maxent_rl(gcl_problem):
    mdp, st, ac, p_data, theta, q = gcl_problem
    c = rl.trajectory_cost(theta, st, ac)
    for log_z in (-1.0, 0.0, 2.5):
        g_loss = rl.gcl_g_objective(rl.gcl_logit(c, log_z, q.log()), q)
        kl = float((q * (q.log() - torch.log_softmax(-c, 0))).sum())        # KL(q ‖ p_θ), directly
        assert math.isclose(float(g_loss), float(rl.maxent_rl_objective(c, q)) + log_z, rel_tol=1e-12)
        assert math.isclose(float(g_loss), kl - float(torch.logsumexp(-c, 0)) + log_z, rel_tol=1e-10)


def test_gcl_optimal_log_z_and_gradient(gcl_problem):
    mdp, st, ac, p_data, theta, q = gcl_problem
    c = rl.trajectory_cost(theta, st, ac)
    ref = minimize_scalar(lambda z: float(rl.gcl_d_objective(rl.gcl_logit(c, z, q.log()), p_data, q)),
                          bracket=(0.0, 5.0), tol=1e-12)
    log_z = rl.gcl_optimal_log_z(c, p_data, q)
    assert abs(float(log_z) - ref.x) < 1e-5
    assert math.isclose(float(rl.importance_log_z(c, log_z, p_data, q)), float(log_z), rel_tol=1e-10)
    th = theta.clone().requires_grad_(True)
    (g_d,) = torch.autograd.grad(rl.gcl_d_objective(rl.gcl_logit(rl.trajectory_cost(th, st, ac), log_z, q.log()),
                                               p_data, q), th)
    # the cost loss E_p[c] + log Z_IS with μ̃ held fixed, written out here
    c_th = rl.trajectory_cost(th, st, ac)
    mu_tilde = ((-c - log_z).exp() + q) / 2
    l_cost = (p_data * c_th).sum() + torch.log(((p_data + q) / 2 * (-c_th).exp() / mu_tilde).sum())
    (g_c,) = torch.autograd.grad(l_cost, th)
    assert torch.allclose(g_d, g_c, atol=1e-12) and g_d.abs().max() > 1e-3


def test_gcl_with_soft_optimal_sampler_is_half_the_irl_gradient(gcl_problem):
    mdp, st, ac, p_data, theta, _ = gcl_problem
    policy, v0 = rl.soft_value_iteration(mdp, -theta)
    q = rl.trajectory_log_prob(mdp, policy, st, ac).exp()
    c = rl.trajectory_cost(theta, st, ac)
    log_z = rl.gcl_optimal_log_z(c, p_data, q)
    assert abs(float(log_z) - float(v0[0])) < 1e-9
    th = theta.clone().requires_grad_(True)
    (g_d,) = torch.autograd.grad(rl.gcl_d_objective(rl.gcl_logit(rl.trajectory_cost(th, st, ac), log_z, q.log()),
                                               p_data, q), th)
    (g_irl,) = torch.autograd.grad(rl.maxent_irl_nll(rl.trajectory_cost(th, st, ac), p_data), th)
    # the MaxEnt IRL gradient, E_p[∂c] − E_{p_θ}[∂c], from visit counts
    onehot = torch.nn.functional.one_hot(st * 4 + ac, 36).double().sum(1)          # (N, S·A)
    want = ((p_data - q) @ onehot).reshape(9, 4)
    assert torch.allclose(g_irl, want, atol=1e-12)
    assert torch.allclose(g_d, g_irl / 2, atol=1e-12)


def test_monte_carlo_advantage_against_a_loop():
    g = torch.Generator().manual_seed(6)
    states = torch.randint(0, 3, (2, 5, 4), generator=g)
    actions = torch.randint(0, 2, (2, 5, 4), generator=g)
    rewards = torch.rand(2, 5, 4, generator=g, dtype=torch.float64)
    adv, visits = rl.monte_carlo_advantage(rewards, states, actions, 3, 2)
    for m in range(2):
        by_sa, by_s = {}, {}
        for i in range(5):
            for t in range(4):
                ret = float(rewards[m, i, t:].sum())
                s, a = int(states[m, i, t]), int(actions[m, i, t])
                by_sa.setdefault((s, a), []).append(ret)
                by_s.setdefault(s, []).append(ret)
        for s in range(3):
            for a in range(2):
                want = (np.mean(by_sa[(s, a)]) - np.mean(by_s[s])) if (s, a) in by_sa else 0.0
                assert math.isclose(float(adv[m, s, a]), want, abs_tol=1e-12)
                assert int(visits[m, s, a]) == len(by_sa.get((s, a), []))


def test_behaviour_cloning_counts():
    states = torch.tensor([[[0, 1, 1], [0, 2, 2]]])
    actions = torch.tensor([[[1, 0, 2], [1, 3, 3]]])
    pi = rl.behaviour_cloning(states, actions, 4, 4)
    assert pi.shape == (1, 4, 4)
    assert torch.equal(pi[0, 0], torch.tensor([0, 1, 0, 0], dtype=pi.dtype))
    assert torch.equal(pi[0, 1], torch.tensor([0.5, 0, 0.5, 0], dtype=pi.dtype))
    assert torch.equal(pi[0, 3], torch.full((4,), 0.25, dtype=pi.dtype))


def test_gail_learns_to_reach_the_goal():
    torch.manual_seed(0)
    mdp = rl.gridworld(4, slip=0.1, horizon=10)
    expert = rl.greedy_policy(rl.value_iteration(mdp, 0.95))
    g = torch.Generator().manual_seed(5)
    es, ea = rl.sample_trajectories(mdp, expert.expand(3, -1, -1), 4, generator=g)
    res = rl.gail(mdp, es, ea, steps=150, batch=32, generator=g)
    assert res.policy.shape == (3, 16, 4) and res.reward_history.shape == (150, 3)
    assert torch.allclose(res.policy.sum(-1), torch.ones(3, 16, dtype=res.policy.dtype))
    ret = rl.expected_return(mdp, res.policy)
    uniform = float(rl.expected_return(mdp, torch.full((16, 4), 0.25, dtype=torch.float64)))
    expert_ret = float(rl.expected_return(mdp, expert))
    assert (ret > uniform + 0.5 * (expert_ret - uniform)).all(), (ret, uniform, expert_ret)


def test_bad_input():
    mdp = rl.gridworld(3)
    with pytest.raises(ValueError, match="slip"):
        rl.gridworld(3, slip=1.5)
    with pytest.raises(ValueError, match="goal"):
        rl.gridworld(3, goal=(3, 0))
    with pytest.raises(ValueError, match="pit"):
        rl.gridworld(3, pits=((0, 0),))
    with pytest.raises(TypeError, match="mdp"):
        rl.value_iteration("grid")
    with pytest.raises(ValueError, match="policy"):
        rl.expected_return(mdp, torch.full((9, 3), 1 / 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="policy"):
        rl.expected_return(mdp, torch.full((9, 4), 0.3, dtype=torch.float64))
    with pytest.raises(ValueError, match="deterministic"):
        rl.enumerate_trajectories(mdp)
    with pytest.raises(ValueError, match="steps"):
        rl.gail(mdp, torch.zeros(1, 1, 16, dtype=torch.long), torch.zeros(1, 1, 16, dtype=torch.long), steps=0)
    with pytest.raises(ValueError, match="expert_actions"):
        rl.gail(mdp, torch.zeros(1, 1, 16, dtype=torch.long), torch.zeros(1, 2, 16, dtype=torch.long))


def test_check_soft_value_iteration():
    from ganbook import check

    def right(P, reward, horizon):
        v = torch.zeros(P.shape[0], dtype=P.dtype)
        for _ in range(horizon):
            v = torch.logsumexp(reward + P @ v, dim=1)
        return v

    def hard(P, reward, horizon):
        v = torch.zeros(P.shape[0], dtype=P.dtype)
        for _ in range(horizon):
            v = (reward + P @ v).max(dim=1).values
        return v

    def one_short(P, reward, horizon):
        return right(P, reward, horizon - 1)

    check.soft_value_iteration(right, quiet=True)
    with pytest.raises(check.CheckFailed, match="hard max"):
        check.soft_value_iteration(hard)
    with pytest.raises(check.CheckFailed):
        check.soft_value_iteration(one_short)
    with pytest.raises(check.CheckFailed, match="not implemented yet"):
        check.soft_value_iteration(lambda P, r, T: None)
