"""The inner solve's compiled path (``kernels.inner_trial``: trials, Armijo searches and the
Newton bookkeeping in kernels) gives the Python path's fit bit for bit, with the same number of
evaluations, also when trials fall back to Python (as after a failed solution)."""

from pathlib import Path

import numpy as np
import pytest

import nlme_lab as nl
from nlme_lab.estimation import individual
from nlme_lab.kernels import inner_trial


def _fit(model, data):
    r = nl.fit(model, data, method="focei", parallel=False)
    return r.ofv, r.estimates, r.se, np.asarray(r.etas), r.n_evaluations


def _assert_same(a, b):
    assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2] and a[4] == b[4]
    np.testing.assert_array_equal(a[3], b[3])


@pytest.mark.parametrize("few", [individual.FEW_SKIPPED, 1])
@pytest.mark.parametrize("name, data", [("theo_sd", "theo_sd.csv"), ("pheno", "pheno.csv")])
def test_the_compiled_inner_solve_equals_the_python_one(shared_models, shared_data, name, data, few, monkeypatch):
    """``few`` 1: the Newton steps and the Hessian refreshes on the active subjects only
    whenever one has stopped (``individual._rows``)."""
    monkeypatch.setattr(individual, "FEW_SKIPPED", few)
    model, ds = shared_models[name], shared_data[data]
    calls = []
    search = individual._FusedRun.search

    def counted(self, *args):
        calls.append(1)
        return search(self, *args)

    monkeypatch.setattr(individual._FusedRun, "search", counted)
    compiled = _fit(model, ds)
    assert calls  # the compiled path was taken
    monkeypatch.setattr(individual.SubjectEngine, "_fused", lambda self, *a: None)
    _assert_same(compiled, _fit(model, ds))


def test_trials_evaluated_in_python_give_the_same_fit(shared_models, shared_data, monkeypatch):
    """Every trial handed back to Python (``FAILED`` before it, as a failed solution does): the
    search goes on there and merges the accepted subjects into the compiled state."""
    model, ds = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    compiled = _fit(model, ds)
    search = individual._FusedRun.search

    def python_trials(self, step, slope, active, start, todo, t, noise, stalled, damped, ok, max_trials):
        n, _, left = search(self, step, slope, active, start, todo, t, noise, stalled, damped, ok, 0)
        return n, inner_trial.FAILED, left

    monkeypatch.setattr(individual._FusedRun, "search", python_trials)
    _assert_same(compiled, _fit(model, ds))


TWO_CMT = (Path(__file__).resolve().parents[2] / "benchmarks" / "two_cmt_closed.nlm").read_text()  # bench_scaling's


def _two_cmt_data(model, n_sub, seed):
    """``benchmarks/mm2_data.py``'s design (one 200 mg bolus, 10 samples over 24 h), simulated."""
    import pandas as pd

    rows = []
    for i in range(1, n_sub + 1):
        rows.append((i, 0.0, 0.0, 200.0, 1, 1, 1))
        rows += [(i, t, 0.0, 0.0, 0, 0, 1) for t in (0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0)]
    frame = pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT"])
    sim = nl.simulate(model, nl.read_nonmem(frame), n=1, seed=seed).table
    frame["DV"] = np.where(frame["EVID"] == 0, np.round(sim["SIMDV"].to_numpy(), 5), 0.0)
    return nl.read_nonmem(frame)


@pytest.mark.parametrize("few", [individual.FEW_SKIPPED, 1])
def test_a_large_inner_solve_compiled_equals_python(few, monkeypatch):
    """From ``predict.ADAPTIVE_MIN_SUBJECTS`` subjects the engine is timed (``parallel=None``)
    and the compiled path is taken all the same; its Newton steps (and with ``few`` 1 its
    Hessian refreshes too) are then solved only on the active subjects once enough have
    stopped (``individual._rows``): the Python path's eta-hat, objectives and evaluation
    count, bit for bit."""
    from nlme_lab.estimation.evaluation import prepare

    monkeypatch.setattr(individual, "FEW_SKIPPED", few)
    model = nl.Model(TWO_CMT)
    data = _two_cmt_data(model, 150, 150)
    subsets, rows, refreshes, hessian = [], individual._rows, [], individual.SubjectEngine.hessian

    def counted(mask):
        out = rows(mask)
        subsets.append(out is not None)
        return out

    def counted_hessian(self, values, etas, omega_inv, h, fused=None, subjects=None):
        refreshes.append(subjects is not None)
        return hessian(self, values, etas, omega_inv, h, fused, subjects)

    monkeypatch.setattr(individual, "_rows", counted)
    monkeypatch.setattr(individual.SubjectEngine, "hessian", counted_hessian)
    ev = prepare(model, data)
    values = ev.values()
    compiled = ev.modes(values, "focei")
    engine = ev.subject_engine("focei")
    assert engine._fused_setup not in (None, False) and any(subsets)  # compiled, with subset solves
    assert refreshes and (all(refreshes) if few == 1 else not any(refreshes))
    n_compiled = engine.n_evaluations
    python = prepare(model, data)
    monkeypatch.setattr(individual.SubjectEngine, "_fused", lambda self, *a: None)
    reference = python.modes(values, "focei")
    np.testing.assert_array_equal(compiled.objectives.etas, reference.objectives.etas)
    np.testing.assert_array_equal(compiled.objectives.ofv, reference.objectives.ofv)
    assert compiled.n_not_converged == reference.n_not_converged
    assert n_compiled == python.subject_engine("focei").n_evaluations


def test_the_kernels_are_called_with_the_one_signature_compiled_ahead(shared_models, shared_data):
    # ``inner_trial.compile_kernels`` compiles them before their first call (in parallel with the
    # engine on a fresh machine, ``problem.background_compile``): a call with other argument types
    # would compile a second version on the spot
    for name, data in (("theo_sd", "theo_sd.csv"), ("pheno", "pheno.csv")):
        nl.fit(shared_models[name], shared_data[data], "focei")
    for kernel, args in ((inner_trial.line_search, inner_trial.LINE_SEARCH_ARGS),
                         (inner_trial.iteration_status, inner_trial.ITERATION_STATUS_ARGS),
                         (inner_trial.after_search, inner_trial.AFTER_SEARCH_ARGS)):
        assert kernel.signatures == [args], kernel.__name__
