"""The ADVAN/TRANS maps checked by numbers: a closed form's predictions equal those of the same
system written with micro constants (TRANS1) and as ODEs (ADVAN13 $DES), on real dosing records."""

import warnings

import numpy as np
import pytest

import nlme_lab as nl

from tests.conftest import DATA
from tests.nonmem.conftest import stream

THEO = dict(INPUT="ID TIME DV AMT EVID MDV CMT WT DOSE", DATA=f"{DATA / 'theo_sd.csv'} IGNORE=@",
            THETA="(0,1.5) (0,2.8) (0,32) (0,0.9) (0,20) (0,0.3) (0,50)", OMEGA="0.1", SIGMA="0.1")
PHENO = dict(INPUT="ID TIME DV AMT EVID MDV CMT WT APGR", DATA=f"{DATA / 'pheno.csv'} IGNORE=@",
             THETA="(0,0.005) (0,1.0) (0,0.002) (0,0.8) (0,0.001) (0,2)", OMEGA="0.1", SIGMA="0.1")


def ipred(**records) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, spec = nl.from_nonmem(stream(**records))
    table = nl.simulate(model, spec.read(), seed=1).table
    return table["IPRED"].to_numpy()[table["EVID"].to_numpy() == 0]


ORAL_2CMT = {
    "trans4": dict(SUBROUTINES="ADVAN4 TRANS4", PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV2=THETA(3)\nQ=THETA(4)\n"
                                                  "V3=THETA(5)\nS2=V2"),
    "trans1": dict(SUBROUTINES="ADVAN4 TRANS1", PK="KA=THETA(1)*EXP(ETA(1))\nV=THETA(3)\nK=THETA(2)/V\n"
                                                  "K23=THETA(4)/V\nK32=THETA(4)/THETA(5)\nS2=V"),
    "ode": dict(SUBROUTINES="ADVAN13", MODEL="COMP=(DEPOT DEFDOSE) COMP=(CENT DEFOBS) COMP=(PERI)",
                PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV2=THETA(3)\nQ=THETA(4)\nV3=THETA(5)\nS2=V2",
                DES="DADT(1)=-KA*A(1)\nDADT(2)=KA*A(1)-CL/V2*A(2)-Q/V2*A(2)+Q/V3*A(3)\nDADT(3)=Q/V2*A(2)-Q/V3*A(3)"),
}
ORAL_3CMT = {
    "trans4": dict(SUBROUTINES="ADVAN12 TRANS4", PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV2=THETA(3)\nQ3=THETA(4)\n"
                                                   "V3=THETA(5)\nQ4=THETA(6)\nV4=THETA(7)\nS2=V2"),
    "trans1": dict(SUBROUTINES="ADVAN12 TRANS1", PK="KA=THETA(1)*EXP(ETA(1))\nV=THETA(3)\nK=THETA(2)/V\n"
                                                   "K23=THETA(4)/V\nK32=THETA(4)/THETA(5)\nK24=THETA(6)/V\n"
                                                   "K42=THETA(6)/THETA(7)\nS2=V"),
    "ode": dict(SUBROUTINES="ADVAN13", MODEL="COMP=(DEPOT DEFDOSE) COMP=(CENT DEFOBS) COMP=(P1) COMP=(P2)",
                PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV2=THETA(3)\nQ3=THETA(4)\nV3=THETA(5)\nQ4=THETA(6)\n"
                   "V4=THETA(7)\nS2=V2",
                DES="DADT(1)=-KA*A(1)\nDADT(2)=KA*A(1)-CL/V2*A(2)-Q3*(A(2)/V2-A(3)/V3)-Q4*(A(2)/V2-A(4)/V4)\n"
                    "DADT(3)=Q3*(A(2)/V2-A(3)/V3)\nDADT(4)=Q4*(A(2)/V2-A(4)/V4)"),
}
IV = {
    "advan1_trans1": dict(SUBROUTINES="ADVAN1 TRANS1", PK="V=THETA(2)*WT*EXP(ETA(1))\nK=THETA(1)*WT/V\nS1=V"),
    "advan1_trans2": dict(SUBROUTINES="ADVAN1 TRANS2", PK="CL=THETA(1)*WT\nV=THETA(2)*WT*EXP(ETA(1))\nS1=V"),
}
IV_3CMT = {
    "trans4": dict(SUBROUTINES="ADVAN11 TRANS4", PK="CL=THETA(1)*WT\nV1=THETA(2)*WT*EXP(ETA(1))\nQ2=THETA(3)\n"
                                                  "V2=THETA(4)\nQ3=THETA(5)\nV3=THETA(6)\nS1=V1"),
    "trans1": dict(SUBROUTINES="ADVAN11 TRANS1", PK="V1=THETA(2)*WT*EXP(ETA(1))\nK=THETA(1)*WT/V1\nK12=THETA(3)/V1\n"
                                                  "K21=THETA(3)/THETA(4)\nK13=THETA(5)/V1\nK31=THETA(5)/THETA(6)\n"
                                                  "S1=V1"),
    "advan3_with_q3_0": dict(SUBROUTINES="ADVAN3 TRANS4", PK="CL=THETA(1)*WT\nV1=THETA(2)*WT*EXP(ETA(1))\n"
                                                            "Q=THETA(3)\nV2=THETA(4)\nS1=V1"),
}


@pytest.mark.parametrize("forms", [ORAL_2CMT, ORAL_3CMT], ids=["ADVAN4", "ADVAN12"])
def test_oral_closed_forms_equal_micro_constants_and_odes(forms):
    closed = ipred(**THEO, **forms["trans4"])
    assert closed.max() > 1  # mg/L: the doses are in the system
    np.testing.assert_allclose(ipred(**THEO, **forms["trans1"]), closed, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ipred(**THEO, **forms["ode"]), closed, rtol=1e-6, atol=1e-9)


def test_iv_closed_forms_equal_micro_constants():
    np.testing.assert_allclose(ipred(**PHENO, **IV["advan1_trans1"]), ipred(**PHENO, **IV["advan1_trans2"]),
                               rtol=1e-10)
    three = ipred(**PHENO, **IV_3CMT["trans4"])
    np.testing.assert_allclose(ipred(**PHENO, **IV_3CMT["trans1"]), three, rtol=1e-10)
    # the third compartment matters: ADVAN3 (without it) predicts otherwise
    assert np.max(np.abs(ipred(**PHENO, **IV_3CMT["advan3_with_q3_0"]) / three - 1)) > 0.01
