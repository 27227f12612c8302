"""Percentile and BCa intervals against an independent numpy/scipy computation on one table."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nlme_lab.validation.bootstrap import BootstrapResult
from nlme_lab.validation.intervals import (
    minimum_replicates,
    percentile_interval,
    rule_quantile,
)


def _result(values, jack=None, original=1.0, ci="percentile"):
    n = len(values)
    table = pd.DataFrame({"replicate": np.arange(1, n + 1), "seed": 0, "subjects": "", "status": "ok",
                          "termination": "converged", "ofv": 0.0, "error": "", "p": values})
    jk = None if jack is None else pd.DataFrame({"p": jack})
    return BootstrapResult(table, ("p",), {"p": original}, {"p": 0.1}, 0.0, "focei", n, 1, ci=ci, jackknife=jk)


@pytest.mark.parametrize("n", [39, 40, 57, 200])
def test_percentile_rule_is_numpy_weibull(n):
    x = np.random.default_rng(n).lognormal(0.0, 0.3, n)
    for p in (0.025, 0.05, 0.5, 0.95, 0.975):
        assert rule_quantile(x, p) == pytest.approx(np.quantile(x, p, method="weibull"), rel=1e-12)
    row = _result(x).summary().iloc[0]
    assert row["ci_low"] == pytest.approx(np.quantile(x, 0.025, method="weibull"), rel=1e-12)
    assert row["ci_high"] == pytest.approx(np.quantile(x, 0.975, method="weibull"), rel=1e-12)
    assert row["se"] == pytest.approx(np.std(x, ddof=1))
    assert row["bias"] == pytest.approx(x.mean() - 1.0)
    assert row["median"] == pytest.approx(np.median(x))


def test_intervals_refused_below_39_with_a_reason():
    assert minimum_replicates(0.95) == 39 and minimum_replicates(0.90) == 19
    x = np.random.default_rng(1).normal(size=38)
    interval = percentile_interval(x)
    assert np.isnan(interval.low) and "needs at least 39" in interval.note
    row = _result(x).summary().iloc[0]
    assert np.isnan(row["ci_low"]) and "38 successful replicates" in row["ci_note"]
    assert not np.isnan(percentile_interval(x, 0.90).low)


def test_bca_against_an_independent_computation():
    rng = np.random.default_rng(7)
    x = rng.gamma(4.0, 0.25, 300)
    jack = 1.0 + rng.gamma(2.0, 0.01, 25)
    original = 0.97
    # independent: Efron's formulas with scipy.stats.norm and numpy's weibull quantile
    z0 = stats.norm.ppf((np.sum(x < original) + 0.5 * np.sum(x == original)) / x.size)
    d = jack.mean() - jack
    a = np.sum(d ** 3) / (6 * np.sum(d ** 2) ** 1.5)
    zl, zh = stats.norm.ppf([0.025, 0.975])
    pl = stats.norm.cdf(z0 + (z0 + zl) / (1 - a * (z0 + zl)))
    ph = stats.norm.cdf(z0 + (z0 + zh) / (1 - a * (z0 + zh)))
    row = _result(x, jack, original, "bca").summary().iloc[0]
    assert row["ci_low"] == pytest.approx(np.quantile(x, pl, method="weibull"), rel=1e-10)
    assert row["ci_high"] == pytest.approx(np.quantile(x, ph, method="weibull"), rel=1e-10)
    # bias-corrected: differs from the plain percentile interval
    assert row["ci_low"] != pytest.approx(np.quantile(x, 0.025, method="weibull"))


def test_bca_without_acceleration_and_no_bias_is_the_percentile_interval():
    x = np.linspace(-1, 1, 201)
    row = _result(x, np.array([1.0, 1.0, 1.0]), 0.0, "bca").summary().iloc[0]
    assert row["ci_low"] == pytest.approx(np.quantile(x, 0.025, method="weibull"))
    assert row["ci_high"] == pytest.approx(np.quantile(x, 0.975, method="weibull"))


def test_not_converged_replicates_are_left_out_unless_include_all():
    x = np.arange(1.0, 51.0)
    res = _result(x)
    table = res.replicates.copy()
    table.loc[table["replicate"] > 45, "status"] = "not converged"
    res = BootstrapResult(table, ("p",), {"p": 1.0}, {}, 0.0, "focei", 50, 1)
    assert res.n_successful == 45 and len(res.failed) == 5
    assert res.summary().iloc[0]["n"] == 45
    assert res.summary(include="all").iloc[0]["n"] == 50
    assert res.summary(include="all").iloc[0]["ci_high"] == pytest.approx(np.quantile(x, 0.975, method="weibull"))
