"""to_nonmem: the records written for each model-language feature, and the refusals."""

import pytest

import nlme_lab as nl
from nlme_lab.nonmem import ControlStreamError

from tests.conftest import DATA, MODELS

THEO = str(DATA / "theo_sd.csv")
pytestmark = pytest.mark.filterwarnings("ignore::nlme_lab.errors.ModelWarning")


def export(text: str, data: str = THEO, **kw) -> str:
    return nl.to_nonmem(nl.Model(text), data=data, **kw)


def records(text: str) -> dict:
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("$"):
            name, _, rest = line[1:].partition(" ")
            out.setdefault(name, []).append(rest)
        elif name:
            out[name].append(line.strip())
    return out


LIN = """
[ini]
tka = 0.45
tcl = 1
tv = 3.45
tq = 1
tv2 = 4
eta_cl ~ 0.1
add_sd = 0.7
[model]
ka = exp(tka)
cl = exp(tcl + eta_cl)
v = exp(tv)
{extra}
cp = linCmt()
cp ~ add(add_sd)
"""


@pytest.mark.parametrize("extra,advan,names", [
    ("", "ADVAN2 TRANS2", ["KA =", "CL =", "V =", "S2 = V"]),
    ("q = exp(tq)\nv2 = exp(tv2)", "ADVAN4 TRANS4", ["KA =", "CL =", "V2 =", "Q =", "V3 =", "S2 = V2"]),
])
def test_closed_forms_become_advans_with_s_of_the_central_compartment(extra, advan, names):
    text = export(LIN.format(extra=extra))
    r = records(text)
    assert r["SUBROUTINES"] == [advan]
    pk = [line for line in r["PK"] if line]
    assert [line.split("=")[0].strip() + " =" if not line.startswith("S") else line for line in pk] == names
    assert r["ERROR"][1:] == ["CP = F", "IPRED = CP", "W = THETA(6)", "Y = IPRED + W*EPS(1)"]
    assert r["SIGMA"] == ["1 FIX  ; the residual SDs are THETAs"]


def test_one_compartment_without_depot_and_three_compartments():
    one = export(LIN.replace("ka = exp(tka)\n", "").replace("tka = 0.45\n", "").format(extra=""))
    assert "$SUBROUTINES ADVAN1 TRANS2" in one and "S1 = V" in one
    three = export(LIN.format(extra="q = exp(tq)\nv2 = exp(tv2)\nq2 = exp(tq)\nv3 = exp(tv2)"))
    assert "$SUBROUTINES ADVAN12 TRANS4" in three
    assert {"Q3 = EXP(THETA(4))", "V3 = EXP(THETA(5))", "Q4 = EXP(THETA(4))", "V4 = EXP(THETA(5))"} <= {
        line.strip() for line in three.splitlines()}


def test_conditions_are_if_blocks_and_bounds_fix_and_labels_are_kept():
    text = export("""
[ini]
tcl = (0, 2.7, 10)   # typical CL
tv = fix(30)
eta_cl ~ 0.1
prop_sd = 0.1
[model]
cl = tcl * (1.2 if WT > 70 else 1) * exp(eta_cl)
v = tv
cp = linCmt()
cp ~ prop(prop_sd)
""")
    lines = [line.strip() for line in text.splitlines()]
    start = lines.index("IF (WT.GT.70) THEN")
    assert lines[start:start + 5] == ["IF (WT.GT.70) THEN", "CL_C1 = 1.2", "ELSE", "CL_C1 = 1", "ENDIF"]
    assert "CL = CL_C1*THETA(1)*EXP(ETA(1))" in lines
    assert "$THETA (0.0, 2.7, 10.0)  ; tcl typical CL" in lines and "$THETA 30.0 FIX  ; tv" in lines
    assert "$THETA (0.0, 0.1)  ; prop_sd" in lines  # a residual SD is positive
    assert "W = THETA(3)*IPRED" in lines


def test_odes_become_advan13_with_model_and_des(shared_models):
    text = nl.to_nonmem(shared_models["warfarin_pkpd"], data=str(DATA / "warfarin.csv"))
    r = records(text)
    assert r["SUBROUTINES"] == ["ADVAN13 TOL=9"]
    assert r["MODEL"] == ["COMP=(DEPOT DEFDOSE) COMP=(GUT) COMP=(CENTER) COMP=(EFFECT)"]
    assert "A_0(4) = E0" in r["PK"] and "DADT(4) = -A(4)*KOUT + KIN*PD" in r["DES"]
    assert "IF (DVID.EQ.2) THEN" in r["ERROR"] and "W = THETA(11)" in r["ERROR"]


def test_a_model_without_compartments_is_a_pred(shared_models):
    text = nl.to_nonmem(shared_models["wang2007_prop"], data=str(DATA / "wang2007.csv"), method="laplace",
                        covariance=None)
    r = records(text)
    assert "SUBROUTINES" not in r and "F_2 = 10*EXP(-KE*TIME)" in r["PRED"]
    assert r["ESTIMATION"] == ["METHOD=1 LAPLACE INTER MAXEVAL=9999 PRINT=5"] and "COVARIANCE" not in r


@pytest.mark.parametrize("method,line", [("fo", "METHOD=0"), ("foce", "METHOD=1 MAXEVAL"),
                                         ("focei", "METHOD=1 INTER"), ("saem", "METHOD=SAEM INTER")])
def test_methods_and_covariance(method, line):
    text = nl.to_nonmem(MODELS / "theo_sd.nlm", data=THEO, method=method, covariance="r")
    assert f"$ESTIMATION {line}" in text and "$COVARIANCE MATRIX=R" in text
    if method == "saem":
        assert "$ESTIMATION METHOD=IMP INTER EONLY=1" in text
        assert nl.from_nonmem(text).spec.importance_samples == 2000


def test_names_clashing_with_nonmem_or_data_are_renamed(shared_models):
    text = nl.to_nonmem(shared_models["nmtest"], data=str(DATA / "nmtest.csv"))
    assert "CP_2 = 1000*A(2)/V" in text  # CP is a data column
    assert "F2 = BIOAV" in text and "ALAG2 = LAGT" in text and "D2 = DUR2" in text


def test_path_writes_the_file_and_reads_a_relative_data_file_beside_it(tmp_path):
    import shutil

    shutil.copy(DATA / "theo_sd.csv", tmp_path / "theo_sd.csv")
    out = tmp_path / "run1.mod"
    text = nl.to_nonmem(MODELS / "theo_sd.nlm", data="theo_sd.csv", path=out)
    assert out.read_text() == text and "$DATA theo_sd.csv IGNORE=@" in text.splitlines()


@pytest.mark.parametrize("change,message", [
    ({"text": LIN.format(extra="").replace("add(add_sd)", "lnorm(add_sd)")}, "lnorm\\(\\): NONMEM fits"),
    ({"method": "nuts"}, "method 'nuts' has no NONMEM counterpart"),
    ({"covariance": "fim"}, "covariance='fim'"),
    ({"text": LIN.format(extra="").replace("cl = exp(tcl + eta_cl)", "cl = exp(tcl + eta_cl) * t")},
     "cl depends on t"),
])
def test_refusals(change, message):
    text = change.pop("text", LIN.format(extra=""))
    with pytest.raises(ControlStreamError, match=message):
        export(text, **change)


def test_endpoint_names_in_dvid_are_refused(tmp_path, shared_models):
    import pandas as pd

    frame = pd.read_csv(DATA / "warfarin.csv")
    frame["DVID"] = frame["DVID"].map({1: "cp", 2: "effect"})
    frame.to_csv(tmp_path / "w.csv", index=False)
    with pytest.raises(ControlStreamError, match="DVID holds endpoint names"):
        nl.to_nonmem(shared_models["warfarin_pkpd"], data=str(tmp_path / "w.csv"))
