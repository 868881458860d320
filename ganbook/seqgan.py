"""Chapter 13a: GANs for sequences of discrete tokens — SeqGAN and its reward variants.

Every network here holds ``members`` independent copies side by side (seeds, oracles, methods), each weight
of shape (members, a, b) and applied with one ``torch.bmm``, so that all seeds × all rollouts run in one batch.

* :class:`LSTMPolicy` — an LSTM language model p_θ(x_t | x_<t), the generator as a policy, eq. (ch13-policy);
  with normal initialisation it is SeqGAN's *oracle*, the true distribution whose likelihoods are exact;
* :func:`sequence_log_prob` — log p_θ(x) = Σ_t log p_θ(x_t | x_<t), eq. (ch13-seq-prob);
* :func:`mle_nll` — teacher forcing, eq. (ch13-mle); :func:`scheduled_sampling_nll` — Bengio et al.'s
  scheduled sampling, eq. (ch13-ss);
* :func:`nll_oracle` — SeqGAN's score, the oracle's per-token negative log-likelihood of generated
  sequences, eq. (ch13-nll-oracle);
* :class:`SeqCNN` — a small convolutional discriminator of whole sequences (max over time);
* :func:`rollouts` and :func:`mc_rewards` — Monte Carlo completions of every prefix and the reward
  Q(x_{1:t-1}, x_t) of a partial sequence, eq. (ch13-q);
* :func:`pg_surrogate` — the REINFORCE / policy-gradient surrogate, eq. (ch13-pg);
* :func:`organ_reward` — ORGAN's λ D + (1 − λ) O, eq. (ch13-organ); :func:`step_ratio`, an objective O;
* :func:`rank_score` and :func:`rank_d_loss` — RankGAN's rank score and ranker loss, eq. (ch13-rank).

MaliGAN's estimator is chapter 10's :func:`ganbook.discrete.importance_surrogate` applied to log p_θ(x).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V

__all__ = ["Preset", "preset", "LSTMPolicy", "SeqCNN", "sequence_log_prob", "mle_nll", "scheduled_sampling_nll",
           "nll_oracle", "rollouts", "mc_rewards", "pg_surrogate", "organ_reward", "step_ratio", "rank_score",
           "rank_d_loss"]


@dataclass(frozen=True)
class Preset:
    """Sizes of chapter 13a's synthetic-data experiment."""

    seeds: int           # oracles × training seeds side by side
    pretrain: int        # MLE pre-training steps
    adversarial: int     # generator steps after pre-training (every method gets the same number)
    rollouts: int        # Monte Carlo completions per prefix
    batch: int           # sequences per generator step


def preset(name: str) -> Preset:
    """``"cpu"``: seconds on a 2-core CPU; ``"gpu"``: more seeds, rollouts and steps."""
    table = {"cpu": Preset(seeds=5, pretrain=200, adversarial=60, rollouts=4, batch=16),
             "gpu": Preset(seeds=16, pretrain=1000, adversarial=400, rollouts=16, batch=64)}
    if name not in table:
        raise ValueError(f"preset must be one of {sorted(table)}, got {name!r}")
    return table[name]


def _tokens(x: object, name: str, vocab: int, members: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(x).__name__}")
    if x.dtype != torch.long:
        raise TypeError(f"{name} must hold integer token ids (dtype torch.long), got {x.dtype}")
    if x.dim() != 3 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{name} must have shape (members, n, length) with n, length >= 1, got {tuple(x.shape)}")
    if members is not None and x.shape[0] != members:
        raise ValueError(f"{name} has {x.shape[0]} member rows but the network runs {members} members")
    if x.device.type == "cpu" and x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab):
        # the range is checked on the CPU only: on a GPU, reading the values would wait for the device every step
        raise ValueError(f"{name} must hold token ids in 0..{vocab - 1}")
    return x


def _members(members: object, total: int) -> torch.Tensor | None:
    if members is None:
        return None
    if isinstance(members, (list, tuple, range)):
        members = torch.tensor(list(members), dtype=torch.long)
    if not isinstance(members, torch.Tensor) or members.dtype != torch.long or members.dim() != 1:
        raise TypeError("members must be None, a list of ints or a 1-D torch.long tensor of member indices")
    if members.numel() == 0 or int(members.min()) < 0 or int(members.max()) >= total:
        raise ValueError(f"members must be non-empty indices in 0..{total - 1}")
    return members


def _gumbel_argmax(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """A sample of softmax(logits) over the last axis (Gumbel-max: argmax of logits + Gumbel noise), drawn from
    ``generator`` on any device."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-12, 1.0)
    return (logits - torch.log(-torch.log(u))).argmax(-1)


class LSTMPolicy(nn.Module):
    """``members`` independent one-layer LSTM language models over tokens 0..vocab−1, eq. (ch13-policy):
    h_t = LSTM(h_{t−1}, emb(x_{t−1})), p_θ(x_t | x_<t) = softmax(W h_t + b), with x_0 a start token (id
    ``vocab`` of the embedding). ``init="uniform"`` draws weights like ``nn.LSTM`` (±1/√hidden) and the
    embedding from N(0, 1); ``init="normal"`` draws every parameter from N(0, std²), SeqGAN's oracle.
    Member s is initialised from ``generators[s]``. Methods take ``members`` (indices) to run a subset."""

    def __init__(self, vocab: int, length: int, *, hidden: int = 32, embed: int = 16,
                 generators: Sequence[torch.Generator], init: str = "uniform", std: float = 1.0):
        super().__init__()
        self.vocab, self.length = V.positive_int(vocab, "vocab", minimum=2), V.positive_int(length, "length")
        self.hidden, self.embed = V.positive_int(hidden, "hidden"), V.positive_int(embed, "embed")
        generators = list(generators) if generators is not None else []
        if not generators or not all(isinstance(g, torch.Generator) for g in generators):
            raise TypeError("generators must be a non-empty list of torch.Generator (one per member)")
        if init not in ("uniform", "normal"):
            raise ValueError(f"init must be 'uniform' or 'normal', got {init!r}")
        std = V.positive_float(std, "std")
        self.members = len(generators)
        H, E, Vv = hidden, embed, vocab
        shapes = {"emb": (Vv + 1, E), "w_ih": (E, 4 * H), "w_hh": (H, 4 * H), "b": (1, 4 * H),
                  "w_out": (H, Vv), "b_out": (1, Vv)}

        def draw(name: str, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
            if init == "normal":
                return torch.randn(shape, generator=g) * std
            if name == "emb":
                return torch.randn(shape, generator=g)
            return (torch.rand(shape, generator=g) * 2 - 1) / math.sqrt(H)

        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.stack([draw(name, shape, g) for g in generators])))

    def _params(self, members: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        ps = (self.emb, self.w_ih, self.w_hh, self.b, self.w_out, self.b_out)
        if members is None:
            return ps
        idx = members.to(self.emb.device)
        return tuple(p[idx] for p in ps)

    def initial(self, n: int, params: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Start tokens (m, n) and the zero state (h, c) for m members × n sequences."""
        m = params[0].shape[0]
        dev = params[0].device
        zeros = torch.zeros(m, n, self.hidden, device=dev, dtype=params[0].dtype)
        return torch.full((m, n), self.vocab, device=dev, dtype=torch.long), (zeros, zeros)

    def step(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
             params: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One LSTM step: the previous tokens (m, n) and state → next-token logits (m, n, vocab) and new state."""
        emb, w_ih, w_hh, b, w_out, b_out = params
        x = torch.gather(emb, 1, tokens.unsqueeze(-1).expand(-1, -1, emb.shape[-1]))
        h, c = state
        i, f, g, o = (torch.baddbmm(b, x, w_ih) + torch.bmm(h, w_hh)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return torch.baddbmm(b_out, h, w_out), (h, c)

    def logits(self, x: torch.Tensor, members: object = None) -> torch.Tensor:
        """Teacher forcing: the logits of p_θ(· | x_<t) at every position t of x (m, n, T) → (m, n, T, vocab)."""
        members = _members(members, self.members)
        params = self._params(members)
        _tokens(x, "x", self.vocab, params[0].shape[0])
        tok, state = self.initial(x.shape[1], params)
        out = []
        for t in range(x.shape[2]):
            logit, state = self.step(tok, state, params)
            out.append(logit)
            tok = x[:, :, t]
        return torch.stack(out, dim=2)

    def sample(self, n: int, generator: torch.Generator | None = None, members: object = None, *,
               temperature: float = 1.0, return_logits: bool = False):
        """n sequences of length ``self.length`` per member (m, n, T), drawn token by token from
        softmax(logits / temperature); with ``return_logits`` also the (untempered) logits (m, n, T, vocab)
        of every step. No graph is kept unless the caller enables it."""
        n = V.positive_int(n, "n")
        temperature = V.positive_float(temperature, "temperature")
        V.generator(generator)
        params = self._params(_members(members, self.members))
        tok, state = self.initial(n, params)
        toks, logits = [], []
        for _ in range(self.length):
            logit, state = self.step(tok, state, params)
            tok = _gumbel_argmax(logit.detach() / temperature, generator)
            toks.append(tok)
            logits.append(logit)
        x = torch.stack(toks, dim=2)
        return (x, torch.stack(logits, dim=2)) if return_logits else x


def sequence_log_prob(policy: LSTMPolicy, x: torch.Tensor, members: object = None) -> torch.Tensor:
    """Eq. (ch13-seq-prob): log p_θ(x) = Σ_t log p_θ(x_t | x_<t) for x (m, n, T) → (m, n)."""
    logp = torch.log_softmax(policy.logits(x, members), dim=-1)
    return logp.gather(-1, x.unsqueeze(-1)).squeeze(-1).sum(-1)


def mle_nll(policy: LSTMPolicy, x: torch.Tensor, members: object = None) -> torch.Tensor:
    """Eq. (ch13-mle): teacher forcing, −(1/T) Σ_t log p_θ(x_t | x_<t) of real sequences x (m, n, T), averaged
    over the n sequences and summed over the members (so that each member gets its own gradient)."""
    return -(sequence_log_prob(policy, x, members) / x.shape[2]).mean(1).sum()


def scheduled_sampling_nll(policy: LSTMPolicy, x: torch.Tensor, p_own: float,
                            generator: torch.Generator | None = None, members: object = None) -> torch.Tensor:
    """Eq. (ch13-ss), scheduled sampling: the cross-entropy of the true next token x_t, where the input at step t
    is the model's own sample from step t − 1 with probability ``p_own`` (1 − ε_i in Bengio et al.) and the
    true x_{t−1} otherwise. p_own = 0 is :func:`mle_nll`. Same reduction as :func:`mle_nll`."""
    p_own = V.probability(p_own, "p_own")
    members = _members(members, policy.members)
    params = policy._params(members)
    _tokens(x, "x", policy.vocab, params[0].shape[0])
    tok, state = policy.initial(x.shape[1], params)
    nll = 0.0
    for t in range(x.shape[2]):
        logit, state = policy.step(tok, state, params)
        nll = nll + F.cross_entropy(logit.flatten(0, 1), x[:, :, t].flatten(), reduction="none").view(x.shape[:2])
        own = _gumbel_argmax(logit.detach(), generator)
        coin = torch.rand(x.shape[:2], generator=generator, device=x.device) < p_own
        tok = torch.where(coin, own, x[:, :, t])
    return (nll / x.shape[2]).mean(1).sum()


def nll_oracle(oracle: LSTMPolicy, x: torch.Tensor, *, oracle_members: object = None,
               sample_logits: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. (ch13-nll-oracle): −(1/T) E_{x∼G} log p_oracle(x), per member, from generated sequences x (m, n, T);
    member i is scored by oracle member ``oracle_members[i]``. With ``sample_logits`` (m, n, T, vocab), the
    generator's own logits along x, the last token of each step is averaged out exactly (Rao–Blackwell):
    Σ_t Σ_v G(v | x_<t) (−log O(v | x_<t)), the same expectation with less variance. Returns (m,)."""
    logo = torch.log_softmax(oracle.logits(x, oracle_members), dim=-1)
    if sample_logits is None:
        per = -logo.gather(-1, x.unsqueeze(-1)).squeeze(-1)
    else:
        V.tensor(sample_logits, "sample_logits", ndim=4, finite=False)
        if sample_logits.shape != logo.shape:
            raise ValueError(f"sample_logits must have shape {tuple(logo.shape)}, got {tuple(sample_logits.shape)}")
        per = -(torch.softmax(sample_logits, -1) * logo).sum(-1)
    return per.mean((1, 2))


class SeqCNN(nn.Module):
    """``members`` small convolutional discriminators of token sequences (SeqGAN's CNN, in miniature): an
    embedding, one convolution per width in ``widths`` (``filters`` channels each, ReLU), a max over time,
    and a linear layer to one logit. Input x (m, n, T) of token ids → logits (m, n)."""

    def __init__(self, vocab: int, length: int, *, embed: int = 16, widths: Sequence[int] = (2, 3),
                 filters: int = 32, generators: Sequence[torch.Generator]):
        super().__init__()
        self.vocab, self.length = V.positive_int(vocab, "vocab", minimum=2), V.positive_int(length, "length")
        generators = list(generators) if generators is not None else []
        if not generators or not all(isinstance(g, torch.Generator) for g in generators):
            raise TypeError("generators must be a non-empty list of torch.Generator (one per member)")
        self.widths = tuple(V.positive_int(w, "widths[i]") for w in widths)
        if not self.widths or max(self.widths) > length:
            raise ValueError(f"widths must be a non-empty list of ints <= length={length}, got {widths}")
        self.members, E, Fn = len(generators), V.positive_int(embed, "embed"), V.positive_int(filters, "filters")
        u = lambda shape, fan, g: (torch.rand(shape, generator=g) * 2 - 1) / math.sqrt(fan)  # noqa: E731
        self.emb = nn.Parameter(torch.stack([torch.randn(vocab, E, generator=g) for g in generators]))
        self.convs = nn.ParameterList([nn.Parameter(torch.stack([u((w * E, Fn), w * E, g) for g in generators]))
                                       for w in self.widths])
        self.conv_b = nn.ParameterList([nn.Parameter(torch.zeros(self.members, 1, Fn)) for _ in self.widths])
        k = Fn * len(self.widths)
        self.head = nn.Parameter(torch.stack([u((k, 1), k, g) for g in generators]))
        self.head_b = nn.Parameter(torch.zeros(self.members, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _tokens(x, "x", self.vocab, self.members)
        m, n, T = x.shape
        e = torch.gather(self.emb, 1, x.reshape(m, n * T, 1).expand(-1, -1, self.emb.shape[-1])).view(m, n, T, -1)
        feats = []
        for w, W, b in zip(self.widths, self.convs, self.conv_b):
            win = e.unfold(2, w, 1).transpose(-1, -2).reshape(m, n * (T - w + 1), -1)   # (m, n·(T−w+1), w·E)
            feats.append(torch.relu(torch.baddbmm(b, win, W)).view(m, n, T - w + 1, -1).amax(2))
        return torch.baddbmm(self.head_b, torch.cat(feats, -1), self.head).squeeze(-1)


def rollouts(policy: LSTMPolicy, x: torch.Tensor, n_rollouts: int, generator: torch.Generator | None = None,
             members: object = None) -> torch.Tensor:
    """Monte Carlo search: for every prefix x_{1:t} (t = 1..T−1) of every sequence x (m, n, T), ``n_rollouts``
    completions drawn from the policy. All of them run as one batch of (T−1)·R·n rows per member (the prefix
    is fed as in teacher forcing, the rest sampled). Returns (m, T−1, R, n, T); entry [:, t−1, r, i] keeps
    x[:, i, :t]."""
    R = V.positive_int(n_rollouts, "n_rollouts")
    members = _members(members, policy.members)
    params = policy._params(members)
    _tokens(x, "x", policy.vocab, params[0].shape[0])
    m, n, T = x.shape
    if T < 2:
        raise ValueError("rollouts need sequences of length >= 2")
    K = (T - 1) * R * n
    xx = x.unsqueeze(1).expand(m, (T - 1) * R, n, T).reshape(m, K, T)
    keep = torch.arange(1, T, device=x.device).repeat_interleave(R * n)             # prefix length of each row
    with torch.no_grad():
        tok, state = policy.initial(K, params)
        out = []
        for s in range(T):
            logit, state = policy.step(tok, state, params)
            tok = torch.where(s < keep, xx[:, :, s], _gumbel_argmax(logit, generator))
            out.append(tok)
    return torch.stack(out, dim=2).view(m, T - 1, R, n, T)


def mc_rewards(policy: LSTMPolicy, reward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
               n_rollouts: int, generator: torch.Generator | None = None, members: object = None) -> torch.Tensor:
    """Eq. (ch13-q): Q(x_{1:t−1}, x_t) for t = 1..T. For t < T the mean reward of ``n_rollouts`` completions of
    the prefix x_{1:t} (:func:`rollouts`); for t = T the reward of the complete sequence itself.
    ``reward`` maps sequences (m, k, T) to rewards (m, k) (e.g. σ(D(·))). Returns (m, n, T), no graph."""
    m, n, T = x.shape
    R = V.positive_int(n_rollouts, "n_rollouts")
    seqs = rollouts(policy, x, R, generator, members)
    with torch.no_grad():
        r = reward(seqs.reshape(m, -1, T)).view(m, T - 1, R, n).mean(2).transpose(1, 2)   # (m, n, T−1)
        last = reward(x).view(m, n, 1)
    return torch.cat([r, last], dim=2)


def pg_surrogate(log_probs: torch.Tensor, rewards: torch.Tensor, *, baseline: torch.Tensor | float = 0.0
                 ) -> torch.Tensor:
    """Eq. (ch13-pg): −(1/n) Σ_i Σ_t (Q_it − b) log p_θ(x_it | x_i,<t), whose gradient is the REINFORCE estimate
    of −∇_θ E_{x∼p_θ}[reward]. ``log_probs`` and ``rewards`` (..., n, T) (rewards are not differentiated);
    averaged over n, summed over leading axes (members)."""
    V.tensor(log_probs, "log_probs", finite=False)
    V.tensor(rewards, "rewards", finite=False)
    if log_probs.dim() < 2 or rewards.shape != log_probs.shape:
        raise ValueError(f"log_probs {tuple(log_probs.shape)} and rewards {tuple(rewards.shape)} must share one "
                         "shape (..., n, T)")
    adv = rewards.detach() - (baseline.detach() if isinstance(baseline, torch.Tensor) else baseline)
    return -(adv * log_probs).sum(-1).mean(-1).sum()


def organ_reward(d_prob: torch.Tensor, objective: torch.Tensor, lam: float | torch.Tensor) -> torch.Tensor:
    """Eq. (ch13-organ): ORGAN's reward λ D(x) + (1 − λ) O(x) of complete sequences; λ = 1 is SeqGAN, λ = 0 is
    plain reinforcement learning of the objective O (values in [0, 1]). ``lam`` is a number in [0, 1] or a
    tensor that broadcasts against ``d_prob`` (e.g. one λ per member, shape (m, 1))."""
    if isinstance(lam, torch.Tensor):
        V.tensor(lam, "lam", finite=False)
    else:
        lam = V.probability(lam, "lam")
    V.tensor(d_prob, "d_prob", finite=False)
    V.tensor(objective, "objective", finite=False)
    if d_prob.shape != objective.shape:
        raise ValueError(f"d_prob {tuple(d_prob.shape)} and objective {tuple(objective.shape)} must share one shape")
    return lam * d_prob + (1 - lam) * objective


def step_ratio(x: torch.Tensor) -> torch.Tensor:
    """An ORGAN-style objective in [0, 1] (after the 'ratio of steps' of ORGAN's melodies): the fraction of
    adjacent token pairs that differ by exactly one, |x_{t+1} − x_t| = 1. x (..., T) → (...)."""
    if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.dim() < 1 or x.shape[-1] < 2:
        raise ValueError("x must be a torch.long tensor of token ids of shape (..., T) with T >= 2")
    return ((x[..., 1:] - x[..., :-1]).abs() == 1).float().mean(-1)


def rank_score(candidates: torch.Tensor, reference: torch.Tensor, comparison: torch.Tensor, *,
               gamma: float = 1.0) -> torch.Tensor:
    """Eq. (ch13-rank), RankGAN's rank score of each candidate embedding y_s (…, n, d): for each reference
    y_u (…, k, d), P(s | u, C′) = exp(γ cos(y_s, y_u)) / Σ_{s′∈C′} exp(γ cos(y_s′, y_u)) over C′ = {s} ∪ C, the
    comparison set (…, c, d); R(s | U, C) = mean over u of P(s | u, C′). Returns (…, n) in (0, 1)."""
    gamma = V.positive_float(gamma, "gamma")
    for t, name in ((candidates, "candidates"), (reference, "reference"), (comparison, "comparison")):
        V.rows(t, name)
    if not candidates.shape[-1] == reference.shape[-1] == comparison.shape[-1]:
        raise ValueError("candidates, reference and comparison must share the embedding width (last axis)")
    unit = lambda y: F.normalize(y, dim=-1)  # noqa: E731
    ref = unit(reference)
    a_s = gamma * unit(candidates) @ ref.transpose(-1, -2)                           # (…, n, k)
    a_c = gamma * unit(comparison) @ ref.transpose(-1, -2)                           # (…, c, k)
    log_norm = torch.logaddexp(a_s, torch.logsumexp(a_c, dim=-2, keepdim=True))     # log Σ over {s} ∪ C
    return torch.exp(a_s - log_norm).mean(-1)


def rank_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """RankGAN's ranker loss from rank scores in (0, 1): −E log R(real | U, C⁻) − E log(1 − R(fake | U, C⁺)),
    real sequences ranked against generated ones (C⁻) and generated against real ones (C⁺)."""
    V.scores(real, "real", batched=True)
    V.scores(fake, "fake", batched=True)
    return -torch.log(real.clamp_min(1e-12)).mean() - torch.log1p(-fake.clamp_max(1 - 1e-7)).mean()
