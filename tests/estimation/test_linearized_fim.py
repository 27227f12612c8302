"""The linearized Fisher information (``estimation.linearized_fim``) against independent
computations: the closed-form information of a one-way random-effects model (unbalanced, over
several padding chunks), and, on a nonlinear model with occasion kappas, an omega block and a
combined error, the Hessian of the expected -log-likelihood of the linearized model (second
differences of a scalar, with the engine's predictions at moved thetas rather than its
sensitivities); then its use in fits: the default for SAEM, ``covariance="fim"`` for FOCEI,
and the sandwich where the data are censored."""

import numpy as np
import pytest

import nlme_lab as nl
from nlme_lab.estimation import EndpointError, ResidualModel
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.estimation import linearized_fim
from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.methods import METHODS, CovarianceKind, MethodKind
from nlme_lab.estimation.problem import Evaluation
from tests.estimation.spaces import make_space


class OneWay:
    """y_ij = mu + eta_i + eps_ij with ``counts[i]`` observations in subject i."""

    n_eta = 1

    def __init__(self, counts, rng):
        self.n_subjects = len(counts)
        self.obs_subject = np.repeat(np.arange(len(counts)), counts)
        self.dv = rng.normal(size=len(self.obs_subject))
        self.cens = np.zeros(len(self.dv), dtype=int)
        self.limit = np.full(len(self.dv), np.nan)
        self.endpoint = np.zeros(len(self.dv), dtype=int)

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        f = theta[0] + etas[self.obs_subject, 0]
        ones = np.ones((len(f), 1))
        return Evaluation(f, ones, ones if theta_derivs else None)


def _engine(problem, space, method=MethodKind.FOCEI):
    layout = ResidualLayout.build(space.residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
    return SubjectEngine(problem, layout, METHODS[method])


def test_one_way_model_information_is_the_closed_form(monkeypatch):
    """V_i = w 11' + s^2 I has eigenvalues lam_i = s^2 + n_i w (once) and s^2: per subject
    I_mu = n_i / lam_i, I_ww = n_i^2 / (2 lam_i^2), I_ws = s n_i / lam_i^2,
    I_ss = 2 s^2 (1 / lam_i^2 + (n_i - 1) / s^4)."""
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 12, size=90)
    prob = OneWay(counts, rng)
    w, s = 0.7, 0.4
    space = make_space((Theta("mu", 1.0),), (OmegaBlock(("eta",), (w,)),),
                           ResidualModel((Theta("sd", s),), (EndpointError(add=0),)), 1)
    n = counts.astype(float)
    lam = s * s + n * w
    exact = np.array([[np.sum(n / lam), 0, 0],
                      [0, np.sum(n * n / (2 * lam ** 2)), np.sum(s * n / lam ** 2)],
                      [0, np.sum(s * n / lam ** 2), np.sum(2 * s * s * (1 / lam ** 2 + (n - 1) / s ** 4))]])
    etas = rng.normal(size=(len(counts), 1))  # the linearization point does not matter here
    z = np.array([1.0, w, s])
    info, names = linearized_fim.linearized_information(_engine(prob, space), space, z, etas)
    assert names == ("mu", "eta", "sd")
    np.testing.assert_allclose(info, exact, rtol=1e-9, atol=1e-12)
    monkeypatch.setattr(linearized_fim, "CHUNK_FLOATS", 500)  # many chunks of a few subjects
    chunked, _ = linearized_fim.linearized_information(_engine(prob, space), space, z, etas)
    np.testing.assert_allclose(chunked, exact, rtol=1e-9, atol=1e-12)


def _expected_nll(engine, space, z, z0, etas):
    """E_{y ~ N(m0, V0)} [-log N(y; m(z), V(z))] (constants dropped) of the model linearized at
    ``etas`` and ``z0``: its Hessian in z at z0 is the information. m(z) takes the engine's
    f at theta(z); G and the variance basis stay at z0."""
    v0, v = space.values_from_reported(z0), space.values_from_reported(z)
    f0, G = engine._evaluate(v0.theta, etas)
    f, _ = engine._evaluate(v.theta, etas)
    R = engine.layout.variance(v.sd, f0)[0]
    R0 = engine.layout.variance(v0.sd, f0)[0]
    total = 0.0
    for i in range(engine.problem.n_subjects):
        o = engine.index.obs_subject == i
        if not o.any():
            continue
        Gi = G[o]
        V = Gi @ v.omega @ Gi.T + np.diag(R[o])
        V0 = Gi @ v0.omega @ Gi.T + np.diag(R0[o])
        Vinv = np.linalg.inv(V)
        d = f[o] - f0[o]
        total += 0.5 * (np.linalg.slogdet(V)[1] + np.trace(Vinv @ V0) + d @ Vinv @ d)
    return total


def test_information_is_the_hessian_of_the_expected_likelihood():
    from nlme_lab.estimation.kernel_problem import KernelProblem
    from nlme_lab.estimation.model_space import parameter_space
    from nlme_lab.problem import bind
    from tests.estimation.test_kernel_problem import IOV, _iov_data

    model = nl.Model(IOV.replace("prop_sd = fix(0.1)", "prop_sd = 0.1"))
    problem = KernelProblem(bind(model, _iov_data()))
    space = parameter_space(model.ir, max(problem.n_occasions, 1))
    engine = _engine(problem, space)
    z0 = space.reported_initial()
    etas = np.random.default_rng(1).normal(0, 0.1, size=(problem.n_subjects, problem.n_eta))
    info, names = linearized_fim.linearized_information(engine, space, z0, etas)
    free = np.flatnonzero(~space.reported_fixed())
    assert len(names) == len(free) == 9  # tcl, tv, 3 omega block elements, 2 kappas, 2 SDs (tka fixed)
    h = 1e-3 * np.maximum(np.abs(z0[free]), 1e-2)
    hess = np.empty((len(free), len(free)))
    for a, (ka, ha) in enumerate(zip(free, h)):
        for b, (kb, hb) in enumerate(zip(free, h)):
            vals = []
            for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                z = z0.copy()
                z[ka] += sa * ha
                z[kb] += sb * hb
                vals.append(sa * sb * _expected_nll(engine, space, z, z0, etas))
            hess[a, b] = sum(vals) / (4 * ha * hb)
    scale = np.sqrt(np.outer(np.diag(info), np.diag(info)))
    assert np.all(np.diag(info) > 0)
    np.testing.assert_allclose(info / scale, hess / scale, atol=5e-5)


@pytest.fixture(scope="module")
def theo(shared_models, shared_data):
    return shared_models["theo_sd"], shared_data["theo_sd.csv"]


def test_saem_reports_the_linearized_information_and_focei_can_ask_for_it(theo):
    from nlme_lab.estimation import SAEMOptions

    short = SAEMOptions(n_burn=60, n_em=60, is_samples=0)
    saem = nl.fit(*theo, "saem", seed=3, options=short)
    assert saem.covariance.kind is CovarianceKind.FIM and saem.covariance.ok
    assert saem.covariance_method.startswith("linearization")
    sandwich = nl.fit(*theo, "saem", seed=3, options=short, covariance="sandwich")
    assert sandwich.covariance.kind is CovarianceKind.SANDWICH
    for k in ("tka", "tcl", "tv"):  # the two kinds agree on the thetas (within 15 %, theo's 12 subjects)
        assert abs(saem.se[k] / sandwich.se[k] - 1) < 0.15, (k, saem.se[k], sandwich.se[k])
    focei = nl.fit(*theo, "focei", covariance="fim")
    assert focei.covariance.kind is CovarianceKind.FIM
    default = nl.fit(*theo, "focei")
    assert default.covariance.kind is CovarianceKind.SANDWICH
    for k in ("tka", "tcl", "tv"):
        assert abs(focei.se[k] / default.se[k] - 1) < 0.15, (k, focei.se[k], default.se[k])


def test_censored_data_take_the_sandwich(shared_models):
    import pandas as pd
    from tests.conftest import DATA

    df = pd.read_csv(DATA / "theo_sd.csv")
    obs = (df["EVID"] == 0) & (df["DV"] < 1.0)
    df["CENS"] = np.where(obs, 1, 0)
    df.loc[obs, "DV"] = 1.0
    fit = nl.fit(shared_models["theo_sd"], nl.read_nonmem(df), "focei", covariance="fim")
    assert fit.covariance.kind is CovarianceKind.SANDWICH and fit.covariance.ok
