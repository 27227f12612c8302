"""The engine's ODE sensitivities ride on the steps the states choose (they are left out of the
step-size error control, as CVODES does by default): at the engine's default tolerances (rtol
1e-8, atol 1e-10) they still agree with central differences of tight-tolerance solutions
(rtol 1e-12) to 1e-6 relative, on the nonlinear Michaelis-Menten 2-compartment benchmark model."""

import numpy as np
import pytest

from nlme_lab.problem import bind
from nlme_lab.problem.predict import Predictor
from tests.conftest import mm_benchmark


@pytest.fixture(scope="module")
def mm():
    model, data = mm_benchmark(4)
    return model, bind(model, data)


def test_mm_ode_sensitivities_match_central_differences(mm):
    model, bound = mm
    assert not model.compiled.is_linear  # stays on the ODE integrator
    theta = model.parameters.values(None).theta
    rng = np.random.default_rng(3)
    pr = Predictor(bound, parallel=False)
    tight = Predictor(bound, rtol=1e-12, atol=1e-14, parallel=False)
    etas = rng.normal(scale=0.2, size=(bound.dataset.n_subjects, model.compiled.n_re))
    eta_rec = pr.record_effects(etas, np.zeros((bound.dataset.n_subjects, 0, 0)))
    pred, d_eta, d_theta = pr.sensitivities(theta, eta_rec)
    np.testing.assert_allclose(pred[:, 0], tight.predict(theta, eta_rec), rtol=1e-7)
    h = 1e-4
    scale = np.abs(pred[:, 0])[:, None]
    for j in range(eta_rec.shape[1]):
        up, down = eta_rec.copy(), eta_rec.copy()
        up[:, j] += h
        down[:, j] -= h
        fd = (tight.predict(theta, up) - tight.predict(theta, down)) / (2 * h)
        err = np.max(np.abs(d_eta[:, 0, j] - fd) / np.maximum(scale[:, 0], 1e-3))
        assert err < 1e-6, (j, err)
    for j in range(len(theta) - 2):  # the structural thetas (the residual SDs do not move pred)
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        fd = (tight.predict(up, eta_rec) - tight.predict(down, eta_rec)) / (2 * h)
        err = np.max(np.abs(d_theta[:, 0, j] - fd) / np.maximum(scale[:, 0], 1e-3))
        assert err < 1e-6, (j, err)
