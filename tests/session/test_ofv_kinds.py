"""Every fit says what its OFV is (``FitResult.ofv_kind``, ``estimation.results.OFVKind``)."""

import pytest

import nlme_lab as nl
from nlme_lab.estimation.methods import MethodKind
from nlme_lab.estimation.results import OFVKind, Termination


def test_the_foce_family_reports_its_own_objective(theo, theo_fits):
    data, model = theo
    assert theo_fits[0].ofv_kind is OFVKind.FOCEI and theo_fits[0].ofv_mc_se is None
    fo = nl.fit(model, data, "fo", covariance=None)
    assert fo.ofv_kind is OFVKind.FO
    assert [OFVKind.of_method(k) for k in (MethodKind.FO, MethodKind.FOCE, MethodKind.FOCEI, MethodKind.LAPLACE)] == [
        OFVKind.FO, OFVKind.FOCE, OFVKind.FOCEI, OFVKind.LAPLACE]


def test_saem_says_importance_sampling_with_its_se_or_linearised(theo_saem):
    done, lin, stopped = theo_saem["is"], theo_saem["linearized"], theo_saem["stopped"]
    assert done.ofv_kind is OFVKind.IMPORTANCE_SAMPLING
    assert done.ofv_mc_se is not None and 0 < done.ofv_mc_se < 1
    assert abs(done.ofv - done.ofv_linearization) > 0.5  # theo_sd: IS ~118.1, linearised ~116.8
    assert lin.ofv_kind is OFVKind.LINEARIZED and lin.ofv == lin.ofv_linearization and lin.ofv_mc_se is None
    assert stopped.termination is Termination.STOPPED and stopped.iterations == 3
    assert stopped.ofv_kind is OFVKind.LINEARIZED and stopped.ofv == stopped.ofv_linearization


def test_a_small_nuts_run_is_a_posterior():
    from nlme_lab.estimation.option_text import options_from_text

    pytest.importorskip("nutpie")
    data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
    model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
    options = options_from_text("nuts", "draws=30, tune=30, chains=1, is_samples=0")
    fit = nl.fit(model, data, "nuts", seed=1, options=options)
    assert fit.ofv_kind is OFVKind.POSTERIOR and not fit.ofv_kind.comparable
