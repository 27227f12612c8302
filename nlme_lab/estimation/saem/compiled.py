"""Compiled pieces of the SAEM E-step (numba, cached on disk): per-observation Gaussian -2LL,
per-subject sums and the Metropolis-Hastings accept/reject of one kernel pass.

Each works on B eta sets at once (chains, or importance draws). They replace NumPy code that
was correct but paid ~10 small temporaries per pass; ``tests/estimation/test_saem.py`` checks
them against that NumPy formulation (``gaussian_terms`` against ``observation_terms``,
``mh_accept`` against the plain Metropolis-Hastings rule).

Observations of subject s are ``starts[s]:starts[s] + counts[s]`` (problems keep them sorted by
subject).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def gaussian_terms(f, y, add, prop, log_scale, sd, out):
    """``out[b, o] = log V + (y - f)^2 / V`` with ``V = sd[add]^2 + sd[prop]^2 f^2`` (the
    proportional part on the natural scale only; index -1: term absent). ``f`` (B, n_obs)."""
    n_b, n_obs = f.shape
    V_last, log_last = -1.0, 0.0  # an additive error has one V: its log is taken once
    for b in range(n_b):
        for o in range(n_obs):
            a = sd[add[o]] if add[o] >= 0 else 0.0
            p = sd[prop[o]] if prop[o] >= 0 else 0.0
            x = 0.0 if log_scale[o] else f[b, o]
            V = a * a + p * p * x * x
            r = y[o] - f[b, o]
            if V != V_last:
                V_last, log_last = V, math.log(V) if V > 0.0 else 0.0
            out[b, o] = log_last + r * r / V if V > 0.0 else np.inf


@njit(cache=True)
def subject_sums(lobs, starts, counts, out):
    """``out[b, s]`` = sum of ``lobs[b]`` over subject s's observations; +inf if not finite."""
    n_b = lobs.shape[0]
    n_sub = starts.shape[0]
    for b in range(n_b):
        for s in range(n_sub):
            acc = 0.0
            for o in range(starts[s], starts[s] + counts[s]):
                acc += lobs[b, o]
            out[b, s] = acc if np.isfinite(acc) else np.inf


@njit(cache=True)
def _quad(x, omega_inv):
    n = x.shape[0]
    acc = 0.0
    for i in range(n):
        row = 0.0
        for j in range(n):
            row += omega_inv[i, j] * x[j]
        acc += x[i] * row
    return acc


@njit(cache=True, error_model="numpy")
def mh_accept_gaussian(f_new, y, add, prop_sd, log_scale, sd, starts, counts, prop, log_u, omega_inv,
                       prior_ratio, etas, l, f):
    """``gaussian_terms`` then ``mh_accept`` in one call (uncensored data): the terms of one
    (set, subject) are summed as they are computed, in the same order, so the numbers are
    those of the two calls."""
    n_b, n_sub, _ = etas.shape
    lobs = np.empty((1, f_new.shape[1]))
    n_acc = 0
    for b in range(n_b):
        gaussian_terms(f_new[b:b + 1], y, add, prop_sd, log_scale, sd, lobs)
        n_acc += mh_accept(lobs, starts, counts, prop[b:b + 1], f_new[b:b + 1], log_u[b:b + 1], omega_inv,
                           prior_ratio, etas[b:b + 1], l[b:b + 1], f[b:b + 1])
    return n_acc


@njit(cache=True)
def mh_accept(lobs_new, starts, counts, prop, f_new, log_u, omega_inv, prior_ratio, etas, l, f):
    """One Metropolis-Hastings accept/reject for every (set, subject), in place.

    ``l_new = sum_o lobs_new`` per subject; ``log r = -(l_new - l) / 2`` minus, for a random
    walk (``prior_ratio``), ``(prop' Om^-1 prop - eta' Om^-1 eta) / 2`` (an independence
    proposal from the prior has the prior cancel). Accepted where ``log_u < log r`` and l_new
    is finite: ``etas``, ``l`` and the subject's rows of ``f`` take the proposal. Returns the
    number of accepted (set, subject) pairs.
    """
    n_b, n_sub, _ = etas.shape
    n_acc = 0
    for b in range(n_b):
        for s in range(n_sub):
            o0, o1 = starts[s], starts[s] + counts[s]
            ln = 0.0
            for o in range(o0, o1):
                ln += lobs_new[b, o]
            if not np.isfinite(ln):
                continue
            log_r = -0.5 * (ln - l[b, s])
            if prior_ratio:
                log_r -= 0.5 * (_quad(prop[b, s], omega_inv) - _quad(etas[b, s], omega_inv))
            if log_u[b, s] < log_r:
                n_acc += 1
                etas[b, s, :] = prop[b, s, :]
                l[b, s] = ln
                for o in range(o0, o1):
                    f[b, o] = f_new[b, o]
    return n_acc
