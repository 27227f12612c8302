"""Simulation - re-estimation (issue 4): bias of SAEM and FOCEI on populations simulated from a
known model.

Scenarios: 1-cmt closed form, 2-cmt closed form, 1-cmt ODE, 1-cmt closed form with
between-occasion variability (a kappa on CL, two occasions), and 2-cmt ODE. Each replicate
simulates 200 subjects (one 320 mg oral dose and 10 samples; with IOV two doses 48 h apart,
5 samples each) from the true values below, then fits by SAEM (defaults, no importance
sampling: only the estimates are compared) and by FOCEI, both without covariance step and both
starting from perturbed initial values (thetas x 1.3, variances and SDs x 1.3 on odd replicates,
x 0.7 on even ones).

Bias per parameter: ``estimate - truth`` for log-scale thetas, ``estimate / truth - 1`` for
variances and residual SDs, averaged over the replicates, with the standard error of that mean
(SD / sqrt(n)). Thresholds (issue 4): |mean bias| < 0.05 on log-scale thetas (5 % on
natural-scale ones: here the residual SDs) and < 15 % on variances. A FAIL whose threshold lies
within 2 SE of the mean bias is marked "MC?": the replicates cannot tell it from Monte-Carlo
noise; otherwise the bias is real at that precision.

    python benchmarks/simreest_saem.py [--replicates 20] [--scenarios 1cmt-closed 1cmt-iov ...]
        [--subjects 200] [--jsonl results.jsonl]
    python benchmarks/simreest_saem.py --table results.jsonl     # the table of a (partial) run

Every fit is appended to the JSONL file as it finishes, so a long run can be inspected (and
its table printed) before it ends. Prints numbers only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nlme_lab as nl  # noqa: E402
from nlme_lab.estimation import SAEMOptions  # noqa: E402

METHODS = ("saem", "focei")
TRUE = {"tka": np.log(1.5), "tcl": np.log(2.7), "tv": np.log(31.0), "tq": np.log(4.0), "tv2": np.log(40.0),
        "eta_ka": 0.4, "eta_cl": 0.09, "eta_v": 0.04, "kappa_cl": 0.03, "add_sd": 0.4, "prop_sd": 0.1}
LOG_THETAS = ("tka", "tcl", "tv", "tq", "tv2")
THRESHOLD = {"log-theta": 0.05, "variance": 0.15, "sd": 0.05}
TIMES = [0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24]
IOV_TIMES = [0.5, 2, 5, 9, 24]

_ONE = ("tka", "tcl", "tv")
_TWO = ("tka", "tcl", "tv", "tq", "tv2")
_IND = "ka = exp(tka + eta_ka)\ncl = exp(tcl + eta_cl{kappa})\nv = exp(tv + eta_v)\n"
_PERIPH = "q = exp(tq)\nv2 = exp(tv2)\n"
_ODE1 = "d/dt(depot) = -ka * depot\nd/dt(center) = ka * depot - cl / v * center\ncp = center / v\n"
_ODE2 = ("d/dt(depot) = -ka * depot\n"
         "d/dt(center) = ka * depot - (cl + q) / v * center + q / v2 * periph\n"
         "d/dt(periph) = q / v * center - q / v2 * periph\ncp = center / v\n")
#: name -> (thetas, has IOV, structural model lines)
SCENARIOS = {
    "1cmt-closed": (_ONE, False, _IND.format(kappa="") + "cp = linCmt()\n"),
    "2cmt-closed": (_TWO, False, _IND.format(kappa="") + _PERIPH + "cp = linCmt()\n"),
    "1cmt-ode": (_ONE, False, _IND.format(kappa="") + _ODE1),
    "1cmt-iov": (_ONE, True, _IND.format(kappa=" + kappa_cl") + "cp = linCmt()\n"),
    "2cmt-ode": (_TWO, False, _IND.format(kappa="") + _PERIPH + _ODE2),
}
DEFAULT_SCENARIOS = ("1cmt-closed", "2cmt-closed", "1cmt-ode", "1cmt-iov")


def kind(name: str) -> str:
    if name in LOG_THETAS:
        return "log-theta"
    return "sd" if name.endswith("_sd") else "variance"


def truth_of(scenario: str) -> dict[str, float]:
    thetas, iov, _ = SCENARIOS[scenario]
    names = list(thetas) + ["eta_ka", "eta_cl", "eta_v"] + (["kappa_cl"] if iov else []) + ["add_sd", "prop_sd"]
    return {k: float(TRUE[k]) for k in names}


def model_text(scenario: str, values: dict[str, float]) -> str:
    thetas, iov, body = SCENARIOS[scenario]
    ini = "".join(f"{k} = {values[k]!r}\n" for k in thetas)
    ini += "".join(f"{k} ~ {values[k]!r}\n" for k in ("eta_ka", "eta_cl", "eta_v"))
    ini += f"kappa_cl ~ {values['kappa_cl']!r} | OCC\n" if iov else ""
    ini += f"add_sd = {values['add_sd']!r}\nprop_sd = {values['prop_sd']!r}\n"
    return "[ini]\n" + ini + "[model]\n" + body + "cp ~ add(add_sd) + prop(prop_sd)\n"


def start_values(truth: dict[str, float], replicate: int) -> dict[str, float]:
    """Perturbed initial estimates: thetas x 1.3, variances and SDs x 1.3 (odd) or x 0.7 (even)."""
    factor = 1.3 if replicate % 2 else 0.7
    return {k: float(v + np.log(1.3) if kind(k) == "log-theta" else v * factor) for k, v in truth.items()}


def design(n_sub: int, iov: bool) -> pd.DataFrame:
    rows = []
    for i in range(1, n_sub + 1):
        if iov:  # two occasions, a dose each, 5 samples per occasion
            for occ, t0 in ((1, 0.0), (2, 48.0)):
                rows.append((i, t0, 0.0, 320.0, 1, 1, 1, occ))
                rows += [(i, t0 + t, 0.0, 0.0, 0, 0, 2, occ) for t in IOV_TIMES]
        else:
            rows.append((i, 0.0, 0.0, 320.0, 1, 1, 1, 1))
            rows += [(i, t, 0.0, 0.0, 0, 0, 2, 1) for t in TIMES]
    return pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "OCC"])


class Scenario:
    """The two start models (odd / even replicates) of a scenario, compiled once."""

    def __init__(self, name: str, n_sub: int):
        self.name, self.n_sub = name, n_sub
        self.truth = truth_of(name)
        self.iov = SCENARIOS[name][1]
        self.models = {p: nl.Model(model_text(name, start_values(self.truth, p)), name=f"{name}-{p}")
                       for p in (0, 1)}

    def data(self, replicate: int):
        frame = design(self.n_sub, self.iov)
        sim = nl.simulate(self.models[1], nl.read_nonmem(frame), n=1, seed=replicate, params=self.truth).table
        frame["DV"] = np.where(frame["EVID"] == 0, sim["SIMDV"].to_numpy(), 0.0)
        return nl.read_nonmem(frame)

    def fit(self, data, method: str, replicate: int) -> dict:
        opts = SAEMOptions(is_samples=0) if method == "saem" else None
        t0 = time.perf_counter()
        try:
            fit = nl.fit(self.models[replicate % 2], data, method, seed=replicate, covariance=None, options=opts)
        except Exception as err:  # a failed fit is counted, not averaged
            return {"ok": False, "error": f"{type(err).__name__}: {err}"[:300], "elapsed_s": time.perf_counter() - t0}
        bias = {k: (fit.estimates[k] - v if kind(k) == "log-theta" else fit.estimates[k] / v - 1)
                for k, v in self.truth.items()}
        return {"ok": True, "bias": bias, "elapsed_s": time.perf_counter() - t0, "converged": fit.converged}


def run(scenarios, n_rep: int, n_sub: int, jsonl: Path) -> list[dict]:
    from tqdm import tqdm

    records = []
    for name in scenarios:
        sc = Scenario(name, n_sub)
        for rep in tqdm(range(1, n_rep + 1), desc=name, file=sys.stderr):
            data = sc.data(rep)
            for method in METHODS:
                rec = {"scenario": name, "replicate": rep, "method": method, "subjects": n_sub,
                       **sc.fit(data, method, rep)}
                records.append(rec)
                with jsonl.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
    return records


def summarize(records: list[dict]) -> pd.DataFrame:
    rows = []
    groups = {}
    for r in records:
        groups.setdefault((r["scenario"], r["method"]), []).append(r)
    for (scenario, method), recs in groups.items():
        ok = [r for r in recs if r["ok"]]
        if not ok:
            continue
        for name in ok[0]["bias"]:
            x = np.array([r["bias"][name] for r in ok])
            se = float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
            thr = THRESHOLD[kind(name)]
            mean = float(np.mean(x))
            if abs(mean) < thr:
                verdict = "pass"
            elif not np.isfinite(se):
                verdict = "FAIL (1 replicate: no SE)"
            else:
                verdict = "FAIL MC?" if abs(mean) - 2 * se < thr else "FAIL"
            rows.append({"scenario": scenario, "method": method, "n": len(ok), "failed fits": len(recs) - len(ok),
                         "parameter": name, "kind": kind(name), "mean bias": mean, "SE": se,
                         "threshold": thr, "verdict": verdict,
                         "median fit s": float(np.median([r["elapsed_s"] for r in ok]))})
    return pd.DataFrame(rows)


def print_table(table: pd.DataFrame) -> None:
    if table.empty:
        print("no finished fits")
        return
    for (scenario, method), g in table.groupby(["scenario", "method"], sort=False):
        first = g.iloc[0]
        print(f"\n{scenario} / {method}: {first['n']} replicates ({first['failed fits']} failed fits), "
              f"median fit {first['median fit s']:.1f} s")
        print(f"  {'parameter':10s} {'kind':10s} {'mean bias':>10s} {'SE':>8s} {'|thr|':>6s}  verdict")
        for _, r in g.iterrows():
            pct = r["kind"] != "log-theta"
            val = f"{100 * r['mean bias']:+9.2f}%" if pct else f"{r['mean bias']:+10.4f}"
            se = f"{100 * r['SE']:7.2f}%" if pct else f"{r['SE']:8.4f}"
            thr = f"{100 * r['threshold']:5.0f}%" if pct else f"{r['threshold']:6.2f}"
            print(f"  {r['parameter']:10s} {r['kind']:10s} {val} {se} {thr}  {r['verdict']}")
    bad = table[table["verdict"] != "pass"]
    print(f"\n{len(table) - len(bad)} of {len(table)} (scenario, method, parameter) mean biases within the thresholds"
          + ("" if bad.empty else "; not: " + ", ".join(f"{r.scenario}/{r.method}/{r.parameter} ({r.verdict})"
                                                       for r in bad.itertuples())))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--scenarios", nargs="+", default=list(DEFAULT_SCENARIOS),
                    help=f"any of {', '.join(SCENARIOS)} (or 'all')")
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--jsonl", type=Path, default=Path("simreest_saem.jsonl"), help="per-fit results (appended)")
    ap.add_argument("--table", type=Path, help="only print the table of an existing JSONL file")
    args = ap.parse_args(argv)
    if args.table is not None:
        records = [json.loads(line) for line in args.table.read_text().splitlines() if line.strip()]
        print_table(summarize(records))
        return
    scenarios = list(SCENARIOS) if args.scenarios == ["all"] else args.scenarios
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    t0 = time.perf_counter()
    print(f"simulation - re-estimation: {args.replicates} replicates x {args.subjects} subjects, "
          f"scenarios {', '.join(scenarios)}; SAEM (defaults, no IS) and FOCEI, no covariance step")
    records = run(scenarios, args.replicates, args.subjects, args.jsonl)
    print_table(summarize(records))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
