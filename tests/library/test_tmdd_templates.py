"""TMDD templates against ``solve_ivp`` twins written in concentrations (the templates use
amounts), and the checks between the approximations: QSS = full TMDD when binding is fast,
Michaelis-Menten = QSS when the target is small, elimination of the free drug only, and the
target's initial amount R0 x V (a past error elsewhere: R0 as an amount)."""

import numpy as np
import pytest

import nlme_lab as nl
from tests.library.conftest import Dose, design, engine, integrate, relative

TIMES = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7, 10, 14, 20, 28]
P = {"ka": 0.5, "cl": 0.2, "v": 3.0, "q": 0.5, "v2": 2.0, "kon": 0.5, "koff": 0.1, "kint": 0.5, "kdeg": 1.0,
     "r0": 5.0, "kss": 1.2, "kd": 0.2, "vmax": 2.5, "km": 1.2}
DOSE = 30.0  # nmol: 10 nM in 3 L, of the order of the target (5 nM), so binding shapes the curve


def free(ctot, rtot, k):
    """The free drug of the QSS / QE relation."""
    b = ctot - rtot - k
    return 0.5 * (b + np.sqrt(b * b + 4 * k * ctot))


def twin(kind, p, route="iv", compartments=1):
    """(rhs, y0, index of the dosed state, function of the state -> free concentration).

    States: [depot amount (sc)], central drug concentration (free or total), [peripheral amount],
    then target / complex concentrations. A bolus into the central state adds DOSE / V."""
    kel, v = p["cl"] / p["v"], p["v"]
    lead = 1 if route == "sc" else 0
    c_i = lead
    periph = c_i + 1 if compartments == 2 else None
    t_i = c_i + 1 + (compartments == 2)

    def conc(y):
        if kind in ("tmdd_qss", "tmdd_qe", "tmdd_wagner", "tmdd_constant_target"):
            k = p["kd"] if kind in ("tmdd_qe", "tmdd_wagner") else p["kss"]
            rtot = y[t_i] if kind in ("tmdd_qss", "tmdd_qe") else p["r0"]
            return free(y[c_i], rtot, k)
        return y[c_i]

    def rhs(_t, y):
        dy = np.zeros_like(y)
        c = conc(y)
        if route == "sc":
            dy[0] = -p["ka"] * y[0]
            dy[c_i] += p["ka"] * y[0] / v
        if periph is not None:
            flux = p["q"] * (c - y[periph] / p["v2"])
            dy[c_i] -= flux / v
            dy[periph] += flux
        dy[c_i] -= kel * c
        if kind == "tmdd_full":
            r, rc = y[t_i], y[t_i + 1]
            bind = p["kon"] * c * r - p["koff"] * rc
            dy[c_i] -= bind
            dy[t_i] += p["kdeg"] * p["r0"] - p["kdeg"] * r - bind
            dy[t_i + 1] += bind - p["kint"] * rc
        elif kind == "tmdd_irreversible":
            r = y[t_i]
            dy[c_i] -= p["kon"] * c * r
            dy[t_i] += p["kdeg"] * p["r0"] - p["kdeg"] * r - p["kon"] * c * r
        elif kind == "tmdd_mm":
            dy[c_i] -= p["vmax"] * c / (p["km"] + c)
        else:
            k = p["kd"] if kind in ("tmdd_qe", "tmdd_wagner") else p["kss"]
            rtot = y[t_i] if kind in ("tmdd_qss", "tmdd_qe") else p["r0"]
            bound = rtot * c / (k + c)
            dy[c_i] -= p["kint"] * bound
            if kind in ("tmdd_qss", "tmdd_qe"):
                dy[t_i] += p["kdeg"] * p["r0"] - p["kdeg"] * rtot - (p["kint"] - p["kdeg"]) * bound
        return dy

    n_target = {"tmdd_full": 2, "tmdd_qss": 1, "tmdd_qe": 1, "tmdd_irreversible": 1}.get(kind, 0)
    y0 = np.zeros(t_i + n_target)
    if n_target:
        y0[t_i] = p["r0"]
    return rhs, y0, conc


def twin_cp(kind, p, route="iv", compartments=1, dose=DOSE):
    rhs, y0, conc = twin(kind, p, route, compartments)
    bolus = Dose(0.0, dose if route == "sc" else dose / p["v"])
    states = integrate(rhs, y0, [bolus], TIMES, method="Radau", rtol=1e-11, atol=1e-14)
    return np.array([conc(y) for y in states])


def template_cp(kind, p, route="iv", compartments=1, dose=DOSE):
    model = nl.library.get(kind, route=route, compartments=compartments, random=(),
                           values={k: p[k] for k in _names(kind, route, compartments)})
    return engine(model, design([Dose(0.0, dose)], TIMES))


def _names(kind, route, compartments):
    model = nl.library.get(kind, route=route, compartments=compartments, random=())
    return [t.name[1:] for t in model.thetas if t.name.startswith("t")]


KINDS = ["tmdd_full", "tmdd_qss", "tmdd_qe", "tmdd_wagner", "tmdd_irreversible", "tmdd_constant_target", "tmdd_mm"]


@pytest.mark.parametrize("kind", KINDS)
def test_tmdd_template_matches_a_twin_in_concentrations(kind):
    assert relative(template_cp(kind, P), twin_cp(kind, P)) < 2e-7


@pytest.mark.parametrize("kind", ["tmdd_full", "tmdd_qss"])
def test_tmdd_subcutaneous_two_compartment_matches_its_twin(kind):
    assert relative(template_cp(kind, P, "sc", 2), twin_cp(kind, P, "sc", 2)) < 2e-7


def test_qss_converges_to_full_tmdd_when_binding_is_fast():
    """kon and koff scaled up with KSS = (koff + kint) / kon fixed: the full model's free drug
    approaches the QSS model's (the difference shrinks about as 1 / scale)."""
    diffs = []
    for scale in (10.0, 1000.0):
        fast = {**P, "kon": P["kon"] * scale, "koff": P["koff"] * scale}
        kss = (fast["koff"] + fast["kint"]) / fast["kon"]
        full = template_cp("tmdd_full", fast)
        qss = template_cp("tmdd_qss", {**P, "kss": kss})
        diffs.append(relative(full, qss))
    assert diffs[1] < 2e-3 and diffs[1] < diffs[0] / 20, diffs


def test_michaelis_menten_agrees_with_qss_for_a_small_target():
    """Constant total target (kdeg = kint) far below the drug: MM with Vmax = kint R0 and
    Km = KSS is QSS; with a target of the drug's size it is not (the check has teeth)."""
    def gap(r0, kint):
        qss = {**P, "r0": r0, "kint": kint, "kdeg": kint}
        mm = {**P, "vmax": kint * r0, "km": P["kss"]}
        return relative(template_cp("tmdd_mm", mm), template_cp("tmdd_qss", qss))

    small, large = gap(0.01, 100.0), gap(5.0, 0.2)
    assert small < 2e-3 and large > 0.05, (small, large)


def test_elimination_acts_on_the_free_drug_only():
    """QSS with a target that binds most of the drug: the template follows the twin that
    eliminates free drug, and is far from one that eliminates the total (bound included)."""
    p = {**P, "r0": 50.0, "kss": 0.5, "kint": 0.05, "kdeg": 0.05, "cl": 0.6}
    got = template_cp("tmdd_qss", p)
    assert relative(got, twin_cp("tmdd_qss", p)) < 2e-7
    rhs_free, y0, conc = twin("tmdd_qss", p)
    kel = p["cl"] / p["v"]

    def on_total(t, y):  # the wrong model: linear elimination of free + bound drug
        dy = rhs_free(t, y)
        dy[0] += kel * conc(y) - kel * y[0]
        return dy

    wrong = integrate(on_total, y0, [Dose(0.0, DOSE / p["v"])], TIMES, method="Radau")
    assert relative(got, [conc(y) for y in wrong]) > 0.2


def test_target_starts_at_r0_times_v():
    """With V = 3 L the target's initial amount is R0 x V: the full model matches the twin that
    starts at the concentration R0, not one that starts at an amount R0 (concentration R0 / V)."""
    got = template_cp("tmdd_full", P)
    assert relative(got, twin_cp("tmdd_full", P)) < 2e-7
    rhs, y0, conc = twin("tmdd_full", P)
    y0[1] = P["r0"] / P["v"]
    wrong = integrate(rhs, y0, [Dose(0.0, DOSE / P["v"])], TIMES, method="Radau")
    assert relative(got, [conc(y) for y in wrong]) > 0.05
    assert "target(0) = r0 * v" in nl.library.tmdd_full().text
