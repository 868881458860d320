"""Chapter 16: GANs, reinforcement learning and inverse RL, on small tabular problems where every
quantity can be computed exactly.

* A finite-horizon tabular MDP (:class:`TabularMDP`) and a gridworld with slippery moves
  (:func:`gridworld`); exact solvers: discounted value iteration (:func:`value_iteration`, the
  expert), finite-horizon soft value iteration (:func:`soft_value_iteration`, eq. (ch16-soft-vi)),
  state distributions and returns of a policy by dynamic programming (:func:`state_distributions`,
  :func:`expected_return`).
* Maximum-entropy IRL and guided cost learning over the enumerated trajectories of a deterministic
  MDP (:func:`enumerate_trajectories`): the discriminator's logit (eq. (ch16-gcl-d)), its loss, the
  optimal log-partition estimate (eq. (ch16-gcl-z)), the IRL loss (eq. (ch16-irl)) and the MaxEnt RL
  objective (eq. (ch16-maxent-rl)).
* Imitation from demonstrations: batched trajectory sampling (:func:`sample_trajectories`),
  behaviour cloning (:func:`behaviour_cloning`, eq. (ch16-bc)) and GAIL with a tabular discriminator
  and a tabular policy trained by natural-gradient steps on Monte Carlo advantages
  (:func:`monte_carlo_advantage`, :func:`gail`, eqs. (ch16-gail), (ch16-npg)).

Policies are tensors of action probabilities: ``(S, A)`` (stationary), ``(M, S, A)`` for M
independent members (seeds) side by side, or ``(T, S, A)`` time-dependent (soft value iteration).
Everything runs on the device of the MDP's tensors.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import _validate as V
from .objectives import minimax_d_loss

__all__ = ["TabularMDP", "gridworld", "value_iteration", "greedy_policy", "soft_value_iteration",
           "state_distributions", "expected_return", "occupancy", "enumerate_trajectories",
           "trajectory_log_prob", "trajectory_cost", "gcl_logit", "gcl_d_objective", "gcl_g_objective",
           "gcl_optimal_log_z", "importance_log_z", "maxent_irl_nll", "maxent_rl_objective",
           "sample_trajectories", "behaviour_cloning", "monte_carlo_advantage", "GailResult", "gail",
           "ACTIONS"]

ACTIONS = ("right", "left", "down", "up")
_MOVES = ((0, 1), (0, -1), (1, 0), (-1, 0))          # (row, column) steps of the four actions


@dataclass(frozen=True)
class TabularMDP:
    """A finite-horizon MDP: ``P`` (S, A, S) transition probabilities, ``reward`` (S, A),
    ``init`` (S,) initial distribution, ``horizon`` T steps (actions a_0 … a_{T-1})."""

    P: torch.Tensor
    reward: torch.Tensor
    init: torch.Tensor
    horizon: int

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    @property
    def deterministic(self) -> bool:
        """True when every (s, a) leads to one next state with probability 1."""
        return bool(((self.P == 0) | (self.P == 1)).all())

    def to(self, device: str | torch.device) -> "TabularMDP":
        return TabularMDP(self.P.to(device), self.reward.to(device), self.init.to(device), self.horizon)


def gridworld(size: int = 6, *, slip: float = 0.3, horizon: int = 16, start: tuple[int, int] = (0, 0),
              goal: tuple[int, int] | None = None, pits: tuple[tuple[int, int], ...] = (), dtype: torch.dtype = torch.float64,
              device: str | torch.device | None = None) -> TabularMDP:
    """A ``size`` × ``size`` grid, state s = row · size + column. Actions move right, left, down, up;
    with probability ``slip`` the move is replaced by one drawn uniformly from the four (so the
    intended move happens with probability 1 − 3·slip/4); a move into the wall stays put. The goal
    (default: the corner opposite ``start``) is absorbing and pays 1 per step spent on it, so the
    return is the number of steps left after arriving; every other cell pays 0. A move
    into a cell of ``pits`` drops the agent back to ``start`` (the pit cells are never occupied)."""
    size = V.positive_int(size, "size", minimum=2)
    horizon = V.positive_int(horizon, "horizon")
    slip = V.probability(slip, "slip")
    goal = (size - 1, size - 1) if goal is None else goal
    if not isinstance(pits, (tuple, list)):
        raise TypeError(f"pits must be a tuple of (row, column) cells, got {type(pits).__name__}")
    for name, cell in (("start", start), ("goal", goal), *(("pits", t) for t in pits)):
        if (not isinstance(cell, tuple) or len(cell) != 2
                or not all(isinstance(c, int) and 0 <= c < size for c in cell)):
            raise ValueError(f"{name} must be a (row, column) pair inside the {size}×{size} grid, got {cell!r}")
    if start in pits or goal in pits:
        raise ValueError(f"a pit cannot be the start or the goal, got pits={pits!r}")
    S, A = size * size, len(_MOVES)
    move = torch.zeros(S, A, S, dtype=dtype)              # where each action leads without slipping
    for r, c in itertools.product(range(size), range(size)):
        for a, (dr, dc) in enumerate(_MOVES):
            r2, c2 = min(max(r + dr, 0), size - 1), min(max(c + dc, 0), size - 1)
            r2, c2 = start if (r2, c2) in pits else (r2, c2)
            move[r * size + c, a, r2 * size + c2] = 1.0
    P = (1 - slip) * move + slip * move.mean(dim=1, keepdim=True)
    g = goal[0] * size + goal[1]
    P[g] = 0.0
    P[g, :, g] = 1.0                                        # the goal is absorbing
    reward = torch.zeros(S, A, dtype=dtype)
    reward[goal[0] * size + goal[1]] = 1.0
    init = torch.zeros(S, dtype=dtype)
    init[start[0] * size + start[1]] = 1.0
    dev = V.device_arg(device) if device is not None else torch.device("cpu")
    return TabularMDP(P.to(dev), reward.to(dev), init.to(dev), horizon)


def _check_mdp(mdp: object) -> TabularMDP:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    return mdp


def _check_policy(policy: object, mdp: TabularMDP, name: str = "policy") -> torch.Tensor:
    V.tensor(policy, name, ndim=(2, 3))
    if policy.shape[-2:] != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"{name} must end in (S, A) = ({mdp.n_states}, {mdp.n_actions}), got {tuple(policy.shape)}")
    if not torch.allclose(policy.sum(-1), torch.ones((), dtype=policy.dtype, device=policy.device), atol=1e-5):
        raise ValueError(f"{name}'s rows must be probability distributions over actions (sum to 1)")
    return policy


def value_iteration(mdp: TabularMDP, gamma: float = 0.95, *, tol: float = 1e-12,
                    max_iter: int = 10_000) -> torch.Tensor:
    """Optimal discounted action values Q*(s, a) = r(s, a) + γ Σ_s' P(s'|s, a) max_a' Q*(s', a'),
    by iterating the Bellman optimality operator to a fixed point (a γ-contraction)."""
    _check_mdp(mdp)
    gamma = V.probability(gamma, "gamma", open_interval=True)
    Q = torch.zeros_like(mdp.reward)
    for _ in range(max_iter):
        Q_new = mdp.reward + gamma * mdp.P @ Q.max(dim=1).values
        if float((Q_new - Q).abs().max()) < tol:
            return Q_new
        Q = Q_new
    raise RuntimeError(f"value iteration did not converge in {max_iter} iterations")


def greedy_policy(Q: torch.Tensor, *, tol: float = 1e-9) -> torch.Tensor:
    """The policy that picks uniformly among the actions within ``tol`` of max_a Q(s, a)."""
    V.tensor(Q, "Q", ndim=2)
    best = (Q >= Q.max(dim=1, keepdim=True).values - tol).to(Q.dtype)
    return best / best.sum(dim=1, keepdim=True)


def soft_value_iteration(mdp: TabularMDP, reward: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Finite-horizon soft Bellman recursion, eq. (ch16-soft-vi): V_T = 0,
    Q_t(s, a) = r(s, a) + Σ_s' P(s'|s, a) V_{t+1}(s'), V_t(s) = log Σ_a exp Q_t(s, a).
    Returns the time-dependent MaxEnt-optimal policy π_t(a|s) = exp(Q_t − V_t) (T, S, A) and V_0 (S,).
    ``reward`` (S, A) defaults to the MDP's."""
    _check_mdp(mdp)
    r = mdp.reward if reward is None else V.tensor(reward, "reward", ndim=2)
    if r.shape != mdp.reward.shape:
        raise ValueError(f"reward must have shape {tuple(mdp.reward.shape)}, got {tuple(r.shape)}")
    v = torch.zeros(mdp.n_states, dtype=r.dtype, device=r.device)
    policies = []
    for _ in range(mdp.horizon):
        q = r + mdp.P @ v
        v = torch.logsumexp(q, dim=1)
        policies.append((q - v[:, None]).exp())
    return torch.stack(policies[::-1]), v


def state_distributions(mdp: TabularMDP, policy: torch.Tensor, *, timed: bool = False) -> torch.Tensor:
    """d_t(s) = Pr(s_t = s) for t = 0 … T−1 by d_{t+1}(s') = Σ_{s,a} d_t(s) π(a|s) P(s'|s, a):
    (T, S) for a stationary policy (S, A), (M, T, S) for members (M, S, A), and (T, S) for a
    time-dependent policy (T, S, A) when ``timed=True``."""
    _check_mdp(mdp)
    _check_policy(policy, mdp)
    if timed and policy.shape[0] != mdp.horizon:
        raise ValueError(f"a timed policy must have shape (T={mdp.horizon}, S, A), got {tuple(policy.shape)}")
    d = mdp.init.clone() if timed else mdp.init.expand(*policy.shape[:-2], mdp.n_states).clone()
    out = []
    for t in range(mdp.horizon):
        out.append(d)
        d = torch.einsum("...s,...sa,sat->...t", d, policy[t] if timed else policy, mdp.P)
    return torch.stack(out, dim=-2)


def expected_return(mdp: TabularMDP, policy: torch.Tensor, reward: torch.Tensor | None = None, *,
                    timed: bool = False) -> torch.Tensor:
    """Exact expected total reward E[Σ_t r(s_t, a_t)] over the horizon (a number per member)."""
    d = state_distributions(mdp, policy, timed=timed)
    r = mdp.reward if reward is None else reward
    if timed:
        return torch.einsum("ts,tsa,sa->", d, policy, r)
    return torch.einsum("...ts,...sa,sa->...", d, policy, r)


def occupancy(mdp: TabularMDP, policy: torch.Tensor) -> torch.Tensor:
    """The state occupancy ρ(s) = (1/T) Σ_t d_t(s) of a stationary policy: where it spends its time,
    (S,) or (M, S)."""
    return state_distributions(mdp, policy).mean(dim=-2)


# ------------------------------------------------------------------ MaxEnt IRL and guided cost learning
def enumerate_trajectories(mdp: TabularMDP) -> tuple[torch.Tensor, torch.Tensor]:
    """Every trajectory of a deterministic MDP: states (N, T) and actions (N, T), one row for each
    initial state in the support of ``init`` and each of the A^T action sequences."""
    _check_mdp(mdp)
    if not mdp.deterministic:
        raise ValueError("enumerate_trajectories needs a deterministic MDP (slip=0): with random moves "
                         "an action sequence does not fix the trajectory")
    A, T = mdp.n_actions, mdp.horizon
    if A ** T > 1_000_000:
        raise ValueError(f"A^T = {A ** T} trajectories are too many to enumerate; shorten the horizon")
    dev = mdp.P.device
    actions = torch.cartesian_prod(*[torch.arange(A, device=dev)] * T).reshape(-1, T)
    nxt = mdp.P.argmax(dim=2)                                              # (S, A) next state
    starts = torch.nonzero(mdp.init > 0)[:, 0]
    all_s, all_a = [], []
    for s0 in starts:
        s = torch.full((actions.shape[0],), int(s0), device=dev)
        states = []
        for t in range(T):
            states.append(s)
            s = nxt[s, actions[:, t]]
        all_s.append(torch.stack(states, dim=1))
        all_a.append(actions)
    return torch.cat(all_s), torch.cat(all_a)


def trajectory_log_prob(mdp: TabularMDP, policy: torch.Tensor, states: torch.Tensor,
                        actions: torch.Tensor) -> torch.Tensor:
    """log q(τ) = log p_0(s_0) + Σ_t log π_t(a_t|s_t) (+ Σ_t log P(s_{t+1}|s_t, a_t) = 0 for the
    deterministic MDPs whose trajectories are enumerated), for a stationary (S, A) or a
    time-dependent (T, S, A) policy."""
    _check_policy(policy, mdp)
    T = states.shape[1]
    pi = policy if policy.dim() == 3 else policy.expand(T, *policy.shape)
    t = torch.arange(T, device=states.device)
    return mdp.init[states[:, 0]].log() + pi[t, states, actions].log().sum(dim=1)


def trajectory_cost(cost: torch.Tensor, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """c(τ) = Σ_t c(s_t, a_t) for a cost table (S, A)."""
    V.tensor(cost, "cost", ndim=2)
    return cost[states, actions].sum(dim=1)


def gcl_logit(cost_tau: torch.Tensor, log_z: torch.Tensor | float, log_q: torch.Tensor) -> torch.Tensor:
    """The logit of guided cost learning's discriminator, eq. (ch16-gcl-d):
    D(τ) = (exp(−c(τ))/Z) / (exp(−c(τ))/Z + q(τ)) = σ(−c(τ) − log Z − log q(τ))."""
    return -cost_tau - log_z - log_q


def gcl_d_objective(logit: torch.Tensor, p_data: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The discriminator's cross-entropy E_{p_data}[−log D] + E_q[−log(1 − D)], eq. (ch16-gcl-dloss),
    with the expectations taken exactly over enumerated trajectories of probabilities ``p_data`` and ``q``."""
    return (p_data * F.softplus(-logit)).sum() + (q * F.softplus(logit)).sum()


def gcl_g_objective(logit: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The generator's loss E_q[log(1 − D) − log D] = −E_q[logit], eq. (ch16-gcl-gloss)."""
    return -(q * logit).sum()


def maxent_irl_nll(cost_tau: torch.Tensor, p_data: torch.Tensor) -> torch.Tensor:
    """MaxEnt IRL's negative log-likelihood of the demonstrations, eq. (ch16-irl):
    E_{p_data}[c(τ)] + log Σ_τ exp(−c(τ)), under p_θ(τ) = exp(−c_θ(τ))/Z_θ."""
    return (p_data * cost_tau).sum() + torch.logsumexp(-cost_tau, dim=0)


def maxent_rl_objective(cost_tau: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The MaxEnt RL loss of the sampler q (to minimise), eq. (ch16-maxent-rl):
    E_q[c(τ)] − H(q) = Σ_τ q(τ)(c(τ) + log q(τ)), with 0 log 0 = 0."""
    return (q * cost_tau).sum() + torch.special.xlogy(q, q).sum()


def importance_log_z(cost_tau: torch.Tensor, log_z: torch.Tensor | float, p_data: torch.Tensor,
                     q: torch.Tensor, *, hold_proposal: bool = False) -> torch.Tensor:
    """log of guided cost learning's importance-sampling estimate of the partition function,
    eq. (ch16-gcl-z): Z_IS = E_{τ∼μ}[exp(−c(τ))/μ̃(τ)], μ = (p_data + q)/2, μ̃ = (exp(−c)/Z + q)/2.
    With ``hold_proposal=True`` the weights' denominator μ̃ is a constant for autograd, as in the
    cost loss of eq. (ch16-gcl-cost)."""
    log_mu_tilde = torch.logaddexp(-cost_tau - log_z, q.log()) - math.log(2)
    if hold_proposal:
        log_mu_tilde = log_mu_tilde.detach()
    mu = (p_data + q) / 2
    return torch.logsumexp(mu.log() - cost_tau - log_mu_tilde, dim=0)


def gcl_optimal_log_z(cost_tau: torch.Tensor, p_data: torch.Tensor, q: torch.Tensor, *,
                      iters: int = 200) -> torch.Tensor:
    """The log Z that minimises the discriminator's loss for a fixed cost. The loss is convex in
    log Z with derivative E_{p_data}[1 − D] − E_q[D] (increasing); bisection finds its zero."""
    def slope(log_z: torch.Tensor) -> torch.Tensor:
        d = torch.sigmoid(gcl_logit(cost_tau, log_z, q.log()))
        return (p_data * (1 - d)).sum() - (q * d).sum()

    lo = torch.logsumexp(-cost_tau, 0) - 60.0
    hi = torch.logsumexp(-cost_tau, 0) + 60.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        neg = slope(mid) < 0
        lo, hi = torch.where(neg, mid, lo), torch.where(neg, hi, mid)
    return (lo + hi) / 2


# ------------------------------------------------------------------ imitation: BC and GAIL
def sample_trajectories(mdp: TabularMDP, policy: torch.Tensor, n: int, *,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` trajectories per member of a stationary policy (S, A) or (M, S, A): states and actions,
    (n, T) or (M, n, T) long tensors. ``generator`` lives on the MDP's device (or None)."""
    _check_mdp(mdp)
    _check_policy(policy, mdp)
    return _rollout(mdp, policy, V.positive_int(n, "n"), generator)


def _rollout(mdp: TabularMDP, policy: torch.Tensor, n: int, generator: torch.Generator | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """sample_trajectories without the input checks (which read values on the host): inverse-CDF
    sampling of s_0, then a_t ~ π(·|s_t) and s_{t+1} ~ P(·|s_t, a_t), batched over members and
    trajectories, with all uniforms drawn at once."""
    lead = policy.shape[:-2]
    pol = policy.reshape(-1, mdp.n_states, mdp.n_actions).to(mdp.P.dtype)
    M, T = pol.shape[0], mdp.horizon
    u = torch.rand(M, n, 2 * T + 1, 1, generator=generator, device=mdp.P.device)      # float32 suffices
    cdf_pi, cdf_P = pol.cumsum(-1).float(), mdp.P.cumsum(-1).float()
    last_a, last_s = mdp.n_actions - 1, mdp.n_states - 1
    s = (u[:, :, 0] > mdp.init.cumsum(-1).float()).sum(-1).clamp_max(last_s)         # (M, n)
    members = torch.arange(M, device=s.device)[:, None]
    states, actions = [], []
    for t in range(T):
        a = (u[:, :, 2 * t + 1] > cdf_pi[members, s]).sum(-1).clamp_max(last_a)
        states.append(s)
        actions.append(a)
        s = (u[:, :, 2 * t + 2] > cdf_P[s, a]).sum(-1).clamp_max(last_s)
    shape = (*lead, n, T)
    return torch.stack(states, -1).reshape(shape), torch.stack(actions, -1).reshape(shape)


def _counts(states: torch.Tensor, actions: torch.Tensor, S: int, A: int) -> torch.Tensor:
    """Visit counts n(s, a) per member: (M, S, A) from (M, n, T) trajectories."""
    M = states.shape[0]
    idx = (states * A + actions).reshape(M, -1)
    out = torch.zeros(M, S * A, device=states.device, dtype=torch.float64)
    return out.scatter_add_(1, idx, torch.ones_like(idx, dtype=out.dtype)).reshape(M, S, A)


def behaviour_cloning(states: torch.Tensor, actions: torch.Tensor, n_states: int, n_actions: int
                      ) -> torch.Tensor:
    """The maximum-likelihood tabular policy of the demonstrations, eq. (ch16-bc):
    π_BC(a|s) = n(s, a)/n(s) where the expert visited s, uniform where it never did (the likelihood
    says nothing there). ``states``/``actions`` (M, n, T) give a policy per member, (M, S, A)."""
    V.tensor(states, "states", ndim=3, floating=False)
    if actions.shape != states.shape:
        raise ValueError(f"actions must have the shape of states {tuple(states.shape)}, got {tuple(actions.shape)}")
    n = _counts(states, actions, n_states, n_actions)
    seen = n.sum(-1, keepdim=True)
    return torch.where(seen > 0, n / seen.clamp_min(1), torch.full_like(n, 1.0 / n_actions))


@dataclass
class GailResult:
    """The trained policies (M, S, A), discriminator logits (M, S, A), and the history: the GAIL
    reward E_π[Σ_t −log(1 − D)] of each step's sampled trajectories (steps, M)."""

    policy: torch.Tensor
    d_logits: torch.Tensor
    reward_history: torch.Tensor


def monte_carlo_advantage(rewards: torch.Tensor, states: torch.Tensor, actions: torch.Tensor,
                          n_states: int, n_actions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tabular advantage estimates from sampled trajectories (M, n, T), eq. (ch16-npg):
    Q̂(s, a) = mean reward-to-go R_t = Σ_{t'≥t} r_{t'} over the visits of (s, a), V̂(s) = mean over
    the visits of s, Â = Q̂ − V̂ where (s, a) was visited, 0 elsewhere. Returns (Â, visits) (M, S, A)."""
    M = states.shape[0]
    to_go = rewards.flip(-1).cumsum(-1).flip(-1)
    idx = (states * n_actions + actions).reshape(M, -1)
    zeros = torch.zeros(M, n_states * n_actions, device=rewards.device, dtype=rewards.dtype)
    total = zeros.scatter_add(1, idx, to_go.reshape(M, -1)).reshape(M, n_states, n_actions)
    visits = zeros.scatter_add(1, idx, torch.ones_like(to_go).reshape(M, -1)).reshape(M, n_states, n_actions)
    q = total / visits.clamp_min(1)
    v = total.sum(-1, keepdim=True) / visits.sum(-1, keepdim=True).clamp_min(1)
    return torch.where(visits > 0, q - v, torch.zeros_like(q)), visits


def gail(mdp: TabularMDP, expert_states: torch.Tensor, expert_actions: torch.Tensor, *, steps: int = 600,
         batch: int = 32, step_size: float = 0.1, entropy: float = 0.0, lr_d: float = 0.02,
         generator: torch.Generator | None = None) -> GailResult:
    """Generative adversarial imitation learning with tabular players, eq. (ch16-gail).

    For M members at once (expert data (M, n, T)): the discriminator D(s, a) = σ(ℓ(s, a)) separates
    expert pairs (label 1) from the policy's (label 0) with the minimax loss of chapter 2 (one Adam
    step per round); the policy, a softmax of a logit table, maximises the reward
    r(s, a) = −log(1 − D(s, a)) = softplus(ℓ(s, a)) by a natural-gradient step on ``batch`` fresh
    trajectories per round: logits ← (1 − η λ) logits + η Â(s, a) with η = ``step_size`` and
    λ = ``entropy`` (the entropy-regularised step, eq. (ch16-npg)). Uses the environment
    only through sampled trajectories."""
    _check_mdp(mdp)
    V.tensor(expert_states, "expert_states", ndim=3, floating=False)
    if not isinstance(expert_actions, torch.Tensor) or expert_actions.shape != expert_states.shape:
        raise ValueError("expert_actions must be a tensor of the shape of expert_states "
                         f"{tuple(expert_states.shape)}, got {getattr(expert_actions, 'shape', type(expert_actions))}")
    steps, batch = V.positive_int(steps, "steps"), V.positive_int(batch, "batch")
    step_size, lr_d = V.positive_float(step_size, "step_size"), V.positive_float(lr_d, "lr_d")
    entropy = V.positive_float(entropy, "entropy", allow_zero=True)
    if step_size * entropy >= 1:
        raise ValueError(f"step_size × entropy must be < 1, got {step_size} × {entropy}")
    M, S, A = expert_states.shape[0], mdp.n_states, mdp.n_actions
    dev = mdp.P.device
    pi_logits = torch.zeros(M, S, A, device=dev, dtype=torch.float64)
    d_logits = torch.zeros(M, S, A, device=dev, dtype=torch.float32, requires_grad=True)
    opt_d = torch.optim.Adam([d_logits], lr=lr_d)
    members = torch.arange(M, device=dev)[:, None, None]
    history = []
    for _ in range(steps):
        s, a = _rollout(mdp, torch.softmax(pi_logits, -1), batch, generator)        # (M, batch, T)
        loss_d = minimax_d_loss(d_logits[members, expert_states, expert_actions], d_logits[members, s, a]) * M
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        with torch.no_grad():
            r = F.softplus(d_logits[members, s, a]).double()                       # −log(1 − D)
            adv, _ = monte_carlo_advantage(r, s, a, S, A)
            pi_logits.mul_(1 - step_size * entropy).add_(step_size * adv)
        history.append(r.sum(-1).mean(-1))
    return GailResult(torch.softmax(pi_logits, -1), d_logits.detach(), torch.stack(history))
