"""Abbreviated code -> model text: each construct of item 2 of issue 22, and the refusals."""

import warnings

import pytest

from nlme_lab.nonmem import ControlStreamError

from tests.nonmem.conftest import ini_lines, model_lines


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_advan2_trans2_with_s2_v_observes_linCmt_directly(translate):
    model, spec = translate()
    assert model_lines(model) == ["ka = theta1 * exp(eta1)", "cl = theta2", "v = theta3", "s2 = v", "f = linCmt()",
                                  "f ~ add(add_sd)"]
    assert ini_lines(model)[-1].startswith("add_sd = (0, 0.7071067811865476)")  # SD = sqrt(SIGMA 0.5)
    assert (spec.method, spec.observed_cmt, spec.dose_cmt) == ("focei", 2, 1)


def test_a_scale_other_than_the_volume_divides_the_amount(translate):
    model, _ = translate(PK="KA=THETA(1)\nCL=THETA(2)*EXP(ETA(1))\nV=THETA(3)\nS2=V/1000")
    assert model_lines(model)[-4:] == ["s2 = v / 1000", "conc = linCmt()", "f = conc * v / s2", "f ~ add(add_sd)"]


@pytest.mark.parametrize("advan,pk,expected", [
    ("ADVAN1 TRANS1", "K=THETA(1)*EXP(ETA(1))\nS1=1", ["k = theta1 * exp(eta1)", "s1 = 1", "v = 1", "cl = k"]),
    ("ADVAN1,TRANS2", "CL=THETA(1)*EXP(ETA(1))\nV=THETA(2)\nS1=V", ["cl = theta1 * exp(eta1)", "v = theta2"]),
    ("ADVAN3 TRANS4", "CL=THETA(1)*EXP(ETA(1))\nV1=THETA(2)\nQ=THETA(3)\nV2=THETA(4)",
     ["cl = theta1 * exp(eta1)", "v = theta2", "q = theta3", "v2 = theta4"]),
    ("ADVAN4 TRANS4", "KA=THETA(5)\nCL=THETA(1)*EXP(ETA(1))\nV2=THETA(2)\nQ=THETA(3)\nV3=THETA(4)",
     ["ka = theta5", "cl = theta1 * exp(eta1)", "v = theta2", "q = theta3", "v2 = theta4"]),
    ("ADVAN11 TRANS4", "CL=THETA(1)*EXP(ETA(1))\nV1=THETA(2)\nQ2=THETA(3)\nV2=THETA(4)\nQ3=THETA(5)\nV3=THETA(1)",
     ["cl = theta1 * exp(eta1)", "v = theta2", "q = theta3", "v2 = theta4", "q2 = theta5", "v3 = theta1"]),
    ("ADVAN12 TRANS4", "CL=THETA(1)*EXP(ETA(1))\nV2=THETA(2)\nQ3=THETA(3)\nV3=THETA(4)\nQ4=THETA(5)\nV4=THETA(1)\n"
     "KA=THETA(2)", ["cl = theta1 * exp(eta1)", "v = theta2", "q = theta3", "v2 = theta4", "q2 = theta5",
                     "v3 = theta1", "ka = theta2"]),
    ("ADVAN3 TRANS1", "K=THETA(1)*EXP(ETA(1))\nK12=THETA(2)\nK21=THETA(3)",
     ["k = theta1 * exp(eta1)", "k12 = theta2", "k21 = theta3", "v = 1", "cl = k", "q = k12", "v2 = k12 / k21"]),
])
def test_closed_forms_map_their_parameters_to_linCmt(translate, advan, pk, expected):
    model, _ = translate(SUBROUTINES=advan, PK=pk, THETA="1 2 3 4 5")
    assert model_lines(model)[:len(expected)] == expected
    assert "linCmt()" in model.text


def test_names_of_the_advan_parameters_other_than_linCmt_s_are_renamed(translate):
    model, _ = translate(SUBROUTINES="ADVAN4 TRANS4",
                         PK="KA=THETA(1)\nCL=THETA(2)*EXP(ETA(1))\nV=THETA(3)\nV2=V\nQ=THETA(4)\nV3=THETA(5)\nS2=V2",
                         THETA="1 2 3 4 5")
    assert model_lines(model)[:6] == ["ka = theta1", "cl = theta2 * exp(eta1)", "v_2 = theta3", "v = v_2",
                                      "q = theta4", "v2 = theta5"]
    assert model_lines(model)[-2:] == ["f = linCmt()", "f ~ add(add_sd)"]


def test_if_blocks_become_single_assignments_with_conditions(translate):
    pk = ("TVCL=THETA(2)\nIF (WT.GT.70) THEN\n TVCL=TVCL*1.2\nELSE IF (WT.GT.50) THEN\n TVCL=TVCL*1.1\nELSE\n"
          " TVCL=TVCL*0.9\nENDIF\nCL=TVCL*EXP(ETA(1))\nIF (WT.LT.40) CL=CL/2\nKA=THETA(1)\nV=THETA(3)\nS2=V")
    model, _ = translate(PK=pk)
    assert model_lines(model)[:5] == [
        "tvcl_1 = theta2", "tvcl = tvcl_1 * 1.2 if WT > 70 else tvcl_1 * 1.1 if WT > 50 else tvcl_1 * 0.9",
        "cl_1 = tvcl * exp(eta1)", "cl = cl_1 / 2 if WT < 40 else cl_1", "ka = theta1"]


def test_one_line_if_overrides_an_earlier_value_as_in_pheno(translate):
    pk = "TVV=THETA(3)*WT\nIF(APGR.LT.5) TVV=TVV*(1+THETA(1))\nV=TVV*EXP(ETA(1))\nCL=THETA(2)\nKA=THETA(1)\nS2=V"
    model, _ = translate(PK=pk, INPUT="ID TIME DV AMT EVID MDV CMT WT APGR")
    assert model_lines(model)[:3] == ["tvv_1 = theta3 * WT", "tvv = tvv_1 * (1 + theta1) if APGR < 5 else tvv_1",
                                      "v = tvv * exp(eta1)"]
    assert model.covariates == ("WT", "APGR")


def test_a_variable_assigned_only_under_if_is_zero_elsewhere_with_a_note(translate):
    model, spec = translate(PK="KA=THETA(1)\nCL=THETA(2)\nV=THETA(3)\nS2=V\nIF (WT.GT.70) HEAVY=1")
    assert "heavy = 1 if WT > 70 else 0" in model_lines(model)
    assert any("HEAVY has no value where no branch" in str(n) and n.line == 9 for n in spec.notes)


def test_mu_referencing_and_dose_modifiers(translate):
    pk = ("MU_1=LOG(THETA(1))\nKA=EXP(MU_1+ETA(1))\nCL=THETA(2)\nV=THETA(3)\nS2=V\nF1=THETA(4)\nALAG1=THETA(5)\n"
          "R2=THETA(2)\nD2=THETA(1)")
    model, _ = translate(PK=pk, THETA="(0,1.5) (0,2.7) (0,30) (0,0.8,1) (0,0.5)")
    lines = model_lines(model)
    assert lines[:2] == ["mu_1 = log(theta1)", "ka = exp(mu_1 + eta1)"]
    assert {"f(depot) = f1", "alag(depot) = alag1", "rate(central) = r2", "dur(central) = d2"} <= set(lines)
    assert "theta4 = (0, 0.8, 1)" in ini_lines(model)


def test_initial_amounts_a_0(translate):
    model, _ = translate(PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)\nS2=V\nA_0(2)=THETA(3)*2")
    assert "central(0) = theta3 * 2" in model_lines(model)


def test_ode_model_with_model_and_des(translate):
    model, spec = translate(
        SUBROUTINES="ADVAN13 TOL=9", MODEL="COMP=(DEPOT DEFDOSE) COMP=(CENTRAL DEFOBS)",
        PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)\nS2=V\nA_0(1)=0",
        DES="C2 = A(2)/V\nDADT(1) = -KA*A(1)\nDADT(2) = KA*A(1) - CL*C2",
        ERROR="IPRED = F\nY = IPRED + EPS(1)")
    assert model_lines(model) == ["ka = theta1 * exp(eta1)", "cl = theta2", "v = theta3", "s2 = v",
                                  "depot(0) = 0", "c2 = central / v", "d/dt(depot) = -ka * depot",
                                  "d/dt(central) = ka * depot - cl * c2", "f = central / s2", "ipred = f",
                                  "ipred ~ add(add_sd)"]
    assert spec.observed_cmt == 2 and any("TOL=9 left out" in str(n) for n in spec.notes)


def test_des_reads_t_as_time(translate):
    model, _ = translate(SUBROUTINES="ADVAN6", MODEL="COMP=(CENTRAL DEFDOSE)",
                         PK="K=THETA(1)*EXP(ETA(1))", DES="DADT(1) = -K*A(1)*EXP(-T)", ERROR="Y = A(1) + EPS(1)",
                         THETA="(0,1)")
    assert "d/dt(central) = -k * central * exp(-t)" in model_lines(model)
    assert model_lines(model)[-1] == "central ~ add(add_sd)" or model_lines(model)[-2:] == [
        "ipred = central", "ipred ~ add(add_sd)"]


def test_pred_model_reads_time(translate):
    model, spec = translate(SUBROUTINES=None, PK=None, ERROR=None, THETA="(0, 0.5)",
                            PRED="KE = THETA(1)*EXP(ETA(1))\nIPRED = 10*EXP(-KE*TIME)\nY = IPRED*(1 + EPS(1))")
    assert model_lines(model) == ["ke = theta1 * exp(eta1)", "ipred = 10 * exp(-ke * t)", "ipred ~ prop(prop_sd)"]
    assert model.compartments == () and spec.observed_cmt is None


@pytest.mark.parametrize("error,terms,sds", [
    ("Y = F + EPS(1)", "add(add_sd)", ["add_sd = (0, 0.7071067811865476)"]),
    ("Y = F*(1+EPS(1))", "prop(prop_sd)", ["prop_sd = (0, 0.7071067811865476)"]),
    ("Y = F*EXP(EPS(1))", "prop(prop_sd)", ["prop_sd = (0, 0.7071067811865476)"]),
    ("Y = F + F*ERR(1) + ERR(2)", "add(add_sd) + prop(prop_sd)",
     ["add_sd = (0, 0.2)", "prop_sd = (0, 0.7071067811865476)"]),
    ("IPRED=F\nW=SQRT(IPRED**2*THETA(4)**2 + THETA(5)**2)\nY = IPRED + W*EPS(1)", "add(theta5) + prop(theta4)", []),
    ("IPRED=F\nW=THETA(4)*IPRED\nIF (W.EQ.0) W=1\nY = IPRED + W*EPS(1)", "prop(theta4)", []),
    ("W=THETA(5)\nY = F + W*EPS(1)", "add(theta5)", []),
])
def test_residual_error_patterns(translate, error, terms, sds):
    sigma = "1 FIX" if "THETA" in error else "0.5 0.04"
    model, _ = translate(ERROR=error, SIGMA=sigma, THETA="(0,1.5) (0,2.7) (0,30) (0,0.1) (0,0.3)")
    assert model_lines(model)[-1].split(" ~ ")[1] == terms
    assert [line.split("  #")[0] for line in ini_lines(model) if "_sd" in line] == sds


def test_log_transform_both_sides_is_an_additive_error_on_log_f(translate):
    model, spec = translate(ERROR="IPRED = LOG(F)\nY = IPRED + EPS(1)")
    assert model_lines(model)[-3:] == ["f = linCmt()", "ipred = log(f)", "ipred ~ add(add_sd)"]
    model, _ = translate(ERROR="Y = LOG(F) + EPS(1)")
    assert model_lines(model)[-2:] == ["ipred = log(f)", "ipred ~ add(add_sd)"]


def test_zero_fixed_omega_removes_its_eta(translate):
    model, spec = translate(PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*EXP(ETA(2))\nV=THETA(3)\nS2=V",
                            OMEGA="0.1 0 FIX")
    assert model_lines(model)[:2] == ["ka = theta1 * exp(eta1)", "cl = theta2 * exp(0)"]
    assert [e.name for e in model.etas] == ["eta1"] and any("ETA(2) has variance 0 FIX" in str(n) for n in spec.notes)


def test_block_omega_and_labels(translate):
    model, _ = translate(PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*EXP(ETA(2))\nV=THETA(3)*EXP(ETA(3))\nS2=V",
                         OMEGA="0.4 ; IIV KA\n$OMEGA BLOCK(2) 0.1 0.02 0.2 FIX")
    assert ini_lines(model)[3:5] == ["eta1 ~ 0.4  # IIV KA", "eta2 + eta3 ~ fix([0.1, 0.02, 0.2])"]


def test_between_occasion_variability_becomes_a_kappa(translate):
    pk = ("IOV = 0\nIF (OCC.EQ.1) IOV = ETA(2)\nIF (OCC.EQ.2) IOV = ETA(3)\nIF (OCC.EQ.3) IOV = ETA(4)\n"
          "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*EXP(IOV)\nV=THETA(3)\nS2=V")
    model, spec = translate(INPUT="ID TIME DV AMT EVID MDV CMT WT OCC", PK=pk,
                            OMEGA="0.1\n$OMEGA BLOCK(1) 0.05 ; IOV CL\n$OMEGA BLOCK(1) SAME\n$OMEGA BLOCK(1) SAME")
    assert "kappa2 ~ 0.05 | OCC  # IOV CL" in ini_lines(model)
    assert model_lines(model)[:3] == ["iov = kappa2", "ka = theta1 * exp(eta1)", "cl = theta2 * exp(iov)"]
    assert [k.name for k in model.kappas] == ["kappa2"]
    assert spec.occasions.column == "OCC" and spec.occasions.values == (1, 2, 3)
    assert "OCC" not in spec.drop


def test_iov_blocks_of_two_kappas_in_block_ifs(translate):
    pk = ("IF (VIS.EQ.1) THEN\n ICL = ETA(2)\n IV = ETA(3)\nENDIF\nIF (VIS.EQ.2) THEN\n ICL = ETA(4)\n IV = ETA(5)\n"
          "ENDIF\nKA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*EXP(ICL)\nV=THETA(3)*EXP(IV)\nS2=V")
    model, spec = translate(INPUT="ID TIME DV AMT EVID MDV CMT WT VIS", PK=pk,
                            OMEGA="0.1\n$OMEGA BLOCK(2) 0.05 0.01 0.04\n$OMEGA BLOCK(2) SAME")
    assert "kappa2 + kappa3 ~ [0.05, 0.01, 0.04] | VIS" in ini_lines(model)
    assert model_lines(model)[:2] == ["icl = kappa2", "iv = kappa3"]


@pytest.mark.parametrize("pk,message", [
    ("IF (OCC.EQ.1) IOV = ETA(2)\nCL=THETA(2)*EXP(IOV)", "no IF \\(...\\) picks the ETAs of occasion slot\\(s\\) \\[2\\]"),
    ("IF (OCC.EQ.1) IOV = ETA(2)\nIF (OCC.EQ.2) IOV = ETA(3)\nCL=THETA(2)*EXP(IOV+ETA(3))",
     "ETA\\(3\\) belongs to a BLOCK SAME group"),
    ("IF (OCC.GT.1) IOV = ETA(2)\nIF (OCC.EQ.2) IOV = ETA(3)\nCL=THETA(2)", "other than IF \\(OCC.EQ.k\\)"),
    ("CL=THETA(2)", "never picked by IF"),
])
def test_iov_refusals(translate, pk, message):
    with pytest.raises(ControlStreamError, match=message):
        translate(INPUT="ID TIME DV AMT EVID MDV CMT WT OCC", PK=pk + "\nKA=THETA(1)*EXP(ETA(1))\nV=THETA(3)\nS2=V",
                  OMEGA="0.1\n$OMEGA BLOCK(1) 0.05\n$OMEGA BLOCK(1) SAME")


def test_real_stream_details_record_abbreviations_and_error_options(translate):
    model, spec = translate(ERROR="(ONLY OBSERVATIONS) ; comment\nIPRED = F\nY = IPRED + ERR(1)",
                            ESTIMATION="METHOD=CONDITIONAL INTER\n$COV\n$TABLE ID TIME IPRED\n$SIZES LTH=50\n"
                                       "$SCAT DV VS IPRED")
    assert model_lines(model)[-1] == "ipred ~ add(add_sd)"
    assert spec.method == "focei" and spec.covariance == "sandwich"
    assert sum("left out (it sets output or sizes only)" in str(n) for n in spec.notes) == 3


def test_statements_reading_dv_are_left_out_with_a_note_unless_needed(translate):
    model, spec = translate(ERROR="IPRED=F\nIRES=DV-IPRED\nW=THETA(4)\nIWRES=IRES/W\nY=IPRED+W*EPS(1)",
                            SIGMA="1 FIX", THETA="(0,1.5) (0,2.7) (0,30) (0,0.5)")
    assert model_lines(model)[-2:] == ["ipred = f", "ipred ~ add(theta4)"]
    assert any(str(n).startswith("IRES, IWRES left out") for n in spec.notes)


@pytest.mark.parametrize("records,message", [
    ({"PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*TIME\nV=THETA(3)\nS2=V"}, "TIME in \\$PK is not translated"),
    ({"PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)*DV\nS2=V"}, "V is needed by the model, but DV"),
    ({"PK": "KA=THETA(1)*EXP(EPS(1))\nCL=THETA(2)\nV=THETA(3)\nS2=V"}, "EPS\\(1\\) outside \\$ERROR"),
    ({"PK": "KA=THETA(1)*GAMLN(ETA(1))\nCL=THETA(2)\nV=THETA(3)\nS2=V"}, "the function GAMLN is not supported"),
    ({"PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*XX\nV=THETA(3)\nS2=V"}, "XX is used before it is assigned"),
    ({"PK": "KA=THETA(9)\nCL=THETA(2)\nV=THETA(3)\nS2=V"}, "THETA\\(9\\): \\$THETA has 3 values"),
    ({"PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nS2=1"}, "ADVAN2 TRANS2 needs V assigned in \\$PK"),
    ({"PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)\nF3=0.5"}, "F3 names compartment 3"),
    ({"PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)\nIF (NEWIND.NE.2) X=1"}, "NEWIND is not translated"),
    ({"PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)\nWT=70"}, "WT is a data item"),
    ({"SUBROUTINES": "ADVAN5"}, "ADVAN5 is not supported"),
    ({"SUBROUTINES": "ADVAN3 TRANS3"}, "TRANS3 with ADVAN3 is not supported"),
    ({"SUBROUTINES": "ADVAN2 TRANS2 OTHER=mine.f90"}, "OTHER=MINE.F90 is not supported"),
    ({"SUBROUTINES": "ADVAN13"}, "ADVAN13 needs a \\$MODEL"),
    ({"ERROR": "Y = F + THETA(3)*EPS(1)"}, "SIGMA1\\*THETA3\\*\\*2 is a THETA times an estimated SIGMA"),
    ({"ERROR": "Y = F + F**THETA(3)*EPS(1)"}, "not a \\+ b\\*P\\*\\*2"),
    ({"ERROR": "W = THETA(3) + THETA(2)*F\nY = F + W*EPS(1)", "SIGMA": "1 FIX"}, "a term in P"),
    ({"ERROR": "Y = F + WT*EPS(1)"}, "depends on WT"),
    ({"ERROR": "Y = F", "SIGMA": "0.1"}, "no residual error"),
    ({"ERROR": "IPRED = F"}, "Y is never assigned"),
    ({"ERROR": "IF (CMT.EQ.2) Y = F + EPS(1)"}, "Y depends on conditions"),
    ({"ERROR": "Y = F + EPS(1) + EPS(2)", "SIGMA": "BLOCK(2) 0.1 0.01 0.1"}, "has covariances"),
    ({"ERROR": "(OBSERVATIONS ONLY NOPREDICTION)\nY = F + EPS(1)"}, "\\$ERROR \\(OBSERVATIONS ONLY NOPREDICTION\\)"),
    ({"ERROR": "IPRED=F\nW=THETA(3)\nY=IPRED+W*EPS(1)", "SIGMA": "1 FIX",
      "PK": "KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)\nV=THETA(3)\nS2=V"}, "THETA\\(3\\) is a residual SD"),
    ({"OMEGA": "0 0.1"}, "OMEGA 1 is 0 but not FIX"),
    ({"THETA": "(0,1.5) (0,2.7) (0,30,30)"}, "THETA\\(3\\): the initial value 30 is on a bound"),
])
def test_refusals_name_record_and_line(translate, records, message):
    with pytest.raises(ControlStreamError, match=message):
        translate(**records)


def test_local_roles_used_as_covariates_are_refused(translate):
    with pytest.raises(ControlStreamError, match="CENS is read as a covariate"):
        translate(INPUT="ID TIME DV AMT EVID MDV CMT CENS", PK="KA=THETA(1)*EXP(ETA(1)*CENS)\nCL=THETA(2)\n"
                                                             "V=THETA(3)\nS2=V")
    _, spec = translate(INPUT="ID TIME DV AMT EVID MDV CMT DVID CENS")
    assert spec.drop == ("DVID", "CENS")


def test_a_synonym_in_code_reads_its_column(translate):
    model, spec = translate(INPUT="ID TIME DV AMT EVID MDV CMT WT=WEIGHT",
                            PK="KA=THETA(1)*EXP(ETA(1))\nCL=THETA(2)*WEIGHT/70\nV=THETA(3)*WT\nS2=V")
    assert model_lines(model)[1:3] == ["cl = theta2 * WT / 70", "v = theta3 * WT"] and model.covariates == ("WT",)
    assert spec.names[-1] == "WT"


def test_abbreviated_options_that_change_no_estimate_are_noted_others_refused(translate):
    _, spec = translate(ESTIMATION="METHOD=1 INTER\n$ABBR DERIV2=NO")
    assert any("$ABBREVIATED DERIV2=NO left out" in str(n) for n in spec.notes)
    with pytest.raises(ControlStreamError, match="\\$ABBREVIATED REPLACE"):
        translate(ESTIMATION="METHOD=1 INTER\n$ABBR REPLACE THETA(CL)=THETA(1)")
