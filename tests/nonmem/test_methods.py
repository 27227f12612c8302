"""$ESTIMATION and $COVARIANCE -> method, importance sampling, covariance."""

import pytest

from nlme_lab.nonmem import ControlStreamError
from nlme_lab.nonmem.methods import plan
from nlme_lab.nonmem.records import RecordKind, split_records


def run(text: str):
    cs = split_records(text)
    notes = []
    result = plan(cs.all(RecordKind.ESTIMATION), cs.one(RecordKind.COVARIANCE), notes)
    return result, notes


@pytest.mark.parametrize("text,method", [
    ("$EST METHOD=0", "fo"), ("$EST", "fo"), ("$EST METHOD=ZERO", "fo"), ("$EST METHOD=1", "foce"),
    ("$EST METHOD=COND", "foce"), ("$EST METHOD=CONDITIONAL INTERACTION", "focei"),
    ("$ESTIMATION METH=1 INTER", "focei"), ("$EST METHOD=1 LAPLACE INTER", "laplace"),
    ("$EST METHOD=SAEM INTER NBURN=500 NITER=1000", "saem"),
    ("$EST METHOD=1 INTER\n$EST METHOD=1 NOINTER", "foce"),
    ("$EST METHOD=1 INTER MAXEVAL=0\n$EST METHOD=1", "focei"),  # options carry over
])
def test_methods(text, method):
    result, _ = run(text)
    assert result.method == method


def test_imp_after_a_method_is_the_importance_sampling_objective():
    result, notes = run("$EST METHOD=SAEM INTER\n$EST METHOD=IMP EONLY=1 ISAMPLE=1000 NITER=5")
    assert (result.method, result.importance_samples) == ("saem", 1000)
    assert any("NITER" in n.message for n in notes)
    result, notes = run("$EST METHOD=1 INTER\n$EST METHOD=IMP")
    assert (result.method, result.importance_samples) == ("focei", 300)
    assert any("IMP after the estimation is read as its objective only" in n.message for n in notes)


def test_maxeval_0_is_an_evaluation_and_other_options_are_noted():
    result, notes = run("$EST METHOD=1 INTER MAXEVAL=0 PRINT=5 NOABORT SIGDIG=3 POSTHOC")
    assert result.evaluate_only
    assert {n.message.split()[0] for n in notes} == {"PRINT", "NOABORT", "SIGDIG", "POSTHOC"}


def test_no_estimation_record_is_noted():
    result, notes = run("$PROBLEM x")
    assert result.method is None and "no $ESTIMATION" in notes[0].message


@pytest.mark.parametrize("text,kind", [("$COV", "sandwich"), ("$COVARIANCE UNCONDITIONAL PRINT=E", "sandwich"),
                                       ("$COV MATRIX=R", "r"), ("$COV MATRIX=S", "s"), ("$PROBLEM x", None)])
def test_covariance(text, kind):
    assert run(f"$EST METHOD=1 INTER\n{text}")[0].covariance == kind


@pytest.mark.parametrize("text,message", [
    ("$EST METHOD=BAYES", "Bayesian"), ("$EST METHOD=ITS", "Bayesian"), ("$EST METHOD=IMP", "first method"),
    ("$EST METHOD=1 LAPLACE", "LAPLACE without INTER"), ("$EST METHOD=0 INTER", "METHOD=0 with INTER"),
    ("$EST METHOD=1 -2LL", "-2 log-likelihood"), ("$EST METHOD=1 LIKE", "likelihood"),
    ("$EST METHOD=1 CENTERING", "CENTERING"), ("$EST METHOD=2", "METHOD=2 is not supported"),
    ("$EST METHOD=1 FOOBAR", "unknown \\$ESTIMATION option FOOBAR"),
    ("$EST METHOD=1\n$EST METHOD=IMP\n$EST METHOD=1", "after IMP"),
    ("$EST METHOD=1 INTER\n$COV MATRIX=Q", "MATRIX=Q"),
])
def test_refusals(text, message):
    with pytest.raises(ControlStreamError, match=message):
        run(text)
