"""``nlme-lab map`` (MAP estimate of one patient) and ``nlme-lab trial`` (a virtual trial, PTA,
the recommended label). Only the public API is used (``nl.map_estimate``, ``nl.virtual_trial``,
``nl.recommend_dose``); importing this module loads nothing heavy.
"""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLES = """\
  nlme-lab map mapbayr_2cmt.nlm mapbayr_patient.csv --times 24 --json map.json
  nlme-lab map model.nlm patient.csv --fit fit.json --json map.json
  nlme-lab trial pheno.nlm trial.json --json pta.json     (examples: nlme_lab/examples/trial.json)
"""

OUTPUTS = {"map": (("json", "--json", "map.json"),), "trial": (("json", "--json", "pta.json"),)}

TRIAL_KEYS = {"regimens", "population", "n_subjects", "n_trials", "target", "subgroups", "seed", "uncertainty",
              "min_pta", "threshold", "conc_at", "variables"}


def add_parsers(sub) -> None:
    m = sub.add_parser(
        "map", help="MAP Bayesian estimate of one patient's random effects (posterior mode)",
        description="The posterior mode of one patient's etas with the population values fixed (the model's "
        "[ini] values, or a fit's estimates with --fit): FOCEI's inner problem. Prints the etas, the individual "
        "parameters and the objective (sum of log V + residual^2/V over the levels, plus eta' Omega^-1 eta); "
        "--json writes eta, individual, ofv, eta_covariance, ipred and pred (lists of {time, value}) and the "
        "posterior band.",
    )
    m.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    m.add_argument("patient", metavar="PATIENT.csv", help="NONMEM-format records of one patient (one ID)")
    m.add_argument("--fit", metavar="FIT.json", help="population values from a fit (nlme-lab fit --json)")
    m.add_argument("--times", type=float, nargs="+", metavar="T", help="extra prediction times")
    m.add_argument("--json", metavar="OUT.json", help="write the estimate as JSON")

    t = sub.add_parser(
        "trial", help="a virtual trial: exposures under regimens, target attainment, the recommended dose",
        description="Simulate TRIAL.json's trials (regimens, population, n_subjects, n_trials, seed, "
        "uncertainty) with MODEL's [ini] values (or --fit's estimates), then the probability of target "
        "attainment per regimen and subgroup and the recommended label text. TRIAL.json: "
        "{\"regimens\": {\"50 mg\": {\"dose\": 50, \"interval\": 24}}, \"population\": \"data.csv\" (resampled, "
        "relative to TRIAL.json) or {\"WT\": {\"lognormal\": [70, 0.25]}}, \"n_subjects\": 500, \"n_trials\": 20, "
        "\"target\": {\"metric\": \"auc\", \"low\": 300, \"high\": 500}, \"subgroups\": {\"weight\": "
        "{\"under 50 kg\": \"WT < 50\"}}, \"seed\": 1, \"min_pta\": 0.8}.",
    )
    t.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    t.add_argument("trial", metavar="TRIAL.json", help="the trial's specification")
    t.add_argument("--fit", metavar="FIT.json", help="population values (and covariance) from a fit")
    t.add_argument("--scheduler", default="serial", metavar="S",
                   help="serial (default), local (a Dask LocalCluster) or a scheduler address tcp://host:port")
    t.add_argument("--json", metavar="OUT.json", help="write the PTA table (records) and the label as JSON")


def _population(fit_path, model_path):
    import nlme_lab as nl

    model = nl.Model.from_file(model_path)
    if not fit_path:
        return model
    from nlme_lab.estimation.results import FitResult

    with open(fit_path, encoding="utf-8") as f:
        return FitResult.from_dict(json.load(f))


def cmd_map(args) -> int:
    import nlme_lab as nl

    post = nl.map_estimate(_population(args.fit, args.model), args.patient, times=args.times)
    print(post)
    for row in post.predictions.itertuples():
        print(f"  t = {row.TIME:g}: IPRED {row.IPRED:.4g} (90 % {row.LOWER:.4g}-{row.UPPER:.4g}), PRED {row.PRED:.4g}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(post.to_dict(), out, indent=2)
    return 0


def read_trial(path) -> dict:
    """TRIAL.json as the keyword arguments of ``virtual_trial`` and ``recommend_dose``."""
    from nlme_lab.errors import NlmeError

    path = Path(path)
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    unknown = set(spec) - TRIAL_KEYS
    if unknown:
        raise NlmeError(f"{path.name}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(TRIAL_KEYS))})")
    for key in ("regimens", "n_subjects", "target"):
        if key not in spec:
            raise NlmeError(f"{path.name} has no {key!r}")
    pop = spec.get("population")
    if isinstance(pop, str):
        import pandas as pd

        spec["population"] = pd.read_csv(path.parent / pop if not Path(pop).is_absolute() else pop)
    return spec


def cmd_trial(args) -> int:
    import nlme_lab as nl

    spec = read_trial(args.trial)
    target = nl.Target(**spec["target"])
    scheduler = None if args.scheduler == "local" else args.scheduler
    res = nl.virtual_trial(_population(args.fit, args.model), spec["regimens"], population=spec.get("population"),
                           n_subjects=int(spec["n_subjects"]), n_trials=int(spec.get("n_trials", 200)),
                           uncertainty=spec.get("uncertainty", "none"), seed=int(spec.get("seed", 1)),
                           threshold=spec.get("threshold", target.at if target.metric == "time_above" else None),
                           conc_at=spec.get("conc_at", target.at if target.metric == "conc" else None),
                           variables=spec.get("variables"), scheduler=scheduler, progress=True)
    rec = nl.recommend_dose(res, target, subgroups=spec.get("subgroups"), min_pta=float(spec.get("min_pta", 0.8)))
    print(rec.table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print()
    print(rec.label)
    if args.json:
        payload = rec.to_dict()
        payload.update(n_subjects=res.n_subjects, n_trials=res.n_trials, uncertainty=res.uncertainty,
                       failures=list(res.failures), elapsed_s=res.elapsed_s)
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2)
    return 0


COMMANDS = {"map": cmd_map, "trial": cmd_trial}
