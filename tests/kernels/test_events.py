"""The event engine: random designs vs scipy Radau, sensitivities vs finite differences,
statuses of bad records."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from nlme_lab.kernels.events import BadRecord, Status
from nlme_lab.kernels.linear import LinearMethod
from test_events_models import CMT2, CMT3, M_NP, mam_params, records, run_subject

I_F1, I_F2, I_AL1, I_AL2, I_R2, I_D2 = 7, 8, 9, 10, 11, 12


def _reference(model, rec, p):
    """Independent twin: expand the doses (F, ALAG, RATE -2, ADDL) in Python and integrate
    with scipy's Radau between events (rtol 1e-12). No SS records."""
    n = model.n_state
    K = np.zeros((n, n))
    model.funcs[8](p, K)
    events = []  # (time, order, kind, cmt, value); order puts doses before observations
    for i, t in enumerate(rec["time"]):
        if rec["evid"][i] != 1:
            continue
        c, a, r = rec["cmt"][i], rec["amt"][i], rec["rate"][i]
        f = p[I_F1] if c == 0 else p[I_F2]
        lag = p[I_AL1] if c == 0 else p[I_AL2]
        for k in range(rec["addl"][i] + 1):
            t0 = t + k * rec["ii"][i] + lag
            if r == 0:
                events.append((t0, 0, "bolus", c, f * a))
            else:
                dur = p[I_D2] if r == -2 else f * a / r
                rate = f * a / dur if r == -2 else r
                events += [(t0, 0, "rate", c, rate), (t0 + dur, 0, "rate", c, -rate)]
    for i, t in enumerate(rec["time"]):
        events.append((t, 1, "obs", i, 0.0))
    events.sort(key=lambda e: (e[0], e[1]))
    y = np.zeros(n)
    inputs = np.zeros(n)
    tc = rec["time"][0]
    out = np.zeros(len(rec["time"]))
    for te, _, kind, c, v in events:
        if te > tc:
            sol = solve_ivp(lambda t, yy: K @ yy + inputs, (tc, te), y, method="Radau",
                            rtol=1e-12, atol=1e-14, jac=lambda t, yy: K)
            y = sol.y[:, -1]
            tc = te
        if kind == "bolus":
            y[c] += v
        elif kind == "rate":
            inputs[c] += v
        else:
            out[c] = y[1] / p[1]
    return out


@pytest.mark.parametrize("model", [CMT2, CMT3], ids=["2cmt", "3cmt"])
@pytest.mark.parametrize("seed", range(4))
def test_random_designs_match_radau(model, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(rng.integers(2, 6)):
        t = float(np.round(rng.uniform(0, 48), 2))
        kind = rng.integers(3)
        c = 0 if kind == 0 else 1
        rate = 0.0 if kind < 2 else float(rng.choice([rng.uniform(5, 50), -2.0]))
        addl = int(rng.integers(0, 3))
        rows.append((t, c, float(rng.uniform(10, 200)), rate, 12.0 if addl else 0.0, addl, 0))
    obs = np.round(np.sort(rng.uniform(0, 96, 25)), 3)
    p = mam_params(three=model is CMT3, ka=float(rng.uniform(0.3, 3)), F1=0.8, F2=0.6,
                   ALAG1=float(rng.uniform(0, 2)), ALAG2=float(rng.uniform(0, 2)),
                   D2=float(rng.uniform(1, 10)))
    rec = records(rows, obs)
    ref = _reference(model, rec, p)
    for linear in (True, False):
        st, info, pred, _ = run_subject(model, rec, p, linear=linear)
        assert st == 0, info
        np.testing.assert_allclose(pred[:, 0], ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())


# ----------------------------------------------------------------------- sensitivities
SENS_DESIGNS = {
    "oral lag, ADDL": ([(0.0, 0, 100.0, 0.0, 12.0, 3, 0)], dict(ALAG1=1.3)),
    "infusion F scales duration": ([(0.0, 1, 100.0, 20.0, 12.0, 2, 0)], dict(F2=0.7, ALAG2=0.8)),
    "modeled duration": ([(0.0, 1, 100.0, -2.0, 24.0, 1, 0)], dict(D2=5.0, F2=0.9)),
    "SS=1 bolus lag": ([(0.0, 1, 100.0, 0.0, 12.0, 2, 1)], dict(ALAG2=2.5)),
    "SS=1 infusion lag < II": ([(0.0, 1, 100.0, 10.0, 12.0, 2, 1)], dict(ALAG2=3.1, F2=0.6)),
    "SS=1 overlapping infusion": ([(0.0, 1, 100.0, 4.0, 12.0, 1, 1)], dict(F2=0.9)),
    "SS=1 lag > II (backward)": ([(0.0, 1, 100.0, 10.0, 12.0, 1, 1)], dict(ALAG2=17.0, F2=0.5)),
    "SS=1 oral lag > II": ([(0.0, 0, 100.0, 0.0, 12.0, 1, 1)], dict(ALAG1=14.0)),
    "SS=2 on a bolus": ([(0.0, 1, 40.0, 0.0, 0.0, 0, 0), (5.0, 0, 100.0, 0.0, 12.0, 1, 2)],
                        dict(ALAG1=1.0)),
    "EVID 4 + modeled duration SS": ([(0.0, 0, 50.0, 0.0, 0.0, 0, 0),
                                      (20.0, 1, 100.0, -2.0, 12.0, 1, 1, 4)], dict(D2=7.0)),
    "constant infusion SS": ([(0.0, 1, 0.0, 15.0, 0.0, 0, 1)], {}),
}
OBS = [0.0, 0.7, 2.9, 6.2, 11.1, 15.3, 21.7, 26.4, 33.3, 47.9]
DIRS = [0, 1, 2, 3, 6, I_F1, I_F2, I_AL1, I_AL2, I_D2]  # cl v q v2 ka F1 F2 ALAG1 ALAG2 D2


@pytest.mark.parametrize("linear, method", [(True, LinearMethod.AUTO), (True, LinearMethod.EXPM),
                                            (False, None)], ids=["exact", "exact-expm", "ode"])
@pytest.mark.parametrize("name", list(SENS_DESIGNS))
def test_sensitivities_match_central_differences(name, linear, method):
    rows, over = SENS_DESIGNS[name]
    p = mam_params(three=False, **over)
    rec = records(rows, OBS)
    n = len(rec["time"])
    # a zero lag cannot be differenced centrally (a negative lag is an error)
    dirs = [k for k in DIRS if k not in (I_AL1, I_AL2) or p[k] > 0.0]
    dP = np.zeros((n, M_NP, len(dirs)))
    for d, k in enumerate(dirs):
        dP[:, k, d] = 1.0
    st, info, pred, dpred = run_subject(CMT2, rec, p, linear=linear, dP=dP, method=method)
    assert st == 0, info
    for d, k in enumerate(dirs):
        h = 1e-5 * max(1.0, abs(p[k]))
        pp, pm = p.copy(), p.copy()
        pp[k] += h
        pm[k] -= h
        fd = (run_subject(CMT2, rec, pp, linear=linear, method=method)[2]
              - run_subject(CMT2, rec, pm, linear=linear, method=method)[2])[:, 0] / (2 * h)
        tol = 1e-6 if linear else 2e-4
        np.testing.assert_allclose(dpred[:, 0, d], fd, rtol=tol,
                                   atol=tol * max(np.abs(pred).max(), 1.0),
                                   err_msg=f"direction p[{k}] ({name})")


@pytest.mark.parametrize("model", [CMT2, CMT3], ids=["2cmt", "3cmt"])
def test_eigen_and_pade_paths_agree_on_every_design(model):
    """Predictions and all sensitivities of every design above (SS, lags > II backwards,
    infusions, EVID 4 ...) by both exact linear paths: equal to 1e-10 relative."""
    worst = 0.0
    for name, (rows, over) in SENS_DESIGNS.items():
        p = mam_params(three=model is CMT3, **over)
        rec = records(rows, OBS)
        n = len(rec["time"])
        dP = np.zeros((n, M_NP, len(DIRS)))
        for d, k in enumerate(DIRS):
            dP[:, k, d] = 1.0
        e = run_subject(model, rec, p, dP=dP, method=LinearMethod.AUTO)
        x = run_subject(model, rec, p, dP=dP, method=LinearMethod.EXPM)
        assert e[0] == x[0] == 0
        for a, b in ((e[2], x[2]), (e[3], x[3])):
            err = np.abs(a - b).max() / np.abs(b).max()
            assert err <= 1e-10, (name, err)
            worst = max(worst, err)
    print(f"{model.name}: eigen vs Pade worst relative difference {worst:.2e}")


def test_values_only_path_equals_values_of_sensitivity_path():
    rows, over = SENS_DESIGNS["SS=1 lag > II (backward)"]
    p = mam_params(three=False, **over)
    rec = records(rows, OBS)
    n = len(rec["time"])
    dP = np.zeros((n, M_NP, 2))
    dP[:, 0, 0] = dP[:, I_AL2, 1] = 1.0
    a = run_subject(CMT2, rec, p)[2]
    b = run_subject(CMT2, rec, p, dP=dP)[2]
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------- bad records
@pytest.mark.parametrize("rows, obs, over, detail", [
    ([(0.0, 5, 100.0, 0.0, 0.0, 0, 0)], [1.0], {}, BadRecord.CMT),
    ([(0.0, 1, 100.0, 0.0, 0.0, 2, 0)], [1.0], {}, BadRecord.II),
    ([(0.0, 1, 100.0, 0.0, 0.0, 0, 1)], [1.0], {}, BadRecord.II),
    ([(0.0, 1, 100.0, 0.0, 0.0, 0, 0)], [1.0], dict(ALAG2=-1.0), BadRecord.LAG),
    ([(0.0, 1, 100.0, -2.0, 0.0, 0, 0)], [1.0], dict(D2=0.0), BadRecord.DURATION),
    ([(0.0, 1, 0.0, 5.0, 0.0, 0, 0)], [1.0], {}, BadRecord.AMT),
])
def test_bad_records_return_a_status_naming_the_record(rows, obs, over, detail):
    rec = records(rows, obs)
    st, info, _, _ = run_subject(CMT2, rec, mam_params(three=False, **over))
    assert st == Status.BAD_RECORD
    assert info[0] == 0 and info[1] == detail


def test_decreasing_time_is_a_bad_record():
    rec = records([(0.0, 1, 100.0, 0.0, 0.0, 0, 0)], [1.0, 2.0])
    rec["time"][2] = 0.5
    st, info, _, _ = run_subject(CMT2, rec, mam_params(three=False))
    assert st == Status.BAD_RECORD and info[0] == 2 and info[1] == BadRecord.TIME_ORDER
