"""The engine's fast path for simple subjects (``kernels.bolus_march``) against the full path.

Predictions without directions take the fast path where a subject qualifies; with one
(zero) direction the same subject goes through ``events.solve_records``. Both must agree to
rounding on random linear models, doses and parameters, and subjects that do not qualify
(infusions, ADDL, SS, lag, time-varying parameters, EVID 3/4) must be declined.
"""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.kernels import bolus_march, workspace
from nlme_lab.kernels.bolus_march_sens import with_full_path
from nlme_lab.problem import bind
from nlme_lab.problem.predict import Predictor

MODELS = {
    (1, True): "ka = exp(tka + eta_ka)\ncl = exp(tcl + eta_cl)\nv = exp(tv + eta_v)\n",
    (1, False): "cl = exp(tcl + eta_cl)\nv = exp(tv + eta_v)\n",
    (2, True): "ka = exp(tka + eta_ka)\ncl = exp(tcl + eta_cl)\nv = exp(tv + eta_v)\nq = exp(tq)\nv2 = exp(tv2)\n",
    (2, False): "cl = exp(tcl + eta_cl)\nv = exp(tv + eta_v)\nq = exp(tq)\nv2 = exp(tv2)\n",
    (3, True): ("ka = exp(tka + eta_ka)\ncl = exp(tcl + eta_cl)\nv = exp(tv + eta_v)\nq = exp(tq)\nv2 = exp(tv2)\n"
                "q2 = exp(tq2)\nv3 = exp(tv3)\n"),
    (3, False): "cl = exp(tcl + eta_cl)\nv = exp(tv + eta_v)\nq = exp(tq)\nv2 = exp(tv2)\nq2 = exp(tq2)\nv3 = exp(tv3)\n",
}
INI = """[ini]
tka = log(1.2)
tcl = log(3.0)
tv = log(30.0)
tq = log(5.0)
tv2 = log(60.0)
tq2 = log(1.0)
tv3 = log(200.0)
eta_ka ~ 0.3
eta_cl ~ 0.3
eta_v ~ 0.1
add_sd = 0.5
"""


def model_text(n_cmt, depot, extra=""):
    used = [line.split("=")[0].strip() for line in MODELS[(n_cmt, depot)].splitlines()]
    ini = "\n".join(line for line in INI.splitlines()
                    if not line.startswith("t") or line[1:].split()[0] in used)
    if not depot:
        ini = ini.replace("eta_ka ~ 0.3\n", "")
    return f"{ini}\n[model]\n{MODELS[(n_cmt, depot)]}{extra}cp = linCmt()\ncp ~ add(add_sd)\n"


def random_data(rng, n_sub, depot=True, kind="bolus"):
    """Subjects with 1-3 doses into the first compartment and 3-11 observations of the central."""
    dose_cmt, obs_cmt = 1, 2 if depot else 1
    rows = []
    for i in range(1, n_sub + 1):
        doses = np.sort(rng.choice(np.arange(0, 96, 12.0), size=rng.integers(1, 4), replace=False))
        obs = np.sort(rng.uniform(0.1, 120, rng.integers(3, 12)))
        for t in doses:
            row = dict(ID=i, TIME=t, DV=0.0, AMT=float(rng.uniform(50, 500)), EVID=1, MDV=1, CMT=dose_cmt,
                       RATE=0.0, ADDL=0, II=0.0, SS=0)
            if kind == "infusion":
                row["RATE"] = 100.0
            if kind == "addl":
                row.update(ADDL=2, II=12.0)
            if kind == "ss":
                row.update(SS=1, II=12.0)
            rows.append(row)
        rows += [dict(ID=i, TIME=t, DV=1.0, AMT=0.0, EVID=0, MDV=0, CMT=obs_cmt,
                      RATE=0.0, ADDL=0, II=0.0, SS=0) for t in obs]
    df = pd.DataFrame(rows).sort_values(["ID", "TIME", "EVID"], ascending=[True, True, False], kind="stable")
    return nl.read_nonmem(df)


def both_paths(model, data, rng):
    bound = bind(model, data)
    pr = Predictor(bound, parallel=False)
    n_re = model.compiled.n_re
    eta = np.repeat(rng.normal(0, 0.4, (data.n_subjects, n_re)), np.diff(data.offsets), axis=0)
    theta = np.array([t.init for t in model.ir.thetas])
    fast = pr.predict_all(theta, np.ascontiguousarray(eta))
    pr._opts = with_full_path(pr._opts)  # with directions: not bolus_march_sens's fast path either
    full, _, _ = pr.sensitivities(theta, np.ascontiguousarray(eta))
    return fast, full


@pytest.mark.parametrize("n_cmt, depot", sorted(MODELS))
def test_fast_path_agrees_with_the_full_engine(n_cmt, depot):
    rng = np.random.default_rng(7 * n_cmt + depot)
    model = nl.Model(model_text(n_cmt, depot))
    data = random_data(rng, 30, depot)
    fast, full = both_paths(model, data, rng)
    scale = np.abs(full).max()
    assert scale > 0.1
    np.testing.assert_allclose(fast, full, rtol=1e-11, atol=1e-13 * scale)


def _march(model, data, extra_p=None):
    """``bolus_march.march`` on subject 0 directly: True if it took the subject."""
    bound = bind(model, data)
    pr = Predictor(bound, parallel=False)
    cm = model.compiled
    theta = np.array([t.init for t in model.ir.thetas])
    P = pr.individual_parameters(theta, pr.zero_effects())
    if extra_p is not None:
        extra_p(P)
    offsets, time, evid, amt, cmt, rate, ii, addl, ss = pr._records
    ws = workspace.make_subject_workspace(cm.n_state, cm.n_p, 0, cm.n_endpoint, 8)
    pred = np.zeros((data.n_records, cm.n_endpoint))
    refs = pr._refs
    return bolus_march.march(0, int(offsets[1]), time, evid, amt, cmt, rate, addl, ss, P, pr._dose_index,
                             refs["init"], refs["obs"], refs["linsys"], pred, workspace.march_scratch(ws))


@pytest.mark.parametrize("kind", ["infusion", "addl", "ss"])
def test_other_doses_are_declined_and_solved_in_full(kind):
    rng = np.random.default_rng(3)
    model = nl.Model(model_text(1, True))
    data = random_data(rng, 4, kind=kind)
    assert not _march(model, data)
    assert _march(model, random_data(rng, 4))
    fast, full = both_paths(model, data, rng)
    np.testing.assert_array_equal(fast, full)  # the same (full) path


def test_time_varying_parameters_and_lags_are_declined():
    rng = np.random.default_rng(4)
    model = nl.Model(model_text(1, True))
    data = random_data(rng, 3)

    def vary(P):
        P[3, 1] *= 1.5  # cl changes inside subject 0

    assert not _march(model, data, vary)
    lagged = nl.Model(model_text(1, True, "alag(depot) = 0.5\n"))
    assert not _march(lagged, data)
    fast, full = both_paths(lagged, data, rng)
    np.testing.assert_array_equal(fast, full)
    assert nl.Model(model_text(1, True, "alag(depot) = 0\n")).compiled.p_uses_time is False
    assert nl.Model(model_text(1, True, "f(depot) = 1 - 0.001 * t\n")).compiled.p_uses_time is True
