"""The NUTS log posterior: exact gradient against central differences, priors and transforms."""

import numpy as np
import pytest
from scipy import integrate

from nlme_lab.errors import NlmeError
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


def test_an_unsolvable_point_has_log_density_minus_infinity(theo):
    class Failing:
        def __init__(self, inner):
            self.__dict__.update({k: getattr(inner, k) for k in ("n_subjects", "n_eta", "n_theta", "obs_subject",
                                                                  "dv", "cens", "limit", "endpoint")})

        def evaluate(self, *args, **kwargs):
            raise ZeroDivisionError("ka equals k")

    space = theo_space()
    post = Posterior(Failing(theo), space, resolve_priors(space, None))
    value, grad = post.logp(post.initial())
    assert value == -np.inf and not grad.any() and post.n_failures == 1
