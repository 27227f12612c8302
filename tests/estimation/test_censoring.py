"""Censored observations (M3 below / above a limit, M4 interval) for every method.

Reference: the marginal likelihood of a tiny one-eta problem (Wang 2007 with four censored
records) by direct numerical integration over eta (scipy.integrate.quad), and the Laplace
approximation rebuilt independently from scipy.stats densities and probabilities.
"""

import functools

import numpy as np
import pytest
from tests.estimation.spaces import wang_space
from tests.estimation.problems import Wang2007Censored
from scipy import integrate, special, stats
from scipy.optimize import minimize_scalar

from nlme_lab.estimation import EndpointError, ResidualModel, fit_problem
from nlme_lab.model.ir import Theta
from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms

METHODS = ["fo", "foce", "focei", "laplace"]


@pytest.fixture(scope="module")
def censored():
    return Wang2007Censored()


def _log_integrand(pb, i, error, omega, var=0.1):
    """log of p(y_i | eta) N(eta; 0, omega), written with scipy.special (not the engine's code)."""
    rows = pb.obs_subject == i
    t, y, c, lim = pb.time[rows], pb.dv[rows], pb.cens[rows], pb.limit[rows]
    lo = np.where(np.isfinite(lim), np.minimum(y, lim), np.where(c == -1, y, -np.inf))
    hi = np.where(np.isfinite(lim), np.maximum(y, lim), np.where(c == 1, y, np.inf))

    def logp(eta):
        f = 10 * np.exp(-0.5 * np.exp(eta) * t)
        s = np.sqrt(var) * (f if error == "prop" else np.ones_like(f))
        dens = -0.5 * ((y - f) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
        with np.errstate(divide="ignore"):  # far tails at extreme eta: probability 0
            prob = np.log(special.ndtr((hi - f) / s) - special.ndtr((lo - f) / s))
        prior = -0.5 * eta * eta / omega - 0.5 * np.log(2 * np.pi * omega)
        return float(np.sum(np.where(c == 0, dens, prob)) + prior)
    return logp, int(np.sum(c == 0))


@functools.lru_cache(maxsize=None)
def quadrature_ofv(error, omega):
    pb = Wang2007Censored()
    total, n_density = 0.0, 0
    for i in range(pb.n_subjects):
        logp, n = _log_integrand(pb, i, error, omega)
        sd = np.sqrt(omega)
        val = integrate.quad(lambda e: np.exp(logp(e)), -12 * sd, 12 * sd, epsabs=0, epsrel=1e-12, limit=200)[0]
        total += -2 * np.log(val)
        n_density += n
    return total - n_density * np.log(2 * np.pi)


def independent_laplace_ofv(pb, error, omega):
    total, n_density = 0.0, 0
    for i in range(pb.n_subjects):
        logp, n = _log_integrand(pb, i, error, omega)
        F = lambda e: -2 * logp(e)  # noqa: E731
        mode = minimize_scalar(F, bounds=(-1.0, 1.0), method="bounded", options={"xatol": 1e-10}).x
        h = 1e-4
        F2 = (F(mode + h) - 2 * F(mode) + F(mode - h)) / h**2
        total += F(mode) + np.log(F2 / 2) - np.log(2 * np.pi)
        n_density += n
    return total - n_density * np.log(2 * np.pi)


def test_censored_terms_equal_scipy_probabilities_and_their_derivatives():
    dv = np.array([6.0, 6.0, 6.0, 6.0, 6.0])
    cens = np.array([1, -1, 1, -1, 1])
    limit = np.array([np.nan, np.nan, 5.0, 7.5, np.nan])
    res = ResidualModel((Theta("a", 1.0),), (EndpointError(add=0),))
    lay = ResidualLayout.build(res, np.zeros(5, int), dv, cens, limit)
    f = np.array([4.0, 5.5, 5.8, 9.0, 40.0])  # the last one far in the tail: log P ~ -590
    V = np.array([0.5, 0.3, 0.2, 1.5, 0.7])
    t = observation_terms(lay, f, V, exact=True)
    s = np.sqrt(V)
    expected = -2 * np.array([stats.norm.logcdf(6, f[0], s[0]), stats.norm.logsf(6, f[1], s[1]),
                              np.log(stats.norm.cdf(6, f[2], s[2]) - stats.norm.cdf(5, f[2], s[2])),
                              np.log(stats.norm.cdf(7.5, f[3], s[3]) - stats.norm.cdf(6, f[3], s[3])),
                              stats.norm.logcdf(6, f[4], s[4])])
    np.testing.assert_allclose(t.l, expected, rtol=1e-10)
    h = 1e-5

    def l(ff, VV):
        return observation_terms(lay, ff, VV, exact=True).l

    np.testing.assert_allclose(t.l_f, (l(f + h, V) - l(f - h, V)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(t.l_V, (l(f, V + h) - l(f, V - h)) / (2 * h), rtol=1e-6)
    h = 1e-3
    lff = (l(f + h, V) - 2 * l(f, V) + l(f - h, V)) / h**2
    np.testing.assert_allclose(2 * t.M[:, 0, 0], lff, rtol=1e-4)
    lfv = (l(f + h, V + h) - l(f + h, V - h) - l(f - h, V + h) + l(f - h, V - h)) / (4 * h * h)
    np.testing.assert_allclose(2 * t.M[:, 0, 1], lfv, rtol=1e-4, atol=1e-5)
    lvv = (l(f, V + h) - 2 * l(f, V) + l(f, V - h)) / h**2
    np.testing.assert_allclose(2 * t.M[:, 1, 1], lvv, rtol=1e-4)


@pytest.mark.parametrize("error", ["prop", "add"])
def test_laplace_equals_independent_laplace_with_censoring(censored, error):
    ours = fit_problem(censored, wang_space(error), "laplace").ofv
    assert ours == pytest.approx(independent_laplace_ofv(censored, error, 0.04), abs=2e-5)


@pytest.mark.parametrize("error", ["prop", "add"])
def test_laplace_reaches_quadrature_when_the_posterior_is_gaussian(censored, error):
    omega = 1e-4
    exact = quadrature_ofv(error, omega)
    assert fit_problem(censored, wang_space(error, omega=omega), "laplace").ofv == pytest.approx(exact, abs=1e-4)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("error", ["prop", "add"])
def test_every_method_converges_to_quadrature_as_omega_shrinks(censored, method, error):
    errs = []
    for omega in (0.04, 2.5e-3, 1e-4):
        exact = quadrature_ofv(error, omega)
        errs.append(abs(fit_problem(censored, wang_space(error, omega=omega), method).ofv - exact))
    print(method, error, errs)
    assert errs[0] < 0.6  # a first-order approximation, not the integral, at omega = 0.04
    assert errs[2] < 0.01 and errs[2] < 0.1 * errs[1] + 1e-4


def test_censored_observations_do_not_count_in_the_likelihood_constant(censored):
    r = fit_problem(censored, wang_space("prop"), "focei")
    assert -2 * r.loglik == pytest.approx(r.ofv + 16 * np.log(2 * np.pi))
    assert r.bic == pytest.approx(-2 * r.loglik)  # nothing estimated


def test_lnorm_left_censored_term_is_the_log_scale_probability_below_the_limit():
    """M3 on a log-normal endpoint: P(DV < LLOQ) = Phi((log LLOQ - log f) / sd); the open lower
    end must stay -inf on the log scale (log of a -inf bound would be NaN)."""
    res = ResidualModel((Theta("lsd", 0.3),), (EndpointError(lnorm=0),))
    dv = np.array([0.5, 2.0, 0.8])
    cens = np.array([1, 0, -1])
    lay = ResidualLayout.build(res, np.zeros(3, int), dv, cens, np.full(3, np.nan))
    f = np.array([1.2, 1.5, 0.6])
    fl, _ = lay.to_log_scale(f, None)
    V, _ = lay.variance(np.array([0.3]), fl)
    terms = observation_terms(lay, fl, V)
    below = stats.norm.cdf((np.log(0.5) - np.log(1.2)) / 0.3)
    above = stats.norm.sf((np.log(0.8) - np.log(0.6)) / 0.3)
    assert np.all(np.isfinite(terms.l))
    np.testing.assert_allclose(terms.l[0], -2 * np.log(below), rtol=1e-12)
    np.testing.assert_allclose(terms.l[2], -2 * np.log(above), rtol=1e-12)
    r = np.log(2.0) - np.log(1.5)
    np.testing.assert_allclose(terms.l[1], np.log(0.09) + r * r / 0.09, rtol=1e-12)
