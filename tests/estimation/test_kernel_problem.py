"""``KernelProblem`` (the engine as a ``PredictionProblem``), ``parameter_space`` from the IR,
and ``nl.fit`` on models and datasets: exact sensitivities against finite differences, occasion
kappas, censoring from the dataset, and failed fits that leave their inputs alone."""

import numpy as np
import pandas as pd
import pytest
from tests.estimation.spaces import wang_space
from tests.estimation.problems import Wang2007Censored

import nlme_lab as nl
from nlme_lab.errors import NlmeError
from nlme_lab.estimation import (
    EndpointError,
    KernelProblem,
    PredictionProblem,
    Termination,
    fit_problem,
    parameter_space,
)
from nlme_lab.estimation.model_space import lognormal_pairs
from nlme_lab.problem import bind
from nlme_lab.problem.predict import Predictor
from tests.conftest import DATA, MODELS

IOV = """
[ini]
tcl = log(2.7)
tv  = (0, 30, 100)
tka = fix(0.4)
eta_cl + eta_v ~ [0.08, 0.01, 0.03]
kappa_cl ~ 0.02 | OCC
kappa_ka ~ 0.05 | OCC
add_sd = 0.5
prop_sd = fix(0.1)
[model]
cl = exp(tcl + eta_cl + kappa_cl)
v  = tv * exp(eta_v)
ka = exp(tka + kappa_ka)
cp = linCmt()
cp ~ add(add_sd) + prop(prop_sd)
"""


def _iov_data():
    rows = []
    for i in (1, 2, 3):
        for occ, t0 in ((1, 0.0), (2, 48.0), (3, 96.0))[: 1 + i % 3 + (i == 3)]:
            rows.append((i, t0, 0.0, 100.0, 1, 1, 1, occ))
            rows += [(i, t0 + t, 3.0 + t / 10, 0.0, 0, 0, 2, occ) for t in (1.0, 4.0, 12.0)]
    return nl.read_nonmem(pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "OCC"]))


@pytest.fixture(scope="module")
def theo_problem(shared_models, shared_data):
    return KernelProblem(bind(shared_models["theo_sd"], shared_data["theo_sd.csv"]))


@pytest.fixture(scope="module")
def iov_problem():
    return KernelProblem(bind(nl.Model(IOV), _iov_data()))


def _fd_check(problem, theta, etas, h=1e-6):
    ev = problem.evaluate(theta, etas, derivs=True, theta_derivs=True)
    for m in range(problem.n_eta):
        ep, em = etas.copy(), etas.copy()
        ep[:, m] += h
        em[:, m] -= h
        fd = (problem.evaluate(theta, ep, derivs=False).f - problem.evaluate(theta, em, derivs=False).f) / (2 * h)
        np.testing.assert_allclose(ev.df_deta[:, m], fd, rtol=1e-6, atol=1e-8, err_msg=f"eta column {m}")
    for k in range(problem.n_theta):
        tp, tm = theta.copy(), theta.copy()
        tp[k] += h
        tm[k] -= h
        fd = (problem.evaluate(tp, etas, derivs=False).f - problem.evaluate(tm, etas, derivs=False).f) / (2 * h)
        np.testing.assert_allclose(ev.df_dtheta[:, k], fd, rtol=1e-6, atol=1e-8, err_msg=f"theta {k}")
    return ev


def test_kernel_problem_is_a_prediction_problem_over_observation_records(theo_problem, shared_data):
    p = theo_problem
    assert isinstance(p, PredictionProblem)
    ds = shared_data["theo_sd.csv"]
    assert p.n_subjects == 12 and p.n_eta == 3 and p.n_theta == 3 and p.theta_names == ("tka", "tcl", "tv")
    obs = (ds.evid == 0) & (ds.mdv == 0)
    np.testing.assert_array_equal(p.dv, ds.dv[obs])
    assert np.all(np.diff(p.obs_subject) >= 0) and p.dv.flags.writeable and p.dv.flags.c_contiguous


def test_predictions_equal_the_predictor(theo_problem):
    p = theo_problem
    rng = np.random.default_rng(1)
    theta = np.array([0.45, 1.0, 3.45])
    etas = rng.normal(0, 0.3, (p.n_subjects, 3))
    f = p.evaluate(theta, etas, derivs=False).f
    pr = Predictor(p.bound, parallel=False)
    full = pr.predict(np.append(theta, 0.7), pr.record_effects(etas, np.zeros((p.n_subjects, 1, 0))))
    np.testing.assert_array_equal(f, full[p.obs_rec])


def test_eta_and_theta_sensitivities_match_finite_differences(theo_problem):
    rng = np.random.default_rng(2)
    _fd_check(theo_problem, np.array([0.45, 1.0, 3.45]), rng.normal(0, 0.3, (12, 3)))


def test_ode_sensitivities_match_finite_differences(shared_models, shared_data):
    p = KernelProblem(bind(shared_models["theo_sd_ode"].with_solver("ode"), shared_data["theo_sd.csv"]))
    rng = np.random.default_rng(3)
    _fd_check(p, np.array([0.45, 1.0, 3.45]), rng.normal(0, 0.3, (12, 3)), h=1e-5)


def test_ode_directions_through_the_parameters_equal_the_direct_solve(shared_models, shared_data, monkeypatch):
    # 3 eta + 3 theta directions, 3 parameters (ka, cl, v): the engine integrates the parameters'
    # sensitivities and the problem contracts them with dP (kernel_problem's docstring)
    # (the theta twins are off: mu-referenced thetas would otherwise be copies of the eta columns,
    # leaving the 3 eta directions alone for the engine and no reason for this route)
    monkeypatch.setattr(KernelProblem, "_theta_directions", lambda self: None)
    p = KernelProblem(bind(shared_models["theo_sd_ode"].with_solver("ode"), shared_data["theo_sd.csv"]))
    theta, etas = np.array([0.45, 1.0, 3.45]), np.random.default_rng(5).normal(0, 0.3, (12, 3))
    ev = p.evaluate(theta, etas, derivs=True, theta_derivs=True)
    assert p._along_p is not None
    monkeypatch.setattr(KernelProblem, "_constant_within_subjects", lambda self, dP: False)
    direct = p.evaluate(theta, etas, derivs=True, theta_derivs=True)
    np.testing.assert_array_equal(ev.f, direct.f)
    for a, b in ((ev.df_deta, direct.df_deta), (ev.df_dtheta, direct.df_dtheta)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.max(np.abs(b)))
    assert np.max(np.abs(direct.df_dtheta)) > 1.0


def test_kappas_are_expanded_per_occasion(iov_problem):
    p = iov_problem
    assert p.n_subject_eta == 2 and p.n_kappa == 2 and p.n_occasions == 3 and p.n_eta == 8
    rng = np.random.default_rng(4)
    ev = _fd_check(p, np.array([np.log(2.7), 30.0, 0.4]), rng.normal(0, 0.2, (p.n_subjects, 8)))
    occ = np.asarray(p.bound.occasion)[p.obs_rec]
    for o in range(3):
        cols = [2 + 2 * o, 3 + 2 * o]
        # a kappa changes the parameters of its own occasion only; later occasions still feel it
        # through the drug left over (the finite differences above check those values)
        assert np.all(ev.df_deta[occ < o][:, cols] == 0.0), "a kappa cannot act before its occasion"
        if np.any(occ == o):
            assert np.all(np.abs(ev.df_deta[occ == o][:, cols]) > 0)


def test_parameter_space_from_the_ir(iov_problem):
    model = iov_problem.bound.model
    space = parameter_space(model.ir, iov_problem.n_occasions)
    assert [t.name for t in space.thetas] == ["tcl", "tv", "tka"]
    tv, tka = space.thetas[1], space.thetas[2]
    assert (tv.lower, tv.upper, tv.fixed, tka.fixed) == (0.0, 100.0, False, True)
    assert space.residual.sd_names == ("add_sd", "prop_sd") and space.residual.sds[1].fixed
    assert space.residual.endpoints == (EndpointError(add=0, prop=1),)
    assert space.n_eta == 8
    assert space.eta_labels == ["eta_cl", "eta_v"] + [f"{k}#{o}" for o in (1, 2, 3) for k in ("kappa_cl", "kappa_ka")]
    om = space.values_from_reported(space.reported_initial()).omega
    np.testing.assert_allclose(om[:2, :2], [[0.08, 0.01], [0.01, 0.03]])
    np.testing.assert_allclose(np.diag(om)[2:], [0.02, 0.05] * 3)
    pairs = {(p.eta, p.theta) for p in lognormal_pairs(model.ir)}
    assert pairs == {("eta_cl", "tcl"), ("kappa_cl", "tcl"), ("eta_v", None), ("kappa_ka", "tka")}


def test_fit_with_occasion_kappas_reports_one_variance_per_kappa(iov_problem):
    r = nl.fit(iov_problem.bound.model, iov_problem.bound.dataset, "focei", covariance=None)
    assert r.termination in (Termination.CONVERGED, Termination.ROUNDING_ERRORS), r.message
    assert set(r.estimates) == {"tcl", "tv", "tka", "eta_cl", "eta_cl,eta_v", "eta_v", "kappa_cl", "kappa_ka",
                                "add_sd", "prop_sd"}
    assert r.etas.shape == (3, 8) and "kappa_cl#3" in r.individual.columns
    # kappa shrinkage pools the (subject, occasion) pairs that have observations
    assert set(r.shrinkage.eta_sd) == {"eta_cl", "eta_v", "kappa_cl", "kappa_ka"}
    p = iov_problem
    occ = np.asarray(p.bound.occasion)[p.obs_rec]
    pairs = sorted(set(zip(p.obs_subject.tolist(), occ.tolist())))
    ebe = np.array([r.etas[s, 2 + 2 * o] for s, o in pairs])
    expected = 100 * (1 - np.std(ebe, ddof=1) / np.sqrt(r.estimates["kappa_cl"]))
    assert r.shrinkage.eta_sd["kappa_cl"] == pytest.approx(expected, abs=1e-12)


def test_censoring_comes_from_the_dataset(tmp_path):
    """Wang 2007 with CENS/LIMIT columns through nl.fit equals the hand-written censored problem."""
    twin = Wang2007Censored()
    frame = pd.read_csv(DATA / "wang2007.csv")
    frame["DV"] = twin.dv
    frame["CENS"] = twin.cens
    frame["LIMIT"] = np.where(np.isnan(twin.limit), 0.0, twin.limit)
    frame.loc[np.isnan(twin.limit), "LIMIT"] = np.nan
    path = tmp_path / "wang_cens.csv"
    frame.to_csv(path, index=False, na_rep=".")
    for error in ("prop", "add"):
        for method in ("fo", "focei", "laplace"):
            ours = nl.fit(MODELS / f"wang2007_{error}.nlm", path, method)
            ref = fit_problem(twin, wang_space(error), method)
            assert ours.ofv == pytest.approx(ref.ofv, abs=1e-8), (error, method)


def test_callback_and_estimates_through_nl_fit(shared_models, shared_data):
    model = shared_models["wang2007_prop"].unfix("tke", "prop_sd")
    events = []
    r = nl.fit(model, shared_data["wang2007.csv"], "focei", callback=events.append, covariance="r", seed=5)
    assert r.termination is Termination.CONVERGED and r.seed == 5
    assert [e.iteration for e in events] == list(range(len(events))) and len(events) == r.iterations + 1
    assert list(r.estimates) == ["tke", "prop_sd", "eta_ke"] and r.fixed == ("eta_ke",)
    assert r.covariance.kind.value == "r" and set(r.se) == {"tke", "prop_sd"}
    assert "tke" in r.table() and "<table>" in r._repr_html_()


def test_a_failed_fit_raises_in_words_and_leaves_its_inputs_untouched(shared_data):
    model = nl.Model("[ini]\ntke = 0.5\neta_ke ~ 0.04\nadd_sd = 0.3\n[model]\n"
                     "f = 10 * exp(-tke * exp(eta_ke) * t) * log(tke - 1)\nf ~ add(add_sd)\n")
    data = shared_data["wang2007.csv"]
    text, dv = model.text, data.dv.copy()
    with pytest.raises(NlmeError, match="not finite at the initial estimates"):
        nl.fit(model, data, "focei")
    assert model.text == text and np.array_equal(data.dv, dv) and not data.dv.flags.writeable
    with pytest.raises(NlmeError, match="unknown estimation method"):
        nl.fit(model, data, "no_such_method")
