"""SAEM on covariate models against FOCEI (issue 18): time, OFV and estimates.

Covariate thetas in a factor of a log-normal parameter (``nl.add_covariate_effect`` /
``nl.add_allometry`` lines, or the same written inline) get SAEM's prior-mean M-step
(``saem.mu.covariate_columns``); ``--with-scoring`` also runs the earlier route (the damped
Fisher-scoring step for every theta, by hiding the factor columns) so the gain is measured in the
same process. Models: phenobarbital + categorical APGR on V (9 ratios), phenobarbital with
estimated allometric exponents, and 60 simulated subjects with the issue's genotype and renal
ratios on CL (``tests/covariates/test_saem_covariates.py`` makes the data).

Prints, per model and route: wall and CPU seconds, OFV (FOCEI objective; SAEM by importance
sampling), SAEM - FOCEI, and the largest |SAEM - FOCEI| / SE(FOCEI) over the estimates.
``python benchmarks/bench_saem_covariates.py [--with-scoring]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nlme_lab as nl  # noqa: E402
from nlme_lab.estimation.saem import mu  # noqa: E402
from tests.covariates.test_saem_covariates import GENO, START, geno_data  # noqa: E402


def cases():
    pheno = nl.read_nonmem(nl.example_path("pheno.csv"))
    base = nl.Model.from_file(nl.example_path("pheno_base.nlm"))
    allo = nl.add_allometry(base, data=pheno, fixed=False)
    yield ("pheno + v-APGR categorical", nl.add_covariate_effect(base, "v", "APGR", "categorical", data=pheno),
           None, pheno)
    # FOCEI from a start scaled to the 70 kg reference (from the base start it stops far off)
    yield ("pheno, estimated allometry", allo, allo.with_initial(tvcl=0.0066 * 70 ** 0.75, tvv=1.4 * 70), pheno)
    yield ("genotype/renal ratios, 60 subj", nl.Model(GENO).with_initial(**START), None, geno_data())


@contextmanager
def scoring_only():
    """The route before the prior-mean M-step: no factor columns found."""
    saved = mu.covariate_columns
    mu.covariate_columns = lambda *a, **k: {}
    try:
        yield
    finally:
        mu.covariate_columns = saved


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    r = fn()
    return r, time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--with-scoring", action="store_true", help="also the Fisher-scoring route (slow)")
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for label, model, focei_start, data in cases():
        nl.fit(model, data, "saem", seed=1, covariance=None)  # compile / warm
        focei, fw, fc = timed(lambda: nl.fit(focei_start or model, data, "focei"))
        print(f"{label}\n  FOCEI            {fw:6.2f} s wall {fc:6.2f} s CPU  OFV {focei.ofv:10.3f}")
        routes = [("SAEM", None)] + ([("SAEM, scoring", scoring_only)] if args.with_scoring else [])
        for name, ctx in routes:
            if ctx is None:
                saem, sw, sc = timed(lambda: nl.fit(model, data, "saem", seed=1))
            else:
                with ctx():
                    saem, sw, sc = timed(lambda: nl.fit(model, data, "saem", seed=1))
            z = {k: abs(saem.estimates[k] - focei.estimates[k]) / focei.se[k] for k in focei.estimates
                 if k in saem.estimates and focei.se.get(k, 0) > 0}
            worst = max(z, key=z.get)
            print(f"  {name:16s} {sw:6.2f} s wall {sc:6.2f} s CPU  OFV {saem.ofv:10.3f}  "
                  f"SAEM - FOCEI {saem.ofv - focei.ofv:+7.3f}  largest |diff|/SE {z[worst]:.2f} ({worst})")


if __name__ == "__main__":
    main()
