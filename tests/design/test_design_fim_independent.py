"""The design FIM checked by an independent computation: numpy, the FO marginal mean and
covariance of an infusion model with two endpoints (concentration, proportional error; an Emax
effect, additive error) by closed form and finite differences, then the Gaussian information."""

import numpy as np
import pytest

import nlme_lab as nl
from nlme_lab.design import Design, Dose

MODEL = """
[ini]
tcl = 2
tv = 20
te0 = 50
temax = 30
tec50 = 3
eta_cl ~ 0.1
eta_v ~ 0.05
eta_e0 ~ 0.02
prop_sd = 0.1
add_sd = 2

[model]
cl = tcl * exp(eta_cl)
v = tv * exp(eta_v)
e0 = te0 * exp(eta_e0)
d/dt(center) = -cl / v * center
cp = center / v
eff = e0 + temax * cp / (tec50 + cp)
cp ~ prop(prop_sd)
eff ~ add(add_sd)
"""
AMT, RATE = 100.0, 50.0  # a 2 h infusion
T_CP = np.array([1.0, 2.0, 4.0, 8.0, 12.0])
T_EFF = np.array([0.5, 3.0, 6.0, 24.0])
N = 10


def conc(t, cl, v):
    k, tinf = cl / v, AMT / RATE
    during = RATE / cl * (1 - np.exp(-k * np.minimum(t, tinf)))
    return np.where(t <= tinf, during, during * np.exp(-k * (t - tinf)))


def predictions(z, eta):
    tcl, tv, te0, temax, tec50 = z[:5]
    cl, v, e0 = tcl * np.exp(eta[0]), tv * np.exp(eta[1]), te0 * np.exp(eta[2])
    cp = conc(T_CP, cl, v)
    ce = conc(T_EFF, cl, v)
    return np.concatenate([cp, e0 + temax * ce / (tec50 + ce)])


def marginal(z):
    """FO: mean f(eta = 0), covariance G Omega G' + R at the typical prediction."""
    f = predictions(z, np.zeros(3))
    G = np.empty((len(f), 3))
    for e in range(3):
        h = np.zeros(3)
        h[e] = 1e-6
        G[:, e] = (predictions(z, h) - predictions(z, -h)) / 2e-6
    omega = np.diag(z[5:8])
    R = np.concatenate([(z[8] * f[:len(T_CP)]) ** 2, np.full(len(T_EFF), z[9] ** 2)])
    return f, G @ omega @ G.T + np.diag(R)


def information(z, full):
    p = len(z)
    dm, dV = [], []
    for j in range(p):
        h = 1e-5 * abs(z[j])
        zp, zm = z.copy(), z.copy()
        zp[j] += h
        zm[j] -= h
        (mp, Vp), (mm, Vm) = marginal(zp), marginal(zm)
        dm.append((mp - mm) / (2 * h))
        dV.append((Vp - Vm) / (2 * h))
    _, V = marginal(z)
    Vi = np.linalg.inv(V)
    info = np.zeros((p, p))
    for j in range(p):
        for k in range(p):
            mean = dm[j] @ Vi @ dm[k]
            var = 0.5 * np.trace(Vi @ dV[j] @ Vi @ dV[k])
            if full:
                info[j, k] = mean + var
            else:
                info[j, k] = mean if (j < 5 and k < 5) else (var if (j >= 5 and k >= 5) else 0.0)
    return N * info


@pytest.fixture(scope="module")
def setup():
    model = nl.Model(MODEL)
    design = Design.single(doses=[Dose(AMT, rate=RATE)], times={1: T_CP, 2: T_EFF}, size=N)
    z = np.array([2, 20, 50, 30, 3, 0.1, 0.05, 0.02, 0.1, 2.0])
    return model, design, z


@pytest.mark.parametrize("kind", ["block", "full"])
def test_fim_matches_numpy_finite_differences(setup, kind):
    model, design, z = setup
    r = nl.fim(model, design, kind=kind)
    assert r.parameters == ("tcl", "tv", "te0", "temax", "tec50", "eta_cl", "eta_v", "eta_e0", "prop_sd", "add_sd")
    ref = information(z, full=kind == "full")
    np.testing.assert_allclose(r.matrix.to_numpy(), ref, rtol=2e-4, atol=1e-6 * np.abs(ref).max())
    assert r.ln_det == pytest.approx(np.linalg.slogdet(ref)[1], abs=1e-3)
    se = np.sqrt(np.diag(np.linalg.inv(ref)))
    np.testing.assert_allclose(r.se.to_numpy(), se, rtol=1e-3)
