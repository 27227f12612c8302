"""nlme_lab FOCEI vs R's nlme on the theophylline diagonal model, in the same run.

Skipped (with a message) when ``Rscript`` or R's nlme package is not installed (on Debian:
``apt-get install r-cran-nlme``). R fits ``datasets::Theoph`` (the same 132 observations as
theo_sd.csv) with ``SSfol``'s parametrisation and a diagonal random-effects matrix; nlme is
a different approximation (Lindstrom–Bates), so the objective values are not compared, only
the times. Each side is timed warm (median of repeated fits).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / "tests" / "shared"

R_SCRIPT = r"""
suppressMessages(library(nlme))
fit1 <- function() nlme(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = Theoph,
                        fixed = lKe + lKa + lCl ~ 1, random = pdDiag(lKe + lKa + lCl ~ 1),
                        start = c(lKe = -2.4, lKa = 0.45, lCl = -3.2))
invisible(fit1())
times <- replicate(20, system.time(fit1())[["elapsed"]])
cat(median(times), "\n")
"""


def r_time() -> float | None:
    if shutil.which("Rscript") is None:
        return None
    out = subprocess.run(["Rscript", "-e", R_SCRIPT], capture_output=True, text=True)
    if out.returncode != 0:
        print("R nlme failed:", out.stderr.strip().splitlines()[-1:])
        return None
    return float(out.stdout.split()[-1])


def ours() -> float:
    import nlme_lab as nl

    model = nl.Model.from_file(SHARED / "models" / "theo_sd.nlm")
    data = nl.read_nonmem(SHARED / "data" / "theo_sd.csv")
    nl.fit(model, data, method="focei")  # warm up: compile / load caches
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        nl.fit(model, data, method="focei")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


if __name__ == "__main__":
    r = r_time()
    mine = ours()
    print(f"nlme_lab FOCEI theo_sd (covariance step included), warm median: {mine:.3f} s")
    if r is None:
        print("R nlme: not installed (apt-get install r-cran-nlme), no comparison")
    else:
        print(f"R nlme theophylline diagonal model, warm median: {r:.3f} s")
        print(f"ratio nlme_lab / R nlme: {mine / r:.2f}")
