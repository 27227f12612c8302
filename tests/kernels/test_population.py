"""Population drivers: compute_p/compute_dp and solve_population (parallel == serial)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from nlme_lab.kernels import abi
from nlme_lab.kernels.population import (
    compute_dp,
    compute_p,
    solve_population,
    solve_population_serial,
)
from test_events_models import ADVAN2, run_subject


@njit(abi.PK_SIG, cache=True)
def theo_pk(t, theta, eta, cov, p):
    """cl = theta0 exp(eta0) (WT/70)^0.75, v = theta1 exp(eta1), ka = theta2 exp(eta2)."""
    p[0] = theta[0] * np.exp(eta[0]) * (cov[0] / 70.0) ** 0.75
    p[1] = theta[1] * np.exp(eta[1])
    p[2] = theta[2] * np.exp(eta[2])
    p[3] = 1.0
    p[4] = 1.0
    p[5] = 0.0
    p[6] = 0.0


@njit(abi.DPK_SIG, cache=True)
def theo_dpk(t, theta, eta, cov, p, dp_deta, dp_dtheta):
    theo_pk(t, theta, eta, cov, p)
    dp_deta[:, :] = 0.0
    dp_dtheta[:, :] = 0.0
    for k in range(3):
        dp_deta[k, k] = p[k]
        dp_dtheta[k, k] = p[k] / theta[k]


THETA = np.array([2.8, 32.0, 1.5])
OBS_T = np.array([0.0, 0.25, 0.5, 1.0, 2.0, 3.5, 5.0, 7.0, 9.0, 12.0, 24.0])


def theo_like_population(n_sub, seed=0):
    """Single oral dose + 11 observations per subject, random etas and weights."""
    rng = np.random.default_rng(seed)
    n_rec = n_sub * 12
    time = np.tile(np.concatenate([[0.0], OBS_T]), n_sub)
    evid = np.tile(np.r_[1, np.zeros(11, np.int64)], n_sub).astype(np.int64)
    amt = np.tile(np.r_[320.0, np.zeros(11)], n_sub)
    zi = np.zeros(n_rec, np.int64)
    cmt = np.where(evid == 1, 0, 1).astype(np.int64)
    eta = np.repeat(rng.normal(0, 0.3, (n_sub, 3)), 12, axis=0)
    cov = np.repeat(rng.uniform(50, 90, (n_sub, 1)), 12, axis=0)
    offsets = np.arange(0, n_rec + 1, 12, dtype=np.int64)
    recs = dict(time=time, evid=evid, amt=amt, cmt=cmt, rate=np.zeros(n_rec), ii=np.zeros(n_rec),
                addl=zi.copy(), ss=zi.copy())
    return offsets, recs, np.ascontiguousarray(eta), np.ascontiguousarray(cov)


def _run(fn, offsets, recs, P, dP, linear=True, full_path=False):
    from nlme_lab.kernels.bolus_march_sens import with_full_path
    from nlme_lab.kernels.ode import make_opts

    opts = make_opts(rtol=1e-10, atol=1e-12)
    if full_path:  # every subject with directions through events.solve_records
        opts = with_full_path(opts)

    n = P.shape[0]
    pred = np.zeros((n, 1))
    dpred = np.zeros((n, 1, dP.shape[2]))
    n_sub = offsets.shape[0] - 1
    status = np.full(n_sub, -1, np.int64)
    fail = np.zeros(n_sub, np.int64)
    r = recs
    fn(offsets, r["time"], r["evid"], r["amt"], r["cmt"], r["rate"], r["ii"], r["addl"], r["ss"],
       P, ADVAN2.dose_index, *ADVAN2.funcs, linear, dP, opts, pred, dpred, status, fail)
    return pred, dpred, status, fail


def test_compute_p_and_dp_per_record():
    offsets, recs, eta, cov = theo_like_population(3)
    n = recs["time"].shape[0]
    P = np.zeros((n, 7))
    compute_p(theo_pk, recs["time"], THETA, eta, cov, P, True)
    np.testing.assert_allclose(P[:, 0], 2.8 * np.exp(eta[:, 0]) * (cov[:, 0] / 70) ** 0.75)
    np.testing.assert_allclose(P[:, 2], 1.5 * np.exp(eta[:, 2]))
    P2 = np.zeros((n, 7))
    de = np.zeros((n, 7, 3))
    dt = np.zeros((n, 7, 3))
    compute_dp(theo_dpk, recs["time"], THETA, eta, cov, P2, de, dt, True)
    np.testing.assert_array_equal(P, P2)
    np.testing.assert_allclose(de[:, 1, 1], P[:, 1])
    np.testing.assert_allclose(dt[:, 2, 2], P[:, 2] / 1.5)
    # p independent of t: pk runs only where eta or the covariates change, the same numbers
    cov[4:, 0] += 3.0  # a time-varying covariate in the first subject
    ref = [np.zeros((n, 7)), np.zeros((n, 7, 3)), np.zeros((n, 7, 3))]
    compute_dp(theo_dpk, recs["time"], THETA, eta, cov, *ref, True)
    P3 = np.full((n, 7), np.nan)
    compute_p(theo_pk, recs["time"], THETA, eta, cov, P3, False)
    np.testing.assert_array_equal(P3, ref[0])
    out = [np.full((n, 7), np.nan), np.full((n, 7, 3), np.nan), np.full((n, 7, 3), np.nan)]
    compute_dp(theo_dpk, recs["time"], THETA, eta, cov, *out, False)
    for a, b in zip(out, ref):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_dir", [0, 3])
def test_parallel_equals_serial_and_per_subject_calls(n_dir):
    offsets, recs, eta, cov = theo_like_population(40, seed=n_dir)
    n = recs["time"].shape[0]
    P = np.zeros((n, 7))
    dP = np.zeros((n, 7, n_dir))
    if n_dir:
        compute_dp(theo_dpk, recs["time"], THETA, eta, cov, P, dP, np.zeros((n, 7, 3)), True)
    else:
        compute_p(theo_pk, recs["time"], THETA, eta, cov, P, True)
    par = _run(solve_population, offsets, recs, P, dP)
    ser = _run(solve_population_serial, offsets, recs, P, dP)
    for a, b in zip(par, ser):
        np.testing.assert_array_equal(a, b)
    assert np.all(par[2] == 0) and np.all(par[3] == -1)
    # and equal to one call per subject (which takes the full path with directions; the
    # population's sensitivity fast path, bolus_march_sens, gives its numbers bit for bit)
    full = _run(solve_population_serial, offsets, recs, P, dP, full_path=True)
    for x, y in zip(par, full):
        np.testing.assert_array_equal(x, y)
    s = 7
    a, b = offsets[s], offsets[s + 1]
    sub = {k: v[a:b] for k, v in recs.items()}
    _, _, pred, dpred = run_subject(ADVAN2, sub, P[a:b], dP=dP[a:b])
    np.testing.assert_array_equal(full[0][a:b], pred)
    np.testing.assert_array_equal(full[1][a:b], dpred)


def test_failing_subject_reports_global_record_index():
    offsets, recs, eta, cov = theo_like_population(5)
    recs["cmt"][offsets[3]] = 9  # dose of subject 3 into a compartment that does not exist
    n = recs["time"].shape[0]
    P = np.zeros((n, 7))
    compute_p(theo_pk, recs["time"], THETA, eta, cov, P, True)
    _, _, status, fail = _run(solve_population, offsets, recs, P, np.zeros((n, 7, 0)))
    assert list(status) == [0, 0, 0, 2, 0]
    assert fail[3] == offsets[3] and fail[0] == -1


# ------------------------------------------------------- workspace reuse across subjects
HETERO_DESIGNS = [
    [(0.0, 0, 100.0, 0.0, 12.0, 3, 0)],  # oral ADDL
    [(0.0, 1, 100.0, 10.0, 12.0, 1, 1)],  # SS infusion
    [(0.0, 1, 40.0, 0.0, 0.0, 0, 0), (5.0, 0, 100.0, 0.0, 12.0, 1, 2)],  # SS=2 on a bolus
    [(0.0, 1, 0.0, 15.0, 0.0, 0, 1)],  # constant infusion at steady state
    [(0.0, 1, 100.0, -2.0, 24.0, 2, 0), (30.0, 0, 50.0, 0.0, 0.0, 0, 0)],  # modeled duration
    [(0.0, 0, 80.0, 0.0, 0.0, 0, 0)],  # one oral dose
]


def hetero_population(n_sub, seed):
    """CMT2 subjects with different designs, dose counts and parameters (incl. ka == k)."""
    from test_events_models import CMT2, mam_params, records

    rng = np.random.default_rng(seed)
    parts, Ps = [], []
    for s in range(n_sub):
        rows = HETERO_DESIGNS[rng.integers(len(HETERO_DESIGNS))]
        obs = np.round(np.sort(rng.uniform(0, 60, rng.integers(1, 15))), 2)
        rec = records(rows, obs)
        ka = float(rng.uniform(0.3, 2.0)) if s % 5 else 3.0 / 20.0  # every 5th: ka == cl / v
        p = mam_params(three=False, ka=ka, cl=3.0, ALAG1=float(rng.uniform(0, 2)),
                       ALAG2=float(rng.uniform(0, 14)), F2=0.8, D2=6.0)
        parts.append(rec)
        Ps.append(np.tile(p, (len(rec["time"]), 1)))
    recs = {k: np.concatenate([r[k] for r in parts]) for k in parts[0]}
    sizes = [len(r["time"]) for r in parts]
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    return CMT2, offsets, recs, np.ascontiguousarray(np.vstack(Ps)), parts


@pytest.mark.parametrize("method", ["auto", "expm"])
@pytest.mark.parametrize("n_dir", [0, 4])
def test_reused_workspaces_give_each_subject_its_own_solve(method, n_dir):
    """Parallel == serial == one ``solve_subject`` per subject, bit for bit, on subjects whose
    designs (SS, infusions, lags, dose counts) and eigen/Padé paths differ from their
    neighbours' (the chunks reuse one workspace for consecutive subjects)."""
    from nlme_lab.kernels.linear import LinearMethod, with_linear_method
    from nlme_lab.kernels.ode import make_opts

    model, offsets, recs, P, parts = hetero_population(50, seed=n_dir)
    n = P.shape[0]
    dP = np.zeros((n, P.shape[1], n_dir))
    for d, k in enumerate((0, 1, 6, 10)[:n_dir]):  # cl, v, ka, ALAG2
        dP[:, k, d] = 1.0
    opts = with_linear_method(make_opts(rtol=1e-10, atol=1e-12), LinearMethod[method.upper()])
    outs = []
    for fn in (solve_population, solve_population_serial):
        pred = np.zeros((n, 1))
        dpred = np.zeros((n, 1, n_dir))
        status = np.full(offsets.size - 1, -1, np.int64)
        fail = np.zeros(offsets.size - 1, np.int64)
        r = recs
        fn(offsets, r["time"], r["evid"], r["amt"], r["cmt"], r["rate"], r["ii"], r["addl"],
           r["ss"], P, model.dose_index, *model.funcs, True, dP, opts, pred, dpred, status, fail)
        assert np.all(status == 0)
        outs.append((pred, dpred))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    for s, rec in enumerate(parts):
        a, b = offsets[s], offsets[s + 1]
        st, _, pred, dpred = run_subject(model, rec, P[a:b], dP=dP[a:b], opts=opts)
        assert st == 0
        np.testing.assert_array_equal(outs[0][0][a:b], pred)
        np.testing.assert_array_equal(outs[0][1][a:b], dpred)


# ------------------------------------------------------- functions by address
def _run_at(fn, offsets, recs, P, dP, addresses):
    from nlme_lab.kernels.ode import make_opts

    n = P.shape[0]
    pred, dpred = np.zeros((n, 1)), np.zeros((n, 1, dP.shape[2]))
    status, fail = np.full(offsets.size - 1, -1, np.int64), np.zeros(offsets.size - 1, np.int64)
    r = recs
    fn(offsets, r["time"], r["evid"], r["amt"], r["cmt"], r["rate"], r["ii"], r["addl"], r["ss"],
       P, ADVAN2.dose_index, addresses, True, dP, make_opts(rtol=1e-10, atol=1e-12), pred, dpred,
       status, fail)
    return pred, dpred, status, fail


def test_functions_by_address_equal_functions_as_arguments():
    """``solve_population_at(_serial)`` rebuild the model functions from their C-wrapper
    addresses: the same predictions and sensitivities, bit for bit, as passing them."""
    from nlme_lab.kernels import population
    from nlme_lab.kernels.function_refs import SIGNATURES, FunctionRef, engine_addresses

    refs = {name: FunctionRef(f, SIGNATURES[name]) for name, f in zip(population.FN_ORDER, ADVAN2.funcs)}
    addresses = engine_addresses(refs)
    offsets, recs, eta, cov = theo_like_population(70, seed=3)
    n = recs["time"].shape[0]
    P, dP = np.zeros((n, 7)), np.zeros((n, 7, 3))
    compute_dp(theo_dpk, recs["time"], THETA, eta, cov, P, dP, np.zeros((n, 7, 3)), True)
    ref = _run(solve_population_serial, offsets, recs, P, dP)
    assert np.all(ref[2] == 0) and np.all(np.isfinite(ref[1])) and np.ptp(ref[0]) > 1.0
    for fn in (population.solve_population_at, population.solve_population_at_serial):
        out = _run_at(fn, offsets, recs, P, dP, addresses)
        for a, b in zip(out, ref):
            np.testing.assert_array_equal(a, b)
