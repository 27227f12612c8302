"""NUTS (nutpie) posteriors: a linear-Gaussian random-effects problem against its analytic and
quadrature posteriors, reproducibility, and theo_sd against FOCEI."""

import json

import numpy as np
import pytest
from scipy import integrate, stats

from nlme_lab.errors import NlmeError

pytest.importorskip("nutpie")
from nlme_lab.estimation import (EndpointError, Evaluation, MethodKind, NUTSOptions, OmegaBlock, ParameterSpace,
                                 ResidualModel, ResidualSD, Theta)
from nlme_lab.estimation.bayes.run import run_nuts
from nlme_lab.estimation.methods import get_method

SIGMA = 0.5


class LinearGaussian:
    """y_ij = theta + eta_i + eps_ij, eps ~ N(0, SIGMA^2): posteriors known in closed form."""

    n_eta, n_theta = 1, 1

    def __init__(self, n_sub=8, n_obs=4, seed=0):
        rng = np.random.default_rng(seed)
        self.n_subjects = n_sub
        self.obs_subject = np.repeat(np.arange(n_sub), n_obs)
        eta = rng.normal(0.0, 0.6, n_sub)
        self.dv = 2.0 + eta[self.obs_subject] + rng.normal(0.0, SIGMA, n_sub * n_obs)
        self.cens = np.zeros(len(self.dv), dtype=int)
        self.limit = np.full(len(self.dv), np.nan)
        self.endpoint = np.zeros(len(self.dv), dtype=int)

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        f = theta[0] + np.asarray(etas)[self.obs_subject, 0]
        ones = np.ones((len(f), 1))
        return Evaluation(f, ones if derivs else None, ones if theta_derivs else None)


def _space(omega_fixed: bool):
    res = ResidualModel((ResidualSD("sd", SIGMA, fixed=True),), (EndpointError(add=0),))
    return ParameterSpace((Theta("mu", 1.0),), (OmegaBlock(("eta",), (0.3,), fixed=omega_fixed),), res, 1)


def _run(problem, space, seed=1, **kw):
    opts = NUTSOptions(**({"draws": 600, "tune": 400, "chains": 2, "is_samples": 0} | kw))
    return run_nuts(problem, space, get_method("nuts"), opts, seed=seed)


def _mc_se(fit, name, draws):
    return np.std(draws) / np.sqrt(fit.extra["ess_bulk"][name])


@pytest.fixture(scope="module")
def linear():
    return LinearGaussian()


@pytest.fixture(scope="module")
def fixed_omega_fit(linear):
    return _run(linear, _space(True))


def test_theta_and_eta_posteriors_match_the_analytic_ones(linear, fixed_omega_fit):
    fit, omega = fixed_omega_fit, 0.3
    n_i = np.bincount(linear.obs_subject)
    ybar = np.bincount(linear.obs_subject, weights=linear.dv) / n_i
    v = omega + SIGMA**2 / n_i  # Var(ybar_i | theta)
    m0, s0 = 1.0, 2.0  # the default prior of an unbounded theta with [ini] 1
    prec = 1 / s0**2 + np.sum(1 / v)
    mean, sd = (m0 / s0**2 + np.sum(ybar / v)) / prec, prec**-0.5
    draws = fit.extra["draws"][..., 0].ravel()
    assert abs(np.mean(draws) - mean) < 4 * _mc_se(fit, "mu", draws)
    assert abs(np.std(draws) / sd - 1) < 0.1
    assert abs(fit.estimates["mu"] - mean) < 4 * _mc_se(fit, "mu", draws)  # median = mean (Gaussian)
    lo, hi = fit.ci["mu"]
    # MC SE of a 2.5 % quantile with ~1000 effective draws: ~0.09 posterior SDs
    assert abs(lo - (mean - 1.96 * sd)) < 0.3 * sd and abs(hi - (mean + 1.96 * sd)) < 0.3 * sd
    k = omega / v
    eta_mean = k * (ybar - mean)
    eta_sd = np.sqrt(k * SIGMA**2 / n_i + k**2 / prec)
    np.testing.assert_allclose(fit.etas[:, 0], eta_mean, atol=4 * eta_sd.max() / np.sqrt(300))
    assert fit.method is MethodKind.NUTS and fit.extra["divergences"] == 0
    assert set(fit.extra["rhat"]) == {"mu"} and fit.extra["rhat"]["mu"] < 1.02


def test_free_omega_posterior_matches_quadrature(linear):
    fit = _run(linear, _space(False), draws=800)
    n_i = np.bincount(linear.obs_subject)
    ybar = np.bincount(linear.obs_subject, weights=linear.dv) / n_i
    th = np.linspace(-2, 6, 801)[:, None]
    s = np.linspace(1e-3, 3.5, 900)[None, :]  # omega SD; prior HalfNormal(2 sqrt(0.3)) on it
    logp = stats.norm.logpdf(th, 1.0, 2.0) - 0.5 * (s / (2 * np.sqrt(0.3))) ** 2
    for yb, n in zip(ybar, n_i):
        logp = logp + stats.norm.logpdf(yb, th, np.sqrt(s**2 + SIGMA**2 / n))
    p = np.exp(logp - logp.max())
    z = integrate.trapezoid(integrate.trapezoid(p, s[0], axis=1), th[:, 0])

    def expect(g):
        return integrate.trapezoid(integrate.trapezoid(p * g, s[0], axis=1), th[:, 0]) / z

    mu_draws, om_draws = fit.extra["draws"][..., 0].ravel(), fit.extra["draws"][..., 1].ravel()
    assert fit.extra["draw_names"] == ("mu", "eta")
    assert abs(mu_draws.mean() - expect(th)) < 4 * _mc_se(fit, "mu", mu_draws)
    assert abs(om_draws.mean() - expect(s**2)) < 4 * _mc_se(fit, "eta", om_draws)
    assert abs(om_draws.std() / np.sqrt(expect(s**4) - expect(s**2) ** 2) - 1) < 0.15


def test_same_seed_gives_the_same_draws(linear, fixed_omega_fit):
    again = _run(linear, _space(True), seed=1)
    other = _run(linear, _space(True), seed=2)
    np.testing.assert_array_equal(again.extra["draws"], fixed_omega_fit.extra["draws"])
    assert not np.array_equal(other.extra["draws"], fixed_omega_fit.extra["draws"])


def test_priors_reach_the_posterior_and_are_printed(linear):
    from nlme_lab.estimation.bayes import Normal

    fit = _run(linear, _space(True), priors={"mu": Normal(0.0, 0.01)}, draws=200, tune=200)
    assert abs(fit.estimates["mu"]) < 0.05  # a tight prior at 0 dominates the data (mean near 2)
    assert "mu ~ Normal(0, 0.01)" in fit.message and "mu ~ Normal(0, 0.01)" in fit.extra["priors"]


def test_all_fixed_is_refused(linear):
    space = ParameterSpace((Theta("mu", 1.0, fixed=True),), (OmegaBlock(("eta",), (0.3,), fixed=True),),
                           _space(True).residual, 1)
    with pytest.raises(NlmeError, match="nothing to sample"):
        _run(linear, space)


# --- theo_sd through nl.fit ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def theo_fits(shared_models, shared_data):
    import nlme_lab as nl

    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    focei = nl.fit(model, data, "focei", covariance=None)
    nuts = nl.fit(model, data, "nuts", seed=3, options=NUTSOptions(draws=250, tune=250, chains=2, is_samples=300))
    return focei, nuts


def test_theo_posterior_medians_are_near_focei(theo_fits):
    focei, nuts = theo_fits
    for name in ("tcl", "tv"):
        assert abs(nuts.estimates[name] / focei.estimates[name] - 1) < 0.02, name
    # log ka is poorly determined (posterior SD ~50 % of it): the median sits within ~0.1 SD of the mode
    assert abs(nuts.estimates["tka"] - focei.estimates["tka"]) < 0.05
    assert abs(nuts.estimates["add_sd"] / focei.estimates["add_sd"] - 1) < 0.05
    for name in nuts.estimates:  # credible intervals contain the mode; R-hat and ESS are reported
        lo, hi = nuts.ci[name]
        assert lo < focei.estimates[name] < hi, name
        # 2 x 250 draws keep the test short: diagnostics present and sane, not publication grade
        assert nuts.extra["rhat"][name] < 1.1 and nuts.extra["ess_bulk"][name] > 20, name


def test_theo_ofv_by_importance_sampling_and_linearization(theo_fits):
    focei, nuts = theo_fits
    assert nuts.extra["ofv_method"].startswith("importance sampling")
    assert abs(nuts.ofv - nuts.extra["ofv_linearization"]) < 3  # FOCEI is close to exact on theo_sd
    assert focei.ofv <= nuts.extra["ofv_linearization"] + 1e-6  # FOCEI's optimum is the minimum
    d = nuts.to_dict()
    assert d["method"] == "nuts" and d["ofv_linearization"] == nuts.extra["ofv_linearization"]
    assert d["posterior"]["divergences"] == nuts.extra["divergences"] and "rhat" in d["posterior"]
    json.dumps(d)


def test_theo_draws_export_to_arviz(theo_fits):
    focei, nuts = theo_fits
    idata = nuts.to_arviz()
    assert idata.posterior["tcl"].shape == (2, 250)
    assert idata.posterior["eta"].shape == (2, 250, 12, 3)
    np.testing.assert_allclose(float(idata.posterior["tcl"].median()), nuts.estimates["tcl"])
    np.testing.assert_allclose(idata.posterior["eta"].mean(("chain", "draw")).values, nuts.etas)
    assert "diverging" in idata.sample_stats
    with pytest.raises(NlmeError, match="no posterior draws"):
        focei.to_arviz()


def test_priors_only_for_nuts(shared_models, shared_data):
    import nlme_lab as nl
    from nlme_lab.estimation.bayes import Normal

    with pytest.raises(NlmeError, match="only by method='nuts'"):
        nl.fit(shared_models["theo_sd"], shared_data["theo_sd.csv"], "focei", priors={"tcl": Normal(1, 1)})
