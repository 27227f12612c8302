"""Power of a covariate effect from the design FIM, and the sample size for a target power."""

import numpy as np
import pytest
from scipy.stats import norm

import nlme_lab as nl
from nlme_lab.design import Design, wald_power

MODEL = """
[ini]
tcl = 0.15
tv = 8
tka = 1
tcl_wt = 0.75
eta_cl ~ 0.07
eta_v ~ 0.02
eta_ka ~ 0.6
prop_sd = 0.1
[model]
cl = tcl * (WT / 70)^tcl_wt * exp(eta_cl)
v = tv * exp(eta_v)
ka = tka * exp(eta_ka)
cp = linCmt()
cp ~ prop(prop_sd)
"""


def _design(n):
    times = [0.5, 2, 24, 120]
    return Design.from_groups([{"name": "light", "size": n, "doses": [{"amt": 70}], "times": times,
                                "covariates": {"WT": 50}},
                               {"name": "heavy", "size": n, "doses": [{"amt": 70}], "times": times,
                                "covariates": {"WT": 90}}])


def test_power_of_a_weight_effect_and_the_sample_size():
    model = nl.Model(MODEL)
    r = nl.fim(model, _design(10))
    p = wald_power(r, "tcl_wt")
    z = norm.ppf(0.975)
    se = r.se["tcl_wt"]
    assert p.power == pytest.approx(norm.cdf(0.75 / se - z) + norm.cdf(-0.75 / se - z))
    assert p.n_subjects == 20 and 0 < p.power < 1
    # the design with the sample size found reaches the target (the FIM scales with N)
    n = p.n_for_target
    bigger = wald_power(nl.fim(model, _design(int(np.ceil(n / 2)))), "tcl_wt")
    assert bigger.power >= 0.8 - 1e-9
    smaller = wald_power(nl.fim(model, _design(max(1, int(n // 2) - 1))), "tcl_wt")
    assert smaller.power < 0.8
