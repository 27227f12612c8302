"""The compiled per-subject terms (``kernels.subject_terms``) equal their numpy twin
(``SubjectEngine.batch_terms_reference``) on batches mixing every error model, censoring,
lnorm endpoints, a subject without observations, a failed (NaN) subject and a point where A
is not positive definite."""

from types import SimpleNamespace

import numpy as np
import pytest

from nlme_lab.estimation import EndpointError, ResidualModel
from nlme_lab.model.ir import Theta
from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.methods import get_method

N_SUB, N_ETA, B = 6, 3, 5


@pytest.fixture(scope="module", params=[True, False], ids=["censored", "uncensored"])
def engine_and_batch(request):
    """With censoring the pieces per observation come from numpy; without, from the compiled
    ``gaussian_pieces``."""
    rng = np.random.default_rng(11)
    counts = np.array([4, 7, 0, 5, 3, 6])  # subject 2 has no observation
    obs_subject = np.repeat(np.arange(N_SUB), counts)
    n_obs = len(obs_subject)
    endpoint = rng.integers(0, 3, n_obs)
    dv = rng.uniform(0.5, 5.0, n_obs)
    cens = np.where(rng.random(n_obs) < 0.25, rng.choice([1, -1], n_obs), 0)
    limit = np.where((cens != 0) & (rng.random(n_obs) < 0.4), dv + 1.0, np.nan)  # some M4 intervals
    cens[(endpoint == 2) & np.isnan(limit)] = 0  # (ResidualLayout gives M3 on lnorm endpoints a NaN bound)
    if not request.param:
        cens[:] = 0
    residual = ResidualModel((Theta("a", 0.3), Theta("p", 0.2), Theta("l", 0.25)),
                             (EndpointError(add=0, prop=1), EndpointError(prop=1), EndpointError(lnorm=2)))
    layout = ResidualLayout.build(residual, endpoint, dv, cens, limit)
    problem = SimpleNamespace(obs_subject=obs_subject, n_subjects=N_SUB, n_eta=N_ETA)
    engine = SubjectEngine(problem, layout, get_method("focei"))
    assert engine._gaussian is not request.param
    f = rng.uniform(0.5, 5.0, (B, n_obs))
    f[1, obs_subject == 4] = np.nan  # a failed subject at one point
    g = rng.normal(0, 1, (B, n_obs, N_ETA))
    fv = f * rng.uniform(0.9, 1.1, (B, n_obs))
    gv = g + rng.normal(0, 0.1, g.shape)
    etas = rng.normal(0, 0.3, (B, N_SUB, N_ETA))
    sd = np.array([0.3, 0.2, 0.25]) * rng.uniform(0.8, 1.2, (B, 3))
    W = rng.normal(0, 1, (N_ETA, N_ETA))
    oi = np.repeat((W @ W.T + N_ETA * np.eye(N_ETA))[None], B, 0)
    oi[3] = -oi[3]  # A not positive definite at point 3 (for the subject without observations)
    return engine, (f, g, fv, gv, etas, sd, oi)


@pytest.mark.parametrize("interaction", [True, False])
def test_compiled_terms_equal_the_numpy_twin(engine_and_batch, interaction):
    engine, (f, g, fv, gv, etas, sd, oi) = engine_and_batch
    gv = gv if interaction else None
    fast = engine.batch_terms(f, g, fv, gv, etas, sd, oi, with_A=True)
    slow = engine.batch_terms_reference(f, g, fv, gv, etas, sd, oi, with_A=True)
    for a, b in ((fast.inner, slow.inner), (fast.grad, slow.grad), (fast.A, slow.A), (fast.l_f, slow.l_f),
                 (fast.l_fv, slow.l_fv)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    finite = np.isfinite(slow.logdet_A)
    np.testing.assert_array_equal(np.isfinite(fast.logdet_A), finite)
    np.testing.assert_allclose(fast.logdet_A[finite], slow.logdet_A[finite], rtol=1e-12, atol=1e-12)
    assert np.isnan(fast.inner[1, 4]) and np.isnan(fast.grad[1, 4]).all()  # NaN predictions: rejected upstream
    assert not finite[3, 2] and np.isfinite(fast.inner[3, 2])  # empty subject: A = -Omega^-1 only
    np.testing.assert_array_equal(fast.A[3, 2], oi[3])
    assert finite[[0, 1, 2, 4]].all()  # only the point with a negative Omega^-1 has non-PD A


def test_broadcast_inputs_are_accepted(engine_and_batch):
    """The inner solve hands in broadcast (read-only) views of omega^-1 and the SDs."""
    engine, (f, g, fv, gv, etas, sd, oi) = engine_and_batch
    oi0 = np.broadcast_to(oi[0], oi.shape)
    sd0 = np.broadcast_to(sd[0], sd.shape)
    fast = engine.batch_terms(f, g, fv, gv, etas, sd0, oi0)
    slow = engine.batch_terms_reference(f, g, fv, gv, etas, sd0, oi0)
    np.testing.assert_allclose(fast.grad, slow.grad, rtol=1e-12, atol=1e-12)
