"""NUTS (nutpie) posteriors: a linear-Gaussian random-effects problem against its analytic and
quadrature posteriors, reproducibility, the live trace and stopping, and theo_sd against FOCEI."""

import json

import numpy as np
import pytest
from scipy import integrate, stats

from nlme_lab.errors import NlmeError

pytest.importorskip("nutpie")
from nlme_lab.estimation import (EndpointError, Evaluation, MethodKind, NUTSOptions, ResidualModel, StopToken,
                                 Termination)
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.estimation.results import ObjectiveKind
from nlme_lab.estimation.bayes.run import run_nuts
from nlme_lab.estimation.methods import get_method
from tests.estimation.spaces import make_space

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
    res = ResidualModel((Theta("sd", SIGMA, fixed=True),), (EndpointError(add=0),))
    return make_space((Theta("mu", 1.0),), (OmegaBlock(("eta",), (0.3,), fixed=omega_fixed),), res, 1)


def _run(problem, space, seed=1, callback=None, stop=None, **kw):
    opts = NUTSOptions(**({"draws": 600, "tune": 400, "chains": 2, "is_samples": 0} | kw))
    return run_nuts(problem, space, get_method("nuts"), opts, seed=seed, callback=callback, stop=stop)


def _loglik(problem, theta, eta, sd=SIGMA):
    """log p(y | theta, eta) of LinearGaussian without constants, written out."""
    r = problem.dv - theta - eta[problem.obs_subject, 0]
    return -0.5 * float(np.sum(np.log(sd**2) + r * r / sd**2))


def _mc_se(fit, name, draws):
    return np.std(draws) / np.sqrt(fit.posterior.ess_bulk[name])


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
    draws = fit.posterior.draws[..., 0].ravel()
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
    assert fit.method is MethodKind.NUTS and fit.posterior.divergences == 0
    assert set(fit.posterior.rhat) == {"mu"} and fit.posterior.rhat["mu"] < 1.02


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

    mu_draws, om_draws = fit.posterior.draws[..., 0].ravel(), fit.posterior.draws[..., 1].ravel()
    assert fit.posterior.draw_names == ("mu", "eta")
    assert abs(mu_draws.mean() - expect(th)) < 4 * _mc_se(fit, "mu", mu_draws)
    assert abs(om_draws.mean() - expect(s**2)) < 4 * _mc_se(fit, "eta", om_draws)
    assert abs(om_draws.std() / np.sqrt(expect(s**4) - expect(s**2) ** 2) - 1) < 0.15


def test_same_seed_gives_the_same_draws(linear, fixed_omega_fit):
    again = _run(linear, _space(True), seed=1)
    other = _run(linear, _space(True), seed=2)
    np.testing.assert_array_equal(again.posterior.draws, fixed_omega_fit.posterior.draws)
    assert not np.array_equal(other.posterior.draws, fixed_omega_fit.posterior.draws)


def test_priors_reach_the_posterior_and_are_printed(linear):
    from nlme_lab.estimation.bayes import Normal

    fit = _run(linear, _space(True), priors={"mu": Normal(0.0, 0.01)}, draws=200, tune=200)
    assert abs(fit.estimates["mu"]) < 0.05  # a tight prior at 0 dominates the data (mean near 2)
    assert "mu ~ Normal(0, 0.01)" in fit.message and "mu ~ Normal(0, 0.01)" in fit.posterior.priors


def test_all_fixed_is_refused(linear):
    space = make_space((Theta("mu", 1.0, fixed=True),), (OmegaBlock(("eta",), (0.3,), fixed=True),),
                           _space(True).residual, 1)
    with pytest.raises(NlmeError, match="nothing to sample"):
        _run(linear, space)


def test_each_draw_keeps_its_log_likelihood_and_the_history_ends_at_the_result(linear):
    fit = _run(linear, _space(False), draws=300, tune=300)
    ll, complete = fit.posterior.loglik_draws, fit.posterior.complete_ofv_draws
    assert ll.shape == complete.shape == fit.posterior.draws.shape[:2] == (2, 300)
    for c, d in [(0, 0), (0, 211), (1, 299)]:  # logp of the draw minus its prior part == the likelihood
        mu, omega = fit.posterior.draws[c, d]
        eta = fit.posterior.eta_draws[c, d]
        expected = _loglik(linear, mu, eta)
        assert ll[c, d] == pytest.approx(expected, rel=1e-9)
        # complete data: -2 log p(y | eta) - 2 log N(eta; 0, omega), without constants
        n = linear.n_subjects
        assert complete[c, d] == pytest.approx(-2 * expected + np.sum(eta**2) / omega + n * np.log(omega), rel=1e-9)
    # no callback: the trace is read once, at the end
    (last,) = fit.history
    assert last.iteration == 2 * (300 + 300) and last.estimates == fit.estimates
    assert last.ofv == pytest.approx(complete.mean(), rel=1e-12)


def _stopping(stop, tune, chains, interrupt=False):
    """A callback that records events and stops (or raises Ctrl-C) at the first one after tuning."""
    events = []

    def callback(event):
        events.append(event)
        if event.iteration > chains * tune and not stop.is_set():
            stop.stop()
            if interrupt:  # once, as a Ctrl-C would (stop then only marks it as done)
                raise KeyboardInterrupt
    return events, callback


def test_stop_ends_sampling_with_the_draws_so_far_and_events_trace_the_run(linear):
    stop = StopToken()
    events, callback = _stopping(stop, tune=200, chains=2)
    fit = _run(linear, _space(False), callback=callback, stop=stop, draws=100_000, tune=200)
    assert fit.termination is Termination.STOPPED and not fit.converged
    n, kept = fit.posterior.draws_per_chain, fit.posterior.chains
    # on a busy machine one chain may lag below half the other's draws at the stop: it is dropped
    assert kept + fit.posterior.chains_dropped == 2 and kept >= 1
    assert 0 < n < 100_000 and fit.iterations == kept * n and fit.posterior.draws.shape == (kept, n, 2)
    mu = fit.posterior.draws[..., 0].ravel()  # the summaries come from the draws kept so far
    assert fit.estimates["mu"] == pytest.approx(np.median(mu), rel=1e-12)
    assert fit.ci["mu"] == pytest.approx(tuple(np.quantile(mu, [0.025, 0.975])), rel=1e-12)
    assert any("stopped by the user" in w for w in fit.warnings)
    its = [e.iteration for e in events]
    assert its == sorted(set(its)) and its[0] <= 2 * 200 < its[-1]  # events during tuning, then after
    # the history: the events, and the final reading of the aborted trace if it grew after the last one
    assert len(fit.history) - len(events) in (0, 1)
    for event, entry in zip(events, fit.history):
        assert event.method is MethodKind.NUTS and event.objective is ObjectiveKind.COMPLETE_DATA
        assert (event.iteration, event.ofv, event.estimates) == (entry.iteration, entry.ofv, entry.estimates)
        assert set(event.estimates) == {"mu", "eta", "sd"} and event.estimates["sd"] == SIGMA
        assert np.isfinite(event.ofv) and np.isnan(event.gradient_norm) and event.n_evaluations > 0
    # the posterior is near mu ~ 2, omega ~ 0.27 within a few hundred draws; the live medians follow it
    assert abs(events[-1].estimates["mu"] - fit.estimates["mu"]) < 0.15
    assert abs(events[-1].ofv - fit.posterior.complete_ofv_draws.mean()) < 3


def test_ctrl_c_ends_sampling_like_a_stop(linear):
    interrupted = StopToken()  # not given to the run: only the callback's Ctrl-C stops it
    events, callback = _stopping(interrupted, tune=150, chains=2, interrupt=True)
    fit = _run(linear, _space(True), callback=callback, draws=100_000, tune=150)
    assert interrupted.is_set() and events[-1].iteration > 2 * 150
    assert fit.termination is Termination.STOPPED and 0 < fit.posterior.draws_per_chain < 100_000
    assert fit.estimates["mu"] == pytest.approx(np.median(fit.posterior.draws[..., 0]), rel=1e-12)


def test_a_stop_during_tuning_says_so(linear):
    stop = StopToken()
    stop.stop()
    with pytest.raises(NlmeError, match="stopped during tuning .* of 100000 tuning draws"):
        _run(linear, _space(True), stop=stop, draws=100, tune=100_000)


def _padded(lengths, n_max, rng):
    """A group's arrays as nutpie pads them: NaN (floats) / 0 (ints) after each chain's draws."""
    mask = np.arange(n_max)[None, :] < np.array(lengths)[:, None]
    par = np.where(mask[..., None], rng.normal(size=(len(lengths), n_max, 1)), np.nan)
    logp = np.where(mask, rng.normal(size=mask.shape), np.nan)
    prior = np.where(mask, rng.normal(size=mask.shape), np.nan)
    p_eta = np.where(mask, rng.normal(size=mask.shape), np.nan)
    eta = np.where(mask[..., None, None], 0.0, np.nan) + np.zeros((len(lengths), n_max, 2, 1))
    stats = {"logp": logp, "diverging": mask & False, "step_size": np.where(mask, 0.5, np.nan),
             "depth": mask.astype(np.int64) * 3}
    return {"parameters": par, "eta": eta, "log_prior": prior, "log_p_eta": p_eta}, stats


def test_a_stopped_trace_keeps_chains_with_half_the_draws_cut_to_equal_length():
    import arviz as az

    from nlme_lab.estimation.bayes.trace import kept_draws, live_window

    rng = np.random.default_rng(0)
    post, stats = _padded([10, 7, 3], 10, rng)
    warm_post, warm_stats = _padded([20, 20, 20], 20, rng)
    trace = az.from_dict(posterior=post, sample_stats=stats, warmup_posterior=warm_post,
                         warmup_sample_stats=warm_stats, save_warmup=True)
    kept = kept_draws(trace)
    assert (kept.n_chains, kept.n_draws, kept.n_dropped) == (2, 7, 1)
    np.testing.assert_array_equal(kept.parameters, post["parameters"][:2, :7])
    ll = stats["logp"][:2, :7] - post["log_prior"][:2, :7]
    np.testing.assert_array_equal(kept.loglik, ll)
    np.testing.assert_allclose(kept.complete, -2 * (ll + post["log_p_eta"][:2, :7]), rtol=1e-15)
    window = live_window(trace)  # every kept draw so far, uncut
    assert (window.n_done, window.tuning, window.parameters.shape) == (60 + 20, False, (20, 1))
    warm_post, warm_stats = _padded([8, 6, 0], 8, rng)
    with pytest.warns(UserWarning, match="More chains"):  # arviz, on the empty posterior
        tuning = az.from_dict(posterior={k: v[:, :0] for k, v in post.items()},
                              sample_stats={k: v[:, :0] for k, v in stats.items()}, warmup_posterior=warm_post,
                              warmup_sample_stats=warm_stats, save_warmup=True)
    window = live_window(tuning)  # still tuning: the later half of each chain's tuning draws
    assert (window.n_done, window.tuning) == (14, True)
    np.testing.assert_array_equal(window.parameters[:, 0], np.concatenate(
        [warm_post["parameters"][0, 4:8, 0], warm_post["parameters"][1, 3:6, 0]]))


# --- theo_sd through nl.fit ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def theo_events():
    return []


@pytest.fixture(scope="module")
def theo_fits(shared_models, shared_data, theo_events):
    import nlme_lab as nl

    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    focei = nl.fit(model, data, "focei", covariance=None)
    nuts = nl.fit(model, data, "nuts", seed=3, options=NUTSOptions(draws=250, tune=250, chains=2, is_samples=300),
                  callback=theo_events.append)
    return focei, nuts


def test_theo_live_trace_and_draw_log_likelihoods(theo_fits, theo_events, shared_models, shared_data):
    from nlme_lab.estimation import KernelProblem
    from nlme_lab.problem import bind

    _, nuts = theo_fits
    assert len(theo_events) >= 3 and [e.iteration for e in theo_events] == sorted({e.iteration for e in theo_events})
    assert theo_events[-2].iteration < 2 * 500 == theo_events[-1].iteration  # readings, then the final trace
    assert len(nuts.history) == len(theo_events) and nuts.history[-1].estimates == nuts.estimates
    problem = KernelProblem(bind(shared_models["theo_sd"], shared_data["theo_sd.csv"]))
    names = nuts.posterior.draw_names
    for c, d in [(0, 0), (1, 123)]:  # the engine's likelihood at a draw == the sampler's logp minus the prior part
        p = dict(zip(names, nuts.posterior.draws[c, d]))
        eta = nuts.posterior.eta_draws[c, d]
        f = problem.evaluate(np.array([p["tka"], p["tcl"], p["tv"]]), eta, derivs=False).f
        r, var = problem.dv - f, p["add_sd"] ** 2
        assert nuts.posterior.loglik_draws[c, d] == pytest.approx(-0.5 * np.sum(np.log(var) + r * r / var), rel=1e-10)
        omega = np.array([p["eta_ka"], p["eta_cl"], p["eta_v"]])  # diagonal
        complete = np.sum(np.log(var) + r * r / var) + np.sum(eta**2 / omega) + 12 * np.sum(np.log(omega))
        assert nuts.posterior.complete_ofv_draws[c, d] == pytest.approx(complete, rel=1e-10)
    ofv = nuts.posterior.complete_ofv_draws.mean()
    assert nuts.history[-1].ofv == pytest.approx(ofv, rel=1e-12)
    # the complete-data value is far below the marginal -2LL; the last live reading is near the end value
    assert ofv < nuts.ofv - 50 and abs(theo_events[-2].ofv - ofv) < 10


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
        assert nuts.posterior.rhat[name] < 1.1 and nuts.posterior.ess_bulk[name] > 20, name


def test_theo_ofv_by_importance_sampling_and_linearization(theo_fits):
    focei, nuts = theo_fits
    assert nuts.ofv_method.startswith("importance sampling")
    assert abs(nuts.ofv - nuts.ofv_linearization) < 3  # FOCEI is close to exact on theo_sd
    assert focei.ofv <= nuts.ofv_linearization + 1e-6  # FOCEI's optimum is the minimum
    d = nuts.to_dict()
    assert d["method"] == "nuts" and d["ofv_linearization"] == nuts.ofv_linearization
    assert d["posterior"]["divergences"] == nuts.posterior.divergences and "rhat" in d["posterior"]
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
