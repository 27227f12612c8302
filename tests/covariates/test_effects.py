"""Covariate effects as model transformations: text, names, PsN bounds, categorical coding,
bad input, and fits equal to hand-written models."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.covariates import covariate_relations, describe_effect
from nlme_lab.errors import DataWarning

PHENO = nl.example_path("pheno.csv")


@pytest.fixture(scope="module")
def data():
    return nl.read_nonmem(PHENO)


@pytest.fixture(scope="module")
def base():
    return nl.Model.from_file(nl.example_path("pheno_base.nlm"))


def subject_wt():
    df = pd.read_csv(PHENO)
    return df.groupby("ID", sort=False)["WT"].median(), df["WT"]


def test_linear_effect_text_names_and_psn_bounds(base, data):
    m = nl.add_covariate_effect(base, "cl", "WT", "linear", data=data)
    per_subject, records = subject_wt()
    ref = float(np.median(per_subject))  # median over subjects, as PsN
    assert ref == 1.3
    lower, upper = -1 / (records.max() - ref), 1 / (ref - records.min())
    theta = {t.name: t for t in m.thetas}["cl_wt"]
    assert theta.init == 0 and not theta.fixed
    assert theta.lower == pytest.approx(lower, rel=1e-4) and theta.lower > lower
    assert theta.upper == pytest.approx(upper, rel=1e-4) and theta.upper < upper
    assert "# cl-WT: linear covariate effect, reference 1.3 (median)" in m.text
    assert "cov_cl_wt = 1 + cl_wt * (WT - 1.3)" in m.text
    assert "cl = tvcl * exp(eta_cl) * cov_cl_wt" in m.text
    assert base.text == nl.Model.from_file(nl.example_path("pheno_base.nlm")).text  # untouched
    assert covariate_relations(m) == {"cl-WT": ("cl_wt",)}


@pytest.mark.parametrize("form, line", [
    ("power", "cov_v_wt = (WT / 1.3) ** v_wt"),
    ("exp", "cov_v_wt = exp(v_wt * (WT - 1.3))"),
    ("piecewise_linear", "cov_v_wt = 1 + v_wt_lo * min(WT - 1.3, 0) + v_wt_hi * max(WT - 1.3, 0)"),
])
def test_other_forms(base, data, form, line):
    m = nl.add_covariate_effect(base, "v", "wt", form, data=data)  # column matched case-insensitively
    assert line in m.text
    assert describe_effect(base, "v", "WT", form, data=data).df == (2 if form == "piecewise_linear" else 1)
    assert nl.remove_covariate_effect(m, "v", "WT").text == base.text


def test_categorical_reference_is_most_common_level(base, data):
    effect = describe_effect(base, "v", "APGR", "categorical", data=data)
    df = pd.read_csv(PHENO).groupby("ID")["APGR"].first()
    counts = df.value_counts()
    top = counts[counts == counts.max()].index.min()
    assert effect.reference == top and effect.df == df.nunique() - 1
    m = nl.add_covariate_effect(base, "v", "APGR", "categorical", data=data)
    names = [t.name for t in m.thetas if t.name.startswith("v_apgr")]
    assert names == [f"v_apgr_{int(k)}" for k in sorted(df.unique()) if k != top]
    assert all((t.lower, t.upper) == (-1, 5) for t in m.thetas if t.name.startswith("v_apgr"))


def test_categorical_tie_goes_to_smallest_level(base):
    df = pd.read_csv(PHENO)
    ids = df["ID"].unique()
    df["GRP"] = df["ID"].map({i: (3 if k % 2 else 8) for k, i in enumerate(ids[:58])}).fillna(5)
    effect = describe_effect(base, "cl", "GRP", "categorical", data=nl.read_nonmem(df))
    assert effect.reference == 3 and effect.theta_names == ("cl_grp_5", "cl_grp_8")


def test_allometry_and_removal(base, data):
    m = nl.add_allometry(base, "WT", reference=70, data=data)
    assert "cov_cl_wt = (WT / 70) ** cl_wt" in m.text and "cov_v_wt = (WT / 70) ** v_wt" in m.text
    fixed = {t.name: (t.init, t.fixed) for t in m.thetas}
    assert fixed["cl_wt"] == (0.75, True) and fixed["v_wt"] == (1.0, True)
    back = nl.remove_covariate_effect(nl.remove_covariate_effect(m, "cl", "WT"), "v", "WT")
    assert back.text == base.text


def test_bad_input_is_a_clear_error_before_any_fit(base, data):
    with pytest.raises(ValueError, match="covariate 'CRCL' is not a column.*WT, APGR"):
        nl.add_covariate_effect(base, "cl", "CRCL", "linear", data=data)
    with pytest.raises(ValueError, match="parameter 'ka' is not assigned.*cl, v"):
        nl.add_covariate_effect(base, "ka", "WT", "linear", data=data)
    df = pd.read_csv(PHENO)
    df["ONE"] = 1
    with pytest.raises(ValueError, match="categorical covariate 'ONE' has a single level"):
        nl.add_covariate_effect(base, "cl", "ONE", "categorical", data=nl.read_nonmem(df))
    df.loc[df.ID.isin([3, 7]), "WT"] = np.nan
    with pytest.warns(DataWarning, match="missing on every record"):
        missing = nl.read_nonmem(df)
    with pytest.raises(ValueError, match=r"'WT' has missing values in subject\(s\) 3, 7"):
        nl.add_covariate_effect(base, "cl", "WT", "linear", data=missing)
    with pytest.raises(ValueError, match="unknown covariate form 'cubic'"):
        nl.add_covariate_effect(base, "cl", "WT", "cubic", data=data)
    m = nl.add_covariate_effect(base, "cl", "WT", "linear", data=data)
    with pytest.raises(ValueError, match="already has a cl-WT effect"):
        nl.add_covariate_effect(m, "cl", "WT", "power", data=data)
    with pytest.raises(ValueError, match="no v-WT effect.*cl-WT"):
        nl.remove_covariate_effect(m, "v", "WT")
    with pytest.raises(ValueError, match="scm relation.*|parameter 'ka'"):
        nl.scm(base, data, {"ka": ["WT"]}, scheduler="serial")


HAND_WRITTEN = """\
[ini]
tvcl  = (0, 0.0066)
tvv   = (0, 1.4)
eta_cl ~ 0.1
eta_v  ~ 0.1
prop_sd = (0, 0.12)
cl_wt = (-0.434778, 0, 1.42856)

[model]
cl = tvcl * exp(eta_cl) * (1 + cl_wt * (WT - 1.3))
v  = tvv * exp(eta_v)
cp = linCmt()
cp ~ prop(prop_sd)
"""


def test_transformed_model_fits_as_the_hand_written_one(base, data):
    m = nl.add_covariate_effect(base, "cl", "WT", "linear", data=data)
    a = nl.fit(m, data, "focei", covariance=None, parallel=False)
    b = nl.fit(nl.Model(HAND_WRITTEN), data, "focei", covariance=None, parallel=False)
    assert a.converged and b.converged
    assert a.ofv == pytest.approx(b.ofv, abs=1e-6)
    for name, value in b.estimates.items():
        assert a.estimates[name] == pytest.approx(value, rel=1e-5)


def test_categorical_renaming_gives_the_same_ofv(base):
    """A first level that is rare (1: APGR < 5) or renamed (9, listed last): the reference is
    the common level either way, so the fits are the same."""
    df = pd.read_csv(PHENO)
    first = df.assign(GRP=np.where(df.APGR < 5, 1, 2))
    renamed = df.assign(GRP=np.where(df.APGR < 5, 9, 4))
    fits = []
    for frame, theta in ((first, "v_grp_1"), (renamed, "v_grp_9")):
        d = nl.read_nonmem(frame)
        effect = describe_effect(base, "v", "GRP", "categorical", data=d)
        assert effect.theta_names == (theta,) and effect.df == 1
        m = nl.add_covariate_effect(base, "v", "GRP", "categorical", data=d)
        fits.append(nl.fit(m, d, "focei", covariance=None, parallel=False))
    assert fits[0].ofv == pytest.approx(fits[1].ofv, abs=1e-6)
    assert fits[0].estimates["v_grp_1"] == pytest.approx(fits[1].estimates["v_grp_9"], rel=1e-5)
