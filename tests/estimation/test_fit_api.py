"""The fit's contract: events, stopping, fixed models, covariance options and failures,
warnings, parameter scales, residual model variants and input checks."""

import numpy as np
import pytest
from tests.estimation.spaces import make_space, theo_space, wang_space
from tests.estimation.problems import Wang2007

from nlme_lab.errors import NlmeError
from nlme_lab.estimation import (
    CovarianceKind,
    EndpointError,
    Evaluation,
    FOCEIOptions,
    IterationEvent,
    MethodKind,
    OuterOptions,
    ResidualModel,
    StopToken,
    Termination,
    fit_problem,
    get_method,
    lognormal_table,
)
from nlme_lab.estimation.parameters import ReportedScale, Unconstrained
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.model.parameter_names import element_names


def test_callback_receives_typed_events_and_history_records_every_iteration(wang):
    events = []
    r = fit_problem(wang, wang_space("prop", fixed=False), "focei", callback=events.append)
    assert r.termination is Termination.CONVERGED
    assert all(isinstance(e, IterationEvent) for e in events)
    assert [e.iteration for e in events] == list(range(len(events)))
    assert len(r.history) == len(events) == r.iterations + 1
    assert events[-1].ofv == pytest.approx(r.ofv, abs=1e-8)
    assert set(events[0].estimates) == {"tke", "eta_ke", "sd"}
    assert min(h.ofv for h in r.history) == pytest.approx(r.ofv, abs=1e-8)


def test_stop_token_ends_the_fit_with_the_best_point_so_far(theo):
    token = StopToken()
    seen = []

    def on_event(event):
        seen.append(event.ofv)
        if event.iteration == 3:
            token.stop()

    r = fit_problem(theo, theo_space(), "focei", callback=on_event, stop=token)
    assert r.termination is Termination.STOPPED
    assert r.iterations == 3
    assert r.ofv == pytest.approx(min(seen), abs=1e-8)
    assert r.covariance is None and r.se == {}


def test_keyboard_interrupt_ends_the_fit_cleanly(theo):
    def interrupt(event):
        if event.iteration == 2:
            raise KeyboardInterrupt

    r = fit_problem(theo, theo_space(), "foce", callback=interrupt)
    assert r.termination is Termination.STOPPED
    assert np.isfinite(r.ofv) and r.ofv < fit_problem(theo, _all_fixed(theo_space()), "foce").ofv


def _all_fixed(space):
    thetas = tuple(Theta(t.name, t.init, t.lower, t.upper, fixed=True) for t in space.thetas)
    omega = tuple(OmegaBlock(b.names, b.values, fixed=True) for b in space.omega)
    res = ResidualModel(tuple(Theta(s.name, s.init, fixed=True) for s in space.residual.sds),
                        space.residual.endpoints)
    return make_space(thetas, omega, res, space.n_eta)


def test_a_model_with_every_parameter_fixed_is_evaluated(wang):
    calls = wang.n_calls
    r = fit_problem(wang, wang_space("add"), "focei")
    assert r.termination is Termination.EVALUATED and r.n_parameters == 0
    assert r.covariance is None and r.iterations == 0
    assert wang.n_calls - calls < 30
    assert r.etas.shape == (10, 1) and np.all(r.etas != 0)


@pytest.mark.parametrize("kind", [CovarianceKind.R, CovarianceKind.S, CovarianceKind.SANDWICH])
def test_covariance_kinds_follow_nonmem_scaling(wang, kind):
    r = fit_problem(wang, wang_space("prop", fixed=False), "focei", FOCEIOptions(covariance=kind))
    R, S = r.covariance.r_matrix, r.covariance.s_matrix
    expected = {CovarianceKind.R: 2 * np.linalg.inv(R), CovarianceKind.S: 4 * np.linalg.inv(S),
                CovarianceKind.SANDWICH: np.linalg.inv(R) @ S @ np.linalg.inv(R)}[kind]
    np.testing.assert_allclose(r.covariance.covariance, expected, rtol=1e-10)
    for i, name in enumerate(r.covariance.names):
        assert r.se[name] == pytest.approx(np.sqrt(expected[i, i]))
        lo, hi = r.ci[name]
        assert (hi - lo) / 2 == pytest.approx(1.959964 * r.se[name], rel=1e-6)
        assert r.rse[name] == pytest.approx(100 * r.se[name] / abs(r.estimates[name]))
    assert np.allclose(np.diag(r.correlation), 1.0)
    w = np.linalg.eigvalsh(r.correlation)
    assert r.condition_number == pytest.approx(w[-1] / w[0])


def test_r_matrix_equals_brute_force_hessian_of_the_objective(wang):
    r = fit_problem(wang, wang_space("add", fixed=False), "focei")
    space = wang_space("add", fixed=False)
    z = np.array([r.estimates[n] for n in space.reported_names()])

    def ofv(zz):
        return fit_problem(wang, _fixed_at(space, zz), "focei").ofv

    n = len(z)
    H = np.empty((n, n))
    h = 1e-3 * np.abs(z)
    for i in range(n):
        for j in range(n):
            e_i, e_j = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
            H[i, j] = (ofv(z + e_i + e_j) - ofv(z + e_i - e_j) - ofv(z - e_i + e_j) + ofv(z - e_i - e_j)) / (4 * h[i] * h[j])
    np.testing.assert_allclose(r.covariance.r_matrix, H, rtol=2e-3)


def _fixed_at(space, z):
    names = space.reported_names()
    est = dict(zip(names, z))
    thetas = tuple(Theta(t.name, est[t.name], t.lower, t.upper, fixed=True) for t in space.thetas)
    omega = tuple(OmegaBlock(b.names, tuple(est[n] for n in element_names(b.names)), fixed=True) for b in space.omega)
    res = ResidualModel(tuple(Theta(s.name, est[s.name], fixed=True) for s in space.residual.sds),
                        space.residual.endpoints)
    return make_space(thetas, omega, res, space.n_eta)


class ProductWang(Wang2007):
    """ke = k1 * k2 * exp(eta): only the product k1 k2 is identifiable."""

    n_theta = 2

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        ev = super().evaluate(np.array([theta[0] * theta[1]]), etas, derivs)
        return Evaluation(ev.f, ev.df_deta)


def test_unidentifiable_parameters_are_named_when_the_covariance_step_fails():
    base = wang_space("prop", fixed=False)
    space = make_space((Theta("k1", 0.7, lower=0), Theta("k2", 0.7, lower=0)), base.omega, base.residual, 1)
    r = fit_problem(ProductWang(), space, "focei")
    assert r.covariance is not None and not r.covariance.ok
    msg = r.covariance.message
    assert "k1" in msg and "k2" in msg and "R matrix" in msg
    assert r.se == {} and r.estimates["k1"] * r.estimates["k2"] == pytest.approx(
        fit_problem(Wang2007(), wang_space("prop", fixed=False), "focei").estimates["tke"], rel=1e-3)
    assert any("covariance step failed" in w for w in r.warnings)


def test_warnings_name_bounds_vanishing_variances_and_poor_precision(wang):
    res = ResidualModel((Theta("sd", 0.3),), (EndpointError(prop=0),))
    space = make_space((Theta("tke", 0.44, lower=0.0, upper=0.45),),
                           (OmegaBlock(("eta_ke",), (0.04,)),), res, 1)
    r = fit_problem(wang, space, "focei")
    text = " | ".join(r.warnings)
    print(text)
    assert "tke" in text and "upper bound" in text


def test_a_vanishing_variance_is_reported_in_words():
    from nlme_lab.estimation.report import _boundary_warnings
    from nlme_lab.estimation.results import Shrinkage

    space = wang_space("prop", fixed=False)
    est = {"tke": 0.5, "eta_ke": 2e-5, "sd": 0.3}
    text = _boundary_warnings(space, est, Shrinkage({"eta_ke": 20.0}, {"eta_ke": 30.0}, 5.0))
    assert text and "variance of eta_ke went to zero (2e-05, from 0.04" in text[0]
    est["eta_ke"] = 0.03
    assert _boundary_warnings(space, est, Shrinkage({"eta_ke": 97.0}, {"eta_ke": 99.0}, 5.0))
    assert not _boundary_warnings(space, est, Shrinkage({"eta_ke": 40.0}, {"eta_ke": 60.0}, 5.0))


def test_parameter_scales_round_trip_and_respect_bounds():
    space = theo_space(block=True)
    z = space.reported_initial()
    for p in (Unconstrained(space), ReportedScale(space)):
        np.testing.assert_allclose(p.to_reported(p.from_reported(z)), z, rtol=1e-12)
    res = ResidualModel((Theta("sd", 0.3),), (EndpointError(prop=0),))
    s2 = make_space((Theta("a", 0.5, lower=0, upper=1), Theta("b", 2.0, lower=1), Theta("c", -2.0, upper=0)),
                        (OmegaBlock(("e1", "e2"), (0.1, 0.02, 0.2)),), res, 2)
    u = Unconstrained(s2)
    for x in (-5.0, 0.0, 5.0):
        zz = u.to_reported(np.full(u.n, x))
        assert 0 <= zz[0] <= 1 and zz[1] >= 1 and zz[2] <= 0
        assert np.all(np.linalg.eigvalsh(s2.values_from_reported(zz).omega) > 0)
    assert s2.reported_names() == ["a", "b", "c", "e1", "e1,e2", "e2", "sd"]


def test_occasion_copies_share_one_variance():
    res = ResidualModel((Theta("sd", 0.3),), (EndpointError(add=0),))
    space = make_space((Theta("t", 1.0),), (OmegaBlock(("eta",), (0.1,)), OmegaBlock(("kappa",), (0.02,))), res, 3,
                       placements=((), ((1,), (2,))))
    om = space.values_from_reported(np.array([1.0, 0.1, 0.03, 0.3])).omega
    np.testing.assert_allclose(np.diag(om), [0.1, 0.03, 0.03])
    assert space.eta_labels == ["eta", "kappa#1", "kappa#2"]
    assert space.reported_names() == ["t", "eta", "kappa", "sd"]


def test_lnorm_equals_additive_error_on_log_transformed_data(wang):
    class LogWang(Wang2007):
        def __init__(self):
            super().__init__()
            self.dv = np.log(self.dv)

        def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
            ev = super().evaluate(theta, etas, derivs)
            return Evaluation(np.log(ev.f), None if ev.df_deta is None else ev.df_deta / ev.f[:, None])

    ln = ResidualModel((Theta("sd", 0.2, fixed=True),), (EndpointError(lnorm=0),))
    add = ResidualModel((Theta("sd", 0.2, fixed=True),), (EndpointError(add=0),))
    base = wang_space("add")
    for method in ("fo", "foce", "focei", "laplace"):
        a = fit_problem(wang, make_space(base.thetas, base.omega, ln, 1), method).ofv
        b = fit_problem(LogWang(), make_space(base.thetas, base.omega, add, 1), method).ofv
        assert a == pytest.approx(b, abs=1e-9)


def test_two_endpoints_use_their_own_error_models(wang):
    class TwoEndpoints(Wang2007):
        def __init__(self):
            super().__init__()
            self.endpoint = (np.arange(len(self.dv)) % 2).astype(int)

    res = ResidualModel((Theta("p", float(np.sqrt(0.1)), fixed=True), Theta("a", 0.5, fixed=True)),
                        (EndpointError(prop=0), EndpointError(add=1)))
    pb = TwoEndpoints()
    r = fit_problem(pb, make_space(wang_space("add").thetas, wang_space("add").omega, res, 1), "fo")
    total = 0.0
    for i in range(pb.n_subjects):
        rows = pb.obs_subject == i
        t, y = pb.time[rows], pb.dv[rows]
        f = 10 * np.exp(-0.5 * t)
        V = np.where(pb.endpoint[rows] == 0, 0.1 * f**2, 0.25)
        G = -f * 0.5 * t
        C = 0.04 * np.outer(G, G) + np.diag(V)
        total += np.linalg.slogdet(C)[1] + (y - f) @ np.linalg.solve(C, y - f)
    assert r.ofv == pytest.approx(total, abs=1e-9)


def test_lognormal_table():
    rows = lognormal_table({"tcl": np.log(2.0), "eta_cl": 0.09}, {"tcl": "eta_cl"})
    assert rows[0]["median"] == pytest.approx(2.0)
    assert rows[0]["mean"] == pytest.approx(2.0 * np.exp(0.045))
    assert rows[0]["cv_percent"] == pytest.approx(100 * np.sqrt(np.exp(0.09) - 1))


def test_registry_and_input_errors_say_what_is_wrong(wang):
    assert get_method("FOCEI").kind is MethodKind.FOCEI
    with pytest.raises(NlmeError, match="available: fo, foce, focei, laplace"):
        get_method("saem2")
    with pytest.raises(NlmeError, match="the parameters declare 2"):
        fit_problem(wang, make_space(wang_space("add").thetas, (OmegaBlock(("a", "b"), (0.1, 0, 0.1)),),
                                 wang_space("add").residual, 2), "fo")
    with pytest.raises(NlmeError, match="not inside its bounds"):
        Theta("x", 2.0, lower=0, upper=1) and make_space((Theta("x", 2.0, 0, 1),), (), wang_space("add").residual, 0)
    with pytest.raises(NlmeError, match="not positive definite"):
        make_space((), (OmegaBlock(("a", "b"), (0.1, 0.5, 0.1)),), wang_space("add").residual, 2)


def test_max_iterations_is_reported(theo):
    r = fit_problem(theo, theo_space(), "focei", FOCEIOptions(outer=OuterOptions(max_iterations=2),
                                                    covariance=CovarianceKind.NONE))
    assert r.termination is Termination.MAX_ITERATIONS
    assert any("did not converge" in w for w in r.warnings)


def test_a_singular_omega_block_is_reported_in_words():
    from nlme_lab.estimation.report import _omega_correlation_warnings

    space = theo_space(block=True)
    est = {"eta_ka": 0.4, "eta_cl": 0.0606, "eta_cl,eta_v": 0.0300, "eta_v": 0.0151}
    text = _omega_correlation_warnings(space, est)
    assert len(text) == 1 and "eta_cl and eta_v reached +0.99" in text[0]
    est["eta_cl,eta_v"] = 0.01
    assert not _omega_correlation_warnings(space, est)
