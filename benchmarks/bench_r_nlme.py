"""nlme_lab FOCEI vs R's nlme, side by side in one run: theophylline (diagonal omega),
phenobarbital, and theophylline with a full 3x3 omega.

Skipped (with a message) when ``Rscript`` or R's nlme package is not installed (on Debian:
``apt-get install r-base-core r-cran-nlme``); CI has no R. The cases:

* theophylline, diagonal omega: R fits ``datasets::Theoph`` (the same 132 observations as
  theo_sd.csv) with ``SSfol`` (log ke, log ka, log CL per kg of the per-kg dose); we fit
  tests/shared/models/theo_sd.nlm (log ka, CL, V, the dose in mg). Same data and structural
  model, another parametrisation (and R's log ke variance collapses to 0), so estimates are
  printed, not compared.
* phenobarbital: R fits ``nlme::Phenobarb`` (the same 155 concentrations and doses as
  pheno.csv) with CL = exp(lCl)*WT, V = exp(lV)*WT*(1 + th3*[APGR < 5]) through nlme's
  compiled one-compartment bolus model (``phenoModel``), exponential random effects on CL and
  V and a proportional error (``varPower(fixed = 1)``): pheno.nlm's model with tvcl = exp(lCl),
  tvv = exp(lV), apgr_v = th3. The estimates and log-likelihoods are printed side by side
  (nlme is Lindstrom-Bates, we are FOCEI: close, not equal).
* theophylline, full omega: the diagonal cases with ``pdSymm`` / an eta block.

Timing: R inside R (``system.time`` over repetitions after a warm-up fit, elapsed and CPU);
ours in-process warm (FOCEI with the default sandwich covariance step, repetitions after a
warm-up fit, wall and CPU). The two sides run interleaved, case by case in rounds (R theo, ours
theo, R pheno, ours pheno, ...) so the machine's load falls on both; the medians over rounds of
the per-fit times are compared, and so are the two sides of each round ("paired": the median of
the rounds' own ratios). The pairing matters on a shared VM: on 2026-12-07 with nothing else
running, 60 warm theo fits in one process took 46-112 ms of CPU each, in runs of similar values
lasting seconds (user time only, no page faults: the host, not the process).
``python benchmarks/bench_r_nlme.py [--rounds N]``.

Measured 2026-12-06 (2 shared cores, load average 3-4; CPU ms per warm fit, ours / R): before
this branch theo 1.17-2.15, pheno 0.69-0.99, theo_full 0.19-0.22; after theo 1.07-1.22, pheno
0.50-0.56, theo_full 0.12-0.14. What is left on theo is Python around many small engine calls
(the engine is ~24 % of the fit) and on pheno the engine's sensitivity path (~45 %: with
directions it leaves the fast bolus march, 5-10x the cost of predictions alone).

Measured 2026-12-07 (load 1.3-1.9), branch ``inner`` (the engine's fast path with directions,
``kernels.bolus_march_sens``; the outer gradient's 1 + 2 n_eta points in one engine call):
main theo 157 ms vs R 97 (1.62), pheno 155 vs 288 (0.54); after theo 102 vs R 129 (0.79),
pheno 90 vs 245 (0.37), theo_full 366 vs 2878 (0.13). Engine calls per fit: theo 271 -> 122,
pheno 136 -> 56; every result bit-identical to main. What is left on theo: the Python of the
inner Newton solve (17 solves, ~60 iterations per fit) and of the gradient's perturbed batch.

Measured 2026-12-07 (load 2.1-2.2, main and this branch one after the other), branch ``newton``
(the inner solve's per-subject bookkeeping, Armijo search and BFGS update compiled,
``kernels.inner_newton``; the gradient's eta rows compiled and its SD/omega moves vectorized;
less Python around the terms kernels; every result bit-identical to main): main theo 86.7 ms vs
R 88.1 (0.98), pheno 76.7 vs 172.4 (0.44), theo_full 321 vs 1911 (0.17); after theo 72.1 vs R
83.4 (0.86), pheno 64.7 vs 194.8 (0.33), theo_full 247 vs 2061 (0.12); a second window (load
1.5-1.9, R itself 30 % slower): main theo 0.78, after 0.75. In one process, the compiled inner
solve against its numpy twin (``inner_newton.MAX_ETA = 0``): 0.85-0.87 of the theo fit's CPU.
Tried and reverted: the covariance step's omega/SD points' stencils in one 56-copy engine call
(1.05x slower than 8 calls of 7 copies). What is left on theo
(cProfile): the covariance step ~22 % (14 gradients, each an engine stencil call), the engine
~13 %, numpy's batched solves, the gradient's theta rows (BLAS/einsum: kept in numpy for the
bits) and the Python around ~120 engine calls.

Measured 2026-12-07 13:48-13:50 UTC (main 46b23de: the compiled inner solve, the active-subject
Newton steps, the cached argument check; load 1.0-1.06, 7 rounds, R and ours case by case):
theo 83.5 ms vs R 124.0 (0.67; paired 0.63), pheno 86.7 vs 271.2 (0.32), theo_full 268 vs 3166
(0.08). Earlier the same day on 13bf56d (5 rounds, all of R then all of ours): theo 0.75, pheno
0.32.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "shared"
sys.path.insert(0, str(ROOT))

FULL_OMEGA = "eta_ka + eta_cl + eta_v ~ [0.6, 0.01, 0.3, 0.01, 0.01, 0.1]  # full 3x3 omega"

R_SETUP = r"""
suppressMessages(library(nlme))
ph <- Phenobarb
ph$low <- as.numeric(ph$Apgar < 5)
fits <- list(
  theo = function() nlme(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = Theoph,
                         fixed = lKe + lKa + lCl ~ 1, random = pdDiag(lKe + lKa + lCl ~ 1),
                         start = c(lKe = -2.4, lKa = 0.45, lCl = -3.2)),
  pheno = function() nlme(conc ~ phenoModel(Subject, time, dose, lCl + log(Wt),
                                            lV + log(Wt) + log(1 + th3 * low)),
                          data = ph, fixed = lCl + lV + th3 ~ 1, random = pdDiag(lCl + lV ~ 1),
                          groups = ~ Subject, weights = varPower(fixed = 1),
                          start = c(lCl = log(0.0047), lV = log(1.0), th3 = 0.1),
                          na.action = na.pass, naPattern = ~ !is.na(conc)),
  theo_full = function() nlme(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = Theoph,
                              fixed = lKe + lKa + lCl ~ 1, random = pdSymm(lKe + lKa + lCl ~ 1),
                              start = c(lKe = -2.4, lKa = 0.45, lCl = -3.2)))
"""

R_TIME = R_SETUP + r"""
args <- commandArgs(trailingOnly = TRUE)
for (i in seq(1, length(args), by = 2)) {
  name <- args[i]; reps <- as.integer(args[i + 1])
  invisible(fits[[name]]())  # warm-up
  st <- system.time(for (r in seq_len(reps)) fits[[name]]())
  cat("TIME", name, st[["elapsed"]] / reps, (st[["user.self"]] + st[["sys.self"]]) / reps, "\n")
}
"""

R_ESTIMATES = R_SETUP + r"""
for (name in names(fits)) {
  m <- fits[[name]]()
  fe <- fixef(m); vc <- as.numeric(VarCorr(m)[, "Variance"])
  cat("EST", name, "logLik", as.numeric(logLik(m)), "\n")
  for (k in names(fe)) cat("EST", name, k, fe[[k]], "\n")
  re <- rownames(VarCorr(m))
  for (j in seq_along(vc)) cat("EST", name, paste0("var_", re[j]), vc[j], "\n")
  if (name == "theo_full") {
    co <- cov2cor(as.matrix(m$modelStruct$reStruct[[1]]))
    cat("EST", name, "cor_lKa_lCl", co[2, 3], "\n")
  }
}
"""

# name: (model file, data file, eta block, R repetitions per round, our repetitions per round)
CASES = {"theo": ("theo_sd.nlm", "theo_sd.csv", False, 10, 10),
         "pheno": ("pheno.nlm", "pheno.csv", False, 5, 10),
         "theo_full": ("theo_sd.nlm", "theo_sd.csv", True, 2, 4)}


def r_available() -> str | None:
    """None when R and its nlme package run, else the reason they do not."""
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-base-core r-cran-nlme)"
    out = subprocess.run(["Rscript", "-e", "suppressMessages(library(nlme))"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return "R's nlme package is not installed (apt-get install r-cran-nlme): " + out.stderr.strip()[-200:]
    return None


def run_r(script: str, args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["Rscript", fh.name, *args], capture_output=True, text=True, check=False)
    finally:
        os.unlink(fh.name)
    if out.returncode != 0:
        raise RuntimeError("R nlme failed: " + out.stderr.strip()[-500:])
    rows: dict = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "TIME":
            rows[parts[1]] = (float(parts[2]), float(parts[3]))
        elif parts and parts[0] == "EST":
            rows.setdefault(parts[1], {})[parts[2]] = float(parts[3])
    return rows


def load_case(name):
    import nlme_lab as nl

    model_file, data_file, block, _, _ = CASES[name]
    text = (SHARED / "models" / model_file).read_text()
    if block:  # the three eta lines become one block
        lines = [ln for ln in text.splitlines() if ln.split("~")[0].strip() not in ("eta_ka", "eta_cl", "eta_v")]
        at = lines.index("[ini]") + 1
        text = "\n".join(lines[:at] + [FULL_OMEGA] + lines[at:])
    return nl.Model(text, name=name), nl.read_nonmem(SHARED / "data" / data_file)


def time_ours(model, data, reps: int) -> tuple[float, float]:
    """(wall, CPU) seconds per warm fit, averaged over ``reps`` fits."""
    import nlme_lab as nl

    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        nl.fit(model, data, method="focei")
    return (time.perf_counter() - w0) / reps, (time.process_time() - c0) / reps


def print_estimates(fits: dict, r_est: dict) -> None:
    import math

    print("\nestimates (R nlme: Lindstrom-Bates; nlme_lab: FOCEI)")
    f = fits["pheno"]
    r = r_est.get("pheno", {})
    print("phenobarbital           nlme_lab        R nlme")
    rows = [("CL/kg  (tvcl = exp(lCl))", f.estimates["tvcl"], math.exp(r["lCl"])),
            ("V/kg   (tvv = exp(lV))", f.estimates["tvv"], math.exp(r["lV"])),
            ("APGR<5 on V (apgr_v = th3)", f.estimates["apgr_v"], r["th3"]),
            ("omega^2 CL", f.estimates["eta_cl"], r["var_lCl"]),
            ("omega^2 V", f.estimates["eta_v"], r["var_lV"]),
            ("proportional SD", f.estimates["prop_sd"], math.sqrt(r["var_Residual"])),
            ("log-likelihood", f.loglik, r["logLik"])]
    for label, a, b in rows:
        print(f"  {label:<26} {a:>12.5g}  {b:>12.5g}")
    for name in ("theo", "theo_full"):
        f, r = fits[name], r_est.get(name, {})
        print(f"{name}: nlme_lab ka {math.exp(f.estimates['tka']):.4g}, CL {math.exp(f.estimates['tcl']):.4g} L/h, "
              f"V {math.exp(f.estimates['tv']):.4g} L, residual SD {f.estimates['add_sd']:.4g}, "
              f"logLik {f.loglik:.2f}, {f.termination.value}; R nlme ka {math.exp(r['lKa']):.4g}, "
              f"ke {math.exp(r['lKe']):.4g}, CL {math.exp(r['lCl']):.4g} L/h/kg, residual SD "
              f"{math.sqrt(r['var_Residual']):.4g}, logLik {r['logLik']:.2f} (per-kg dose: another parametrisation)")
    f, r = fits["theo_full"], r_est.get("theo_full", {})
    ours_cor = f.estimates["eta_ka,eta_cl"] / math.sqrt(f.estimates["eta_ka"] * f.estimates["eta_cl"])
    print(f"theo_full: correlation of the ka and CL effects: nlme_lab {ours_cor:.3f}, R nlme {r['cor_lKa_lCl']:.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (R then ours), default 3")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = ap.parse_args(argv)
    reason = r_available()
    if reason is not None:
        print(f"bench_r_nlme: skipped: {reason}")
        return 0
    import nlme_lab as nl

    loaded = {name: load_case(name) for name in args.cases}
    fits = {name: nl.fit(*loaded[name], method="focei") for name in args.cases}  # warm-up (compiles)
    r_est = run_r(R_ESTIMATES, []) if set(args.cases) == set(CASES) else {}
    if r_est:
        print_estimates(fits, r_est)
    r_times = {n: [] for n in args.cases}
    ours = {n: [] for n in args.cases}
    print(f"\nload average at start: {os.getloadavg()}")
    for rnd in range(args.rounds):
        for n in args.cases:  # R then ours, case by case: the two sides of a pair seconds apart
            r_times[n].append(run_r(R_TIME, [n, str(CASES[n][3])])[n])
            ours[n].append(time_ours(*loaded[n], CASES[n][4]))
        print(f"round {rnd + 1}: " + "; ".join(
            f"{n} R {r_times[n][-1][0] * 1e3:.0f} ms, ours {ours[n][-1][0] * 1e3:.0f} ms" for n in args.cases)
            + f"  (load {os.getloadavg()[0]:.2f})")
    print(f"\nload average at end: {os.getloadavg()}")
    print(f"{'case':<10} {'R wall':>9} {'R CPU':>9} {'ours wall':>10} {'ours CPU':>9} {'ratio wall':>11} "
          f"{'ratio CPU':>10} {'paired CPU':>11}   (ms per warm fit, medians over {args.rounds} rounds; "
          "paired: the median of the rounds' own ratios)")
    for n in args.cases:
        rw, rc = (statistics.median(x[i] for x in r_times[n]) for i in (0, 1))
        ow, oc = (statistics.median(x[i] for x in ours[n]) for i in (0, 1))
        paired = statistics.median(o[1] / r[1] for o, r in zip(ours[n], r_times[n]))
        print(f"{n:<10} {rw * 1e3:>9.1f} {rc * 1e3:>9.1f} {ow * 1e3:>10.1f} {oc * 1e3:>9.1f} {ow / rw:>11.2f} "
              f"{oc / rc:>10.2f} {paired:>11.2f}")
    print("targets (issue 17): ours/R <= 0.7 on theo, <= 0.5 on pheno")
    return 0


if __name__ == "__main__":
    sys.exit(main())
