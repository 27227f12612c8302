"""Are the standard errors right? Simulation - re-estimation of the SEs (issue 4's "Fisher
information by linearization for SE/RSE/CI").

Each replicate simulates a population from the known model of ``simreest_saem`` (scenario
``1cmt-closed`` by default: one-compartment oral, combined error, three etas) and fits it three
ways: SAEM with its default SEs (the linearized Fisher information, ``covariance="fim"``), the
same SAEM fit with the FOCEI sandwich R^-1 S R^-1 at its estimates, and FOCEI with the
sandwich. Per parameter and way: the empirical SD of the estimates over the replicates (what
an SE should estimate), the median reported SE, their ratio, and the coverage of the 95 % Wald
interval ``estimate +- 1.96 SE`` (nominal 95 %; with n replicates its own MC SE is about
``sqrt(0.95 * 0.05 / n)``, 3.4 % at n = 40).

    python benchmarks/se_coverage.py [--replicates 40] [--subjects 100] [--scenario 1cmt-closed]

Prints numbers only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nlme_lab as nl  # noqa: E402
from nlme_lab.estimation import SAEMOptions  # noqa: E402
from simreest_saem import SCENARIOS, Scenario  # noqa: E402

WAYS = (("SAEM, linearized FIM", "saem", "default"), ("SAEM, FOCEI sandwich", "saem", "sandwich"),
        ("FOCEI, sandwich", "focei", "sandwich"))
Z95 = 1.959963984540054


def replicate(sc: Scenario, rep: int) -> dict[str, tuple[dict, dict] | None]:
    data = sc.data(rep)
    out = {}
    for label, method, cov in WAYS:
        opts = SAEMOptions(is_samples=0) if method == "saem" else None
        try:
            fit = nl.fit(sc.models[rep % 2], data, method, seed=rep, covariance=cov, options=opts)
        except Exception as err:  # counted, not averaged
            print(f"  replicate {rep} {label}: {type(err).__name__}: {err}"[:200], file=sys.stderr)
            out[label] = None
            continue
        out[label] = (fit.estimates, fit.se) if fit.covariance is not None and fit.covariance.ok else None
    return out


def table(results: list[dict], truth: dict[str, float]) -> None:
    for label, _, _ in WAYS:
        ok = [r[label] for r in results if r[label] is not None]
        print(f"\n{label}: {len(ok)} of {len(results)} replicates with SEs")
        if len(ok) < 2:
            continue
        print(f"  {'parameter':10s} {'true':>9s} {'SD of est.':>11s} {'median SE':>10s} {'SE/SD':>6s} {'coverage':>9s}")
        for name, true in truth.items():
            est = np.array([e[name] for e, _ in ok])
            se = np.array([s[name] for _, s in ok])
            sd = float(np.std(est, ddof=1))
            cover = float(np.mean(np.abs(est - true) <= Z95 * se))
            print(f"  {name:10s} {true:9.4f} {sd:11.4f} {np.median(se):10.4f} {np.median(se) / sd:6.2f} "
                  f"{100 * cover:8.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--subjects", type=int, default=100)
    ap.add_argument("--scenario", default="1cmt-closed", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    from tqdm import tqdm

    sc = Scenario(args.scenario, args.subjects)
    t0 = time.perf_counter()
    results = [replicate(sc, rep) for rep in tqdm(range(1, args.replicates + 1), file=sys.stderr)]
    print(f"{args.scenario}, {args.subjects} subjects, {args.replicates} replicates, "
          f"{time.perf_counter() - t0:.0f} s")
    table(results, sc.truth)


if __name__ == "__main__":
    main()
