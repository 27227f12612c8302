"""Smoothers, QQ points, box statistics and histories: the numbers behind the GOF figures."""

import numpy as np
import pytest
from scipy.stats import norm

from nlme_lab.diagnostics import gof
from nlme_lab.diagnostics.smooth import loess, moving_average


def test_loess_reproduces_a_straight_line():
    x = np.linspace(0, 10, 40)
    s = loess(x, 3 - 0.5 * x)
    np.testing.assert_allclose(s.y, 3 - 0.5 * s.x, atol=1e-10)


def test_loess_without_robustness_is_tricube_weighted_least_squares():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 5, 30))
    y = np.sin(x) + rng.normal(0, 0.2, 30)
    s = loess(x, y, span=0.5, iterations=0, n_grid=7)
    q = int(np.ceil(0.5 * 30))
    for x0, got in zip(s.x, s.y):
        d = np.abs(x - x0)
        h = np.sort(d)[q - 1]
        w = np.clip(1 - (d / (h * 1.000001)) ** 3, 0, None) ** 3
        coef = np.polyfit(x, y, 1, w=np.sqrt(w))
        assert got == pytest.approx(np.polyval(coef, x0), abs=1e-10)


def test_loess_robustness_resists_an_outlier():
    x = np.linspace(0, 10, 41)
    y = x + np.random.default_rng(2).normal(0, 0.05, x.size)
    y[20] = 100.0
    robust = loess(x, y, span=0.3, iterations=3)
    plain = loess(x, y, span=0.3, iterations=0)
    mid = np.argmin(np.abs(robust.x - 5))
    assert abs(robust.y[mid] - robust.x[mid]) < 0.1 < 1.0 < abs(plain.y[mid] - plain.x[mid])


def test_moving_average_by_hand():
    s = moving_average([3, 1, 2, 4, 5], [30, 10, 20, 40, 50], window=3)
    np.testing.assert_allclose(s.x, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(s.y, [15, 20, 30, 40, 45])


def test_qq_points_use_hazen_positions_and_drop_nan():
    q = gof.qq_points([2.0, np.nan, -1.0, 0.5], ids=[1, 2, 3, 4])
    np.testing.assert_allclose(q.sample, [-1.0, 0.5, 2.0])
    np.testing.assert_allclose(q.theoretical, norm.ppf([0.5 / 3, 1.5 / 3, 2.5 / 3]))
    assert q.ids.tolist() == [3, 4, 1]


def test_box_stats_quartiles_whiskers_and_outliers():
    groups = np.array([0] * 9 + [1] * 4)
    values = np.array([1, 2, 3, 4, 5, 6, 7, 8, 40, 1, 2, 3, 4], dtype=float)
    b = gof.box_stats(groups, values)
    assert b.levels == (0, 1)
    q1, med, q3 = np.percentile(values[:9], [25, 50, 75])
    assert (b.q1[0], b.median[0], b.q3[0]) == (q1, med, q3)
    assert b.upper[0] == 8 and b.lower[0] == 1 and b.outliers[0].tolist() == [40.0]
    assert b.n.tolist() == [9, 4]


def test_convergence_table_follows_history(theo_focei):
    t = gof.convergence_table(theo_focei)
    assert len(t) == len(theo_focei.history)
    assert t["OFV"].iloc[-1] == pytest.approx(min(h.ofv for h in theo_focei.history))
    assert set(theo_focei.estimates) <= set(t.columns)
