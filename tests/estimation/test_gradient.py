"""The outer gradient (fixed-eta differences + implicit eta-hat correction) against brute-force
central differences of the whole objective, inner problems re-solved at every point."""

import numpy as np
import pytest
from tests.estimation.spaces import theo_space, wang_space
from tests.estimation.problems import Wang2007Censored

from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.methods import InnerOptions, get_method
from nlme_lab.estimation.objective import Objective
from nlme_lab.estimation.parameters import ReportedScale, Unconstrained

METHODS = ["fo", "foce", "focei", "laplace"]


def _objective(problem, space, method, param_type=Unconstrained):
    layout = ResidualLayout.build(space.residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
    engine = SubjectEngine(problem, layout, get_method(method))
    param = param_type(space)
    return Objective(engine, param, np.zeros((problem.n_subjects, problem.n_eta)), InnerOptions()), param


def brute_force_gradient(obj, v, rel=1e-3):
    """Fourth-order central differences; each value re-solves every subject's eta-hat from 0."""
    g = np.empty(len(v))
    for k in range(len(v)):
        h = rel * max(abs(v[k]), 1.0)
        vals = []
        for step in (h, -h, 2 * h, -2 * h):
            w = v.copy()
            w[k] += step
            obj.etas = np.zeros_like(obj.etas)
            vals.append(obj.value(w))
        g[k] = (8 * (vals[0] - vals[1]) - (vals[2] - vals[3])) / (12 * h)
    return g


def _check(obj, v, tol):
    ours = obj.value_and_gradient(v)
    per_subject_sum = ours.per_subject.sum(axis=0)
    brute = brute_force_gradient(obj, v)
    err = np.abs(ours.gradient - brute) / np.maximum(1.0, np.abs(brute))
    print(np.max(err), ours.gradient, brute)
    np.testing.assert_allclose(per_subject_sum, ours.gradient)
    assert np.max(err) < tol


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("error", ["prop", "add"])
def test_gradient_matches_brute_force_on_wang2007(wang, method, error):
    obj, param = _objective(wang, wang_space(error, fixed=False), method)
    v = param.from_reported(np.array([0.6, 0.09, 0.25]))  # away from the optimum
    _check(obj, v, 1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_gradient_matches_brute_force_with_censoring(method):
    obj, param = _objective(Wang2007Censored(), wang_space("prop", fixed=False), method)
    v = param.from_reported(np.array([0.45, 0.05, 0.35]))
    _check(obj, v, 1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_gradient_matches_brute_force_on_theophylline(theo, method):
    obj, param = _objective(theo, theo_space(), method)
    v = param.from_reported(theo_space().reported_initial())
    _check(obj, v, 2e-5 if method == "laplace" else 2e-6)


@pytest.mark.parametrize("method", ["focei", "laplace"])
def test_gradient_with_an_omega_block_on_the_reported_scale(theo, method):
    space = theo_space(block=True)
    obj, param = _objective(theo, space, method, ReportedScale)
    v = param.from_reported(space.reported_initial())
    _check(obj, v, 2e-5 if method == "laplace" else 2e-6)
