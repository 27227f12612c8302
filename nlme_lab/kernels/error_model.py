"""The residual error model, defined once: the residual variance and the Gaussian -2LL term.

An endpoint's error is ``add(a)``, ``prop(p)``, both, or ``lnorm(s)``; every estimation path,
the simulation and the diagnostics take the variance and the Gaussian term from here:

* ``residual_variance(a, p, x) = a^2 + p^2 x^2`` with ``x`` the variance basis: the prediction
  on the natural scale, 0 on a log-normal endpoint (whose SD enters as ``a``: log DV = log f +
  eps, eps ~ N(0, s^2));
* ``variance_slope(p, x) = dV/dx = 2 p^2 x``;
* ``gaussian_term(log_v, r, V) = log V + r^2 / V``: the -2 log density of an observation with
  residual r = y - f, without the log(2 pi) constant (the log is an argument so that a caller
  whose V repeats, an additive error, takes it once);
* ``gaussian_slopes(r, V)``: its derivatives ``l_f = -2 r / V``, ``l_V = 1/V - r^2 / V^2`` and
  the expected-information curvature ``M = diag(1/V, 1/(2 V^2))`` (FOCE-type);
* ``observation_variance(sd, add, prop, log_scale, f)``: V and dV/dx of one observation from
  the SD vector and the observation's SD indices (-1: term absent), for the kernels.

They are ``register_jitable``: plain Python functions (the numpy layers call them on arrays:
``estimation.likelihood``, ``simulation.residual``) that numba inlines into the kernels that call
them (``subject_terms``, ``metropolis``). Each caller keeps its own ``log`` (numpy's in Python,
numba's in the kernels), so every path gives today's bits; ``tests/estimation/test_error_model.py``
ties every use to these definitions. The censored (M3/M4) terms need ``scipy.special`` and live in
``estimation.likelihood``.

The kernels that inline these functions are listed in ``cache_guard.ENGINE_MODULES`` (numba's
cache does not see an edit here).
"""

from __future__ import annotations

from numba.extending import register_jitable

from . import cache_guard

cache_guard.check()  # its functions are inlined into engine kernels: drop stale caches first


@register_jitable(inline="always")
def residual_variance(a, p, x):
    """``a^2 + p^2 x^2`` (see the module docstring; arrays broadcast)."""
    return a * a + p * p * x * x


@register_jitable(inline="always")
def variance_slope(p, x):
    """``dV/dx = 2 p^2 x``."""
    return 2.0 * p * p * x


@register_jitable(inline="always")
def gaussian_term(log_v, r, V):
    """``log V + r^2 / V``, the -2 log density of a residual r of variance V (no constant)."""
    return log_v + r * r / V


@register_jitable(inline="always")
def gaussian_slopes(r, V):
    """``(l_f, l_V, M00, M11)``: the derivatives of ``gaussian_term`` in f and V (r = y - f) and
    the expected-information curvature (half the second derivatives' expectation)."""
    return -2.0 * r / V, 1.0 / V - r * r / (V * V), 1.0 / V, 0.5 / (V * V)


@register_jitable(inline="always")
def observation_variance(sd, add, prop, log_scale, f):
    """``(V, dV/dx)`` of one observation: SDs ``sd[add]``, ``sd[prop]`` (index -1: term absent),
    variance basis ``f``, or 0 on a log-normal endpoint (kernels only: scalar indices)."""
    a = sd[add] if add >= 0 else 0.0
    p = sd[prop] if prop >= 0 else 0.0
    x = 0.0 if log_scale else f
    return residual_variance(a, p, x), variance_slope(p, x)
