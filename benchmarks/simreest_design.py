"""Does the design FIM predict the spread of estimates? (issue 20). PopED's warfarin_basic
design (32 subjects, 70 mg, 8 samples) is simulated ``--replicates`` times from the model's
[ini] values and re-estimated by FOCEI (started at the true values, no covariance step); the
empirical SD of each estimate is compared with the expected SE of the FO block FIM (declared
scale: residual SD as an SD). A ratio near 1 means the FIM's prediction holds.

    python benchmarks/simreest_design.py [--replicates 100] [--method focei] [--jsonl out.jsonl]
    python benchmarks/simreest_design.py --table out.jsonl

Fits go through ``nlme_lab.distributed.run_tasks`` (serial by default); each is appended to the
JSONL file as it finishes. Prints numbers only.
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
from nlme_lab.design import Design  # noqa: E402


def _setup():
    model = nl.Model.from_file(nl.example_path("warfarin_design.nlm"))
    design = Design.from_json(nl.example_path("warfarin_design.json"))
    return model, design


def one_fit(item, seed):
    """Simulate one dataset (seed ``item``) and fit it."""
    k, method = item
    model, design = _setup()
    frame = design.to_data()
    sim = nl.simulate(model, frame, n=1, seed=1000 + k)
    frame = frame.copy()
    frame["DV"] = np.where(frame["EVID"] == 0, sim.table["SIMDV"].to_numpy(), 0.0)
    fit = nl.fit(model, frame, method, covariance=None)
    return {"replicate": k, "converged": bool(fit.converged), "ofv": float(fit.ofv), **fit.estimates}


def table(rows: list[dict]) -> pd.DataFrame:
    model, design = _setup()
    expected = nl.fim(model, design)
    est = pd.DataFrame(rows)
    est = est[est["converged"]]
    out = []
    for name in expected.parameters:
        sd = float(est[name].std(ddof=1))
        out.append({"parameter": name, "true": float(expected.values[name]), "mean": float(est[name].mean()),
                    "empirical_sd": sd, "expected_se": float(expected.se[name]),
                    "ratio_sd_to_se": sd / float(expected.se[name])})
    frame = pd.DataFrame(out)
    frame.attrs["n"] = len(est)
    return frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--method", default="focei")
    ap.add_argument("--jsonl", default="simreest_design.jsonl")
    ap.add_argument("--table", metavar="JSONL")
    args = ap.parse_args()
    if args.table:
        rows = [json.loads(line) for line in Path(args.table).read_text().splitlines() if line.strip()]
    else:
        from nlme_lab.distributed import run_tasks

        t0 = time.perf_counter()
        rows = []
        with open(args.jsonl, "w", encoding="utf-8") as out:
            def keep(outcome):
                if outcome.value is not None:
                    rows.append(outcome.value)
                    out.write(json.dumps(outcome.value) + "\n")
                    out.flush()

            run_tasks(one_fit, [(k, args.method) for k in range(args.replicates)], scheduler="serial", seed=1,
                      description="simulate and re-estimate", on_result=keep, progress=False)
        print(f"{len(rows)} fits in {time.perf_counter() - t0:.0f} s")
    t = table(rows)
    print(f"{t.attrs['n']} converged fits ({args.method}); expected SEs: FO block FIM, declared scale")
    print(t.to_string(index=False, float_format=lambda x: f"{x:.4g}"))


if __name__ == "__main__":
    main()
