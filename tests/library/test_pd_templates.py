"""PD templates: Emax / sigmoid Emax of a concentration column against their formulas (no doses,
no TIME), the effect compartment and the four indirect-response models against ``solve_ivp``."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from tests.library.conftest import Dose, design, engine, integrate, relative

TIMES = [0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 36, 48]
PK = {"cl": 2.0, "v": 20.0, "ka": 0.8}
DOSE = 100.0


def _conc_frame(conc):
    """Exposure-response data: one row per concentration, 3 units, no doses and no TIME."""
    return pd.DataFrame({"ID": np.repeat([1, 2, 3], len(conc)), "CONC": np.tile(conc, 3), "DV": 1.0})


@pytest.mark.parametrize("sigmoid", [False, True])
def test_emax_of_a_concentration_column_matches_its_formula(sigmoid):
    conc = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0])
    p = {"e0": 8.0, "emax": -30.0, "ec50": 1.7, "hill": 2.3}
    values = {k: v for k, v in p.items() if sigmoid or k != "hill"}
    model = nl.library.emax(sigmoid=sigmoid, values=values)
    etas = np.array([[0.0], [1.5], [-2.0]])  # additive random effects on e0
    got = engine(model, _conc_frame(conc), etas).reshape(3, -1)
    h = p["hill"] if sigmoid else 1.0
    shape = conc**h / (p["ec50"] ** h + conc**h)
    for s in range(3):
        want = p["e0"] + etas[s, 0] + p["emax"] * shape
        assert relative(got[s], want) < 1e-12


def _pk_rhs(route):
    def rhs(_t, y):  # [depot], central amount, then the PD state
        dy = np.zeros_like(y)
        c = 0
        if route == "oral":
            dy[0] = -PK["ka"] * y[0]
            dy[1] = PK["ka"] * y[0]
            c = 1
        dy[c] -= PK["cl"] / PK["v"] * y[c]
        return dy, y[c] / PK["v"], c + 1

    return rhs


@pytest.mark.parametrize("route,sigmoid", [("iv", False), ("oral", True)])
def test_effect_compartment_matches_its_twin(route, sigmoid):
    p = {"ke0": 0.3, "e0": 5.0, "emax": 40.0, "ec50": 2.0, "hill": 1.8}
    names = ["cl", "v", *(["ka"] if route == "oral" else []), "ke0", "e0", "emax", "ec50",
             *(["hill"] if sigmoid else [])]
    model = nl.library.effect_compartment(route=route, sigmoid=sigmoid, values={k: {**PK, **p}[k] for k in names})
    pk = _pk_rhs(route)

    def rhs(t, y):
        dy, cp, e = pk(t, y)
        dy[e] = p["ke0"] * (cp - y[e])
        return dy

    n = 3 if route == "oral" else 2
    states = integrate(rhs, np.zeros(n), [Dose(0, DOSE)], TIMES)
    ce = states[:, -1]
    h = p["hill"] if sigmoid else 1.0
    want = p["e0"] + p["emax"] * ce**h / (p["ec50"] ** h + ce**h)
    assert relative(engine(model, design([Dose(0, DOSE)], TIMES)), want) < 2e-7


@pytest.mark.parametrize("kind", ["I", "II", "III", "IV"])
def test_indirect_response_matches_its_twin(kind):
    """Through ``nl.simulate``: PRED (etas 0, no residual error) of each turnover model."""
    p = {"base": 80.0, "kout": 0.15, "imax": 0.7, "ic50": 1.5, "emax": 3.0, "ec50": 1.5}
    inhibits = kind in ("I", "II")
    names = ["cl", "v", "base", "kout", *(["imax", "ic50"] if inhibits else ["emax", "ec50"])]
    model = nl.library.indirect_response(kind=kind, values={k: {**PK, **p}[k] for k in names})
    pk = _pk_rhs("iv")
    kin = p["base"] * p["kout"]

    def rhs(t, y):
        dy, cp, r = pk(t, y)
        drug = p["imax"] * cp / (p["ic50"] + cp) if inhibits else p["emax"] * cp / (p["ec50"] + cp)
        production = kin * (1 - drug) if kind == "I" else kin * (1 + drug) if kind == "III" else kin
        loss = {"II": p["kout"] * (1 - drug), "IV": p["kout"] * (1 + drug)}.get(kind, p["kout"])
        dy[r] = production - loss * y[r]
        return dy

    want = integrate(rhs, np.array([0.0, p["base"]]), [Dose(0, DOSE)], TIMES)[:, 1]
    frame = design([Dose(0, DOSE)], TIMES)
    sim = nl.simulate(model, nl.read_nonmem(frame), n=1, seed=1)
    pred = sim.table["PRED"].to_numpy()[frame["EVID"].to_numpy() == 0]
    assert relative(pred, want) < 2e-7
    assert abs(want[-1] - p["base"]) < abs(want[3] - p["base"])  # it returns towards the baseline


def test_pk_pd_templates_hold_the_pk_fixed_unless_asked():
    fixed = nl.library.effect_compartment()
    assert {p.name for p in fixed.parameters.entries if p.fixed} == {"tcl", "tv"}
    free = nl.library.indirect_response(pk_fixed=False)
    assert not any(p.fixed for p in free.parameters.entries)
