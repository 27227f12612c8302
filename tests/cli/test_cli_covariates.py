"""``nlme-lab scm`` (JSON layout, argument parsing, errors) and ``nlme-lab compare``."""

import json

import pytest

import nlme_lab as nl
from nlme_lab.cli.covariate_commands import parse_forms, parse_relations
from nlme_lab.cli.main import main

PHENO = str(nl.example_path("pheno.csv"))
BASE = str(nl.example_path("pheno_base.nlm"))


def test_relations_and_forms_parse():
    assert parse_relations("cl=WT,APGR; v=WT") == {"cl": ["WT", "APGR"], "v": ["WT"]}
    assert parse_forms("APGR,CVD1", ["WT=power", "AGE=linear|exp"]) == {
        "APGR": "categorical", "CVD1": "categorical", "WT": "power", "AGE": ["linear", "exp"]}
    with pytest.raises(ValueError, match="write parameter=COV1,COV2"):
        parse_relations("cl WT")
    with pytest.raises(ValueError, match="COV=FORM with FORM one of linear"):
        parse_forms("", ["WT=cubic"])


def test_scm_json(tmp_path, capsys):
    target = tmp_path / "scm.json"
    code = main(["scm", BASE, PHENO, "--relations", "cl=WT;v=WT", "--forward", "0.05", "--backward", "0.001",
                 "--method", "focei", "--scheduler", "serial", "--json", str(target)])
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(target.read_text())
    assert set(doc) == {"base_ofv", "steps", "final_relations", "final_ofv", "elapsed_s"}
    assert doc["final_relations"] == ["v-WT", "cl-WT"]
    assert [(s["step"], s["direction"], s["chosen"]) for s in doc["steps"]] == [
        (1, "forward", "v-WT"), (2, "forward", "cl-WT"), (3, "backward", None)]
    first = doc["steps"][0]["candidates"]
    assert {c["relation"] for c in first} == {"cl-WT", "v-WT"}
    assert set(first[0]) == {"relation", "form", "df", "ofv", "dofv", "p_value", "significant", "status"}
    v = next(c for c in first if c["relation"] == "v-WT")
    assert v["dofv"] == pytest.approx(v["ofv"] - doc["base_ofv"]) and v["dofv"] < -100
    assert doc["final_ofv"] == pytest.approx(588.6545, abs=1e-3)
    assert "final relations: v-WT, cl-WT" in out.out and "scm candidates" in out.err  # tqdm bar on stderr


def test_scm_bad_covariate_is_one_clear_line(capsys):
    assert main(["scm", BASE, PHENO, "--relations", "cl=CRCL", "--scheduler", "serial"]) == 1
    err = capsys.readouterr().err
    assert "covariate 'CRCL' is not a column of the data (covariate columns: WT, APGR)" in err


def test_compare_prints_aic_bic_lrt(tmp_path, capsys):
    cov = tmp_path / "cov.nlm"
    data = nl.read_nonmem(PHENO)
    cov.write_text(nl.add_covariate_effect(nl.Model.from_file(BASE), "v", "WT", "linear", data=data).text)
    for model, name in ((BASE, "base.json"), (str(cov), "cov.json")):
        assert main(["fit", model, PHENO, "--json", str(tmp_path / name)]) == 0
    capsys.readouterr()
    target = tmp_path / "table.json"
    assert main(["compare", str(tmp_path / "base.json"), str(tmp_path / "cov.json"), "--json", str(target)]) == 0
    out = capsys.readouterr().out
    for word in ("ofv", "dofv", "aic", "bic", "lrt_df", "p_value", "reference"):
        assert word in out
    rows = json.loads(target.read_text())
    assert rows[1]["lrt_df"] == 1 and rows[1]["dofv"] == pytest.approx(-102.41, abs=0.01)
