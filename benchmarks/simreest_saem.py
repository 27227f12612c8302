"""Simulation - re-estimation: bias of SAEM and FOCEI on populations simulated from a known model.

For each scenario (1-cmt closed form, 1-cmt ODE, 2-cmt closed form, 1-cmt with between-occasion
variability on CL) and each replicate: simulate 200 subjects (one 320 mg oral dose, 10 samples;
two occasions of 5 samples with IOV) from the true values, fit by SAEM and by FOCEI starting
from perturbed initial values (x 1.3 / 0.7), and report the mean over replicates of
``estimate - truth`` for log-scale thetas and ``estimate / truth - 1`` for omegas and SDs.
Issue 4's targets: |bias| < 0.05 on log-thetas (5 % natural scale) and < 15 % on omegas over
at least 20 replicates.

``python benchmarks/simreest_saem.py [n_replicates] [scenario ...]`` (default 20, all). Prints
numbers only; it takes minutes per replicate on a shared machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nlme_lab as nl  # noqa: E402
from nlme_lab.estimation import SAEMOptions  # noqa: E402

TRUE = {"tka": np.log(1.5), "tcl": np.log(2.7), "tv": np.log(31.0), "tq": np.log(4.0), "tv2": np.log(40.0),
        "eta_ka": 0.4, "eta_cl": 0.09, "eta_v": 0.04, "kappa_cl": 0.03, "add_sd": 0.4, "prop_sd": 0.1}
HEAD = "[ini]\n" + "".join(f"{k} = {{{k}}}\n" for k in ("tka", "tcl", "tv"))
ETAS = "eta_ka ~ {eta_ka}\neta_cl ~ {eta_cl}\neta_v ~ {eta_v}\n"
ERR = "add_sd = {add_sd}\nprop_sd = {prop_sd}\n"
IND = "ka = exp(tka + eta_ka)\ncl = exp(tcl + eta_cl{kappa})\nv = exp(tv + eta_v)\n"
ODE1 = "d/dt(depot) = -ka * depot\nd/dt(center) = ka * depot - cl / v * center\ncp = center / v\n"
SCENARIOS = {
    "1cmt-closed": HEAD + ETAS + ERR + "[model]\n" + IND.format(kappa="") + "cp = linCmt()\n",
    "1cmt-ode": HEAD + ETAS + ERR + "[model]\n" + IND.format(kappa="") + ODE1,
    "2cmt-closed": HEAD + "tq = {tq}\ntv2 = {tv2}\n" + ETAS + ERR + "[model]\n" + IND.format(kappa="")
    + "q = exp(tq)\nv2 = exp(tv2)\ncp = linCmt()\n",
    "1cmt-iov": HEAD + ETAS + "kappa_cl ~ {kappa_cl} | OCC\n" + ERR + "[model]\n"
    + IND.format(kappa=" + kappa_cl") + "cp = linCmt()\n",
}
TIMES = [0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24]


def model_text(scenario: str, values: dict) -> str:
    return SCENARIOS[scenario].format(**{k: repr(float(v)) for k, v in values.items()}) + "cp ~ add(add_sd) + prop(prop_sd)\n"


def design(n_sub: int, iov: bool) -> pd.DataFrame:
    rows = []
    for i in range(1, n_sub + 1):
        if iov:  # two occasions, a dose each, 5 samples per occasion
            for occ, t0 in ((1, 0.0), (2, 48.0)):
                rows.append((i, t0, 0.0, 320.0, 1, 1, 1, occ))
                rows += [(i, t0 + t, 0.0, 0.0, 0, 0, 2, occ) for t in (0.5, 2, 5, 9, 24)]
        else:
            rows.append((i, 0.0, 0.0, 320.0, 1, 1, 1, 1))
            rows += [(i, t, 0.0, 0.0, 0, 0, 2, 1) for t in TIMES]
    return pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "OCC"])


def replicate(scenario: str, seed: int, n_sub: int = 200) -> dict[str, dict[str, float]]:
    truth = {k: v for k, v in TRUE.items() if "{" + k + "}" in SCENARIOS[scenario]}
    frame = design(n_sub, scenario.endswith("iov"))
    sim = nl.simulate(nl.Model(model_text(scenario, truth)), nl.read_nonmem(frame), n=1, seed=seed).table
    frame["DV"] = np.where(frame["EVID"] == 0, sim["SIMDV"].to_numpy(), 0.0)
    data = nl.read_nonmem(frame)
    start = {k: (v + np.log(1.3) if k.startswith("t") else v * (1.3 if seed % 2 else 0.7)) for k, v in truth.items()}
    model = nl.Model(model_text(scenario, start))
    out = {}
    for method in ("saem", "focei"):
        opts = SAEMOptions(is_samples=0) if method == "saem" else None
        fit = nl.fit(model, data, method, seed=seed, covariance=None, options=opts)
        out[method] = {k: (fit.estimates[k] - v if k.startswith("t") else fit.estimates[k] / v - 1)
                       for k, v in truth.items()}
    return out


def main(argv) -> None:
    n_rep = int(argv[0]) if argv else 20
    scenarios = argv[1:] or list(SCENARIOS)
    for scenario in scenarios:
        reps = [replicate(scenario, seed) for seed in range(1, n_rep + 1)]
        for method in ("saem", "focei"):
            bias = {k: float(np.mean([r[method][k] for r in reps])) for k in reps[0][method]}
            worst_t = max(abs(v) for k, v in bias.items() if k.startswith("t"))
            worst_o = max(abs(v) for k, v in bias.items() if not k.startswith("t"))
            print(f"{scenario:12s} {method:5s} {n_rep} replicates: "
                  + "  ".join(f"{k} {v:+.3f}" for k, v in bias.items())
                  + f"   | max |bias| log-theta {worst_t:.3f} (target 0.05), omega/SD {worst_o:.3f} (target 0.15)")


if __name__ == "__main__":
    main(sys.argv[1:])
