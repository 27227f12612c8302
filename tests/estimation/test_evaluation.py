"""The evaluation API (``estimation.evaluation``): a model prepared once gives the fit's own
numbers at given parameter values (predictions, EBEs, per-subject objectives, conditional
covariances, conditional likelihoods), as frozen dataclasses.

Checked against: the FitResult of ``nl.fit`` (its PRED / IPRED / IWRES table, EBEs and OFV),
the definitions (the Gaussian -2LL of each observation summed per subject, the inverse of the
curvature) and a hand-written numpy problem (``Evaluator(problem, space)`` without a model).
"""

import dataclasses

import numpy as np
import pytest

from nlme_lab.errors import NlmeError
from nlme_lab.estimation import MethodKind
from nlme_lab.estimation.evaluation import Evaluator, prepare

BLOCK = """[ini]
tka = 0.45
tcl = 1.0
tv = 3.45
eta_ka ~ 0.6
eta_cl + eta_v ~ [0.3, 0.05, 0.1]
add_sd = 0.7
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl + eta_cl)
v = exp(tv + eta_v)
cp = linCmt()
cp ~ add(add_sd)
"""


@pytest.fixture(scope="module")
def theo(shared_models, shared_data):
    import nlme_lab as nl

    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    fit = nl.fit(model, data, "focei", covariance=None)
    ev = prepare(model, data)
    return fit, ev, ev.values(fit.estimates)


def test_predictions_are_the_fits_pred_and_ipred(theo):
    fit, ev, values = theo
    rows = ev.observations.record
    pred, ipred = ev.predictions(values), ev.predictions(values, fit.etas)
    table = fit.predictions
    # the table's predictions come from a solve without sensitivities: equal to rounding
    np.testing.assert_allclose(pred.natural, table["PRED"].to_numpy()[rows], rtol=1e-12)
    np.testing.assert_allclose(ipred.natural, table["IPRED"].to_numpy()[rows], rtol=1e-12)
    iwres = (ev.observations.y - ipred.f) / np.sqrt(ipred.variance)
    np.testing.assert_allclose(iwres, table["IWRES"].to_numpy()[rows], rtol=1e-9, atol=1e-10)
    assert pred.df_deta.shape == (rows.size, 3) and np.all(pred.etas == 0)
    assert ev.predictions(values, derivatives=False).df_deta is None


def test_modes_are_the_fits_ebes_and_objective(theo):
    fit, ev, values = theo
    modes = ev.modes(values, "focei", etas0=fit.etas)
    assert modes.n_not_converged == 0
    np.testing.assert_allclose(modes.etas, fit.etas, atol=1e-6)
    assert modes.objectives.total == pytest.approx(fit.ofv, abs=1e-6)
    at = ev.objectives(values, modes.etas, MethodKind.FOCEI)  # the same terms, no solve
    np.testing.assert_array_equal(at.ofv, modes.objectives.ofv)
    np.testing.assert_array_equal(at.curvature, modes.objectives.curvature)
    cov = at.covariance
    for i in range(ev.n_subjects):
        np.testing.assert_allclose(cov[i] @ at.curvature[i], np.eye(3), atol=1e-10)


def test_each_method_has_its_own_objective(theo):
    """FO's modes are the linearized model's; Laplace's curvature is the exact Hessian: the
    per-subject -2LLs differ, and FOCE equals FOCEI for an additive error (no interaction)."""
    _, ev, values = theo
    ofv = {m: ev.modes(values, m).objectives.ofv for m in ("fo", "foce", "focei", "laplace")}
    np.testing.assert_allclose(ofv["foce"], ofv["focei"], rtol=1e-8)
    assert not np.allclose(ofv["fo"], ofv["focei"], rtol=1e-3)
    assert not np.allclose(ofv["laplace"], ofv["focei"], rtol=1e-6)
    with pytest.raises(NlmeError, match="'fo', 'foce', 'focei', 'laplace'"):
        ev.modes(values, "saem")


def test_conditional_m2ll_sums_the_gaussian_terms(theo):
    """-2 log p(y_i | eta) for several eta sets in one call: per subject, the sum of
    log V + (y - f)^2 / V over its observations at that eta set's predictions."""
    fit, ev, values = theo
    sets = np.stack([np.zeros_like(fit.etas), fit.etas, 0.5 * fit.etas])
    got = ev.conditional_m2ll(values, sets)
    obs = ev.observations
    for b in range(3):
        p = ev.predictions(values, sets[b], derivatives=False)
        l = np.log(p.variance) + (obs.y - p.f) ** 2 / p.variance
        np.testing.assert_allclose(got[b], np.bincount(obs.subject, weights=l), rtol=1e-12)
    inner = got[1] + np.einsum("se,ef,sf->s", fit.etas, np.linalg.inv(values.omega), fit.etas)
    np.testing.assert_allclose(inner, ev.objectives(values, fit.etas).inner, rtol=1e-12)


def test_record_predictions_cover_every_record(theo):
    fit, ev, values = theo
    rp = ev.record_predictions(values, fit.etas)
    assert rp.pred.shape == (fit.data.n_records, 1) and fit.data.n_records > ev.observations.record.size
    np.testing.assert_array_equal(rp.pred[:, 0], fit.predictions["PRED"].to_numpy())  # dose records too
    np.testing.assert_array_equal(rp.ipred[:, 0], fit.predictions["IPRED"].to_numpy())


def test_values_take_reported_names_and_blocks_in_either_order():
    import nlme_lab as nl
    from tests.conftest import DATA

    ev = prepare(nl.Model(BLOCK), nl.read_nonmem(DATA / "theo_sd.csv"))
    a = ev.values({"eta_cl,eta_v": 0.02, "add_sd": 0.5})
    b = ev.values({"eta_v,eta_cl": 0.02, "add_sd": 0.5})
    np.testing.assert_array_equal(a.omega, b.omega)
    assert a.omega[1, 2] == a.omega[2, 1] == 0.02 and a.sd[0] == 0.5 and a.omega[0, 0] == 0.6
    with pytest.raises(NlmeError, match=r"unknown parameter 'tk'; did you mean tka\? The model's parameters are: tka, tcl, tv, add_sd, eta_ka"):
        ev.values({"tk": 1.0})


def test_results_are_frozen(theo):
    fit, ev, values = theo
    for result in (ev.predictions(values), ev.modes(values), ev.objectives(values, fit.etas),
                   ev.record_predictions(values, fit.etas), ev.individual_parameters(values, fit.etas),
                   ev.observations):
        assert dataclasses.is_dataclass(result)
        field = dataclasses.fields(result)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(result, field, None)


def test_an_evaluator_of_a_numpy_problem(wang):
    """Without a model: any PredictionProblem with its ParameterSpace (here Wang 2007, one eta,
    proportional error, at the published parameters) gives the published FOCEI objective."""
    from tests.estimation.spaces import wang_space

    ev = Evaluator(wang, wang_space("prop"))
    values = ev.values()
    assert ev.observations.record is None
    assert ev.modes(values, "focei").objectives.total == pytest.approx(39.458, abs=1e-3)  # refs README 4
    with pytest.raises(NlmeError, match="etas have shape"):
        ev.check_etas(np.zeros((3, 2)))


def test_record_variables_follow_a_time_varying_covariate(shared_data):
    """``record_variables``: the model's variables on every record, so a covariate that changes
    within a subject changes them there; the first records are ``individual_parameters``."""
    import nlme_lab as nl

    frame = shared_data["theo_sd.csv"].table
    frame["WT"] = 60.0 + frame["TIME"]  # grows along each subject's records
    data = nl.read_nonmem(frame)
    model = nl.Model(BLOCK.replace("cl = exp(tcl + eta_cl)", "cl = exp(tcl + eta_cl) * (WT / 70)"))
    ev = prepare(model, data)
    values = ev.values()
    rng = np.random.default_rng(3)
    etas = 0.1 * rng.standard_normal((ev.n_subjects, ev.n_eta))
    every = ev.record_variables(values, etas)
    assert every.values.shape == (len(frame), len(every.names)) and "WT" not in every.names
    subject = np.repeat(np.arange(ev.n_subjects), np.diff(np.asarray(ev.problem.bound.dataset.offsets)))
    expected = np.exp(1.0 + etas[subject, ev.eta_labels.index("eta_cl")]) * (60.0 + ev.problem.bound.dataset.time) / 70
    np.testing.assert_allclose(every.values[:, every.names.index("cl")], expected, rtol=1e-12)
    first = ev.individual_parameters(values, etas)
    assert first.names == every.names
    np.testing.assert_array_equal(first.values, every.values[np.asarray(ev.problem.bound.dataset.offsets[:-1])])
