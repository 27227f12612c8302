"""SAEM pieces against independent computations: mu-reference detection on the shared models,
the sufficient-statistic M-step against a direct computation, the MH kernels against a known
Gaussian posterior, seed reproducibility (serial and parallel), the stop token and callbacks."""

import numpy as np
import pytest
from tests.conftest import MODELS

from nlme_lab.estimation import (EndpointError, OmegaBlock, ParameterSpace, ResidualModel, ResidualSD,
                                 StopToken, Termination, Theta)
from nlme_lab.estimation.kernel_problem import residual_sd_names
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.methods import MethodKind, SAEMOptions, get_method
from nlme_lab.estimation.problem import Evaluation
from nlme_lab.estimation.saem.mstep import Statistics, omega_from_statistics
from nlme_lab.estimation.saem.mu import mu_reference_from_ir
from nlme_lab.estimation.saem.run import run_saem
from nlme_lab.estimation.saem.sampler import Sampler, SubjectLikelihood


def _mu(name):
    from nlme_lab.model import Model

    m = Model.from_file(MODELS / f"{name}.nlm")
    sd = set(residual_sd_names(m.ir))
    names = tuple(t.name for t in m.ir.thetas if t.name not in sd)
    return names, *mu_reference_from_ir(m.ir, names, len(m.ir.etas))


def test_mu_reference_detection_on_shared_models():
    names, idx, log = _mu("theo_sd")
    assert [names[k] for k in idx] == ["tka", "tcl", "tv"] and not log.any()
    names, idx, log = _mu("pheno")  # tvcl * WT * exp(eta_cl): log-scale; apgr_v is a covariate effect
    assert [names[k] for k in idx] == ["tvcl", "tvv"] and log.all()
    names, idx, log = _mu("warfarin_pkpd")  # expit(temax + eta_emax) is mu-referenced too
    assert [names[k] for k in idx] == ["tktr", "tka", "tcl", "tv", "temax", "tec50", "tkout", "te0"]


class LinearGaussian:
    """y_ij = theta_0 + eta_i + eps_ij: every posterior and the marginal likelihood are known."""

    n_eta, n_theta = 1, 1

    def __init__(self, y: np.ndarray, n_per: int):
        self.n_subjects = len(y) // n_per
        self.obs_subject = np.repeat(np.arange(self.n_subjects), n_per)
        self.dv = np.asarray(y, dtype=float)
        self.cens = np.zeros(len(y), dtype=int)
        self.limit = np.full(len(y), np.nan)
        self.endpoint = np.zeros(len(y), dtype=int)

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        f = theta[0] + etas[self.obs_subject, 0]
        ones = np.ones((len(f), 1))
        return Evaluation(f, ones if derivs else None, ones if theta_derivs else None)


def _linear_space(theta=0.0, omega=1.0, sd=1.0, fixed=False):
    res = ResidualModel((ResidualSD("sd", sd, fixed=fixed),), (EndpointError(add=0),))
    return ParameterSpace((Theta("mu", theta, fixed=fixed),), (OmegaBlock(("eta",), (omega,), fixed=fixed),), res, 1)


def test_sufficient_statistics_m_step_matches_direct_computation():
    rng = np.random.default_rng(3)
    space = ParameterSpace((Theta("a", 0.0), Theta("b", 0.0)), (OmegaBlock(("e1", "e2"), (1.0, 0.2, 1.0)),),
                           ResidualModel((ResidualSD("sd", 1.0),), (EndpointError(add=0),)), 2)
    phi1, phi2 = rng.normal(size=(3, 40, 2)) + [1.0, -2.0], rng.normal(size=(3, 40, 2)) * 2 + [0.5, 0.0]
    st = Statistics(2, 1)
    st.update(phi1, np.array([np.nan]), 0.3)  # the first update takes the batch whole
    st.update(phi2, np.array([np.nan]), 0.3)
    flat1, flat2 = phi1.reshape(-1, 2), phi2.reshape(-1, 2)
    s1 = 0.7 * flat1.mean(0) + 0.3 * flat2.mean(0)
    s2 = 0.7 * flat1.T @ flat1 / 120 + 0.3 * flat2.T @ flat2 / 120
    np.testing.assert_allclose(st.s1, s1, rtol=1e-13)
    mu = np.array([s1[0], 0.0])  # e1 mu-referenced (mean = s1), e2 without a theta (mean 0)
    omega = omega_from_statistics(st, space, mu, np.eye(2), None)
    direct = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            direct[i, j] = s2[i, j] - mu[i] * s1[j] - s1[i] * mu[j] + mu[i] * mu[j]
    np.testing.assert_allclose(omega, direct, rtol=1e-12)
    annealed = omega_from_statistics(st, space, mu, 50 * np.eye(2), 0.95)  # diagonal shrinks by <= 5 %
    np.testing.assert_allclose(np.diag(annealed), [47.5, 47.5])


def test_mh_kernels_leave_the_gaussian_posterior_invariant():
    """2000 subjects with 2 observations each: the sampled etas after 60 sweeps follow the exact
    posterior N(w (ybar - mu) n/(n w + s2), w s2/(n w + s2)) (here n = 2, w = 0.5, s2 = 0.25)."""
    rng = np.random.default_rng(11)
    n_sub, n_per, w, s2 = 2000, 2, 0.5, 0.25
    y = np.repeat(rng.normal(0, 1.5, n_sub), n_per) + rng.normal(0, 0.3, n_sub * n_per)
    prob = LinearGaussian(y, n_per)
    space = _linear_space(0.2, w, np.sqrt(s2))
    layout = ResidualLayout.build(space.residual, prob.endpoint, prob.dv, prob.cens, prob.limit)
    sampler = Sampler(SubjectLikelihood(prob, layout), (1, 1, 1), np.random.default_rng(5))
    theta, sd, omega = np.array([0.2]), np.array([np.sqrt(s2)]), np.array([[w]])
    state = sampler.start(theta, sd, omega, 1)
    for _ in range(60):
        sampler.sweep(state, theta, sd, omega)
    ybar = y.reshape(n_sub, n_per).mean(1)
    post_var = w * s2 / (n_per * w + s2)
    post_mean = n_per * w * (ybar - 0.2) / (n_per * w + s2)
    z = (state.etas[0, :, 0] - post_mean) / np.sqrt(post_var)
    assert abs(z.mean()) < 4 / np.sqrt(n_sub), z.mean()
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n_sub), z.var()


def test_saem_recovers_the_closed_form_mle_of_a_linear_gaussian_model():
    """Balanced one-way random-effects model: the MLE is known in closed form (ANOVA)."""
    rng = np.random.default_rng(2)
    n_sub, n_per = 150, 4
    y = np.repeat(rng.normal(1.0, 0.8, n_sub), n_per) + rng.normal(0, 0.5, n_sub * n_per)
    prob = LinearGaussian(y, n_per)
    Y = y.reshape(n_sub, n_per)
    mu_hat = Y.mean()
    s2_hat = np.sum((Y - Y.mean(1, keepdims=True)) ** 2) / (n_sub * (n_per - 1))
    w_hat = np.mean((Y.mean(1) - mu_hat) ** 2) - s2_hat / n_per
    opts = SAEMOptions(n_burn=100, n_em=300, mu_reference=(0,), is_samples=0, n_chains=2)
    fit = run_saem(prob, _linear_space(), get_method("saem"), opts, seed=4)
    assert fit.method is MethodKind.SAEM and fit.termination is Termination.CONVERGED
    assert abs(fit.estimates["mu"] - mu_hat) < 0.01
    assert abs(fit.estimates["eta"] / w_hat - 1) < 0.03, (fit.estimates["eta"], w_hat)
    assert abs(fit.estimates["sd"] / np.sqrt(s2_hat) - 1) < 0.02, (fit.estimates["sd"], np.sqrt(s2_hat))
    # the linearized OFV of a linear Gaussian model is exact: it is the closed-form -2LL
    V = w_hat * np.ones((n_per, n_per)) + s2_hat * np.eye(n_per)
    r = Y - mu_hat
    exact_at_mle = n_sub * np.linalg.slogdet(V)[1] + np.einsum("si,ij,sj->", r, np.linalg.inv(V), r)
    assert fit.extra["ofv_linearization"] - exact_at_mle < 0.05  # at most a little above the maximum


@pytest.fixture(scope="module")
def theo_model(shared_models, shared_data):
    return shared_models["theo_sd"], shared_data["theo_sd.csv"]


SHORT = SAEMOptions(n_burn=40, n_em=20, is_samples=50)


def test_same_seed_same_numbers_serial_and_parallel_different_seed_differs(theo_model):
    import nlme_lab as nl

    a = nl.fit(*theo_model, "saem", seed=7, options=SHORT, covariance=None, parallel=False)
    b = nl.fit(*theo_model, "saem", seed=7, options=SHORT, covariance=None, parallel=True)
    c = nl.fit(*theo_model, "saem", seed=8, options=SHORT, covariance=None, parallel=False)
    assert a.estimates == b.estimates and a.ofv == b.ofv
    assert np.array_equal(a.etas, b.etas)
    assert a.estimates != c.estimates
    assert all(abs(a.estimates[k] - c.estimates[k]) < 0.5 * max(abs(a.estimates[k]), 0.1) for k in a.estimates)


def test_stop_token_returns_current_estimates_and_callbacks_stream(theo_model):
    import nlme_lab as nl

    stop, events = StopToken(), []

    def cb(ev):
        events.append(ev)
        if ev.iteration == 12:
            stop.stop()

    fit = nl.fit(*theo_model, "saem", seed=1, options=SHORT, callback=cb, stop=stop)
    assert fit.termination is Termination.STOPPED and fit.iterations == 12
    assert [e.iteration for e in events] == list(range(1, 13))
    assert all(e.method is MethodKind.SAEM for e in events)
    assert fit.history[-1].estimates == fit.estimates and fit.covariance is None


def test_saem_refuses_a_model_that_cannot_be_evaluated_at_its_initial_estimates(shared_data):
    import nlme_lab as nl
    from nlme_lab.errors import NlmeError

    model = nl.Model("[ini]\ntke = 0.5\neta_ke ~ 0.04\nadd_sd = 0.3\n[model]\n"
                     "f = 10 * exp(-tke * exp(eta_ke) * t) * log(tke - 1)\nf ~ add(add_sd)\n")
    with pytest.raises(NlmeError, match="not finite at the initial estimates for subject index 0"):
        nl.fit(model, shared_data["wang2007.csv"], "saem", seed=1)


def test_json_fields_of_saem_and_focei(theo_model):
    import nlme_lab as nl

    saem = nl.fit(*theo_model, "saem", seed=2, options=SHORT, covariance=None).to_dict()
    assert saem["method"] == "saem" and saem["ofv_method"] == "importance sampling"
    assert np.isfinite(saem["ofv_linearization"]) and saem["ofv_mc_se"] > 0
    assert saem["ofv"] - saem["ofv_linearization"] > 0.5  # IS (near-exact) above FOCEI-type on theo_sd
    focei = nl.fit(*theo_model, "focei", covariance=None).to_dict()
    assert "ofv_method" not in focei and "ofv_linearization" not in focei
    assert set(saem) - set(focei) == {"ofv_linearization", "ofv_method", "ofv_mc_se"}
