"""``nlme-lab warmup``: compile the engine, the bundled models and the estimation kernels now.

A fresh machine (or a Binder image, whose ``postBuild`` runs this) then loads compiled code from
numba's on-disk caches at a user's first ``simulate`` or ``fit``. Only ``session.warmup`` is used;
importing this module loads nothing heavy.
"""

from __future__ import annotations

import json

EXAMPLES = """\
  nlme-lab warmup                             compile everything once per machine (1-3 minutes cold)
"""

OUTPUTS = {"warmup": (("json", "--json", "warmup.json"),)}


def add_parsers(sub) -> None:
    warm = sub.add_parser(
        "warmup", help="compile the engine and the bundled models ahead of time",
        description="Compile the engine, every bundled example model with its simulation, and the FOCE-family "
        "and SAEM estimation kernels (two tiny fits of the theophylline example), printing how long each "
        "step took. Run once per machine or image: later runs load the compiled code from the caches in "
        "seconds.",
    )
    warm.add_argument("--models", metavar="NAMES", help="only these bundled models, comma separated "
                      "(default all: theo_sd.nlm, warfarin_pk.nlm, warfarin_pkpd.nlm, pheno.nlm, wang2007_*.nlm)")
    warm.add_argument("--no-estimation", action="store_true", help="leave out the FOCE-family kernels")
    warm.add_argument("--no-saem", action="store_true", help="leave out the SAEM kernels")
    warm.add_argument("--json", metavar="OUT.json", help="also write the steps and their times as JSON")


def cmd_warmup(args) -> int:
    from nlme_lab.session.warmup import warmup

    print("compiling (1-3 minutes on a fresh machine; seconds once cached)...", flush=True)
    models = tuple(name.strip() for name in args.models.split(",") if name.strip()) if args.models else None
    report = warmup(models, estimation=not args.no_estimation, saem=not args.no_saem,
                    on_step=lambda step: print(f"  {step.seconds:7.1f} s  {step.name}", flush=True))
    print(f"  {report.total_seconds:7.1f} s  total")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report.to_dict(), out, indent=2)
    return 0


COMMANDS = {"warmup": cmd_warmup}
