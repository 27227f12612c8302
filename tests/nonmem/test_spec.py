"""NonmemSpec: read() refuses data on which the translated model would predict otherwise than
NONMEM; fit(model, spec) reads the data and takes the method; MAXEVAL=0 evaluates."""

import numpy as np
import pytest

import nlme_lab as nl
from nlme_lab.errors import DataError

from tests.nonmem.conftest import stream

ROWS = "1,0,.,100,1,1,{dose},70,1\n1,1,5,0,0,0,{obs},70,{occ}\n1,2,4,0,0,0,2,70,1\n"


def spec_for(tmp_path, rows: str, **records):
    (tmp_path / "data.csv").write_text(rows)
    (tmp_path / "run.mod").write_text(stream(INPUT="ID TIME DV AMT EVID MDV CMT WT OCC", **records))
    return nl.from_nonmem(tmp_path / "run.mod")


def test_an_observation_in_another_compartment_than_f_reads_is_refused(tmp_path):
    _, spec = spec_for(tmp_path, ROWS.format(dose=1, obs=1, occ=1))
    with pytest.raises(DataError, match="observation in another compartment than 2") as err:
        spec.read()
    assert (err.value.row, err.value.column) == (2, "CMT")
    _, spec = spec_for(tmp_path, ROWS.format(dose=1, obs=0, occ=1))  # CMT 0: NONMEM's default, the central
    assert spec.read().n_observations == 2


def test_a_dose_without_cmt_when_the_default_dose_compartment_is_not_the_first(tmp_path):
    records = {"SUBROUTINES": "ADVAN13", "MODEL": "COMP=(CENTRAL DEFOBS) COMP=(DEPOT DEFDOSE)",
               "PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)",
               "DES": "DADT(2) = -KA*A(2)\nDADT(1) = KA*A(2) - CL/V*A(1)", "ERROR": "Y = A(1)/V + EPS(1)"}
    _, spec = spec_for(tmp_path, ROWS.format(dose=0, obs=1, occ=1), **records)
    assert spec.dose_cmt == 2
    with pytest.raises(DataError, match="default dose compartment 2") as err:
        spec.read()
    assert err.value.row == 1


def test_a_negative_cmt_is_refused(tmp_path):
    _, spec = spec_for(tmp_path, ROWS.format(dose=1, obs=-2, occ=1))
    with pytest.raises(DataError, match="negative CMT"):
        spec.read()


def test_an_occasion_without_its_eta_is_refused(tmp_path):
    pk = ("IF (OCC.EQ.1) IOV = ETA(2)\nIF (OCC.EQ.2) IOV = ETA(3)\nKA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*EXP(IOV)\n"
          "V=THETA(3)\nS2=V")
    omega = "0.1\n$OMEGA BLOCK(1) 0.05\n$OMEGA BLOCK(1) SAME"
    _, spec = spec_for(tmp_path, ROWS.format(dose=1, obs=2, occ=3), PK=pk, OMEGA=omega)
    with pytest.raises(DataError, match="OCC = 3 has no between-occasion ETA") as err:
        spec.read()
    assert (err.value.row, err.value.column) == (2, "OCC")
    _, spec = spec_for(tmp_path, ROWS.format(dose=1, obs=2, occ=2), PK=pk, OMEGA=omega)
    np.testing.assert_array_equal(spec.read().occ, [0, 1, 0])


def test_maxeval_0_fixes_every_parameter_and_fit_evaluates():
    from tests.conftest import DATA

    model, spec = nl.from_nonmem(stream(INPUT="ID TIME DV AMT EVID MDV CMT WT DOSE",
                                        DATA=f"{DATA / 'theo_sd.csv'} IGNORE=@",
                                        PK="KA=EXP(THETA(1)+ETA(1))\nCL=EXP(THETA(2)+ETA(2))\n"
                                           "V=EXP(THETA(3)+ETA(3))\nS2=V",
                                        ERROR="Y = F + THETA(4)*EPS(1)", SIGMA="1 FIX",
                                        THETA="0.45 1.0 3.45 (0, 0.7)", OMEGA="BLOCK(2) 0.6 0.01 0.3\n$OMEGA 0.1",
                                        ESTIMATION="METHOD=1 INTER MAXEVAL=0"))
    assert all(t.fixed for t in model.thetas) and all(b.fixed for b in model.omega)
    assert any("MAXEVAL=0" in str(n) for n in spec.notes)
    twin = nl.Model("[ini]\ntka = fix(0.45)\ntcl = fix(1.0)\ntv = fix(3.45)\nadd_sd = fix(0, 0.7)\n"
                    "eta_ka + eta_cl ~ fix([0.6, 0.01, 0.3])\neta_v ~ fix(0.1)\n[model]\nka = exp(tka + eta_ka)\n"
                    "cl = exp(tcl + eta_cl)\nv = exp(tv + eta_v)\ncp = linCmt()\ncp ~ add(add_sd)\n")
    assert nl.fit(model, spec).ofv == nl.fit(twin, spec.read(), "focei").ofv


def test_spec_to_dict_and_repr(translate):
    _, spec = translate(ESTIMATION="METHOD=SAEM INTER\n$EST METHOD=IMP EONLY=1 ISAMPLE=500\n$COV MATRIX=S")
    d = spec.to_dict()
    assert (d["method"], d["covariance"], d["importance_samples"]) == ("saem", "s", 500)
    assert d["input"] == ["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "WT"] and d["filter"] == "IGNORE='@'"
    assert "method='saem'" in repr(spec) and "importance_samples=500" in repr(spec)
