"""``nlme-lab bootstrap``, ``crossval``, ``cdd`` and ``validate``: model validation (issue 19).

Only the public API is used (``nl.fit``, ``nl.bootstrap``, ``nl.crossvalidate``, ``nl.cdd``,
``nl.validate``); importing this module loads nothing heavy. Each fan-out shows a tqdm bar on
stderr; stdout holds the tables. ``--scheduler`` is ``run_tasks``'s: none (an embedded local
cluster), ``serial`` (this process) or a dask scheduler address.
"""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLES = """\
  nlme-lab bootstrap pheno.nlm pheno.csv --n 200 --seed 1 --json boot.json
  nlme-lab crossval pheno.nlm pheno.csv --folds 5 --seed 1 --json cv.json
  nlme-lab cdd theo_sd.nlm theo_sd.csv --json cdd.json
  nlme-lab validate warfarin_pk.nlm train.csv test.csv --json validate.json
  nlme-lab validate warfarin_pk.nlm train.csv test.csv --report validate.html --n-vpc 200
"""

OUTPUTS = {name: (("json", "--json", f"{name}.json"),) for name in ("bootstrap", "crossval", "cdd", "validate")}
OUTPUTS["validate"] += (("report", "--report", "validate.html"),)
REPORT_VPC = 200  # VPC replicates of the --report page unless --n-vpc says otherwise
METHODS = ("fo", "foce", "focei", "laplace", "saem")


def add_parsers(sub) -> None:
    from nlme_lab.cli.main import COUNT, SEED

    boot = sub.add_parser(
        "bootstrap", help="nonparametric bootstrap: refit resampled subjects, intervals per parameter",
        description="Fit MODEL to DATA, then refit it N times to subjects drawn with replacement (within strata "
        "of --stratify, keeping their sizes), each from the original estimates. Prints per parameter the "
        "estimate, the replicates' median, mean, SE, bias, the 95% percentile interval (PsN's (n+1)p rule; "
        "at least 39 converged replicates) and the covariance-step SE. --json writes n, n_successful, seed and "
        "parameters -> name -> {estimate, median, mean, se, bias, bias_percent, ci_low, ci_high}, and the "
        "per-replicate table as OUT_replicates.csv beside it (replicates_csv).")
    _common(boot)
    boot.add_argument("--n", type=COUNT, default=200, metavar="N", help="replicates (default 200)")
    boot.add_argument("--seed", type=SEED, default=1, metavar="S", help="seed (same seed, same table; default 1)")
    boot.add_argument("--stratify", metavar="COL", help="a subject-level column to resample within")
    boot.add_argument("--ci", choices=("percentile", "bca"), default="percentile", help="interval (default percentile)")

    cv = sub.add_parser(
        "crossval", help="K-fold cross-validation: prediction OFV of held-out subjects",
        description="Split DATA's subjects into K folds; for each, estimate on the others (estimation OFV) and "
        "evaluate the held-out subjects at those estimates with nothing re-estimated (prediction OFV, PsN "
        "crossval's quantity). --json writes folds -> [{fold, ids, estimation_ofv, prediction_ofv}] and "
        "sum_prediction_ofv.")
    _common(cv)
    cv.add_argument("--folds", type=COUNT, default=None, metavar="K", help="number of folds (default 5)")
    cv.add_argument("--fold-column", metavar="COL", help="a subject-level column whose values are the folds")
    cv.add_argument("--seed", type=SEED, default=1, metavar="S", help="seed of the split (default 1)")

    cdd = sub.add_parser(
        "cdd", help="case-deletion diagnostics: refit leaving out each subject",
        description="Fit MODEL to DATA, then refit it leaving out each subject: Cook's score, covariance ratio "
        "and dOFV per subject, the most influential first.")
    _common(cdd)

    val = sub.add_parser(
        "validate", help="external validation: fit DATA, predict NEWDATA with every parameter fixed",
        description="Fit MODEL to DATA, then evaluate NEWDATA at the estimates: prediction OFV, PRED and IPRED "
        "(MAP etas) prediction errors (prediction minus DV; mpe, mape, rmse and the % versions on DV > 0, with "
        "95% CIs) and the NPDE summary (mean, variance, global p-value: Bonferroni over the t, Fisher and "
        "Shapiro-Wilk tests).")
    _common(val, newdata=True)
    val.add_argument("--seed", type=SEED, default=1, metavar="S", help="seed of the NPDE and VPC simulations (default 1)")
    val.add_argument("--report", metavar="OUT.html", help="write one offline HTML page: prediction OFV, error table, "
                     "NPDE summary and the VPC of NEWDATA (nl.validation_report)")
    val.add_argument("--n-vpc", type=COUNT, default=None, metavar="N",
                     help=f"VPC replicates of the --report page (default {REPORT_VPC})")


def _common(p, newdata: bool = False) -> None:
    p.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    p.add_argument("data", metavar="DATA", help="NONMEM-format dataset")
    if newdata:
        p.add_argument("newdata", metavar="NEWDATA", help="the dataset to predict")
    p.add_argument("--method", choices=METHODS, default="focei", help="estimation method (default focei)")
    p.add_argument("--scheduler", metavar="ADDR", default=None,
                   help="'serial' (this process) or a dask scheduler address (default: a local cluster)")
    p.add_argument("--json", metavar="OUT.json", help="write the results as JSON")


def _fit(args):
    import nlme_lab as nl
    from nlme_lab.problem.compiling import announce

    announce()
    return nl.fit(nl.Model.from_file(args.model), nl.read_nonmem(args.data), method=args.method)


def cmd_bootstrap(args) -> int:
    import nlme_lab as nl

    fit = _fit(args)
    res = nl.bootstrap(fit, n=args.n, seed=args.seed, stratify_by=args.stratify, ci=args.ci,
                       scheduler=args.scheduler, progress=True)
    table = res.summary()
    print(f"bootstrap: {res.n_successful} of {res.n} replicates converged ({args.method}, seed {args.seed})")
    print(table.drop(columns=["n"]).to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep=""))
    if args.json:
        out = Path(args.json)
        csv = out.with_name(out.stem + "_replicates.csv")
        res.replicates.to_csv(csv, index=False)
        _write(out, {**res.to_dict(), "replicates_csv": str(csv)})
    return 0


def cmd_crossval(args) -> int:
    import nlme_lab as nl

    folds = args.folds if (args.folds is not None or args.fold_column) else 5
    fit = _fit(args)
    res = nl.crossvalidate(fit, folds=folds, seed=args.seed, fold_of=args.fold_column, scheduler=args.scheduler,
                           progress=True)
    cols = ["fold", "ids", "status", "estimation_ofv", "prediction_ofv", "pred_rmse", "ipred_rmse"]
    print(res.folds[cols].to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep=""))
    print(f"sum of prediction OFVs: {res.sum_prediction_ofv:.4f}")
    _write(args.json, res.to_dict())
    return 0


def cmd_cdd(args) -> int:
    import nlme_lab as nl

    res = nl.cdd(_fit(args), scheduler=args.scheduler, progress=True)
    print(res.table.drop(columns=["error"]).to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep=""))
    _write(args.json, res.to_dict())
    return 0


def cmd_validate(args) -> int:
    import nlme_lab as nl
    from nlme_lab.errors import NlmeError

    if args.n_vpc is not None and not args.report:
        raise NlmeError("--n-vpc sets the VPC of the report page: give --report OUT.html too")
    n_vpc = (args.n_vpc or REPORT_VPC) if args.report else 0
    fit = _fit(args)
    res = nl.validate(fit, nl.read_nonmem(args.newdata), seed=args.seed, n_vpc=n_vpc)
    print(f"prediction OFV of {args.newdata}: {res.prediction_ofv:.4f} ({res.n_subjects} subjects)")
    print(res.summary().to_string(float_format=lambda v: f"{v:.5g}"))
    if res.npde is not None:
        print(f"NPDE: mean {res.npde.mean:.4g}, variance {res.npde.variance:.4g}, global p {res.npde.p_value:.4g}")
    _write(args.json, res.to_dict())
    if args.report:
        name = fit.model.name or Path(args.model).stem
        path = nl.validation_report(res, args.report, data_name=args.newdata,
                                    title=f"External validation of {name} (fitted to {args.data})")
        print(f"report written to {path}")
    return 0


def _write(path, payload: dict) -> None:
    if not path:
        return
    from nlme_lab.diagnostics.export import plain

    with open(path, "w", encoding="utf-8") as out:
        json.dump(plain(payload), out, indent=2)
    print(f"results written to {path}")


COMMANDS = {"bootstrap": cmd_bootstrap, "crossval": cmd_crossval, "cdd": cmd_cdd, "validate": cmd_validate}
