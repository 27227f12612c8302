"""Hand-written ABI-conforming test models for the ODE integrator tests (no tests here).

Each model is a ``TestModel`` with numba ``rhs``/``jac``/``dfdp`` of the exact signatures of
``nlme_lab.kernels.abi`` (so ``ode_advance`` receives them as first-class functions), the
parameters ``p``, the initial state and the tolerances its tests use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from nlme_lab.kernels.abi import JAC_SIG, RHS_SIG


@dataclass(frozen=True)
class TestModel:
    __test__ = False  # not a pytest class

    name: str
    rhs: object
    jac: object
    dfdp: object
    p: np.ndarray
    y0: np.ndarray
    times: np.ndarray
    atol: float


# --- 1-compartment, first-order absorption. p = [ka, cl, v]; y = [depot, central] ----------
@njit(RHS_SIG, cache=True)
def oral1_rhs(t, y, p, dydt):
    dydt[0] = -p[0] * y[0]
    dydt[1] = p[0] * y[0] - p[1] / p[2] * y[1]


@njit(JAC_SIG, cache=True)
def oral1_jac(t, y, p, J):
    J[0, 0] = -p[0]
    J[0, 1] = 0.0
    J[1, 0] = p[0]
    J[1, 1] = -p[1] / p[2]


@njit(JAC_SIG, cache=True)
def oral1_dfdp(t, y, p, Fp):
    Fp[0, 0] = -y[0]
    Fp[0, 1] = 0.0
    Fp[0, 2] = 0.0
    Fp[1, 0] = y[0]
    Fp[1, 1] = -y[1] / p[2]
    Fp[1, 2] = p[1] * y[1] / (p[2] * p[2])


# --- 2-compartment, first-order absorption. p = [ka, cl, v, q, v2]; y = [depot, c, periph] --
@njit(RHS_SIG, cache=True)
def two_rhs(t, y, p, dydt):
    ka, cl, v, q, v2 = p[0], p[1], p[2], p[3], p[4]
    dydt[0] = -ka * y[0]
    dydt[1] = ka * y[0] - (cl + q) / v * y[1] + q / v2 * y[2]
    dydt[2] = q / v * y[1] - q / v2 * y[2]


@njit(JAC_SIG, cache=True)
def two_jac(t, y, p, J):
    ka, cl, v, q, v2 = p[0], p[1], p[2], p[3], p[4]
    J[:, :] = 0.0
    J[0, 0] = -ka
    J[1, 0] = ka
    J[1, 1] = -(cl + q) / v
    J[1, 2] = q / v2
    J[2, 1] = q / v
    J[2, 2] = -q / v2


@njit(JAC_SIG, cache=True)
def two_dfdp(t, y, p, Fp):
    cl, v, q, v2 = p[1], p[2], p[3], p[4]
    Fp[:, :] = 0.0
    Fp[0, 0] = -y[0]
    Fp[1, 0] = y[0]
    Fp[1, 1] = -y[1] / v
    Fp[1, 2] = (cl + q) * y[1] / (v * v)
    Fp[1, 3] = -y[1] / v + y[2] / v2
    Fp[1, 4] = -q * y[2] / (v2 * v2)
    Fp[2, 2] = -q * y[1] / (v * v)
    Fp[2, 3] = y[1] / v - y[2] / v2
    Fp[2, 4] = q * y[2] / (v2 * v2)


# --- Michaelis-Menten elimination. p = [ka, vmax, km, v]; y = [depot, central amount] -------
@njit(RHS_SIG, cache=True)
def mm_rhs(t, y, p, dydt):
    c = y[1] / p[3]
    dydt[0] = -p[0] * y[0]
    dydt[1] = p[0] * y[0] - p[1] * c / (p[2] + c)


@njit(JAC_SIG, cache=True)
def mm_jac(t, y, p, J):
    c = y[1] / p[3]
    den = p[2] + c
    J[0, 0] = -p[0]
    J[0, 1] = 0.0
    J[1, 0] = p[0]
    J[1, 1] = -p[1] * p[2] / (den * den) / p[3]


@njit(JAC_SIG, cache=True)
def mm_dfdp(t, y, p, Fp):
    c = y[1] / p[3]
    den = p[2] + c
    Fp[0, :] = 0.0
    Fp[0, 0] = -y[0]
    Fp[1, 0] = y[0]
    Fp[1, 1] = -c / den
    Fp[1, 2] = p[1] * c / (den * den)
    Fp[1, 3] = p[1] * p[2] / (den * den) * y[1] / (p[3] * p[3])


# --- Robertson (classic stiff chemistry). p = [k1, k2, k3] = [0.04, 3e7, 1e4] ----------------
@njit(RHS_SIG, cache=True)
def rob_rhs(t, y, p, dydt):
    dydt[0] = -p[0] * y[0] + p[2] * y[1] * y[2]
    dydt[1] = p[0] * y[0] - p[2] * y[1] * y[2] - p[1] * y[1] * y[1]
    dydt[2] = p[1] * y[1] * y[1]


@njit(JAC_SIG, cache=True)
def rob_jac(t, y, p, J):
    J[0, 0] = -p[0]
    J[0, 1] = p[2] * y[2]
    J[0, 2] = p[2] * y[1]
    J[1, 0] = p[0]
    J[1, 1] = -p[2] * y[2] - 2.0 * p[1] * y[1]
    J[1, 2] = -p[2] * y[1]
    J[2, 0] = 0.0
    J[2, 1] = 2.0 * p[1] * y[1]
    J[2, 2] = 0.0


@njit(JAC_SIG, cache=True)
def rob_dfdp(t, y, p, Fp):
    Fp[0, 0] = -y[0]
    Fp[0, 1] = 0.0
    Fp[0, 2] = y[1] * y[2]
    Fp[1, 0] = y[0]
    Fp[1, 1] = -y[1] * y[1]
    Fp[1, 2] = -y[1] * y[2]
    Fp[2, 0] = 0.0
    Fp[2, 1] = y[1] * y[1]
    Fp[2, 2] = 0.0


# --- TMDD (full binding model). p = [kel, kon, koff, ksyn, kdeg, kint]; y = [L, R, LR] -------
@njit(RHS_SIG, cache=True)
def tmdd_rhs(t, y, p, dydt):
    kel, kon, koff, ksyn, kdeg, kint = p[0], p[1], p[2], p[3], p[4], p[5]
    bind = kon * y[0] * y[1] - koff * y[2]
    dydt[0] = -kel * y[0] - bind
    dydt[1] = ksyn - kdeg * y[1] - bind
    dydt[2] = bind - kint * y[2]


@njit(JAC_SIG, cache=True)
def tmdd_jac(t, y, p, J):
    kel, kon, koff, kdeg, kint = p[0], p[1], p[2], p[4], p[5]
    J[0, 0] = -kel - kon * y[1]
    J[0, 1] = -kon * y[0]
    J[0, 2] = koff
    J[1, 0] = -kon * y[1]
    J[1, 1] = -kdeg - kon * y[0]
    J[1, 2] = koff
    J[2, 0] = kon * y[1]
    J[2, 1] = kon * y[0]
    J[2, 2] = -koff - kint


@njit(JAC_SIG, cache=True)
def tmdd_dfdp(t, y, p, Fp):
    Fp[:, :] = 0.0
    lr = y[0] * y[1]
    Fp[0, 0] = -y[0]
    Fp[0, 1] = -lr
    Fp[0, 2] = y[2]
    Fp[1, 1] = -lr
    Fp[1, 2] = y[2]
    Fp[1, 3] = 1.0
    Fp[1, 4] = -y[1]
    Fp[2, 1] = lr
    Fp[2, 2] = -y[2]
    Fp[2, 5] = -y[2]


# --- Failure cases ---------------------------------------------------------------------------
@njit(RHS_SIG, cache=True)
def blowup_rhs(t, y, p, dydt):
    dydt[0] = y[0] * y[0]


@njit(JAC_SIG, cache=True)
def blowup_jac(t, y, p, J):
    J[0, 0] = 2.0 * y[0]


@njit(RHS_SIG, cache=True)
def nan_rhs(t, y, p, dydt):
    dydt[0] = np.nan * y[0]


@njit(JAC_SIG, cache=True)
def huge_jac(t, y, p, J):
    """Finite but overflowing entries: the iteration matrix cannot be factored."""
    J[0, 0] = -1e308
    J[0, 1] = 1e308
    J[1, 0] = 1e308
    J[1, 1] = 1e308


@njit(RHS_SIG, cache=True)
def decay2_rhs(t, y, p, dydt):
    dydt[0] = -y[0]
    dydt[1] = -2.0 * y[1]


@njit(JAC_SIG, cache=True)
def no_params(t, y, p, Fp):
    pass


# --- A non-autonomous model: y' = -k y + a sin(w t); p = [k, a, w] ---------------------------
@njit(RHS_SIG, cache=True)
def forced_rhs(t, y, p, dydt):
    dydt[0] = -p[0] * y[0] + p[1] * np.sin(p[2] * t)


@njit(JAC_SIG, cache=True)
def forced_jac(t, y, p, J):
    J[0, 0] = -p[0]


@njit(JAC_SIG, cache=True)
def forced_dfdp(t, y, p, Fp):
    Fp[0, 0] = -y[0]
    Fp[0, 1] = np.sin(p[2] * t)
    Fp[0, 2] = p[1] * t * np.cos(p[2] * t)


ORAL1 = TestModel("oral1", oral1_rhs, oral1_jac, oral1_dfdp, np.array([1.5, 2.0, 10.0]),
                  np.array([100.0, 0.0]), np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 24.0]), 1e-10)
TWO_CMT = TestModel("two_cmt", two_rhs, two_jac, two_dfdp, np.array([1.2, 3.0, 20.0, 5.0, 50.0]),
                    np.array([100.0, 0.0, 0.0]), np.array([0.5, 1.0, 3.0, 12.0, 48.0, 96.0]),
                    1e-10)
MM = TestModel("michaelis_menten", mm_rhs, mm_jac, mm_dfdp, np.array([1.0, 8.0, 2.0, 10.0]),
               np.array([200.0, 0.0]), np.array([0.5, 1.0, 4.0, 12.0, 24.0, 48.0]), 1e-10)
ROBERTSON = TestModel("robertson", rob_rhs, rob_jac, rob_dfdp, np.array([0.04, 3e7, 1e4]),
                      np.array([1.0, 0.0, 0.0]), np.array([1e-3, 0.4, 4.0, 40.0, 400.0]), 1e-14)
TMDD = TestModel("tmdd", tmdd_rhs, tmdd_jac, tmdd_dfdp,
                 np.array([0.1, 1e3, 1e-3, 1.0, 0.1, 0.05]), np.array([100.0, 10.0, 0.0]),
                 np.array([0.01, 0.1, 1.0, 10.0, 50.0, 200.0]), 1e-12)
FORCED = TestModel("forced", forced_rhs, forced_jac, forced_dfdp, np.array([0.7, 2.0, 1.3]),
                   np.array([1.0]), np.array([0.5, 2.0, 7.0, 15.0]), 1e-12)

ALL_MODELS = (ORAL1, TWO_CMT, MM, ROBERTSON, TMDD, FORCED)
