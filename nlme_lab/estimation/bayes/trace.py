"""Reading nutpie's traces (``arviz.InferenceData``): the draws a result keeps, and the window
the live trace summarises.

nutpie pads every chain to the longest one: float arrays with NaN, integer and boolean ones
with 0. A chain's draws are therefore counted from its ``logp`` statistic (NaN only in the
padding: a draw always has a finite log density). A run that ran to the end has equal chains;
a stopped one has chains of unequal length, and R-hat / ESS need equal ones: ``kept_draws``
keeps the chains with at least half the draws of the longest and cuts them to the shortest of
those (a chain still tuning, or queued behind others when ``cores < chains``, is left out).

Each draw's log-likelihood ``log p(y | theta, eta, sd)`` (without constants, the scale of
``density.Posterior._loglik``) is ``logp - log_prior``: the sampler records the log density
of the draw, the expand function records the draw's prior part (``Posterior.draw``), so no
model evaluation is spent on it. Its complete-data -2 log-likelihood
``-2 log p(y, eta | theta, Omega, sd)`` (no constants; SAEM's trace value) adds
``-2 log p(eta | Omega)``, which the expand function records too (``log_p_eta``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STAT_NAMES = ("diverging", "logp", "step_size", "depth")


@dataclass(frozen=True)
class Draws:
    """The kept (post-tuning) draws of the chains used for the summaries."""

    parameters: np.ndarray  # (chain, draw, n_free) on the reported scale
    eta: np.ndarray  # (chain, draw, n_subject, n_eta)
    loglik: np.ndarray  # (chain, draw): log p(y | draw), no constants
    complete: np.ndarray  # (chain, draw): -2 log p(y, eta | draw), no constants
    stats: dict  # STAT_NAMES -> (chain, draw)
    n_dropped: int  # chains left out (too short: the run was stopped)

    @property
    def n_chains(self) -> int:
        return int(self.parameters.shape[0])

    @property
    def n_draws(self) -> int:
        """Draws per chain."""
        return int(self.parameters.shape[1])


def _group(trace, name: str):
    return trace[name] if name in trace.groups() else None


def chain_lengths(stats) -> np.ndarray:
    """Draws recorded per chain (``stats``: a sample-stats group, or None: no draws)."""
    if stats is None or "logp" not in stats:
        return np.zeros(0, dtype=int)
    logp = np.asarray(stats["logp"].values, dtype=float)
    return (~np.isnan(logp)).sum(axis=1) if logp.ndim == 2 else np.zeros(0, dtype=int)


def kept_draws(trace) -> Draws:
    """The post-tuning draws of the chains kept for the summaries (see the module docstring)."""
    post, stats = trace.posterior, trace.sample_stats
    n = chain_lengths(stats)
    longest = int(n.max()) if n.size else 0
    keep = n >= max(1, math.ceil(longest / 2))
    length = int(n[keep].min()) if keep.any() else 0

    def cut(values):
        return np.asarray(values)[keep, :length]

    if length:
        loglik = cut(stats["logp"].values) - cut(post["log_prior"].values)
        complete = -2.0 * (loglik + cut(post["log_p_eta"].values))
    else:
        loglik = complete = np.zeros((int(keep.sum()), 0))
    return Draws(parameters=cut(post["parameters"].values), eta=cut(post["eta"].values), loglik=loglik,
                 complete=complete, stats={k: cut(stats[k].values) for k in STAT_NAMES},
                 n_dropped=int(n.size - keep.sum()))


@dataclass(frozen=True)
class Window:
    """What one live-trace event summarises."""

    n_done: int  # draws recorded so far, all chains, tuning included
    tuning: bool  # no chain has a kept draw yet: the window is the later half of the tuning draws
    parameters: np.ndarray  # (n, n_free)
    complete: np.ndarray  # (n,): -2 log p(y, eta | draw)


def _stack(post, stats, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``first[c]:`` of every chain c, flattened, with their complete-data -2LL."""
    logp = np.asarray(stats["logp"].values, dtype=float)
    index = np.arange(logp.shape[1])[None, :]
    mask = ~np.isnan(logp) & (index >= first[:, None])
    params = np.asarray(post["parameters"].values)[mask]
    log_lik = logp[mask] - np.asarray(post["log_prior"].values)[mask]
    return params, -2.0 * (log_lik + np.asarray(post["log_p_eta"].values)[mask])


def live_window(trace) -> Window:
    """The kept draws so far; while every chain is still tuning, the later half of each chain's
    tuning draws (its early draws are far from the posterior)."""
    kept = chain_lengths(_group(trace, "sample_stats"))
    warm_stats = _group(trace, "warmup_sample_stats")
    warm = chain_lengths(warm_stats)
    n_done = int(kept.sum() + warm.sum())
    if kept.sum() > 0:
        return Window(n_done, False, *_stack(trace.posterior, trace.sample_stats, np.zeros(len(kept), dtype=int)))
    if warm.sum() > 0:
        return Window(n_done, True, *_stack(trace.warmup_posterior, warm_stats, warm // 2))
    return Window(n_done, True, np.zeros((0, 0)), np.zeros(0))
