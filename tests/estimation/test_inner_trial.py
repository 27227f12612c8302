"""The inner solve's compiled path (``kernels.inner_trial``: trials, Armijo searches and the
Newton bookkeeping in kernels) gives the Python path's fit bit for bit, with the same number of
evaluations, also when trials fall back to Python (as after a failed solution)."""

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


@pytest.mark.parametrize("name, data", [("theo_sd", "theo_sd.csv"), ("pheno", "pheno.csv")])
def test_the_compiled_inner_solve_equals_the_python_one(shared_models, shared_data, name, data, monkeypatch):
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
