"""``nlme-lab library``: the model library from the command line, listed or one template's text.

Only the public API is used (``nl.library``); importing this module loads nothing heavy.
"""

from __future__ import annotations

import json

EXAMPLES = """\
  nlme-lab library                           list the model templates, one line each
  nlme-lab library tmdd_qss --set route=sc --set compartments=2 --out tmdd.nlm
  nlme-lab library asymptotic --set x=AGE --value asym=100 --json template.json
"""

OUTPUTS = {"library": (("out", "--out", "model.nlm"), ("json", "--json", "library.json"))}


def add_parsers(sub) -> None:
    lib = sub.add_parser(
        "library", help="list the model templates, or print one template's model text",
        description="Without NAME: the templates of nl.library (PK, TMDD, PD, growth and decay, dose-response) "
        "with a one-line description each. With NAME: the template's model text (an ordinary model file to "
        "edit), its options set by --set and its initial values by --value.",
    )
    lib.add_argument("name", nargs="?", metavar="NAME", help="a template (nlme-lab library lists them)")
    lib.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                     help="a template option, e.g. route=oral, lag=true, random=cl,v (repeatable)")
    lib.add_argument("--value", action="append", default=[], metavar="NAME=NUMBER",
                     help="an initial value: a parameter on its natural scale, eta_<name> variance or a "
                     "residual SD, e.g. cl=2.5 (repeatable)")
    lib.add_argument("--out", metavar="MODEL.nlm", help="write the model text here (default: print it)")
    lib.add_argument("--json", metavar="OUT.json", help="also write the listing, or the template, its options "
                     "and its text, as JSON")


def _pairs(items: list[str], flag: str) -> list[tuple[str, str]]:
    from nlme_lab.library import TemplateError

    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TemplateError(f"{flag} {item!r}: write NAME=VALUE")
        out.append((key.strip(), value.strip()))
    return out


def _options(info, args) -> dict:
    from nlme_lab.library import TemplateError

    options = {}
    for key, text in _pairs(args.set, "--set"):
        if key == "values":
            raise TemplateError("--set values=...: give initial values with --value NAME=NUMBER")
        options[key] = info.option(key).parse(text)
    values = {}
    for key, text in _pairs(args.value, "--value"):
        try:
            values[key] = float(text)
        except ValueError:
            raise TemplateError(f"--value {key}={text!r}: not a number") from None
    if values:
        options["values"] = values
    return options


def cmd_library(args) -> int:
    import nlme_lab as nl

    catalog = nl.library.list()
    if args.name is None:
        if args.set or args.value or args.out:
            from nlme_lab.library import TemplateError

            raise TemplateError("--set, --value and --out need a template NAME (nlme-lab library lists them)")
        print(repr(catalog))
        _write_json(catalog.to_dict(), args.json)
        return 0
    info = catalog[args.name]
    options = _options(info, args)
    model = info.model(**options)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(model.text)
        print(f"model written to {args.out}")
    else:
        print(model.text, end="")
    shown = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
    _write_json({"name": info.name, "options": shown, "text": model.text, "model": args.out,
                 "template": info.to_dict()}, args.json)
    return 0


def _write_json(payload: dict, path) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2)


COMMANDS = {"library": cmd_library}
