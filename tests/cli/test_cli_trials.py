"""nlme-lab map (mapbayr's example, JSON keys) and nlme-lab trial (the example TRIAL.json, smaller)."""

import json

import pytest

import nlme_lab as nl
from nlme_lab.cli.main import main


def test_map_writes_the_estimate_as_json(capsys, tmp_path):
    out = tmp_path / "map.json"
    code = main(["map", str(nl.example_path("mapbayr_2cmt.nlm")), str(nl.example_path("mapbayr_patient.csv")),
                 "--times", "24", "--json", str(out)])
    assert code == 0
    assert "eta_cl = 0.38721" in capsys.readouterr().out
    d = json.loads(out.read_text())
    assert set(d) >= {"eta", "individual", "ofv", "eta_covariance", "ipred", "pred"}
    assert d["eta"]["eta_cl"] == pytest.approx(0.3872104, abs=1e-4)
    assert d["individual"]["cl"] == pytest.approx(1.79217, abs=1e-4)
    assert [p["time"] for p in d["pred"]] == [6.0, 15.0, 24.0]
    assert [round(p["value"], 3) for p in d["ipred"]] == [4.162, 1.087, 0.556]
    assert len(d["eta_covariance"]) == 2


def test_trial_writes_pta_records_and_the_label(capsys, tmp_path):
    spec = json.loads(nl.example_path("trial.json").read_text())
    spec.update(n_subjects=60, n_trials=2, population=str(nl.example_path("pheno.csv")))
    path = tmp_path / "trial.json"
    path.write_text(json.dumps(spec))
    out = tmp_path / "pta.json"
    code = main(["trial", str(nl.example_path("pheno.nlm")), str(path), "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    d = json.loads(out.read_text())
    assert d["label"].startswith("Start with ") and d["label"] in text
    regs = {r["regimen"] for r in d["pta"]}
    assert regs == set(spec["regimens"])
    assert {r["subgroup"] for r in d["pta"]} == {"all", "weight", "Apgar"}
    assert all(0 <= r["pta"] <= 1 for r in d["pta"])


def test_trial_targets_a_model_variable_at_a_time(capsys, tmp_path):
    """TRIAL.json's "variables": the concentration 2 h after the first dose as the target's metric;
    the PTA table equals the one of nl.virtual_trial called with the same specification."""
    spec = json.loads(nl.example_path("trial.json").read_text())
    spec.update(n_subjects=40, n_trials=2, population=str(nl.example_path("pheno.csv")), variables={"cp": [2]},
                target={"metric": "cp@2", "low": 20, "high": 40}, subgroups=None)
    path = tmp_path / "trial.json"
    path.write_text(json.dumps(spec))
    out = tmp_path / "pta.json"
    assert main(["trial", str(nl.example_path("pheno.nlm")), str(path), "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    res = nl.virtual_trial(nl.Model.from_file(nl.example_path("pheno.nlm")), spec["regimens"],
                           population=nl.read_nonmem(nl.example_path("pheno.csv")), n_subjects=40, n_trials=2,
                           seed=1, scheduler="serial", variables={"cp": [2]})
    pta = res.target_attainment(nl.Target("cp@2", 20, 40))
    by_regimen = {r["regimen"]: r["pta"] for r in d["pta"] if r["subgroup"] == "all"}
    assert by_regimen == pytest.approx(dict(zip(pta["regimen"], pta["pta"])), abs=1e-12)
    cp = res.subjects.pivot_table(index=["trial", "subject"], columns="regimen", values="cp@2")
    assert (cp["5 mg q12h"] / cp["2 mg q12h"]).to_numpy() == pytest.approx(2.5, rel=1e-9)  # a linear model
    assert by_regimen["2 mg q12h"] > 0.5 > by_regimen["5 mg q12h"]  # median cp@2: 29 mg/L at 2 mg, 73 at 5 mg


def test_a_bad_trial_file_is_a_one_line_error(capsys, tmp_path):
    path = tmp_path / "trial.json"
    path.write_text(json.dumps({"regimens": {"a": {"dose": 1}}, "n_subject": 3, "target": {"metric": "auc"}}))
    assert main(["trial", str(nl.example_path("pheno.nlm")), str(path)]) != 0
    assert "unknown keys ['n_subject']" in capsys.readouterr().err
