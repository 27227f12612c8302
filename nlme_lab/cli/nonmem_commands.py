"""``nlme-lab import-nonmem`` and ``nlme-lab export-nonmem``: NONMEM control streams.

Kept apart from ``main.py`` so the two commands are one block: ``add_parsers`` adds them to
the command line, ``COMMANDS`` runs them. Only the public API is used (``nl.from_nonmem``,
``nl.to_nonmem``); importing this module loads nothing heavy.
"""

from __future__ import annotations

EXAMPLES = """\
  nlme-lab import-nonmem run1.mod --out run1.nlm   translate a control stream into model text
  nlme-lab export-nonmem run1.nlm --data pheno.csv --out run2.mod
"""


def add_parsers(sub) -> None:
    imp = sub.add_parser(
        "import-nonmem", help="translate a NONMEM control stream into a model file",
        description="Translate a NONMEM control stream ($INPUT, $DATA, $SUBROUTINES ADVAN1-4/11/12 or ADVAN13 "
        "with $DES, $PK, $ERROR or $PRED, $THETA/$OMEGA/$SIGMA, $ESTIMATION) into the nlme_lab model language. "
        "Prints the model text (or writes it with --out), then the data file, method and notes on what was "
        "left out. Anything that cannot be translated faithfully is an error naming the record and line. "
        "The control stream's code is translated, never run.",
    )
    imp.add_argument("stream", metavar="RUN.mod", help="NONMEM control stream (.mod, .ctl)")
    imp.add_argument("--out", metavar="MODEL.nlm", help="write the model text here (default: print it)")
    imp.add_argument("--json", metavar="OUT.json", help="also write the data file, $INPUT, filter, method, "
                     "covariance and notes as JSON")
    exp = sub.add_parser(
        "export-nonmem", help="write a model as a NONMEM control stream",
        description="Write MODEL as a NONMEM control stream for the data file DATA: closed forms as "
        "ADVAN1-4/11/12, ODEs as ADVAN13 with $DES, models without compartments as $PRED; residual SDs as "
        "THETAs with $SIGMA 1 FIX. $DATA names DATA as given (relative to where the control stream goes).",
    )
    exp.add_argument("model", metavar="MODEL", help="model file (.nlm)")
    exp.add_argument("--data", required=True, metavar="FILE", help="the NONMEM-format data file")
    exp.add_argument("--method", default="focei", choices=("fo", "foce", "focei", "laplace", "saem"),
                     help="$ESTIMATION method (default focei)")
    exp.add_argument("--covariance", default="sandwich", choices=("sandwich", "r", "s", "none"),
                     help="$COVARIANCE matrix (default sandwich: R^-1 S R^-1); none: no $COVARIANCE")
    exp.add_argument("--out", metavar="RUN.mod", help="write the control stream here (default: print it)")
    exp.add_argument("--json", metavar="OUT.json", help="also write the control stream and its settings as JSON")


def cmd_import_nonmem(args) -> int:
    import nlme_lab as nl

    model, spec = nl.from_nonmem(args.stream)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(model.text)
        print(f"model written to {args.out}")
    else:
        print(model.text)
    print(f"data: {spec.data}  (read with $INPUT {' '.join(spec.names)}; {spec.filter})")
    print(f"method: {spec.method or 'none ($ESTIMATION absent)'}; covariance: {spec.covariance or 'none'}"
          + (f"; importance sampling: {spec.importance_samples} draws per subject" if spec.importance_samples else ""))
    for note in spec.notes:
        print(f"note: {note}")
    _write_json({"model": args.out, "model_text": model.text, **spec.to_dict()}, args.json)
    return 0


def cmd_export_nonmem(args) -> int:
    import nlme_lab as nl

    covariance = None if args.covariance == "none" else args.covariance
    text = nl.to_nonmem(args.model, data=args.data, method=args.method, covariance=covariance, path=args.out)
    if args.out:
        print(f"control stream written to {args.out}")
    else:
        print(text, end="")
    _write_json({"control_stream": args.out, "text": text, "data": args.data, "method": args.method,
                 "covariance": covariance}, args.json)
    return 0


def _write_json(payload: dict, path) -> None:
    import json

    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2)
        print(f"written to {path}")


COMMANDS = {"import-nonmem": cmd_import_nonmem, "export-nonmem": cmd_export_nonmem}
