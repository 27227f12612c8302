"""nl.scm on phenobarbital (WT and APGR on cl and v, forward 0.05 / backward 0.001): the result,
every candidate's dOFV against independent nl.fit runs, p-values against scipy, refits of
failed candidates, stop/resume, and serial vs a 2-worker LocalCluster."""

import json
import threading

import pytest
from scipy.stats import chi2

import nlme_lab as nl
from nlme_lab.covariates import stepwise as scm_module

RELATIONS = {"cl": ["WT", "APGR"], "v": ["WT", "APGR"]}


@pytest.fixture(scope="module")
def data():
    return nl.read_nonmem(nl.example_path("pheno.csv"))


@pytest.fixture(scope="module")
def base():
    return nl.Model.from_file(nl.example_path("pheno_base.nlm"))


@pytest.fixture(scope="module")
def result(base, data):
    return nl.scm(base, data, RELATIONS, p_forward=0.05, p_backward=0.001, method="focei", scheduler="serial")


def test_pheno_ends_with_weight_on_cl_and_v(result):
    assert set(result.final_relations) == {"cl-WT", "v-WT"}
    steps = result.steps
    chosen = steps[steps["chosen"]]
    assert list(chosen["relation"]) == ["v-WT", "cl-WT"] and set(chosen["direction"]) == {"forward"}
    assert list(steps["step"].unique()) == [1, 2, 3, 4]  # 3 forward steps (the last adds nothing), 1 backward
    assert (steps["status"] == "ok").all()
    back = steps[steps["direction"] == "backward"]
    assert set(back["relation"]) == {"cl-WT", "v-WT"} and not back["chosen"].any()  # both kept: p < 0.001
    assert result.final_fit.ofv == pytest.approx(chosen["ofv"].iloc[-1], abs=1e-3)
    assert result.base_ofv == pytest.approx(730.8947, abs=1e-3)
    assert result.final_fit.ofv == pytest.approx(588.6545, abs=1e-3)
    assert list(result.summary()["relation"]) == ["v-WT", "cl-WT"]


def test_every_dofv_is_an_independent_fit_difference(result, data):
    """Each candidate's model text and its parent's, fitted again by nl.fit: same dOFV to 1e-6."""
    def ofv(text):
        return nl.fit(nl.Model(text), data, "focei", covariance=None).ofv

    parent_ofv = {1: ofv(result.base_model.text)}
    for c in result.candidates:
        if c.step not in parent_ofv:
            previous = [p for p in result.candidates if p.step == c.step - 1 and p.chosen]
            parent_ofv[c.step] = ofv(previous[0].model_text) if previous else parent_ofv[c.step - 1]
        dofv = ofv(c.model_text) - parent_ofv[c.step]
        assert c.dofv == pytest.approx(dofv, abs=1e-6), (c.step, c.relation)
        expected_p = chi2.sf(max(-dofv if c.direction == "forward" else dofv, 0), c.df)
        assert c.p_value == pytest.approx(expected_p, rel=1e-6, abs=1e-300)


def test_json_layout(result):
    d = json.loads(result.to_json())
    assert set(d) == {"base_ofv", "steps", "final_relations", "final_ofv", "elapsed_s"}
    assert [s["step"] for s in d["steps"]] == [1, 2, 3, 4]
    assert d["steps"][0]["chosen"] == "v-WT" and d["steps"][3]["direction"] == "backward"
    assert set(d["steps"][0]["candidates"][0]) == {"relation", "form", "df", "ofv", "dofv", "p_value", "significant",
                                                   "status"}
    assert sorted(d["final_relations"]) == ["cl-WT", "v-WT"]


def test_worse_candidate_is_refitted_and_reported_never_used(base, data, monkeypatch):
    monkeypatch.setattr(scm_module, "WORSE_TOLERANCE", -1e6)  # every candidate counts as worse than its parent
    r = nl.scm(base, data, {"cl": ["WT"]}, scheduler="serial", seed=3)
    row = r.steps.iloc[0]
    assert row["status"].startswith("failed: OFV") and "refit: " in row["status"], row["status"]
    assert not row["significant"] and not row["chosen"] and r.final_relations == ()


def test_stop_then_resume_reuses_completed_fits(base, data, monkeypatch):
    stop = threading.Event()
    first = nl.scm(base, data, {"cl": ["WT"], "v": ["WT"]}, scheduler="serial",
                   on_step=lambda steps: stop.set() if len(steps) >= 2 else None, stop=stop)
    assert first.stopped and first.final_fit is None
    calls = []
    real = scm_module.fit_candidate
    monkeypatch.setattr(scm_module, "fit_candidate", lambda item, seed=None: calls.append(1) or real(item, seed))
    again = nl.scm(base, data, {"cl": ["WT"], "v": ["WT"]}, scheduler="serial", resume=first)
    assert set(again.final_relations) == {"cl-WT", "v-WT"} and not again.stopped
    n_candidates = len(again.steps)
    assert len(calls) < n_candidates  # the base and the first candidates were not fitted again


def test_serial_and_two_worker_cluster_give_identical_steps(base, data):
    pytest.importorskip("distributed")
    from nlme_lab.distributed import embedded_client, shutdown

    relations = {"cl": ["WT"], "v": ["WT"]}
    serial = nl.scm(base, data, relations, scheduler="serial", seed=7)
    try:
        cluster = nl.scm(base, data, relations, scheduler=embedded_client(2), seed=7)
    finally:
        shutdown()
    assert cluster.steps.equals(serial.steps)
    assert cluster.final_fit.ofv == serial.final_fit.ofv


def test_included_relation_is_in_the_base_and_never_removed(base, data):
    r = nl.scm(base, data, {"v": ["WT"]}, included=[("cl", "wt")], scheduler="serial")
    assert r.base_ofv == pytest.approx(675.8607, abs=1e-3)  # the base already has cl-WT
    assert set(r.final_relations) == {"cl-WT", "v-WT"}
    assert "cl-WT" not in set(r.steps["relation"])  # neither a candidate nor removed
