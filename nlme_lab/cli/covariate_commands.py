"""``nlme-lab scm`` (stepwise covariate modeling) and ``nlme-lab compare`` (an AIC/BIC/LRT table of
fits written by ``nlme-lab fit --json``).

Only the public API is used (``nl.scm``, ``nl.compare``); importing this module loads nothing heavy.
"""

from __future__ import annotations

import json

EXAMPLES = """\
  nlme-lab scm pheno_base.nlm pheno.csv --relations "cl=WT,APGR;v=WT,APGR" --categorical APGR --json scm.json
  nlme-lab scm base.nlm data.csv --relations "cl=WT" --forms WT=power --scheduler serial
  nlme-lab compare base.json cov.json           AIC, BIC and likelihood-ratio tests of fits (fit --json)
"""

OUTPUTS = {"scm": (("json", "--json", "scm.json"),), "compare": (("json", "--json", "compare.json"),)}


def _probability(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a p-value between 0 and 1")
    return value


def add_parsers(sub) -> None:
    scm = sub.add_parser(
        "scm", help="stepwise covariate modeling: forward inclusion, backward elimination",
        description="Search covariate relations of MODEL on DATA: forward inclusion (the most significant "
        "relation with p < --forward at each step) then backward elimination (the least significant "
        "removed while p > --backward), every candidate started from its parent's estimates and fitted "
        "in parallel (a local Dask cluster unless --scheduler says otherwise). Prints the step table; "
        "--json writes base_ofv, steps (each with its candidates and the chosen relation), "
        "final_relations, final_ofv and elapsed_s.",
    )
    scm.add_argument("model", metavar="MODEL", help="base model file (.nlm)")
    scm.add_argument("data", metavar="DATA", help="NONMEM-format dataset with the covariate columns")
    scm.add_argument("--relations", required=True, metavar="SPEC",
                     help='parameter=covariates, ";" between parameters: "cl=WT,APGR;v=WT"')
    scm.add_argument("--categorical", default="", metavar="COVS",
                     help="covariates with a categorical effect (comma-separated); the others are linear "
                     "unless --forms says otherwise")
    scm.add_argument("--forms", action="append", default=[], metavar="COV=FORM",
                     help="a covariate's form (linear, power, exp, piecewise_linear, categorical); several "
                     "forms separated by '|' are tried as separate candidates (WT=linear|power); repeatable "
                     "or comma-separated")
    scm.add_argument("--include", default="", metavar="SPEC",
                     help='relations forced in and never removed, as --relations: "cl=WT"')
    scm.add_argument("--forward", type=_probability, default=0.05, metavar="P", help="forward p-value (default 0.05)")
    scm.add_argument("--backward", type=_probability, default=0.001, metavar="P",
                     help="backward p-value (default 0.001)")
    scm.add_argument("--method", choices=("fo", "foce", "focei", "laplace"), default="focei",
                     help="estimation method (default focei)")
    scm.add_argument("--scheduler", default=None, metavar="ADDR",
                     help='"serial" (this process), a dask scheduler address tcp://host:port, or omit for a '
                     "local cluster")
    scm.add_argument("--workers", type=int, default=None, metavar="N", help="workers of the local cluster")
    scm.add_argument("--seed", type=int, default=None, metavar="S", help="seed of the perturbed refits")
    scm.add_argument("--json", metavar="OUT.json", help="write the search as JSON")

    cmp = sub.add_parser(
        "compare", help="an AIC/BIC/likelihood-ratio table of fits written by 'fit --json'",
        description="Read fits written by 'nlme-lab fit --json' and print OFV, dOFV to the reference (the "
        "first fit unless --reference), estimated parameters, AIC, BIC, the likelihood-ratio test where the "
        "models are nested, the condition number and a note where no test applies.",
    )
    cmp.add_argument("fits", nargs="+", metavar="FIT.json", help="fit results (nlme-lab fit --json)")
    cmp.add_argument("--reference", default=None, metavar="FIT", help="the reference fit: a file name or position "
                     "(1-based); default the first")
    cmp.add_argument("--bic", choices=("mixed", "observations", "subjects"), default="mixed",
                     help="BIC convention (default mixed: fixed effects by log n observations, variances by "
                     "log n subjects)")
    cmp.add_argument("--json", metavar="OUT.json", help="write the table as JSON (a list of rows)")


def parse_relations(text: str) -> dict[str, list[str]]:
    """``"cl=WT,APGR;v=WT"`` -> ``{"cl": ["WT", "APGR"], "v": ["WT"]}``."""
    from nlme_lab.covariates import CovariateError

    out: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, covs = part.partition("=")
        items = [c.strip() for c in covs.split(",") if c.strip()]
        if not sep or not name.strip() or not items:
            raise CovariateError(f"relations {part!r}: write parameter=COV1,COV2 (e.g. cl=WT,APGR;v=WT)")
        out.setdefault(name.strip(), []).extend(items)
    if not out:
        raise CovariateError(f"no relations in {text!r}: write parameter=COV1,COV2 (e.g. cl=WT,APGR;v=WT)")
    return out


def parse_forms(categorical: str, forms: list[str]) -> dict:
    from nlme_lab.covariates import FORMS, CovariateError

    out: dict = {c.strip(): "categorical" for c in categorical.split(",") if c.strip()}
    for item in (x.strip() for chunk in forms for x in chunk.split(",")):
        if not item:
            continue
        cov, sep, form = item.partition("=")
        options = [f.strip() for f in form.split("|") if f.strip()]
        bad = [f for f in options if f not in FORMS]
        if not sep or not cov.strip() or not options or bad:
            raise CovariateError(f"--forms {item!r}: write COV=FORM with FORM one of {', '.join(FORMS)}")
        out[cov.strip()] = options[0] if len(options) == 1 else options
    return out


def cmd_scm(args) -> int:
    import nlme_lab as nl

    relations = parse_relations(args.relations)
    included = [(p, c) for p, covs in parse_relations(args.include).items() for c in covs] if args.include else []
    forms = parse_forms(args.categorical, args.forms)
    scheduler = args.scheduler
    if scheduler is None and args.workers:
        from nlme_lab.distributed import embedded_client

        scheduler = embedded_client(args.workers)
    data = nl.read_nonmem(args.data)
    model = nl.Model.from_file(args.model)
    result = nl.scm(model, data, relations, forms=forms, included=included, p_forward=args.forward,
                    p_backward=args.backward, method=args.method, scheduler=scheduler, seed=args.seed, progress=True)
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        print(result.steps.to_string(index=False))
    print(f"base OFV {result.base_ofv:.4f} -> final OFV {result.final_fit.ofv:.4f}; final relations: "
          f"{', '.join(result.final_relations) or 'none'} ({result.elapsed_s:.1f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(result.to_json())
    return 0


def cmd_compare(args) -> int:
    import pandas as pd

    import nlme_lab as nl
    from nlme_lab.covariates import CovariateError
    from nlme_lab.estimation import FitResult

    fits = {}
    for path in args.fits:
        try:
            with open(path, encoding="utf-8") as f:
                fits[path] = FitResult.from_dict(json.load(f))
        except (ValueError, KeyError, TypeError) as err:
            raise CovariateError(f"{path}: not a fit written by 'nlme-lab fit --json' ({err})") from None
    reference = args.reference
    if reference is not None and reference not in fits:
        if not reference.isdigit() or not 1 <= int(reference) <= len(fits):
            raise CovariateError(f"--reference {reference!r}: give one of the files or a position 1..{len(fits)}")
        reference = int(reference) - 1
    table = nl.compare(fits, reference=reference, bic=args.bic)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 80):
        print(table.to_string(index=False))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(table.to_json(orient="records", indent=2))
    return 0


COMMANDS = {"scm": cmd_scm, "compare": cmd_compare}
