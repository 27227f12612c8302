"""``nlme-lab bootstrap / crossval / cdd / validate``: tables, JSON keys, flag checks (small runs)."""

import json

import pandas as pd
import pytest

from nlme_lab.cli.main import main
from tests.conftest import DATA, MODELS

THEO = [str(MODELS / "theo_sd.nlm"), str(DATA / "theo_sd.csv")]


def test_bootstrap_json_and_replicates_csv(tmp_path, capsys):
    out = tmp_path / "boot.json"
    assert main(["bootstrap", *THEO, "--n", "3", "--seed", "4", "--scheduler", "serial", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "replicates converged" in captured.out and "tcl" in captured.out
    assert "bootstrap" in captured.err  # the tqdm bar
    doc = json.loads(out.read_text())
    assert doc["n"] == 3 and doc["seed"] == 4 and 0 <= doc["n_successful"] <= 3
    assert set(doc["parameters"]["tcl"]) == {"estimate", "median", "mean", "se", "bias", "bias_percent", "ci_low",
                                             "ci_high"}
    assert doc["parameters"]["tcl"]["ci_low"] is None  # 3 replicates: no 95% interval
    table = pd.read_csv(doc["replicates_csv"])
    assert len(table) == 3 and {"replicate", "seed", "subjects", "status", "ofv", "tcl"} <= set(table.columns)


def test_crossval_json_folds(tmp_path, capsys):
    out = tmp_path / "cv.json"
    assert main(["crossval", *THEO, "--folds", "3", "--seed", "2", "--scheduler", "serial", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [f["fold"] for f in doc["folds"]] == [1, 2, 3]
    assert sorted(int(i) for f in doc["folds"] for i in f["ids"]) == list(range(1, 13))
    assert {"fold", "ids", "estimation_ofv", "prediction_ofv"} <= set(doc["folds"][0])
    assert doc["sum_prediction_ofv"] == pytest.approx(sum(f["prediction_ofv"] for f in doc["folds"]))
    assert "sum of prediction OFVs" in capsys.readouterr().out


def test_crossval_fold_column_disagreeing_with_folds_is_an_error(tmp_path, capsys):
    frame = pd.read_csv(DATA / "theo_sd.csv")
    frame["HALF"] = (frame["ID"] > 6).astype(int)
    data = tmp_path / "theo_half.csv"
    frame.to_csv(data, index=False)
    code = main(["crossval", THEO[0], str(data), "--fold-column", "HALF", "--folds", "3", "--scheduler", "serial"])
    assert code == 1
    assert "folds=3 but fold_of gives 2 folds" in capsys.readouterr().err


def test_validate_json(tmp_path):
    frame = pd.read_csv(DATA / "theo_sd.csv")
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame[frame["ID"] <= 8].to_csv(train, index=False)
    frame[frame["ID"] > 8].to_csv(test, index=False)
    out = tmp_path / "val.json"
    assert main(["validate", THEO[0], str(train), str(test), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["prediction_ofv"] > 0 and doc["n_subjects"] == 4
    for kind in ("pred", "ipred"):
        assert {"mpe", "mape", "rmse", "mpe_percent", "rmse_percent"} <= set(doc[kind])
    assert {"mean", "variance", "p_value"} <= set(doc["npde"])
    assert doc["ipred"]["rmse"] < doc["pred"]["rmse"]


def test_validate_report_page_with_the_vpc(tmp_path, capsys):
    frame = pd.read_csv(DATA / "theo_sd.csv")
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame[frame["ID"] <= 8].to_csv(train, index=False)
    frame[frame["ID"] > 8].to_csv(test, index=False)
    out, page = tmp_path / "val.json", tmp_path / "val.html"
    assert main(["validate", THEO[0], str(train), str(test), "--json", str(out), "--report", str(page),
                 "--n-vpc", "10"]) == 0
    assert f"report written to {page}" in capsys.readouterr().out
    doc, text = json.loads(out.read_text()), page.read_text(encoding="utf-8")
    assert f"{doc['prediction_ofv']:.4f}" in text and "4 subjects" in text and "test.csv" in text
    assert "VPC of the new data" in text and "10 simulated replicates" in text and "Bokeh" in text


def test_validate_refuses_n_vpc_without_report_and_a_bad_report_path(tmp_path, capsys):
    assert main(["validate", *THEO, THEO[1], "--n-vpc", "10"]) == 1
    assert "--n-vpc sets the VPC of the report page" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["validate", *THEO, THEO[1], "--report", str(tmp_path / "missing" / "v.html")])
    assert "--report" in capsys.readouterr().err


def test_bootstrap_refuses_a_bad_count(capsys):
    with pytest.raises(SystemExit):
        main(["bootstrap", *THEO, "--n", "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_cdd_json(tmp_path):
    out = tmp_path / "cdd.json"
    assert main(["cdd", *THEO, "--scheduler", "serial", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["groups"]) == 12 and {"ids", "cook_score", "covariance_ratio", "dofv"} <= set(doc["groups"][0])
