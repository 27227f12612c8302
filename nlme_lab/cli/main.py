"""``nlme-lab``: the command line, built only on the public API.

Every failure prints one line, ``nlme-lab: error: <where>: <what>``, and exits non-zero
(1 for a problem in the model or data, 2 for a wrong command line).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

DESCRIPTION = """\
nlme_lab: nonlinear mixed-effects (population PK/PD) modeling.

A MODEL is a text file in the nlme_lab model language ([ini] parameters, [model]
equations, '~' error lines); DATA is a NONMEM-format table (ID TIME DV AMT EVID MDV CMT
... and covariates), comma or whitespace separated.
"""

EPILOG = """\
examples:
  nlme-lab check theo_sd.nlm                 parse and compile a model, list its parameters
  nlme-lab check theo_sd.nlm theo_sd.csv     also check it against a dataset
  nlme-lab simulate theo_sd.nlm theo_sd.csv --n 100 --seed 1 --out sim.csv
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nlme-lab", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    check = sub.add_parser(
        "check", help="parse and compile a model; with DATA, check the pair",
        description="Parse, resolve and compile MODEL and report problems with their line "
        "and column. With DATA, also read the dataset and bind the model to it (covariate "
        "columns, dose compartments, endpoints), reporting problems by row, ID and column.",
    )
    check.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    check.add_argument("data", metavar="DATA", nargs="?", help="NONMEM-format dataset (optional)")

    sim = sub.add_parser(
        "simulate", help="simulate a dataset's design under a model",
        description="Simulate N replicates of DATA's design (doses, sampling times, "
        "covariates) under MODEL at its initial estimates, with between-subject, "
        "between-occasion and residual variability. Writes one row per input record and "
        "replicate, in input order: the input columns plus REP, PRED (etas = 0), IPRED "
        "(simulated etas) and SIMDV (IPRED with residual error; '.' on non-observation rows).",
    )
    sim.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    sim.add_argument("data", metavar="DATA", help="NONMEM-format dataset")
    sim.add_argument("--n", type=int, default=1, metavar="N", help="number of replicates (default 1)")
    sim.add_argument("--seed", type=int, default=None, metavar="S", help="random seed (same seed, same numbers)")
    sim.add_argument("--out", metavar="FILE.csv", help="output CSV (default: print a summary only)")
    return parser


def _version() -> str:
    from nlme_lab import __version__

    return f"nlme-lab {__version__}"


def cmd_check(args) -> int:
    import nlme_lab as nl

    t0 = time.perf_counter()
    model = nl.Model.from_file(args.model)
    for diag in model.warnings:
        print(f"warning: {args.model}:{diag.line}:{diag.column}: {diag.message}")
    compiled = model.compiled.compile_all()  # surface every compilation problem now
    print(f"model {args.model}: OK ({time.perf_counter() - t0:.2f} s to parse and compile)")
    print(_describe(model, compiled))
    if args.data:
        data = nl.read_nonmem(args.data)
        nl.bind(model, data)
        print(f"data {args.data}: {data.n_subjects} subjects, {data.n_records} records, "
              f"{data.n_observations} observations; binds to the model: OK")
    return 0


def _describe(model, compiled) -> str:
    ir = model.ir
    lines = []
    thetas = ", ".join(f"{t.name}={t.init:g}" + (" (fixed)" if t.fixed else "") for t in ir.thetas)
    lines.append(f"  thetas: {thetas}")
    if ir.random_effects:
        lines.append(f"  random effects: {', '.join(r.name for r in ir.random_effects)}")
    if ir.compartments:
        kind = "linCmt() closed form" if ir.lincmt else "ODEs"
        cmts = ", ".join(f"{i + 1}={c}" for i, c in enumerate(ir.compartments))
        lines.append(f"  compartments ({kind}): {cmts}")
    if ir.covariates:
        lines.append(f"  covariates: {', '.join(ir.covariates)}")
    eps = "; ".join(f"{e.variable} ~ " + " + ".join(f"{t.kind.value}({t.param})" for t in e.terms) for e in ir.endpoints)
    lines.append(f"  endpoints: {eps}")
    return "\n".join(lines)


def cmd_simulate(args) -> int:
    import nlme_lab as nl

    t0 = time.perf_counter()
    result = nl.simulate(nl.Model.from_file(args.model), nl.read_nonmem(args.data), n=args.n, seed=args.seed)
    elapsed = time.perf_counter() - t0
    table = result.table
    obs = table[table["EVID"] == 0] if "EVID" in table else table
    print(f"simulated {result.n_replicates} replicate(s) of {args.data} under {args.model} "
          f"in {elapsed:.2f} s: {len(table)} rows")
    print(f"  IPRED median {obs['IPRED'].median():.4g}, SIMDV 5-95%: "
          f"{obs['SIMDV'].quantile(0.05):.4g} - {obs['SIMDV'].quantile(0.95):.4g}")
    if args.out:
        result.to_csv(args.out)
        print(f"  written to {args.out}")
    return 0


COMMANDS = {"check": cmd_check, "simulate": cmd_simulate}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from nlme_lab.errors import NlmeError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return COMMANDS[args.command](args)
    except (NlmeError, OSError) as exc:
        print(f"nlme-lab: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nlme-lab: interrupted", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {_one_line(message)}", file=sys.stderr)


def _one_line(exc) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
