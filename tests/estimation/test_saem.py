"""SAEM pieces against independent computations: mu-reference detection on the shared models,
the sufficient-statistic M-step against a direct computation, the MH kernels against a known
Gaussian posterior, the compiled E-step pieces against their NumPy formulation, stacked
(replicated-subject) predictions against one set at a time, seed reproducibility (serial and
parallel), the stop token and callbacks (and what their ``ofv`` is)."""

import numpy as np
import pytest
from tests.conftest import MODELS

from nlme_lab.estimation import EndpointError, ResidualModel, StopToken, Termination
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms
from nlme_lab.estimation.methods import MethodKind, SAEMOptions, get_method
from nlme_lab.estimation.problem import Evaluation
from nlme_lab.estimation.results import ObjectiveKind
from nlme_lab.kernels.metropolis import gaussian_terms, mh_accept, subject_sums
from nlme_lab.estimation.saem.mstep import Statistics, omega_from_statistics
from nlme_lab.estimation.saem.mu import mu_reference_from_ir
from nlme_lab.estimation.saem.run import run_saem
from nlme_lab.estimation.saem.sampler import Sampler, SubjectLikelihood, subject_ranges
from nlme_lab.estimation.saem.stacked import StackedPredictions, replicate_dataset
from tests.estimation.spaces import make_space


def _mu(name):
    from nlme_lab.model import Model

    m = Model.from_file(MODELS / f"{name}.nlm")
    names = tuple(t.name for t in m.parameters.structural)
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
    res = ResidualModel((Theta("sd", sd, fixed=fixed),), (EndpointError(add=0),))
    return make_space((Theta("mu", theta, fixed=fixed),), (OmegaBlock(("eta",), (omega,), fixed=fixed),), res, 1)


def test_sufficient_statistics_m_step_matches_direct_computation():
    rng = np.random.default_rng(3)
    space = make_space((Theta("a", 0.0), Theta("b", 0.0)), (OmegaBlock(("e1", "e2"), (1.0, 0.2, 1.0)),),
                           ResidualModel((Theta("sd", 1.0),), (EndpointError(add=0),)), 2)
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
    assert space.placements == (((0, 1),),)
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
    assert fit.ofv_linearization - exact_at_mle < 0.05  # at most a little above the maximum


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
    # the live trace is the complete-data -2 log p(y, eta) (theo_sd: near -12), not the final IS OFV
    assert all(e.objective is ObjectiveKind.COMPLETE_DATA for e in events)
    assert all(-60 < e.ofv < 40 for e in events[5:]), [e.ofv for e in events]
    # one engine call per kernel pass for all 5 chains: 2 prior + 2 joint + 2 x 3 single-eta passes
    assert fit.saem.n_chains == 5
    assert set(np.diff([e.n_evaluations for e in events])) == {10}
    assert fit.history[-1].estimates == fit.estimates and fit.covariance is None
    # a stopped run's OFV is the linearization: said once, not twice
    line = next(x for x in fit.table().splitlines() if x.startswith("OFV by"))
    assert line == "OFV by linearization (FOCEI objective at the SAEM estimates)"
    assert fit.ofv == fit.ofv_linearization


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
    assert focei["ofv_method"] == "" and focei["ofv_linearization"] is None and focei["ofv_mc_se"] is None
    assert set(saem) == set(focei)


def test_focei_events_keep_the_ofv_label(theo_model):
    import nlme_lab as nl

    events = []
    fit = nl.fit(*theo_model, "focei", covariance=None, callback=events.append)
    assert events and all(e.objective is ObjectiveKind.OFV for e in events)
    assert abs(events[-1].ofv - fit.ofv) < 1e-6 * abs(fit.ofv)


def _mixed_layout(n_obs, rng):
    """Endpoints with additive, proportional, combined and log-normal error, shuffled."""
    res = ResidualModel((Theta("a", 0.3), Theta("p", 0.2), Theta("l", 0.4)),
                        (EndpointError(add=0), EndpointError(prop=1), EndpointError(add=0, prop=1),
                         EndpointError(lnorm=2)))
    endpoint = rng.integers(0, 4, n_obs)
    dv = rng.uniform(0.5, 5.0, n_obs)
    return ResidualLayout.build(res, endpoint, dv, np.zeros(n_obs, int), np.full(n_obs, np.nan))


def test_compiled_gaussian_terms_and_subject_sums_match_numpy():
    rng = np.random.default_rng(1)
    n_obs, n_sub = 200, 17
    layout = _mixed_layout(n_obs, rng)
    f = rng.uniform(0.3, 6.0, (3, n_obs))
    sd = np.array([0.3, 0.2, 0.4])
    out = np.empty_like(f)
    gaussian_terms(f, layout.y, layout.add, layout.prop, layout.log_scale, sd, out)
    V, _ = layout.variance(sd, f)
    np.testing.assert_allclose(out, observation_terms(layout, f, V).l, rtol=1e-13, atol=1e-13)
    obs_subject = np.sort(rng.integers(0, n_sub - 1, n_obs))  # the last subject has no observation
    starts, counts = subject_ranges(obs_subject, n_sub)
    sums = np.empty((3, n_sub))
    out[1, 5] = np.nan  # a non-finite term makes its subject's sum +inf
    subject_sums(out, starts, counts, sums)
    direct = np.stack([np.bincount(obs_subject, weights=row, minlength=n_sub) for row in out])
    bad = obs_subject[5]
    np.testing.assert_allclose(np.delete(sums[1], bad), np.delete(direct[1], bad), rtol=1e-12)
    np.testing.assert_allclose(sums[[0, 2]], direct[[0, 2]], rtol=1e-12)
    assert sums[1, bad] == np.inf and sums[0, -1] == 0.0


def test_mh_accept_is_the_metropolis_hastings_rule():
    rng = np.random.default_rng(4)
    B, n_sub, n_eta, per = 3, 40, 2, 3
    starts, counts = np.arange(n_sub) * per, np.full(n_sub, per)
    lobs = rng.normal(1.0, 1.0, (B, n_sub * per))
    lobs[0, 4] = np.inf  # subject 1 of set 0: an infinite proposal is never accepted
    etas, prop = rng.normal(size=(B, n_sub, n_eta)), rng.normal(size=(B, n_sub, n_eta))
    l = rng.normal(3.0, 2.0, (B, n_sub))
    f, f_new = rng.normal(size=(B, n_sub * per)), rng.normal(size=(B, n_sub * per))
    omega_inv = np.array([[2.0, 0.3], [0.3, 1.5]])
    log_u = np.log(rng.random((B, n_sub)))
    for prior_ratio in (False, True):
        e, ll, ff = etas.copy(), l.copy(), f.copy()
        n = mh_accept(lobs, starts, counts, prop, f_new, log_u, omega_inv, prior_ratio, e, ll, ff)
        l_new = lobs.reshape(B, n_sub, per).sum(axis=2)
        log_r = -0.5 * (l_new - l)
        if prior_ratio:
            q = lambda x: np.einsum("bse,ef,bsf->bs", x, omega_inv, x)  # noqa: E731
            log_r -= 0.5 * (q(prop) - q(etas))
        acc = (log_u < log_r) & np.isfinite(l_new)
        assert n == acc.sum() and 0 < n < acc.size and not acc[0, 1]
        np.testing.assert_array_equal(e, np.where(acc[..., None], prop, etas))
        np.testing.assert_allclose(ll, np.where(acc, l_new, l), rtol=1e-14)
        rows = np.repeat(acc, per, axis=1)
        np.testing.assert_array_equal(ff, np.where(rows, f_new, f))


def test_fused_gaussian_accept_equals_terms_then_accept():
    from nlme_lab.kernels.metropolis import mh_accept_gaussian

    rng = np.random.default_rng(5)
    B, n_sub, n_eta, per = 3, 40, 2, 5
    layout = _mixed_layout(n_sub * per, rng)
    starts, counts = np.arange(n_sub) * per, np.full(n_sub, per)
    f, f_new = rng.uniform(0.3, 6.0, (2, B, n_sub * per))
    f_new[1, 7] = np.nan  # a failed prediction: never accepted
    sd = np.array([0.3, 0.2, 0.4])
    etas, prop = rng.normal(size=(B, n_sub, n_eta)), rng.normal(size=(B, n_sub, n_eta))
    l = rng.normal(10.0, 3.0, (B, n_sub))
    omega_inv = np.array([[2.0, 0.3], [0.3, 1.5]])
    log_u = np.log(rng.random((B, n_sub)))
    for prior_ratio in (False, True):
        lobs = np.empty_like(f_new)
        gaussian_terms(f_new, layout.y, layout.add, layout.prop, layout.log_scale, sd, lobs)
        two = [etas.copy(), l.copy(), f.copy()]
        n_two = mh_accept(lobs, starts, counts, prop, f_new, log_u, omega_inv, prior_ratio, *two)
        one = [etas.copy(), l.copy(), f.copy()]
        n_one = mh_accept_gaussian(f_new, layout.y, layout.add, layout.prop, layout.log_scale, sd, starts, counts,
                                   prop, log_u, omega_inv, prior_ratio, *one)
        assert n_one == n_two and 0 < n_one < B * n_sub
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b)  # the same numbers, bit for bit
        assert two[1][1, 1] == l[1, 1]  # the subject with the NaN prediction kept its state


def test_stacked_predictions_equal_one_set_at_a_time(theo_model):
    """Chains (or importance draws) as replicated subjects: the same numbers as separate
    evaluations, to the last bit; the replicated dataset keeps each record's file row."""
    from nlme_lab.estimation.kernel_problem import KernelProblem
    from nlme_lab.problem import bind

    model, data = theo_model
    rep = replicate_dataset(data, 3)
    assert rep.n_subjects == 3 * data.n_subjects and list(rep.rows[-data.n_records:]) == list(data.rows)
    problem = KernelProblem(bind(model, data))
    space_sd = np.array([0.7])
    from tests.estimation.spaces import theo_space

    layout = ResidualLayout.build(theo_space().residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
    stacked = StackedPredictions(problem, layout)
    theta = np.array([0.45, 1.0, 3.45])
    etas = np.random.default_rng(2).normal(0, 0.3, (3, problem.n_subjects, 3))
    f = stacked.predict(theta, etas)
    for b in range(3):
        np.testing.assert_array_equal(f[b], problem.evaluate(theta, etas[b], derivs=False).f)
    lik = SubjectLikelihood(problem, layout)
    l = lik.per_subject(f, space_sd)
    r = layout.y - f
    direct = np.stack([np.bincount(problem.obs_subject, weights=row) for row in np.log(0.49) + r * r / 0.49])
    np.testing.assert_allclose(l, direct, rtol=1e-12)
    assert stacked.n_calls == 1


def test_options_for_iterations_shorten_the_later_phases_only():
    from nlme_lab.errors import NlmeError
    from nlme_lab.estimation import SAEMOptions
    from nlme_lab.estimation.saem.run import options_for_iterations

    o = SAEMOptions(n_pure_mh=5, n_burn=200, n_em=300, n_anneal=100)
    for k, (pure, burn, em) in {0: (0, 0, 0), 3: (3, 0, 0), 5: (5, 0, 0), 150: (5, 145, 0),
                                205: (5, 200, 0), 321: (5, 200, 116), 505: (5, 200, 300)}.items():
        short = options_for_iterations(o, k)
        assert (short.n_pure_mh, short.n_burn, short.n_em) == (pure, burn, em)
        assert short.n_anneal == 100 and short.is_samples == 0 and short.n_kernel == o.n_kernel
    with pytest.raises(NlmeError, match="cannot have stopped after 506"):
        options_for_iterations(o, 506)


def test_residual_m_step_newton_finds_the_nelder_mead_minimum():
    """The numeric residual M-step (combined error, and an additive SD shared with a
    proportional one on another endpoint) by Newton steps: the same minimiser of
    sum log V + r^2 / V as a tight Nelder-Mead, and a lower or equal objective."""
    from types import SimpleNamespace

    from nlme_lab.estimation.saem.mstep import ResidualStep

    rng = np.random.default_rng(3)
    n = 300
    f = np.exp(rng.normal(1.0, 1.0, size=(2, n)))  # two chains
    add = np.where(np.arange(n) < 200, 0, 2)
    prop = np.where(np.arange(n) < 200, 1, -1)
    a_true, b_true, c_true = 0.3, 0.15, 0.8
    V = np.where(add == 0, a_true ** 2 + (b_true * f[0]) ** 2, c_true ** 2)
    y = f[0] + rng.normal(size=n) * np.sqrt(V)
    nan = np.full(n, np.nan)
    layout = ResidualLayout(add, prop, np.zeros(n, bool), y, nan, nan, np.zeros(n, bool))
    sds = [SimpleNamespace(fixed=False, lower=0.0, upper=np.inf) for _ in range(3)]
    lik = SimpleNamespace(layout=layout, per_observation=lambda ff, s: np.log(layout.variance(s, ff)[0])
                          + (y - ff) ** 2 / layout.variance(s, ff)[0])
    step = ResidualStep(lik, SimpleNamespace(residual=SimpleNamespace(sds=sds)))
    assert step.numeric.tolist() == [True, True, False]  # the additive-only SD has a closed form
    start = np.array([1.0, 0.5, 0.8])
    newton = step._gaussian_newton(start, f)
    nm = step._nelder_mead(start, f)

    def objective(s):
        return float(np.sum(lik.per_observation(f, s)))

    assert newton is not None and newton[2] == start[2]
    np.testing.assert_allclose(newton[:2], nm[:2], rtol=1e-3)
    assert objective(newton) <= objective(nm) + 1e-9
    eps = 1e-5  # a stationary point: the objective rises along each coordinate
    for k in range(2):
        for sign in (-1, 1):
            s = newton.copy()
            s[k] *= np.exp(sign * eps)
            assert objective(s) >= objective(newton) - 1e-9


def test_the_sampler_integrates_odes_at_the_options_tolerances(shared_models, shared_data):
    """ODE models: the E- and M-steps use SAEMOptions.ode_rtol / ode_atol, the final OFVs the
    fit's tighter problem; a closed-form model keeps its one problem; a tolerance outside
    (0, 1) is refused by name."""
    from nlme_lab.errors import NlmeError
    from nlme_lab.estimation.kernel_problem import KernelProblem
    from nlme_lab.estimation.saem.run import sampling_problem
    from nlme_lab.problem import bind

    ode = KernelProblem(bind(shared_models["theo_sd_ode"].with_solver("ode"), shared_data["theo_sd.csv"]))
    closed = KernelProblem(bind(shared_models["theo_sd"], shared_data["theo_sd.csv"]))
    loose = sampling_problem(ode, SAEMOptions())
    assert (ode.rtol, ode.atol) == (1e-8, 1e-10) and (loose.rtol, loose.atol) == (1e-6, 1e-9)
    assert sampling_problem(ode, SAEMOptions(ode_rtol=1e-8, ode_atol=1e-10)) is ode
    assert sampling_problem(closed, SAEMOptions()) is closed
    for bad in (dict(ode_rtol=0.0), dict(ode_atol=-1e-9), dict(ode_rtol=2.0)):
        with pytest.raises(NlmeError, match=next(iter(bad))):
            sampling_problem(closed, SAEMOptions(**bad))
    theta, etas = ode.theta_full[ode.structural], np.full((ode.n_subjects, ode.n_eta), 0.1)
    tight_f, loose_f = ode.predict_observations(theta, etas), loose.predict_observations(theta, etas)
    assert not np.array_equal(tight_f, loose_f)  # the tolerances reach the integrator
    np.testing.assert_allclose(loose_f, tight_f, rtol=1e-4, atol=1e-6)


LNORM_THEO = """
[ini]
tka = log(1.5)
tcl = log(2.7)
tv  = log(31)
eta_ka ~ 0.4
eta_cl ~ 0.07
eta_v ~ 0.02
ln_sd = 0.2
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl + eta_cl)
v  = exp(tv + eta_v)
cp = linCmt()
cp ~ lnorm(ln_sd)
"""


EXPLODING = """
[ini]
tka = log(1.57)
tg  = log(0.01)
tv  = log(31.5)
eta_ka ~ 0.3
eta_g ~ 1.0
add_sd = 0.7
[model]
ka = exp(tka + eta_ka)
g  = exp(tg + 12 * eta_g)
v  = exp(tv)
d/dt(depot)  = -ka * depot
d/dt(center) =  ka * depot + g * center
cp = center / v
cp ~ add(add_sd)
"""


def _theo_after_dose():
    """theo_sd without its pre-dose samples (a log-scale error has no value for a zero prediction)."""
    import pandas as pd

    import nlme_lab as nl
    from tests.conftest import DATA

    df = pd.read_csv(DATA / "theo_sd.csv")
    return nl.read_nonmem(df[(df.TIME > 0) | (df.EVID != 0)].reset_index(drop=True))


def _sampler_state(model, data, seed):
    from nlme_lab.estimation import KernelProblem, parameter_space
    from nlme_lab.estimation.saem.run import SAEMState
    from nlme_lab.problem import bind

    problem = KernelProblem(bind(model, data))
    space = parameter_space(model.ir, max(problem.n_occasions, 1))
    return SAEMState(problem, space, SAEMOptions(n_chains=3), np.random.Generator(np.random.PCG64(seed)))


@pytest.mark.parametrize("case", ["theo_sd", "theo_sd_ode", "lnorm", "iov_combined", "warfarin_pkpd", "exploding"])
def test_compiled_sweep_equals_the_python_passes(case, shared_models, shared_data):
    """One compiled call per sweep (``kernels.metropolis.mh_sweep``) against the Python passes:
    the same chains, likelihoods, predictions, adapted scales and random stream, to the last bit,
    on closed-form and ODE models, a log-scale error, occasion kappas with a combined error and
    two endpoints."""
    import nlme_lab as nl
    from tests.estimation.test_kernel_problem import IOV, _iov_data

    model, data = {
        "theo_sd": (shared_models["theo_sd"], shared_data["theo_sd.csv"]),
        "theo_sd_ode": (shared_models["theo_sd_ode"], shared_data["theo_sd.csv"]),
        "lnorm": (nl.Model(LNORM_THEO), _theo_after_dose()),
        "iov_combined": (nl.Model(IOV), _iov_data()),
        "warfarin_pkpd": (shared_models["warfarin_pkpd"], shared_data["warfarin.csv"]),
        "exploding": (nl.Model(EXPLODING), shared_data["theo_sd.csv"]),  # large eta_g: the state overflows
    }[case]
    fused, plain = _sampler_state(model, data, 11), _sampler_state(model, data, 11)
    assert fused.sampler.compiled is not None
    plain.sampler.compiled = None
    calls = fused.lik.n_evaluations
    for _ in range(3):
        for s in (fused, plain):
            s.sampler.sweep(s.chains, s.theta, s.sd, s.omega)
    n_eta = fused.omega.shape[0]
    assert fused.lik.n_evaluations - calls == 3 * (2 + 2 + 2 * n_eta)  # one engine call per pass
    for name in ("etas", "l", "f"):
        np.testing.assert_array_equal(getattr(fused.chains, name), getattr(plain.chains, name))
    np.testing.assert_array_equal(fused.sampler.s_all, plain.sampler.s_all)
    np.testing.assert_array_equal(fused.sampler.s_one, plain.sampler.s_one)
    assert fused.sampler.rng.random() == plain.sampler.rng.random()
    moved = np.mean(fused.chains.etas != 0.0)
    assert moved > 0.9  # the chains left their start
    if case == "exploding":  # failed proposals are rejected alike, and said
        assert "the solution failed" in fused.sampler.compiled.passes.problem.last_failure
        assert np.all(np.isfinite(fused.chains.l))
