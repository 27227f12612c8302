"""``nlme-lab design``: a design's population FIM, expected SEs and RSEs, and optionally its
D-optimal sampling times.

DESIGN is a NONMEM-format dataset (DV ignored; each subject its own elementary design, identical
subjects merged) or a design JSON (``.json``; the schema is in ``nlme_lab.design.design`` and
the example ``nlme_lab/examples/warfarin_design.json``). Only the public API is used
(``nl.fim``, ``nl.optimize_design``); importing this module loads nothing heavy.
"""

from __future__ import annotations

import json

EXAMPLES = """\
  nlme-lab design warfarin_design.nlm warfarin_design.json --scale variance --json fim.json
  nlme-lab design model.nlm data.csv --kind full                   the FIM of a dataset's design
  nlme-lab design warfarin_design.nlm warfarin_design.json --optimize --n-samples 3 --windows 0:120
"""

OUTPUTS = {"design": (("json", "--json", "fim.json"),)}


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "design", help="a design's population Fisher information, expected SEs/RSEs and optimal times",
        description="The population Fisher information matrix (FIM) of DESIGN for MODEL at its [ini] values: "
        "the expected standard errors and RSEs of every estimated parameter, det, ln det, D-criterion, "
        "condition number and, for a singular FIM, the parameters the design cannot determine (never "
        "pseudo-inverted). DESIGN is a NONMEM-format dataset (DV ignored, each subject one elementary design) "
        "or a design JSON (see nlme_lab/examples/warfarin_design.json). With --optimize: D-optimal sampling "
        "times within --windows, and their D-efficiency relative to DESIGN.",
    )
    p.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    p.add_argument("design", metavar="DESIGN", help="NONMEM-format dataset (.csv) or design JSON (.json)")
    p.add_argument("--approximation", default="fo", choices=("fo", "foce"),
                   help="fo: linearized at eta = 0 (default, PopED/PFIM); foce: at drawn individual etas")
    p.add_argument("--kind", default="block", choices=("block", "full"),
                   help="block: fixed effects and variances separately (default, PopED type 1); full: type 0")
    p.add_argument("--scale", default="declared", choices=("declared", "variance"),
                   help="declared: residual parameters as SDs as in [ini] (default); variance: as variances")
    p.add_argument("--param", action="append", default=[], metavar="NAME=NUMBER",
                   help="a parameter value other than [ini]'s (repeatable)")
    p.add_argument("--optimize", action="store_true", help="optimise the sampling times (D-optimality)")
    p.add_argument("--criterion", default="D", choices=("D", "lnD", "A", "Ds"), help="with --optimize (default D)")
    p.add_argument("--ds-parameters", metavar="NAME,...", help="with --criterion Ds: the parameters of interest")
    p.add_argument("--n-samples", type=int, metavar="K", help="with --optimize: K samples per subject")
    p.add_argument("--windows", metavar="LOW:HIGH,...",
                   help="with --optimize: one window for every sample, or one per sample (default [0, latest time])")
    p.add_argument("--json", metavar="OUT.json", help="write parameters, fim, det, ln_det, d_criterion, se, "
                   "rse_percent, condition_number, null_space (and optimal_times, efficiency) as JSON")


def _design(path):
    from nlme_lab.design import Design

    if str(path).lower().endswith(".json"):
        return Design.from_json(path)
    return Design.from_data(path)


def _windows(text):
    from nlme_lab.errors import NlmeError

    if not text:
        return None
    out = []
    for part in text.split(","):
        lo, sep, hi = part.partition(":")
        try:
            out.append((float(lo), float(hi)))
        except ValueError:
            raise NlmeError(f"--windows {text!r}: write LOW:HIGH pairs separated by commas, e.g. 0:2,4:24") from None
        if not sep:
            raise NlmeError(f"--windows {text!r}: write LOW:HIGH pairs separated by commas")
    return out[0] if len(out) == 1 else out


def _params(items):
    from nlme_lab.errors import NlmeError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise NlmeError(f"--param {item!r}: write NAME=NUMBER") from None
        if not sep:
            raise NlmeError(f"--param {item!r}: write NAME=NUMBER")
    return out


def cmd_design(args) -> int:
    import nlme_lab as nl
    from nlme_lab.errors import NlmeError

    windows = _windows(args.windows)  # argument errors before any work
    params = _params(args.param)
    model = nl.Model.from_file(args.model)
    design = _design(args.design)
    opts = dict(params=params, approximation=args.approximation, kind=args.kind, scale=args.scale)
    if (args.n_samples or args.windows) and not args.optimize:
        raise NlmeError("--n-samples and --windows need --optimize")
    result = nl.fim(model, design, **opts)
    print(f"design: {len(design.groups)} group(s), {design.n_subjects} subjects, {design.n_samples} samples")
    print(f"FIM ({args.approximation.upper()}, {args.kind}, {args.scale} scale): det {result.det:.6g}, "
          f"ln det {result.ln_det:.6g}, D-criterion {result.d_criterion:.6g}, "
          f"condition number {result.condition_number:.3g}")
    print(result.summary().to_string(float_format=lambda x: f"{x:.4g}"))
    if result.message:
        print(result.message)
    payload = result.to_dict()
    if args.optimize:
        ds = [n.strip() for n in (args.ds_parameters or "").split(",") if n.strip()]
        opt = nl.optimize_design(model, design, criterion=args.criterion, n_samples=args.n_samples, ds_parameters=ds,
                                 windows=windows, **opts)
        print(f"optimal times ({args.criterion}): "
              + "; ".join(f"{g.name}: " + ", ".join(f"{t:.4g}" for t in ts)
                          for g, ts in zip(opt.design.groups, opt.design.sampling_times())))
        print(f"efficiency relative to DESIGN: {opt.efficiency:.4g} ({opt.n_evaluations} FIM evaluations, "
              f"{opt.elapsed_s:.1f} s)")
        print(opt.fim.summary().to_string(float_format=lambda x: f"{x:.4g}"))
        payload["optimal_times"] = {g.name: [float(t) for t in ts]
                                    for g, ts in zip(opt.design.groups, opt.design.sampling_times())}
        payload["efficiency"] = float(opt.efficiency)
        payload["optimal"] = opt.fim.to_dict()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2)
        print(f"written to {args.json}")
    return 0


COMMANDS = {"design": cmd_design}
