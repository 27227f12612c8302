"""``nlme-lab``: the command line, built only on the public API.

Every failure prints one line per problem, ``nlme-lab: error: <where>: <what>`` (a model with
three mistakes prints three lines, ``FILE:LINE:COLUMN: <what>``), and exits non-zero (1 for a
problem in the model or data, 2 for a wrong command line).
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
  nlme-lab fit theo_sd.nlm theo_sd.csv --method focei --json fit.json
  nlme-lab report theo_sd.nlm theo_sd.csv --method focei --out report.html
  nlme-lab fit theo_sd.nlm theo_sd.csv --method focei --json fit.json
"""

METHODS = ("fo", "foce", "focei", "laplace", "saem", "nuts")


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

    fit = sub.add_parser(
        "fit", help="estimate a model's parameters from a dataset",
        description="Estimate MODEL's parameters from DATA by maximum likelihood (FO, FOCE, FOCEI or "
        "Laplace) and print the estimates table: estimates on the scale declared in [ini], SE, "
        "RSE%, 95% CI, typical values and CV% of log-normal parameters, shrinkage. The OFV is "
        "-2 log-likelihood without the N log(2 pi) constant (NONMEM's convention). A model whose "
        "parameters are all fixed is evaluated, not estimated. With --json, also writes every field "
        "of the result (FitResult.to_dict: method, ofv, estimates, se, rse, ci, shrinkage, "
        "warnings, the model text, the data's fingerprint, ...), which FitResult.from_dict reads back.",
    )
    fit.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    fit.add_argument("data", metavar="DATA", help="NONMEM-format dataset")
    fit.add_argument("--method", choices=METHODS, default="focei", help="estimation method (default focei)")
    fit.add_argument("--seed", type=int, default=None, metavar="S", help="random seed of the stochastic methods (saem, nuts); recorded for the others")
    fit.add_argument("--draws", type=int, default=None, metavar="N", help="nuts: kept draws per chain (default 1000)")
    fit.add_argument("--tune", type=int, default=None, metavar="N", help="nuts: tuning draws per chain (default 1000)")
    fit.add_argument("--chains", type=int, default=None, metavar="N", help="nuts: number of chains (default 4)")
    fit.add_argument("--json", metavar="OUT.json", help="write the results as JSON")
    fit.add_argument("--no-cov", action="store_true", help="skip the covariance step (no SEs)")

    report = sub.add_parser(
        "report", help="fit a model and write a self-contained HTML report",
        description="Fit MODEL to DATA (as 'fit' does), then write one HTML page that works "
        "offline (BokehJS inlined): the model text, the estimates table (estimate, SE, RSE%, CI, "
        "CV%, shrinkage), goodness-of-fit plots, eta plots, individual fits and a VPC.",
    )
    report.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    report.add_argument("data", metavar="DATA", help="NONMEM-format dataset")
    report.add_argument("--method", choices=METHODS, default="focei", help="estimation method (default focei)")
    report.add_argument("--seed", type=int, default=1, metavar="S", help="seed of the VPC and NPDE simulations (default 1)")
    report.add_argument("--n-vpc", type=int, default=500, metavar="N", help="VPC replicates (default 500)")
    report.add_argument("--out", metavar="FILE.html", default="report.html", help="output file (default report.html)")
    report.add_argument("--json", metavar="OUT.json", help="also write the fit results as JSON (as 'fit --json')")
    return parser


def _version() -> str:
    from nlme_lab import __version__

    return f"nlme-lab {__version__}"


def cmd_check(args) -> int:
    import nlme_lab as nl

    t0 = time.perf_counter()
    with warnings.catch_warnings():  # printed below with the file name, once
        warnings.simplefilter("ignore")
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


def _nuts_options(args):
    """NUTSOptions from --draws/--tune/--chains (None: the method's defaults); errors for other methods."""
    given = {k: getattr(args, k) for k in ("draws", "tune", "chains") if getattr(args, k, None) is not None}
    if not given:
        return None
    if args.method != "nuts":
        raise SystemExit(f"nlme-lab fit: --{', --'.join(given)} apply only to --method nuts")
    from nlme_lab.estimation import NUTSOptions

    return NUTSOptions(**given)


def cmd_fit(args) -> int:
    import nlme_lab as nl

    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    result = nl.fit(args.model, args.data, args.method, seed=args.seed, options=_nuts_options(args),
                    covariance=None if args.no_cov else "default", callback=progress)
    if progress is not None:
        progress.close()
    print(result.table())
    _write_json(result, args.json)
    return 0


def _write_json(result, path) -> None:
    import json

    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(result.to_dict(), out, indent=2)
        print(f"results written to {path}")


class _Progress:
    """One line per outer iteration, rewritten in place on a terminal."""

    def __init__(self, stream):
        self.stream = stream
        self.used = False

    def __call__(self, event) -> None:
        self.used = True
        self.stream.write(f"\r{event.method.value.upper()} iteration {event.iteration:3d}  OFV {event.ofv:.4f}  "
                          f"gradient {event.gradient_norm:.2e}  {event.elapsed_s:.1f} s ")
        self.stream.flush()

    def close(self) -> None:
        if self.used:
            self.stream.write("\n")
            self.stream.flush()


def cmd_report(args) -> int:
    import nlme_lab as nl

    model, data = nl.Model.from_file(args.model), nl.read_nonmem(args.data)
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    result = nl.fit(model, data, args.method, seed=args.seed, callback=progress)
    if progress is not None:
        progress.close()
    print(result.table())
    _write_json(result, args.json)
    path = nl.report(result, args.out, model=model, data=data, n_vpc=args.n_vpc, seed=args.seed)
    print(f"report written to {path}")
    return 0


COMMANDS = {"check": cmd_check, "simulate": cmd_simulate, "fit": cmd_fit, "report": cmd_report}


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
        for line in _error_lines(exc):
            print(f"nlme-lab: error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nlme-lab: interrupted", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {_one_line(message)}", file=sys.stderr)


def _error_lines(exc) -> list[str]:
    """One line per problem: a model's every diagnostic, a binding's every problem."""
    diagnostics = getattr(exc, "diagnostics", ())
    file = getattr(exc, "file", None)
    problems = getattr(exc, "problems", ())
    if problems:
        return [_one_line(problem) for problem in problems]
    if len(diagnostics) > 1:
        return [f"{file}:{d.line}:{d.column}: {d.message}" if file else _one_line(d) for d in diagnostics]
    return [_one_line(exc)]


def _one_line(exc) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
