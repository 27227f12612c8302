"""What a ``FitResult`` gives the rest of the ecosystem: a summary DataFrame, labelled matrices,
a short text form, and a dict that restores every field (model text and data fingerprint
included), so a saved fit can be compared and tested for nesting later."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.estimation.results import FitResult, Posterior
from nlme_lab.model.parameter_table import ParameterTable


@pytest.fixture(scope="module")
def theo_fit(shared_models, shared_data):
    return nl.fit(shared_models["theo_sd"], shared_data["theo_sd.csv"], "focei")


@pytest.fixture(scope="module")
def saem_fit(shared_models, shared_data):
    from nlme_lab.estimation import SAEMOptions

    return nl.fit(shared_models["theo_sd"], shared_data["theo_sd.csv"], "saem", seed=3,
                  options=SAEMOptions(n_burn=30, n_em=20, is_samples=50))


def _same(a, b, where):
    """Field-by-field equality: arrays bit for bit (dtype too), NaN equal to NaN."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, nl.Model):
        assert isinstance(b, nl.Model) and (a.text, a.name) == (b.text, b.name), where
    elif isinstance(a, ParameterTable) or not dataclasses.is_dataclass(a):
        if isinstance(a, (dict, tuple, list)):
            assert type(a) is type(b) and len(a) == len(b), where
            pairs = [(a[k], b[k], f"{where}[{k!r}]") for k in a] if isinstance(a, dict) else \
                [(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))]
            if isinstance(a, dict):
                assert list(a) == list(b), where
            for x, y, w in pairs:
                _same(x, y, w)
        elif isinstance(a, float) and np.isnan(a):
            assert isinstance(b, float) and np.isnan(b), where
        else:
            assert a == b and type(a) is type(b) or (isinstance(a, (float, np.floating)) and a == b), where
    else:
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")


def _round_trip(fit) -> FitResult:
    text = json.dumps(fit.to_dict(), allow_nan=False)  # strict JSON: no NaN tokens
    back = FitResult.from_dict(json.loads(text))
    for f in dataclasses.fields(FitResult):
        if f.name == "data":
            assert back.data is None  # the dataset is not saved; its fingerprint is
            continue
        _same(getattr(fit, f.name), getattr(back, f.name), f.name)
    return back


def test_a_focei_fit_round_trips_field_by_field(theo_fit):
    assert theo_fit.covariance is not None and theo_fit.individual is not None and theo_fit.data_fingerprint
    back = _round_trip(theo_fit)
    assert back.model.parameters == theo_fit.model.parameters
    assert back.table() == theo_fit.table()


def test_a_saem_fit_round_trips_with_its_details(saem_fit):
    assert saem_fit.saem is not None and saem_fit.saem.conditional_sd.shape == saem_fit.etas.shape
    assert saem_fit.ofv_method == "importance sampling" and saem_fit.ofv_linearization < saem_fit.ofv
    _round_trip(saem_fit)


def test_a_bare_problems_fit_round_trips(wang):
    from nlme_lab.estimation import fit_problem
    from tests.estimation.spaces import wang_space

    fit = fit_problem(wang, wang_space("prop", fixed=False), "focei")
    assert fit.model is None and fit.individual is None and fit.parameters is not None
    _round_trip(fit)


def test_posterior_fields_and_odd_numbers_round_trip(theo_fit):
    rng = np.random.default_rng(1)
    posterior = Posterior(
        draws=rng.normal(size=(2, 3, 7)), draw_names=tuple(theo_fit.estimates),
        eta_draws=rng.normal(size=(2, 3, 12, 3)), eta_sd=rng.uniform(size=(12, 3)),
        loglik_draws=rng.normal(size=(2, 3)), complete_ofv_draws=rng.normal(size=(2, 3)),
        sample_stats={"diverging": np.zeros((2, 3), bool), "depth": np.ones((2, 3), np.uint64)},
        chains=2, draws_per_chain=3, chains_dropped=0, tune=10, sampler="nutpie", rhat={"tka": np.nan},
        ess_bulk={"tka": np.inf}, ess_tail={"tka": -np.inf}, divergences=0, priors="tka ~ Normal(0, 1)",
        failed_evaluations=1, live_trace_s=0.25)
    odd = dataclasses.replace(theo_fit, posterior=posterior, ofv=float("nan"), ofv_linearization=float("inf"),
                              ci={"tka": (-np.inf, np.nan)}, seed=None)
    back = _round_trip(odd)
    assert back.posterior.sample_stats["depth"].dtype == np.uint64


def test_from_dict_refuses_what_it_cannot_read(theo_fit):
    d = theo_fit.to_dict()
    with pytest.raises(nl.errors.NlmeError, match="version 99"):
        FitResult.from_dict({**d, "version": 99})
    with pytest.raises(nl.errors.NlmeError, match="lacks estimates"):
        FitResult.from_dict({k: v for k, v in d.items() if k != "estimates"})


def test_saved_fits_are_still_compared_for_nesting(shared_models, shared_data, theo_fit):
    from nlme_lab.estimation.compare import likelihood_ratio

    model = shared_models["theo_sd"].fix("eta_v")
    reduced = nl.fit(model, shared_data["theo_sd.csv"], "focei", covariance=None)
    lrt = likelihood_ratio(FitResult.from_dict(reduced.to_dict()), FitResult.from_dict(theo_fit.to_dict()))
    assert lrt.nested and lrt.df == 1 and lrt == likelihood_ratio(reduced, theo_fit)
    other = nl.read_nonmem(shared_data["theo_sd.csv"].table.assign(DV=lambda f: f["DV"] * 1.01))
    moved = FitResult.from_dict(nl.fit(model, other, "focei", covariance=None).to_dict())
    assert "different data" in likelihood_ratio(moved, theo_fit).note


def test_summary_is_a_dataframe_of_the_estimates_table(theo_fit):
    s = theo_fit.summary()
    assert list(s["parameter"]) == list(theo_fit.estimates)
    row = s.set_index("parameter")
    assert row.loc["eta_cl", "kind"] == "omega" and row.loc["add_sd", "kind"] == "residual"
    for name, value in theo_fit.estimates.items():
        assert row.loc[name, "estimate"] == value and row.loc[name, "se"] == theo_fit.se[name]
        assert row.loc[name, "rse_percent"] == theo_fit.rse[name]
        assert (row.loc[name, "ci_low"], row.loc[name, "ci_high"]) == theo_fit.ci[name]
    assert row.loc["tcl", "back_transformed"] == pytest.approx(np.exp(theo_fit.estimates["tcl"]), rel=1e-15)
    assert row.loc["eta_cl", "cv_percent"] == pytest.approx(100 * np.sqrt(np.expm1(theo_fit.estimates["eta_cl"])))
    assert row.loc["eta_cl", "shrinkage_percent"] == theo_fit.shrinkage.eta_sd["eta_cl"]
    assert np.isnan(row.loc["add_sd", "shrinkage_percent"]) and np.isnan(row.loc["add_sd", "cv_percent"])


def test_labelled_matrices_and_polars(theo_fit):
    corr, cov = theo_fit.correlation_matrix(), theo_fit.covariance_matrix()
    names = list(theo_fit.covariance.names)
    assert list(corr.index) == list(corr.columns) == names and list(cov.columns) == names
    np.testing.assert_array_equal(corr.to_numpy(), theo_fit.correlation)
    np.testing.assert_array_equal(cov.to_numpy(), theo_fit.covariance.covariance)
    assert cov.loc["tcl", "tcl"] == pytest.approx(theo_fit.se["tcl"] ** 2, rel=1e-12)
    pl = pytest.importorskip("polars")
    frame = nl.to_polars(theo_fit.summary())
    assert isinstance(frame, pl.DataFrame) and frame["estimate"].to_list() == list(theo_fit.estimates.values())
    assert nl.to_polars(corr).columns == ["parameter", *names]


def test_print_shows_the_estimates_table_not_the_fields(theo_fit):
    assert str(theo_fit) == theo_fit.table() and "tka" in str(theo_fit)
    short = repr(theo_fit)
    assert short.startswith("<FitResult>") and "OFV 116.80" in short and len(short) < 600
    assert "FOCEI" in theo_fit._repr_html_()
