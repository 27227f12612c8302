"""The NUTS log posterior: exact gradient against central differences, priors and transforms;
points the engine cannot solve; the engine at ka == k (where a closed form would divide by zero)."""

import numpy as np
import pytest
from scipy import integrate

from nlme_lab.errors import NlmeError, SolverError
from nlme_lab.estimation.bayes import LKJ, HalfNormal, Normal, resolve_priors
from nlme_lab.estimation.bayes.density import Posterior, _corr_cholesky, _cpc_from_corr
from tests.estimation.problems import Theophylline, Wang2007Censored
from tests.estimation.spaces import theo_space, wang_space


def _central(fun, x, h=1e-6):
    out = np.empty(len(x))
    for k in range(len(x)):
        e = np.zeros(len(x))
        e[k] = h
        out[k] = (fun(x + e) - fun(x - e)) / (2 * h)
    return out


@pytest.mark.parametrize("block", [False, True])
def test_gradient_matches_central_differences_on_theophylline(theo, block):
    space = theo_space(block=block)
    post = Posterior(theo, space, resolve_priors(space, None))
    rng = np.random.default_rng(3)
    x = post.initial() + 0.3 * rng.standard_normal(post.n_dim)
    value, grad = post.logp(x)
    assert np.isfinite(value)
    fd = _central(lambda v: post.logp(v)[0], x)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(fd).max()))


def test_gradient_with_censoring_and_proportional_error():
    problem = Wang2007Censored()
    space = wang_space("prop", fixed=False)
    post = Posterior(problem, space, resolve_priors(space, None))
    x = post.initial() + 0.2 * np.random.default_rng(1).standard_normal(post.n_dim)
    value, grad = post.logp(x)
    fd = _central(lambda v: post.logp(v)[0], x)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_correlation_transform_round_trips_and_lkj_marginal_is_right():
    R = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.5], [-0.2, 0.5, 1.0]])
    L, _ = _corr_cholesky(_cpc_from_corr(R)[None, :], 3)
    np.testing.assert_allclose(L[0] @ L[0].T, R, atol=1e-12)
    # 2x2 LKJ(eta) in y = atanh(r): density of r is proportional to (1 - r^2)^(eta - 1)
    space = theo_space(block=True)
    post = Posterior(Theophylline(), space, resolve_priors(space, {"lkj": LKJ(3.0)}))
    k = 3 + 1 + 2  # thetas, log sd of eta_ka, log sds of the block: then the block's y

    def log_prior_y(y):
        g = post.initial()[:post.n_globals].copy()
        g[k] = y
        return float(post.transform(g[None, :])[3][0])

    ys = np.linspace(-4, 4, 801)
    dens = np.exp([log_prior_y(y) for y in ys])
    dens /= integrate.trapezoid(dens, ys)
    r = np.tanh(ys)
    ref = (1 - r * r) ** 2 * (1 - r * r)  # (1 - r^2)^(eta-1) times dr/dy
    ref /= integrate.trapezoid(ref, ys)
    np.testing.assert_allclose(dens, ref, atol=1e-6)


def test_reported_values_follow_the_transforms(theo):
    space = theo_space(block=True)
    post = Posterior(theo, space, resolve_priors(space, None))
    rep, etas = post.reported(post.initial())
    np.testing.assert_allclose(rep, space.reported_initial(), rtol=1e-12)
    assert etas.shape == (theo.n_subjects, 3) and not etas.any()


def test_priors_are_printed_and_checked():
    space = theo_space()
    pri = resolve_priors(space, {"tcl": Normal(1.5, 0.5), "add_sd": HalfNormal(1.0)})
    text = pri.text()
    assert "tcl ~ Normal(1.5, 0.5)" in text and "add_sd ~ HalfNormal(1)" in text
    assert "tka ~ Normal(0.45, 2)   (default)" in text and "sqrt(eta_cl) ~ HalfNormal(1.095)" in text
    with pytest.raises(NlmeError, match="unknown parameters"):
        resolve_priors(space, {"tkx": Normal(0, 1)})
    with pytest.raises(NlmeError, match="must be HalfNormal"):
        resolve_priors(space, {"add_sd": Normal(0, 1)})


class _Wrapped:
    """``inner``'s data with an ``evaluate`` that may fail: NaN predictions for subject 0, or an error."""

    def __init__(self, inner, error=None):
        self.inner, self.error = inner, error
        self.__dict__.update({k: getattr(inner, k) for k in ("n_subjects", "n_eta", "n_theta", "obs_subject",
                                                              "dv", "cens", "limit", "endpoint")})

    def evaluate(self, *args, **kwargs):
        if self.error is not None:
            raise self.error
        ev = self.inner.evaluate(*args, **kwargs)
        ev.f[self.obs_subject == 0] = np.nan  # as the engine marks a subject it could not solve
        return ev


def test_an_unsolvable_point_has_log_density_minus_infinity(theo):
    space = theo_space()
    post = Posterior(_Wrapped(theo), space, resolve_priors(space, None))
    value, grad = post.logp(post.initial())
    assert value == -np.inf and not grad.any() and post.n_failures == 1 and post.n_evaluations == 1
    assert np.isfinite(Posterior(theo, space, post.priors).logp(post.initial())[0])  # the point itself is fine


def test_a_data_error_is_not_turned_into_minus_infinity(theo):
    space = theo_space()
    error = SolverError("the solution failed: bad record, at data row 7", subject=1, time=0.0)
    post = Posterior(_Wrapped(theo, error), space, resolve_priors(space, None))
    with pytest.raises(SolverError, match="ID 1, time 0: .* data row 7"):
        post.logp(post.initial())


# --- the engine at ka == k (theo_sd: one compartment, first-order absorption) ---------------------

@pytest.fixture(scope="module")
def theo_engine(shared_models, shared_data):
    from nlme_lab.estimation import KernelProblem
    from nlme_lab.problem import bind

    return KernelProblem(bind(shared_models["theo_sd"], shared_data["theo_sd.csv"]))


def _one_compartment_oral(log_params, dose, t):
    """D ka / (V (ka - k)) (exp(-k t) - exp(-ka t)) for the first subject, written without the
    cancellation at ka ~ k: exp(-k t) t phi(d t), phi(u) = -expm1(-u) / u (1 at u = 0), d = ka - k."""
    ka, cl, v = np.exp(log_params)
    k = cl / v
    u = (ka - k) * t
    phi = np.where(u == 0.0, 1.0, -np.expm1(-u) / np.where(u == 0.0, 1.0, u))
    return dose * ka / v * np.exp(-k * t) * t * phi


@pytest.mark.parametrize("rel", [0.0, 1e-12, 1e-7, 1e-3])
def test_engine_is_exact_when_ka_equals_k(theo_engine, rel):
    problem = theo_engine
    ds = problem.bound.dataset
    first = slice(ds.offsets[0], ds.offsets[1])
    dose = float(ds.amt[first][ds.evid[first] == 1][0])
    t = ds.time[problem.obs_rec][problem.obs_subject == 0]
    cl, v = 2.72, 31.5
    theta = np.log([cl / v * (1 + rel), cl, v])  # ka = (1 + rel) CL / V
    ev = problem.evaluate(theta, np.zeros((problem.n_subjects, 3)), derivs=True, theta_derivs=True)
    mine = problem.obs_subject == 0
    ref = _one_compartment_oral(theta, dose, t)
    np.testing.assert_allclose(ev.f[mine], ref, rtol=1e-12, atol=1e-13 * ref.max())
    fd = np.stack([(_one_compartment_oral(theta + h, dose, t) - _one_compartment_oral(theta - h, dose, t)) / 2e-6
                   for h in 1e-6 * np.eye(3)], axis=1)  # d f / d (log ka, log CL, log V)
    np.testing.assert_allclose(ev.df_dtheta[mine], fd, rtol=1e-7, atol=1e-8 * np.abs(fd).max())
    np.testing.assert_allclose(ev.df_deta[mine], fd, rtol=1e-7, atol=1e-8 * np.abs(fd).max())  # mu-referenced etas


def test_engine_marks_an_infinite_rate_constant_as_a_failed_subject(theo_engine):
    problem = theo_engine
    etas = np.zeros((problem.n_subjects, 3))
    etas[0, 2] = -800.0  # V = exp(log 31.5 - 800) = 0
    theta = np.log([1.57, 2.72, 31.5])
    ev = problem.evaluate(theta, etas, derivs=True, theta_derivs=True)
    first = problem.obs_subject == 0
    assert not np.isfinite(ev.f[first]).any() and np.isfinite(ev.f[~first]).all()
    ok = problem.evaluate(theta, np.zeros_like(etas), derivs=True, theta_derivs=True)
    np.testing.assert_array_equal(ev.f[~first], ok.f[~first])
