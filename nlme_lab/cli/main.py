"""``nlme-lab``: the command line, built only on the public API.

Every failure prints one line per problem, ``nlme-lab: error: <where>: <what>`` (a model with
three mistakes prints three lines, ``FILE:LINE:COLUMN: <what>``), and exits non-zero (1 for a
problem in the model or data, 2 for a wrong command line, checked before any work: counts,
seeds, whether the output files can be written; 3 for a bug, whose traceback
``NLME_LAB_DEBUG=1`` shows). Progress and notices (the engine compiling) go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from nlme_lab.cli.progress import Progress as _Progress

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
"""

METHODS = ("fo", "foce", "focei", "laplace", "saem", "nuts")
METHOD_WORDS = ("FO, FOCE, FOCEI or Laplace (maximum likelihood), SAEM (stochastic approximation EM) or NUTS "
                "(Bayesian posterior)")


def _whole_number(low: int, what: str):
    """An argparse type: an integer >= ``low`` (``what`` says why), refused with a one-line reason."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ({what})") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} ({what}), got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


COUNT = _whole_number(1, "a count")
SEED = _whole_number(0, "a seed is a non-negative integer")


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
    sim.add_argument("--n", type=COUNT, default=1, metavar="N", help="number of replicates (default 1)")
    sim.add_argument("--seed", type=SEED, default=None, metavar="S", help="random seed (same seed, same numbers)")
    sim.add_argument("--out", metavar="FILE.csv", help="output CSV (default: print a summary only)")

    fit = sub.add_parser(
        "fit", help="estimate a model's parameters from a dataset",
        description=f"Estimate MODEL's parameters from DATA by {METHOD_WORDS} "
        "and print the estimates table: estimates on the scale declared in [ini], SE, "
        "RSE%, 95% CI, typical values and CV% of log-normal parameters, shrinkage. The OFV is "
        "-2 log-likelihood without the N log(2 pi) constant (NONMEM's convention). A model whose "
        "parameters are all fixed is evaluated, not estimated. With --json, also writes every field "
        "of the result (FitResult.to_dict: method, ofv, estimates, se, rse, ci, shrinkage, "
        "warnings, the model text, the data's fingerprint, ...), which FitResult.from_dict reads back. "
        "Progress (iteration, OFV) goes to stderr, so stdout holds only the results.",
    )
    fit.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    fit.add_argument("data", metavar="DATA", help="NONMEM-format dataset")
    fit.add_argument("--method", choices=METHODS, default="focei", help="estimation method (default focei)")
    fit.add_argument("--seed", type=SEED, default=None, metavar="S", help="random seed of the stochastic methods (saem, nuts); recorded for the others")
    fit.add_argument("--draws", type=COUNT, default=None, metavar="N", help="nuts: kept draws per chain (default 1000)")
    fit.add_argument("--tune", type=_whole_number(0, "tuning draws"), default=None, metavar="N",
                     help="nuts: tuning draws per chain (default 1000)")
    fit.add_argument("--chains", type=COUNT, default=None, metavar="N", help="nuts: number of chains (default 4)")
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
    report.add_argument("--seed", type=SEED, default=1, metavar="S", help="seed of the VPC and NPDE simulations (default 1)")
    report.add_argument("--n-vpc", type=COUNT, default=500, metavar="N", help="VPC replicates (default 500)")
    report.add_argument("--out", metavar="FILE.html", default="report.html", help="output file (default report.html)")
    report.add_argument("--json", metavar="OUT.json", help="also write the fit results as JSON (as 'fit --json')")

    for module in command_modules():
        module.add_parsers(sub)
        parser.epilog += module.EXAMPLES
    return parser


# Subcommands kept in modules of their own (one per capability), each with ``add_parsers(sub)``,
# ``COMMANDS`` (name -> function of the parsed arguments), ``EXAMPLES`` (epilog lines) and
# optionally ``OUTPUTS`` (as below). A new capability adds its module name here and nothing else.
COMMAND_MODULES = ("nonmem_commands", "library_commands", "warmup_commands", "validation_commands", "design_commands", "covariate_commands", "trial_commands")


def command_modules() -> list:
    from importlib import import_module

    return [import_module(f"nlme_lab.cli.{name}") for name in COMMAND_MODULES]


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
    model.compiled.compile_all()  # surface every compilation problem now
    print(f"model {args.model}: OK ({time.perf_counter() - t0:.2f} s to parse and compile)")
    print(model.describe().split("\n", 1)[1])  # its first line names the model, said above
    if args.data:
        data = nl.read_nonmem(args.data)
        nl.bind(model, data)
        print(f"data {args.data}: {data.n_subjects} subjects, {data.n_records} records, "
              f"{data.n_observations} observations; binds to the model: OK")
    return 0


def cmd_simulate(args) -> int:
    import nlme_lab as nl

    t0 = time.perf_counter()
    model, data = nl.Model.from_file(args.model), nl.read_nonmem(args.data)
    _check_simulation_size(args.n, data)
    from nlme_lab.problem.compiling import announce

    announce()
    result = nl.simulate(model, data, n=args.n, seed=args.seed)
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


#: The simulated table of ``simulate --n N`` holds every record of every replicate; it may use at
#: most this share of the memory available now (the rest: the process, the CSV writer).
SIMULATION_MEMORY_SHARE = 0.5


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), else the physical memory, else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def simulation_bytes(n: int, data) -> int:
    """Memory of ``nl.simulate``'s result for ``n`` replicates: one row per record and replicate,
    the input columns plus REP, PRED, IPRED and SIMDV (8 bytes each), and the IPRED and SIMDV
    arrays it is built from."""
    return 8 * n * data.n_records * (len(data.table.columns) + 4 + 2)


def _check_simulation_size(n: int, data) -> None:
    from nlme_lab.errors import NlmeError

    need, have = simulation_bytes(n, data), _available_memory()
    if have is None or need <= SIMULATION_MEMORY_SHARE * have:
        return
    most = max(int(SIMULATION_MEMORY_SHARE * have // simulation_bytes(1, data)), 0)
    raise NlmeError(f"--n {n}: {n} replicates of {data.n_records} records need about {_gib(need)} of memory "
                    f"(one table row per record and replicate), more than half of the {_gib(have)} available; "
                    f"use --n {most} or fewer (or simulate in parts with different seeds)")


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"


def check_output(path, option: str, example: str) -> str | None:
    """Why ``path`` (given with ``option``) cannot be written, or None: checked before the work
    that produces it, so a long fit is not lost to a typo in the output name."""
    import os
    from pathlib import Path

    if not path:
        return None
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        return f"{option} {path}: is a folder; give a file name (e.g. {target / example})"
    if not folder.is_dir():
        return f"{option} {path}: the folder {folder} does not exist"
    if target.exists() and not os.access(target, os.W_OK):
        return f"{option} {path}: the file is not writable"
    if not target.exists() and not os.access(folder, os.W_OK):
        return f"{option} {path}: the folder {folder} is not writable"
    return None


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

    options = _nuts_options(args)
    model, data = nl.Model.from_file(args.model), nl.read_nonmem(args.data)
    result = _fit(model, data, args.method, seed=args.seed, options=options,
                  covariance=None if args.no_cov else "default")
    print(result.table())
    _write_json(result, args.json)
    return 0


def _fit(model, data, method, **kw):
    """``nl.fit`` with its progress on stderr, saying first what will compile."""
    import nlme_lab as nl
    from nlme_lab.problem.compiling import announce

    announce(method)
    progress = _Progress(sys.stderr, rewrite=sys.stderr.isatty(), heartbeat=True)
    try:
        return nl.fit(model, data, method, callback=progress, **kw)
    finally:
        progress.close()


def _write_json(result, path) -> None:
    import json

    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(result.to_dict(), out, indent=2)
        print(f"results written to {path}")


def cmd_report(args) -> int:
    import nlme_lab as nl

    model, data = nl.Model.from_file(args.model), nl.read_nonmem(args.data)
    result = _fit(model, data, args.method, seed=args.seed)
    print(result.table())
    _write_json(result, args.json)
    path = nl.report(result, args.out, model=model, data=data, n_vpc=args.n_vpc, seed=args.seed)
    print(f"report written to {path}")
    return 0


COMMANDS = {"check": cmd_check, "simulate": cmd_simulate, "fit": cmd_fit, "report": cmd_report}
# the output files of each command: (argument, option, example file name)
OUTPUTS = {"simulate": (("out", "--out", "sim.csv"),), "fit": (("json", "--json", "fit.json"),),
           "report": (("out", "--out", "report.html"), ("json", "--json", "fit.json"))}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    modules = command_modules()
    commands = dict(COMMANDS)
    outputs = dict(OUTPUTS)
    for module in modules:
        commands.update(module.COMMANDS)
        outputs.update(getattr(module, "OUTPUTS", {}))
    for attr, option, example in outputs.get(args.command, ()):
        problem = check_output(getattr(args, attr), option, example)
        if problem:
            parser.error(problem)
    from nlme_lab.errors import NlmeError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return commands[args.command](args)
    except (NlmeError, OSError) as exc:
        for line in _error_lines(exc):
            print(f"nlme-lab: error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nlme-lab: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback on request
        import os

        if os.environ.get("NLME_LAB_DEBUG"):
            raise
        print(f"nlme-lab: internal error: {type(exc).__name__}: {_one_line(exc)} (a bug in nlme_lab: please "
              "report it with the command; NLME_LAB_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 3


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
