"""Modeled infusion rate (RATE = -1) and duration (RATE = -2) on a closed-form model, against
the one-compartment infusion formula; F scales the amount (and so the duration at a modeled
rate)."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl

MODEL = """
[ini]
tcl = log(2)
add_sd = 0.1
[model]
cl = exp(tcl)
v = 25
rate(central) = 40
dur(central) = 3
f(central) = 0.75
cp = linCmt()
cp ~ add(add_sd)
"""


def _infusion(t, amount, rate, cl=2.0, v=25.0):
    k = cl / v
    T = amount / rate
    during = rate / cl * (1 - np.exp(-k * np.minimum(t, T)))
    return np.where(t <= T, during, during * np.exp(-k * (t - T)))


@pytest.mark.parametrize("rate_code,amount,expected_rate", [
    (-1, 200.0, 40.0),          # modeled rate: F*AMT = 150 at 40/h -> 3.75 h
    (-2, 200.0, 0.75 * 200 / 3),  # modeled duration: 150 over 3 h
])
def test_modeled_rate_and_duration(rate_code, amount, expected_rate):
    times = np.array([0.5, 1, 2, 2.9, 3.5, 3.75, 4, 6, 12, 24])
    frame = pd.DataFrame({"ID": 1, "TIME": np.r_[0.0, times], "DV": 0.0,
                          "AMT": np.r_[amount, np.zeros(times.size)], "RATE": np.r_[rate_code, np.zeros(times.size)],
                          "EVID": np.r_[1, np.zeros(times.size, int)], "CMT": 1})
    pred = nl.simulate(nl.Model(MODEL), nl.read_nonmem(frame), seed=1).table["PRED"].to_numpy()[1:]
    expected = _infusion(times, 0.75 * amount, expected_rate)  # concentration
    np.testing.assert_allclose(pred, expected, rtol=1e-10)
