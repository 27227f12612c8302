"""Cross-validation: a fold's prediction OFV is the OFV of the held-out data at the training
estimates, everything fixed (nl.fit evaluates a model whose parameters are all fixed)."""

import numpy as np
import pytest

import nlme_lab as nl
from nlme_lab.errors import NlmeError


@pytest.fixture(scope="module")
def theo_cv(theo_fit):
    return nl.crossvalidate(theo_fit, folds=3, seed=5, scheduler="serial")


def test_folds_partition_the_subjects(theo_cv, theo_fit):
    folds = theo_cv.folds
    assert folds["fold"].tolist() == [1, 2, 3]
    ids = [i for s in folds["ids"] for i in s.split()]
    assert sorted(ids, key=float) == [str(i) for i in theo_fit.subject_ids]
    assert folds["n_test"].tolist() == [4, 4, 4] and (folds["n_train"] == 8).all()
    assert theo_cv.sum_prediction_ofv == pytest.approx(folds["prediction_ofv"].sum())
    assert (folds["status"] != "failed").all()


def test_prediction_ofv_equals_a_fit_with_everything_fixed(theo_cv, theo_fit):
    frame = theo_fit.data.table
    for k in range(len(theo_cv.folds)):
        row, est = theo_cv.folds.iloc[k], theo_cv.estimates.iloc[k]
        held = frame[frame["ID"].astype(str).isin(row["ids"].split())]
        model = theo_fit.model.with_initial(**{n: est[n] for n in theo_fit.estimates})
        fixed = nl.fit(model.fix(*theo_fit.estimates), held, "focei")
        assert row["prediction_ofv"] == pytest.approx(fixed.ofv, abs=1e-6)
        # the estimation OFV is that of a fit on the other folds
        assert np.isfinite(row["estimation_ofv"]) and row["estimation_ofv"] != row["prediction_ofv"]


def test_fold_of_reproduces_a_given_split_and_checks_folds(theo_fit, theo_cv):
    mapping = theo_cv.fold_of
    again = nl.crossvalidate(theo_fit, folds=None, fold_of=mapping, scheduler="serial")
    assert again.folds["ids"].tolist() == theo_cv.folds["ids"].tolist()
    assert again.folds["prediction_ofv"].tolist() == pytest.approx(theo_cv.folds["prediction_ofv"].tolist())
    with pytest.raises(NlmeError, match="folds=5 but fold_of gives 3 folds"):
        nl.crossvalidate(theo_fit, folds=5, fold_of=mapping, scheduler="serial")
    with pytest.raises(NlmeError, match="no fold for subject ID"):
        nl.crossvalidate(theo_fit, folds=None, fold_of={1: 1, 2: 2}, scheduler="serial")
