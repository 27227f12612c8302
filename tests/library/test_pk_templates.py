"""PK templates against closed forms and ``solve_ivp`` twins (doses, infusions, lag, transit)."""

import math

import numpy as np
import pytest

import nlme_lab as nl
from tests.library.conftest import Dose, design, engine, integrate, relative

TIMES = [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 12.5, 14, 18, 24, 30]
NATURAL = {"ka": 1.3, "cl": 3.0, "v": 25.0, "q": 4.0, "v2": 50.0, "q2": 0.8, "v3": 120.0, "mtt": 1.6,
           "lag": 0.4, "duration": 3.0}


def test_one_compartment_iv_matches_the_closed_form_with_etas():
    """Two boluses, two subjects (etas 0 and (0.3, -0.2)): superposed D/V exp(-CL/V t)."""
    model = nl.library.one_compartment(values={"cl": 3.0, "v": 25.0})
    doses = [Dose(0.0, 100.0), Dose(12.0, 50.0)]
    frame = design(doses, TIMES, subjects=2)
    etas = np.array([[0.0, 0.0], [0.3, -0.2]])
    got = engine(model, frame, etas).reshape(2, -1)
    t = np.array(TIMES)
    for s in range(2):
        cl, v = 3.0 * math.exp(etas[s, 0]), 25.0 * math.exp(etas[s, 1])
        want = sum(d.amount / v * np.exp(-cl / v * (t - d.time)) * (t >= d.time) for d in doses)
        assert relative(got[s], want) < 1e-10


def _twin_rhs(n, route, transit, p):
    """dy/dt of the mammillary system with optional transit chain and depot, by hand."""
    ktr = (transit + 1) / p["mtt"] if transit else 0.0
    k10, k12 = p["cl"] / p["v"], p["q"] / p["v"] if n > 1 else 0.0
    k21 = p["q"] / p["v2"] if n > 1 else 0.0
    k13, k31 = (p["q2"] / p["v"], p["q2"] / p["v3"]) if n > 2 else (0.0, 0.0)
    n_gut = transit + (1 if route == "oral" else 0)

    def rhs(_t, y):
        dy = np.zeros_like(y)
        for k in range(transit):
            dy[k] -= ktr * y[k]
            dy[k + 1] += ktr * y[k]
        c = n_gut  # central index
        if route == "oral":
            dy[c - 1] -= p["ka"] * y[c - 1]
            dy[c] += p["ka"] * y[c - 1]
        dy[c] += -k10 * y[c]
        if n > 1:
            dy[c] += -k12 * y[c] + k21 * y[c + 1]
            dy[c + 1] += k12 * y[c] - k21 * y[c + 1]
        if n > 2:
            dy[c] += -k13 * y[c] + k31 * y[c + 2]
            dy[c + 2] += k13 * y[c] - k31 * y[c + 2]
        return dy

    return rhs, n_gut + n, n_gut


CASES = {
    "1cmt oral lag closed": ("one_compartment", {"route": "oral", "lag": True}, [Dose(0, 100), Dose(12, 100)]),
    "1cmt oral lag ode": ("one_compartment", {"route": "oral", "lag": True, "form": "ode"},
                          [Dose(0, 100), Dose(12, 100)]),
    "1cmt oral transit 1 lag": ("one_compartment", {"route": "oral", "transit": 1, "lag": True}, [Dose(0, 100)]),
    "2cmt infusion data": ("two_compartment", {"route": "infusion"}, [Dose(0, 100, rate=40), Dose(12, 60, rate=20)]),
    "2cmt infusion modeled": ("two_compartment", {"route": "infusion", "infusion": "modeled"},
                              [Dose(0, 100, rate=-2, duration=3.0)]),
    "2cmt iv lag ode": ("two_compartment", {"route": "iv", "lag": True, "form": "ode"}, [Dose(0, 100)]),
    "3cmt iv closed": ("three_compartment", {"route": "iv"}, [Dose(0, 100), Dose(12, 100)]),
    "3cmt iv ode": ("three_compartment", {"route": "iv", "form": "ode"}, [Dose(0, 100), Dose(12, 100)]),
    "3cmt oral transit 3": ("three_compartment", {"route": "oral", "transit": 3}, [Dose(0, 100), Dose(12, 100)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_pk_template_matches_an_independent_integration(case):
    name, options, doses = CASES[case]
    info = nl.library.info(name)
    model = info.model(**options, values={k: v for k, v in NATURAL.items() if k in _param_names(info, options)})
    n = {"one_compartment": 1, "two_compartment": 2, "three_compartment": 3}[name]
    route, transit = options.get("route", "iv"), options.get("transit", 0)
    rhs, n_state, central = _twin_rhs(n, route, transit, NATURAL)
    lag = NATURAL["lag"] if options.get("lag") else 0.0
    shifted = [Dose(d.time + lag, d.amount, d.cmt, d.rate, d.duration) for d in doses]
    want = integrate(rhs, np.zeros(n_state), shifted, TIMES)[:, central] / NATURAL["v"]
    got = engine(model, design(doses, TIMES))
    assert relative(got, want) < 2e-7, case


def _param_names(info, options):
    """The template's structural parameters (thetas ``t<name>``) with these options."""
    return {t.name[1:] for t in info.model(**options).thetas if t.name.startswith("t")}


def test_closed_form_and_odes_agree_for_two_compartments_with_etas():
    """The same system written with linCmt() and with d/dt lines, at non-zero etas."""
    doses = [Dose(0, 100), Dose(6, 50)]
    frame = design(doses, TIMES, subjects=2)
    etas = np.array([[0.0, 0.0, 0.0], [0.2, -0.3, 0.25]])
    closed = engine(nl.library.two_compartment(route="oral"), frame, etas)
    odes = engine(nl.library.two_compartment(route="oral", form="ode"), frame, etas)
    assert relative(closed, odes) < 1e-7


def test_pk_template_text_reads_as_written():
    text = nl.library.two_compartment(route="oral", lag=True).text
    assert "alag(depot) = lag" in text and "cp = linCmt()" in text and "tq = log(2)" in text
    assert nl.Model(text).text == text  # the text is the model: rebuilding it gives the same model
