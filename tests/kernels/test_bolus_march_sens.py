"""The engine's fast path with directions (``kernels.bolus_march_sens``) against the full path.

Predictions and their exact derivatives (etas and thetas) of simple subjects of random linear
models with and without a depot, 1-3 compartments, one to three boluses, with and without a
bioavailability parameter, must equal ``events.solve_records``'s (``OPT_FULL_PATH``) bit for
bit (the same operations in the same order); subjects that do not qualify (infusions, ADDL, SS, a lag, time-varying parameters)
take the full path (the same numbers as with the fast path off).
"""

import numpy as np
import pytest
from tests.kernels.test_bolus_march import MODELS, model_text, random_data

import nlme_lab as nl
from nlme_lab.kernels.bolus_march_sens import with_full_path
from nlme_lab.problem import bind
from nlme_lab.problem.predict import Predictor


def both_paths(model, data, rng):
    bound = bind(model, data)
    n_re = model.compiled.n_re
    eta = np.ascontiguousarray(np.repeat(rng.normal(0, 0.4, (data.n_subjects, n_re)), np.diff(data.offsets), axis=0))
    theta = np.array([t.init for t in model.ir.thetas])
    fast = Predictor(bound, parallel=False).sensitivities(theta, eta)
    pr = Predictor(bound, parallel=False)
    pr._opts = with_full_path(pr._opts)
    full = pr.sensitivities(theta, eta)
    return fast, full


def assert_close(fast, full):
    for a, b in zip(fast, full):
        assert np.abs(b).max() > 0
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_cmt, depot", sorted(MODELS))
def test_sensitivity_fast_path_agrees_with_the_full_engine(n_cmt, depot):
    rng = np.random.default_rng(11 * n_cmt + depot)
    model = nl.Model(model_text(n_cmt, depot))
    data = random_data(rng, 30, depot)
    assert_close(*both_paths(model, data, rng))


def test_bioavailability_directions():
    rng = np.random.default_rng(5)
    text = model_text(1, True, "f(depot) = exp(tf)\n").replace("add_sd", "tf = log(0.8)\nadd_sd", 1)
    model = nl.Model(text)
    assert_close(*both_paths(model, random_data(rng, 20), rng))


@pytest.mark.parametrize("kind", ["infusion", "addl", "ss"])
def test_other_doses_take_the_full_path(kind):
    rng = np.random.default_rng(3)
    model = nl.Model(model_text(1, True))
    fast, full = both_paths(model, random_data(rng, 4, kind=kind), rng)
    for a, b in zip(fast, full):
        np.testing.assert_array_equal(a, b)


def test_lagged_doses_take_the_full_path():
    rng = np.random.default_rng(4)
    for lag in ("0.5", "0"):  # a zero lag still has a derivative
        model = nl.Model(model_text(1, True, f"alag(depot) = {lag}\n"))
        fast, full = both_paths(model, random_data(rng, 3), rng)
        for a, b in zip(fast, full):
            np.testing.assert_array_equal(a, b)
