"""NPD/NPDE: a slow loop twin, the tie and censoring rules, and ~N(0, 1) on data simulated from
the model itself (Brendel 2006: under the model, NPDE are independent standard normals)."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from nlme_lab.diagnostics import Decorrelation, discrepancies, residuals
from tests.diagnostics.conftest import WARFARIN_PK


def _naive(y, sims, subject):
    """Per observation, per simulation: explicit loops, Cholesky whitening, ties count 1/2."""
    K, n = sims.shape
    npd, npde = np.empty(n), np.empty(n)
    for s in np.unique(subject):
        idx = [j for j in range(n) if subject[j] == s]
        Y = sims[:, idx]
        mean = Y.mean(axis=0)
        V = sum(np.outer(Y[k] - mean, Y[k] - mean) for k in range(K)) / (K - 1)
        L = np.linalg.cholesky(V)
        ys = np.linalg.solve(L, y[idx] - mean)
        for a, j in enumerate(idx):
            below = sum(1.0 if Y[k, a] < y[j] else 0.5 if Y[k, a] == y[j] else 0.0 for k in range(K))
            npd[j] = ndtri(min(max(below / K, 0.5 / K), 1 - 0.5 / K))
            below = 0.0
            for k in range(K):
                yk = np.linalg.solve(L, Y[k] - mean)[a]
                below += 1.0 if yk < ys[a] else 0.5 if yk == ys[a] else 0.0
            npde[j] = ndtri(min(max(below / K, 0.5 / K), 1 - 0.5 / K))
    return npd, npde


def test_npde_matches_a_slow_loop_twin():
    rng = np.random.default_rng(3)
    subject = np.array([0, 0, 0, 1, 1, 2])
    cov = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.6], [0.3, 0.6, 1.0]])
    sims = np.column_stack([rng.multivariate_normal(np.zeros(3), cov, 200),
                            rng.multivariate_normal([5, 4], [[2, 1], [1, 2]], 200), rng.normal(size=200)])
    y = np.array([0.3, -1.2, 2.5, 5.5, 3.0, 9.0])  # the last beyond every simulation
    d = discrepancies(y, sims, subject)
    npd, npde = _naive(y, sims, subject)
    np.testing.assert_allclose(d.npd, npd, rtol=1e-12)
    np.testing.assert_allclose(d.npde, npde, rtol=1e-12)
    np.testing.assert_allclose(d.epred, sims.mean(axis=0), rtol=1e-12)
    assert d.pd[-1] == 1 - 0.5 / 200


def test_ties_count_one_half():
    sims = np.array([[1.0], [2.0], [2.0], [3.0]])
    d = discrepancies(np.array([2.0]), sims, np.array([0]))
    assert d.pd[0] == pytest.approx((1 + 0.5 * 2) / 4)


def test_symmetric_decorrelation_whitens_with_the_symmetric_root():
    import scipy.linalg

    rng = np.random.default_rng(4)
    sims = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], 500)
    y = np.array([1.0, -1.0])
    sym = discrepancies(y, sims, np.zeros(2, int), decorrelation=Decorrelation.SYMMETRIC).npde
    chol = discrepancies(y, sims, np.zeros(2, int), decorrelation=Decorrelation.CHOLESKY).npde
    mean = sims.mean(axis=0)
    W = np.linalg.inv(np.real(scipy.linalg.sqrtm(np.cov(sims, rowvar=False))))
    ys, Ys = W @ (y - mean), (sims - mean) @ W.T
    expected = ndtri(np.clip((Ys < ys).mean(axis=0), 0.5 / 500, 1 - 0.5 / 500))
    np.testing.assert_allclose(sym, expected, rtol=1e-12)
    assert not np.allclose(sym, chol)


def test_censored_observation_is_imputed_below_its_limit():
    rng = np.random.default_rng(5)
    sims = rng.normal(size=(1000, 1))
    lloq = -1.0
    frac = np.mean(sims[:, 0] <= lloq)
    pds = [discrepancies(np.array([lloq]), sims, np.zeros(1, int), np.array([1]), np.array([-np.inf]),
                         np.array([lloq]), rng=seed).pd[0] for seed in range(50)]
    assert all(0 < p <= frac for p in pds)
    assert np.mean(pds) == pytest.approx(frac / 2, rel=0.2)  # uniform on (0, F(LLOQ))


def test_npde_of_data_simulated_from_the_model_are_standard_normal(shared_models, warfarin_simulated):
    r = residuals(shared_models["warfarin_pk"], warfarin_simulated, params=WARFARIN_PK, n_sim=1000, seed=7)
    npde = r.records["NPDE"].to_numpy()
    assert np.isfinite(npde).all() and npde.size == 251
    n = npde.size
    assert abs(npde.mean()) < 3 / np.sqrt(n)
    assert abs(npde.var(ddof=1) - 1) < 3 * np.sqrt(2 / (n - 1))
    assert stats.kstest(npde, "norm").pvalue > 0.05
    # EPRED: the mean of the simulations, close to PRED-based expectations at the same design
    assert np.corrcoef(r.records["EPRED"], r.records["PRED"])[0, 1] > 0.95


def test_npde_is_reproducible_by_seed(shared_models, shared_data):
    model, data = shared_models["wang2007_prop"], shared_data["wang2007.csv"]
    a = residuals(model, data, n_sim=200, seed=3).records
    b = residuals(model, data, n_sim=200, seed=3).records
    c = residuals(model, data, n_sim=200, seed=4).records
    np.testing.assert_array_equal(a["NPDE"], b["NPDE"])
    assert not np.array_equal(a["NPDE"], c["NPDE"])


def test_censored_records_get_imputed_discrepancies_end_to_end(shared_models, theo_censored):
    from tests.diagnostics.conftest import THEO
    import nlme_lab as nl

    model = shared_models["theo_sd"]
    r = residuals(model, theo_censored, params=THEO, n_sim=400, seed=9).records
    cens = r["CENS"].to_numpy() == 1
    assert np.isfinite(r["NPD"]).all() and np.isfinite(r["NPDE"][r["TIME"] > 0]).all()
    # NPD of a censored record is Phi^-1 of a pd drawn below the simulated fraction under the LLOQ
    sim = nl.simulate(model, theo_censored, n=400, seed=9, params=THEO).table
    sim = sim[(sim.EVID == 0) & (sim.MDV == 0)]
    frac_below = sim.groupby(np.tile(np.arange(132), 400))["SIMDV"].apply(lambda v: np.mean(v <= 2.0)).to_numpy()
    pd_cens = norm_cdf(r["NPD"].to_numpy()[cens])
    assert np.all(pd_cens <= np.maximum(frac_below[cens], 0.5 / 400) + 1e-12)


def norm_cdf(x):
    return stats.norm.cdf(x)
