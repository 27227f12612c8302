"""The exact linear propagator (kernels/linear.py, kernels/expm.py) against independent twins."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from nlme_lab.kernels.expm import EXPM_WORK, expm_into
from nlme_lab.kernels.linear import contract_dK, lin_advance, make_workspace
from test_events_models import ADVAN2, CMT3, mam_params, records, run_subject


def test_expm_matches_scipy_on_random_matrices():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 9):
        for scale in (1e-4, 0.05, 0.5, 2.0, 8.0, 60.0):
            A = rng.normal(size=(n, n)) * scale / np.sqrt(n)
            out = np.empty((n, n))
            expm_into(A, out, np.empty((EXPM_WORK, n, n)))
            ref = sla.expm(A)
            assert np.abs(out - ref).max() <= 1e-12 * np.abs(ref).max() * max(1.0, scale)


def test_expm_of_jordan_block_is_exact():
    """Repeated eigenvalue (ka == k): exp(h [[-k, 0], [k, -k]]) = e^{-kh} [[1, 0], [kh, 1]]."""
    k, h = 0.7, 9.0
    out = np.empty((2, 2))
    expm_into(np.array([[-k, 0.0], [k, -k]]) * h, out, np.empty((EXPM_WORK, 2, 2)))
    e = np.exp(-k * h)
    np.testing.assert_allclose(out, [[e, 0.0], [k * h * e, e]], rtol=1e-13, atol=0)


def _lin_twin(K, r, h, y):
    """Reference by scipy: exp of the augmented matrix."""
    n = K.shape[0]
    A = np.zeros((n + 1, n + 1))
    A[:n, :n] = K
    A[:n, n] = r
    E = sla.expm(A * h)
    return E[:n, :n] @ y + E[:n, n]


@pytest.mark.parametrize("h", [0.3, 5.0, 48.0, -2.5, -20.0])
def test_lin_advance_values_match_augmented_expm_forward_and_backward(h):
    p = mam_params(ka=0.9)
    K = np.zeros((4, 4))
    CMT3.funcs[8](p, K)
    y = np.array([10.0, 3.0, 1.0, 0.5])
    r = np.array([0.0, 25.0, 0.0, 0.0])
    Wm, W2, tmp = make_workspace(4)
    yy = y.copy()
    lin_advance(K, np.zeros((0, 4, 4)), h, yy, np.zeros((4, 0)), r, np.zeros((4, 0)), Wm, W2, tmp)
    ref = _lin_twin(K, r, h, y)
    np.testing.assert_allclose(yy, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    if abs(h) > 5.0:
        return  # the round trip amplifies rounding by about exp(ka |h|)
    # backward then forward returns to the start
    lin_advance(K, np.zeros((0, 4, 4)), -h, yy, np.zeros((4, 0)), r, np.zeros((4, 0)), Wm, W2,
                tmp)
    np.testing.assert_allclose(yy, y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("h", [4.0, -3.0])
def test_lin_advance_sensitivities_match_central_differences(h):
    p0 = mam_params()
    n, n_p = 4, p0.shape[0]
    y0 = np.array([10.0, 3.0, 1.0, 0.5])
    rng = np.random.default_rng(3)
    S0 = rng.normal(size=(n, 3))
    dPr = np.zeros((n_p, 3))  # directions: d cl, d ka, and a mix with an input rate change
    dPr[0, 0] = 1.0
    dPr[6, 1] = 1.0
    dPr[[1, 2, 3], 2] = [0.5, -1.0, 2.0]
    drate = np.zeros((n, 3))
    drate[1, 2] = 3.0

    def run(p, y, S, r, drt):
        K = np.zeros((n, n))
        CMT3.funcs[8](p, K)
        dK = np.zeros((n, n, n_p))
        CMT3.funcs[9](p, dK)
        dKd = np.zeros((S.shape[1], n, n))
        contract_dK(dK, dPr[:, : S.shape[1]], dKd)
        Wm, W2, tmp = make_workspace(n)
        y, S = y.copy(), S.copy()
        lin_advance(K, dKd, h, y, S, r, drt, Wm, W2, tmp)
        return y, S

    r0 = np.array([0.0, 25.0, 0.0, 0.0])
    _, S = run(p0, y0, S0, r0, drate)
    eps = 1e-6
    for d in range(3):
        yp, _ = run(p0 + eps * dPr[:, d], y0 + eps * S0[:, d], np.zeros((n, 0)),
                    r0 + eps * drate[:, d], np.zeros((n, 0)))
        ym, _ = run(p0 - eps * dPr[:, d], y0 - eps * S0[:, d], np.zeros((n, 0)),
                    r0 - eps * drate[:, d], np.zeros((n, 0)))
        fd = (yp - ym) / (2 * eps)
        np.testing.assert_allclose(S[:, d], fd, rtol=1e-7, atol=1e-8 * np.abs(fd).max())


def _oral_superposition(t, doses, cl, v, ka):
    """1-cmt oral: sum over doses of the Bateman function (limit form when ka == k)."""
    k = cl / v
    c = np.zeros_like(t)
    for td, a in doses:
        s = np.clip(t - td, 0.0, None)
        on = t >= td
        if ka == k:
            c += on * a * k * s * np.exp(-k * s) / v
        else:
            c += on * a * ka / (v * (ka - k)) * (np.exp(-k * s) - np.exp(-ka * s))
    return c


@pytest.mark.parametrize("cl, ka", [(1.1, 1.5), (1.0, 0.05), (1.0, 0.0500001)],
                         ids=["distinct", "ka==k", "ka~k"])
def test_oral_multiple_doses_match_superposition_formula(cl, ka):
    rng = np.random.default_rng(7)
    dose_t = np.sort(rng.uniform(0, 60, 5))
    dose_a = rng.uniform(50, 150, 5)
    obs_t = np.sort(rng.uniform(0, 100, 40))
    rec = records([(t, 0, a, 0.0, 0.0, 0, 0) for t, a in zip(dose_t, dose_a)], obs_t)
    assert (cl / 20.0 == ka) == (ka == 0.05)
    P = np.array([cl, 20.0, ka, 1.0, 1.0, 0.0, 0.0])
    st, _, pred, _ = run_subject(ADVAN2, rec, P)
    assert st == 0
    ref = 1000.0 * _oral_superposition(rec["time"], list(zip(dose_t, dose_a)), cl, 20.0, ka)
    tol = 1e-12 if ka != 0.0500001 else 1e-8  # near-repeated roots: the formula cancels
    np.testing.assert_allclose(pred[:, 0], ref, rtol=tol, atol=tol * ref.max())
